package casesync_test

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// With REOPEN_POLICY=new-case, the reply that reopened the CRM case is the
// first thing the new Google case says.
func TestTheReplyThatReopensATicketReachesTheNewGoogleCase(t *testing.T) {
	w := newWorld(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase})
	name := w.newGoogleCase("Reopen by reply", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.crm.AddHumanComment(id, "Bob", "said before the close", true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if err := w.crm.HumanClose(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	// A customer's reply reopens the ticket, as helpdesks do.
	if _, err := w.crm.AddHumanComment(id, "Bob", "It broke again.", true); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.HumanReopen(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	c, _ := w.crm.GetCase(w.ctx, id)
	if c.GoogleCase == name || c.GoogleCase == "" {
		t.Fatalf("CRM case links %q; want a new Google case", c.GoogleCase)
	}
	bodies := w.googleBodies(c.GoogleCase)
	if n := countContaining(bodies, "It broke again."); n != 1 {
		t.Errorf("the new Google case has %d copies of the reply that reopened the ticket, want 1", n)
	}
	if n := countContaining(bodies, "said before the close"); n != 0 {
		t.Errorf("the new Google case got %d copies of a reply made for the old case", n)
	}
}

// A crash right after creating the Google case, then a person closes it
// before the retry: the retry links the closed case; it creates no other.
func TestAClosedCaseFromACrashedCreationIsStillTheCounterpart(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.engine.Google = crashingGoogle{w.engine.Google, &crashAfter{op: "CreateCase", left: 1}}
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Crash then close", Description: "d", Priority: "normal", SyncFlag: true})
	errs := w.roundsErr(1)
	if len(errs) != 1 {
		t.Fatalf("first round: %v, want the injected crash", errs)
	}
	cases := w.google.Cases()
	if len(cases) != 1 {
		t.Fatalf("Google has %d cases after the crashed creation, want 1", len(cases))
	}
	if err := w.google.CloseCase(cases[0].Name); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		w.clock.Advance(time.Minute)
		w.roundsErr(1)
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Errorf("Google has %d cases, want the one the crashed attempt created", n)
	}
	c, _ := w.crm.GetCase(w.ctx, id)
	if c.GoogleCase != cases[0].Name || !c.Closed {
		t.Errorf("CRM case links %q, closed %v; want it linked to %s and closed like it", c.GoogleCase, c.Closed, cases[0].Name)
	}
}

// A case closed (or unflagged) after its first attempt failed no longer
// gets a counterpart when the retry comes.
func TestACaseClosedAfterAFailedAttemptGetsNoCounterpart(t *testing.T) {
	t.Run("a Google case", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpCreate, Status: 403})
		name := w.newGoogleCase("Closed meanwhile", "P3")
		w.roundsErr(1)
		if err := w.google.CloseCase(name); err != nil {
			t.Fatal(err)
		}
		w.crm.ClearFaults()
		for range 10 {
			w.clock.Advance(5 * time.Minute)
			w.roundsErr(1)
		}
		if n := len(w.crm.Tickets()); n != 0 {
			t.Errorf("the CRM has %d tickets for a Google case closed before its counterpart was made", n)
		}
		if _, _, err := w.store.ResolveMapping(w.ctx, name, "", false, nil); !casesync.IsNotFound(err) {
			t.Errorf("the mapping is still there (%v); want it dropped", err)
		}
	})
	t.Run("a CRM case", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		w.google.InjectFault(csapitest.Fault{Method: "cases.create", Status: 403})
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Closed meanwhile", Description: "d", Priority: "normal", SyncFlag: true})
		w.roundsErr(1)
		if err := w.crm.HumanClose(id); err != nil {
			t.Fatal(err)
		}
		w.google.ClearFaults()
		for range 10 {
			w.clock.Advance(5 * time.Minute)
			w.roundsErr(1)
		}
		if n := len(w.google.Cases()); n != 0 {
			t.Errorf("Google has %d cases for a CRM case closed before its counterpart was made", n)
		}
	})
}

// A crash right after creating the Google case while Google's search index
// lags by an hour: the retry finds the case among casebridge's own (listed,
// not searched) and creates no second one.
func TestACrashedCreationIsFoundWhileSearchLags(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.engine.Google = crashingGoogle{w.engine.Google, &crashAfter{op: "CreateCase", left: 1}}
	w.google.SetSearchLag(time.Hour)
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Lagging index", Description: "d", Priority: "normal", SyncFlag: true})
	for range 4 {
		w.clock.Advance(6 * time.Minute)
		w.roundsErr(1)
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Fatalf("Google has %d cases, want 1", n)
	}
	c, _ := w.crm.GetCase(w.ctx, id)
	if c.GoogleCase != w.google.Cases()[0].Name {
		t.Errorf("CRM case links %q, want %s", c.GoogleCase, w.google.Cases()[0].Name)
	}
}

// The same, with a person closing the case before the retry: it is found
// among casebridge's closed cases and linked, and the ticket closes with it.
func TestACrashedCreationClosedMeanwhileIsFoundWhileSearchLags(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.engine.Google = crashingGoogle{w.engine.Google, &crashAfter{op: "CreateCase", left: 1}}
	w.google.SetSearchLag(time.Hour)
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Lagging index, closed", Description: "d", Priority: "normal", SyncFlag: true})
	w.roundsErr(1)
	cases := w.google.Cases()
	if len(cases) != 1 {
		t.Fatalf("Google has %d cases after the crashed creation, want 1", len(cases))
	}
	if err := w.google.CloseCase(cases[0].Name); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		w.clock.Advance(6 * time.Minute)
		w.roundsErr(1)
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Fatalf("Google has %d cases, want 1", n)
	}
	if c, _ := w.crm.GetCase(w.ctx, id); c.GoogleCase != cases[0].Name || !c.Closed {
		t.Errorf("CRM case links %q, closed %v; want %s and closed", c.GoogleCase, c.Closed, cases[0].Name)
	}
}
