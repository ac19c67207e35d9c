package jirasm_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/google/go-cmp/cmp"
)

// writes counts the requests that change an issue.
func writes(sim *jirasmtest.Server) int {
	r := sim.Requests()
	return r["PUT /rest/api/3/issue/{issueIdOrKey}"] + r["POST /rest/api/3/issue/{issueIdOrKey}/transitions"]
}

func TestStateAndEscalationVariables(t *testing.T) {
	base := map[string]string{
		jirasm.EnvEmail: "sync@example.com", jirasm.EnvAPIToken: "secret-token", jirasm.EnvProjectKey: "SUP",
		jirasm.EnvSyncFlagField: "customfield_10051", jirasm.EnvGoogleCaseField: "customfield_10050",
	}
	with := func(extra map[string]string) func(string) string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return func(k string) string { return env[k] }
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
		want     func(c jirasm.Config) bool
	}{
		{name: "by default no state field or status is set and the label asks for an escalation",
			want: func(c jirasm.Config) bool {
				return c.StateField == "" && len(c.StateStatuses) == 0 && c.EscalationLabel == jirasm.DefaultEscalationLabel &&
					c.EscalationField == "" && c.EscalationReasonField == "" && c.EscalationJustificationField == ""
			}},
		{name: "fields, statuses and a custom escalation field are read",
			env: map[string]string{jirasm.EnvStateField: "10060", jirasm.EnvEscalationField: "customfield_10061",
				jirasm.EnvEscalationReasonField: "customfield_10062", jirasm.EnvEscalationJustificationField: "10063",
				jirasm.EnvStateStatuses: "in_progress_google_support = In Progress, ACTION_REQUIRED=Waiting for support"},
			want: func(c jirasm.Config) bool {
				return c.StateField == "customfield_10060" && c.EscalationField == "customfield_10061" && c.EscalationLabel == "" &&
					c.EscalationReasonField == "customfield_10062" && c.EscalationJustificationField == "customfield_10063" &&
					cmp.Equal(c.StateStatuses, map[string]string{"IN_PROGRESS_GOOGLE_SUPPORT": "In Progress", "ACTION_REQUIRED": "Waiting for support"})
			}},
		{name: "none turns requests off",
			env:  map[string]string{jirasm.EnvEscalationField: "None"},
			want: func(c jirasm.Config) bool { return c.EscalationLabel == "" && c.EscalationField == "" }},
		{name: "another label is read as a label",
			env:  map[string]string{jirasm.EnvEscalationField: "gcp-escalate"},
			want: func(c jirasm.Config) bool { return c.EscalationLabel == "gcp-escalate" && c.EscalationField == "" }},
		{name: "CLOSED may not be mapped", env: map[string]string{jirasm.EnvStateStatuses: "CLOSED=Closed"},
			wantVars: []string{jirasm.EnvStateStatuses}},
		{name: "an unknown state, a pair without = and a state mapped twice are named",
			env:      map[string]string{jirasm.EnvStateStatuses: "OPEN=Open,In Progress,NEW=Open,NEW=Waiting for support"},
			wantVars: []string{jirasm.EnvStateStatuses, jirasm.EnvStateStatuses, jirasm.EnvStateStatuses}},
		{name: "a status counted as closed may not be mapped",
			env:      map[string]string{jirasm.EnvClosedStatuses: "Closed,Canceled", jirasm.EnvStateStatuses: "SOLUTION_PROVIDED=canceled"},
			wantVars: []string{jirasm.EnvStateStatuses}},
		{name: "a label with a space and field names that are no ids are named",
			env: map[string]string{jirasm.EnvEscalationField: "escalate to google", jirasm.EnvStateField: "Google state",
				jirasm.EnvEscalationReasonField: "Reason"},
			wantVars: []string{jirasm.EnvStateField, jirasm.EnvEscalationField, jirasm.EnvEscalationReasonField}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := jirasm.ConfigFromEnv(with(tc.env), "https://x.atlassian.net")
			var vars []string
			for _, p := range problems {
				vars = append(vars, p.Var)
			}
			if diff := cmp.Diff(tc.wantVars, vars); diff != "" {
				t.Errorf("problems %v (-want +got):\n%s", problems, diff)
			}
			if tc.want != nil && !tc.want(cfg) {
				t.Errorf("settings %+v", cfg)
			}
			if len(problems) == 0 {
				if _, err := jirasm.New(cfg); err != nil {
					t.Errorf("New with the config read: %v", err)
				}
			}
		})
	}
	t.Run("New refuses what ConfigFromEnv refuses", func(t *testing.T) {
		for name, edit := range map[string]func(*jirasm.Config){
			"CLOSED mapped": func(c *jirasm.Config) { c.StateStatuses = map[string]string{"CLOSED": "Closed"} },
			"a closed status mapped": func(c *jirasm.Config) {
				c.ClosedStatuses = []string{"Done"}
				c.StateStatuses = map[string]string{"NEW": "done"}
			},
			"a label and a field":     func(c *jirasm.Config) { c.EscalationField = "customfield_1" },
			"a label with a space":    func(c *jirasm.Config) { c.EscalationLabel = "a b" },
			"a state field not an id": func(c *jirasm.Config) { c.StateField = "state" },
		} {
			cfg, _ := jirasm.ConfigFromEnv(with(nil), "https://x.atlassian.net")
			edit(&cfg)
			if _, err := jirasm.New(cfg); err == nil {
				t.Errorf("%s: New accepted it", name)
			}
		}
	})
}

func TestSetGoogleState(t *testing.T) {
	t.Run("a state that is not Google's is refused without a call", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		sim.ResetRequests()
		for _, s := range []string{"", "OPEN", "closed", "STATE_UNSPECIFIED"} {
			if err := c.SetGoogleState(ctx(t), key, s); !casesync.IsPermanent(err) {
				t.Errorf("SetGoogleState(%q) = %v, want a permanent error", s, err)
			}
		}
		if n := len(sim.Requests()); n != 0 {
			t.Errorf("%d kinds of request made: %v", n, sim.Requests())
		}
	})
	t.Run("with neither a field nor a status nothing is called", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.StateField, cfg.StateStatuses = "", nil })
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		sim.ResetRequests()
		if err := c.SetGoogleState(ctx(t), key, "ACTION_REQUIRED"); err != nil {
			t.Fatal(err)
		}
		if n := len(sim.Requests()); n != 0 {
			t.Errorf("requests made: %v", sim.Requests())
		}
	})
	t.Run("an unmapped state is one edit of the field", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		sim.ResetRequests()
		if err := c.SetGoogleState(ctx(t), key, "NEW"); err != nil {
			t.Fatal(err)
		}
		is, _ := sim.Issue(key)
		if string(is.Custom[stateField]) != `"NEW"` || is.Status != jirasmtest.StatusWaiting {
			t.Errorf("field %s, status %q", is.Custom[stateField], is.Status)
		}
		if r := sim.Requests(); len(r) != 1 || r["PUT /rest/api/3/issue/{issueIdOrKey}"] != 1 {
			t.Errorf("requests %v, want one edit", r)
		}
	})
	t.Run("a mapped state moves the issue, and again costs one read", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := c.SetGoogleState(ctx(t), key, "SOLUTION_PROVIDED"); err != nil {
			t.Fatal(err)
		}
		is, _ := sim.Issue(key)
		if string(is.Custom[stateField]) != `"SOLUTION_PROVIDED"` || is.Status != jirasmtest.StatusWaitingCustomer {
			t.Errorf("field %s, status %q; want SOLUTION_PROVIDED, %q", is.Custom[stateField], is.Status, jirasmtest.StatusWaitingCustomer)
		}
		sim.ResetRequests()
		if err := c.SetGoogleState(ctx(t), key, "SOLUTION_PROVIDED"); err != nil {
			t.Fatal(err)
		}
		if r := sim.Requests(); len(r) != 1 || r["GET /rest/api/3/issue/{issueIdOrKey}"] != 1 {
			t.Errorf("requests %v, want one read", r)
		}
		if after, _ := sim.Issue(key); !after.Updated.Equal(is.Updated) {
			t.Errorf("the repeated call changed the issue")
		}
	})
	t.Run("a closed issue gets the field but keeps its status", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := sim.Transition(key, jirasmtest.TransitionResolve); err != nil {
			t.Fatal(err)
		}
		sim.ResetRequests()
		if err := c.SetGoogleState(ctx(t), key, "IN_PROGRESS_GOOGLE_SUPPORT"); err != nil {
			t.Fatal(err)
		}
		is, _ := sim.Issue(key)
		if string(is.Custom[stateField]) != `"IN_PROGRESS_GOOGLE_SUPPORT"` || is.Status != jirasmtest.StatusResolved {
			t.Errorf("field %s, status %q; want the state written and the issue still resolved", is.Custom[stateField], is.Status)
		}
		if n := sim.Requests()["GET /rest/api/3/issue/{issueIdOrKey}/transitions"]; n != 0 {
			t.Errorf("transitions were listed %d times for a closed issue", n)
		}
	})
	t.Run("a status of the Done category is refused for good and the issue stays open", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) {
			cfg.StateStatuses = map[string]string{"SOLUTION_PROVIDED": jirasmtest.StatusResolved}
		})
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		err := c.SetGoogleState(ctx(t), key, "SOLUTION_PROVIDED")
		if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), jirasmtest.StatusResolved) || !strings.Contains(err.Error(), jirasm.EnvStateStatuses) {
			t.Fatalf("SetGoogleState = %v, want a permanent error naming the status and %s", err, jirasm.EnvStateStatuses)
		}
		if is, _ := sim.Issue(key); is.Status != jirasmtest.StatusWaiting {
			t.Errorf("status %q, want the issue left in %q", is.Status, jirasmtest.StatusWaiting)
		}
		if n := sim.Requests()["POST /rest/api/3/issue/{issueIdOrKey}/transitions"]; n != 0 {
			t.Errorf("%d transitions posted", n)
		}
	})
	t.Run("a status no transition reaches is a permanent error naming it", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) {
			cfg.StateStatuses = map[string]string{"ACTION_REQUIRED": "Escalated"}
		})
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		err := c.SetGoogleState(ctx(t), key, "ACTION_REQUIRED")
		if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), `"Escalated"`) || !strings.Contains(err.Error(), jirasmtest.StatusInProgress) {
			t.Fatalf("SetGoogleState = %v, want a permanent error naming the status and the reachable ones", err)
		}
	})
}

func TestEscalationRequests(t *testing.T) {
	t.Run("clearing removes the label alone and keeps the others", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
		for _, l := range []string{"vip", jirasm.DefaultEscalationLabel, "billing"} {
			if err := sim.AddLabel(key, l); err != nil {
				t.Fatal(err)
			}
		}
		if err := sim.SetCustomField(key, reasonField, map[string]string{"value": "Resolution time"}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetCase(ctx(t), key)
		if err != nil {
			t.Fatal(err)
		}
		if want := (casesync.EscalationRequest{Requested: true, Reason: "Resolution time"}); got.Escalation != want {
			t.Errorf("escalation %+v, want %+v", got.Escalation, want)
		}
		for i := 0; i < 2; i++ {
			if err := c.ClearEscalationRequest(ctx(t), key); err != nil {
				t.Fatal(err)
			}
		}
		is, _ := sim.Issue(key)
		if !slices.Equal(is.Labels, []string{"vip", "billing"}) {
			t.Errorf("labels %q, want vip and billing kept", is.Labels)
		}
		if string(is.Custom[reasonField]) == "" {
			t.Errorf("clearing the request emptied the reason field")
		}
		if got, _ := c.GetCase(ctx(t), key); got.Escalation != (casesync.EscalationRequest{}) {
			t.Errorf("after clearing the case reads back with %+v", got.Escalation)
		}
	})
	t.Run("a reason without the label is no request", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := sim.SetCustomField(key, justificationField, jirasmtest.TextDocument("Please hurry.")); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.GetCase(ctx(t), key); got.Escalation != (casesync.EscalationRequest{}) {
			t.Errorf("escalation %+v, want none", got.Escalation)
		}
	})
	t.Run("a justification over the bound reads as empty, the request still counts", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := sim.AddLabel(key, jirasm.DefaultEscalationLabel); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("é", casesync.MaxEscalationText/2+1)
		if err := sim.SetCustomField(key, justificationField, jirasmtest.TextDocument(long)); err != nil {
			t.Fatal(err)
		}
		got, _ := c.GetCase(ctx(t), key)
		if want := (casesync.EscalationRequest{Requested: true}); got.Escalation != want {
			t.Errorf("escalation %+v, want %+v", got.Escalation, want)
		}
		exact := strings.Repeat("é", casesync.MaxEscalationText/2)
		if err := sim.SetCustomField(key, justificationField, jirasmtest.TextDocument(exact)); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.GetCase(ctx(t), key); got.Escalation.Justification != exact {
			t.Errorf("a justification of exactly %d bytes reads back as %d bytes", len(exact), len(got.Escalation.Justification))
		}
	})
	t.Run("a checkbox field asks instead of the label, and clearing empties it", func(t *testing.T) {
		const escField = "customfield_10061"
		fields := stateFields()
		fields[escField] = jirasmtest.CustomField{Name: "Escalate to Google", Type: jirasmtest.FieldCheckboxes, Options: []string{"Yes"}}
		sim, c := newSite(t, jirasmtest.Options{CustomFields: fields}, func(cfg *jirasm.Config) {
			cfg.EscalationLabel, cfg.EscalationField = "", escField
			cfg.EscalationReasonField = reasonField
		})
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
		if err := sim.AddLabel(key, jirasm.DefaultEscalationLabel); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.GetCase(ctx(t), key); got.Escalation.Requested {
			t.Errorf("the label asks while a field is configured")
		}
		if err := sim.SetCustomField(key, escField, []map[string]string{{"value": "Yes"}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.GetCase(ctx(t), key); !got.Escalation.Requested {
			t.Errorf("the checked box does not ask")
		}
		cases, err := c.SearchUpdated(ctx(t), time.Time{})
		if err != nil || len(cases) != 1 || !cases[0].Escalation.Requested {
			t.Errorf("SearchUpdated = %+v, %v; want the case with its request", cases, err)
		}
		if err := c.ClearEscalationRequest(ctx(t), key); err != nil {
			t.Fatal(err)
		}
		is, _ := sim.Issue(key)
		if _, ok := is.Custom[escField]; ok || !slices.Contains(is.Labels, jirasm.DefaultEscalationLabel) {
			t.Errorf("after clearing: field %s, labels %q; want the field empty and the labels untouched", is.Custom[escField], is.Labels)
		}
	})
	t.Run("with requests off the label asks nothing and clearing makes no call", func(t *testing.T) {
		sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.EscalationLabel = "" })
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := sim.AddLabel(key, jirasm.DefaultEscalationLabel); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.GetCase(ctx(t), key); got.Escalation.Requested {
			t.Errorf("the label asks with requests off")
		}
		sim.ResetRequests()
		if err := c.ClearEscalationRequest(ctx(t), key); err != nil || len(sim.Requests()) != 0 {
			t.Errorf("ClearEscalationRequest = %v with requests %v; want no call", err, sim.Requests())
		}
	})
	t.Run("an unknown issue is not found", func(t *testing.T) {
		_, c := newSite(t, jirasmtest.Options{}, nil)
		if err := c.ClearEscalationRequest(ctx(t), "SUP-404"); !casesync.IsNotFound(err) {
			t.Errorf("ClearEscalationRequest(unknown) = %v, want not found", err)
		}
		if err := c.SetGoogleState(ctx(t), "SUP-404", "NEW"); !casesync.IsNotFound(err) {
			t.Errorf("SetGoogleState(unknown, unmapped state) = %v, want not found", err)
		}
	})
}
