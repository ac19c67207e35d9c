package localstack

import (
	"context"
	"net/http"
	"net/http/httptest"

	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// salesforceCRM runs the Salesforce simulator
// (shared/salesforce/salesforcetest), set up as docs/crms/salesforce.md asks
// the administrator: an External Client App with the client credentials
// flow whose Run As user is the sync user, and the Case custom fields under
// their default names (those of Google's case state and escalation
// requests included).
//
// Its webhooks are the Apex triggers and Queueable callout of
// docs/crms/salesforce.md, signed with casebridge's scheme, which the stack
// installs with the secret through the simulator's control endpoint
// (SimWebhookPath). They name the user who made each change, so CRMWebhook
// drops the sync user's (CASEBRIDGE_WEBHOOK_SYNC_USER is its id).
type salesforceCRM struct {
	sim    *salesforcetest.Server
	srv    *httptest.Server
	secret string
}

func (s *salesforceCRM) title() string { return "the Salesforce simulator" }

func (s *salesforceCRM) start(st *Stack, front string) error {
	secret, err := randomHex(16)
	if err != nil {
		return err
	}
	s.secret = secret
	s.sim = salesforcetest.New(salesforcetest.Options{
		ClientID:     "casebridge-sandbox",
		ClientSecret: secret,
		SyncUserName: "casebridge sync",
		Clock:        st.Clock.Now,
	})
	s.srv = httptest.NewServer(s.sim.Handler())
	// The org's address is CRM_URL: the token answer's instance_url must
	// be on it.
	s.sim.URL = front
	st.Salesforce = s.sim
	return nil
}

func (s *salesforceCRM) url() string { return s.srv.URL }

func (s *salesforceCRM) env() map[string]string {
	return map[string]string{
		salesforce.EnvClientID:     s.sim.Options().ClientID,
		salesforce.EnvClientSecret: s.secret,
		// Working while Google works on the case.
		salesforce.EnvStateStatuses: "IN_PROGRESS_GOOGLE_SUPPORT=Working",
	}
}

// syncUser is the sync user's id.
func (s *salesforceCRM) syncUser() string { return s.sim.SyncUserID() }

// setWebhook installs the Apex with the endpoint and secret in its
// settings, or removes it (endpoint ""), through the simulator's control
// endpoint.
func (s *salesforceCRM) setWebhook(ctx context.Context, endpoint, secret string) (string, error) {
	apex := salesforcetest.WebhookApex{}
	if endpoint != "" {
		apex = salesforcetest.WebhookApex{URL: endpoint, Secret: secret}
	}
	if err := adminCall(ctx, http.MethodPut, s.srv.URL+salesforcetest.SimWebhookPath, "", "", apex, nil, http.StatusNoContent); err != nil {
		return "", err
	}
	return secret, nil
}

func (s *salesforceCRM) stopWebhooks() {
	if s.sim != nil {
		_ = s.sim.SetWebhookApex(salesforcetest.WebhookApex{})
		s.sim.WaitWebhooks()
	}
}

func (s *salesforceCRM) close() {
	if s.sim != nil {
		s.sim.CloseWebhooks()
	}
	if s.srv != nil {
		s.srv.Close()
	}
}
