package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/emulators"
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
	return s
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
	var ids []string
	for i := range 3 {
		m, _, err := s.ResolveMapping(ctx, fmt.Sprintf("projects/p/cases/%d", 100+i), fmt.Sprintf("C-%d", i), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}

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
			return s.MarkPending(ctx, casesync.SideGoogle, ids, at)
		}, 3},
		{"marking them pending again writes nothing", func() error {
			return s.MarkPending(ctx, casesync.SideGoogle, append(ids, "gone"), at.Add(time.Minute))
		}, 0},
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
		{"a lease refused to another holder writes nothing", func() error {
			if _, err := s.AcquireLease(ctx, ids[1], "a", at, at.Add(time.Minute)); err != nil {
				return err
			}
			before := s.Writes()
			_, err := s.AcquireLease(ctx, ids[1], "b", at, at.Add(time.Minute))
			if !errors.Is(err, casesync.ErrLeaseHeld) {
				return fmt.Errorf("got %v, want ErrLeaseHeld", err)
			}
			if s.Writes() != before {
				return fmt.Errorf("the refused lease wrote %d documents", s.Writes()-before)
			}
			return nil
		}, 1},
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
