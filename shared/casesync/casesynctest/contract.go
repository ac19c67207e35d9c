package casesynctest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// RunStoreContract checks that a casesync.Store keeps the promises the
// engine relies on. newStore must return an empty store, isolated from the
// stores of other subtests (for Firestore: its own project or a reset
// database).
func RunStoreContract(t *testing.T, newStore func(t *testing.T) casesync.Store) {
	t.Helper()
	for _, tc := range contractCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tc.run(ctx, t, newStore(t))
		})
	}
}

type contractCase struct {
	name string
	run  func(ctx context.Context, t *testing.T, s casesync.Store)
}

// base is a fixed instant with sub-microsecond digits, to show that stores
// keep microseconds.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.UTC)

var contractCases = []contractCase{
	{"ResolveMapping creates a mapping with both keys when neither is known", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m, created, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", true, func(m *casesync.Mapping) {
			m.Origin = casesync.SideCompany
			m.CreatedAt = base
		})
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			t.Error("created = false for a new mapping")
		}
		if m.ID == "" {
			t.Fatal("new mapping has no ID")
		}
		want := casesync.Mapping{
			ID: m.ID, GoogleCase: "projects/p/cases/1001", CompanyCaseID: "C-1",
			Origin: casesync.SideCompany, CreatedAt: base.Truncate(time.Microsecond), Priority: casesync.PriorityUnspecified,
		}
		if diff := cmp.Diff(want, m); diff != "" {
			t.Errorf("returned mapping (-want +got):\n%s", diff)
		}
		got, err := s.GetMapping(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored mapping (-want +got):\n%s", diff)
		}
	}},
	{"ResolveMapping keeps the ID and keys even if init changes them", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m, _, err := s.ResolveMapping(ctx, "", "C-1", true, func(m *casesync.Mapping) {
			m.ID, m.GoogleCase, m.CompanyCaseID = "chosen-by-init", "projects/p/cases/9", "C-9"
		})
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == "chosen-by-init" || m.GoogleCase != "" || m.CompanyCaseID != "C-1" {
			t.Errorf("init changed identity: ID %q, GoogleCase %q, CompanyCaseID %q", m.ID, m.GoogleCase, m.CompanyCaseID)
		}
	}},
	{"ResolveMapping returns ErrNotFound when no mapping holds the keys and create is false", func(ctx context.Context, t *testing.T, s casesync.Store) {
		_, _, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", false, nil)
		if !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
		if n := countMappings(ctx, t, s); n != 0 {
			t.Errorf("%d mappings exist after a lookup without create, want 0", n)
		}
	}},
	{"ResolveMapping without any key is an error", func(ctx context.Context, t *testing.T, s casesync.Store) {
		if _, _, err := s.ResolveMapping(ctx, "", "", true, nil); err == nil {
			t.Error("no error for two empty keys")
		}
		if n := countMappings(ctx, t, s); n != 0 {
			t.Errorf("%d mappings exist, want 0", n)
		}
	}},
	{"ResolveMapping finds an existing mapping by either key and does not create", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		for _, keys := range [][2]string{
			{"projects/p/cases/1001", ""},
			{"", "C-1"},
			{"projects/p/cases/1001", "C-1"},
			{"projects/123456/cases/1001", ""}, // same case, parent as project number
		} {
			m, created, err := s.ResolveMapping(ctx, keys[0], keys[1], true, func(*casesync.Mapping) {
				t.Errorf("init called for keys %q, which have a mapping", keys)
			})
			if err != nil {
				t.Fatalf("keys %q: %v", keys, err)
			}
			if created {
				t.Errorf("keys %q: created = true", keys)
			}
			if diff := cmp.Diff(orig, m); diff != "" {
				t.Errorf("keys %q (-want +got):\n%s", keys, diff)
			}
		}
		if n := countMappings(ctx, t, s); n != 1 {
			t.Errorf("%d mappings, want 1", n)
		}
	}},
	{"ResolveMapping gives a mapping the free key of the other side", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "")
		m, created, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if created || m.ID != orig.ID || m.CompanyCaseID != "C-1" {
			t.Errorf("got created=%v ID %q CompanyCaseID %q, want false %q %q", created, m.ID, m.CompanyCaseID, orig.ID, "C-1")
		}
		byCompany, _, err := s.ResolveMapping(ctx, "", "C-1", false, nil)
		if err != nil {
			t.Fatalf("the gained key does not resolve: %v", err)
		}
		if byCompany.ID != orig.ID {
			t.Errorf("CRM case resolves to %q, want %q", byCompany.ID, orig.ID)
		}

		// And the other way round.
		orig2 := mustCreate(ctx, t, s, "", "C-2")
		m2, _, err := s.ResolveMapping(ctx, "projects/p/cases/1002", "C-2", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m2.ID != orig2.ID || m2.GoogleCase != "projects/p/cases/1002" {
			t.Errorf("got ID %q GoogleCase %q, want %q %q", m2.ID, m2.GoogleCase, orig2.ID, "projects/p/cases/1002")
		}
		stored, err := s.GetMapping(ctx, orig2.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.GoogleCase != "projects/p/cases/1002" {
			t.Errorf("stored GoogleCase %q, want the gained key", stored.GoogleCase)
		}
	}},
	{"ResolveMapping reports ErrConflict when the keys belong to two mappings", func(ctx context.Context, t *testing.T, s casesync.Store) {
		a := mustCreate(ctx, t, s, "projects/p/cases/1001", "")
		b := mustCreate(ctx, t, s, "", "C-1")
		_, _, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", true, nil)
		if !errors.Is(err, casesync.ErrConflict) {
			t.Errorf("error = %v, want ErrConflict", err)
		}
		for _, want := range []casesync.Mapping{a, b} {
			got, err := s.GetMapping(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("a conflict changed mapping %s (-want +got):\n%s", want.ID, diff)
			}
		}
	}},
	{"ResolveMapping reports ErrConflict when the mapping already holds another case of that side", func(ctx context.Context, t *testing.T, s casesync.Store) {
		a := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		_, _, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-2", true, nil)
		if !errors.Is(err, casesync.ErrConflict) {
			t.Errorf("error = %v, want ErrConflict", err)
		}
		if _, _, err := s.ResolveMapping(ctx, "", "C-2", false, nil); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("the refused key resolves: error = %v, want ErrNotFound", err)
		}
		got, err := s.GetMapping(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("mapping changed (-want +got):\n%s", diff)
		}
	}},
	{"ResolveMapping from 8 goroutines at once creates exactly one mapping", func(ctx context.Context, t *testing.T, s casesync.Store) {
		const n = 8
		type result struct {
			id      string
			created bool
			err     error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				m, created, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", true, nil)
				results[i] = result{m.ID, created, err}
			}()
		}
		close(start)
		wg.Wait()
		ids := map[string]bool{}
		createdCount := 0
		for i, r := range results {
			if r.err != nil {
				t.Errorf("goroutine %d: %v", i, r.err)
				continue
			}
			ids[r.id] = true
			if r.created {
				createdCount++
			}
		}
		if len(ids) != 1 || createdCount != 1 {
			t.Errorf("got %d distinct mappings and %d creations, want 1 and 1", len(ids), createdCount)
		}
		if got := countMappings(ctx, t, s); got != 1 {
			t.Errorf("%d mappings stored, want 1", got)
		}
	}},
	{"GetMapping of an unknown id returns ErrNotFound", func(ctx context.Context, t *testing.T, s casesync.Store) {
		if _, err := s.GetMapping(ctx, "no-such-mapping"); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	}},
	{"LookupMappings returns the mappings of known keys keyed as given", func(ctx context.Context, t *testing.T, s casesync.Store) {
		a := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		b := mustCreate(ctx, t, s, "projects/p/cases/1002", "")
		c := mustCreate(ctx, t, s, "", "C-3")

		google, err := s.LookupMappings(ctx, casesync.SideGoogle,
			[]string{"projects/p/cases/1001", "projects/42/cases/1002", "projects/p/cases/9999", ""})
		if err != nil {
			t.Fatal(err)
		}
		wantGoogle := map[string]casesync.Mapping{
			"projects/p/cases/1001":  a,
			"projects/42/cases/1002": b,
		}
		if diff := cmp.Diff(wantGoogle, google); diff != "" {
			t.Errorf("Google lookup (-want +got):\n%s", diff)
		}

		company, err := s.LookupMappings(ctx, casesync.SideCompany, []string{"C-1", "C-3", "C-404"})
		if err != nil {
			t.Fatal(err)
		}
		wantCompany := map[string]casesync.Mapping{"C-1": a, "C-3": c}
		if diff := cmp.Diff(wantCompany, company); diff != "" {
			t.Errorf("CRM lookup (-want +got):\n%s", diff)
		}

		none, err := s.LookupMappings(ctx, casesync.SideCompany, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(none) != 0 {
			t.Errorf("lookup of no keys returned %d mappings", len(none))
		}
	}},
	{"CRM case ids with slashes, percent signs and dots are keys like any other", func(ctx context.Context, t *testing.T, s casesync.Store) {
		keys := []string{"INC/2026/7", "50%", "..", ".", "__x__", "ÿ-ticket", "a b?c#d"}
		ids := map[string]string{}
		for _, k := range keys {
			ids[k] = mustCreate(ctx, t, s, "", k).ID
		}
		got, err := s.LookupMappings(ctx, casesync.SideCompany, keys)
		if err != nil {
			t.Fatal(err)
		}
		gotIDs := map[string]string{}
		for k, m := range got {
			gotIDs[k] = m.ID
			if m.CompanyCaseID != k {
				t.Errorf("key %q: mapping holds %q", k, m.CompanyCaseID)
			}
		}
		if diff := cmp.Diff(ids, gotIDs); diff != "" {
			t.Errorf("lookup by key (-want +got):\n%s", diff)
		}
	}},
	{"UpdateMapping stores and returns every field of the mapping", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		full := fullMapping(orig.ID, orig.GoogleCase, orig.CompanyCaseID)
		got, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			*m = full
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := truncated(full)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("returned mapping (-want +got):\n%s", diff)
		}
		stored, err := s.GetMapping(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, stored); diff != "" {
			t.Errorf("stored mapping (-want +got):\n%s", diff)
		}

		// Clearing every field clears it in the store too.
		cleared, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			*m = casesync.Mapping{ID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID, Priority: casesync.PriorityUnspecified}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, err = s.GetMapping(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantCleared := casesync.Mapping{ID: orig.ID, GoogleCase: orig.GoogleCase, CompanyCaseID: orig.CompanyCaseID, Priority: casesync.PriorityUnspecified}
		if diff := cmp.Diff(wantCleared, stored); diff != "" {
			t.Errorf("stored after clearing (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantCleared, cleared); diff != "" {
			t.Errorf("returned after clearing (-want +got):\n%s", diff)
		}
	}},
	{"UpdateMapping passes fn the stored mapping", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		if _, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			m.Google.Items.Comments.Done = append(m.Google.Items.Comments.Done, casesync.DoneItem{ID: "1", At: base})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			m.Google.Items.Comments.Done = append(m.Google.Items.Comments.Done, casesync.DoneItem{ID: "2"})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []casesync.DoneItem{{ID: "1", At: base.Truncate(time.Microsecond)}, {ID: "2"}}
		if diff := cmp.Diff(want, got.Google.Items.Comments.Done); diff != "" {
			t.Errorf("Google comments done (-want +got):\n%s", diff)
		}
	}},
	{"UpdateMapping writes nothing when fn returns an error", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		errStop := errors.New("stop")
		_, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			m.NewContentAt = base
			m.Priority = casesync.P1
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Errorf("error = %v, want fn's error", err)
		}
		got, err := s.GetMapping(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(orig, got); diff != "" {
			t.Errorf("mapping changed (-want +got):\n%s", diff)
		}
	}},
	{"UpdateMapping refuses to change the case keys", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		for _, change := range []func(*casesync.Mapping){
			func(m *casesync.Mapping) { m.GoogleCase = "projects/p/cases/2002" },
			func(m *casesync.Mapping) { m.CompanyCaseID = "C-2" },
			func(m *casesync.Mapping) { m.CompanyCaseID = "" },
		} {
			_, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
				change(m)
				m.ReopenNoticeSent = true
				return nil
			})
			if !errors.Is(err, casesync.ErrConflict) {
				t.Errorf("error = %v, want ErrConflict", err)
			}
		}
		got, err := s.GetMapping(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(orig, got); diff != "" {
			t.Errorf("mapping changed (-want +got):\n%s", diff)
		}
	}},
	{"UpdateMapping of an unknown id returns ErrNotFound", func(ctx context.Context, t *testing.T, s casesync.Store) {
		_, err := s.UpdateMapping(ctx, "no-such-mapping", func(*casesync.Mapping) error { return nil })
		if !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
		if n := countMappings(ctx, t, s); n != 0 {
			t.Errorf("%d mappings exist, want 0", n)
		}
	}},
	{"LinkKey gives a mapping a free key, which then resolves to it", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "")
		m, err := s.LinkKey(ctx, orig.ID, casesync.SideCompany, "C-1")
		if err != nil {
			t.Fatal(err)
		}
		if m.CompanyCaseID != "C-1" {
			t.Errorf("CompanyCaseID = %q, want C-1", m.CompanyCaseID)
		}
		got, _, err := s.ResolveMapping(ctx, "", "C-1", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != orig.ID {
			t.Errorf("C-1 resolves to %q, want %q", got.ID, orig.ID)
		}
		again, err := s.LinkKey(ctx, orig.ID, casesync.SideCompany, "C-1")
		if err != nil {
			t.Fatalf("linking the same key again: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Errorf("linking again changed the mapping (-want +got):\n%s", diff)
		}
	}},
	{"LinkKey of a key held by another mapping returns ErrConflict", func(ctx context.Context, t *testing.T, s casesync.Store) {
		a := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		b := mustCreate(ctx, t, s, "projects/p/cases/1002", "")
		if _, err := s.LinkKey(ctx, b.ID, casesync.SideCompany, "C-1"); !errors.Is(err, casesync.ErrConflict) {
			t.Errorf("CRM key: error = %v, want ErrConflict", err)
		}
		if _, err := s.LinkKey(ctx, b.ID, casesync.SideGoogle, "projects/777/cases/1001"); !errors.Is(err, casesync.ErrConflict) {
			t.Errorf("Google key in another parent form: error = %v, want ErrConflict", err)
		}
		for _, want := range []casesync.Mapping{a, b} {
			got, err := s.GetMapping(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mapping %s changed (-want +got):\n%s", want.ID, diff)
			}
		}
	}},
	{"LinkKey of a new Google case keeps the old one as previous and still resolving", func(ctx context.Context, t *testing.T, s casesync.Store) {
		orig := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		resolved := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		if _, err := s.UpdateMapping(ctx, orig.ID, func(m *casesync.Mapping) error {
			m.ResolvedAt, m.Google.Closed, m.Company.Closed = resolved, true, true
			m.Google.Items.Comments.Done, m.Google.SeenUpdateTime = []casesync.DoneItem{{ID: "1", At: resolved}}, resolved
			m.CreateIntentAt, m.CreateIntentSide = resolved, casesync.SideGoogle
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		m, err := s.LinkKey(ctx, orig.ID, casesync.SideGoogle, "projects/p/cases/2002")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetMapping(ctx, orig.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []casesync.Mapping{m, stored} {
			if !got.ResolvedAt.IsZero() || got.Google.Closed || got.Company.Closed || !cmp.Equal(got.Google.Items, casesync.SideItems{}) ||
				!got.Google.SeenUpdateTime.IsZero() || !got.CreateIntentAt.IsZero() || got.CreateIntentSide != "" {
				t.Errorf("after moving to a new Google case: resolved %v, closed %v/%v, Google items %v, seen %v, intent %v %q; want the Google side started over and the mapping open",
					got.ResolvedAt, got.Google.Closed, got.Company.Closed, got.Google.Items, got.Google.SeenUpdateTime, got.CreateIntentAt, got.CreateIntentSide)
			}
		}
		if m.GoogleCase != "projects/p/cases/2002" {
			t.Errorf("GoogleCase = %q, want the new case", m.GoogleCase)
		}
		if diff := cmp.Diff([]string{"projects/p/cases/1001"}, m.PreviousGoogleCases); diff != "" {
			t.Errorf("PreviousGoogleCases (-want +got):\n%s", diff)
		}
		for _, name := range []string{"projects/p/cases/1001", "projects/p/cases/2002"} {
			got, _, err := s.ResolveMapping(ctx, name, "", false, nil)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got.ID != orig.ID {
				t.Errorf("%s resolves to %q, want %q", name, got.ID, orig.ID)
			}
		}
	}},
	{"LinkKey of an unknown mapping returns ErrNotFound", func(ctx context.Context, t *testing.T, s casesync.Store) {
		if _, err := s.LinkKey(ctx, "no-such-mapping", casesync.SideCompany, "C-1"); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
		if _, _, err := s.ResolveMapping(ctx, "", "C-1", false, nil); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("the key was taken anyway: error = %v, want ErrNotFound", err)
		}
	}},
	{"AcquireLease follows holder and expiry rules", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		steps := []struct {
			desc    string
			holder  string
			now     time.Time
			until   time.Time
			wantErr error
		}{
			{"a free mapping is leased", "a", base, base.Add(2 * time.Minute), nil},
			{"another holder is refused while the lease runs", "b", base.Add(time.Minute), base.Add(3 * time.Minute), casesync.ErrLeaseHeld},
			{"the same holder renews", "a", base.Add(time.Minute), base.Add(4 * time.Minute), nil},
			{"another holder is still refused just before the renewed expiry", "b", base.Add(4*time.Minute - time.Millisecond), base.Add(5 * time.Minute), casesync.ErrLeaseHeld},
			{"another holder takes over at expiry", "b", base.Add(4 * time.Minute), base.Add(6 * time.Minute), nil},
		}
		wantHolder, wantUntil := "", time.Time{}
		for _, st := range steps {
			got, err := s.AcquireLease(ctx, m.ID, st.holder, st.now, st.until)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("%s: error = %v, want %v", st.desc, err, st.wantErr)
			}
			if err == nil {
				wantHolder, wantUntil = st.holder, st.until.Truncate(time.Microsecond)
				if got.LeaseHolder != wantHolder || !got.LeaseUntil.Equal(wantUntil) {
					t.Errorf("%s: returned lease %q until %v, want %q until %v", st.desc, got.LeaseHolder, got.LeaseUntil, wantHolder, wantUntil)
				}
			}
			stored, err := s.GetMapping(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.LeaseHolder != wantHolder || !stored.LeaseUntil.Equal(wantUntil) {
				t.Errorf("%s: stored lease %q until %v, want %q until %v", st.desc, stored.LeaseHolder, stored.LeaseUntil, wantHolder, wantUntil)
			}
		}
	}},
	{"MergeMapping moves a CRM case's only key to a Google case's mapping and deletes the CRM one, or refuses and changes nothing", func(ctx context.Context, t *testing.T, s casesync.Store) {
		crmOnly := mustCreate(ctx, t, s, "", "C-merge")
		googleOnly := mustCreate(ctx, t, s, "projects/p/cases/3001", "")
		both := mustCreate(ctx, t, s, "projects/p/cases/3002", "C-both")
		for _, tc := range []struct{ name, from, into string }{
			{"into a mapping that holds a CRM case", crmOnly.ID, both.ID},
			{"from a mapping that holds a Google case", both.ID, googleOnly.ID},
			{"from a Google case's mapping into a CRM case's", googleOnly.ID, crmOnly.ID},
		} {
			if _, err := s.MergeMapping(ctx, tc.from, tc.into); !errors.Is(err, casesync.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", tc.name, err)
			}
		}
		if _, err := s.MergeMapping(ctx, "no-such-mapping", googleOnly.ID); !casesync.IsNotFound(err) {
			t.Errorf("from a mapping that does not exist: %v, want ErrNotFound", err)
		}
		if m, _, err := s.ResolveMapping(ctx, "", "C-merge", false, nil); err != nil || m.ID != crmOnly.ID {
			t.Fatalf("after the refused merges the CRM case resolves to %q (%v), want %s", m.ID, err, crmOnly.ID)
		}

		merged, err := s.MergeMapping(ctx, crmOnly.ID, googleOnly.ID)
		if err != nil {
			t.Fatal(err)
		}
		if merged.ID != googleOnly.ID || merged.GoogleCase != "projects/p/cases/3001" || merged.CompanyCaseID != "C-merge" {
			t.Errorf("merged %+v, want mapping %s holding projects/p/cases/3001 and C-merge", merged, googleOnly.ID)
		}
		for _, key := range [][2]string{{"", "C-merge"}, {"projects/p/cases/3001", ""}} {
			if m, _, err := s.ResolveMapping(ctx, key[0], key[1], false, nil); err != nil || m.ID != googleOnly.ID || m.CompanyCaseID != "C-merge" {
				t.Errorf("case %q%q resolves to %q holding %q (%v), want %s holding C-merge", key[0], key[1], m.ID, m.CompanyCaseID, err, googleOnly.ID)
			}
		}
		if _, err := s.GetMapping(ctx, crmOnly.ID); !casesync.IsNotFound(err) {
			t.Errorf("the merged-from mapping: %v, want ErrNotFound", err)
		}
		if _, err := s.MergeMapping(ctx, crmOnly.ID, googleOnly.ID); !casesync.IsNotFound(err) {
			t.Errorf("the same merge again: %v, want ErrNotFound", err)
		}
	}},
	{"AcquireLease returns WritesRecorded as it was and clears it; a refused request leaves it", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1002", "C-2")
		if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error { x.WritesRecorded = true; return nil }); err != nil {
			t.Fatal(err)
		}
		a, err := s.AcquireLease(ctx, m.ID, "a", base, base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !a.WritesRecorded {
			t.Errorf("AcquireLease returned WritesRecorded false; want it as it was, true")
		}
		stored, err := s.GetMapping(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.WritesRecorded {
			t.Errorf("WritesRecorded still set in the store after a holder took the lease")
		}
		if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error { x.WritesRecorded = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, m.ID, "b", base.Add(time.Second), base.Add(time.Minute)); !errors.Is(err, casesync.ErrLeaseHeld) {
			t.Fatalf("another holder while the lease runs: %v, want ErrLeaseHeld", err)
		}
		if stored, err = s.GetMapping(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if !stored.WritesRecorded {
			t.Errorf("a refused request cleared WritesRecorded")
		}
	}},
	{"AcquireLease gives each new holder the next generation and records a refused request", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		a, err := s.AcquireLease(ctx, m.ID, "a", base, base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !a.DueAt.Equal(base.Add(time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("due %v after acquiring, want the lease's end %v", a.DueAt, base.Add(time.Minute))
		}
		again, err := s.AcquireLease(ctx, m.ID, "a", base, base.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if again.LeaseGeneration != a.LeaseGeneration {
			t.Errorf("the same holder again: generation %d, want %d unchanged", again.LeaseGeneration, a.LeaseGeneration)
		}
		if a.RerunRequested {
			t.Errorf("a fresh lease has a rerun requested")
		}
		if _, err := s.AcquireLease(ctx, m.ID, "b", base.Add(time.Second), base.Add(time.Minute)); !errors.Is(err, casesync.ErrLeaseHeld) {
			t.Fatalf("another holder while the lease runs: %v, want ErrLeaseHeld", err)
		}
		stored, err := s.GetMapping(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !stored.RerunRequested || stored.LeaseHolder != "a" {
			t.Errorf("after a refused acquisition: rerun %v, holder %q; want a rerun requested of holder a", stored.RerunRequested, stored.LeaseHolder)
		}
		if err := s.ReleaseLease(ctx, m.ID, "a"); err != nil {
			t.Fatal(err)
		}
		b, err := s.AcquireLease(ctx, m.ID, "b", base.Add(time.Second), base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if b.LeaseGeneration != a.LeaseGeneration+1 {
			t.Errorf("a new holder: generation %d, want %d", b.LeaseGeneration, a.LeaseGeneration+1)
		}
	}},
	{"RenewLease extends only the holder's own generation", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		a, err := s.AcquireLease(ctx, m.ID, "a", base, base.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.RenewLease(ctx, m.ID, "a", a.LeaseGeneration, base.Add(3*time.Minute))
		if err != nil {
			t.Fatalf("renewing a running lease: %v", err)
		}
		want := base.Add(3 * time.Minute).Truncate(time.Microsecond)
		if !r.LeaseUntil.Equal(want) || !r.DueAt.Equal(want) {
			t.Errorf("renewed until %v, due %v; want both %v", r.LeaseUntil, r.DueAt, want)
		}
		// a's lease runs out; b takes the mapping and lets it go again.
		if _, err := s.AcquireLease(ctx, m.ID, "b", base.Add(4*time.Minute), base.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseLease(ctx, m.ID, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RenewLease(ctx, m.ID, "a", a.LeaseGeneration, base.Add(6*time.Minute)); !errors.Is(err, casesync.ErrLeaseLost) {
			t.Errorf("renewing after another holder took and released the mapping: %v, want ErrLeaseLost", err)
		}
		c, err := s.AcquireLease(ctx, m.ID, "c", base.Add(6*time.Minute), base.Add(7*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RenewLease(ctx, m.ID, "c", c.LeaseGeneration-1, base.Add(8*time.Minute)); !errors.Is(err, casesync.ErrLeaseLost) {
			t.Errorf("renewing with an older generation: %v, want ErrLeaseLost", err)
		}
		if _, err := s.RenewLease(ctx, "no-such-mapping", "c", 1, base); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("renewing an unknown mapping: %v, want ErrNotFound", err)
		}
	}},
	{"ListDue lists due mappings earliest first and ClaimDue claims each once", func(ctx context.Context, t *testing.T, s casesync.Store) {
		var ms []casesync.Mapping
		for i := range 4 {
			ms = append(ms, mustCreate(ctx, t, s, fmt.Sprintf("projects/p/cases/10%d", i), fmt.Sprintf("C-%d", i)))
		}
		dues := []time.Time{base.Add(2 * time.Minute), base.Add(-time.Minute), {}, base.Add(time.Hour)}
		for i, m := range ms {
			if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
				x.DueAt = dues[i]
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(ms []casesync.Mapping) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		got, err := s.ListDue(ctx, time.Time{}, base.Add(5*time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{ms[1].ID, ms[0].ID}, ids(got)); diff != "" {
			t.Errorf("due by base+5m (-want +got):\n%s", diff)
		}
		if got, _ := s.ListDue(ctx, time.Time{}, base.Add(5*time.Minute), 1); len(got) != 1 || got[0].ID != ms[1].ID {
			t.Errorf("due with limit 1 = %v, want only the earliest", ids(got))
		}
		if got, _ := s.ListDue(ctx, base, base.Add(2*time.Hour), 10); len(got) != 2 || got[0].ID != ms[0].ID || got[1].ID != ms[3].ID {
			t.Errorf("due after base = %v, want the two due later, earliest first", ids(got))
		}
		// A running lease is not claimed.
		if _, err := s.AcquireLease(ctx, ms[3].ID, "w", base, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		next := base.Add(10 * time.Minute)
		all := []string{ms[0].ID, ms[1].ID, ms[2].ID, ms[3].ID, "no-such-mapping"}
		claimed, err := s.ClaimDue(ctx, all, base, base.Add(5*time.Minute), next)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(claimed)
		want := []string{ms[0].ID, ms[1].ID}
		sort.Strings(want)
		if diff := cmp.Diff(want, claimed); diff != "" {
			t.Errorf("claimed (-want +got):\n%s", diff)
		}
		again, err := s.ClaimDue(ctx, all, base, base.Add(5*time.Minute), next)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Errorf("claimed again: %v, want none (their due time moved to %v)", again, next)
		}
		m0, _ := s.GetMapping(ctx, ms[0].ID)
		if !m0.DueAt.Equal(next.Truncate(time.Microsecond)) {
			t.Errorf("claimed mapping due %v, want %v", m0.DueAt, next)
		}
	}},
	{"ClaimDue from 8 goroutines at once claims each mapping once", func(ctx context.Context, t *testing.T, s casesync.Store) {
		var ids []string
		for i := range 5 {
			m := mustCreate(ctx, t, s, fmt.Sprintf("projects/p/cases/20%d", i), fmt.Sprintf("C-2%d", i))
			if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
				x.DueAt = base
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		var mu sync.Mutex
		count := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.ClaimDue(ctx, ids, base, base, base.Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, id := range got {
					count[id]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if count[id] != 1 {
				t.Errorf("mapping %s claimed %d times, want once", id, count[id])
			}
		}
	}},
	{"RecordPollFailure keeps the first failure and RecordPoll clears it", func(ctx context.Context, t *testing.T, s casesync.Store) {
		if err := s.RecordPollFailure(ctx, casesync.SideCompany, base); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordPollFailure(ctx, casesync.SideCompany, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		st, err := s.GetPollState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.CompanyFailingSince.Equal(base.Truncate(time.Microsecond)) || !st.GoogleFailingSince.IsZero() {
			t.Errorf("failing since: CRM %v, Google %v; want %v and none", st.CompanyFailingSince, st.GoogleFailingSince, base)
		}
		if err := s.RecordPoll(ctx, casesync.SideCompany, base.Add(2*time.Minute), base.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		st, err = s.GetPollState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.CompanyFailingSince.IsZero() {
			t.Errorf("after a successful poll the CRM side is failing since %v, want not failing", st.CompanyFailingSince)
		}
		if err := s.RecordPollFailure(ctx, casesync.Side("nowhere"), base); err == nil {
			t.Errorf("an invalid side was accepted")
		}
	}},
	{"AcquireLease of an unknown mapping returns ErrNotFound", func(ctx context.Context, t *testing.T, s casesync.Store) {
		if _, err := s.AcquireLease(ctx, "no-such-mapping", "a", base, base.Add(time.Minute)); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	}},
	{"AcquireLease from 8 goroutines at once has exactly one winner", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.AcquireLease(ctx, m.ID, fmt.Sprintf("worker-%d", i), base, base.Add(time.Minute))
			}()
		}
		close(start)
		wg.Wait()
		winner := ""
		for i, err := range errs {
			switch {
			case err == nil:
				if winner != "" {
					t.Errorf("both %s and worker-%d acquired the lease", winner, i)
				}
				winner = fmt.Sprintf("worker-%d", i)
			case !errors.Is(err, casesync.ErrLeaseHeld):
				t.Errorf("worker-%d: error = %v, want nil or ErrLeaseHeld", i, err)
			}
		}
		if winner == "" {
			t.Fatal("nobody acquired the lease")
		}
		stored, err := s.GetMapping(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.LeaseHolder != winner {
			t.Errorf("stored holder %q, want the winner %q", stored.LeaseHolder, winner)
		}
	}},
	{"ReleaseLease ends the holder's lease and leaves another holder's alone", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		if _, err := s.AcquireLease(ctx, m.ID, "a", base, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseLease(ctx, m.ID, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, m.ID, "b", base, base.Add(time.Minute)); !errors.Is(err, casesync.ErrLeaseHeld) {
			t.Errorf("after a release by another holder: error = %v, want ErrLeaseHeld", err)
		}
		if err := s.ReleaseLease(ctx, m.ID, "a"); err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetMapping(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.LeaseHolder != "" || !stored.LeaseUntil.IsZero() {
			t.Errorf("after release: lease %q until %v, want none", stored.LeaseHolder, stored.LeaseUntil)
		}
		if _, err := s.AcquireLease(ctx, m.ID, "b", base, base.Add(time.Minute)); err != nil {
			t.Errorf("after the holder's release: %v", err)
		}
	}},
	{"MarkPending sets the side's pending time only where it is unset", func(ctx context.Context, t *testing.T, s casesync.Store) {
		a := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		b := mustCreate(ctx, t, s, "projects/p/cases/1002", "C-2")
		c := mustCreate(ctx, t, s, "projects/p/cases/1003", "C-3")
		earlier := base.Add(-time.Hour)
		if _, err := s.UpdateMapping(ctx, b.ID, func(m *casesync.Mapping) error {
			m.Google.PendingSince = earlier
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPending(ctx, casesync.SideGoogle, []string{a.ID, b.ID, "no-such-mapping"}, base, base.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		us := base.Truncate(time.Microsecond)
		want := map[string][2]time.Time{
			a.ID: {us, {}},
			b.ID: {earlier.Truncate(time.Microsecond), {}},
			c.ID: {{}, {}},
		}
		got := map[string][2]time.Time{}
		for id := range want {
			m, err := s.GetMapping(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got[id] = [2]time.Time{m.Google.PendingSince, m.Company.PendingSince}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pending times [Google, CRM] (-want +got):\n%s", diff)
		}
		if err := s.MarkPending(ctx, casesync.SideCompany, []string{a.ID}, base.Add(time.Minute), base.Add(6*time.Minute)); err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMapping(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Google.PendingSince.Equal(us) || !m.Company.PendingSince.Equal(us.Add(time.Minute)) {
			t.Errorf("after marking the CRM side: Google %v, CRM %v; want %v, %v", m.Google.PendingSince, m.Company.PendingSince, us, us.Add(time.Minute))
		}
		if !m.DueAt.Equal(us.Add(5 * time.Minute)) {
			t.Errorf("after marking the CRM side: due %v, want %v (an earlier due time still to come stays)", m.DueAt, us.Add(5*time.Minute))
		}
		if err := s.MarkPending(ctx, casesync.SideCompany, []string{a.ID}, base.Add(10*time.Minute), base.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.GetMapping(ctx, a.ID); !m.DueAt.Equal(us.Add(15 * time.Minute)) {
			t.Errorf("marked after its due time passed: due %v, want %v", m.DueAt, us.Add(15*time.Minute))
		}
		if bm, _ := s.GetMapping(ctx, b.ID); !bm.DueAt.Equal(us.Add(5 * time.Minute)) {
			t.Errorf("a mapping already pending: due %v, want %v (marking sets the due time)", bm.DueAt, us.Add(5*time.Minute))
		}
		if err := s.MarkPending(ctx, casesync.SideCompany, nil, base, base); err != nil {
			t.Errorf("marking no mappings: %v", err)
		}
	}},
	{"ListMappings visits every mapping, open and resolved, and stops at fn's error", func(ctx context.Context, t *testing.T, s casesync.Store) {
		want := []string{}
		for i := range 3 {
			m := mustCreate(ctx, t, s, "", fmt.Sprintf("C-%d", i))
			want = append(want, m.ID)
		}
		if _, err := s.UpdateMapping(ctx, want[1], func(m *casesync.Mapping) error {
			m.ResolvedAt = base
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := s.ListMappings(ctx, func(m casesync.Mapping) error {
			got = append(got, m.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}

		errStop := errors.New("stop")
		calls := 0
		err := s.ListMappings(ctx, func(casesync.Mapping) error {
			calls++
			return errStop
		})
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("got error %v after %d calls, want fn's error after 1", err, calls)
		}
	}},
	{"ListResolvedBefore returns only mappings resolved before the time", func(ctx context.Context, t *testing.T, s casesync.Store) {
		resolve := func(key string, at time.Time) string {
			m := mustCreate(ctx, t, s, "", key)
			if at.IsZero() {
				return m.ID
			}
			if _, err := s.UpdateMapping(ctx, m.ID, func(m *casesync.Mapping) error {
				m.ResolvedAt = at
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		old := resolve("C-old", base.Add(-40*24*time.Hour))
		older := resolve("C-older", base.Add(-50*24*time.Hour))
		resolve("C-open", time.Time{})
		resolve("C-recent", base.Add(-time.Hour))
		// Stores keep microseconds, so a cutoff with nanoseconds would make
		// "at the cutoff" ambiguous.
		cutoff := base.Truncate(time.Microsecond).Add(-30 * 24 * time.Hour)
		resolve("C-at-cutoff", cutoff)

		got, err := s.ListResolvedBefore(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{old, older}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	}},
	{"DeleteMapping removes the mapping and frees its keys", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/1001", "C-1")
		if _, err := s.LinkKey(ctx, m.ID, casesync.SideGoogle, "projects/p/cases/2002"); err != nil {
			t.Fatal(err)
		}
		keep := mustCreate(ctx, t, s, "projects/p/cases/3003", "C-3")
		if err := s.DeleteMapping(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetMapping(ctx, m.ID); !errors.Is(err, casesync.ErrNotFound) {
			t.Errorf("GetMapping after delete: error = %v, want ErrNotFound", err)
		}
		for _, keys := range [][2]string{{"projects/p/cases/1001", ""}, {"projects/p/cases/2002", ""}, {"", "C-1"}} {
			if _, _, err := s.ResolveMapping(ctx, keys[0], keys[1], false, nil); !errors.Is(err, casesync.ErrNotFound) {
				t.Errorf("keys %q after delete: error = %v, want ErrNotFound", keys, err)
			}
		}
		fresh, created, err := s.ResolveMapping(ctx, "projects/p/cases/1001", "C-1", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !created || fresh.ID == m.ID {
			t.Errorf("re-resolving the freed keys: created=%v ID %q, want a new mapping", created, fresh.ID)
		}
		got, err := s.GetMapping(ctx, keep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(keep, got); diff != "" {
			t.Errorf("another mapping changed (-want +got):\n%s", diff)
		}
		if err := s.DeleteMapping(ctx, m.ID); err != nil {
			t.Errorf("deleting a deleted mapping: %v", err)
		}
	}},
	{"GetPollState is zero before any poll", func(ctx context.Context, t *testing.T, s casesync.Store) {
		got, err := s.GetPollState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(casesync.PollState{}, got); diff != "" {
			t.Errorf("poll state (-want +got):\n%s", diff)
		}
	}},
	{"RecordPoll sets one side's times without clobbering the other side", func(ctx context.Context, t *testing.T, s casesync.Store) {
		us := base.Truncate(time.Microsecond)
		steps := []struct {
			side      casesync.Side
			last, hb  time.Time
			wantState casesync.PollState
		}{
			{casesync.SideGoogle, base, base.Add(time.Second), casesync.PollState{
				GoogleLastPolledAt: us, GoogleHeartbeat: us.Add(time.Second)}},
			{casesync.SideCompany, base.Add(time.Minute), base.Add(time.Minute + time.Second), casesync.PollState{
				GoogleLastPolledAt: us, GoogleHeartbeat: us.Add(time.Second),
				CompanyLastPolledAt: us.Add(time.Minute), CompanyHeartbeat: us.Add(time.Minute + time.Second)}},
			{casesync.SideGoogle, base.Add(2 * time.Minute), base.Add(2*time.Minute + time.Second), casesync.PollState{
				GoogleLastPolledAt: us.Add(2 * time.Minute), GoogleHeartbeat: us.Add(2*time.Minute + time.Second),
				CompanyLastPolledAt: us.Add(time.Minute), CompanyHeartbeat: us.Add(time.Minute + time.Second)}},
		}
		for i, st := range steps {
			if err := s.RecordPoll(ctx, st.side, st.last, st.hb); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetPollState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(st.wantState, got); diff != "" {
				t.Errorf("after poll %d of %s (-want +got):\n%s", i+1, st.side, diff)
			}
		}
	}},
	{"the poll memo of each side is kept whole and replaced whole", func(ctx context.Context, t *testing.T, s casesync.Store) {
		us := base.Truncate(time.Microsecond)
		for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
			got, err := s.GetPollMemo(ctx, side)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Cases) != 0 {
				t.Errorf("%s poll memo before any poll: %+v, want empty", side, got)
			}
		}
		google := casesync.PollMemo{Cases: map[string]time.Time{"projects/p/cases/9": base, "organizations/1/cases/10": base.Add(time.Second)}, Recheck: true}
		company := casesync.PollMemo{Cases: map[string]time.Time{"C-7": base.Add(time.Minute)}}
		if err := s.SavePollMemo(ctx, casesync.SideGoogle, google); err != nil {
			t.Fatal(err)
		}
		if err := s.SavePollMemo(ctx, casesync.SideCompany, company); err != nil {
			t.Fatal(err)
		}
		want := map[casesync.Side]casesync.PollMemo{
			casesync.SideGoogle:  {Cases: map[string]time.Time{"projects/p/cases/9": us, "organizations/1/cases/10": us.Add(time.Second)}, Recheck: true},
			casesync.SideCompany: {Cases: map[string]time.Time{"C-7": us.Add(time.Minute)}},
		}
		check := func(when string) {
			t.Helper()
			for side, w := range want {
				got, err := s.GetPollMemo(ctx, side)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(w, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: %s poll memo (-want +got):\n%s", when, side, diff)
				}
			}
		}
		check("after saving both")
		replaced := casesync.PollMemo{Cases: map[string]time.Time{"projects/p/cases/11": base.Add(2 * time.Second)}}
		if err := s.SavePollMemo(ctx, casesync.SideGoogle, replaced); err != nil {
			t.Fatal(err)
		}
		want[casesync.SideGoogle] = casesync.PollMemo{Cases: map[string]time.Time{"projects/p/cases/11": us.Add(2 * time.Second)}}
		check("after replacing Google's")
		if err := s.SavePollMemo(ctx, casesync.SideCompany, casesync.PollMemo{}); err != nil {
			t.Fatal(err)
		}
		want[casesync.SideCompany] = casesync.PollMemo{}
		check("after emptying the CRM's")
	}},
	{"refusals are counted per case and kind and listed newest first", func(ctx context.Context, t *testing.T, s casesync.Store) {
		us := base.Truncate(time.Microsecond)
		field := casesync.Refusal{Side: casesync.SideCompany, CaseID: "C-7", Kind: casesync.RefusedFieldMalformed, Reason: "first reason"}
		line := casesync.Refusal{Side: casesync.SideGoogle, CaseID: "projects/p/cases/9", Kind: casesync.RefusedLinkedCaseNotFlagged, Reason: "line"}
		for i, f := range []casesync.Refusal{field, line, {Side: field.Side, CaseID: field.CaseID, Kind: field.Kind, Reason: "second reason"}} {
			if _, err := s.RecordRefusal(ctx, f, base.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.ListRefusals(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []casesync.Refusal{
			{Side: field.Side, CaseID: "C-7", Kind: field.Kind, Reason: "second reason", First: us, Last: us.Add(2 * time.Minute), Count: 2},
			{Side: line.Side, CaseID: line.CaseID, Kind: line.Kind, Reason: "line", First: us.Add(time.Minute), Last: us.Add(time.Minute), Count: 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListRefusals (-want +got):\n%s", diff)
		}
		if top, err := s.ListRefusals(ctx, 1); err != nil || len(top) != 1 || top[0].CaseID != "C-7" {
			t.Errorf("ListRefusals(limit 1) = %v, %v; want the newest record alone", top, err)
		}
	}},
	{"DeleteResolvedBefore deletes only a mapping still resolved before the time, not leased and with nothing pending", func(ctx context.Context, t *testing.T, s casesync.Store) {
		us := base.Truncate(time.Microsecond)
		before, now := us.Add(-30*24*time.Hour), us
		old := before.Add(-time.Hour)
		tests := []struct {
			name string
			// change runs between the listing and the deletion.
			change      func(t *testing.T, m casesync.Mapping)
			resolvedAt  time.Time
			wantDeleted bool
		}{
			{"a mapping resolved before the time is deleted", nil, old, true},
			{"a mapping resolved at the time is kept", nil, before, false},
			{"an open mapping is kept", nil, time.Time{}, false},
			{"a mapping reopened on a new Google case is kept", func(t *testing.T, m casesync.Mapping) {
				if _, err := s.LinkKey(ctx, m.ID, casesync.SideGoogle, "projects/p/cases/"+m.CompanyCaseID[2:]+"99"); err != nil {
					t.Fatal(err)
				}
			}, old, false},
			{"a mapping whose ResolvedAt was cleared is kept", func(t *testing.T, m casesync.Mapping) {
				if _, err := s.UpdateMapping(ctx, m.ID, func(m *casesync.Mapping) error { m.ResolvedAt = time.Time{}; return nil }); err != nil {
					t.Fatal(err)
				}
			}, old, false},
			{"a mapping leased by a running reconciliation is kept", func(t *testing.T, m casesync.Mapping) {
				if _, err := s.AcquireLease(ctx, m.ID, "worker-1", now.Add(-time.Second), now.Add(time.Second)); err != nil {
					t.Fatal(err)
				}
			}, old, false},
			{"a mapping whose lease ran out at now is deleted", func(t *testing.T, m casesync.Mapping) {
				if _, err := s.AcquireLease(ctx, m.ID, "worker-1", now.Add(-time.Minute), now); err != nil {
					t.Fatal(err)
				}
			}, old, true},
			{"a mapping with a change pending is kept", func(t *testing.T, m casesync.Mapping) {
				if err := s.MarkPending(ctx, casesync.SideCompany, []string{m.ID}, now, now.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}, old, false},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				g, c := fmt.Sprintf("projects/p/cases/%d", 5000+i), fmt.Sprintf("C-%d", 5000+i)
				m := mustCreate(ctx, t, s, g, c)
				m, err := s.UpdateMapping(ctx, m.ID, func(m *casesync.Mapping) error { m.ResolvedAt = tc.resolvedAt; return nil })
				if err != nil {
					t.Fatal(err)
				}
				if tc.change != nil {
					tc.change(t, m)
				}
				deleted, err := s.DeleteResolvedBefore(ctx, m.ID, before, now)
				if err != nil {
					t.Fatal(err)
				}
				if deleted != tc.wantDeleted {
					t.Errorf("deleted = %v, want %v", deleted, tc.wantDeleted)
				}
				_, gerr := s.GetMapping(ctx, m.ID)
				_, _, kerr := s.ResolveMapping(ctx, g, "", false, nil)
				_, _, cerr := s.ResolveMapping(ctx, "", c, false, nil)
				for what, err := range map[string]error{"the mapping": gerr, "its Google key": kerr, "its CRM key": cerr} {
					if gone := errors.Is(err, casesync.ErrNotFound); gone != tc.wantDeleted {
						t.Errorf("%s: error %v; want gone = %v", what, err, tc.wantDeleted)
					}
				}
			})
		}
		t.Run("a mapping that does not exist is not deleted and is no error", func(t *testing.T) {
			deleted, err := s.DeleteResolvedBefore(ctx, "no-such-mapping", before, now)
			if deleted || err != nil {
				t.Errorf("DeleteResolvedBefore = %v, %v; want false, nil", deleted, err)
			}
		})
	}},
	{"DeleteResolvedBefore from 8 goroutines at once deletes the mapping once", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/6001", "C-6001")
		if _, err := s.UpdateMapping(ctx, m.ID, func(m *casesync.Mapping) error { m.ResolvedAt = base.Add(-40 * 24 * time.Hour); return nil }); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var wins int
		var errs []error
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var deleted bool
				var err error
				for {
					deleted, err = s.DeleteResolvedBefore(ctx, m.ID, base.Add(-30*24*time.Hour), base)
					if !casesync.IsTransient(err) {
						break
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if deleted {
					wins++
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 || wins != 1 {
			t.Errorf("%d goroutines deleted the mapping, errors %v; want exactly one, no errors", wins, errs)
		}
	}},
	{"refusals keep the newest refused update time, which RefusedAt reads per case over its side's kinds", func(ctx context.Context, t *testing.T, s casesync.Store) {
		us := base.Truncate(time.Microsecond)
		record := func(side casesync.Side, id string, kind casesync.RefusalKind, updated time.Time) casesync.Refusal {
			t.Helper()
			r, err := s.RecordRefusal(ctx, casesync.Refusal{Side: side, CaseID: id, Kind: kind, Reason: "why", CaseUpdateTime: updated}, base)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		company := casesync.SideCompany
		// A later refusal of an older read does not move the time back; one
		// with no known time keeps it.
		record(company, "C-1", casesync.RefusedLinkConflict, base.Add(2*time.Minute))
		record(company, "C-1", casesync.RefusedLinkConflict, base.Add(time.Minute))
		if r := record(company, "C-1", casesync.RefusedLinkConflict, time.Time{}); !r.CaseUpdateTime.Equal(us.Add(2 * time.Minute)) {
			t.Errorf("stored CaseUpdateTime = %v, want %v", r.CaseUpdateTime, us.Add(2*time.Minute))
		}
		// The newest over kinds counts.
		record(company, "C-2", casesync.RefusedFieldMalformed, base.Add(time.Minute))
		record(company, "C-2", casesync.RefusedFieldUnreadable, base.Add(3*time.Minute))
		// No known time: absent.
		record(company, "C-3", casesync.RefusedFieldOutOfScope, time.Time{})
		// Another side's record of the same id: not read for the CRM side.
		record(casesync.SideGoogle, "C-4", casesync.RefusedLinkConflict, base)
		// An id with slashes and percent signs.
		record(company, "INC/7%", casesync.RefusedFieldOutOfScope, base.Add(4*time.Minute))

		got, err := s.RefusedAt(ctx, company, []string{"C-1", "C-2", "C-3", "C-4", "C-404", "INC/7%", "C-1"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]time.Time{"C-1": us.Add(2 * time.Minute), "C-2": us.Add(3 * time.Minute), "INC/7%": us.Add(4 * time.Minute)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("RefusedAt (-want +got):\n%s", diff)
		}
		if got, err := s.RefusedAt(ctx, company, nil); err != nil || len(got) != 0 {
			t.Errorf("RefusedAt of no ids = %v, %v; want none", got, err)
		}
	}},
	{"ListOutageCandidates returns the flagged mappings and the open ones that may be late, once each", func(ctx context.Context, t *testing.T, s casesync.Store) {
		// Whole microseconds, so that a mark stored at the bound is at it.
		us := base.Truncate(time.Microsecond)
		old, recent := us.Add(-20*time.Minute), us.Add(-5*time.Minute)
		pendingBefore := us.Add(-10 * time.Minute)
		names := map[string]string{} // mapping id -> what it is
		newMapping := func(n int, linked bool, fn func(m *casesync.Mapping)) string {
			t.Helper()
			company := fmt.Sprintf("C-%d", n)
			if !linked {
				company = ""
			}
			m := mustCreate(ctx, t, s, fmt.Sprintf("projects/p/cases/%d", 3000+n), company)
			if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error { fn(x); return nil }); err != nil {
				t.Fatal(err)
			}
			names[m.ID] = fmt.Sprint("mapping ", n)
			return m.ID
		}
		quiet := newMapping(1, true, func(m *casesync.Mapping) { m.Google.UpdatesSyncedAt = base })
		lateG := newMapping(2, true, func(m *casesync.Mapping) { m.Google.PendingSince = old })
		lateC := newMapping(3, true, func(m *casesync.Mapping) { m.Company.PendingSince = old })
		recentC := newMapping(4, true, func(m *casesync.Mapping) { m.Company.PendingSince = recent })
		atBound := newMapping(5, true, func(m *casesync.Mapping) { m.Google.PendingSince = pendingBefore })
		resolvedLate := newMapping(6, true, func(m *casesync.Mapping) { m.Google.PendingSince, m.ResolvedAt = old, base })
		resolvedSent := newMapping(7, true, func(m *casesync.Mapping) { m.Company.OutageNoticeSent, m.ResolvedAt = true, base })
		intentG := newMapping(8, true, func(m *casesync.Mapping) { m.Google.OutageNoticeIntent = true })
		resolvedIntentC := newMapping(9, true, func(m *casesync.Mapping) { m.Company.OutageNoticeIntent, m.ResolvedAt = true, base })
		sentAndLate := newMapping(10, true, func(m *casesync.Mapping) {
			m.Google.OutageNoticeSent, m.Google.PendingSince, m.Company.PendingSince = true, old, old
		})
		unlinked := newMapping(11, false, func(m *casesync.Mapping) {})

		// Compared by what each mapping is, in the store's id order.
		ids := func(ms []casesync.Mapping) []string {
			out := []string{}
			for _, m := range ms {
				out = append(out, names[m.ID])
			}
			return out
		}
		sorted := func(ids ...string) []string {
			sort.Strings(ids)
			out := []string{}
			for _, id := range ids {
				out = append(out, names[id])
			}
			return out
		}
		for _, tc := range []struct {
			name    string
			allOpen bool
			want    []string
		}{
			{"without allOpen", false, sorted(lateG, lateC, resolvedSent, intentG, resolvedIntentC, sentAndLate)},
			{"with allOpen", true, sorted(quiet, lateG, lateC, recentC, atBound, resolvedSent, intentG, resolvedIntentC, sentAndLate, unlinked)},
		} {
			got, err := s.ListOutageCandidates(ctx, pendingBefore, tc.allOpen)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
				t.Errorf("%s: mapping ids (-want +got):\n%s", tc.name, diff)
			}
			for _, m := range got {
				stored, err := s.GetMapping(ctx, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(stored, m); diff != "" {
					t.Errorf("%s: listed mapping %s differs from the stored one (-stored +listed):\n%s", tc.name, m.ID, diff)
				}
			}
		}
		_ = resolvedLate // resolved, with a pending mark but no notice: in neither list
	}},
	{"ListOutageCandidates no longer returns a mapping once its notices are settled and its marks cleared", func(ctx context.Context, t *testing.T, s casesync.Store) {
		m := mustCreate(ctx, t, s, "projects/p/cases/3100", "C-3100")
		if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
			x.Google.OutageNoticeSent, x.Company.OutageNoticeIntent, x.Company.PendingSince = true, true, base.Add(-time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListOutageCandidates(ctx, base, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != m.ID || !got[0].Google.OutageNoticeSent || !got[0].Company.OutageNoticeIntent {
			t.Fatalf("before: got %+v, want the mapping once with its flag and intent", got)
		}
		if _, err := s.UpdateMapping(ctx, m.ID, func(x *casesync.Mapping) error {
			x.Google.OutageNoticeSent, x.Company.OutageNoticeIntent, x.Company.PendingSince = false, false, time.Time{}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err = s.ListOutageCandidates(ctx, base, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("after: got %d mappings, want none", len(got))
		}
	}},
}

// mustCreate creates a mapping for the keys, failing the test if one exists.
func mustCreate(ctx context.Context, t *testing.T, s casesync.Store, googleCase, companyCaseID string) casesync.Mapping {
	t.Helper()
	m, created, err := s.ResolveMapping(ctx, googleCase, companyCaseID, true, func(m *casesync.Mapping) {
		m.CreatedAt = base
		m.Origin = casesync.SideGoogle
	})
	if err != nil {
		t.Fatalf("creating mapping for %q/%q: %v", googleCase, companyCaseID, err)
	}
	if !created {
		t.Fatalf("mapping for %q/%q already existed", googleCase, companyCaseID)
	}
	return m
}

func countMappings(ctx context.Context, t *testing.T, s casesync.Store) int {
	t.Helper()
	n := 0
	if err := s.ListMappings(ctx, func(casesync.Mapping) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// fullMapping returns a mapping with every field set to a distinct value.
func fullMapping(id, googleCase, companyCaseID string) casesync.Mapping {
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	return casesync.Mapping{
		ID:            id,
		GoogleCase:    googleCase,
		CompanyCaseID: companyCaseID,
		Origin:        casesync.SideCompany,
		CreatedAt:     at(1),
		NewContentAt:  at(2),
		ResolvedAt:    at(3),
		Google: casesync.MappingSide{
			UpdatesSyncedAt:    at(4),
			PendingSince:       at(6),
			SeenUpdateTime:     at(8),
			OutageNoticeSent:   true,
			OutageNoticeIntent: true,
			Closed:             true,
			Items: casesync.SideItems{
				Comments:    casesync.ItemLog{Through: at(12), Done: []casesync.DoneItem{{ID: "1", At: at(13)}, {ID: "7"}}},
				Attachments: casesync.ItemLog{Done: []casesync.DoneItem{{ID: "2", At: at(14)}}},
			},
			ReadAt:    at(22),
			OwnWrites: []string{"31", "32"},
		},
		Company: casesync.MappingSide{
			UpdatesSyncedAt:    at(5),
			PendingSince:       at(7),
			SeenUpdateTime:     at(9),
			OutageNoticeSent:   true,
			OutageNoticeIntent: true,
			Closed:             true,
			Items: casesync.SideItems{
				Comments:    casesync.ItemLog{Done: []casesync.DoneItem{{ID: "3", At: at(15)}, {ID: "5", At: at(16)}}},
				Attachments: casesync.ItemLog{Through: at(17), Done: []casesync.DoneItem{{ID: "4", At: at(18)}}},
			},
			ReadAt:    at(23),
			OwnWrites: []string{"41"},
		},
		Priority:            casesync.P2,
		ReopenNoticeSent:    true,
		PreviousGoogleCases: []string{"projects/p/cases/900", "projects/p/cases/901"},
		CreateIntentAt:      at(10),
		CreateIntentSide:    casesync.SideGoogle,
		LeaseHolder:         "worker-1",
		LeaseUntil:          at(11),
		LeaseGeneration:     7,
		RerunRequested:      true,
		DueAt:               at(19),
		Attempts:            3,
		LastError:           "CRM tickets.create: permanent error, HTTP 403",
		FailingSince:        at(20),
		GaveUpAt:            at(21),
		NewCaseNoticeOwed:   true,
		RefusedItem:         "company/attachment/9",
		GoogleStateShown:    "ACTION_REQUIRED",
		Escalation: casesync.EscalationProgress{
			SeenAt: at(24), IntentAt: at(25), Outcome: casesync.EscalationDenied,
			Detail: "Your support plan does not include technical escalations.", Noted: true, Clearing: true, WithdrawRefused: true,
		},
		LastEscalation: casesync.EscalationProgress{SeenAt: at(26), IntentAt: at(27), Outcome: casesync.EscalationDone, Noted: true},
	}
}

// truncated returns m with its times at microsecond precision, as stores
// keep them.
func truncated(m casesync.Mapping) casesync.Mapping {
	for _, t := range []*time.Time{
		&m.CreatedAt, &m.NewContentAt, &m.ResolvedAt,
		&m.Google.UpdatesSyncedAt, &m.Company.UpdatesSyncedAt,
		&m.Google.PendingSince, &m.Company.PendingSince,
		&m.Google.SeenUpdateTime, &m.Company.SeenUpdateTime,
		&m.Google.ReadAt, &m.Company.ReadAt,
		&m.CreateIntentAt, &m.LeaseUntil, &m.DueAt, &m.FailingSince, &m.GaveUpAt,
		&m.Escalation.SeenAt, &m.Escalation.IntentAt, &m.LastEscalation.SeenAt, &m.LastEscalation.IntentAt,
	} {
		*t = t.Truncate(time.Microsecond)
	}
	for _, s := range []*casesync.SideItems{&m.Google.Items, &m.Company.Items} {
		for _, l := range []*casesync.ItemLog{&s.Comments, &s.Attachments} {
			l.Through = l.Through.Truncate(time.Microsecond)
			for i := range l.Done {
				l.Done[i].At = l.Done[i].At.Truncate(time.Microsecond)
			}
		}
	}
	return m
}
