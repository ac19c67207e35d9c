package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// LinkKey of a new Google case starts the Google side over in the
// transaction that links it (casesync.StartOverOnNewGoogleCase): the mapping
// it returns has the new-case notice owed and no read time or own writes on
// the Google side. What a later read gets must be the same, or a run that
// fails before posting the notice leaves nothing owed, and the old case's
// read time and own writes are taken for the new case's.
func TestReview4LinkingANewGoogleCaseStoresWhatItReturns(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	m, _, err := s.ResolveMapping(ctx, "projects/p/cases/100", "C-1", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
		x.Google.Closed, x.Company.Closed, x.ResolvedAt = true, true, at
		x.Google.ReadAt, x.Google.OwnWrites = at, []string{"7", "8"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	linked, err := s.LinkKey(ctx, m.ID, casesync.SideGoogle, "projects/p/cases/200")
	if err != nil {
		t.Fatal(err)
	}
	if !linked.NewCaseNoticeOwed || !linked.Google.ReadAt.IsZero() || linked.Google.OwnWrites != nil {
		t.Fatalf("LinkKey returned notice owed %v, Google read at %v, own writes %v; want the Google side started over",
			linked.NewCaseNoticeOwed, linked.Google.ReadAt, linked.Google.OwnWrites)
	}
	stored, err := s.GetMapping(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.NewCaseNoticeOwed != linked.NewCaseNoticeOwed {
		t.Errorf("stored NewCaseNoticeOwed %v, LinkKey returned %v", stored.NewCaseNoticeOwed, linked.NewCaseNoticeOwed)
	}
	if !stored.Google.ReadAt.Equal(linked.Google.ReadAt) {
		t.Errorf("stored Google read time %v, LinkKey returned %v", stored.Google.ReadAt, linked.Google.ReadAt)
	}
	if len(stored.Google.OwnWrites) != len(linked.Google.OwnWrites) {
		t.Errorf("stored Google own writes %v, LinkKey returned %v", stored.Google.OwnWrites, linked.Google.OwnWrites)
	}
}
