package localstack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/casebridge/casebridge/shared/webhook"
)

// freshdeskCRM runs the Freshdesk simulator
// (shared/freshdesk/freshdesktest), set up as docs/crms/freshdesk.md asks
// the administrator: a sync agent with an API key, and the custom ticket
// fields under their default names (those of Google's case state and
// escalation requests included). Attachment URLs point to a storage host
// of their own, as Freshdesk's pre-signed URLs do.
//
// Freshdesk sends webhooks only from automation rules, which sign
// nothing: the stack sets up the rules docs/crms/freshdesk.md asks the
// administrator for (SimAutomationsPath), which send the ticket id with
// the secret in the X-Casebridge-Webhook-Secret header, and leave out the
// sync agent's own updates.
type freshdeskCRM struct {
	sim   *freshdesktest.Server
	srv   *httptest.Server
	files *httptest.Server
	key   string
}

func (f *freshdeskCRM) title() string { return "the Freshdesk simulator" }

func (f *freshdeskCRM) start(st *Stack, _ string) error {
	key, err := randomHex(16)
	if err != nil {
		return err
	}
	f.key = key
	var sim *freshdesktest.Server
	f.files = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.FilesHandler().ServeHTTP(w, r) }))
	sim = freshdesktest.New(freshdesktest.Options{
		APIKey:     key,
		AgentName:  "casebridge sync",
		AgentEmail: "casebridge.sync@example.com",
		Clock:      st.Clock.Now,
		FilesURL:   f.files.URL,
	})
	f.sim = sim
	f.srv = httptest.NewServer(sim.Handler())
	sim.URL = f.srv.URL
	st.Freshdesk = sim
	return nil
}

func (f *freshdeskCRM) url() string { return f.srv.URL }

func (f *freshdeskCRM) env() map[string]string {
	return map[string]string{
		freshdesk.EnvAPIKey: f.key,
		// Pending while Google works on the case, Open when the company's
		// agents must act.
		freshdesk.EnvStateStatuses: "IN_PROGRESS_GOOGLE_SUPPORT=3,ACTION_REQUIRED=2",
	}
}

// syncUser is the sync agent's id, which its conversations carry as
// user_id.
func (f *freshdeskCRM) syncUser() string { return strconv.FormatInt(f.sim.SyncAgentID(), 10) }

// setWebhook sets up the automation rules of docs/crms/freshdesk.md, or
// removes them (endpoint ""), through the simulator's control endpoint.
func (f *freshdeskCRM) setWebhook(ctx context.Context, endpoint, secret string) (string, error) {
	rules := []freshdesktest.AutomationRule{}
	if endpoint != "" {
		rules = freshdeskRules(endpoint, secret, f.sim.SyncAgentID())
	}
	if err := adminCall(ctx, http.MethodPut, f.srv.URL+freshdesktest.SimAutomationsPath, "", "",
		map[string]any{"rules": rules}, nil, http.StatusNoContent); err != nil {
		return "", err
	}
	return secret, nil
}

// freshdeskRules are the administrator's three rules: on ticket creation,
// and on updates by agents other than the sync agent and by requesters,
// for tickets flagged for sync or linked, each a "Trigger webhook" POST
// of {"ticket_id":"{{ticket.id}}"} with the secret in a custom header.
func freshdeskRules(endpoint, secret string, syncAgent int64) []freshdesktest.AutomationRule {
	base := freshdesktest.AutomationRule{
		URL:         endpoint,
		Headers:     map[string]string{webhook.HeaderWebhookSecret: secret},
		Content:     `{"ticket_id":"{{ticket.id}}"}`,
		AnyFieldSet: []string{freshdesktest.FieldSyncFlag, freshdesktest.FieldGoogleCase},
	}
	created, byAgents, byRequesters := base, base, base
	created.Name, created.Event = "casebridge: ticket created", freshdesktest.RuleOnCreation
	byAgents.Name, byAgents.Event, byAgents.PerformedBy = "casebridge: updated by an agent", freshdesktest.RuleOnUpdate, freshdesktest.PerformedByAgent
	byAgents.ExceptAgents = []int64{syncAgent}
	byRequesters.Name, byRequesters.Event, byRequesters.PerformedBy = "casebridge: updated by the requester", freshdesktest.RuleOnUpdate, freshdesktest.PerformedByRequester
	return []freshdesktest.AutomationRule{created, byAgents, byRequesters}
}

func (f *freshdeskCRM) stopWebhooks() {
	if f.sim != nil {
		_ = f.sim.SetAutomationRules(nil)
		f.sim.WaitWebhooks()
	}
}

func (f *freshdeskCRM) close() {
	if f.sim != nil {
		f.sim.CloseWebhooks()
	}
	if f.srv != nil {
		f.srv.Close()
	}
	if f.files != nil {
		f.files.Close()
	}
}
