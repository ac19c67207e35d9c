package localstack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// zendeskWebhookEvents are the ticket events the stack's Zendesk webhook
// subscribes to: every change casebridge syncs (a new ticket, a comment
// with or without files, status, priority, and the sync-flag and
// Google-case fields).
var zendeskWebhookEvents = []string{
	"zen:event-type:ticket.created",
	"zen:event-type:ticket.comment_added",
	"zen:event-type:ticket.status_changed",
	"zen:event-type:ticket.priority_changed",
	"zen:event-type:ticket.custom_field_changed",
}

// zendeskExportExclusion is how long Zendesk's incremental export holds
// back a changed ticket: one minute, as Zendesk does, so that the polls
// see what production's see.
const zendeskExportExclusion = time.Minute

// zendeskCRM runs the Zendesk simulator (shared/zendesk/zendesktest), set
// up as docs/crms/zendesk.md asks the administrator: an admin sync user
// with an API token, and the checkbox and text fields (the simulator's
// fields, whose ids the adapter is given: it serves no ticket-fields API).
// Its webhook is an event-subscription webhook of the Webhooks API.
type zendeskCRM struct {
	sim   *zendesktest.Server
	srv   *httptest.Server
	token string

	mu sync.Mutex
	// hookID is the webhook the stack registered ("" when none).
	hookID string
	// revealed is the signing secret Zendesk made for the first webhook,
	// which CRMWebhook checks; later webhooks are created with it.
	revealed string
}

func (z *zendeskCRM) title() string { return "the Zendesk simulator" }

func (z *zendeskCRM) start(st *Stack, front string) error {
	token, err := randomHex(16)
	if err != nil {
		return err
	}
	z.token = token
	z.sim = zendesktest.New(zendesktest.Options{
		Email:           "casebridge.sync@example.com",
		APIToken:        token,
		SyncUserName:    "casebridge sync",
		Clock:           st.Clock.Now,
		ExportExclusion: zendeskExportExclusion,
	})
	z.srv = httptest.NewServer(z.sim.Handler())
	// The account's address is CRM_URL: files are served on it
	// (content_url), where the adapter downloads them.
	z.sim.URL = front
	st.Zendesk = z.sim
	return nil
}

func (z *zendeskCRM) url() string { return z.srv.URL }

func (z *zendeskCRM) env() map[string]string {
	o := z.sim.Options()
	return map[string]string{
		zendesk.EnvEmail:             o.Email,
		zendesk.EnvAPIToken:          z.token,
		zendesk.EnvSyncFlagFieldID:   strconv.FormatInt(o.SyncFlagFieldID, 10),
		zendesk.EnvGoogleCaseFieldID: strconv.FormatInt(o.GoogleCaseFieldID, 10),
	}
}

// syncUser is the sync user's numeric id, which event webhooks give as
// detail.actor_id.
func (z *zendeskCRM) syncUser() string { return strconv.FormatInt(z.sim.SyncUserID(), 10) }

// setWebhook creates the webhook with POST /api/v2/webhooks, subscribed to
// the ticket events, as the administrator would. The first one is signed
// with the secret Zendesk makes, revealed with GET
// /api/v2/webhooks/{id}/signing_secret and returned for CRMWebhook in place
// of secret; a webhook created again later is given that same secret
// (the webhook's signing_secret property), so CRMWebhook's stays valid.
func (z *zendeskCRM) setWebhook(ctx context.Context, endpoint, _ string) (string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	o := z.sim.Options()
	call := func(method, path string, in, out any, want int) error {
		return adminCall(ctx, method, z.srv.URL+path, o.Email+"/token", z.token, in, out, want)
	}
	if z.hookID != "" {
		if err := call(http.MethodDelete, "/api/v2/webhooks/"+url.PathEscape(z.hookID), nil, nil, http.StatusNoContent); err != nil {
			return "", err
		}
		z.hookID = ""
	}
	if endpoint == "" {
		return z.revealed, nil
	}
	hook := map[string]any{
		"name": "casebridge", "status": "active", "endpoint": endpoint,
		"http_method": http.MethodPost, "request_format": "json", "subscriptions": zendeskWebhookEvents,
	}
	if z.revealed != "" {
		hook["signing_secret"] = map[string]string{"algorithm": "SHA256", "secret": z.revealed}
	}
	var created struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
	}
	if err := call(http.MethodPost, "/api/v2/webhooks", map[string]any{"webhook": hook}, &created, http.StatusCreated); err != nil {
		return "", err
	}
	if created.Webhook.ID == "" {
		return "", errors.New("POST /api/v2/webhooks answered no webhook id")
	}
	z.hookID = created.Webhook.ID
	if z.revealed == "" {
		var shown struct {
			SigningSecret struct {
				Secret string `json:"secret"`
			} `json:"signing_secret"`
		}
		if err := call(http.MethodGet, "/api/v2/webhooks/"+url.PathEscape(z.hookID)+"/signing_secret", nil, &shown, http.StatusOK); err != nil {
			return "", err
		}
		if shown.SigningSecret.Secret == "" {
			return "", errors.New("the webhook's signing secret is empty")
		}
		z.revealed = shown.SigningSecret.Secret
	}
	return z.revealed, nil
}

func (z *zendeskCRM) stopWebhooks() {
	if z.sim != nil {
		z.sim.StopWebhooks()
	}
}

func (z *zendeskCRM) close() {
	if z.srv != nil {
		z.srv.Close()
	}
}
