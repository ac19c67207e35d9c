package rt_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
)

// newFlaggedTicket opens a ticket flagged for sync as a human.
func newFlaggedTicket(t *testing.T, subject string) string {
	t.Helper()
	id, err := inst.Human.CreateTicket(ctxFor(t), rttest.NewTicket{Subject: subject, Description: "d", SyncFlag: true})
	if err != nil {
		t.Fatalf("creating a ticket as a human: %v", err)
	}
	return id
}

// seen reads a ticket as a human: its status and Google-state field.
func seen(t *testing.T, id string) (status, state string) {
	t.Helper()
	v, err := inst.Human.Ticket(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return v.Status, v.CustomFields[rttest.StateField]
}

func TestAMappedStateNeverReopensAResolvedTicket(t *testing.T) {
	crm := newClient(t, nil)
	id := newFlaggedTicket(t, "State on a resolved ticket")
	if err := inst.Human.Resolve(ctxFor(t), id, ""); err != nil {
		t.Fatal(err)
	}
	if err := crm.SetGoogleState(ctxFor(t), id, "ACTION_REQUIRED"); err != nil {
		t.Fatalf("SetGoogleState: %v", err)
	}
	if status, state := seen(t, id); status != "resolved" || state != "ACTION_REQUIRED" {
		t.Errorf("the ticket is %q with state %q, want still resolved with the state written", status, state)
	}
}

// racingTransport lets a human resolve the ticket just before the
// adapter's first update reaches RT.
type racingTransport struct {
	t    *testing.T
	id   string
	once sync.Once
	puts int
	mu   sync.Mutex
}

func (rt *racingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		rt.mu.Lock()
		rt.puts++
		rt.mu.Unlock()
		rt.once.Do(func() {
			if err := inst.Human.Resolve(r.Context(), rt.id, ""); err != nil {
				rt.t.Errorf("resolving as a human meanwhile: %v", err)
			}
		})
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestATicketResolvedBetweenTheReadAndTheUpdateIsNotReopened(t *testing.T) {
	id := newFlaggedTicket(t, "State racing a resolve")
	tr := &racingTransport{t: t, id: id}
	crm := newClient(t, func(c *rt.Config) { c.HTTP = &http.Client{Transport: tr} })
	if err := crm.SetGoogleState(ctxFor(t), id, "ACTION_REQUIRED"); err != nil {
		t.Fatalf("SetGoogleState: %v", err)
	}
	if status, state := seen(t, id); status != "resolved" || state != "ACTION_REQUIRED" {
		t.Errorf("the ticket is %q with state %q, want still resolved with the state written", status, state)
	}
	if tr.puts != 2 {
		t.Errorf("%d updates were sent, want 2 (the first refused by If-Match, the second after reading again)", tr.puts)
	}
}

func TestClearingNoRequestWritesNothing(t *testing.T) {
	crm := newClient(t, nil)
	id := newFlaggedTicket(t, "No escalation to clear")
	before, err := crm.GetCase(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	calls := crm.Calls()[rt.OpUpdate]
	if err := crm.ClearEscalationRequest(ctxFor(t), id); err != nil {
		t.Fatalf("ClearEscalationRequest: %v", err)
	}
	if n := crm.Calls()[rt.OpUpdate] - calls; n != 0 {
		t.Errorf("%d updates were sent for a ticket with no request, want none", n)
	}
	after, err := crm.GetCase(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdateTime.Equal(before.UpdateTime) {
		t.Errorf("clearing no request changed the ticket (updated %v, then %v)", before.UpdateTime, after.UpdateTime)
	}
}

func TestAJustificationOverTheLimitIsDroppedAndTheRequestKept(t *testing.T) {
	crm := newClient(t, nil)
	id := newFlaggedTicket(t, "Long justification")
	long := strings.Repeat("j", casesync.MaxEscalationText+1)
	if err := inst.Human.RequestEscalation(ctxFor(t), id, "", "Technical expertise", long); err != nil {
		t.Fatal(err)
	}
	c, err := crm.GetCase(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := (casesync.EscalationRequest{Requested: true, Reason: "Technical expertise"}); c.Escalation != want {
		t.Errorf("the request reads back as requested=%v reason=%q with a justification of %d bytes, want the justification dropped",
			c.Escalation.Requested, c.Escalation.Reason, len(c.Escalation.Justification))
	}
}

func TestAFreeFormEscalationFieldAsksUnlessNoOrFalse(t *testing.T) {
	// The free-form state field of the test instance stands in for an
	// administrator's free-form escalation field.
	crm := newClient(t, func(c *rt.Config) { c.EscalationField = rttest.StateField })
	id := newFlaggedTicket(t, "Free-form escalation field")
	for _, tc := range []struct {
		value string
		want  bool
	}{{"please", true}, {"no", false}, {"False", false}, {"yes", true}} {
		if err := inst.Human.SetCustomField(ctxFor(t), id, "", rttest.StateField, tc.value); err != nil {
			t.Fatal(err)
		}
		c, err := crm.GetCase(ctxFor(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Escalation.Requested != tc.want {
			t.Errorf("the field holding %q reads as requested=%v, want %v", tc.value, c.Escalation.Requested, tc.want)
		}
	}
	if err := crm.ClearEscalationRequest(ctxFor(t), id); err != nil {
		t.Fatalf("ClearEscalationRequest: %v", err)
	}
	if _, v := seen(t, id); v != "" {
		t.Errorf("after clearing, the field holds %q", v)
	}
}

func TestAStatusTheLifecycleRefusesIsAPermanentError(t *testing.T) {
	crm := newClient(t, func(c *rt.Config) { c.StateStatuses = map[string]string{"SOLUTION_PROVIDED": "waiting-for-customer"} })
	id := newFlaggedTicket(t, "Unknown status")
	err := crm.SetGoogleState(ctxFor(t), id, "SOLUTION_PROVIDED")
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Transient || !strings.Contains(err.Error(), rt.EnvStateStatuses) {
		t.Errorf("SetGoogleState = %v, want a permanent error naming %s", err, rt.EnvStateStatuses)
	}
}

func TestStateCallsThatNeedNoCallMakeNone(t *testing.T) {
	off := newClient(t, func(c *rt.Config) { c.StateField, c.EscalationField = rt.NoField, rt.NoField })
	on := newClient(t, nil)
	id := newFlaggedTicket(t, "No calls")
	for name, call := range map[string]func() error{
		"a state with the field off":              func() error { return off.SetGoogleState(ctxFor(t), id, "NEW") },
		"clearing with the field off":             func() error { return off.ClearEscalationRequest(ctxFor(t), id) },
		"a state that is not Google's (field on)": func() error { return on.SetGoogleState(ctxFor(t), id, "RESOLVED") },
	} {
		before := proxy.Requests()
		err := call()
		if n := proxy.Requests() - before; n != 0 {
			t.Errorf("%s: %d requests reached RT, want none", name, n)
		}
		if strings.Contains(name, "not Google's") {
			if !errors.Is(err, crmhttp.ErrInvalidInput) || casesync.IsTransient(err) {
				t.Errorf("%s: %v, want a permanent invalid-input error", name, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, state := seen(t, id); state != "" {
		t.Errorf("with the field off the state field holds %q", state)
	}
}

func TestTheStateVariablesAreRead(t *testing.T) {
	env := map[string]string{
		rt.EnvToken: "1-14-secret", rt.EnvStateField: "GState", rt.EnvStateStatuses: "ACTION_REQUIRED=open, IN_PROGRESS_GOOGLE_SUPPORT=stalled",
		rt.EnvEscalationField: "none", rt.EnvEscalationReasonField: "Why", rt.EnvEscalationJustificationField: "Because",
	}
	cfg, problems := rt.ConfigFromEnv(func(k string) string { return env[k] }, "https://rt.example.com")
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	if cfg.StateField != "GState" || cfg.EscalationField != rt.NoField || cfg.EscalationReasonField != "Why" || cfg.EscalationJustificationField != "Because" ||
		len(cfg.StateStatuses) != 2 || cfg.StateStatuses["ACTION_REQUIRED"] != "open" || cfg.StateStatuses["IN_PROGRESS_GOOGLE_SUPPORT"] != "stalled" {
		t.Errorf("ConfigFromEnv = %+v", cfg)
	}
	defaults, _ := rt.ConfigFromEnv(func(k string) string { return map[string]string{rt.EnvToken: "1-14-secret"}[k] }, "https://rt.example.com")
	if defaults.StateField != rt.DefaultStateField || defaults.EscalationField != rt.DefaultEscalationField ||
		defaults.EscalationReasonField != rt.DefaultEscalationReasonField || defaults.EscalationJustificationField != rt.DefaultEscalationJustificationField ||
		len(defaults.StateStatuses) != 0 {
		t.Errorf("the defaults are %+v", defaults)
	}
	for _, tc := range []struct{ statuses, closed string }{
		{"ACTION_REQUIRED=resolved", ""},
		{"CLOSED=open", ""},
		{"ACTION_REQUIRED=done", "done,resolved"},
		{"SOLVED=open", ""},
		{"ACTION_REQUIRED", ""},
	} {
		env := map[string]string{rt.EnvToken: "1-14-secret", rt.EnvStateStatuses: tc.statuses, rt.EnvClosedStatuses: tc.closed}
		_, problems := rt.ConfigFromEnv(func(k string) string { return env[k] }, "https://rt.example.com")
		if len(problems) != 1 || problems[0].Var != rt.EnvStateStatuses {
			t.Errorf("%s=%q (closed %q): problems %v, want one naming %s", rt.EnvStateStatuses, tc.statuses, tc.closed, problems, rt.EnvStateStatuses)
		}
	}
	if _, err := rt.New(rt.Config{BaseURL: "https://rt.example.com", Token: "1-14-s", StateStatuses: map[string]string{"NEW": "rejected"}}); err == nil {
		t.Errorf("New took a state mapped to a closed status")
	}
}
