package zendesk_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

func ticketState(t *testing.T, sim *zendesktest.Server, id string) zendesktest.TicketView {
	t.Helper()
	v, err := sim.TicketState(id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sortedTags(v zendesktest.TicketView) []string {
	tags := slices.Clone(v.Tags)
	slices.Sort(tags)
	return tags
}

// TestWithoutAStateFieldTheStateIsATagThatReplacesTheLast: with no setup
// the state is the tag google_state_{state}, which replaces the previous
// state tag and keeps every other tag; writing it again sends nothing.
func TestWithoutAStateFieldTheStateIsATagThatReplacesTheLast(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{}, nil)
	ctx := context.Background()
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.AddHumanTags(id, "vip", "google_state_new"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := crm.SetGoogleState(ctx, id, "ACTION_REQUIRED"); err != nil {
			t.Fatal(err)
		}
	}
	v := ticketState(t, sim, id)
	if got, want := sortedTags(v), []string{"google_state_action_required", "vip"}; !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	if v.Status != "new" {
		t.Errorf("status %q: no status is mapped by default", v.Status)
	}
	if n := sim.Calls()["PUT /api/v2/tickets/{id}"]; n != 1 {
		t.Errorf("%d ticket updates for the same state written twice, want 1", n)
	}
}

// TestATagAPersonAddsWhileTheStateIsWrittenIsKept: the state tag is sent
// with the whole tag list as a safe update; a person's tag added between
// the adapter's read and its write makes Zendesk refuse it (409), and the
// adapter reads the ticket again, keeping the person's tag.
func TestATagAPersonAddsWhileTheStateIsWrittenIsKept(t *testing.T) {
	clk := clock.NewManual(time.Now().UTC().Truncate(time.Second))
	var sim *zendesktest.Server
	var once sync.Once
	hook := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v2/tickets/") {
			once.Do(func() {
				clk.Advance(time.Second)
				if err := sim.AddHumanTags(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2/tickets/"), ".json"), "urgent_customer"); err != nil {
					t.Error(err)
				}
			})
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	sim = zendesktest.NewServer(t, zendesktest.Options{Clock: clk.Now})
	crm := adapterFor(t, sim, func(c *zendesk.Config) { c.HTTP = &http.Client{Transport: hook} })
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	clk.Advance(time.Second)
	if err := crm.SetGoogleState(context.Background(), id, "SOLUTION_PROVIDED"); err != nil {
		t.Fatal(err)
	}
	if got, want := sortedTags(ticketState(t, sim, id)), []string{"google_state_solution_provided", "urgent_customer"}; !slices.Equal(got, want) {
		t.Errorf("tags %v, want %v: the person's tag must survive", got, want)
	}
	if n := sim.Calls()["PUT /api/v2/tickets/{id}"]; n != 2 {
		t.Errorf("%d ticket updates, want 2 (the refused one and the one after reading again)", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAStateNeverReopensOrTouchesAClosedTicketsFields: a mapped status is
// not set on a solved ticket (the field is still written), and a ticket in
// status closed, which takes no field changes, is left alone in field mode
// and gets its tag in tag mode.
func TestAStateNeverReopensOrTouchesAClosedTicketsFields(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, zendesktest.Options{Fields: stateFields}, withStateFields)
	solved := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.SetHumanStatus(solved, "solved"); err != nil {
		t.Fatal(err)
	}
	if err := crm.SetGoogleState(ctx, solved, "ACTION_REQUIRED"); err != nil {
		t.Fatal(err)
	}
	if v := ticketState(t, sim, solved); v.Status != "solved" || v.Fields[stateFieldID] != "ACTION_REQUIRED" {
		t.Errorf("solved ticket: status %q, state %v; want solved kept and the state written", v.Status, v.Fields[stateFieldID])
	}
	closed := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.SetHumanStatus(closed, "closed"); err != nil {
		t.Fatal(err)
	}
	before := sim.Calls()["PUT /api/v2/tickets/{id}"]
	if err := crm.SetGoogleState(ctx, closed, "ACTION_REQUIRED"); err != nil {
		t.Fatalf("field mode on a closed ticket: %v", err)
	}
	if n := sim.Calls()["PUT /api/v2/tickets/{id}"] - before; n != 0 {
		t.Errorf("field mode sent %d updates to a closed ticket, want none", n)
	}
	tagCRM := adapterFor(t, sim, nil)
	if err := tagCRM.SetGoogleState(ctx, closed, "CLOSED"); err != nil {
		t.Fatalf("tag mode on a closed ticket: %v", err)
	}
	if v := ticketState(t, sim, closed); !slices.Contains(v.Tags, "google_state_closed") || v.Status != "closed" {
		t.Errorf("closed ticket: tags %v, status %q; want the state tag and closed kept", v.Tags, v.Status)
	}
}

// TestClearingTheEscalationTagRemovesThatTagAlone: the request tag is
// removed with the Remove Tags endpoint, the other tags kept; a second
// clear sends nothing; on a closed ticket, which the tag endpoints do not
// change, a safe ticket update removes it.
func TestClearingTheEscalationTagRemovesThatTagAlone(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, zendesktest.Options{}, nil)
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.AddHumanTags(id, "vip", zendesk.DefaultEscalationTag); err != nil {
		t.Fatal(err)
	}
	c, err := crm.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Escalation.Requested {
		t.Fatal("the tag does not read as a request")
	}
	for range 2 {
		if err := crm.ClearEscalationRequest(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := sortedTags(ticketState(t, sim, id)); !slices.Equal(got, []string{"vip"}) {
		t.Errorf("tags %v, want [vip]", got)
	}
	calls := sim.Calls()
	if calls["DELETE /api/v2/tickets/{id}/tags"] != 1 || calls["PUT /api/v2/tickets/{id}"] != 0 {
		t.Errorf("calls %v; want one Remove Tags and no ticket update", calls)
	}

	closed := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.AddHumanTags(closed, "vip", zendesk.DefaultEscalationTag); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetHumanStatus(closed, "closed"); err != nil {
		t.Fatal(err)
	}
	if err := crm.ClearEscalationRequest(ctx, closed); err != nil {
		t.Fatalf("clearing on a closed ticket: %v", err)
	}
	if got := sortedTags(ticketState(t, sim, closed)); !slices.Equal(got, []string{"vip"}) {
		t.Errorf("closed ticket tags %v, want [vip]", got)
	}
}

// TestACheckboxEscalationFieldIsReadAndUnticked: with ZENDESK_ESCALATION_FIELD
// naming a checkbox, ticking it is the request and clearing unticks it;
// reason text over casesync.MaxEscalationText is dropped, not an error.
func TestACheckboxEscalationFieldIsReadAndUnticked(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, zendesktest.Options{Fields: stateFields}, func(c *zendesk.Config) {
		withStateFields(c)
		c.EscalationFieldID = escalationBoxID
	})
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	if err := sim.AddHumanTags(id, zendesk.DefaultEscalationTag); err != nil {
		t.Fatal(err)
	}
	if c, _ := crm.GetCase(ctx, id); c.Escalation.Requested {
		t.Error("the tag reads as a request while a checkbox field is configured")
	}
	long := strings.Repeat("x", casesync.MaxEscalationText+1)
	if err := sim.SetHumanFields(id, map[int64]any{escalationBoxID: true, reasonFieldID: long, justificationFieldID: "Prod down."}); err != nil {
		t.Fatal(err)
	}
	c, err := crm.GetCase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := (casesync.EscalationRequest{Requested: true, Justification: "Prod down."}); c.Escalation != want {
		t.Errorf("read %+v, want %+v (the oversized reason dropped)", c.Escalation, want)
	}
	if err := crm.ClearEscalationRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	v := ticketState(t, sim, id)
	if v.Fields[escalationBoxID] != false || !slices.Contains(v.Tags, zendesk.DefaultEscalationTag) {
		t.Errorf("after clearing the box reads %v and tags %v; want it unticked and the tag untouched", v.Fields[escalationBoxID], v.Tags)
	}
}

// TestAStateCallMakesNoRequestWhenItHasNothingToDo: a value that is no
// Google state is a permanent error before any call; with the state
// switched off and no status mapped nothing is sent either.
func TestAStateCallMakesNoRequestWhenItHasNothingToDo(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, zendesktest.Options{}, nil)
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	before := len(sim.Calls())
	err := crm.SetGoogleState(ctx, id, "WAITING")
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Transient || !errors.Is(err, crmhttp.ErrInvalidInput) {
		t.Errorf("an unknown state gave %v, want a permanent invalid-input APIError", err)
	}
	off := adapterFor(t, sim, func(c *zendesk.Config) { c.NoState = true })
	if err := off.SetGoogleState(ctx, id, "NEW"); err != nil {
		t.Fatal(err)
	}
	if got := sim.Calls(); len(got) != before {
		t.Errorf("requests %v, want none made", got)
	}
}

// TestStateAndEscalationVariables: the defaults work without setup (the
// state and the request as tags, no status); each variable is read, and
// each mistake is reported naming the variable to set.
func TestStateAndEscalationVariables(t *testing.T) {
	base := map[string]string{
		zendesk.EnvEmail: "sync@example.com", zendesk.EnvAPIToken: "tok",
		zendesk.EnvSyncFlagFieldID: "101", zendesk.EnvGoogleCaseFieldID: "102",
	}
	read := func(extra map[string]string) (zendesk.Config, string) {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		cfg, problems := zendesk.ConfigFromEnv(func(k string) string { return env[k] }, "https://acme.zendesk.com")
		var msgs []string
		for _, p := range problems {
			msgs = append(msgs, p.Var+" "+p.Message)
		}
		return cfg, strings.Join(msgs, "\n")
	}
	cfg, problems := read(nil)
	if problems != "" || cfg.StateFieldID != 0 || cfg.NoState || cfg.StateStatuses != nil || cfg.EscalationTag != zendesk.DefaultEscalationTag || cfg.EscalationFieldID != 0 {
		t.Errorf("defaults: %+v, problems %q", cfg, problems)
	}
	cfg, problems = read(map[string]string{
		zendesk.EnvStateField: "201", zendesk.EnvStateStatuses: "action_required=Open, IN_PROGRESS_GOOGLE_SUPPORT=hold",
		zendesk.EnvEscalationField: "202", zendesk.EnvEscalationReasonField: "203", zendesk.EnvEscalationJustificationField: "204",
	})
	if problems != "" || cfg.StateFieldID != 201 || cfg.EscalationFieldID != 202 || cfg.EscalationReasonFieldID != 203 || cfg.EscalationJustificationFieldID != 204 ||
		cfg.StateStatuses["ACTION_REQUIRED"] != "open" || cfg.StateStatuses["IN_PROGRESS_GOOGLE_SUPPORT"] != "hold" {
		t.Errorf("set: %+v, problems %q", cfg, problems)
	}
	if cfg, problems = read(map[string]string{zendesk.EnvStateField: "none", zendesk.EnvEscalationField: "ask_google"}); problems != "" || !cfg.NoState || cfg.EscalationTag != "ask_google" {
		t.Errorf("none and a tag: %+v, problems %q", cfg, problems)
	}
	for _, tc := range []struct{ name, v, value, want string }{
		{"a mapped solved", zendesk.EnvStateStatuses, "SOLUTION_PROVIDED=solved", "closes the ticket"},
		{"a mapped closed", zendesk.EnvStateStatuses, "NEW=closed", "closes the ticket"},
		{"a mapped new", zendesk.EnvStateStatuses, "ACTION_REQUIRED=new", "back to new"},
		{"CLOSED mapped", zendesk.EnvStateStatuses, "CLOSED=open", "CLOSED takes no status"},
		{"an unknown status", zendesk.EnvStateStatuses, "NEW=waiting", "no Zendesk status"},
		{"a state twice", zendesk.EnvStateStatuses, "NEW=open,NEW=hold", "twice"},
		{"no =", zendesk.EnvStateStatuses, "NEW", "not STATE=status"},
		{"a state field that is no id", zendesk.EnvStateField, "google state", "numeric id"},
		{"a tag with a space", zendesk.EnvEscalationField, "Escalate me", "no Zendesk tag"},
		{"a field shared", zendesk.EnvEscalationReasonField, "101", "same field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := read(map[string]string{tc.v: tc.value})
			if !strings.Contains(problems, tc.want) || !strings.Contains(problems, "ZENDESK_") {
				t.Errorf("%s=%q: problems %q, want one saying %q", tc.v, tc.value, problems, tc.want)
			}
		})
	}
	// A configuration given in code is checked by New the same way.
	if _, err := zendesk.New(zendesk.Config{BaseURL: "https://acme.zendesk.com", Email: "e", APIToken: "t", SyncFlagFieldID: 1, GoogleCaseFieldID: 2,
		StateStatuses: map[string]string{"ACTION_REQUIRED": "solved"}}); err == nil {
		t.Error("New took a state mapped to solved")
	}
}
