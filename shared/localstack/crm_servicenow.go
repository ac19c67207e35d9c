package localstack

import (
	"context"
	"net/http"

	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
)

// serviceNowUser is the sync user's user_name on the stack's instance.
const serviceNowUser = "casebridge.sync"

// serviceNowCRM runs the ServiceNow simulator
// (shared/servicenow/servicenowtest), set up as docs/crms/servicenow.md
// asks the administrator: a sync user on UTC with a password, and the
// True/False and String columns on the incident table, those of Google's
// case state and escalation requests included (the simulator's own). ServiceNow has no webhook API: its webhook is the async business
// rule and REST message of docs/webhooks.md, which the simulator stands
// for with PUT /_sim/webhook-rule.
type serviceNowCRM struct {
	sim      *servicenowtest.Server
	password string
}

func (n *serviceNowCRM) title() string { return "the ServiceNow simulator" }

func (n *serviceNowCRM) start(st *Stack, _ string) error {
	password, err := randomHex(16)
	if err != nil {
		return err
	}
	n.password = password
	n.sim = servicenowtest.Start(servicenowtest.Options{
		User:            serviceNowUser,
		Password:        password,
		UserDisplayName: "casebridge sync",
		UserTimeZone:    "UTC",
		Clock:           st.Clock.Now,
	})
	st.ServiceNow = n.sim
	return nil
}

func (n *serviceNowCRM) url() string { return n.sim.URL }

func (n *serviceNowCRM) env() map[string]string {
	o := n.sim.Options()
	return map[string]string{
		servicenow.EnvUser:            o.User,
		servicenow.EnvPassword:        n.password,
		servicenow.EnvTable:           o.Table,
		servicenow.EnvSyncFlagField:   o.SyncFlagField,
		servicenow.EnvGoogleCaseField: o.GoogleCaseField,

		servicenow.EnvStateField:                   o.StateField,
		servicenow.EnvEscalationField:              o.EscalationField,
		servicenow.EnvEscalationReasonField:        o.EscalationReasonField,
		servicenow.EnvEscalationJustificationField: o.EscalationJustificationField,
		// On Hold (awaiting the vendor) while Google works on the case, In
		// Progress when the company's agents must act.
		servicenow.EnvStateStatuses: "IN_PROGRESS_GOOGLE_SUPPORT=3,ACTION_REQUIRED=2",
	}
}

// syncUser is the sync user's user_name, which the business rule sends as
// updated_by.
func (n *serviceNowCRM) syncUser() string { return n.sim.Options().User }

// setWebhook installs the business rule, or removes it, through the
// simulator's control endpoint.
func (n *serviceNowCRM) setWebhook(ctx context.Context, endpoint, secret string) (string, error) {
	rule := servicenowtest.WebhookRule{}
	if endpoint != "" {
		o := n.sim.Options()
		rule = servicenowtest.WebhookRule{URL: endpoint, Secret: secret, Table: o.Table, ExcludedUser: o.User}
	}
	if err := adminCall(ctx, http.MethodPut, n.sim.URL+servicenowtest.SimWebhookPath, "", "", rule, nil, http.StatusNoContent); err != nil {
		return "", err
	}
	return secret, nil
}

func (n *serviceNowCRM) stopWebhooks() {
	if n.sim != nil {
		_ = n.sim.SetWebhookRule(servicenowtest.WebhookRule{})
		n.sim.WaitWebhooks()
	}
}

func (n *serviceNowCRM) close() {
	if n.sim != nil {
		n.sim.Close()
	}
}
