package casesync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// A CRM case the sync refuses (a link conflict, a Google-case field it cannot
// honour) has no mapping, so every poll used to find it and publish it, and
// every run refused it again: hundreds of permanent acks an hour. A case
// refused at its current update time is now left alone until it changes.
func TestARefusedCRMCaseIsNotPublishedAgainUntilAPersonChangesIt(t *testing.T) {
	tests := []struct {
		name string
		// field is what the person first puts in the Google-case field; an
		// empty field names the Google case another CRM case syncs with.
		field string
		// publishes is how often ten polls may publish it: a refused field
		// also gets an internal note, which moves the case's update time once.
		publishes int
	}{
		{"a CRM case naming a Google case another CRM case syncs with", "", 1},
		{"a CRM case whose Google-case field is malformed", "see case 123", 2},
		{"a CRM case whose Google-case field names a case that does not exist", "projects/sandbox-project/cases/99999999", 2},
	}
	for _, tc := range tests {
		for _, sk := range storeKinds {
			t.Run(tc.name+" is published "+map[int]string{1: "once", 2: "twice"}[tc.publishes]+" over ten polls and syncs once its field is fixed, "+sk.name, func(t *testing.T) {
				w := newWorldOn(t, casesync.Config{}, sk)
				field, tickets := tc.field, 1
				if field == "" {
					field = w.newGoogleCase("Claimed twice", "P3")
					w.settle()
					tickets = 2
				}
				id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Also mine", Description: "d", Priority: "normal", SyncFlag: true, GoogleCase: field})

				published := 0
				for range 10 {
					w.tick()
					if _, err := w.engine.PollGoogle(w.ctx); err != nil {
						t.Fatalf("PollGoogle: %v", err)
					}
					if _, err := w.engine.PollCRM(w.ctx); err != nil {
						t.Fatalf("PollCRM: %v", err)
					}
					for _, ref := range w.queue.take() {
						if ref.Side == casesync.SideCompany && ref.ID == id {
							published++
						}
						w.tick()
						_, err := w.engine.SyncCase(w.ctx, ref)
						var ce *casesync.ConflictError
						switch {
						case err == nil:
						case ref.ID == id && errors.As(err, &ce) && casesync.IsPermanent(err):
						default:
							t.Fatalf("SyncCase(%+v): %v", ref, err)
						}
					}
				}
				if published != tc.publishes {
					t.Errorf("ten polls published CRM case %s %d times, want %d", id, published, tc.publishes)
				}
				refusals, err := w.store.ListRefusals(w.ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(refusals) != 1 || refusals[0].CaseID != id || refusals[0].Count != int64(tc.publishes) {
					t.Errorf("refusals = %+v; want one for CRM case %s, counted %d times", refusals, id, tc.publishes)
				}

				// A person corrects the field: it names the Google case they
				// meant, and the case is published and linked.
				right := w.newGoogleCase("The right one", "P3")
				if err := w.crm.SetGoogleCase(w.ctx, id, right); err != nil {
					t.Fatal(err)
				}
				w.settle()
				if got := w.mapping(right).CompanyCaseID; got != id {
					t.Errorf("Google case %s syncs with CRM case %q, want %q", right, got, id)
				}
				if n := len(w.crm.Tickets()); n != tickets {
					t.Errorf("the CRM has %d tickets, want the %d people made", n, tickets)
				}
			})
		}
	}
}

// cleanupRace is a store whose listing of resolved mappings lets something
// happen to them before Cleanup deletes them.
type cleanupRace struct {
	casesync.Store
	meanwhile func(ids []string)
}

func (s cleanupRace) ListResolvedBefore(ctx context.Context, t time.Time) ([]string, error) {
	ids, err := s.Store.ListResolvedBefore(ctx, t)
	if err == nil && len(ids) > 0 {
		s.meanwhile(ids)
	}
	return ids, err
}

func TestCleanupKeepsAMappingThatChangedAfterItWasListed(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile func(t *testing.T, w *world, id string, ids []string)
		// reopened: the reply that reopened the CRM case must then reach a
		// new Google case.
		reopened bool
	}{
		{"a mapping a reconciliation reopened on a new Google case is kept", func(t *testing.T, w *world, id string, ids []string) {
			reopenByReply(t, w, id)
			w.tick()
			for i := 0; ; i++ {
				_, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: id})
				if err == nil {
					break
				}
				if !casesync.IsTransient(err) || i == 5 {
					t.Fatalf("SyncCase of the reopened CRM case: %v", err)
				}
			}
		}, true},
		{"a mapping a poll found a reopening reply on is kept", func(t *testing.T, w *world, id string, ids []string) {
			reopenByReply(t, w, id)
			w.tick()
			if _, err := w.engine.PollCRM(w.ctx); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a mapping leased by a running reconciliation is kept", func(t *testing.T, w *world, id string, ids []string) {
			now := w.clock.Now()
			if _, err := w.store.AcquireLease(w.ctx, ids[0], "another-worker", now, now.Add(30*time.Second)); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, sk := range storeKinds {
				t.Run(sk.name, func(t *testing.T) {
					w := newWorldOn(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase}, sk)
					name := w.newGoogleCase("Resolved long ago", "P3")
					w.settle()
					m := w.mapping(name)
					if err := w.google.CloseCase(name); err != nil {
						t.Fatal(err)
					}
					w.settle()
					if m = w.mapping(name); m.ResolvedAt.IsZero() {
						t.Fatalf("the mapping is not resolved")
					}
					w.clock.Advance(31 * 24 * time.Hour)

					engine := *w.engine
					engine.Store = cleanupRace{Store: w.store, meanwhile: func(ids []string) {
						if len(ids) != 1 || ids[0] != m.ID {
							t.Fatalf("resolved mappings listed: %v, want %s", ids, m.ID)
						}
						tc.meanwhile(t, w, m.CompanyCaseID, ids)
					}}
					if n, err := engine.Cleanup(w.ctx); err != nil || n != 0 {
						t.Errorf("Cleanup = %d, %v; want 0 deleted", n, err)
					}
					if _, err := w.store.GetMapping(w.ctx, m.ID); err != nil {
						t.Fatalf("the mapping after cleanup: %v", err)
					}
					if !tc.reopened {
						if err := w.store.ReleaseLease(w.ctx, m.ID, "another-worker"); err != nil {
							t.Fatal(err)
						}
						if n, err := w.engine.Cleanup(w.ctx); err != nil || n != 1 {
							t.Errorf("Cleanup once the lease ended = %d, %v; want 1", n, err)
						}
						return
					}
					w.settle()
					c, _ := w.crm.GetCase(w.ctx, m.CompanyCaseID)
					if c.GoogleCase == name || c.GoogleCase == "" {
						t.Fatalf("CRM case links %q; want a new Google case", c.GoogleCase)
					}
					if n := countContaining(w.googleBodies(c.GoogleCase), "It broke again."); n != 1 {
						t.Errorf("the new Google case has %d copies of the reply that reopened the ticket, want 1", n)
					}
				})
			}
		})
	}
}

// reopenByReply is a customer's reply that reopens a closed CRM case.
func reopenByReply(t *testing.T, w *world, id string) {
	t.Helper()
	if _, err := w.crm.AddHumanComment(id, "Bob", "It broke again.", true); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.HumanReopen(id); err != nil {
		t.Fatal(err)
	}
}

// A run that reads a CRM case in the second of its last change cannot know
// that nothing else changes in that second (a person correcting the field,
// say, which would carry the same update time): its refusal does not stop
// the next poll. The run after that reads late enough, and its refusal does.
func TestARefusalReadInTheTickOfTheLastChangeDoesNotHoldTheCaseBack(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Claimed twice", "P3")
	w.settle()
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Also mine", Description: "d", Priority: "normal", GoogleCase: name})
	c, _ := w.crm.GetCase(w.ctx, id)
	var ce *casesync.ConflictError
	if _, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: id}); !errors.As(err, &ce) {
		t.Fatalf("SyncCase in the second the case changed = %v; want a ConflictError", err)
	}
	steps := []struct {
		name          string
		wantPublished bool
	}{
		{"the poll after the refusal in the same second publishes the case", true},
		{"the poll after a refusal read two seconds later does not", false},
	}
	for _, st := range steps {
		w.tick()
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		published := false
		for _, ref := range w.queue.take() {
			if ref.ID != id {
				continue
			}
			published = true
			w.tick()
			if _, err := w.engine.SyncCase(w.ctx, ref); !errors.As(err, &ce) {
				t.Fatalf("SyncCase(%+v) = %v; want a ConflictError", ref, err)
			}
		}
		if published != st.wantPublished {
			t.Errorf("%s: published = %v, want %v", st.name, published, st.wantPublished)
		}
	}
	refusals, err := w.store.ListRefusals(w.ctx, 1)
	if err != nil || len(refusals) != 1 {
		t.Fatalf("ListRefusals = %v, %v", refusals, err)
	}
	if got := refusals[0].CaseUpdateTime; !got.Equal(c.UpdateTime) {
		t.Errorf("the refusal covers update time %v, want the case's %v", got, c.UpdateTime)
	}
}
