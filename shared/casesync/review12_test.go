package casesync_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// review12Drive runs the system for rounds scheduler ticks, each step
// apart, tolerating failed reconciliations (a permanent failure is retried
// by the sweep once due, as in production). It reports whether the last
// round published nothing, and every error the reconciliations returned.
func review12Drive(w *world, rounds int, step time.Duration) (settled bool, errs []error) {
	w.t.Helper()
	for round := 0; round < rounds; round++ {
		w.clock.Advance(step)
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			w.t.Fatalf("PollGoogle: %v", err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			w.t.Fatalf("PollCRM: %v", err)
		}
		refs := w.queue.take()
		if len(refs) == 0 {
			settled = true
			continue
		}
		settled = false
		for _, ref := range refs {
			w.tick()
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return settled, errs
}

// refusingStateCRM is the CRM simulator whose ClearEscalationRequest is
// refused for good (a CRM whose sync user may not edit the escalation
// field, a Zendesk ticket that is closed and can no longer be updated).
type refusingStateCRM struct {
	*crmsim.CRM
}

func (c refusingStateCRM) ClearEscalationRequest(ctx context.Context, id string) error {
	return &casesync.APIError{Side: casesync.SideCompany, Op: "update", Status: 403, Err: errors.New("you may not edit this field")}
}

// TestReview12ARefusedStateOrClearWriteDoesNotKeepTheCRMCaseOpen: the
// Google case's state and the request's withdrawal are extras; a CRM that
// refuses either for good must not stop the pair from closing.
func TestReview12ARefusedStateOrClearWriteDoesNotKeepTheCRMCaseOpen(t *testing.T) {
	t.Run("state field refused", func(t *testing.T) {
		w, name, id := linkedPair(t, "State refused")
		// The administrator removed the state field: every update that
		// writes it is refused (HTTP 400).
		w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpUpdate, Status: 400})
		if err := w.google.CloseCase(name); err != nil {
			t.Fatal(err)
		}
		_, errs := review12Drive(w, 12, 5*time.Minute)
		if tk, _ := w.crm.Ticket(id); !tk.Closed {
			m := w.mapping(name)
			t.Errorf("the Google case closed but the CRM case is still open after %d failed runs (mapping attempts %d, last error %q)",
				len(errs), m.Attempts, m.LastError)
		}
	})
	t.Run("withdrawal refused", func(t *testing.T) {
		w, name, id := linkedPair(t, "Clear refused")
		w.engine.CRM = refusingStateCRM{w.crm}
		if err := w.crm.RequestEscalation(id, "", ""); err != nil {
			t.Fatal(err)
		}
		review12Drive(w, 3, 5*time.Minute)
		if err := w.google.CloseCase(name); err != nil {
			t.Fatal(err)
		}
		_, errs := review12Drive(w, 12, 5*time.Minute)
		if n := w.google.Calls()["cases.escalate"]; n != 1 {
			t.Errorf("cases.escalate called %d times, want 1", n)
		}
		if notes := escalationNotes(w, id); len(notes) != 1 {
			t.Errorf("escalation notes %v, want one", bodiesOf(notes))
		}
		if tk, _ := w.crm.Ticket(id); !tk.Closed {
			m := w.mapping(name)
			t.Errorf("the Google case closed but the CRM case is still open after %d failed runs (mapping attempts %d, last error %q)",
				len(errs), m.Attempts, m.LastError)
		}
	})
}

// TestReview12AnAnsweredRequestIsNotHandledAgainAfterAReopenWithANewCase: a
// request on a closed pair is answered ("not possible, closed"), its
// withdrawal fails for a while; the person then reopens the CRM case and
// casebridge opens a new Google case. The answered request must not be
// taken for a new one and escalate the new case.
func TestReview12AnAnsweredRequestIsNotHandledAgainAfterAReopenWithANewCase(t *testing.T) {
	w := newWorld(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase})
	name := w.newGoogleCase("Answered then reopened", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if err := w.google.CloseCase(name); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if tk, _ := w.crm.Ticket(id); !tk.Closed {
		t.Fatalf("the CRM case did not close with its Google case")
	}
	w.google.ResetCalls()
	// The CRM's updates fail for a while (the withdrawal among them).
	w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpUpdate, Status: 503})
	if err := w.crm.RequestEscalation(id, "", ""); err != nil {
		t.Fatal(err)
	}
	review12Drive(w, 3, 2*time.Minute)
	if notes := escalationNotes(w, id); len(notes) != 1 || !strings.Contains(notes[0].Body, "closed") {
		t.Fatalf("escalation notes %v before the reopen, want one saying the case is closed", bodiesOf(notes))
	}
	if p := w.mapping(name).Escalation; !p.Noted || !p.Clearing {
		t.Fatalf("progress %+v, want the request answered and being withdrawn", p)
	}
	w.crm.ClearFaults()
	if err := w.crm.HumanReopen(id); err != nil {
		t.Fatal(err)
	}
	// The mapping's retry is due after its backoff.
	review12Drive(w, 3, 5*time.Minute)
	w.settle()
	m, _, err := w.store.ResolveMapping(w.ctx, "", id, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.GoogleCase == name {
		tk, _ := w.crm.Ticket(id)
		t.Fatalf("no new Google case after the reopen: mapping %+v; ticket closed %v; google cases %d", m, tk.Closed, len(w.google.Cases()))
	}
	if g, _ := w.google.Case(m.GoogleCase); g.Escalated || w.google.Calls()["cases.escalate"] != 0 {
		t.Errorf("the new Google case was escalated (%d calls) for a request already answered on the old one", w.google.Calls()["cases.escalate"])
	}
	if notes := escalationNotes(w, id); len(notes) != 1 {
		t.Errorf("escalation notes %v, want only the one answering the request", bodiesOf(notes))
	}
}

// TestReview12AnEscalationDoneIsNotedEvenWhenTheRequestIsWithdrawnFirst:
// casebridge escalated the Google case but could not post the note yet;
// the person unticks the request meanwhile. The escalation happened: the
// CRM case must still say so.
func TestReview12AnEscalationDoneIsNotedEvenWhenTheRequestIsWithdrawnFirst(t *testing.T) {
	w, name, id := linkedPair(t, "Withdrawn before noted")
	w.google.ResetCalls()
	w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpAddComment, Status: 503})
	if err := w.crm.RequestEscalation(id, "", ""); err != nil {
		t.Fatal(err)
	}
	review12Drive(w, 2, 2*time.Minute)
	if p := w.mapping(name).Escalation; p.Outcome != casesync.EscalationDone || p.Noted {
		t.Fatalf("progress %+v, want escalated and not yet noted", p)
	}
	if err := w.crm.UpdateTicket(id, crmsim.TicketUpdate{CustomFields: map[string]string{crmsim.DefaultEscalationField: ""}}); err != nil {
		t.Fatal(err)
	}
	w.crm.ClearFaults()
	// The failed runs left the mapping due later (backoff): the sweep asks
	// for it then.
	review12Drive(w, 6, 5*time.Minute)
	if g, _ := w.google.Case(name); !g.Escalated {
		t.Fatalf("the Google case is not escalated")
	}
	if notes := escalationNotes(w, id); len(notes) != 1 || !strings.Contains(notes[0].Body, "done") {
		t.Errorf("escalation notes %v: the Google case was escalated and the CRM case does not say so", bodiesOf(notes))
	}
}

// reRequestingCRM models a CRM automation (a Zendesk trigger "priority is
// urgent and tags contain none of escalate_to_google: add the tag") that
// asks again for an escalation as soon as the request is withdrawn.
type reRequestingCRM struct {
	*crmsim.CRM
}

func (c reRequestingCRM) ClearEscalationRequest(ctx context.Context, id string) error {
	if err := c.CRM.ClearEscalationRequest(ctx, id); err != nil {
		return err
	}
	return c.CRM.RequestEscalation(id, "", "")
}

// TestReview12ARequestAskedAgainByAnAutomationSettles: once the Google case
// is escalated, a request that keeps coming back changes nothing on
// Google's side; casebridge must not answer it with a note on every pass
// for ever.
func TestReview12ARequestAskedAgainByAnAutomationSettles(t *testing.T) {
	w, name, id := linkedPair(t, "Automation asks again")
	w.engine.CRM = reRequestingCRM{w.crm}
	w.google.ResetCalls()
	if err := w.crm.RequestEscalation(id, "", ""); err != nil {
		t.Fatal(err)
	}
	settled, errs := review12Drive(w, 10, 2*time.Minute)
	if len(errs) > 0 {
		t.Logf("errors: %v", errs)
	}
	if n := w.google.Calls()["cases.escalate"]; n != 1 {
		t.Errorf("cases.escalate called %d times, want 1", n)
	}
	notes := escalationNotes(w, id)
	if !settled || len(notes) > 2 {
		t.Errorf("after 10 rounds the system settled %v with %d escalation notes on the CRM case (want it settled with at most 2); mapping progress %+v",
			settled, len(notes), w.mapping(name).Escalation)
	}
}

// TestReview12ARequestOnAClosedPairIsAnsweredWithoutACall: coverage for the
// closed outcome (the state tests cover denied and already escalated).
func TestReview12ARequestOnAClosedPairIsAnsweredWithoutACall(t *testing.T) {
	w, name, id := linkedPair(t, "Closed pair")
	if err := w.google.CloseCase(name); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.google.ResetCalls()
	if err := w.crm.RequestEscalation(id, "", ""); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if n := w.google.Calls()["cases.escalate"]; n != 0 {
		t.Errorf("cases.escalate called %d times on a closed case", n)
	}
	notes := escalationNotes(w, id)
	if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "not possible. The Google case is closed") {
		t.Errorf("escalation notes %v, want one internal note saying the case is closed", bodiesOf(notes))
	}
	tk, _ := w.crm.Ticket(id)
	if tk.Escalation.Requested || !tk.Closed {
		t.Errorf("CRM case: request still set %v, closed %v; want withdrawn and still closed", tk.Escalation.Requested, tk.Closed)
	}
	if m := w.mapping(name); m.Escalation != (casesync.EscalationProgress{}) {
		t.Errorf("the mapping keeps escalation progress %+v", m.Escalation)
	}
}

// TestReview12ARequestOnANewCRMCaseEscalatesItsNewGoogleCase: a request made
// on a CRM case before it is linked is handled once the Google case exists.
func TestReview12ARequestOnANewCRMCaseEscalatesItsNewGoogleCase(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Escalate from the start", Description: "Down.", Priority: "urgent", SyncFlag: true, Requester: customer})
	if err := w.crm.RequestEscalation(id, "Resolution time", "Down for hours."); err != nil {
		t.Fatal(err)
	}
	w.settle()
	m, _, err := w.store.ResolveMapping(w.ctx, "", id, false, nil)
	if err != nil || m.GoogleCase == "" {
		t.Fatalf("no Google case for the CRM case: %v", err)
	}
	if g, _ := w.google.Case(m.GoogleCase); !g.Escalated || w.google.Calls()["cases.escalate"] != 1 {
		t.Errorf("the new Google case escalated %v after %d calls, want once", g.Escalated, w.google.Calls()["cases.escalate"])
	}
	if notes := escalationNotes(w, id); len(notes) != 1 || !strings.Contains(notes[0].Body, "done") {
		t.Errorf("escalation notes %v, want one saying done", bodiesOf(notes))
	}
	if tk, _ := w.crm.Ticket(id); tk.Escalation.Requested {
		t.Errorf("the request is still on the CRM case")
	}
}

// TestReview12AReopenWithANewCaseShowsTheNewCasesState: the state shown
// starts over with the new Google case (StartOverOnNewGoogleCase).
func TestReview12AReopenWithANewCaseShowsTheNewCasesState(t *testing.T) {
	w := newWorld(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase})
	name := w.newGoogleCase("State after reopen", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if err := w.google.CloseCase(name); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if tk, _ := w.crm.Ticket(id); tk.CustomFields[crmsim.DefaultStateField] != "CLOSED" {
		t.Fatalf("the closed pair's CRM case shows %q, want CLOSED", tk.CustomFields[crmsim.DefaultStateField])
	}
	if err := w.crm.HumanReopen(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.settle()
	m, _, err := w.store.ResolveMapping(w.ctx, "", id, false, nil)
	if err != nil || m.GoogleCase == name {
		t.Fatalf("no new Google case after the reopen (%v)", err)
	}
	if tk, _ := w.crm.Ticket(id); tk.CustomFields[crmsim.DefaultStateField] != "NEW" || m.GoogleStateShown != "NEW" {
		t.Errorf("after the reopen the CRM case shows %q (mapping %q), want the new case's NEW", tk.CustomFields[crmsim.DefaultStateField], m.GoogleStateShown)
	}
}

// hookedEscalateGoogle runs a hook before cases.escalate is sent, standing
// in for what another worker does while the call is on its way.
type hookedEscalateGoogle struct {
	casesync.Google
	before func()
}

func (g *hookedEscalateGoogle) Escalate(ctx context.Context, name, reason, justification string) error {
	if f := g.before; f != nil {
		g.before = nil
		f()
	}
	return g.Google.Escalate(ctx, name, reason, justification)
}

// TestReview12AnEscalationInFlightIsNotSentAgainByTheNextHolder: a worker
// records its intent and sends cases.escalate; the call outlives its lease
// and another worker takes the mapping before the call lands. The other
// worker must not send a second escalation for the same request.
func TestReview12AnEscalationInFlightIsNotSentAgainByTheNextHolder(t *testing.T) {
	w, name, id := linkedPair(t, "Escalation in flight")
	plain := w.engine.Google
	h := &hookedEscalateGoogle{Google: plain}
	w.engine.Google = h
	w.google.ResetCalls()
	if err := w.crm.RequestEscalation(id, "", ""); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollCRM(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	if len(refs) != 1 {
		t.Fatalf("the CRM poll published %d, want 1", len(refs))
	}
	var second error
	h.before = func() {
		// The call is slow to arrive; the lease runs out and another
		// worker reconciles the mapping from what is stored.
		w.clock.Advance(time.Minute)
		other := *w.engine
		other.Google = plain
		_, second = other.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: id})
	}
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Logf("the first worker: %v", err)
	}
	if second != nil {
		t.Logf("the second worker: %v", second)
	}
	w.settle()
	if g, _ := w.google.Case(name); !g.Escalated {
		t.Fatalf("the Google case is not escalated")
	}
	if n := w.google.Calls()["cases.escalate"]; n != 1 {
		t.Errorf("cases.escalate sent %d times for one request, want 1", n)
	}
	if notes := escalationNotes(w, id); len(notes) != 1 {
		t.Errorf("escalation notes %v, want one", bodiesOf(notes))
	}
}
