package zendesktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// How webhook requests are sent. Zendesk's documentation says a request
// answered 409 is retried up to three times, and one answered 429 or 503
// with a Retry-After under 60 seconds is retried after that wait; other
// answers, and requests that fail without an answer, are not retried here
// (Zendesk retries timeouts too; the simulator keeps to answers, so that a
// test never waits on a dead endpoint). Each request of a webhook carries
// the same invocation id.

// defaultWebhookTimeout bounds one request (Zendesk gives an endpoint about
// ten seconds).
const defaultWebhookTimeout = 10 * time.Second

// webhookRetry is Zendesk's retry policy, as described above.
var webhookRetry = simhttp.RetryPolicy{
	Retries: 3,
	After: func(status int, retryAfter string) (time.Duration, bool) {
		switch status {
		case http.StatusConflict:
			return time.Second, true
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return simhttp.RetryAfterSeconds(retryAfter, 60*time.Second)
		}
		return 0, false
	},
}

// newWebhookSender returns the sender of the account's webhook requests.
// Each attempt is signed with the time it is made, by Options.Clock.
func newWebhookSender(o Options) *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Client: o.WebhookClient, Timeout: o.WebhookTimeout, Retry: webhookRetry, Clock: o.Clock})
}

// delivery is one webhook request to make, built under the lock.
type delivery struct {
	url, method string
	header      http.Header
	body        []byte
	secret      string
}

// sendAsync sends d from a goroutine of its own, never under the lock. A
// GET or DELETE goes without a body, and is signed so.
func (s *Server) sendAsync(d delivery) {
	body := d.body
	if d.method == http.MethodGet || d.method == http.MethodDelete {
		body = nil
	}
	s.sender.Send(simhttp.Delivery{Method: d.method, URL: d.url, Header: d.header, Body: body, Sign: signer(d.secret)})
}

// signer signs as Zendesk does: X-Zendesk-Webhook-Signature-Timestamp is
// the time of the attempt, and X-Zendesk-Webhook-Signature is
// base64(HMAC-SHA256(secret, timestamp + body)).
func signer(secret string) simhttp.Signer {
	return func(h http.Header, body []byte, at time.Time) {
		ts := at.UTC().Format(timeFormat)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts))
		mac.Write(body)
		h.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		h.Set("X-Zendesk-Webhook-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
}

// StopWebhooks abandons the webhook requests still being sent or waiting
// to be retried, and returns once none is left. NewServer calls it when the
// test ends.
func (s *Server) StopWebhooks() { s.sender.Close() }

// WaitWebhooks returns once every webhook request made so far has been
// answered or given up, retries included.
func (s *Server) WaitWebhooks() { s.sender.Wait() }
