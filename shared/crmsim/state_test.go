package crmsim_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

// stateSides gives a test the in-memory CRM and the Client over HTTP to
// it, each configured with state.
func stateSides(t *testing.T, state crmsim.StateConfig) (*crmsim.CRM, map[string]casesync.CRM) {
	t.Helper()
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now, State: state})
	client, _ := served(t, sim)
	client.State = state
	return sim, map[string]casesync.CRM{"in memory": sim, "over HTTP": client}
}

func TestATicketUpdateIsCheckedWholeBeforeAnythingIsWritten(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	_, ctl := served(t, sim)
	ctx := context.Background()
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	tests := []struct {
		name string
		u    crmsim.TicketUpdate
		want error
	}{
		{"a field the CRM does not define", crmsim.TicketUpdate{Status: "open", CustomFields: map[string]string{"no_such_field": "x"}}, crmsim.ErrUnknownField},
		{"a checkbox value other than true or false", crmsim.TicketUpdate{CustomFields: map[string]string{crmsim.DefaultStateField: "NEW", crmsim.DefaultEscalationField: "yes"}}, crmsim.ErrInvalidFieldValue},
		{"the closed status", crmsim.TicketUpdate{Status: crmsim.ClosedStatus}, crmsim.ErrInvalidStatus},
		{"a status the CRM does not have", crmsim.TicketUpdate{Status: "waiting"}, crmsim.ErrInvalidStatus},
		{"a text value over the field's limit", crmsim.TicketUpdate{Status: "open", CustomFields: map[string]string{crmsim.DefaultEscalationReasonField: strings.Repeat("x", crmsim.MaxFieldBytes+1)}}, crmsim.ErrTooLarge},
	}
	before, _ := sim.Ticket(id)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for side, err := range map[string]error{
				"in memory": sim.UpdateTicket(id, tc.u),
				"over HTTP": ctl.UpdateTicket(ctx, id, tc.u),
			} {
				var ae *casesync.APIError
				if !errors.As(err, &ae) || ae.Transient || !errors.Is(err, tc.want) {
					t.Errorf("%s: update = %v, want a permanent error wrapping %v", side, err, tc.want)
				}
			}
			after, _ := sim.Ticket(id)
			if after.Status != before.Status || len(after.CustomFields) != 0 || !after.UpdateTime.Equal(before.UpdateTime) {
				t.Errorf("a refused update changed the ticket: status %q, fields %v, update time %v (was %v)", after.Status, after.CustomFields, after.UpdateTime, before.UpdateTime)
			}
		})
	}
}

func TestATicketUpdateChangesTheUpdateTimeOnlyWhenItChangesSomething(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	u := crmsim.TicketUpdate{Status: "pending", CustomFields: map[string]string{crmsim.DefaultEscalationField: "true", crmsim.DefaultEscalationReasonField: "r"}}
	if err := sim.UpdateTicket(id, u); err != nil {
		t.Fatalf("UpdateTicket: %v", err)
	}
	first, _ := sim.Ticket(id)
	if first.Status != "pending" || first.CustomFields[crmsim.DefaultEscalationField] != "true" || first.CustomFields[crmsim.DefaultEscalationReasonField] != "r" {
		t.Fatalf("after the update the ticket is %q with %v", first.Status, first.CustomFields)
	}
	if err := sim.UpdateTicket(id, u); err != nil {
		t.Fatalf("UpdateTicket again: %v", err)
	}
	if again, _ := sim.Ticket(id); !again.UpdateTime.Equal(first.UpdateTime) {
		t.Errorf("the same update again moved the update time from %v to %v", first.UpdateTime, again.UpdateTime)
	}
	// "false" unchecks a checkbox, which then reads as empty.
	if err := sim.UpdateTicket(id, crmsim.TicketUpdate{CustomFields: map[string]string{crmsim.DefaultEscalationField: "false"}}); err != nil {
		t.Fatalf("UpdateTicket: %v", err)
	}
	unchecked, _ := sim.Ticket(id)
	if v, ok := unchecked.CustomFields[crmsim.DefaultEscalationField]; ok {
		t.Errorf("an unchecked checkbox holds %q", v)
	}
	if !unchecked.UpdateTime.After(first.UpdateTime) || unchecked.Status != "pending" {
		t.Errorf("unchecking: update time %v (was %v), status %q (want it kept)", unchecked.UpdateTime, first.UpdateTime, unchecked.Status)
	}
}

func TestStatusFollowsClosingAndReopening(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	for _, step := range []struct {
		name string
		do   func() error
		want string
	}{
		{"new", func() error { return nil }, crmsim.NewStatus},
		{"closed", func() error { return sim.CloseCase(context.Background(), id) }, crmsim.ClosedStatus},
		{"reopened", func() error { return sim.HumanReopen(id) }, crmsim.ReopenStatus},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if ts, _ := sim.Ticket(id); ts.Status != step.want || ts.Closed != (step.want == crmsim.ClosedStatus) {
			t.Errorf("%s: status %q, closed %v, want %q", step.name, ts.Status, ts.Closed, step.want)
		}
	}
}

func TestTheWireTicketCarriesItsStatusAndEveryField(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	client, ctl := served(t, sim)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	if err := client.SetGoogleState(context.Background(), id, "ACTION_REQUIRED"); err != nil {
		t.Fatalf("SetGoogleState: %v", err)
	}
	ts, err := ctl.Ticket(context.Background(), id)
	if err != nil {
		t.Fatalf("Ticket: %v", err)
	}
	if ts.Status != crmsim.NewStatus || ts.CustomFields[crmsim.DefaultStateField] != "ACTION_REQUIRED" {
		t.Errorf("the ticket reads %q with %v, want status new (no status mapped by default) and the state field set", ts.Status, ts.CustomFields)
	}
}

func TestAStateThatIsNotGooglesIsRefusedWithoutACall(t *testing.T) {
	sim, sides := stateSides(t, crmsim.StateConfig{})
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	for side, crm := range sides {
		sim.ResetCalls()
		for _, state := range []string{"", "closed", "STATE_UNSPECIFIED", "NEW "} {
			err := crm.(casesync.CaseStateCRM).SetGoogleState(context.Background(), id, state)
			if !errors.Is(err, crmsim.ErrInvalidState) || !casesync.IsPermanent(err) {
				t.Errorf("%s: SetGoogleState(%q) = %v, want a permanent ErrInvalidState", side, state, err)
			}
		}
		if n := sim.Calls()[crmsim.OpUpdate]; n != 0 {
			t.Errorf("%s: %d update calls reached the CRM, want none", side, n)
		}
	}
}

func TestAMappedStateIsWrittenWithItsStatusInOneCall(t *testing.T) {
	sim, sides := stateSides(t, crmsim.StateConfig{StateStatuses: map[string]string{"IN_PROGRESS_GOOGLE_SUPPORT": "on-hold"}})
	for side, crm := range sides {
		id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
		sim.ResetCalls()
		if err := crm.(casesync.CaseStateCRM).SetGoogleState(context.Background(), id, "IN_PROGRESS_GOOGLE_SUPPORT"); err != nil {
			t.Fatalf("%s: SetGoogleState: %v", side, err)
		}
		if calls := sim.Calls(); calls[crmsim.OpUpdate] != 1 || len(calls) != 1 {
			t.Errorf("%s: calls %v, want one update", side, calls)
		}
		ts, _ := sim.Ticket(id)
		if ts.Status != "on-hold" || ts.CustomFields[crmsim.DefaultStateField] != "IN_PROGRESS_GOOGLE_SUPPORT" {
			t.Errorf("%s: the ticket reads %q with %v", side, ts.Status, ts.CustomFields)
		}
		// An unmapped state leaves the status as it is.
		if err := crm.(casesync.CaseStateCRM).SetGoogleState(context.Background(), id, "SOLUTION_PROVIDED"); err != nil {
			t.Fatalf("%s: SetGoogleState: %v", side, err)
		}
		if ts, _ := sim.Ticket(id); ts.Status != "on-hold" || ts.CustomFields[crmsim.DefaultStateField] != "SOLUTION_PROVIDED" {
			t.Errorf("%s: after an unmapped state the ticket reads %q with %v", side, ts.Status, ts.CustomFields)
		}
	}
}

func TestWithTheFieldsTurnedOffNoCallIsMade(t *testing.T) {
	off := crmsim.StateConfig{StateField: crmsim.NoField, EscalationField: crmsim.NoField}
	sim, sides := stateSides(t, off)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	if err := sim.RequestEscalation(id, "r", "j"); err != nil {
		t.Fatalf("RequestEscalation: %v", err)
	}
	for side, crm := range sides {
		sim.ResetCalls()
		sc := crm.(casesync.CaseStateCRM)
		if err := sc.SetGoogleState(context.Background(), id, "NEW"); err != nil {
			t.Errorf("%s: SetGoogleState: %v", side, err)
		}
		if err := sc.ClearEscalationRequest(context.Background(), id); err != nil {
			t.Errorf("%s: ClearEscalationRequest: %v", side, err)
		}
		if n := sim.Calls()[crmsim.OpUpdate]; n != 0 {
			t.Errorf("%s: %d update calls, want none", side, n)
		}
		c, err := crm.GetCase(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: GetCase: %v", side, err)
		}
		if c.Escalation != (casesync.EscalationRequest{}) {
			t.Errorf("%s: with no escalation field the case reads %+v", side, c.Escalation)
		}
	}
}

func TestEscalationTextOverTheLimitIsDropped(t *testing.T) {
	sim, sides := stateSides(t, crmsim.StateConfig{})
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	atLimit := strings.Repeat("é", casesync.MaxEscalationText/2)
	over := strings.Repeat("x", casesync.MaxEscalationText+1)
	if err := sim.RequestEscalation(id, atLimit, over); err != nil {
		t.Fatalf("RequestEscalation: %v", err)
	}
	for side, crm := range sides {
		c, err := crm.GetCase(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: GetCase: %v", side, err)
		}
		if want := (casesync.EscalationRequest{Requested: true, Reason: atLimit}); c.Escalation != want {
			t.Errorf("%s: the request reads back with a reason of %d bytes and a justification of %d, want %d and 0",
				side, len(c.Escalation.Reason), len(c.Escalation.Justification), len(atLimit))
		}
	}
}

func TestATextEscalationFieldAsksUnlessEmptyOrFalse(t *testing.T) {
	const field = "escalation_note"
	sim := crmsim.New(crmsim.Options{
		Clock:  newSteppingClock().Now,
		Fields: append(slices.Clone(crmsim.DefaultFields), crmsim.Field{Name: field, Type: crmsim.FieldText}),
		State:  crmsim.StateConfig{EscalationField: field},
	})
	client, _ := served(t, sim)
	client.State = crmsim.StateConfig{EscalationField: field}
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	for _, tc := range []struct {
		value string
		want  bool
	}{{"yes please", true}, {"false", false}, {"FALSE", false}, {"", false}, {"1", true}} {
		if err := sim.UpdateTicket(id, crmsim.TicketUpdate{CustomFields: map[string]string{field: tc.value}}); err != nil {
			t.Fatalf("UpdateTicket: %v", err)
		}
		for side, crm := range map[string]casesync.CRM{"in memory": sim, "over HTTP": client} {
			c, err := crm.GetCase(context.Background(), id)
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			if c.Escalation.Requested != tc.want {
				t.Errorf("%s: the field holding %q reads as requested=%v, want %v", side, tc.value, c.Escalation.Requested, tc.want)
			}
		}
	}
	if err := client.ClearEscalationRequest(context.Background(), id); err != nil {
		t.Fatalf("ClearEscalationRequest: %v", err)
	}
	if ts, _ := sim.Ticket(id); ts.CustomFields[field] != "" {
		t.Errorf("after clearing, the text field holds %q", ts.CustomFields[field])
	}
}

func TestAHumanUpdateSendsAWebhookAndTheSyncUsersNamesIt(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	rcv := newReceiver(t, nil)
	if err := sim.SetWebhook(crmsim.Webhook{URL: rcv.srv.URL, Secret: webhookSecret}); err != nil {
		t.Fatal(err)
	}
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	sim.WaitWebhooks()
	if err := sim.RequestEscalation(id, "r", "j"); err != nil {
		t.Fatalf("RequestEscalation: %v", err)
	}
	sim.WaitWebhooks()
	if err := sim.ClearEscalationRequest(context.Background(), id); err != nil {
		t.Fatalf("ClearEscalationRequest: %v", err)
	}
	sim.WaitWebhooks()
	// Clearing again changes nothing: no webhook.
	if err := sim.ClearEscalationRequest(context.Background(), id); err != nil {
		t.Fatalf("ClearEscalationRequest: %v", err)
	}
	sim.WaitWebhooks()
	events, refused := rcv.got()
	want := []webhook.Event{
		simEvent(id, crmsim.EventCreated, "customer"),
		simEvent(id, crmsim.EventUpdated, crmsim.HumanAgent),
		simEvent(id, crmsim.EventUpdated, crmsim.DefaultSyncUser),
	}
	if diff := cmp.Diff(want, events); diff != "" || refused != 0 {
		t.Errorf("webhooks (-want +got), %d refused:\n%s", refused, diff)
	}
}

func TestNewRefusesAStateTableThatClosesOrNamesAnUnknownStatus(t *testing.T) {
	for _, m := range []map[string]string{
		{"CLOSED": "open"},
		{"ACTION_REQUIRED": crmsim.ClosedStatus},
		{"ACTION_REQUIRED": "waiting"},
		{"RESOLVED": "open"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted the state table %v", m)
				}
			}()
			crmsim.New(crmsim.Options{State: crmsim.StateConfig{StateStatuses: m}})
		}()
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("unset variables use the simulator's default fields and no status", func(t *testing.T) {
		cfg, problems := crmsim.ConfigFromEnv(env(), "http://127.0.0.1:1")
		want := crmsim.StateConfig{StateField: crmsim.DefaultStateField, EscalationField: crmsim.DefaultEscalationField,
			EscalationReasonField: crmsim.DefaultEscalationReasonField, EscalationJustificationField: crmsim.DefaultEscalationJustificationField}
		if len(problems) != 0 || cfg.State.StateField != want.StateField || cfg.State.EscalationField != want.EscalationField ||
			cfg.State.EscalationReasonField != want.EscalationReasonField || cfg.State.EscalationJustificationField != want.EscalationJustificationField ||
			len(cfg.State.StateStatuses) != 0 {
			t.Errorf("ConfigFromEnv = %+v, %v; want %+v", cfg.State, problems, want)
		}
	})
	t.Run("every variable is read", func(t *testing.T) {
		cfg, problems := crmsim.ConfigFromEnv(env(
			crmsim.EnvStateField, "gstate", crmsim.EnvStateStatuses, " ACTION_REQUIRED = open ,NEW=new",
			crmsim.EnvEscalationField, "none", crmsim.EnvEscalationReasonField, "why",
			crmsim.EnvEscalationJustificationField, "because"), "http://127.0.0.1:1")
		if len(problems) != 0 {
			t.Fatalf("problems: %v", problems)
		}
		s := cfg.State
		if s.StateField != "gstate" || s.EscalationField != crmsim.NoField || s.EscalationReasonField != "why" ||
			s.EscalationJustificationField != "because" || s.StateStatuses["ACTION_REQUIRED"] != "open" || s.StateStatuses["NEW"] != "new" || len(s.StateStatuses) != 2 {
			t.Errorf("ConfigFromEnv = %+v", s)
		}
		if _, err := crmsim.NewFromConfig(cfg); err != nil {
			t.Errorf("NewFromConfig: %v", err)
		}
	})
	for _, bad := range []string{"CLOSED=open", "ACTION_REQUIRED=closed", "ACTION_REQUIRED", "SOLVED=open", "NEW=new,NEW=open", "=open"} {
		t.Run("a state table of "+bad+" is a problem naming the variable", func(t *testing.T) {
			_, problems := crmsim.ConfigFromEnv(env(crmsim.EnvStateStatuses, bad), "http://127.0.0.1:1")
			if len(problems) != 1 || problems[0].Var != crmsim.EnvStateStatuses || !strings.Contains(problems[0].Message, "STATE=status") {
				t.Errorf("problems = %v, want one for %s saying what to set", problems, crmsim.EnvStateStatuses)
			}
		})
	}
}
