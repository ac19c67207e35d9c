package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/store"
)

// One Firestore emulator serves the whole test binary; each test gets a
// project of its own, which the emulator keeps apart.
var projectSeq atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), emulators.StartTimeout)
	defer cancel()
	e, err := emulators.StartFirestore(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the store tests need the Firestore emulator: %v\n", err)
		return 1
	}
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the Firestore emulator: %v\n", err)
		}
	}()
	os.Setenv("FIRESTORE_EMULATOR_HOST", e.Host)
	return m.Run()
}

// newStore returns a Store on a fresh, empty project of the emulator.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, _ := newStoreIn(t)
	return s
}

// newStoreIn is newStore that also names the project, for tests that read
// the documents themselves.
func newStoreIn(t *testing.T) (*store.Store, string) {
	t.Helper()
	project := fmt.Sprintf("store-test-%d-%d", os.Getpid(), projectSeq.Add(1))
	s, err := store.New(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
		if err := emulators.ResetFirestore(os.Getenv("FIRESTORE_EMULATOR_HOST"), project); err != nil {
			t.Errorf("clearing project %s: %v", project, err)
		}
	})
	return s, project
}

func TestFirestoreStoreKeepsTheStoreContract(t *testing.T) {
	casesynctest.RunStoreContract(t, func(t *testing.T) casesync.Store { return newStore(t) })
}

func TestRecordPollWritesExactlyOneDocument(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany, casesync.SideGoogle} {
		before, readsBefore := s.Writes(), s.Reads()
		if err := s.RecordPoll(ctx, side, at.Add(time.Duration(i)*time.Minute), at); err != nil {
			t.Fatal(err)
		}
		if got := s.Writes() - before; got != 1 {
			t.Errorf("poll %d of %s wrote %d documents, want 1", i+1, side, got)
		}
		if got := s.Reads() - readsBefore; got != 0 {
			t.Errorf("poll %d of %s read %d documents, want 0", i+1, side, got)
		}
	}
}

func TestOperationsWriteOnlyWhatTheyChange(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStore(t)
	ids := linkPairs(t, s, 3)

	tests := []struct {
		name       string
		op         func() error
		wantWrites int64
	}{
		{"creating a mapping with two keys writes the mapping and both key documents", func() error {
			_, _, err := s.ResolveMapping(ctx, "projects/p/cases/900", "C-900", true, nil)
			return err
		}, 3},
		{"resolving an existing mapping writes nothing", func() error {
			_, _, err := s.ResolveMapping(ctx, "projects/p/cases/100", "C-0", true, nil)
			return err
		}, 0},
		{"marking three mappings pending writes three documents", func() error {
			return s.MarkPending(ctx, casesync.SideGoogle, ids, at, at.Add(5*time.Minute))
		}, 3},
		{"marking them again writes only their due times, and nothing for a mapping that is gone", func() error {
			return s.MarkPending(ctx, casesync.SideGoogle, append(ids, "gone"), at.Add(time.Minute), at.Add(6*time.Minute))
		}, 3},
		{"an update whose function fails writes nothing", func() error {
			_, err := s.UpdateMapping(ctx, ids[0], func(m *casesync.Mapping) error {
				m.ReopenNoticeSent = true
				return errTest
			})
			if err != errTest {
				return fmt.Errorf("got %v, want errTest", err)
			}
			return nil
		}, 0},
		{"a lease refused to another holder records the rerun request once", func() error {
			if _, err := s.AcquireLease(ctx, ids[1], "a", at, at.Add(time.Minute)); err != nil {
				return err
			}
			for i, want := range []int64{1, 0} {
				before := s.Writes()
				_, err := s.AcquireLease(ctx, ids[1], "b", at, at.Add(time.Minute))
				if !errors.Is(err, casesync.ErrLeaseHeld) {
					return fmt.Errorf("got %v, want ErrLeaseHeld", err)
				}
				if got := s.Writes() - before; got != want {
					return fmt.Errorf("refusal %d wrote %d documents, want %d", i+1, got, want)
				}
			}
			return nil
		}, 2},
		{"deleting a mapping deletes it and its two key documents", func() error {
			return s.DeleteMapping(ctx, ids[2])
		}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Writes()
			if err := tc.op(); err != nil {
				t.Fatal(err)
			}
			if got := s.Writes() - before; got != tc.wantWrites {
				t.Errorf("wrote %d documents, want %d", got, tc.wantWrites)
			}
		})
	}
}

var errTest = errors.New("test error")

func TestLookingUpOneCaseOfALinkedPairReadsOneDocument(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	m, _, err := s.ResolveMapping(ctx, "projects/p/cases/100", "C-1", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkKey(ctx, m.ID, casesync.SideGoogle, "projects/p/cases/200"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		google, crm       string
		wantFound         bool
		wantReads         int64
		wantGoogleCaseNow string
	}{
		{"the Google case, by the name the mapping holds", "projects/p/cases/200", "", true, 1, "projects/p/cases/200"},
		{"the CRM case", "", "C-1", true, 1, "projects/p/cases/200"},
		{"the Google case under its organization's name: by its key document", "organizations/o/cases/200", "", true, 3, "projects/p/cases/200"},
		{"the Google case the mapping held before: by its key document", "projects/p/cases/100", "", true, 3, "projects/p/cases/200"},
		{"a case no mapping holds", "projects/p/cases/300", "", false, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Reads()
			got, created, err := s.ResolveMapping(ctx, tc.google, tc.crm, false, nil)
			reads := s.Reads() - before
			switch {
			case !tc.wantFound && !casesync.IsNotFound(err):
				t.Fatalf("got %+v, %v; want not found", got, err)
			case tc.wantFound && err != nil:
				t.Fatal(err)
			case tc.wantFound && (got.ID != m.ID || got.GoogleCase != tc.wantGoogleCaseNow || created):
				t.Errorf("got mapping %s holding %s (created %v), want %s holding %s", got.ID, got.GoogleCase, created, m.ID, tc.wantGoogleCaseNow)
			}
			if reads != tc.wantReads {
				t.Errorf("read %d documents, want %d", reads, tc.wantReads)
			}
		})
	}
}

func TestDeliveryFailureRecords(t *testing.T) {
	ctx := context.Background()
	s, project := newStoreIn(t)
	at := time.Date(2026, 5, 1, 9, 0, 0, 123456000, time.UTC)
	ref := casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1234", UpdateTime: at.Add(-time.Hour)}
	first := eventing.DeliveryFailure{Key: eventing.FailureKey(eventing.FunctionSyncCase, &ref), Function: eventing.FunctionSyncCase,
		Subscription: "projects/p/subscriptions/sync-case-case-updated", Error: "CRM tickets.create: HTTP 503: unavailable", At: at, CaseRef: &ref}
	second := first
	second.Error, second.At, second.Subscription = "CRM tickets.create: HTTP 502: bad gateway", at.Add(time.Minute), ""
	tick := eventing.DeliveryFailure{Key: eventing.FailureKey(eventing.FunctionPollCRM, nil), Function: eventing.FunctionPollCRM, Error: "aborted", At: at}

	tests := []struct {
		name       string
		record     []eventing.DeliveryFailure
		key        string
		want       eventing.DeliveryFailure
		wantOK     bool
		wantWrites int64
	}{
		{name: "a key never recorded is not found", key: "SyncCase-company-none"},
		{name: "a recorded case failure reads back with its case", record: []eventing.DeliveryFailure{first}, key: first.Key,
			want: first, wantOK: true, wantWrites: 1},
		{name: "a later failure of the same key replaces the earlier one", record: []eventing.DeliveryFailure{second}, key: first.Key,
			want: second, wantOK: true, wantWrites: 1},
		{name: "a tick failure reads back without a case", record: []eventing.DeliveryFailure{tick}, key: "PollCRM-tick",
			want: tick, wantOK: true, wantWrites: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Writes()
			for _, f := range tt.record {
				if err := s.RecordFailure(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Writes() - before; got != tt.wantWrites {
				t.Errorf("wrote %d documents, want %d", got, tt.wantWrites)
			}
			got, ok, err := s.GetFailure(ctx, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOK, ok); diff != "" {
				t.Errorf("GetFailure found (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GetFailure (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the record expires by its expireAt field, 32 days after the failure", func(t *testing.T) {
		client, err := firestore.NewClient(ctx, project)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		snap, err := client.Collection(store.FailuresCollection).Doc(first.Key).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := snap.DataAt("expireAt")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(second.At.Add(32*24*time.Hour), got); diff != "" {
			t.Errorf("expireAt (-want +got):\n%s", diff)
		}
	})

	t.Run("a key that is not a document id is refused", func(t *testing.T) {
		bad := first
		bad.Key = "SyncCase-google-projects/p/cases/1"
		if err := s.RecordFailure(ctx, bad); err == nil {
			t.Error("RecordFailure accepted a key with a '/'")
		}
		if _, _, err := s.GetFailure(ctx, ""); err == nil {
			t.Error("GetFailure accepted an empty key")
		}
	})
}

func TestPollLookupsReadEachMappingFoundOnce(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	ids := linkPairs(t, s, 3)
	// The first mapping moves to a new Google case; the old one still
	// finds it, through its key document.
	if _, err := s.LinkKey(ctx, ids[0], casesync.SideGoogle, "projects/p/cases/900"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"projects/p/cases/900", "projects/p/cases/101", "projects/p/cases/102", "projects/p/cases/100", "projects/p/cases/555", "projects/p/cases/101"}
	before := s.Reads()
	got, err := s.LookupMappings(ctx, casesync.SideGoogle, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"projects/p/cases/900": ids[0], "projects/p/cases/101": ids[1], "projects/p/cases/102": ids[2], "projects/p/cases/100": ids[0]}
	if len(got) != len(want) {
		t.Errorf("found %d mappings, want %d: %v", len(got), len(want), got)
	}
	for k, id := range want {
		if got[k].ID != id {
			t.Errorf("key %s: got mapping %q, want %s", k, got[k].ID, id)
		}
	}
	// One query finding three mappings (3), then the two keys it did not
	// find by name: their key documents (2) and the one mapping named (1).
	if reads := s.Reads() - before; reads != 6 {
		t.Errorf("read %d documents, want 6", reads)
	}

	before = s.Reads()
	var many []string
	for i := range 61 { // more keys than two queries take (30 each)
		many = append(many, fmt.Sprintf("C-%d", i%3))
		many = append(many, fmt.Sprintf("C-x%d", i))
	}
	got, err = s.LookupMappings(ctx, casesync.SideCompany, many)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["C-1"].ID != ids[1] {
		t.Errorf("got %d mappings (C-1: %q), want 3", len(got), got["C-1"].ID)
	}
	// 64 distinct keys: three queries, one finding three mappings and two
	// finding none (3 + 1 + 1), then 61 key documents of cases no mapping
	// holds.
	if reads := s.Reads() - before; reads != 66 {
		t.Errorf("read %d documents, want 66", reads)
	}
}

// linkPairs creates n mappings, of Google cases projects/p/cases/100… and
// CRM cases C-0…, and returns their ids.
func linkPairs(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		m, _, err := s.ResolveMapping(context.Background(), fmt.Sprintf("projects/p/cases/%d", 100+i), fmt.Sprintf("C-%d", i), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	return ids
}
