package crmcontract

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// StateHarness is implemented by the harness of an adapter that implements
// casesync.CaseStateCRM: it acts as a person asking for an escalation, and
// reads what a person sees of Google's case state. The adapter it gives is
// configured with a Google-state field and escalation request fields.
type StateHarness interface {
	Harness
	// RequestEscalation asks, as a human agent, for the case's Google case
	// to be escalated, with the given reason and justification text in the
	// CRM's fields for them ("" leaves a field empty).
	RequestEscalation(t *testing.T, id, reason, justification string)
	// GoogleState reads, as a person sees them, the case's Google-state
	// field and its CRM status (the CRM's own value).
	GoogleState(t *testing.T, id string) (state, status string)
	// MappedState returns a Google state the adapter under test is
	// configured to map to a CRM status, and that status; ok is false when
	// it maps none.
	MappedState() (state, status string, ok bool)
}

// googleStates are the CSAPI case states an adapter is given.
var googleStates = []string{"NEW", "IN_PROGRESS_GOOGLE_SUPPORT", "ACTION_REQUIRED", "SOLUTION_PROVIDED", "CLOSED"}

// runState runs the subtests of Google's case state and escalation
// requests. An adapter that implements casesync.CaseStateCRM must come with
// a StateHarness.
func runState(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := newHarness(t)
	if _, ok := h.CRM().(casesync.CaseStateCRM); !ok {
		return
	}
	if _, ok := h.(StateHarness); !ok {
		t.Errorf("the adapter implements casesync.CaseStateCRM but its harness (%T) is not a crmcontract.StateHarness", h)
		return
	}
	state := func(t *testing.T) StateHarness { return newHarness(t).(StateHarness) }
	t.Run("every Google state is written to the state field, twice is fine, and none closes the case", func(t *testing.T) {
		testGoogleStates(t, state(t))
	})
	t.Run("a Google state mapped to a status sets that status", func(t *testing.T) {
		testMappedState(t, state(t))
	})
	t.Run("an escalation request reads back with its reason and justification until it is cleared", func(t *testing.T) {
		testEscalationRequest(t, state(t))
	})
	t.Run("a case with no escalation request reads back without one", func(t *testing.T) {
		testNoEscalationRequest(t, state(t))
	})
	t.Run("state and escalation calls on an unknown case report not found", func(t *testing.T) {
		testStateUnknownCase(t, state(t))
	})
}

func stateCRM(t *testing.T, h Harness) casesync.CaseStateCRM {
	t.Helper()
	return h.CRM().(casesync.CaseStateCRM)
}

func testGoogleStates(t *testing.T, h StateHarness) {
	crm := stateCRM(t, h)
	id := h.CreateTicket(t, "Contract: Google state", "d", h.PriorityValues()[0], true)
	mappedState, mappedStatus, mapped := h.MappedState()
	for _, s := range googleStates {
		for i := 1; i <= 2; i++ {
			if err := crm.SetGoogleState(ctxFor(t), id, s); err != nil {
				t.Fatalf("SetGoogleState(%s) call %d: %v", s, i, err)
			}
		}
		got, status := h.GoogleState(t, id)
		if got != s {
			t.Errorf("after SetGoogleState(%s) the state field reads %q", s, got)
		}
		if mapped && s == mappedState && status != mappedStatus {
			t.Errorf("after SetGoogleState(%s) the status is %q, want the mapped %q", s, status, mappedStatus)
		}
		if c := mustGet(t, h.CRM(), id); c.Closed {
			t.Fatalf("SetGoogleState(%s) closed the case", s)
		}
	}
}

func testMappedState(t *testing.T, h StateHarness) {
	state, status, ok := h.MappedState()
	if !ok {
		t.Logf("the adapter under test maps no Google state to a status")
		return
	}
	crm := stateCRM(t, h)
	id := h.CreateTicket(t, "Contract: mapped Google state", "d", h.PriorityValues()[0], true)
	_, before := h.GoogleState(t, id)
	if before == status {
		t.Fatalf("a new ticket already has the status %q the test expects SetGoogleState to set", status)
	}
	if err := crm.SetGoogleState(ctxFor(t), id, state); err != nil {
		t.Fatalf("SetGoogleState(%s): %v", state, err)
	}
	if _, got := h.GoogleState(t, id); got != status {
		t.Errorf("after SetGoogleState(%s) the status is %q, want %q", state, got, status)
	}
	c := mustGet(t, h.CRM(), id)
	if c.Closed {
		t.Errorf("the mapped status %q reads back as closed", status)
	}
}

func testEscalationRequest(t *testing.T, h StateHarness) {
	crm := stateCRM(t, h)
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: escalate", "d", h.PriorityValues()[0], true)
	before := mustGet(t, h.CRM(), id)
	h.RequestEscalation(t, id, "Business impact", "Production is down for our customers.")
	c := mustGet(t, h.CRM(), id)
	want := casesync.EscalationRequest{Requested: true, Reason: "Business impact", Justification: "Production is down for our customers."}
	if c.Escalation != want {
		t.Errorf("after a person asked for an escalation the case reads back with %+v, want %+v", c.Escalation, want)
	}
	// The poll reads the request too.
	found := false
	deadline := time.Now().Add(searchVisibleWithin)
	for !found && time.Now().Before(deadline) {
		cases, err := h.CRM().SearchUpdated(ctx, before.UpdateTime.Add(-time.Second))
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		found = slices.ContainsFunc(cases, func(x casesync.CompanyCase) bool {
			return x.ID == id && x.Escalation.Requested
		})
		if !found {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !found {
		t.Errorf("SearchUpdated after the request does not return the case with its request")
	}
	for i := 1; i <= 2; i++ {
		if err := crm.ClearEscalationRequest(ctx, id); err != nil {
			t.Fatalf("ClearEscalationRequest call %d: %v", i, err)
		}
		if c := mustGet(t, h.CRM(), id); c.Escalation.Requested {
			t.Errorf("after ClearEscalationRequest call %d the case still asks for an escalation", i)
		}
	}
	if c := mustGet(t, h.CRM(), id); c.Closed {
		t.Errorf("clearing the escalation request closed the case")
	}
	// A second request after the first was handled reads back again.
	h.RequestEscalation(t, id, "", "")
	c = mustGet(t, h.CRM(), id)
	if !c.Escalation.Requested {
		t.Errorf("a second request after the first was cleared does not read back")
	}
}

func testNoEscalationRequest(t *testing.T, h StateHarness) {
	id := h.CreateTicket(t, "Contract: no escalation", "d", h.PriorityValues()[0], true)
	if c := mustGet(t, h.CRM(), id); c.Escalation != (casesync.EscalationRequest{}) {
		t.Errorf("a new ticket reads back with escalation request %+v, want none", c.Escalation)
	}
	c := mustCreate(t, h.CRM(), casesync.NewCompanyCase{Subject: "Contract: created, no escalation", Description: "d", Priority: h.PriorityValues()[0], GoogleCase: googleCaseName()})
	if c.Escalation != (casesync.EscalationRequest{}) {
		t.Errorf("a case the connector created reads back with escalation request %+v, want none", c.Escalation)
	}
}

func testStateUnknownCase(t *testing.T, h StateHarness) {
	crm := stateCRM(t, h)
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"setting its Google state", func(ctx context.Context) error { return crm.SetGoogleState(ctx, unknownID, "ACTION_REQUIRED") }},
		{"clearing its escalation request", func(ctx context.Context) error { return crm.ClearEscalationRequest(ctx, unknownID) }},
	} {
		err := tc.call(ctxFor(t))
		if !casesync.IsNotFound(err) {
			t.Errorf("%s: error %v, want not found", tc.name, err)
		}
	}
}

// runEngineState runs the engine's handling of Google's case state and of
// escalation requests against the CRM under test, when its harness is a
// StateHarness.
func runEngineState(t *testing.T, w *engineWorld) {
	h, ok := w.h.(StateHarness)
	if _, isState := w.crm.(casesync.CaseStateCRM); !isState {
		return
	}
	if !ok {
		t.Errorf("the adapter implements casesync.CaseStateCRM but its harness (%T) is not a crmcontract.StateHarness", w.h)
		return
	}
	// link makes a Google case and lets the engine give it a CRM case.
	link := func(t *testing.T, title string) (string, string) {
		t.Helper()
		name := w.newGoogleCase(t, title, "P3")
		w.settle(t)
		id := w.mappingOf(t, name, "").CompanyCaseID
		if id == "" {
			t.Fatalf("the Google case got no CRM case")
		}
		return name, id
	}
	// outcomeNotes returns the connector's notes about an escalation.
	outcomeNotes := func(t *testing.T, id string) []casesync.Comment {
		t.Helper()
		var out []casesync.Comment
		for _, c := range w.crmComments(t, id) {
			if c.ByConnector && strings.HasPrefix(c.Body, "Escalation of Google case ") {
				out = append(out, c)
			}
		}
		return out
	}

	t.Run("Google's case state shows on the CRM case when it changes, and is not written again", func(t *testing.T) {
		name, id := link(t, "Engine: state")
		if got, _ := h.GoogleState(t, id); got != "NEW" {
			t.Errorf("a new linked case shows Google state %q, want NEW", got)
		}
		states := []string{"IN_PROGRESS_GOOGLE_SUPPORT", "ACTION_REQUIRED", "SOLUTION_PROVIDED"}
		if mapped, _, ok := h.MappedState(); ok && !slices.Contains(states, mapped) && mapped != "NEW" {
			states = append(states, mapped)
		}
		for _, s := range states {
			if err := w.sim.SetState(name, s); err != nil {
				t.Fatalf("SetState(%s): %v", s, err)
			}
			w.settle(t)
			got, status := h.GoogleState(t, id)
			if got != s {
				t.Errorf("after Google's state became %s the CRM case shows %q", s, got)
			}
			if mapped, want, ok := h.MappedState(); ok && mapped == s && status != want {
				t.Errorf("after Google's state became %s the CRM status is %q, want %q", s, status, want)
			}
			if mustGet(t, w.crm, id).Closed {
				t.Fatalf("showing Google state %s closed the CRM case", s)
			}
		}
		if m := w.mappingOf(t, name, ""); m.GoogleStateShown != states[len(states)-1] {
			t.Errorf("the mapping records state %q as shown, want %q", m.GoogleStateShown, states[len(states)-1])
		}
		// A quiet pass writes nothing: the CRM case's update time stays.
		before := mustGet(t, w.crm, id).UpdateTime
		if _, err := w.engine.SyncCase(ctxFor(t), casesync.CaseRef{Side: casesync.SideGoogle, ID: name}); err != nil {
			t.Fatalf("SyncCase: %v", err)
		}
		if after := mustGet(t, w.crm, id).UpdateTime; !after.Equal(before) {
			t.Errorf("a pass with Google's state unchanged changed the CRM case (update time %v to %v)", before, after)
		}
	})

	t.Run("an escalation asked for in the CRM escalates the Google case once, with a note, and is withdrawn", func(t *testing.T) {
		name, id := link(t, "Engine: escalate")
		w.sim.ResetCalls()
		h.RequestEscalation(t, id, "Technical expertise", "We need a specialist.")
		w.settle(t)
		g, _ := w.sim.Case(name)
		if !g.Escalated {
			t.Errorf("the Google case is not escalated")
		}
		if n := w.sim.Calls()["cases.escalate"]; n != 1 {
			t.Errorf("cases.escalate was called %d times, want 1", n)
		}
		if c := mustGet(t, w.crm, id); c.Escalation.Requested {
			t.Errorf("the CRM case still asks for an escalation")
		}
		notes := outcomeNotes(t, id)
		if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "done") {
			t.Errorf("the CRM case has escalation notes %+v, want one internal note saying it was done", notes)
		}
		for _, b := range w.googleBodies() {
			if strings.Contains(b, "Escalation of Google case") {
				t.Errorf("the escalation note reached Google")
			}
		}
		// Asked again within the hour: the earlier note answers it, and
		// casebridge leaves it alone (a CRM automation that puts the
		// request back cannot make it note or escalate without end).
		h.RequestEscalation(t, id, "", "")
		w.settle(t)
		w.settle(t)
		if n := w.sim.Calls()["cases.escalate"]; n != 1 {
			t.Errorf("after a second request cases.escalate was called %d times in all, want 1", n)
		}
		if notes = outcomeNotes(t, id); len(notes) != 1 {
			t.Errorf("after a second request within the hour the notes are %v, want the first alone", commentBodies(notes))
		}
	})

	t.Run("an escalation a support plan does not allow is noted as refused and withdrawn", func(t *testing.T) {
		_, id := link(t, "Engine: escalation denied")
		w.sim.SetEscalationDenied(true)
		defer w.sim.SetEscalationDenied(false)
		h.RequestEscalation(t, id, "", "")
		w.settle(t)
		notes := outcomeNotes(t, id)
		if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "support plan does not include technical escalations") {
			t.Errorf("the CRM case has escalation notes %v, want one internal note saying the plan has no escalations", commentBodies(notes))
		}
		if c := mustGet(t, w.crm, id); c.Escalation.Requested {
			t.Errorf("the CRM case still asks for an escalation")
		}
	})
}
