package casesync_test

// Tests from a review that tried to break three cost changes: mappings
// looked up by their case field, comments mirrored without listing the
// other side when every earlier write is recorded, and a Google change
// reconciled without reading the CRM case. It documents what the operator's
// resync, fixed to name the mapping, relies on; the Firestore LinkKey bug the
// review also found is covered by TestTheNewCaseNoticeIsPostedEvenIfItsFirstPostFails,
// now run on every store.

import (
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// operator resync asks for a case with a missed change reconciled both
// ways; it names the case's mapping (scripts/operator), because a message
// naming one case announces a change on that side, and a first pass may
// then take the other case to be as the mapping last saw it. A message
// naming only the mapping has both cases read: a CRM reply and priority
// change that no event announced are carried to Google.
func TestReview4AResyncNamingTheMappingReadsTheCRMCase(t *testing.T) {
	w, name, id := linkedPair(t, "Resync by the mapping")
	// A person answers in the CRM and raises the priority; the webhook and
	// poll that would have announced it were lost.
	w.tick()
	if _, err := w.crm.AddHumanComment(id, "Bob", "Reply no event announced.", true); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.SetHumanPriority(id, "urgent"); err != nil {
		t.Fatal(err)
	}
	w.tick()
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{MappingID: w.mapping(name).ID, EventTime: w.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Fatalf("the resync was skipped: %s", res.Skipped)
	}
	if n := countContaining(w.googleBodies(name), "Reply no event announced."); n != 1 {
		t.Errorf("%d copies of the CRM reply on Google after the resync, want 1", n)
	}
	if g, _ := w.google.Case(name); g.Priority != "P1" {
		t.Errorf("Google priority %s after the resync, want P1 from the CRM", g.Priority)
	}
}
