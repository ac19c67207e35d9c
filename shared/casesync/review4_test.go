package casesync_test

// Tests from a review that tried to break three cost changes: mappings
// looked up by their case field, comments mirrored without listing the
// other side when every earlier write is recorded, and a Google change
// reconciled without reading the CRM case. The last two failed on the code
// as reviewed (the first documents what the operator's resync, fixed to
// name the mapping, relies on).

import (
	"strings"
	"sync/atomic"
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

// With the new-case reopen policy, the store's LinkKey starts the Google side
// over (StartOverOnNewGoogleCase), which sets NewCaseNoticeOwed so that a run
// whose notice post failed leaves the notice owed to the next run. The
// Firestore store's LinkKey applies StartOverOnNewGoogleCase to the mapping
// it returns but writes only some of its fields: newCaseNoticeOwed (and the
// Google side's read time and own writes) stay as they were, so on Firestore
// the notice whose first post failed is never posted.
// (TestTheNewCaseNoticeIsPostedEvenIfItsFirstPostFails runs on the in-memory
// store only.)
func TestReview4TheNewCaseNoticeIsPostedAfterAFailedPostOnEveryStore(t *testing.T) {
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
				t.Fatalf("the notice naming the new Google case was never attempted")
			}
			c, _ := w.crm.GetCase(w.ctx, id)
			if c.GoogleCase == name || c.GoogleCase == "" {
				t.Fatalf("CRM case links %q; want a new Google case", c.GoogleCase)
			}
			got := 0
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
