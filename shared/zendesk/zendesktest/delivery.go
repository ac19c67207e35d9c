package zendesktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"
)

// How webhook requests are sent. Zendesk's documentation says a request
// answered 409 is retried up to three times, and one answered 429 or 503
// with a Retry-After under 60 seconds is retried after that wait; other
// answers, and requests that fail without an answer, are not retried here
// (Zendesk retries timeouts too; the simulator keeps to answers, so that a
// test never waits on a dead endpoint). Each request of a webhook carries
// the same invocation id.
const (
	maxWebhookRetries   = 3
	webhookRetryDelay   = time.Second
	maxWebhookRetryWait = 60 * time.Second
	// defaultWebhookTimeout bounds one request (Zendesk gives an endpoint
	// about ten seconds).
	defaultWebhookTimeout = 10 * time.Second
)

// delivery is one webhook request to make, built under the lock.
type delivery struct {
	url, method string
	header      http.Header
	body        []byte
	secret      string
}

// sendAsync sends d from a goroutine of its own, never under the lock.
func (s *Server) sendAsync(d delivery) {
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		s.send(d)
	}()
}

// send makes d's request, retrying as Zendesk does.
func (s *Server) send(d delivery) {
	for attempt := 0; ; attempt++ {
		status, retryAfter := s.attempt(d)
		wait, retry := webhookRetry(status, retryAfter, attempt)
		if !retry {
			return
		}
		select {
		case <-time.After(wait):
		case <-s.webhookCtx.Done():
			return
		}
	}
}

// webhookRetry says whether and when to retry after the attempt-th request
// (from 0) was answered status (0: no answer) with a Retry-After header.
func webhookRetry(status int, retryAfter string, attempt int) (time.Duration, bool) {
	if attempt >= maxWebhookRetries {
		return 0, false
	}
	switch status {
	case http.StatusConflict:
		return webhookRetryDelay, true
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		secs, err := strconv.Atoi(retryAfter)
		if err != nil || secs < 0 || time.Duration(secs)*time.Second >= maxWebhookRetryWait {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	return 0, false
}

// attempt makes one signed request and returns the answer's status (0 when
// none came) and Retry-After header.
func (s *Server) attempt(d delivery) (int, string) {
	ctx, cancel := context.WithTimeout(s.webhookCtx, s.opts.WebhookTimeout)
	defer cancel()
	body := d.body
	if d.method == http.MethodGet || d.method == http.MethodDelete {
		body = nil
	}
	req, err := http.NewRequestWithContext(ctx, d.method, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, ""
	}
	req.Header = d.header.Clone()
	ts := s.opts.Clock().UTC().Format(timeFormat)
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	req.Header.Set("X-Zendesk-Webhook-Signature", sign(d.secret, ts, body))
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// sign is Zendesk's webhook signature of a request:
// base64(HMAC-SHA256(secret, timestamp + body)).
func sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// StopWebhooks abandons the webhook requests still being sent or waiting
// to be retried, and returns once none is left. NewServer calls it when the
// test ends.
func (s *Server) StopWebhooks() {
	s.webhookCancel()
	s.sending.Wait()
}

// WaitWebhooks returns once every webhook request made so far has been
// answered or given up, retries included.
func (s *Server) WaitWebhooks() { s.sending.Wait() }
