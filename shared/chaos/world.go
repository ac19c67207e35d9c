// Package chaos is casebridge's chaos suite: seeded, randomized work by
// people on both sides (cases, public and internal comments, long comments,
// files with NUL bytes around the size limit, priorities, closes, flagged and
// unflagged tickets), run through the real CSAPI adapter and the CRM
// simulator's HTTP client against the simulators and a store, while faults
// are injected at every layer: API calls failing before their work or after
// it with the answer lost, workers dying right after a side effect with their
// lease held, deadlines running out, deliveries duplicated, run concurrently,
// reordered, held back and dropped, publishes failing, the clock jumping and
// Google's search lagging.
//
// Both sides also send events (events.go), as Google's support events and
// the CRM's webhooks do, for people's changes and casebridge's own writes
// alike; the seed decides which sides send them. An event goes through the
// same queue, with the same faults, and sync-case gets its publish time,
// taken on a Pub/Sub clock up to 1.9 s off the functions' clock, as the
// reference's EventTime (every message gets one, as in production). A side
// may send no event or send it late; a message sync-case hands back while
// another run holds its case is delivered again after Pub/Sub's backoff.
//
// Then the faults stop, the system runs on, and the simulators' own state is
// checked: every person's comment and file on the other side exactly once
// with the same bytes, nothing casebridge wrote copied back (no echo),
// internal notes and their files never on Google, one counterpart per case,
// priorities agreeing, closes carried, outage notices alternating and ending
// with "Syncing has resumed." (but on a closed Google case, which takes no
// comment), no change left marked pending. Every message still waiting is
// then delivered: each one handed back must have been handled, and no write
// may be a second copy whatever started its run. Last, people make a few
// dozen changes on a few busy cases with every change sending its event and
// no poll running: after the events of each change are delivered, the
// simulators must agree (an event wrongly taken as already seen shows here,
// as the polls would otherwise hide it).
//
// The test command runs a few thousand operations over several seeds (see
// chaos_test.go); `go run ./scripts/chaos` runs long campaigns, and a failing
// seed prints the command that replays it. A replay makes the same choices
// until the runs' order starts to differ: the in-memory store's mapping ids
// are random (they order the sweep's requests), and concurrent deliveries
// race for the lease.
package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// Identities and limits of the world.
const (
	organization   = "organizations/100"
	project        = "sandbox-project"
	connectorEmail = "casebridge@sandbox-project.iam.gserviceaccount.com"
	customerEmail  = "alice@customer.example"
	// maxFile is casebridge's attachment limit here: small, so that files
	// over and under it are cheap to make.
	maxFile = 48 << 10
	// pollPeriod is the simulated time between two polls.
	pollPeriod = 30 * time.Second
)

// Options is one campaign.
type Options struct {
	// Seed makes the campaign repeatable: the same seed makes the same
	// operations and faults (deliveries run one at a time; only the
	// concurrent-delivery fault runs two at once).
	Seed uint64
	// Ops is how many operations people make.
	Ops int
	// FaultRate is the chance that an API call fails (split among the kinds
	// of faults); the other faults are scaled from it. Default 0.2.
	FaultRate float64
	// Store is the store to use; nil means a fresh in-memory store.
	Store casesync.Store
	// NoEvents runs the campaign on polling alone: no side sends events
	// (otherwise the seed decides which sides do).
	NoEvents bool
	// EventOps is how many operations people make, once the system has
	// agreed after the faults, with every change sending its event and no
	// poll running: events alone must carry them. Default 40; negative
	// means none.
	EventOps int
}

// world is everything one campaign runs on.
type world struct {
	opts Options
	// dice draws the main loop's random choices; each sync-case run
	// draws its own from dice of its own, made from its caller's, so that
	// a seed's choices do not depend on how runs interleave.
	dice   *dice
	mu     sync.Mutex // guards stats, the trace and the lists below
	clock  *clock.Manual
	google *csapitest.Server
	crm    *crmsim.CRM
	crmSrv *http.Server
	gAPI   casesync.Google
	cAPI   casesync.CRM
	store  casesync.Store
	cfg    casesync.Config
	queue  *queue
	faults bool
	stats  Report
	people *people
	trace  []string
	// events is the campaign's model of the events both sides send; late
	// holds events a side sends after later operations.
	events eventModel
	late   []lateEvent
	// op counts the operations made so far.
	op int
	// clockOffset is how far Pub/Sub's clock is ahead of the functions'
	// in this campaign (behind when negative).
	clockOffset time.Duration
	// problems found while the campaign ran (not by the final check).
	problems []string
}

// tracef records one event of the campaign, for the report of a failure.
func (w *world) tracef(format string, args ...any) {
	line := w.clock.Now().Format("15:04:05.000") + " " + fmt.Sprintf(format, args...)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.trace = append(w.trace, line)
}

func newWorld(ctx context.Context, opts Options) (*world, error) {
	if opts.FaultRate == 0 {
		opts.FaultRate = 0.2
	}
	if opts.EventOps == 0 {
		opts.EventOps = 40
	}
	w := &world{
		opts:  opts,
		dice:  newDice(opts.Seed, opts.Seed^0x9e3779b97f4a7c15),
		clock: clock.NewManual(time.Date(2026, 6, 1, 9, 0, 0, 123456789, time.UTC)),
		store: opts.Store,
	}
	if w.store == nil {
		w.store = casesynctest.NewMemStore()
	}
	w.google = csapitest.New(csapitest.Options{Organization: organization, CallerEmail: connectorEmail, Clock: w.clock.Now})
	if err := w.google.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the CSAPI simulator: %w", err)
	}
	g, err := csapi.New(ctx, csapi.Config{
		Parent: organization, CreateParent: "projects/" + project, ClassificationID: csapitest.DefaultClassifications()[0].ID,
		TestCase: true, ConnectorEmail: connectorEmail, MaxAttempts: 1, CallTimeout: 10 * time.Second,
	}, option.WithEndpoint(w.google.URL()), option.WithoutAuthentication())
	if err != nil {
		w.close()
		return nil, fmt.Errorf("CSAPI adapter: %w", err)
	}
	w.gAPI = g
	w.crm = crmsim.New(crmsim.Options{Clock: w.clock.Now})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.close()
		return nil, fmt.Errorf("listen for the CRM simulator: %w", err)
	}
	w.crmSrv = &http.Server{Handler: w.crm.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.crmSrv.Serve(ln) }()
	w.cAPI = crmsim.NewClient("http://"+ln.Addr().String(), &http.Client{Timeout: 10 * time.Second})
	w.cfg = casesync.Config{
		MaxAttachmentBytes: maxFile,
		LeaseDuration:      30 * time.Second,
		RepublishAfter:     2 * pollPeriod,
		RetryBackoff:       pollPeriod,
		RetryMaxBackoff:    2 * pollPeriod,
	}
	w.queue = &queue{w: w}
	w.people = &people{w: w, closedAt: map[string]time.Time{}, tickets: map[string]bool{}}
	w.events = w.newEventModel()
	w.clockOffset = time.Duration(w.dice.int64n(int64(2*maxClockSkew+1))) - maxClockSkew
	return w, nil
}

func (w *world) close() {
	if w.google != nil {
		w.google.Close()
	}
	if w.crmSrv != nil {
		_ = w.crmSrv.Close()
	}
}

// dice draws random choices for one thread of the campaign.
type dice struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newDice(a, b uint64) *dice { return &dice{rng: rand.New(rand.NewPCG(a, b))} }

// roll reports true with probability p.
func (d *dice) roll(p float64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Float64() < p
}

// intn is a random int in [0, n).
func (d *dice) intn(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.IntN(n)
}

func (d *dice) int64n(n int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rng.Int64N(n)
}

// child returns new dice drawn from these.
func (d *dice) child() *dice {
	d.mu.Lock()
	defer d.mu.Unlock()
	return newDice(d.rng.Uint64(), d.rng.Uint64())
}

// roll and intn draw from the main loop's dice.
func (w *world) roll(p float64) bool { return w.dice.roll(p) }
func (w *world) intn(n int) int      { return w.dice.intn(n) }

// skew is the difference, for one message, between Pub/Sub's clock and
// the functions' clock: the campaign's offset, give or take 200 ms, within
// maxClockSkew either way.
func (w *world) skew(d *dice) time.Duration {
	const jitter = 200 * time.Millisecond
	s := w.clockOffset + time.Duration(d.int64n(int64(2*jitter+1))) - jitter
	return min(max(s, -maxClockSkew), maxClockSkew)
}

// count adds one to a fault or event counter.
func (w *world) count(what string) {
	w.tracef("fault: %s", what)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stats.Faults == nil {
		w.stats.Faults = map[string]int{}
	}
	w.stats.Faults[what]++
}

// engine returns an engine for one worker's run: its ports inject faults
// while faults are on, and die together when the run "crashes".
func (w *world) engine(r *run) *casesync.Engine {
	return &casesync.Engine{
		Google:    faultyGoogle{Google: w.gAPI, r: r},
		CRM:       faultyCRM{CRM: w.cAPI, r: r},
		Store:     faultyStore{Store: w.store, r: r},
		Publisher: runPublisher{q: w.queue, d: r.dice},
		Clock:     w.clock,
		Config:    w.cfg,
	}
}
