package main

// The latency mode (--latency): how long a change a person makes takes to
// appear on the other side, on the running local stack, with events on and
// off. This file holds what needs no stack: the plan of the changes, the
// pairing of each change to its arrival, the percentiles, the table and
// the JSON keys. latencyrun.go runs the stacks.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// direction is which way a change travels.
type direction int

const (
	// googleToCRM is a customer's comment on the Google case, to appear on
	// the linked CRM ticket.
	googleToCRM direction = iota
	// crmToGoogle is an agent's public reply on the CRM ticket, to appear
	// on the linked Google case.
	crmToGoogle
)

var directions = []direction{googleToCRM, crmToGoogle}

func (d direction) String() string {
	if d == googleToCRM {
		return "Google comment → CRM"
	}
	return "CRM reply → Google"
}

// key names the direction in the JSON keys.
func (d direction) key() string {
	if d == googleToCRM {
		return "google_to_crm"
	}
	return "crm_to_google"
}

// probe is one change a person makes and what became of it.
type probe struct {
	dir  direction
	pair int
	// token is in the change's text and in nothing else, so that the
	// change is recognised on the other side whatever casebridge puts
	// around it.
	token string
	// at is when the change is due, from the start of the measurement.
	at time.Duration

	// made is when the person made it (zero until then); arrived when it
	// was first seen on the other side (zero until then).
	made, arrived time.Time
	// copies is the most copies of it seen on the other side at one look;
	// own is how many are on its own side at the final look (1 unless
	// something echoed it back).
	copies, own int
}

// body is the text the person writes.
func (p *probe) body() string {
	if p.dir == googleToCRM {
		return "Latency check " + p.token + ": the instance still restarts every few minutes."
	}
	return "Latency check " + p.token + ": thank you, we are looking into the restarts."
}

// latency is how long the change took to reach the other side; ok is false
// until it has.
func (p *probe) latency() (time.Duration, bool) {
	if p.made.IsZero() || p.arrived.IsZero() {
		return 0, false
	}
	return p.arrived.Sub(p.made), true
}

// planProbes plans n changes each way, alternating Google and CRM, evenly
// spaced over spread so that they fall at every point of the poll period.
// The Google comments go round the first half of the pairs and the CRM
// replies round the other half: a reconciliation that one side's change
// starts reads both sides, and would carry a change the other side made
// moments before on the same pair without its own event or poll. label
// keeps the tokens of two runs apart. pairs must be at least 2.
func planProbes(label string, n, pairs int, spread time.Duration) []*probe {
	half := pairs / 2
	total := 2 * n
	out := make([]*probe, 0, total)
	for i := range total {
		d := directions[i%2]
		k := i / 2 // the change's number within its direction
		side, pair := "g", k%half
		if d == crmToGoogle {
			side, pair = "c", half+k%(pairs-half)
		}
		out = append(out, &probe{
			dir:   d,
			pair:  pair,
			token: fmt.Sprintf("[latency-%s-%s-%04d]", label, side, k),
			at:    time.Duration(int64(spread) * int64(i) / int64(total)),
		})
	}
	return out
}

// look is what one look at the simulators found: the comment bodies of
// each pair's Google case and CRM ticket, by pair.
type look struct {
	google, crm [][]string
}

func (l look) other(p *probe) []string {
	if p.dir == googleToCRM {
		return at(l.crm, p.pair)
	}
	return at(l.google, p.pair)
}

func (l look) own(p *probe) []string {
	if p.dir == googleToCRM {
		return at(l.google, p.pair)
	}
	return at(l.crm, p.pair)
}

func at(bodies [][]string, i int) []string {
	if i < 0 || i >= len(bodies) {
		return nil
	}
	return bodies[i]
}

// observe pairs the changes already made with what the look found on
// their other side: a change seen there for the first time arrived at
// now. It returns how many arrived at this look.
func observe(probes []*probe, l look, now time.Time) int {
	n := 0
	for _, p := range probes {
		if p.made.IsZero() {
			continue
		}
		c := countContaining(l.other(p), p.token)
		p.copies = max(p.copies, c)
		if c > 0 && p.arrived.IsZero() {
			p.arrived = now
			n++
		}
	}
	return n
}

// tally records, from the final look, how many copies of each change are
// on each side.
func tally(probes []*probe, l look) {
	for _, p := range probes {
		p.copies = max(p.copies, countContaining(l.other(p), p.token))
		p.own = countContaining(l.own(p), p.token)
	}
}

// done reports whether every change has been made and has either arrived
// or waited longer than lostAfter.
func done(probes []*probe, now time.Time, lostAfter time.Duration) bool {
	for _, p := range probes {
		if p.made.IsZero() {
			return false
		}
		if p.arrived.IsZero() && now.Sub(p.made) <= lostAfter {
			return false
		}
	}
	return true
}

// percentile is the nearest-rank p-th percentile (p in whole percents) of
// sorted durations: the smallest value at least p% of them are at or
// below. ok is false for no values.
func percentile(sorted []time.Duration, p int) (time.Duration, bool) {
	n := len(sorted)
	if n == 0 {
		return 0, false
	}
	rank := (p*n + 99) / 100 // ceil(p/100 × n), in integers
	rank = min(max(rank, 1), n)
	return sorted[rank-1], true
}

// stats summarise the latencies of some changes.
type stats struct {
	made, arrived, lost int
	p50, p95, max       time.Duration
}

// summarize sums up the changes of one direction, or of both when dir is
// nil. Changes that never arrived are counted as lost and left out of
// the percentiles.
func summarize(probes []*probe, dir *direction) stats {
	var s stats
	var ls []time.Duration
	for _, p := range probes {
		if dir != nil && p.dir != *dir {
			continue
		}
		if p.made.IsZero() {
			continue
		}
		s.made++
		if d, ok := p.latency(); ok {
			ls = append(ls, d)
		} else {
			s.lost++
		}
	}
	slices.Sort(ls)
	s.arrived = len(ls)
	s.p50, _ = percentile(ls, 50)
	s.p95, _ = percentile(ls, 95)
	if len(ls) > 0 {
		s.max = ls[len(ls)-1]
	}
	return s
}

// latencyRun is what one mode measured.
type latencyRun struct {
	events bool
	// crmWebhooksOn reports whether the stack had the CRM send webhooks.
	crmWebhooksOn bool
	probes        []*probe
	// What the functions logged during the measurement: case-updated
	// published by GoogleEvents for a support event, webhooks CRMWebhook
	// verified and published, and webhooks it refused.
	googleEvents, crmWebhooks, webhooksRefused int
	setup, measured                            time.Duration
}

func (r *latencyRun) name() string {
	if r.events {
		return "events on"
	}
	return "events off"
}

// jsonName names the mode in the JSON keys, as the issue does.
func (r *latencyRun) jsonName() string {
	if r.events {
		return "events"
	}
	return "polling"
}

func (r *latencyRun) overall() stats { return summarize(r.probes, nil) }

func (r *latencyRun) of(d direction) stats { return summarize(r.probes, &d) }

// problems are the changes lost, doubled or echoed back.
func (r *latencyRun) problems() []string {
	var out []string
	for _, p := range r.probes {
		switch {
		case p.made.IsZero():
			out = append(out, fmt.Sprintf("%s: %s %s was never made", r.name(), p.dir, p.token))
		case p.arrived.IsZero():
			out = append(out, fmt.Sprintf("%s: %s %s (pair %d) never arrived", r.name(), p.dir, p.token, p.pair))
		case p.copies > 1:
			out = append(out, fmt.Sprintf("%s: %s %s (pair %d) arrived %d times", r.name(), p.dir, p.token, p.pair, p.copies))
		}
		if !p.made.IsZero() && p.own != 1 {
			out = append(out, fmt.Sprintf("%s: %s %s (pair %d) is %d times on its own side, want 1", r.name(), p.dir, p.token, p.pair, p.own))
		}
	}
	return out
}

// latencyResult is a whole latency run: each mode asked for.
type latencyResult struct {
	opts latencyOptions
	runs []*latencyRun
	wall time.Duration
}

func (r *latencyResult) run(events bool) *latencyRun {
	for _, m := range r.runs {
		if m.events == events {
			return m
		}
	}
	return nil
}

func (r *latencyResult) problems() []string {
	var out []string
	for _, m := range r.runs {
		out = append(out, m.problems()...)
	}
	return out
}

// targetMet reports whether the events-on p95 of every change is within
// the target; checked is false when there is no target or no events-on
// run.
func (r *latencyResult) targetMet() (met, checked bool) {
	on := r.run(true)
	if r.opts.target <= 0 || on == nil {
		return false, false
	}
	s := on.overall()
	return s.arrived > 0 && s.lost == 0 && s.p95 <= r.opts.target, true
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func printLatency(out io.Writer, r *latencyResult) {
	o := r.opts
	fmt.Fprintf(out, "casebridge propagation latency on the local stack (emulators, simulators, functions fed by Pub/Sub push), polls every %s\n", o.pollEvery)
	fmt.Fprintf(out, "%d linked pairs; per mode %d changes each way spread over %s, each timed from the person's change to its first sight on the other side (looked for every %s)\n",
		o.pairs, o.changes, o.spread(), lookEvery)
	for _, m := range r.runs {
		fmt.Fprintln(out)
		switch {
		case !m.events:
			fmt.Fprintf(out, "%s (polling only): support events forwarded %d, CRM webhooks published %d\n", m.name(), m.googleEvents, m.crmWebhooks)
		case !m.crmWebhooksOn:
			fmt.Fprintf(out, "%s: support events forwarded %d; the stack's CRM sends no webhooks, so CRM replies waited for a poll\n", m.name(), m.googleEvents)
		case m.crmWebhooks == 0:
			fmt.Fprintf(out, "%s: support events forwarded %d; CRM webhooks on, yet CRMWebhook published none, so CRM replies waited for a poll\n", m.name(), m.googleEvents)
		default:
			fmt.Fprintf(out, "%s: support events forwarded %d, CRM webhooks published %d\n", m.name(), m.googleEvents, m.crmWebhooks)
		}
		if m.webhooksRefused > 0 {
			fmt.Fprintf(out, "  CRMWebhook refused %d webhooks (see the functions' WARNING lines)\n", m.webhooksRefused)
		}
		fmt.Fprintf(out, "  %-22s  %7s  %4s  %9s  %9s  %9s\n", "", "arrived", "lost", "p50", "p95", "max")
		row := func(name string, s stats) {
			if s.arrived == 0 {
				fmt.Fprintf(out, "  %-22s  %7d  %4d  %9s  %9s  %9s\n", name, s.arrived, s.lost, "-", "-", "-")
				return
			}
			fmt.Fprintf(out, "  %-22s  %7d  %4d  %9s  %9s  %9s\n", name, s.arrived, s.lost, secs(s.p50), secs(s.p95), secs(s.max))
		}
		for _, d := range directions {
			row(d.String(), m.of(d))
		}
		row("overall", m.overall())
		fmt.Fprintf(out, "  wall time %s (stack start and linking %s)\n", (m.setup + m.measured).Round(time.Second), m.setup.Round(time.Second))
	}
	fmt.Fprintln(out)
	if met, checked := r.targetMet(); checked {
		verdict := "met"
		if !met {
			verdict = "NOT MET"
		}
		fmt.Fprintf(out, "target: events on, p95 of every change within %s: %s\n", o.target, verdict)
	}
	if ps := r.problems(); len(ps) == 0 {
		fmt.Fprintln(out, "exactly once: every change arrived on the other side once and stayed once on its own")
	} else {
		fmt.Fprintf(out, "PROBLEMS: %d\n", len(ps))
		for i, p := range ps {
			if i == 20 {
				fmt.Fprintf(out, "  ... and %d more\n", len(ps)-20)
				break
			}
			fmt.Fprintln(out, "  "+p)
		}
	}
	fmt.Fprintf(out, "wall time: %s\n", r.wall.Round(time.Second))
}

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// flat returns the results as flat JSON keys: for each mode ("events",
// "polling") latency_<mode>_p50_ms and _p95_ms over every change, the
// same per direction (latency_<mode>_google_to_crm_p95_ms), the max, the
// changes lost and the events counted. A mode not run, or a statistic
// with no arrival, is null.
func (r *latencyResult) flat() map[string]any {
	o := r.opts
	out := map[string]any{
		"mode":                     "latency",
		"latency_poll_seconds":     o.pollEvery.Seconds(),
		"latency_changes_each_way": o.changes,
		"latency_pairs":            o.pairs,
		"latency_spread_seconds":   o.spread().Seconds(),
		"latency_look_every_ms":    ms(lookEvery),
		"latency_problems":         len(r.problems()),
		"wall_seconds":             r.wall.Seconds(),
	}
	if o.target > 0 {
		out["latency_target_ms"] = ms(o.target)
	}
	if met, checked := r.targetMet(); checked {
		out["latency_target_met"] = met
	}
	put := func(prefix string, s stats, ran bool) {
		for k, v := range map[string]time.Duration{"p50": s.p50, "p95": s.p95, "max": s.max} {
			key := prefix + "_" + k + "_ms"
			if ran && s.arrived > 0 {
				out[key] = ms(v)
			} else {
				out[key] = nil
			}
		}
		if ran {
			out[prefix+"_arrived"] = s.arrived
			out[prefix+"_lost"] = s.lost
		}
	}
	for _, events := range []bool{true, false} {
		m := r.run(events)
		ran := m != nil
		if m == nil {
			m = &latencyRun{events: events}
		}
		base := "latency_" + m.jsonName()
		put(base, m.overall(), ran)
		for _, d := range directions {
			put(base+"_"+d.key(), m.of(d), ran)
		}
		if ran {
			out[base+"_support_events_forwarded"] = m.googleEvents
			out[base+"_crm_webhooks_on"] = m.crmWebhooksOn
			out[base+"_crm_webhooks_published"] = m.crmWebhooks
			out[base+"_wall_seconds"] = (m.setup + m.measured).Seconds()
		}
	}
	return out
}

// lookEvery is how often the other side is looked at for arrivals.
const lookEvery = 100 * time.Millisecond
