package casesync_test

import (
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// The first pass of a reconciliation for a Google change that can only be
// comments or files does not read the CRM case, but takes it to be as the
// mapping last saw it. These tests change the CRM case without announcing
// it (no CRM poll, no webhook) and check that nothing done there is lost or
// overwritten.

// syncGoogleChange polls the Google side only and reconciles what it
// publishes, as a Google poll's messages are delivered before any CRM poll.
func (w *world) syncGoogleChange() {
	w.t.Helper()
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		w.t.Fatalf("PollGoogle: %v", err)
	}
	refs := w.queue.take()
	if len(refs) == 0 {
		w.t.Fatalf("the Google poll published nothing")
	}
	for _, ref := range refs {
		w.tick()
		if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
			w.t.Fatalf("SyncCase(%+v): %v", ref, err)
		}
	}
}

// linkedPair returns a settled pair at P3 (the CRM's "normal").
func linkedPair(t *testing.T, title string) (w *world, name, id string) {
	w = newWorld(t, casesync.Config{})
	name = w.newGoogleCase(title, "P3")
	w.settle()
	return w, name, w.mapping(name).CompanyCaseID
}

var alice = csapitest.Actor{DisplayName: "Alice", Email: customer}

func TestACRMPriorityChangeAGoogleCommentsPassDidNotReadIsCarriedBack(t *testing.T) {
	w, name, id := linkedPair(t, "CRM priority raised unannounced")
	if err := w.crm.SetHumanPriority(id, "urgent"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.google.AddComment(name, "Any news?", alice); err != nil {
		t.Fatal(err)
	}
	w.syncGoogleChange()
	// The pass that wrote the comment to the CRM read the CRM case next,
	// and found the priority a person set there.
	if g, _ := w.google.Case(name); g.Priority != "P1" {
		t.Errorf("Google priority %s after the reconciliation, want P1 from the CRM", g.Priority)
	}
	if n := countContaining(bodiesOf(w.crmComments(id)), "Any news?"); n != 1 {
		t.Errorf("%d copies of the Google comment in the CRM, want 1", n)
	}
}

func TestAGooglePriorityChangeIsNotWrittenOverAnUnreadCRMOne(t *testing.T) {
	w, name, id := linkedPair(t, "Both priorities changed")
	if err := w.crm.SetHumanPriority(id, "urgent"); err != nil {
		t.Fatal(err)
	}
	if err := w.google.SetPriority(name, "P2"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.google.AddComment(name, "Raised to P2.", alice); err != nil {
		t.Fatal(err)
	}
	w.syncGoogleChange()
	w.settle()
	// Both sides changed since they agreed on P3: the more urgent wins.
	g, _ := w.google.Case(name)
	tk, _ := w.crm.Ticket(id)
	if g.Priority != "P1" || tk.Priority != "urgent" {
		t.Errorf("Google %s, CRM %s; want P1 and urgent (the more urgent change wins)", g.Priority, tk.Priority)
	}
}

func TestACRMCaseClosedUnannouncedTakesTheCommentAndClosesGoogle(t *testing.T) {
	w, name, id := linkedPair(t, "CRM closed unannounced")
	if err := w.crm.HumanClose(id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.google.AddComment(name, "One more thing.", alice); err != nil {
		t.Fatal(err)
	}
	w.syncGoogleChange()
	w.settle()
	g, _ := w.google.Case(name)
	if g.State != "CLOSED" {
		t.Errorf("Google case %s, want CLOSED after the CRM case was closed", g.State)
	}
	if n := countContaining(bodiesOf(w.crmComments(id)), "One more thing."); n != 1 {
		t.Errorf("%d copies of the Google comment in the CRM, want 1", n)
	}
}

func TestACRMCaseTakenAsLastSeenIsNotRecordedAsRead(t *testing.T) {
	w, name, id := linkedPair(t, "CRM reply unannounced")
	before := w.mapping(name)
	// A person replies in the CRM; its webhook is on its way.
	w.tick()
	published := w.clock.Now()
	if _, err := w.crm.AddHumanComment(id, "Bob", "Reply from the CRM.", true); err != nil {
		t.Fatal(err)
	}
	// Google's case changes in a way that writes nothing to the CRM: its
	// update time moves, its state stays the one the CRM case shows.
	if err := w.google.SetState(name, "NEW"); err != nil {
		t.Fatal(err)
	}
	w.syncGoogleChange()
	after := w.mapping(name)
	if !after.Company.ReadAt.Equal(before.Company.ReadAt) || !after.Company.SeenUpdateTime.Equal(before.Company.SeenUpdateTime) {
		t.Fatalf("the CRM side's read time %v and seen update time %v moved (were %v, %v) though the pass did not read the CRM case",
			after.Company.ReadAt, after.Company.SeenUpdateTime, before.Company.ReadAt, before.Company.SeenUpdateTime)
	}
	// The webhook's message arrives: it must not be taken as covered.
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: id, EventTime: published})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Errorf("the CRM's message was skipped: %s", res.Skipped)
	}
	if n := countContaining(w.googleBodies(name), "Reply from the CRM."); n != 1 {
		t.Errorf("%d copies of the CRM reply on Google, want 1", n)
	}
}
