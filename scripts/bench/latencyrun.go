package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/localstack"
)

// latencyOptions are the flags of the latency mode.
type latencyOptions struct {
	// pollEvery is how often the stack's ticker polls each side
	// (production: every minute).
	pollEvery time.Duration
	// changes is how many changes are made each way in each mode.
	changes int
	// pairs is how many linked pairs the changes are spread over.
	pairs int
	// spreadOver is how long the changes of a mode are spread over; zero
	// is one poll period.
	spreadOver time.Duration
	// target is the most the events-on p95 may be (zero: not checked).
	target time.Duration
	// modes is "both", "on" or "off".
	modes string
}

func (o latencyOptions) spread() time.Duration {
	if o.spreadOver > 0 {
		return o.spreadOver
	}
	return o.pollEvery
}

// lostAfter is how long a change may take before it counts as lost: two
// polls, and half a minute for the work.
func (o latencyOptions) lostAfter() time.Duration { return 2*o.pollEvery + 30*time.Second }

// eventModes is the events switch of each mode to run, events on first.
func (o latencyOptions) eventModes() []bool {
	switch o.modes {
	case "on":
		return []bool{true}
	case "off":
		return []bool{false}
	}
	return []bool{true, false}
}

// Limits on the latency flags.
const (
	maxLatencyChanges = 500
	maxLatencyPairs   = 100
	minPollEvery      = time.Second
	maxPollEvery      = 10 * time.Minute
	maxSpread         = 30 * time.Minute
)

func (o latencyOptions) validate() error {
	switch {
	case o.changes < 1 || o.changes > maxLatencyChanges:
		return fmt.Errorf("--latency-changes must be between 1 and %d", maxLatencyChanges)
	case o.pairs < 2 || o.pairs > maxLatencyPairs:
		return fmt.Errorf("--latency-pairs must be between 2 (one for each direction) and %d", maxLatencyPairs)
	case o.pollEvery < minPollEvery || o.pollEvery > maxPollEvery:
		return fmt.Errorf("--poll-every must be between %s and %s", minPollEvery, maxPollEvery)
	case o.spreadOver < 0 || o.spreadOver > maxSpread:
		return fmt.Errorf("--latency-spread must be between 0 (one poll period) and %s", maxSpread)
	case o.target < 0:
		return errors.New("--latency-target must not be negative (0: no target)")
	case o.modes != "both" && o.modes != "on" && o.modes != "off":
		return errors.New("--latency-events must be both, on or off")
	}
	return nil
}

// stackOptions is the local stack of one mode: production's poll and
// outage-detection periods (but the poll period asked for), production's
// retry and dead-letter policies, and the events switch.
func stackOptions(events bool, pollEvery time.Duration) localstack.Options {
	return localstack.Options{
		PollEvery:          pollEvery,
		DetectOutagesEvery: 5 * time.Minute,
		CleanupEvery:       24 * time.Hour,
		NoSupportEvents:    !events,
		// The run counts the functions' INFO lines.
		Env: map[string]string{"LOG_LEVEL": "info"},
	}
}

// runLatency runs each mode asked for on a stack of its own, one after
// the other, prints the table and writes the JSON; it returns the exit
// code: 1 if a change was lost, doubled or echoed, or the events-on p95
// missed the target.
func runLatency(ctx context.Context, o latencyOptions, jsonPath string, stdout, stderr io.Writer) int {
	res, err := measureLatencies(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	printLatency(stdout, res)
	if jsonPath != "" {
		if err := writeFlat(jsonPath, res.flat()); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if len(res.problems()) > 0 {
		return 1
	}
	if met, checked := res.targetMet(); checked && !met {
		return 1
	}
	return 0
}

func measureLatencies(ctx context.Context, o latencyOptions, progress io.Writer) (*latencyResult, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	res := &latencyResult{opts: o}
	for _, events := range o.eventModes() {
		m, err := measureMode(ctx, o, events, progress)
		if err != nil {
			return nil, err
		}
		res.runs = append(res.runs, m)
	}
	res.wall = time.Since(began)
	return res, nil
}

// linkedPair is a Google case and the CRM ticket linked to it.
type linkedPair struct{ google, ticket string }

// measureMode starts a stack with events on or off, links the pairs, makes
// the changes and times them, and stops the stack.
func measureMode(ctx context.Context, o latencyOptions, events bool, progress io.Writer) (m *latencyRun, err error) {
	m = &latencyRun{events: events}
	say := func(format string, args ...any) {
		fmt.Fprintf(progress, "bench: %s: "+format+"\n", append([]any{m.name()}, args...)...)
	}
	began := time.Now()
	say("starting the local stack (polls every %s)", o.pollEvery)
	st, err := localstack.Start(ctx, stackOptions(events, o.pollEvery))
	if err != nil {
		return nil, fmt.Errorf("%s: starting the local stack: %w", m.name(), err)
	}
	defer func() {
		if serr := st.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("%s: stopping the local stack: %w", m.name(), serr)
		}
	}()
	if st.CRM == nil {
		return nil, errors.New("the latency mode needs the CRM simulator")
	}
	m.crmWebhooksOn = st.CRMWebhooks()
	fl := &funcLog{}
	lines, unsubscribe := st.SubscribeLogs()
	defer unsubscribe()
	go fl.follow(lines)

	say("linking %d pairs (not measured)", o.pairs)
	pairs, err := linkPairs(ctx, st, o.pairs, m.name())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name(), err)
	}
	// The set-up's last runs (and their echoes) end before the first
	// change.
	if err := fl.quiet(ctx, 3*time.Second, time.Minute); err != nil {
		return nil, fmt.Errorf("%s: after linking: %w", m.name(), err)
	}
	m.setup = time.Since(began)

	label := "off"
	if events {
		label = "on"
	}
	m.probes = planProbes(label, o.changes, len(pairs), o.spread())
	say("making %d changes each way over %s", o.changes, o.spread())
	before := fl.snapshot()
	start := time.Now()
	if err := play(ctx, st, pairs, m.probes, o.lostAfter(), func(arrived, made int) {
		say("%d of %d changes arrived after %.0f s", arrived, made, time.Since(start).Seconds())
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", m.name(), err)
	}
	// Whatever casebridge still does about the changes (echo runs, late
	// copies) ends before the final count.
	if err := fl.quiet(ctx, 3*time.Second, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%s: after the changes: %w", m.name(), err)
	}
	tally(m.probes, lookAt(st, pairs))
	m.measured = time.Since(start)
	after := fl.snapshot()
	m.googleEvents = after.googleEvents - before.googleEvents
	m.crmWebhooks = after.crmWebhooks - before.crmWebhooks
	m.webhooksRefused = after.webhooksRefused - before.webhooksRefused
	s := m.overall()
	say("%d arrived, %d lost; p50 %s, p95 %s", s.arrived, s.lost, secs(s.p50), secs(s.p95))
	return m, nil
}

// linkPairs opens n pairs, even ones as Google cases and odd ones as CRM
// tickets flagged for sync, and waits until casebridge has linked each.
// It ticks both pollers every few seconds meanwhile, so that linking does
// not wait for the minute's poll; the linking is not measured.
func linkPairs(ctx context.Context, st *localstack.Stack, n int, label string) ([]linkedPair, error) {
	p3, _ := casesync.DefaultPriorityTable().Company(casesync.P3)
	pairs := make([]linkedPair, n)
	for i := range pairs {
		title := fmt.Sprintf("Latency %s case %d", label, i)
		if i%2 == 0 {
			g, err := st.CSAPI.CreateCase("projects/"+project, title, "The instance restarts every few minutes.", casesync.P3.String(), customerEmail)
			if err != nil {
				return nil, fmt.Errorf("opening Google case %d: %w", i, err)
			}
			pairs[i].google = g
		} else {
			pairs[i].ticket = st.CRM.CreateTicket(crmsim.Ticket{Subject: title, Description: "The printer restarts every few minutes.",
				Priority: p3, SyncFlag: true, Requester: "bob@customer.example"})
		}
	}
	linked := func() bool {
		tickets := st.CRM.Tickets()
		all := true
		for i := range pairs {
			p := &pairs[i]
			if i%2 == 0 {
				// A CRM ticket names the Google case, and casebridge's link
				// line is on the Google case.
				p.ticket = ""
				for _, t := range tickets {
					if casesync.CaseNumber(t.GoogleCase) == casesync.CaseNumber(p.google) && hasLinkLine(st, p.google, t.ID) {
						p.ticket = t.ID
						break
					}
				}
				all = all && p.ticket != ""
				continue
			}
			t, _ := st.CRM.Ticket(p.ticket)
			p.google = ""
			if t.GoogleCase != "" {
				if _, ok := st.CSAPI.Case(t.GoogleCase); ok {
					p.google = t.GoogleCase
				}
			}
			all = all && p.google != ""
		}
		return all
	}
	deadline := time.Now().Add(2 * time.Minute)
	nextTick := time.Now()
	for !linked() {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the %d pairs were not all linked within 2 minutes", n)
		}
		if time.Now().After(nextTick) {
			for _, fn := range []string{eventing.FunctionPollGoogle, eventing.FunctionPollCRM} {
				if _, err := st.PublishTick(ctx, fn); err != nil {
					return nil, fmt.Errorf("ticking %s: %w", fn, err)
				}
			}
			nextTick = time.Now().Add(3 * time.Second)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return pairs, nil
}

func hasLinkLine(st *localstack.Stack, googleCase, ticket string) bool {
	line := casesync.LinkLine(ticket)
	for _, c := range st.CSAPI.Comments(googleCase) {
		if strings.TrimSpace(c.Body) == line {
			return true
		}
	}
	return false
}

// lookAt reads every pair's comments on both sides, from the simulators'
// own state.
func lookAt(st *localstack.Stack, pairs []linkedPair) look {
	l := look{google: make([][]string, len(pairs)), crm: make([][]string, len(pairs))}
	for i, p := range pairs {
		for _, c := range st.CSAPI.Comments(p.google) {
			l.google[i] = append(l.google[i], c.Body)
		}
		t, _ := st.CRM.Ticket(p.ticket)
		for _, c := range t.Comments {
			l.crm[i] = append(l.crm[i], c.Body)
		}
	}
	return l
}

// play makes the changes at their times, as people would through the
// simulators, while it looks at the other side every lookEvery for what
// has arrived. It returns once every change is made and has arrived or
// waited longer than lostAfter. progress is told every ten seconds.
func play(ctx context.Context, st *localstack.Stack, pairs []linkedPair, probes []*probe, lostAfter time.Duration, progress func(arrived, made int)) error {
	var mu sync.Mutex
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan error, 1)
	go func() {
		for _, p := range probes {
			select {
			case <-ctx.Done():
				finished <- ctx.Err()
				return
			case <-time.After(time.Until(start.Add(p.at))):
			}
			pair := pairs[p.pair]
			made := time.Now()
			var err error
			if p.dir == googleToCRM {
				_, err = st.CSAPI.AddComment(pair.google, p.body(), customer)
			} else {
				_, err = st.CRM.AddHumanComment(pair.ticket, agentName, p.body(), true)
			}
			if err != nil {
				finished <- fmt.Errorf("making %s %s on pair %d: %w", p.dir, p.token, p.pair, err)
				return
			}
			mu.Lock()
			p.made = made
			mu.Unlock()
		}
		finished <- nil
	}()
	// people reports once, when every change is made or one failed.
	var people <-chan error = finished

	tick := time.NewTicker(lookEvery)
	defer tick.Stop()
	nextProgress := start.Add(10 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-people:
			if err != nil {
				return err
			}
			people = nil // every change is made
		case <-tick.C:
		}
		l := lookAt(st, pairs)
		now := time.Now()
		mu.Lock()
		observe(probes, l, now)
		over := done(probes, now, lostAfter)
		var arrived, made int
		for _, p := range probes {
			if !p.made.IsZero() {
				made++
			}
			if !p.arrived.IsZero() {
				arrived++
			}
		}
		mu.Unlock()
		if over {
			return nil
		}
		if now.After(nextProgress) {
			progress(arrived, made)
			nextProgress = now.Add(10 * time.Second)
		}
	}
}

// funcLog counts, from the functions' log, what the latency mode reports:
// support events forwarded, CRM webhooks published or refused, and when
// SyncCase last did anything.
type funcLog struct {
	mu     sync.Mutex
	counts funcCounts
	// lastSync is when SyncCase last wrote a line.
	lastSync time.Time
}

type funcCounts struct{ googleEvents, crmWebhooks, webhooksRefused int }

func (f *funcLog) follow(lines <-chan localstack.LogLine) {
	for l := range lines {
		f.add(l, time.Now())
	}
}

func (f *funcLog) add(l localstack.LogLine, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := l.Message()
	switch l.Str("function") {
	case eventing.FunctionGoogleEvents:
		if strings.HasPrefix(msg, "case-updated published") {
			f.counts.googleEvents++
		}
	case eventing.FunctionCRMWebhook:
		switch {
		case strings.HasPrefix(msg, "webhook verified"):
			f.counts.crmWebhooks++
		case strings.HasPrefix(msg, "webhook refused"):
			f.counts.webhooksRefused++
		}
	case eventing.FunctionSyncCase:
		f.lastSync = now
	}
}

func (f *funcLog) snapshot() funcCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts
}

// quiet waits until SyncCase has written nothing for `quiet`, for at most
// within; running past within is not an error (the measurement goes on),
// only ctx's end is.
func (f *funcLog) quiet(ctx context.Context, quiet, within time.Duration) error {
	begun := time.Now()
	for time.Since(begun) < within {
		f.mu.Lock()
		last := f.lastSync
		f.mu.Unlock()
		if last.Before(begun) {
			last = begun
		}
		if time.Since(last) >= quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
