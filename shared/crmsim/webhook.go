package crmsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
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

// Bounds of a webhook secret, as casebridge's receiver takes it.
const (
	minWebhookSecret = 16
	maxWebhookSecret = 1024
)

// ErrBadWebhook is the answer to a webhook setting that cannot be used.
var ErrBadWebhook = errors.New("webhook needs an http or https url and a secret of 16 to 1024 bytes (or both empty to stop)")

// SetWebhook makes the simulator send webhooks to w.URL signed with
// w.Secret; a zero Webhook stops them.
func (c *CRM) SetWebhook(w Webhook) error {
	if w != (Webhook{}) {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			len(w.Secret) < minWebhookSecret || len(w.Secret) > maxWebhookSecret {
			return ErrBadWebhook
		}
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
func (c *CRM) WaitWebhooks() { c.sending.Wait() }

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
	w := *c.webhook
	body, err := json.Marshal(webhookBody{Case: t.ID, Event: event, Actor: actor})
	if err != nil {
		return
	}
	at := c.opts.Clock()
	c.sending.Add(1)
	go func() {
		defer c.sending.Done()
		deliver(w, at, body)
	}()
}

// deliver POSTs one signed webhook and drops any failure.
func deliver(w Webhook, at time.Time, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(w.Secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	req, err := http.NewRequest(http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Casebridge-Timestamp", ts)
	req.Header.Set("X-Casebridge-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
	resp, err := (&http.Client{Timeout: WebhookTimeout}).Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
