package casesync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// hookedCRM runs a hook inside chosen CRM calls, standing in for what other
// workers and people do while a call is in flight.
type hookedCRM struct {
	casesync.CRM
	mu       sync.Mutex
	onUpload func(filename string)
	onAdd    func(body string)
	onGet    func()
	onList   func()
}

func (c *hookedCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	cs, err := c.CRM.ListComments(ctx, id)
	c.mu.Lock()
	hook := c.onList
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return cs, err
}

func (c *hookedCRM) UploadAttachment(ctx context.Context, id, filename, mime string, r io.Reader) (casesync.Attachment, error) {
	a, err := c.CRM.UploadAttachment(ctx, id, filename, mime, r)
	c.mu.Lock()
	hook := c.onUpload
	c.mu.Unlock()
	if hook != nil {
		hook(filename)
	}
	return a, err
}

func (c *hookedCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	w, err := c.CRM.AddComment(ctx, id, body, public)
	c.mu.Lock()
	hook := c.onAdd
	c.mu.Unlock()
	if hook != nil {
		hook(body)
	}
	return w, err
}

func (c *hookedCRM) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	cc, err := c.CRM.GetCase(ctx, id)
	c.mu.Lock()
	hook := c.onGet
	c.mu.Unlock()
	if hook != nil {
		hook()
	}
	return cc, err
}

func (c *hookedCRM) set(f func(h *hookedCRM)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// A worker whose slow upload outlived its lease, while another worker took
// the mapping, did the work and let it go, must not carry on: its renewal
// is refused (the generation moved on) and it copies nothing twice.
func TestAWorkerThatLostItsLeaseWritesNothingMore(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	h := &hookedCRM{CRM: w.crm}
	w.engine.CRM = h
	name := w.newGoogleCase("Slow upload", "P3")
	w.settle()
	for _, f := range []string{"a.log", "b.log"} {
		if _, err := w.google.AddAttachment(name, f, "text/plain", []byte("bytes of "+f), csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
			t.Fatal(err)
		}
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	if len(refs) != 1 {
		t.Fatalf("published %d, want 1", len(refs))
	}
	var second error
	once := sync.Once{}
	h.set(func(h *hookedCRM) {
		h.onUpload = func(string) {
			once.Do(func() {
				// The first upload took longer than the lease; another
				// worker runs the whole reconciliation meanwhile.
				w.clock.Advance(time.Minute)
				other := *w.engine
				other.CRM = w.crm
				_, second = other.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name})
			})
		}
	})
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatalf("the first worker: %v, want nil (its work is carried on by the other)", err)
	}
	if second != nil {
		t.Fatalf("the second worker: %v", second)
	}
	h.set(func(h *hookedCRM) { h.onUpload = nil })
	w.settle()
	count := map[string]int{}
	for _, a := range w.crmCase(name).Attachments {
		count[a.Filename]++
	}
	for _, f := range []string{"a.log", "b.log"} {
		if count[f] != 1 {
			t.Errorf("the CRM has %d copies of %s, want 1", count[f], f)
		}
	}
}

// A delivery that finds the mapping leased is acknowledged, and the worker
// holding it looks again before it lets go, so the change it could not
// have seen is synced by that same run.
func TestADeliveryDuringARunIsPickedUpByTheRun(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	h := &hookedCRM{CRM: w.crm}
	w.engine.CRM = h
	name := w.newGoogleCase("Busy", "P3")
	w.settle()
	if _, err := w.google.AddComment(name, "first", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	var during casesync.SyncResult
	var duringErr error
	once := sync.Once{}
	h.set(func(h *hookedCRM) {
		h.onAdd = func(string) {
			once.Do(func() {
				w.clock.Advance(time.Second)
				if _, err := w.google.AddComment(name, "second", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
					t.Error(err)
				}
				g, _ := w.google.Case(name)
				upd, _ := time.Parse(time.RFC3339Nano, g.UpdateTime)
				during, duringErr = w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, UpdateTime: upd})
			})
		}
	})
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	if duringErr != nil || during.Skipped == "" {
		t.Errorf("the delivery during the run: %+v, %v; want it skipped without an error (no Pub/Sub retry)", during, duringErr)
	}
	id := w.mapping(name).CompanyCaseID
	bodies := bodiesOf(w.crmComments(id))
	for _, want := range []string{"first", "second"} {
		if n := countContaining(bodies, want); n != 1 {
			t.Errorf("the CRM has %d copies of %q after the one run, want 1", n, want)
		}
	}
	if m := w.mapping(name); m.RerunRequested || !m.DueAt.IsZero() {
		t.Errorf("after the run: rerun requested %v, due %v; want nothing outstanding", m.RerunRequested, m.DueAt)
	}
}

func countContaining(bodies []string, s string) int {
	n := 0
	for _, b := range bodies {
		if strings.HasSuffix(b, "\n\n"+s) {
			n++
		}
	}
	return n
}

// A worker that died holding the lease leaves the mapping due at the end of
// its lease: the next poll after that asks for it again.
func TestACrashedWorkersMappingSyncsAtTheNextPollAfterItsLease(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Crash", "P3")
	w.settle()
	m := w.mapping(name)
	if _, err := w.google.AddComment(name, "after the crash", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	// The worker that took this delivery died right after taking the lease;
	// Pub/Sub's redelivery finds the lease held and is acknowledged.
	if _, err := w.store.AcquireLease(w.ctx, m.ID, "dead-worker", w.clock.Now(), w.clock.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := w.engine.SyncCase(w.ctx, refs[0])
	if err != nil || res.Skipped == "" {
		t.Fatalf("redelivery: %+v, %v; want skipped without error", res, err)
	}
	// Polls inside the lease ask for nothing; the first after it does.
	w.clock.Advance(10 * time.Second)
	w.engine.PollGoogle(w.ctx)
	if got := w.queue.take(); len(got) != 0 {
		t.Fatalf("a poll while the dead lease runs published %v", got)
	}
	w.clock.Advance(25 * time.Second)
	res2, err := w.engine.PollCRM(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	refs = w.queue.take()
	if res2.Swept != 1 || len(refs) != 1 || refs[0].MappingID != m.ID {
		t.Fatalf("the poll after the lease ended: %+v, published %v; want the mapping asked for again", res2, refs)
	}
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	if n := countContaining(bodiesOf(w.crmComments(m.CompanyCaseID)), "after the crash"); n != 1 {
		t.Errorf("the CRM has %d copies of the comment, want 1", n)
	}
}

// A counterpart that cannot be created (the CRM refuses with 403 after a
// permission was revoked) is asked for again with backoff until it is, and
// not forever: after GiveUpAfter the sweep stops with an ERROR entry.
func TestACaseWhoseCounterpartFailsIsRetriedUntilCreatedOrGivenUp(t *testing.T) {
	t.Run("created once the permission is back", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpCreate, Status: 403})
		name := w.newGoogleCase("Forbidden for a while", "P3")
		errs := w.roundsErr(1)
		if len(errs) != 1 || casesync.IsTransient(errs[0]) {
			t.Fatalf("first attempt: %v; want one permanent error", errs)
		}
		m := w.mapping(name)
		if m.Attempts != 1 || m.DueAt.IsZero() || m.LastError == "" {
			t.Fatalf("after the failure: attempts %d, due %v, error %q; want it scheduled again", m.Attempts, m.DueAt, m.LastError)
		}
		// Forty minutes of refusals, polled every minute.
		for range 40 {
			w.clock.Advance(time.Minute)
			w.roundsErr(1)
		}
		if n := len(w.crm.Tickets()); n != 0 {
			t.Fatalf("the CRM has %d tickets while creation is refused", n)
		}
		attempts := w.mapping(name).Attempts
		if attempts < 4 || attempts > 10 {
			t.Errorf("%d attempts in 40 minutes; want a handful, backing off", attempts)
		}
		w.crm.ClearFaults()
		var created bool
		for range 60 {
			w.clock.Advance(time.Minute)
			w.roundsErr(1)
			if len(w.crm.Tickets()) > 0 {
				created = true
				break
			}
		}
		if !created {
			t.Fatalf("no CRM case within an hour of the permission coming back")
		}
		m = w.mapping(name)
		if !m.Linked() || m.Attempts != 0 || !m.DueAt.IsZero() {
			t.Errorf("after creation: linked %v, attempts %d, due %v; want linked with nothing outstanding", m.Linked(), m.Attempts, m.DueAt)
		}
		if n := len(w.crm.Tickets()); n != 1 {
			t.Errorf("the CRM has %d tickets, want 1", n)
		}
	})
	t.Run("given up with an alert after a day", func(t *testing.T) {
		var logs bytes.Buffer
		w := newWorld(t, casesync.Config{GiveUpAfter: 3 * time.Hour})
		w.engine.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpCreate, Status: 403})
		name := w.newGoogleCase("Forbidden for good", "P3")
		for range 5 * 60 / 10 {
			w.clock.Advance(10 * time.Minute)
			w.roundsErr(1)
		}
		m := w.mapping(name)
		if m.GaveUpAt.IsZero() || !m.DueAt.IsZero() {
			t.Fatalf("after five hours: gave up %v, due %v; want given up and no longer due", m.GaveUpAt, m.DueAt)
		}
		if n := strings.Count(logs.String(), casesync.GaveUpMessage); n != 1 {
			t.Errorf("%d %q entries, want 1", n, casesync.GaveUpMessage)
		}
		before := w.mapping(name).Attempts
		for range 6 {
			w.clock.Advance(time.Hour)
			w.roundsErr(1)
		}
		if after := w.mapping(name).Attempts; after != before {
			t.Errorf("attempts went from %d to %d after giving up; want no more", before, after)
		}
	})
}

// Pollers that run faster than the reconciliations ask for each change once.
func TestABacklogIsNotPublishedAgainOnEveryPoll(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	const n = 50
	for range n {
		w.newGoogleCase("Burst", "P3")
	}
	published := 0
	for range 5 {
		w.tick()
		res, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		published += res.Published + res.Swept
	}
	if published != n {
		t.Errorf("five polls before any reconciliation published %d, want %d (one per case)", published, n)
	}
	runs := 0
	for round := 0; round < 10; round++ {
		refs := w.queue.take()
		for _, ref := range refs {
			runs++
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
		w.tick()
		w.engine.PollGoogle(w.ctx)
		w.engine.PollCRM(w.ctx)
		if len(refs) == 0 {
			break
		}
	}
	if len(w.crm.Tickets()) != n {
		t.Errorf("the CRM has %d tickets, want %d", len(w.crm.Tickets()), n)
	}
	if float64(runs) > 1.5*n {
		t.Errorf("%d reconciliations for %d new cases, want at most %d", runs, n, n*3/2)
	}
}

// After the CRM was down, every mapping that waited is asked for by the
// first poll that reaches the CRM again, whatever its backoff.
func TestAfterAnOutageEverythingSyncsWithinTwoPolls(t *testing.T) {
	for _, outage := range []time.Duration{30 * time.Second, 2 * time.Minute, 15 * time.Minute} {
		t.Run(outage.String(), func(t *testing.T) {
			w := newWorld(t, casesync.Config{})
			var names []string
			for range 3 {
				names = append(names, w.newGoogleCase("Before", "P3"))
			}
			w.settle()
			w.crm.SetDown(true)
			start := w.clock.Now()
			for i := 0; w.clock.Now().Sub(start) < outage; i++ {
				if i%2 == 0 && i < 8 {
					if _, err := w.google.AddComment(names[i/2%3], fmt.Sprintf("during %d", i), csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
						t.Fatal(err)
					}
					names = append(names, w.newGoogleCase("During", "P3"))
				}
				w.clock.Advance(10 * time.Second)
				w.engine.PollGoogle(w.ctx)
				w.engine.PollCRM(w.ctx)
				// Failed deliveries are left to Pub/Sub's backoff, which
				// may well outlast the outage: they are dropped here.
				for _, ref := range w.queue.take() {
					w.engine.SyncCase(w.ctx, ref)
				}
			}
			w.crm.SetDown(false)
			for poll := 1; poll <= 2; poll++ {
				w.clock.Advance(10 * time.Second)
				w.engine.PollGoogle(w.ctx)
				w.engine.PollCRM(w.ctx)
				for _, ref := range w.queue.take() {
					if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
						t.Errorf("poll %d: %v", poll, err)
					}
				}
			}
			for _, name := range names {
				m := w.mapping(name)
				if !m.Linked() {
					t.Errorf("%s has no CRM case two polls after the outage", name)
					continue
				}
				if !m.DueAt.IsZero() {
					t.Errorf("%s still due at %v", name, m.DueAt)
				}
			}
			var got []string
			for _, name := range names[:3] {
				got = append(got, bodiesOf(w.crmComments(w.mapping(name).CompanyCaseID))...)
			}
			for i := 0; i < 8 && time.Duration(i)*10*time.Second < outage; i += 2 {
				if n := countContaining(got, fmt.Sprintf("during %d", i)); n != 1 {
					t.Errorf("the CRM has %d copies of comment %d, want 1", n, i)
				}
			}
		})
	}
}

// A CRM whose clock runs behind casebridge's: a reply in the same second as
// casebridge's read must still be seen (the read is dated by the CRM's own
// clock, from its answer).
func TestASameSecondReplyIsSeenWhenTheCRMsClockIsBehind(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	behind := crmsim.New(crmsim.Options{Clock: func() time.Time { return w.clock.Now().Add(-1500 * time.Millisecond) }})
	w.crm = behind
	h := &hookedCRM{CRM: behind}
	w.engine.CRM = h
	id := behind.CreateTicket(crmsim.Ticket{Subject: "Skewed", Description: "d", Priority: "normal", SyncFlag: true})
	w.settle()
	w.tick()
	// The reply, the poll and casebridge's read all fall in one CRM second.
	if _, err := behind.AddHumanComment(id, "Bob", "first reply", true); err != nil {
		t.Fatal(err)
	}
	w.engine.PollCRM(w.ctx)
	refs := w.queue.take()
	if len(refs) != 1 {
		t.Fatalf("published %d, want 1", len(refs))
	}
	once := sync.Once{}
	h.set(func(h *hookedCRM) {
		h.onList = func() {
			once.Do(func() {
				// In the same CRM second as the read of the case, after the
				// listing that read it was based on.
				if _, err := behind.AddHumanComment(id, "Bob", "same-second reply", true); err != nil {
					t.Error(err)
				}
			})
		}
	})
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	h.set(func(h *hookedCRM) { h.onList = nil })
	w.settle()
	m, _, err := w.store.ResolveMapping(w.ctx, "", id, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	bodies := w.googleBodies(m.GoogleCase)
	for _, want := range []string{"first reply", "same-second reply"} {
		if n := countContaining(bodies, want); n != 1 {
			t.Errorf("Google has %d copies of %q, want 1", n, want)
		}
	}
}

// The state of a mapping and the store operations of one reconciliation
// stay the same size however long its case grows: 5,000 comments each way,
// on the Firestore emulator.
func TestAMappingStaysTheSameSizeAsItsCaseGrows(t *testing.T) {
	w := newWorldOn(t, casesync.Config{}, storeKinds[1])
	fs, ok := w.store.(interface {
		Reads() int64
		Writes() int64
	})
	if !ok {
		t.Fatalf("the Firestore store does not count its operations")
	}
	name := w.newGoogleCase("Long case", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	const batches, perBatch = 10, 500
	type cost struct{ reads, writes int64 }
	var costs []cost
	var sizes, docBytes []int
	for b := range batches {
		for i := range perBatch {
			w.clock.Advance(100 * time.Millisecond)
			if _, err := w.google.AddComment(name, fmt.Sprintf("google %d-%d", b, i), csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.crm.AddHumanComment(id, "Bob", fmt.Sprintf("crm %d-%d", b, i), true); err != nil {
				t.Fatal(err)
			}
		}
		w.tick()
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		refs := w.queue.take()
		r0, w0 := fs.Reads(), fs.Writes()
		for _, ref := range refs {
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
		costs = append(costs, cost{fs.Reads() - r0, fs.Writes() - w0})
		w.settle()
		m := w.mapping(name)
		n := 0
		for _, l := range []casesync.ItemLog{m.Google.Items.Comments, m.Google.Items.Attachments, m.Company.Items.Comments, m.Company.Items.Attachments} {
			n += len(l.Done)
		}
		sizes = append(sizes, n)
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		docBytes = append(docBytes, len(js))
	}
	t.Logf("done entries after each batch: %v; mapping size in bytes (JSON): %v; store reads and writes of each batch's reconciliations: %v", sizes, docBytes, costs)
	// Each side's comment log keeps MaxDoneItems entries, plus the rest of
	// one CRM second (ten comments here), whose entries stay together.
	limit := 2 * (casesync.MaxDoneItems + 10)
	for b, n := range sizes {
		if n > limit {
			t.Errorf("after batch %d the mapping holds %d done entries, want at most %d", b+1, n, limit)
		}
	}
	for b := 1; b < batches; b++ {
		if docBytes[b] > docBytes[0]+docBytes[0]/20 {
			t.Errorf("after batch %d the mapping is %d bytes, after batch 1 %d; want it not to grow", b+1, docBytes[b], docBytes[0])
		}
	}
	for b := 2; b < batches; b++ {
		if costs[b] != costs[1] {
			t.Errorf("batch %d's reconciliations cost %+v store operations, batch 2's %+v; want the same", b+1, costs[b], costs[1])
		}
	}
	count := func(bodies []string, prefix string) map[string]int {
		out := map[string]int{}
		for _, b := range bodies {
			if i := strings.Index(b, "\n\n"+prefix); i >= 0 {
				out[b[i+2:]]++
			}
		}
		return out
	}
	onCRM := count(bodiesOf(w.crmComments(id)), "google ")
	onGoogle := count(w.googleBodies(name), "crm ")
	if len(onCRM) != batches*perBatch || len(onGoogle) != batches*perBatch {
		t.Errorf("mirrored %d Google comments and %d CRM comments, want %d each", len(onCRM), len(onGoogle), batches*perBatch)
	}
	for body, n := range onCRM {
		if n != 1 {
			t.Errorf("%q is on the CRM %d times", body, n)
		}
	}
	for body, n := range onGoogle {
		if n != 1 {
			t.Errorf("%q is on Google %d times", body, n)
		}
	}
}

// pushingPublisher hands each published change to sync-case before the
// publish call returns, as Pub/Sub's push may.
type pushingPublisher struct{ w *world }

func (p pushingPublisher) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	for _, ref := range refs {
		if _, err := p.w.engine.SyncCase(ctx, ref); err != nil {
			p.w.t.Errorf("SyncCase(%+v) during the publish: %v", ref, err)
		}
	}
	return nil
}

func (p pushingPublisher) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	return p.PublishCaseUpdated(ctx, []casesync.CaseRef{ref})
}

// A reconciliation that ends before the poller's publish returns leaves no
// pending mark behind, so the case's next change is published at once
// instead of waiting for the mark to go stale.
func TestAReconciliationFasterThanItsPublishLeavesNothingMarked(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Fast push", "P3")
	w.settle()
	w.engine.Publisher = pushingPublisher{w}
	id := w.mapping(name).CompanyCaseID
	for i, body := range []string{"first reply", "second reply"} {
		if _, err := w.google.AddComment(name, body, csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
			t.Fatal(err)
		}
		w.tick()
		res, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Published != 1 || res.Waiting != 0 {
			t.Errorf("poll %d: published %d, waiting %d; want the change published", i+1, res.Published, res.Waiting)
		}
		if m := w.mapping(name); !m.Google.PendingSince.IsZero() {
			t.Errorf("poll %d: the mapping is still marked pending since %v after its reconciliation", i+1, m.Google.PendingSince)
		}
		if n := countContaining(bodiesOf(w.crmComments(id)), body); n != 1 {
			t.Errorf("the CRM has %d copies of %q, want 1", n, body)
		}
	}
}
