package casesync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// More files copied to the CRM in one run than an item log keeps: a file a
// person attaches on the CRM meanwhile is still copied to Google.
func TestAPersonsFileSurvivesABurstOfCopies(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	h := &hookedCRM{CRM: w.crm}
	w.engine.CRM = h
	name := w.newGoogleCase("Many files", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	n := casesync.MaxDoneItems + 10
	for i := range n {
		w.clock.Advance(time.Second)
		if _, err := w.google.AddAttachment(name, fmt.Sprintf("g%d.txt", i), "text/plain", []byte{byte(i), 0, 1}, csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
			t.Fatal(err)
		}
	}
	uploads := 0
	h.set(func(h *hookedCRM) {
		h.onUpload = func(string) {
			uploads++
			w.clock.Advance(time.Second)
			if uploads == 5 {
				if _, err := w.crm.AddHumanAttachment(id, "Bob", "bob.png", "image/png", []byte("png")); err != nil {
					t.Error(err)
				}
			}
		}
	})
	w.settle()
	h.set(func(h *hookedCRM) { h.onUpload = nil })
	w.settle()
	got := 0
	for _, a := range w.google.Attachments(name) {
		if a.Filename == "bob.png" {
			got++
		}
	}
	if got != 1 {
		t.Errorf("Google has %d copies of the person's file, want 1", got)
	}
}

// A worker dies holding the lease; a change then comes on the other side.
// It syncs at the first poll after the lease ends, not RepublishAfter later.
func TestAChangeOnTheOtherSideOfADeadLeaseSyncsWhenTheLeaseEnds(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Dead lease", "P3")
	w.settle()
	m := w.mapping(name)
	if _, err := w.store.AcquireLease(w.ctx, m.ID, "dead-worker", w.clock.Now(), w.clock.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.crm.AddHumanComment(m.CompanyCaseID, "Bob", "while the lease is held", true); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Second)
	if _, err := w.engine.PollCRM(w.ctx); err != nil {
		t.Fatal(err)
	}
	for _, ref := range w.queue.take() {
		if res, err := w.engine.SyncCase(w.ctx, ref); err != nil || res.Skipped == "" {
			t.Fatalf("delivery during the dead lease: %+v, %v; want it acknowledged", res, err)
		}
	}
	for range 2 {
		w.clock.Advance(time.Minute)
		w.engine.PollGoogle(w.ctx)
		w.engine.PollCRM(w.ctx)
		for _, ref := range w.queue.take() {
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := countContaining(w.googleBodies(name), "while the lease is held"); n != 1 {
		t.Errorf("two polls after the lease ended Google has %d copies of the reply, want 1 (due %v)", n, w.mapping(name).DueAt)
	}
}

// saveHook runs a function once, inside the holder's first save (which
// reads the mapping in a transaction): another delivery arriving at that
// moment.
type saveHook struct {
	casesync.Store
	once sync.Once
	fn   func()
}

func (s *saveHook) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	s.once.Do(s.fn)
	return s.Store.UpdateMapping(ctx, id, fn)
}

// A delivery that finds the lease held while the holder saves is not lost:
// the save sees it asked for and the holder looks again (the lease is let
// go only in the holder's last save, so there is no moment after its last
// look when a request would find the lease still held).
func TestARerunRequestedAfterTheHoldersLastLookIsKept(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Late request", "P3")
	w.settle()
	m := w.mapping(name)
	if _, err := w.google.AddComment(name, "first", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	hook := &saveHook{Store: w.store}
	hook.fn = func() {
		if _, err := w.crm.AddHumanComment(m.CompanyCaseID, "Bob", "just before the release", true); err != nil {
			t.Error(err)
		}
		// The lease is still held: this delivery is acknowledged.
		res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{MappingID: m.ID})
		if err != nil || res.Skipped == "" {
			t.Errorf("the late delivery: %+v, %v; want it acknowledged", res, err)
		}
	}
	holder := *w.engine
	holder.Store = hook
	w.tick()
	if _, err := holder.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name}); err != nil {
		t.Fatal(err)
	}
	if got := w.mapping(name); got.LeaseHolder != "" || got.RerunRequested {
		t.Fatalf("after the run: lease holder %q, rerun %v; want the lease let go with nothing left asked for", got.LeaseHolder, got.RerunRequested)
	}
	if n := countContaining(w.googleBodies(name), "just before the release"); n != 1 {
		t.Errorf("after the holder's run Google has %d copies of the reply, want 1", n)
	}
	w.clock.Advance(time.Minute)
	w.rounds(1)
	if n := countContaining(w.googleBodies(name), "just before the release"); n != 1 {
		t.Errorf("a poll after the lease ended Google has %d copies of the reply, want 1", n)
	}
}

// failingPublisher fails its next n publishes.
type failingPublisher struct {
	casesync.Publisher
	n int
}

func (p *failingPublisher) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	if p.n > 0 {
		p.n--
		return errors.New("publish failed")
	}
	return p.Publisher.PublishCaseUpdated(ctx, refs)
}

// A publish that failed leaves nothing waiting on a message never sent:
// the change is asked for again by the next poll.
func TestAFailedPublishIsMadeUpByTheNextPoll(t *testing.T) {
	for _, newCase := range []bool{false, true} {
		t.Run(fmt.Sprintf("new case %v", newCase), func(t *testing.T) {
			w := newWorld(t, casesync.Config{})
			var name string
			if !newCase {
				name = w.newGoogleCase("Publish", "P3")
				w.settle()
				if _, err := w.google.AddComment(name, "after the failed publish", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
					t.Fatal(err)
				}
			}
			fp := &failingPublisher{Publisher: w.queue, n: 1}
			w.engine.Publisher = fp
			if newCase {
				name = w.newGoogleCase("Publish", "P3")
			}
			w.tick()
			if _, err := w.engine.PollGoogle(w.ctx); err == nil {
				t.Fatalf("the poll whose publish failed returned no error")
			}
			for range 2 {
				w.clock.Advance(time.Minute)
				w.rounds(1)
			}
			if newCase {
				if n := len(w.crm.Tickets()); n != 1 {
					t.Errorf("two polls after a failed publish the CRM has %d tickets, want 1", n)
				}
				return
			}
			if n := countContaining(bodiesOf(w.crmComments(w.mapping(name).CompanyCaseID)), "after the failed publish"); n != 1 {
				t.Errorf("two polls after a failed publish the CRM has %d copies, want 1", n)
			}
		})
	}
}

// The first poll that reaches a side again asks for every mapping with work
// outstanding, however many there are and whatever their backoff.
func TestTheRecoverySweepAsksForEveryWaitingMapping(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	const n = 520
	now := w.clock.Now()
	for i := range n {
		m, _, err := w.store.ResolveMapping(w.ctx, fmt.Sprintf("projects/p/cases/%d", 1000+i), fmt.Sprintf("C-%d", i), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.UpdateMapping(w.ctx, m.ID, func(x *casesync.Mapping) error {
			x.Attempts, x.DueAt = 5, now.Add(50*time.Minute)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.RecordPollFailure(w.ctx, casesync.SideCompany, now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	res, err := w.engine.PollCRM(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]bool{}
	for _, ref := range w.queue.take() {
		asked[ref.MappingID] = true
	}
	if res.Swept != n || len(asked) != n {
		t.Errorf("the first poll after the outage asked for %d (%d distinct) of %d waiting mappings", res.Swept, len(asked), n)
	}
}

// Giving up is said once: later changes to the case do not repeat it.
func TestGivingUpIsSaidOnce(t *testing.T) {
	var logs bytes.Buffer
	w := newWorld(t, casesync.Config{GiveUpAfter: 30 * time.Minute})
	w.engine.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpCreate, Status: 403})
	name := w.newGoogleCase("Given up", "P3")
	for i := range 12 {
		w.clock.Advance(10 * time.Minute)
		if i%3 == 0 {
			if _, err := w.google.AddComment(name, fmt.Sprintf("still there? %d", i), csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
				t.Fatal(err)
			}
		}
		w.roundsErr(1)
	}
	if n := strings.Count(logs.String(), casesync.GaveUpMessage); n != 1 {
		t.Errorf("%d %q entries in two hours, want 1", n, casesync.GaveUpMessage)
	}
}

// instantPublisher delivers what it publishes at once, before the poll
// that published it goes on: Pub/Sub can be that fast.
type instantPublisher struct {
	w *world
}

func (p instantPublisher) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	for _, ref := range refs {
		if _, err := p.w.engine.SyncCase(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

func (p instantPublisher) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	_, err := p.w.engine.SyncCase(ctx, ref)
	return err
}

// A reconciliation that finishes before the poll that asked for it has
// marked the change leaves nothing marked: the next change is published
// by the next poll, not held back as if still asked for.
func TestAReconciliationFasterThanItsPollLeavesNothingWaiting(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Fast", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	w.engine.Publisher = instantPublisher{w: w}
	for i, body := range []string{"first", "second"} {
		if _, err := w.crm.AddHumanComment(id, "Bob", body, true); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(5 * time.Second)
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		if n := countContaining(w.googleBodies(name), body); n != 1 {
			t.Fatalf("after poll %d Google has %d copies of %q, want 1 (pending %v, due %v)", i+1, n, body, w.mapping(name).Company.PendingSince, w.mapping(name).DueAt)
		}
	}
}

// Polls while a reconciliation runs do not publish its own writes: they
// would only queue runs that find nothing to do.
func TestPollsDuringARunDoNotPublishItsOwnWrites(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	h := &hookedCRM{CRM: w.crm}
	w.engine.CRM = h
	name := w.newGoogleCase("Busy", "P3")
	w.settle()
	if _, err := w.google.AddComment(name, "mirror me", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	published := 0
	once := sync.Once{}
	h.set(func(h *hookedCRM) {
		h.onAdd = func(string) {
			once.Do(func() {
				w.clock.Advance(2 * time.Second)
				g, _ := w.engine.PollGoogle(w.ctx)
				c, _ := w.engine.PollCRM(w.ctx)
				published = g.Published + c.Published + g.Swept + c.Swept
			})
		}
	})
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	if published != 0 {
		t.Errorf("polls during the run published %d, want 0 (the run's own writes)", published)
	}
	if n := countContaining(bodiesOf(w.crmComments(w.mapping(name).CompanyCaseID)), "mirror me"); n != 1 {
		t.Errorf("the CRM has %d copies, want 1", n)
	}
}
