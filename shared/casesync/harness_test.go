package casesync_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/store"
)

// TestMain starts one Firestore emulator for the tests that run the engine on
// the real store; each such test uses a project of its own.
func TestMain(m *testing.M) {
	// A fuzzing run (scripts/fuzz.sh: -run '^$' -fuzz X, and the worker
	// processes it starts) runs no test that needs the emulator.
	flag.Parse()
	if flag.Lookup("test.fuzzworker").Value.String() == "true" || flag.Lookup("test.run").Value.String() == "^$" {
		os.Exit(m.Run())
	}
	// The inner loop (go test -short ./shared/casesync): the engine on the
	// in-memory store only, in seconds; the Firestore variants say they
	// were left out. The test command runs everything.
	if testing.Short() {
		os.Exit(m.Run())
	}
	em, err := emulators.StartFirestore(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "the engine's tests need the Firestore emulator:", err)
		os.Exit(1)
	}
	os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
	code := m.Run()
	if err := em.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the Firestore emulator:", err)
	}
	os.Exit(code)
}

// storeKind is a Store implementation the engine's tests run on.
type storeKind struct {
	name string
	new  func(t *testing.T) casesync.Store
}

var projectSeq atomic.Int64

var storeKinds = []storeKind{
	{"in memory", func(t *testing.T) casesync.Store { return casesynctest.NewMemStore() }},
	{"on Firestore", func(t *testing.T) casesync.Store {
		if testing.Short() {
			t.Skip("-short: the engine runs on the in-memory store only; the Firestore variant runs in the full test command")
		}
		s, err := store.New(context.Background(), fmt.Sprintf("engine-test-%d-%d", os.Getpid(), projectSeq.Add(1)))
		if err != nil {
			t.Fatalf("Firestore store: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

const (
	org            = "organizations/100"
	project        = "projects/sandbox-project"
	connectorEmail = "casebridge@sandbox-project.iam.gserviceaccount.com"
	classification = "100H41Q3DTMN0TBKCKD0SGRVNR"
	customer       = "alice@example.com"
)

// testClock is a clock the test moves by hand.
type testClock = clock.Manual

// queue collects what the engine publishes, standing in for Pub/Sub.
type queue struct {
	mu   sync.Mutex
	refs []casesync.CaseRef
}

func (q *queue) PublishCaseUpdated(_ context.Context, refs []casesync.CaseRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refs = append(q.refs, refs...)
	return nil
}

func (q *queue) PublishSyncRequested(_ context.Context, ref casesync.CaseRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refs = append(q.refs, ref)
	return nil
}

func (q *queue) take() []casesync.CaseRef {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.refs
	q.refs = nil
	return r
}

type world struct {
	t      *testing.T
	ctx    context.Context
	clock  *testClock
	google *csapitest.Server
	crm    *crmsim.CRM
	store  casesync.Store
	queue  *queue
	engine *casesync.Engine
}

func newWorld(t *testing.T, cfg casesync.Config) *world {
	t.Helper()
	return newWorldOn(t, cfg, storeKinds[0])
}

func newWorldOn(t *testing.T, cfg casesync.Config, sk storeKind) *world {
	t.Helper()
	ctx := context.Background()
	// Nanoseconds, as CSAPI reports them; stores keep microseconds.
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Second).Add(123456789))
	sim := csapitest.NewServer(t, csapitest.Options{Organization: org, CallerEmail: connectorEmail, Clock: clk.Now})
	g, err := csapi.New(ctx, csapi.Config{
		Parent: org, CreateParent: project, ClassificationID: classification, TestCase: true,
		ConnectorEmail: connectorEmail, MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}, option.WithEndpoint(sim.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("csapi.New: %v", err)
	}
	crm := crmsim.New(crmsim.Options{Clock: clk.Now})
	q := &queue{}
	w := &world{t: t, ctx: ctx, clock: clk, google: sim, crm: crm, store: sk.new(t), queue: q}
	w.engine = &casesync.Engine{Google: g, CRM: crm, Store: w.store, Publisher: q, Clock: clk, Config: cfg}
	return w
}

// tick moves time on, as between two scheduler ticks; the simulators' update
// times are second-granular, so changes need time to be seen apart.
func (w *world) tick() { w.clock.Advance(2 * time.Second) }

// settle polls both sides and delivers every published event until nothing
// more is published, as the running system would.
func (w *world) settle() {
	w.t.Helper()
	for round := 0; round < 10; round++ {
		w.tick()
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			w.t.Fatalf("PollGoogle: %v", err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			w.t.Fatalf("PollCRM: %v", err)
		}
		refs := w.queue.take()
		if len(refs) == 0 {
			return
		}
		for _, ref := range refs {
			w.tick()
			_, err := w.engine.SyncCase(w.ctx, ref)
			switch {
			case casesync.IsTransient(err):
				// Redelivered, as Pub/Sub does.
				w.queue.PublishSyncRequested(w.ctx, ref)
			case err != nil:
				w.t.Fatalf("SyncCase(%+v): %v", ref, err)
			}
		}
	}
	w.t.Fatalf("the system did not settle after 10 rounds")
}

func (w *world) mapping(googleCase string) casesync.Mapping {
	w.t.Helper()
	m, _, err := w.store.ResolveMapping(w.ctx, googleCase, "", false, nil)
	if err != nil {
		w.t.Fatalf("mapping for %s: %v", googleCase, err)
	}
	return m
}

func (w *world) newGoogleCase(title, priority string) string {
	w.t.Helper()
	name, err := w.google.CreateCase(project, title, "Something is broken.", priority, customer)
	if err != nil {
		w.t.Fatalf("create Google case: %v", err)
	}
	return name
}

func (w *world) crmCase(googleCase string) crmsim.TicketState {
	w.t.Helper()
	m := w.mapping(googleCase)
	tk, ok := w.crm.Ticket(m.CompanyCaseID)
	if !ok {
		w.t.Fatalf("no CRM ticket %q for %s", m.CompanyCaseID, googleCase)
	}
	return tk
}

// crashAfter wraps a port so that one named call does its work and then
// fails as if the process died before recording it.
type crashAfter struct {
	mu   sync.Mutex
	op   string
	left int
}

var errCrash = &casesync.TransientError{Err: errors.New("injected crash after the side effect")}

func (c *crashAfter) hit(op string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op == c.op && c.left > 0 {
		c.left--
		return true
	}
	return false
}

type crashingCRM struct {
	casesync.CRM
	*crashAfter
}

func (c crashingCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	got, err := c.CRM.AddComment(ctx, id, body, public)
	if err == nil && c.hit("AddComment") {
		return casesync.Comment{}, errCrash
	}
	return got, err
}

// CreationLookupLag passes on the wrapped CRM's lag, if it has one.
func (c crashingCRM) CreationLookupLag() time.Duration {
	if l, ok := c.CRM.(casesync.CreationLookupLag); ok {
		return l.CreationLookupLag()
	}
	return 0
}

// laggingCRM is a CRM whose FindByGoogleCase does not see a case until lag
// after its creation, like a CRM that looks cases up through a search index.
type laggingCRM struct {
	casesync.CRM
	lag time.Duration
	now func() time.Time
}

func (c laggingCRM) CreationLookupLag() time.Duration { return c.lag }

func (c laggingCRM) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	got, ok, err := c.CRM.FindByGoogleCase(ctx, name)
	if ok && c.now().Sub(got.CreateTime) < c.lag {
		return casesync.CompanyCase{}, false, err
	}
	return got, ok, err
}

func (c crashingCRM) CreateCase(ctx context.Context, n casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	got, err := c.CRM.CreateCase(ctx, n)
	if err == nil && c.hit("CreateCase") {
		return casesync.CompanyCase{}, errCrash
	}
	return got, err
}

func (c crashingCRM) UploadAttachment(ctx context.Context, id, filename, mime string, r io.Reader) (casesync.Attachment, error) {
	got, err := c.CRM.UploadAttachment(ctx, id, filename, mime, r)
	if err == nil && c.hit("UploadAttachment") {
		return casesync.Attachment{}, errCrash
	}
	return got, err
}

type crashingGoogle struct {
	casesync.Google
	*crashAfter
}

func (c crashingGoogle) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	got, err := c.Google.AddComment(ctx, name, body)
	if err == nil && c.hit("AddComment") {
		return casesync.Comment{}, errCrash
	}
	return got, err
}

func (c crashingGoogle) CreateCase(ctx context.Context, n casesync.NewGoogleCase) (casesync.GoogleCase, error) {
	got, err := c.Google.CreateCase(ctx, n)
	if err == nil && c.hit("CreateCase") {
		return casesync.GoogleCase{}, errCrash
	}
	return got, err
}

func (c crashingGoogle) UploadAttachment(ctx context.Context, name, filename, mime string, r io.Reader) (casesync.Attachment, error) {
	got, err := c.Google.UploadAttachment(ctx, name, filename, mime, r)
	if err == nil && c.hit("UploadAttachment") {
		return casesync.Attachment{}, errCrash
	}
	return got, err
}
