package casesync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// stateCRM is the CRM simulator with crashes after chosen calls, the
// escalation's own calls included.
type stateCRM struct {
	crashingCRM
	sim *crmsim.CRM
}

func (c stateCRM) SetGoogleState(ctx context.Context, id, state string) error {
	err := c.sim.SetGoogleState(ctx, id, state)
	if err == nil && c.hit("SetGoogleState") {
		return errCrash
	}
	return err
}

func (c stateCRM) ClearEscalationRequest(ctx context.Context, id string) error {
	err := c.sim.ClearEscalationRequest(ctx, id)
	if err == nil && c.hit("ClearEscalationRequest") {
		return errCrash
	}
	return err
}

// escalatingGoogle crashes after chosen calls, cases.escalate included.
type escalatingGoogle struct {
	crashingGoogle
}

func (g escalatingGoogle) Escalate(ctx context.Context, name, reason, justification string) error {
	err := g.Google.Escalate(ctx, name, reason, justification)
	if err == nil && g.hit("Escalate") {
		return errCrash
	}
	return err
}

// escalationNotes returns the CRM case's notes about escalations.
func escalationNotes(w *world, id string) []casesync.Comment {
	w.t.Helper()
	tk, _ := w.crm.Ticket(id)
	var out []casesync.Comment
	for _, c := range tk.Comments {
		if c.ByConnector && strings.HasPrefix(c.Body, "Escalation of Google case ") {
			out = append(out, c)
		}
	}
	return out
}

func TestGoogleStateShowsOnTheCRMCaseOnlyWhenItChanges(t *testing.T) {
	w, name, id := linkedPair(t, "State")
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "NEW" {
		t.Fatalf("a newly linked CRM case shows Google state %q, want NEW", got)
	}
	if err := w.google.SetState(name, "ACTION_REQUIRED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "ACTION_REQUIRED" {
		t.Fatalf("after Google asked for action the CRM case shows %q, want ACTION_REQUIRED", got)
	}
	// A person overwrites the field; a Google change that is not a state
	// change does not write it back, a state change does.
	if err := w.crm.UpdateTicket(id, crmsim.TicketUpdate{CustomFields: map[string]string{crmsim.DefaultStateField: "looked at"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.google.SetPriority(name, "P2"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "looked at" {
		t.Errorf("a Google priority change rewrote the person's state field to %q", got)
	}
	if err := w.google.SetState(name, "SOLUTION_PROVIDED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "SOLUTION_PROVIDED" {
		t.Errorf("after Google proposed a solution the CRM case shows %q", got)
	}
	if m := w.mapping(name); m.GoogleStateShown != "SOLUTION_PROVIDED" {
		t.Errorf("the mapping records %q as shown", m.GoogleStateShown)
	}
}

func TestAGoogleStateMappedToAStatusSetsItAndNeverCloses(t *testing.T) {
	// The status table is the adapter's; the simulator's default maps
	// none, so this world's simulator maps ACTION_REQUIRED.
	w := newWorld(t, casesync.Config{})
	sim := crmsim.New(crmsim.Options{Clock: w.clock.Now, State: crmsim.StateConfig{StateStatuses: map[string]string{"ACTION_REQUIRED": "pending"}}})
	w.crm, w.engine.CRM = sim, sim
	name := w.newGoogleCase("Mapped", "P3")
	w.settle()
	if err := w.google.SetState(name, "ACTION_REQUIRED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	tk := w.crmCase(name)
	if tk.Status != "pending" || tk.Closed {
		t.Errorf("after Google asked for action the CRM status is %q (closed %v), want pending", tk.Status, tk.Closed)
	}
	if err := w.google.SetState(name, "CLOSED"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if tk := w.crmCase(name); !tk.Closed || tk.CustomFields[crmsim.DefaultStateField] != "CLOSED" {
		t.Errorf("after Google closed, the CRM case is closed %v with state %q; want closed, CLOSED", tk.Closed, tk.CustomFields[crmsim.DefaultStateField])
	}
}

func TestAnEscalationRequestIsMadeOnceNotedOnceAndWithdrawn(t *testing.T) {
	w, name, id := linkedPair(t, "Escalate")
	w.google.ResetCalls()
	if err := w.crm.RequestEscalation(id, "Technical expertise", "We need a specialist."); err != nil {
		t.Fatal(err)
	}
	w.settle()
	g, _ := w.google.Case(name)
	if !g.Escalated {
		t.Fatalf("the Google case is not escalated")
	}
	if n := w.google.Calls()["cases.escalate"]; n != 1 {
		t.Errorf("cases.escalate called %d times, want 1", n)
	}
	notes := escalationNotes(w, id)
	if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "done") {
		t.Errorf("escalation notes %v, want one internal note saying it is done", bodiesOf(notes))
	}
	if tk := w.crmCase(name); tk.Escalation.Requested {
		t.Errorf("the request is still on the CRM case")
	}
	if m := w.mapping(name); m.Escalation != (casesync.EscalationProgress{}) {
		t.Errorf("the mapping keeps escalation progress %+v after the request was withdrawn", m.Escalation)
	}
	for _, c := range w.google.Comments(name) {
		if strings.Contains(c.Body, "Escalation of Google case") {
			t.Errorf("the escalation note reached Google")
		}
	}
}

func TestAnEscalationOutcomeIsNotedForEachRefusal(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		set        func(w *world, name string)
	}{
		{"a plan without escalations", "support plan does not include technical escalations", func(w *world, _ string) { w.google.SetEscalationDenied(true) }},
		{"an escalated case", "already escalated", func(w *world, name string) {
			if err := w.engine.Google.Escalate(w.ctx, name, "BUSINESS_IMPACT", "by hand"); err != nil {
				w.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, name, id := linkedPair(t, "Escalation refused")
			tc.set(w, name)
			w.settle()
			w.google.ResetCalls()
			if err := w.crm.RequestEscalation(id, "", ""); err != nil {
				t.Fatal(err)
			}
			w.settle()
			notes := escalationNotes(w, id)
			if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, tc.want) {
				t.Errorf("escalation notes %v, want one internal note saying %q", bodiesOf(notes), tc.want)
			}
			if tk := w.crmCase(name); tk.Escalation.Requested {
				t.Errorf("the request is still on the CRM case")
			}
			if tc.name == "an escalated case" && w.google.Calls()["cases.escalate"] != 0 {
				t.Errorf("an escalated case was escalated again")
			}
		})
	}
}

// TestAnEscalationSurvivesCrashesAnywhere asks for an escalation while
// every call of the escalation's path may crash right after its side
// effect, in random combinations: the Google case is escalated once, the
// CRM case gets one note, and the request is withdrawn.
func TestAnEscalationSurvivesCrashesAnywhere(t *testing.T) {
	ops := []struct{ side, op string }{
		{"google", "Escalate"}, {"crm", "AddComment"}, {"crm", "ClearEscalationRequest"}, {"crm", "SetGoogleState"},
	}
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			w := newWorld(t, casesync.Config{})
			gCrash, cCrash := &crashAfter{}, &crashAfter{}
			w.engine.Google = escalatingGoogle{crashingGoogle{w.engine.Google, gCrash}}
			w.engine.CRM = stateCRM{crashingCRM{w.crm, cCrash}, w.crm}
			name := w.newGoogleCase("Crashing escalation", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			w.google.ResetCalls()
			pick := ops[rng.IntN(len(ops))]
			c := cCrash
			if pick.side == "google" {
				c = gCrash
			}
			c.mu.Lock()
			c.op, c.left = pick.op, 1+rng.IntN(2)
			c.mu.Unlock()
			if rng.IntN(2) == 0 {
				// A state change in the same pass.
				if err := w.google.SetState(name, "IN_PROGRESS_GOOGLE_SUPPORT"); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.crm.RequestEscalation(id, "Business impact", "Down."); err != nil {
				t.Fatal(err)
			}
			w.settle()
			w.settle()
			g, _ := w.google.Case(name)
			if !g.Escalated || w.google.Calls()["cases.escalate"] != 1 {
				t.Errorf("crash after %s: escalated %v after %d calls, want once", pick.op, g.Escalated, w.google.Calls()["cases.escalate"])
			}
			if notes := escalationNotes(w, id); len(notes) != 1 || !strings.Contains(notes[0].Body, "done") {
				t.Errorf("crash after %s: escalation notes %v, want one saying done", pick.op, bodiesOf(notes))
			}
			if tk := w.crmCase(name); tk.Escalation.Requested {
				t.Errorf("crash after %s: the request is still on the CRM case", pick.op)
			}
		})
	}
}

// TestAStateWriteWhoseAnswerWasLostIsNotTakenForTheOldOne: a write of
// Google's state lands but its answer is lost; Google then goes back to the
// state casebridge had shown before. The CRM case must show it again.
func TestAStateWriteWhoseAnswerWasLostIsNotTakenForTheOldOne(t *testing.T) {
	w, name, _ := linkedPair(t, "State answer lost")
	crash := &crashAfter{}
	w.engine.CRM = stateCRM{crashingCRM{w.crm, crash}, w.crm}
	crash.mu.Lock()
	crash.op, crash.left = "SetGoogleState", 1
	crash.mu.Unlock()
	if err := w.google.SetState(name, "ACTION_REQUIRED"); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name}); !casesync.IsTransient(err) {
		t.Fatalf("SyncCase with the state write's answer lost: %v, want the injected transient error", err)
	}
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "ACTION_REQUIRED" {
		t.Fatalf("the lost write did not land: the ticket shows %q", got)
	}
	if err := w.google.SetState(name, "NEW"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := w.crmCase(name).CustomFields[crmsim.DefaultStateField]; got != "NEW" {
		t.Errorf("Google is back to NEW, the ticket shows %q", got)
	}
}
