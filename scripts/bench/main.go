// Command bench measures what casebridge's sync costs, per change a person
// makes, with a benchmark anyone can run again:
//
//	go run ./scripts/bench                            100 pairs on the Firestore emulator
//	go run ./scripts/bench --cases 10 --store memory  a quick run on the in-memory store
//	go run ./scripts/bench --json bench.json          also write the numbers as JSON
//	go run ./scripts/bench --events                   with support events and CRM webhooks on
//
// It opens --cases pairs of cases linked on both sides (not counted), then
// plays a seeded trace: each simulated minute, on each side, --rate × cases
// cases get one change by a person (80% comments, 10% attachments, 10%
// priority changes), both pollers run once and every message they publish
// is delivered to sync-case until none is left. Everything runs for real:
// the sync engine, the CSAPI adapter against the CSAPI simulator and the
// CRM simulator's HTTP client against the CRM simulator, both over HTTP on
// 127.0.0.1, and the Firestore store on the Firestore emulator (started
// here), on a simulated clock. A warm-up (--warmup minutes, not counted)
// fills the polling windows first, so the measured --minutes are the steady
// state.
//
// With --events both simulators also push, as in the sandbox: the CSAPI
// simulator publishes support events (the world creates the support event
// subscription through its API) to what GoogleEvents does, and the CRM
// simulator sends signed webhooks to a receiver doing what CRMWebhook does
// (events.go). Their messages are delivered right after the people's
// changes, before the minute's polls, as they arrive within seconds. With
// --csapi-feed the Google adapter lists comments and attachments in one
// call of the v2beta case feed (CSAPI_USE_FEED).
//
// It counts, per change made in the measured minutes: API calls by side and
// method (at the simulators), Firestore document reads and writes, and the
// messages delivered to sync-case, split into reconciliations and messages
// skipped without one (the mapping showed the change was covered). Beside
// them it prints the lower bound any polling connector needs, and the cost
// of the design casebridge is based on (Google's connector guide),
// modelled on the same trace. At the end it checks on the simulators' own
// state that every change of the trace is on the other side exactly once,
// and exits 1 if not.
//
// With --latency it measures propagation latency instead, on the running
// local stack (shared/localstack: the emulators, the simulators, every
// function fed by Pub/Sub push, the ticker), started twice: events on
// (Google's support events and the CRM's webhooks), then off. On each it links --latency-pairs pairs (not measured), then
// makes --latency-changes comments each way as people would (a customer's
// comment on the Google case, an agent's public reply on the CRM ticket),
// spread evenly over one poll period (--poll-every, a minute as in
// production), and times each from the change to its first sight on the
// other side, looking every 100 ms. It prints p50 and p95 per direction and
// overall for each mode, and exits 1 if a change was lost or doubled, or
// the events-on p95 is over --latency-target:
//
//	go run ./scripts/bench --latency --json latency.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/store"
)

// options is one benchmark run.
type options struct {
	cases       int
	rate        float64
	minutes     int
	warmup      int
	seed        uint64
	store       string // "firestore" or "memory"
	jsonPath    string
	crmPageSize int
	// events turns on the support events and the CRM's webhooks;
	// csapiFeed builds the Google adapter with WithFeed.
	events    bool
	csapiFeed bool

	// latency runs the latency mode, with lat, instead of the cost run.
	latency bool
	lat     latencyOptions

	// For tests: afterSetup runs once the pairs are linked, beforeCheck
	// once the trace has played.
	afterSetup  func(*world)
	beforeCheck func(*world)
}

// Limits on the flags, so that a typo cannot ask for days of work.
const (
	maxCases   = 10000
	maxMinutes = 24 * 60
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.cases, "cases", 100, "linked pairs of cases open at the start (K)")
	fs.Float64Var(&o.rate, "rate", 0.02, "changes per minute per side, as a share of the pairs (fractions carry over)")
	fs.IntVar(&o.minutes, "minutes", 60, "simulated minutes measured")
	fs.IntVar(&o.warmup, "warmup", 30, "simulated minutes played first and not counted (the longest polling window)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the trace")
	fs.StringVar(&o.store, "store", "firestore", "firestore (the emulator, started here) or memory (quick runs; no document counts)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the results to this file as flat JSON")
	fs.IntVar(&o.crmPageSize, "crm-page-size", 0, "CRM search page size the adapter asks for; 0 is the adapter's default, as the deployed functions use (the largest page, 100)")
	fs.BoolVar(&o.events, "events", false, "events on: the CSAPI simulator publishes support events to GoogleEvents and the CRM simulator sends webhooks to CRMWebhook, delivered before each minute's polls (default: polling only)")
	fs.BoolVar(&o.csapiFeed, "csapi-feed", false, "list a Google case's comments and attachments in one call, the v2beta case feed (CSAPI_USE_FEED; off in production by default)")
	fs.BoolVar(&o.latency, "latency", false, "measure propagation latency on the running local stack, events on and off, instead of the cost")
	fs.DurationVar(&o.lat.pollEvery, "poll-every", time.Minute, "latency: how often the stack polls each side (production: every minute)")
	fs.IntVar(&o.lat.changes, "latency-changes", 20, "latency: changes made each way in each mode")
	fs.IntVar(&o.lat.pairs, "latency-pairs", 10, "latency: linked pairs the changes are made on: Google comments on one half, CRM replies on the other")
	fs.DurationVar(&o.lat.spreadOver, "latency-spread", 0, "latency: how long each mode's changes are spread over (0: one poll period)")
	fs.DurationVar(&o.lat.target, "latency-target", 5*time.Second, "latency: the most the events-on p95 may be; the command exits 1 above it (0: no target)")
	fs.StringVar(&o.lat.modes, "latency-events", "both", "latency: the modes to run: both (events on, then off), on or off")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.latency {
		if fs.NArg() > 0 {
			return o, fmt.Errorf("unexpected arguments %q", fs.Args())
		}
		return o, o.lat.validate()
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.cases < 1 || o.cases > maxCases:
		return o, fmt.Errorf("--cases must be between 1 and %d", maxCases)
	case !(o.rate > 0 && o.rate <= 1):
		return o, errors.New("--rate must be above 0 and at most 1")
	case o.minutes < 1 || o.minutes > maxMinutes:
		return o, fmt.Errorf("--minutes must be between 1 and %d", maxMinutes)
	case o.warmup < 0 || o.warmup > maxMinutes:
		return o, fmt.Errorf("--warmup must be between 0 and %d", maxMinutes)
	case o.store != "firestore" && o.store != "memory":
		return o, errors.New("--store must be firestore or memory")
	case o.crmPageSize < 0 || o.crmPageSize > 100:
		return o, errors.New("--crm-page-size must be between 0 and 100")
	}
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, opts, os.Stdout, os.Stderr))
}

// run runs the benchmark, prints its table and writes its JSON; it returns
// the exit code. The cost run leaves the latency keys of its JSON null;
// --latency runs the latency mode instead.
func run(ctx context.Context, opts options, stdout, stderr io.Writer) int {
	if opts.latency {
		return runLatency(ctx, opts.lat, opts.jsonPath, stdout, stderr)
	}
	res, err := runCost(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	printTable(stdout, res)
	if opts.jsonPath != "" {
		if err := writeJSON(opts.jsonPath, res); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if len(res.problems) > 0 {
		return 1
	}
	return 0
}

// result is one cost run.
type result struct {
	opts           options
	trace          Trace
	cost           counts // casebridge, over the measured minutes
	hasStoreCounts bool
	lower          map[string]int64
	seed           SeedCost
	problems       []string
	late           time.Duration
	retried        int64
	wall           struct{ setup, warmup, measured, total time.Duration }
}

// runCost plays the trace through casebridge and counts the measured
// minutes. A failed exactly-once check is in res.problems, not an error.
func runCost(ctx context.Context, opts options, progress io.Writer) (*result, error) {
	began := time.Now()
	tr := Generate(opts.cases, opts.rate, opts.warmup, opts.minutes, opts.seed)
	if tr.MeasuredChanges() == 0 {
		return nil, fmt.Errorf("the trace makes no change in the %d measured minutes (%d pairs at %g a minute): raise --rate, --cases or --minutes", opts.minutes, opts.cases, opts.rate)
	}
	res := &result{opts: opts, trace: tr}

	var st casesync.Store
	switch opts.store {
	case "memory":
		st = casesynctest.NewMemStore()
	case "firestore":
		em, err := emulators.StartFirestore(ctx)
		if err != nil {
			return nil, fmt.Errorf("start the Firestore emulator: %w", err)
		}
		defer em.Stop()
		if err := os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host); err != nil {
			return nil, err
		}
		fs, err := store.New(ctx, fmt.Sprintf("bench-%d", os.Getpid()))
		if err != nil {
			return nil, err
		}
		defer fs.Close()
		st, res.hasStoreCounts = fs, true
	}

	w, err := newWorld(ctx, worldConfig{store: st, crmPageSize: opts.crmPageSize, events: opts.events, csapiFeed: opts.csapiFeed})
	if err != nil {
		return nil, err
	}
	defer w.close()
	fmt.Fprintf(progress, "bench: linking %d pairs of cases (%s store, events %s)\n", opts.cases, opts.store, onOff(opts.events))
	t := time.Now()
	if err := w.setup(ctx, opts.cases); err != nil {
		return nil, err
	}
	if opts.afterSetup != nil {
		opts.afterSetup(w)
	}
	res.wall.setup = time.Since(t)

	t = time.Now()
	if opts.warmup > 0 {
		fmt.Fprintf(progress, "bench: %d warm-up minutes\n", opts.warmup)
	}
	for m := 0; m < tr.Warmup; m++ {
		if err := w.minute(ctx, m, tr.In(m)); err != nil {
			return nil, err
		}
	}
	res.wall.warmup = time.Since(t)

	t = time.Now()
	fmt.Fprintf(progress, "bench: %d measured minutes, %d changes\n", opts.minutes, tr.MeasuredChanges())
	before := w.snapshot()
	for m := tr.Warmup; m < tr.Warmup+tr.Minutes; m++ {
		if err := w.minute(ctx, m, tr.In(m)); err != nil {
			return nil, err
		}
	}
	res.cost = w.snapshot().since(before)
	res.wall.measured = time.Since(t)
	res.late, res.retried = w.late, w.retried

	if opts.beforeCheck != nil {
		opts.beforeCheck(w)
	}
	res.problems = w.check(tr)
	res.lower = LowerBound(tr, w.listings())
	res.seed = SeedDesign(tr)
	res.wall.total = time.Since(began)
	return res, nil
}
