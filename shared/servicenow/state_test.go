package servicenow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
	"github.com/google/go-cmp/cmp"
)

const (
	recordPath = "/api/now/table/incident/{sys_id}"
	getRecord  = "GET " + recordPath
	patchRec   = "PATCH " + recordPath
)

func TestStateAndEscalationVariables(t *testing.T) {
	base := map[string]string{servicenow.EnvUser: "casebridge.sync", servicenow.EnvPassword: "pw"}
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
		want     func(servicenow.Config) bool
	}{
		{name: "a mapping is read, states upper-cased",
			env: map[string]string{servicenow.EnvStateStatuses: "in_progress_google_support=3, ACTION_REQUIRED = 2", servicenow.EnvHoldReason: "5"},
			want: func(c servicenow.Config) bool {
				return cmp.Equal(c.StateStatuses, map[string]string{"IN_PROGRESS_GOOGLE_SUPPORT": "3", "ACTION_REQUIRED": "2"}) && c.HoldReason == "5"
			}},
		{name: "by default the documented columns are used and no state is set",
			want: func(c servicenow.Config) bool {
				return c.StateField == "u_google_case_state" && c.EscalationField == "u_escalate_to_google" &&
					c.EscalationReasonField == "u_google_escalation_reason" &&
					c.EscalationJustificationField == "u_google_escalation_justification" && len(c.StateStatuses) == 0 && c.HoldReason == "4"
			}},
		{name: "none turns each column off",
			env: map[string]string{servicenow.EnvStateField: "none", servicenow.EnvEscalationField: "NONE",
				servicenow.EnvEscalationReasonField: "none", servicenow.EnvEscalationJustificationField: "none"},
			want: func(c servicenow.Config) bool {
				return c.StateField == "" && c.EscalationField == "" && c.EscalationReasonField == "" && c.EscalationJustificationField == ""
			}},
		{name: "CLOSED may not be mapped", env: map[string]string{servicenow.EnvStateStatuses: "CLOSED=7"},
			wantVars: []string{servicenow.EnvStateStatuses}},
		{name: "a state counted as closed may not be mapped",
			env:      map[string]string{servicenow.EnvStateStatuses: "SOLUTION_PROVIDED=6"},
			wantVars: []string{servicenow.EnvStateStatuses}},
		{name: "with Customer Service Management's closed states, 3 is refused",
			env: map[string]string{servicenow.EnvTable: "sn_customerservice_case", servicenow.EnvClosedStates: "3,7",
				servicenow.EnvCloseState: "3", servicenow.EnvStateStatuses: "ACTION_REQUIRED=3"},
			wantVars: []string{servicenow.EnvStateStatuses}},
		{name: "unknown states, values that break a query and pairs without = are named",
			env:      map[string]string{servicenow.EnvStateStatuses: "OPEN=1,NEW=1^ORstate=6,NEW"},
			wantVars: []string{servicenow.EnvStateStatuses, servicenow.EnvStateStatuses, servicenow.EnvStateStatuses}},
		{name: "column names are checked",
			env: map[string]string{servicenow.EnvStateField: "Google state", servicenow.EnvEscalationField: "u_esc^x",
				servicenow.EnvEscalationReasonField: "U_Reason", servicenow.EnvEscalationJustificationField: "u_j,k"},
			wantVars: []string{servicenow.EnvStateField, servicenow.EnvEscalationField, servicenow.EnvEscalationReasonField, servicenow.EnvEscalationJustificationField}},
		{name: "a hold reason that breaks a query is named", env: map[string]string{servicenow.EnvHoldReason: "4^x"},
			wantVars: []string{servicenow.EnvHoldReason}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, problems := servicenow.ConfigFromEnv(func(k string) string { return env[k] }, "https://acme.service-now.com")
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
				if _, err := servicenow.New(cfg); err != nil {
					t.Errorf("New with the config read: %v", err)
				}
			}
		})
	}
	t.Run("New refuses CLOSED and closed states", func(t *testing.T) {
		for _, m := range []map[string]string{{"CLOSED": "2"}, {"NEW": "7"}, {"BOGUS": "2"}} {
			_, err := servicenow.New(servicenow.Config{BaseURL: "https://x.service-now.com", User: "u", Password: "p", StateStatuses: m})
			if err == nil {
				t.Errorf("New accepted StateStatuses %v", m)
			}
		}
	})
}

func TestSetGoogleState(t *testing.T) {
	newCase := func(t *testing.T, sim *servicenowtest.Server) string {
		return sim.CreateRecord(human, map[string]string{"short_description": "s", "u_gcp_sync": "true"})
	}
	t.Run("a state that is not Google's is refused without a call", func(t *testing.T) {
		sim := newSim(t, nil)
		crm := newClient(t, sim, nil)
		id := newCase(t, sim)
		sim.ResetRequests()
		for _, s := range []string{"", "open", "STATE_UNSPECIFIED"} {
			if err := crm.SetGoogleState(ctxFor(t), id, s); !casesync.IsPermanent(err) {
				t.Errorf("SetGoogleState(%q) = %v, want a permanent error", s, err)
			}
		}
		if r := sim.Requests(); len(r) != 0 {
			t.Errorf("requests made: %v", r)
		}
	})
	t.Run("an unmapped state is one PATCH of the column", func(t *testing.T) {
		sim := newSim(t, nil)
		crm := newClient(t, sim, nil)
		id := newCase(t, sim)
		sim.ResetRequests()
		if err := crm.SetGoogleState(ctxFor(t), id, "SOLUTION_PROVIDED"); err != nil {
			t.Fatal(err)
		}
		r, _ := sim.Record(id)
		if r["u_google_case_state"] != "SOLUTION_PROVIDED" || r["state"] != "1" {
			t.Errorf("column %q, state %q", r["u_google_case_state"], r["state"])
		}
		if got := sim.Requests(); len(got) != 1 || got[patchRec] != 1 {
			t.Errorf("requests %v, want one PATCH", got)
		}
	})
	t.Run("On Hold is set with its hold reason, once; leaving it clears the reason", func(t *testing.T) {
		sim := newSim(t, newSteppingClock().Now)
		crm := newClient(t, sim, func(c *servicenow.Config) { c.HoldReason = "5" })
		id := newCase(t, sim)
		if err := crm.SetGoogleState(ctxFor(t), id, "IN_PROGRESS_GOOGLE_SUPPORT"); err != nil {
			t.Fatal(err)
		}
		r, _ := sim.Record(id)
		if r["state"] != "3" || r["hold_reason"] != "5" || r["u_google_case_state"] != "IN_PROGRESS_GOOGLE_SUPPORT" {
			t.Errorf("state %q, hold reason %q, column %q", r["state"], r["hold_reason"], r["u_google_case_state"])
		}
		sim.ResetRequests()
		if err := crm.SetGoogleState(ctxFor(t), id, "IN_PROGRESS_GOOGLE_SUPPORT"); err != nil {
			t.Fatal(err)
		}
		if got := sim.Requests(); len(got) != 1 || got[getRecord] != 1 {
			t.Errorf("requests %v, want one read", got)
		}
		if after, _ := sim.Record(id); after["sys_updated_on"] != r["sys_updated_on"] {
			t.Errorf("the repeated call updated the record")
		}
		if err := crm.SetGoogleState(ctxFor(t), id, "ACTION_REQUIRED"); err != nil {
			t.Fatal(err)
		}
		r, _ = sim.Record(id)
		if r["state"] != "2" || r["hold_reason"] != "" || r["u_google_case_state"] != "ACTION_REQUIRED" {
			t.Errorf("state %q, hold reason %q, column %q; want 2, none, ACTION_REQUIRED", r["state"], r["hold_reason"], r["u_google_case_state"])
		}
	})
	t.Run("a record in a closed state gets the column and keeps its state", func(t *testing.T) {
		sim := newSim(t, nil)
		crm := newClient(t, sim, nil)
		id := newCase(t, sim)
		if err := crm.CloseCase(ctxFor(t), id); err != nil {
			t.Fatal(err)
		}
		if err := crm.SetGoogleState(ctxFor(t), id, "ACTION_REQUIRED"); err != nil {
			t.Fatal(err)
		}
		r, _ := sim.Record(id)
		if r["state"] != "6" || r["u_google_case_state"] != "ACTION_REQUIRED" {
			t.Errorf("state %q, column %q; want the record still resolved with the state written", r["state"], r["u_google_case_state"])
		}
	})
	t.Run("with the columns off and no mapping nothing is called", func(t *testing.T) {
		sim := newSim(t, nil)
		crm := newClient(t, sim, func(c *servicenow.Config) {
			c.StateField, c.EscalationField, c.EscalationReasonField, c.EscalationJustificationField, c.StateStatuses = "", "", "", "", nil
		})
		id := newCase(t, sim)
		if err := sim.UpdateRecord(id, human, map[string]string{"u_escalate_to_google": "true"}); err != nil {
			t.Fatal(err)
		}
		sim.ResetRequests()
		if err := crm.SetGoogleState(ctxFor(t), id, "ACTION_REQUIRED"); err != nil {
			t.Fatal(err)
		}
		if err := crm.ClearEscalationRequest(ctxFor(t), id); err != nil {
			t.Fatal(err)
		}
		if r := sim.Requests(); len(r) != 0 {
			t.Errorf("requests made: %v", r)
		}
		if c, _ := crm.GetCase(ctxFor(t), id); c.Escalation.Requested {
			t.Errorf("a request reads back with the escalation column off")
		}
	})
	t.Run("a table without the column is a permanent error naming the variable", func(t *testing.T) {
		sim := servicenowtest.NewServer(t, servicenowtest.Options{WithoutStateColumns: true})
		crm := newClient(t, sim, nil)
		id := newCase(t, sim)
		for _, s := range []string{"NEW", "ACTION_REQUIRED"} {
			err := crm.SetGoogleState(ctxFor(t), id, s)
			if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), servicenow.EnvStateField) {
				t.Errorf("SetGoogleState(%s) = %v, want a permanent error naming %s", s, err, servicenow.EnvStateField)
			}
		}
		err := crm.ClearEscalationRequest(ctxFor(t), id)
		if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), servicenow.EnvEscalationField) {
			t.Errorf("ClearEscalationRequest = %v, want a permanent error naming %s", err, servicenow.EnvEscalationField)
		}
		if c, err := crm.GetCase(ctxFor(t), id); err != nil || c.Escalation != (casesync.EscalationRequest{}) {
			t.Errorf("GetCase = %+v, %v; want the case without a request", c.Escalation, err)
		}
	})
}

func TestEscalationRequests(t *testing.T) {
	sim := newSim(t, newSteppingClock().Now)
	crm := newClient(t, sim, nil)
	o := sim.Options()
	start := time.Now().Add(-time.Hour)
	id := sim.CreateRecord(human, map[string]string{"short_description": "s", "u_gcp_case": "projects/p/cases/9"})
	long := strings.Repeat("x", casesync.MaxEscalationText+1)
	if err := sim.UpdateRecord(id, human, map[string]string{o.EscalationField: "true", o.EscalationReasonField: "business_impact",
		o.EscalationJustificationField: long}); err != nil {
		t.Fatal(err)
	}
	want := casesync.EscalationRequest{Requested: true, Reason: "business_impact"}
	c, err := crm.GetCase(ctxFor(t), id)
	if err != nil || c.Escalation != want {
		t.Errorf("GetCase: %+v, %v; want %+v (the over-long justification dropped)", c.Escalation, err, want)
	}
	found, ok, err := crm.FindByGoogleCase(ctxFor(t), "projects/p/cases/9")
	if err != nil || !ok || found.Escalation != want {
		t.Errorf("FindByGoogleCase: %+v, %v, %v", found.Escalation, ok, err)
	}
	cases, err := crm.SearchUpdated(ctxFor(t), start)
	if err != nil || len(cases) != 1 || cases[0].Escalation != want {
		t.Errorf("SearchUpdated: %+v, %v", cases, err)
	}
	for i := 0; i < 2; i++ {
		if err := crm.ClearEscalationRequest(ctxFor(t), id); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := sim.Record(id)
	if r[o.EscalationField] != "false" || r[o.EscalationReasonField] != "business_impact" {
		t.Errorf("after clearing: flag %q, reason %q; want false and the reason kept", r[o.EscalationField], r[o.EscalationReasonField])
	}
	if c, _ := crm.GetCase(ctxFor(t), id); c.Escalation != (casesync.EscalationRequest{}) {
		t.Errorf("after clearing the case reads back with %+v", c.Escalation)
	}
	if err := crm.ClearEscalationRequest(ctxFor(t), "5e1f0000000000000000000000000999"); !casesync.IsNotFound(err) {
		t.Errorf("ClearEscalationRequest(unknown) = %v, want not found", err)
	}
}
