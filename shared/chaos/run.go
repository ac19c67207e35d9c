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
	// SyncRuns counts sync-case runs; DeadLettered the messages that used
	// every delivery attempt.
	SyncRuns     int
	DeadLettered int
	// Polls is how many polls after the faults stopped the simulators
	// agreed; 0 if they never did within MaxPollsToConverge.
	Polls int
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
// leaked.
func (r Report) OK() bool {
	return r.Polls > 0 && r.Lost == 0 && r.Duplicated == 0 && r.Leaked == 0 && len(r.Problems) == 0
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
	for _, k := range sortedKeys(r.Faults) {
		fmt.Fprintf(&b, "\n  %-36s %d", k, r.Faults[k])
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
// MaxPollsToConverge polls pass).
func Run(ctx context.Context, opts Options) (Report, error) {
	w, err := newWorld(ctx, opts)
	if err != nil {
		return Report{}, err
	}
	defer w.close()
	w.stats.Seed, w.stats.Ops = opts.Seed, opts.Ops

	w.faults = true
	for i := 0; i < opts.Ops; i++ {
		if err := ctx.Err(); err != nil {
			return w.stats, err
		}
		// Time passes between any two events (Google's clock is precise:
		// no two changes of a case share a time).
		w.clock.Advance(time.Duration(1+w.intn(5)) * time.Second)
		w.tracef("person: %s", w.people.act())
		w.clock.Advance(time.Millisecond)
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

	// The faults stop. In-flight deliveries drain; then poll rounds until
	// the simulators agree.
	w.faults = false
	w.tracef("the faults stop")
	w.google.SetSearchLag(0)
	w.drain(ctx)
	for round := 1; round <= MaxPollsToConverge; round++ {
		w.clock.Advance(pollPeriod)
		w.poll(ctx)
		w.drain(ctx)
		w.detect(ctx)
		w.drain(ctx)
		if f := w.check(); f.ok() {
			w.stats.Polls = round
			w.stats.Trace = w.trace
			return w.stats, nil
		}
	}
	f := w.check()
	w.stats.Lost, w.stats.Duplicated, w.stats.Leaked, w.stats.Problems = f.Lost, f.Duplicated, f.Leaked, f.Problems
	w.stats.Trace = w.trace
	return w.stats, nil
}

// poll runs both pollers once, each as a worker of its own.
func (w *world) poll(ctx context.Context) {
	g, err := w.engine(&run{w: w}).PollGoogle(ctx)
	w.tracef("poll google: %+v %v", g, err)
	c, err := w.engine(&run{w: w}).PollCRM(ctx)
	w.tracef("poll crm: %+v %v", c, err)
}

// detect runs outage detection once.
func (w *world) detect(ctx context.Context) {
	_, _ = w.engine(&run{w: w}).DetectOutages(ctx)
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
