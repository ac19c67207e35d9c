package jirasmtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// How webhook requests are sent. Atlassian says Jira Cloud retries failed
// webhooks but does not document which answers or how often; the
// simulator retries up to three times an answer of 408, 409, 425, 429 or
// 5xx, after its Retry-After when under a minute or else a second, with
// X-Atlassian-Webhook-Retry counting the retries and the same
// X-Atlassian-Webhook-Identifier. A request that gets no answer is not
// retried, so that a test never waits on a dead endpoint.

// defaultWebhookTimeout bounds one request.
const defaultWebhookTimeout = 10 * time.Second

// webhookRetry is Jira's retry policy, as described above.
var webhookRetry = simhttp.RetryPolicy{
	Retries:     3,
	CountHeader: "X-Atlassian-Webhook-Retry",
	After: func(status int, retryAfter string) (time.Duration, bool) {
		switch {
		case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly,
			status == http.StatusTooManyRequests, status >= 500:
		default:
			return 0, false
		}
		if wait, ok := simhttp.RetryAfterSeconds(retryAfter, time.Minute); ok {
			return wait, true
		}
		return time.Second, true
	},
}

// newWebhookSender returns the sender of the site's webhook requests.
func newWebhookSender(o Options) *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Client: o.WebhookClient, Timeout: o.WebhookTimeout, Retry: webhookRetry, Clock: o.Clock})
}

// delivery is one webhook request to make, built under the lock.
type delivery struct {
	url        string
	secret     string
	body       []byte
	identifier string
}

// sendAsync sends d from a goroutine of its own, never under the lock.
func (s *Server) sendAsync(d delivery) {
	h := http.Header{}
	h.Set("User-Agent", "Atlassian Webhook HTTP Client")
	h.Set("X-Atlassian-Webhook-Identifier", d.identifier)
	if len(d.body) > 0 {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	var sign simhttp.Signer
	if d.secret != "" {
		sign = hubSigner(d.secret)
	}
	s.sender.Send(simhttp.Delivery{URL: d.url, Header: h, Body: d.body, Sign: sign})
}

// hubSigner signs as Jira does, with the WebSub signature X-Hub-Signature:
// "sha256=" and the lower-case hex of HMAC-SHA256(secret, body).
func hubSigner(secret string) simhttp.Signer {
	return func(h http.Header, body []byte, _ time.Time) {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		h.Set("X-Hub-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
}

// StopWebhooks abandons the webhook requests still being sent or waiting
// to be retried, and returns once none is left. NewServer calls it when the
// test ends.
func (s *Server) StopWebhooks() { s.sender.Close() }

// WaitWebhooks returns once every webhook request made so far has been
// answered or given up, retries included.
func (s *Server) WaitWebhooks() { s.sender.Wait() }
