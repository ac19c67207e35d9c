package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Report is what one campaign did and found.
type Report struct {
	Seed uint64
	Ops  int
	// Faults counts the faults injected, by kind.
	Faults map[string]int
	// EventModel says which sides sent events in this campaign.
	EventModel string
	// Events counts the events published, by side and origin, what
	// sync-case made of them, and the writes by what started their run.
	Events map[string]int
	// SyncRuns counts sync-case runs; DeadLettered the messages that used
	// every delivery attempt.
	SyncRuns     int
	DeadLettered int
	// HandedBack counts the messages sync-case handed back while another
	// run held their case (ErrWaitForHolder); HandedBackHandled those of
	// them handled later, HandedBackLost those dead-lettered instead.
	HandedBack, HandedBackHandled, HandedBackLost int
	// Polls is how many polls after the faults stopped the simulators
	// agreed; 0 if they never did within MaxPollsToConverge.
	Polls int
	// EventOps is how many changes people made after that with events
	// alone to carry them; EventsAlone says whether the simulators agreed
	// once those events were delivered, without a poll.
	EventOps    int
	EventsAlone bool
	// Lost, Duplicated and Leaked count items missing, copied more than
	// once, and internal data on Google (or an unflagged ticket synced).
	Lost, Duplicated, Leaked int
	// Problems describes what was wrong, at most 50.
	Problems []string
	// Trace is every event of the campaign: people's changes, faults and
	// sync-case runs, with the simulated time.
	Trace []string `json:"-"`
}

// MaxPollsToConverge bounds how long the system may take to agree after
// the faults stop.
const MaxPollsToConverge = 20

// FaultCount is the number of faults injected.
func (r Report) FaultCount() int {
	n := 0
	for _, v := range r.Faults {
		n += v
	}
	return n
}

// OK reports whether the campaign converged with nothing lost, doubled or
// leaked, every message handed back was handled, and events alone carried
// the last changes.
func (r Report) OK() bool {
	return r.Polls > 0 && r.Lost == 0 && r.Duplicated == 0 && r.Leaked == 0 && len(r.Problems) == 0 &&
		r.HandedBack == r.HandedBackHandled && (r.EventOps == 0 || r.EventsAlone)
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d operations, %d faults injected, %d sync runs, %d dead-lettered; ", r.Seed, r.Ops, r.FaultCount(), r.SyncRuns, r.DeadLettered)
	if r.Polls > 0 {
		fmt.Fprintf(&b, "converged %d polls after the faults stopped; ", r.Polls)
	} else {
		fmt.Fprintf(&b, "did not converge within %d polls; ", MaxPollsToConverge)
	}
	fmt.Fprintf(&b, "lost %d, duplicated %d, leaked %d", r.Lost, r.Duplicated, r.Leaked)
	fmt.Fprintf(&b, "\n  %s; %d messages handed back, %d of them handled later, %d dead-lettered", r.EventModel, r.HandedBack, r.HandedBackHandled, r.HandedBackLost)
	if r.EventOps > 0 {
		verdict := "the simulators agreed without a poll"
		if !r.EventsAlone {
			verdict = "the simulators did NOT agree without a poll"
		}
		fmt.Fprintf(&b, "\n  then %d changes with events alone: %s", r.EventOps, verdict)
	}
	for _, k := range sortedKeys(r.Faults) {
		fmt.Fprintf(&b, "\n  %-36s %d", k, r.Faults[k])
	}
	for _, k := range sortedKeys(r.Events) {
		fmt.Fprintf(&b, "\n  %-72s %d", k, r.Events[k])
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "\n  problem: %s", p)
	}
	return b.String()
}

// ReplayCommand is the command that runs one seed again.
func ReplayCommand(seed uint64, ops int, firestore bool) string {
	cmd := fmt.Sprintf("go run ./scripts/chaos --seed %d --ops %d", seed, ops)
	if firestore {
		cmd += " --firestore"
	}
	return cmd
}

// Run runs one campaign: opts.Ops operations by people with faults on, then
// the faults stop and the system runs on until the simulators agree (or
// MaxPollsToConverge polls pass); every message still waiting is then
// delivered, and last people make opts.EventOps changes that events alone
// must carry, with no poll.
func Run(ctx context.Context, opts Options) (Report, error) {
	w, err := newWorld(ctx, opts)
	if err != nil {
		return Report{}, err
	}
	defer w.close()
	w.stats.Seed, w.stats.Ops = opts.Seed, opts.Ops
	w.stats.EventModel = fmt.Sprintf("%s; Pub/Sub's clock %+.1f s off", w.events, w.clockOffset.Seconds())
	w.tracef("%s", w.stats.EventModel)

	w.faults = true
	for i := 0; i < opts.Ops; i++ {
		if err := ctx.Err(); err != nil {
			return w.stats, err
		}
		w.op++
		// Time passes between any two events (Google's clock is precise:
		// no two changes of a case share a time).
		w.clock.Advance(time.Duration(1+w.intn(5)) * time.Second)
		w.tracef("person: %s", w.people.act(ctx))
		w.clock.Advance(time.Millisecond)
		w.sendLate(ctx, false)
		w.queue.release(false)
		// The running system: polls on their schedule, deliveries in
		// between, outage detection now and then.
		if w.intn(4) == 0 {
			w.poll(ctx)
		}
		for range w.intn(4) {
			w.deliverOne(ctx)
		}
		if w.intn(40) == 0 {
			w.lagSearch()
		}
		if w.intn(30) == 0 {
			w.detect(ctx)
		}
	}

	// The faults stop. Late events are sent and in-flight deliveries
	// drain; then poll rounds until the simulators agree.
	w.faults = false
	w.tracef("the faults stop")
	w.google.SetSearchLag(0)
	w.sendLate(ctx, true)
	w.queue.release(true)
	w.drain(ctx)
	for round := 1; round <= MaxPollsToConverge; round++ {
		w.clock.Advance(pollPeriod)
		w.poll(ctx)
		w.drain(ctx)
		w.detect(ctx)
		w.drain(ctx)
		if f := w.check(); f.ok() {
			w.stats.Polls = round
			break
		}
	}
	if w.stats.Polls == 0 {
		return w.finish(w.check(), ""), nil
	}

	// Messages still waiting (handed back, within Pub/Sub's backoff) are
	// delivered: each must be handled, and change nothing.
	w.deliverAll(ctx)
	if w.queue.len() > 0 {
		w.problem("%d messages were still waiting to be delivered", w.queue.len())
	}
	if f := w.check(); !f.ok() {
		return w.finish(f, "after the last messages were delivered: "), nil
	}

	// Events alone: people go on working on a few busy cases, every change
	// sends its event and no poll runs. Each change must reach the other
	// side by its events.
	if w.opts.EventOps > 0 && !w.opts.NoEvents {
		f := w.eventsAlone(ctx, w.opts.EventOps)
		w.stats.EventsAlone = f.ok()
		return w.finish(f, "with events alone, no poll: "), nil
	}
	return w.finish(findings{}, ""), nil
}

// finish fills the report with what the last check found (its problems
// prefixed with where) and what was found while the campaign ran.
func (w *world) finish(f findings, where string) Report {
	w.stats.Lost, w.stats.Duplicated, w.stats.Leaked = f.Lost, f.Duplicated, f.Leaked
	w.mu.Lock()
	w.stats.Problems = append([]string(nil), w.problems...)
	w.mu.Unlock()
	for _, p := range f.Problems {
		w.stats.Problems = append(w.stats.Problems, where+p)
	}
	if w.stats.HandedBack != w.stats.HandedBackHandled {
		w.stats.Problems = append(w.stats.Problems, fmt.Sprintf("%d messages handed back were never handled (%d dead-lettered)",
			w.stats.HandedBack-w.stats.HandedBackHandled, w.stats.HandedBackLost))
	}
	w.stats.Trace = w.trace
	return w.stats
}

// eventsAlone has people make n changes on a few busy cases, with every
// change sending its event, each delivered within seconds, and no poll.
// The simulators must agree once the events of each change are delivered:
// a change whose event was wrongly taken as already seen would otherwise
// go unnoticed until a later change of the same case, and it returns what
// the first check that failed found (or the last check).
func (w *world) eventsAlone(ctx context.Context, n int) findings {
	w.tracef("events alone from here: no poll")
	w.events.all = true
	w.people.hot = w.busyCases(3)
	w.stats.EventOps = n
	for i := range n {
		w.op++
		w.clock.Advance(time.Duration(100+w.intn(2400)) * time.Millisecond)
		did := w.people.act(ctx)
		w.tracef("person: %s", did)
		w.clock.Advance(time.Millisecond)
		w.drain(ctx)
		if f := w.check(); !f.ok() {
			f.Problems = append([]string{fmt.Sprintf("change %d of %d (%s) was not carried by its events", i+1, n, did)}, f.Problems...)
			w.deliverAll(ctx)
			return f
		}
	}
	w.deliverAll(ctx)
	return w.check()
}

// busyCases picks up to n open, linked pairs: their Google case names and
// ticket ids.
func (w *world) busyCases(n int) map[string]bool {
	var pairs [][2]string
	for _, t := range w.crm.Tickets() {
		if t.GoogleCase == "" || t.Closed {
			continue
		}
		if g, ok := w.google.Case(t.GoogleCase); ok && g.State != "CLOSED" {
			pairs = append(pairs, [2]string{g.Name, t.ID})
		}
	}
	hot := map[string]bool{}
	for i := 0; i < n && len(pairs) > 0; i++ {
		k := w.intn(len(pairs))
		hot[pairs[k][0]], hot[pairs[k][1]] = true, true
		pairs = append(pairs[:k], pairs[k+1:]...)
	}
	return hot
}

// deliverAll delivers every waiting message, moving the clock on to the
// end of Pub/Sub's backoff when only messages handed back are left; no poll
// runs meanwhile.
func (w *world) deliverAll(ctx context.Context) {
	for range 1000 {
		w.drain(ctx)
		at, ok := w.queue.nextDue()
		if !ok {
			return
		}
		if d := at.Sub(w.clock.Now()); d > 0 {
			w.clock.Advance(d)
		}
	}
}

// poll runs both pollers once, each as a worker of its own.
func (w *world) poll(ctx context.Context) {
	g, err := w.engine(w.newRun(w.dice, "")).PollGoogle(ctx)
	w.tracef("poll google: %+v %v", g, err)
	c, err := w.engine(w.newRun(w.dice, "")).PollCRM(ctx)
	w.tracef("poll crm: %+v %v", c, err)
}

// detect runs outage detection once.
func (w *world) detect(ctx context.Context) {
	_, _ = w.engine(w.newRun(w.dice, "")).DetectOutages(ctx)
}

// drain delivers until nothing is queued.
func (w *world) drain(ctx context.Context) {
	for i := 0; i < 10000 && w.deliverOne(ctx); i++ {
	}
}

// lagSearch turns Google's search lag on or off.
func (w *world) lagSearch() {
	if w.intn(2) == 0 {
		w.count(faultLag)
		w.google.SetSearchLag(time.Duration(10+w.intn(50)) * time.Second)
	} else {
		w.google.SetSearchLag(0)
	}
}
