package jirasmtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"
)

// How webhook requests are sent. Atlassian says Jira Cloud retries failed
// webhooks but does not document which answers or how often; the
// simulator retries up to three times an answer of 408, 409, 425, 429 or
// 5xx, after its Retry-After when under a minute or else a second, with
// X-Atlassian-Webhook-Retry counting the retries and the same
// X-Atlassian-Webhook-Identifier. A request that gets no answer is not
// retried, so that a test never waits on a dead endpoint.
const (
	maxWebhookRetries     = 3
	webhookRetryDelay     = time.Second
	maxWebhookRetryWait   = time.Minute
	defaultWebhookTimeout = 10 * time.Second
)

// delivery is one webhook request to make, built under the lock.
type delivery struct {
	url        string
	secret     string
	body       []byte
	identifier string
}

// sendAsync sends d from a goroutine of its own, never under the lock.
func (s *Server) sendAsync(d delivery) {
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		s.send(d)
	}()
}

func (s *Server) send(d delivery) {
	for attempt := 0; ; attempt++ {
		status, retryAfter := s.attempt(d, attempt)
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
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests, status >= 500:
	default:
		return 0, false
	}
	if secs, err := strconv.Atoi(retryAfter); err == nil && secs >= 0 && time.Duration(secs)*time.Second < maxWebhookRetryWait {
		return time.Duration(secs) * time.Second, true
	}
	return webhookRetryDelay, true
}

// attempt makes one request and returns the answer's status (0 when none
// came) and Retry-After header.
func (s *Server) attempt(d delivery, retry int) (int, string) {
	ctx, cancel := context.WithTimeout(s.webhookCtx, s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, ""
	}
	req.Header.Set("User-Agent", "Atlassian Webhook HTTP Client")
	req.Header.Set("X-Atlassian-Webhook-Identifier", d.identifier)
	if len(d.body) > 0 {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if retry > 0 {
		req.Header.Set("X-Atlassian-Webhook-Retry", strconv.Itoa(retry))
	}
	if d.secret != "" {
		req.Header.Set("X-Hub-Signature", "sha256="+sign(d.secret, d.body))
	}
	resp, err := s.webhookClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// sign is the WebSub signature Jira sends: lower-case hex of
// HMAC-SHA256(secret, body).
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
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
