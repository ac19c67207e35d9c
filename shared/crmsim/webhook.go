package crmsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// The simulator's webhooks follow casebridge's own scheme (the generic
// helpdesk has no signature scheme of its own): after each change of a
// ticket flagged for sync or linked to a Google case, it POSTs
//
//	{"case":"<id>","event":"<what>","actor":"<who>"}
//
// with X-Casebridge-Timestamp (Unix seconds, by the simulator's clock) and
// X-Casebridge-Signature: "sha256=" and the lowercase hex
// HMAC-SHA256(secret, timestamp + "." + body). It sends in the background,
// never under the simulator's lock, with a short timeout, and drops
// failures: like the helpdesk rules it stands for, it does not retry, and
// casebridge's polling is the safety net. Changes the sync user makes are
// sent too, naming it as the actor; the receiver drops those.

// The events a webhook names.
const (
	EventCreated    = "created"
	EventComment    = "comment"
	EventAttachment = "attachment"
	EventPriority   = "priority"
	EventClosed     = "closed"
	EventReopened   = "reopened"
	EventGoogleCase = "google-case"
	// EventUpdated: the ticket's status or custom fields changed.
	EventUpdated = "updated"
)

// HumanAgent is the actor named for a human agent's change whose agent the
// simulator's hooks do not name (priority, close, reopen).
const HumanAgent = "agent"

// WebhookTimeout bounds one webhook delivery.
const WebhookTimeout = 5 * time.Second

// Webhook is where the simulator sends its webhooks and the secret it
// signs them with. A zero Webhook sends none.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// ErrBadWebhook is the answer to a webhook setting that cannot be used.
var ErrBadWebhook = errors.New("webhook needs an http or https url and a secret of 16 to 1024 bytes (or both empty to stop)")

// SetWebhook makes the simulator send webhooks to w.URL signed with
// w.Secret; a zero Webhook stops them.
func (c *CRM) SetWebhook(w Webhook) error {
	if w != (Webhook{}) && !simhttp.ValidWebhookTarget(w.URL, w.Secret) {
		return ErrBadWebhook
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w == (Webhook{}) {
		c.webhook = nil
		return nil
	}
	c.webhook = &w
	return nil
}

// WaitWebhooks waits until every webhook sent so far was delivered or
// dropped (each takes at most WebhookTimeout).
func (c *CRM) WaitWebhooks() { c.sender.Wait() }

type webhookBody struct {
	Case  string `json:"case"`
	Event string `json:"event"`
	Actor string `json:"actor"`
}

// notifyLocked sends the webhook of a change of t by actor, when a webhook
// is set and t is flagged for sync or linked. The caller holds c.mu; the
// delivery runs in its own goroutine, outside the lock.
func (c *CRM) notifyLocked(t *ticket, event, actor string) {
	if c.webhook == nil || !(t.SyncFlag || t.GoogleCase != "") {
		return
	}
	body, err := json.Marshal(webhookBody{Case: t.ID, Event: event, Actor: actor})
	if err != nil {
		return
	}
	c.sender.Send(simhttp.Delivery{
		URL:    c.webhook.URL,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   body,
		Sign:   simhttp.CasebridgeSigner(c.webhook.Secret),
		At:     c.opts.Clock(),
	})
}

// newWebhookSender returns the sender of the simulator's webhooks: one
// attempt each, bounded by WebhookTimeout, with a client that follows
// redirects as Go's default one does.
func newWebhookSender() *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Client: &http.Client{}, Timeout: WebhookTimeout})
}
