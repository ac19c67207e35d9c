package casesync_test

// Tests from a review that tried to break the engine's outage notices, its
// one loop over the two sides and the skipping of refused items: each of
// the first three failed on the code as reviewed, because of a bug since
// fixed.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
)

// failFirstPostCRM fails, before writing anything, the first comment whose
// body contains substr, with a transient 503: a call that never reached
// the CRM.
type failFirstPostCRM struct {
	casesync.CRM
	substr string
	fired  *atomic.Bool
}

func (c failFirstPostCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if strings.Contains(body, c.substr) && c.fired.CompareAndSwap(false, true) {
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: "comments.add", Status: 503, Transient: true, Err: errors.New("unavailable")}
	}
	return c.CRM.AddComment(ctx, id, body, public)
}

// With the new-case reopen policy, the CRM case is told which new Google
// case it now syncs with. That notice is posted after LinkKey has moved the
// mapping to the new case and reset both closed flags
// (StartOverOnNewGoogleCase); a retry's reopen() then returns at once, as the
// new Google case is open, so a notice whose first post failed (or whose
// worker lost the lease at the new keepLease, or crashed) is never posted.
// It runs on every store: on Firestore, LinkKey once stored only part of
// the start over, leaving newCaseNoticeOwed unset.
func TestTheNewCaseNoticeIsPostedEvenIfItsFirstPostFails(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) {
			w := newWorldOn(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase}, sk)
			name := w.newGoogleCase("Reopen, notice fails once", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			if err := w.crm.HumanClose(id); err != nil {
				t.Fatal(err)
			}
			w.settle()
			fired := &atomic.Bool{}
			w.engine.CRM = failFirstPostCRM{CRM: w.engine.CRM, substr: "now syncs with this case", fired: fired}
			if err := w.crm.HumanReopen(id); err != nil {
				t.Fatal(err)
			}
			w.settle()
			w.settle()
			if !fired.Load() {
				t.Fatalf("the reopen notice was never attempted")
			}
			c, _ := w.crm.GetCase(w.ctx, id)
			if c.GoogleCase == name || c.GoogleCase == "" {
				t.Fatalf("CRM case links %q; want a new Google case", c.GoogleCase)
			}
			var got int
			for _, b := range bodiesOf(w.crmComments(id)) {
				if strings.Contains(b, "A new Google Cloud support case, "+c.GoogleCase+", now syncs with this case.") {
					got++
				}
			}
			if got != 1 {
				t.Errorf("the reopened CRM case got %d notices naming its new Google case %s, want 1", got, c.GoogleCase)
			}
		})
	}
}

// publicRepliesDeniedCRM is RT with a sync user that has CommentOnTicket
// but not ReplyToTicket: RT answers every public reply with 400
// "Permission Denied" (see shared/rt/client.go post), while internal
// notes go through. The refusal is about the sync user's rights, not
// about any one comment.
type publicRepliesDeniedCRM struct {
	casesync.CRM
	refused *atomic.Int64
}

func (c publicRepliesDeniedCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if public {
		c.refused.Add(1)
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: "correspond", Status: 400, Err: errors.New("Permission Denied")}
	}
	return c.CRM.AddComment(ctx, id, body, public)
}

// A 400 that says nothing about the item (the sync user may not reply
// publicly, so every public reply is refused while internal notes go
// through) skips nothing: a permission mistake must hold the case, failing
// where the operator sees it, not drop the customer's comments one after
// the other behind internal notes.
func TestA400ForEveryPublicReplySkipsNothing(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Reply right missing", "P3")
	w.settle()
	refused := &atomic.Int64{}
	w.engine.CRM = publicRepliesDeniedCRM{CRM: w.engine.CRM, refused: refused}
	for _, body := range []string{"first reply", "second reply", "third reply"} {
		if _, err := w.google.AddComment(name, body, aliceActor); err != nil {
			t.Fatal(err)
		}
		w.tick()
	}
	// Past the longest retry backoff each round, so every failed pass is
	// tried again.
	for range 12 {
		w.clock.Advance(61 * time.Minute)
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		for _, ref := range w.queue.take() {
			w.tick()
			_, _ = w.engine.SyncCase(w.ctx, ref)
		}
	}
	id := w.mapping(name).CompanyCaseID
	skipped := countWithPrefix(bodiesOf(w.crmComments(id)), "[casebridge: Google comment ")
	if skipped != 0 {
		t.Errorf("%d of the 3 Google comments were skipped (the CRM refused %d public replies, all with the same 400): "+
			"a refusal of every public reply is not about the item, and must not skip them one after the other", skipped, refused.Load())
	}
}

// listThenCRM lists the CRM's comments, then, once, lets during run before
// answering: a notice job whose listing call was slow.
type listThenCRM struct {
	casesync.CRM
	once   *sync.Once
	during func()
}

func (c listThenCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	cs, err := c.CRM.ListComments(ctx, id)
	c.once.Do(c.during)
	return cs, err
}

// A notice job posts without checking its lease (bringNotice has no
// keep before addComment, unlike every write of a reconciliation). When
// its lease runs out during a slow listing (renewals failing, as they do
// while the store is slow), another run's job takes the mapping, posts the
// outage notice and records it; the first job then posts a second outage
// notice from its stale listing.
func TestANoticeJobWhoseLeaseRanOutPostsNothing(t *testing.T) {
	w, name, id := outageOnlyOnGoogle(t, "Slow listing")
	var bErr error
	a := &casesync.Engine{Google: w.engine.Google, Store: w.store, Publisher: w.queue, Clock: w.clock,
		CRM: listThenCRM{CRM: w.engine.CRM, once: &sync.Once{}, during: func() {
			// The lease (30 s) runs out unrenewed; run B comes.
			w.clock.Advance(40 * time.Second)
			_, bErr = w.engine.DetectOutages(w.ctx)
		}}}
	if _, err := a.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("run A = %v, want ErrOutage", err)
	}
	if !errors.Is(bErr, casesync.ErrOutage) {
		t.Fatalf("run B = %v, want ErrOutage", bErr)
	}
	if diff := cmp.Diff([]string{"outage"}, notices(bodiesOf(w.crmComments(id)))); diff != "" {
		t.Errorf("notices on the CRM after two overlapping jobs (-want +got):\n%s", diff)
	}
	w.settle()
	for i := 0; i < 2; i++ {
		if _, err := w.engine.DetectOutages(w.ctx); err != nil {
			t.Fatalf("run %d after recovery: %v", i+1, err)
		}
	}
	w.checkNoticesEnded(name, id, []string{"outage", "resumed"}, []string{"outage", "resumed"})
}

// noteAnswerLostCRM writes the first skip note, then fails as if its
// answer was lost.
type noteAnswerLostCRM struct {
	casesync.CRM
	fired *atomic.Bool
}

func (c noteAnswerLostCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	got, err := c.CRM.AddComment(ctx, id, body, public)
	if err == nil && strings.HasPrefix(body, "[casebridge: ") && c.fired.CompareAndSwap(false, true) {
		return casesync.Comment{}, errCrash
	}
	return got, err
}

func TestTheSkipNoteIsPostedOnceWhenItsAnswerIsLost(t *testing.T) {
	w, name, refused := refusingWorld(t, "Refused reply, note answer lost", "POISON", 422)
	fired := &atomic.Bool{}
	w.engine.CRM = noteAnswerLostCRM{CRM: w.engine.CRM, fired: fired}
	// The refusing wrapper sits outside: it refuses the item, the inner
	// one loses the note's answer.
	w.engine.CRM = contentRefusingCRM{CRM: w.engine.CRM, marker: "POISON", status: 422, refused: refused}
	poison := w.poisonThenReply(name)
	w.runRounds(8)
	if !fired.Load() {
		t.Fatalf("the note's answer was never lost")
	}
	id := w.mapping(name).CompanyCaseID
	pid := poison[strings.LastIndex(poison, "/")+1:]
	coms := bodiesOf(w.crmComments(id))
	if n := countWithPrefix(coms, "[casebridge: Google comment "+pid+" not copied]"); n != 1 {
		t.Errorf("%d notes about the skipped comment, want 1", n)
	}
	if n := countContaining(coms, "the reply after it"); n != 1 {
		t.Errorf("%d copies of the reply after the skipped one, want 1", n)
	}
	if m := w.mapping(name); m.RefusedItem != "" || m.Attempts != 0 {
		t.Errorf("mapping: refused item %q, attempts %d; want cleared", m.RefusedItem, m.Attempts)
	}
}
