package simhttp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// A simulator sends its webhook requests through a Sender: the simulator
// builds each request under its own lock and hands it to Send, which
// returns at once; the request is made from a goroutine of its own, never
// under the simulator's lock, each attempt bounded by a timeout, and sent
// again as the vendor's retry policy says. Wait waits for the requests
// under way; Close abandons them and sends nothing more.

// DefaultSendTimeout bounds one request when SenderOptions.Timeout is not
// set.
const DefaultSendTimeout = 10 * time.Second

// maxAnswerBytes bounds how much of an answer's body is read (and thrown
// away) so that the connection can be used again.
const maxAnswerBytes = 64 << 10

// A Signer sets on h the headers that sign body, sent at time at. It is
// called before every attempt, retries included.
type Signer func(h http.Header, body []byte, at time.Time)

// RetryPolicy says which answers make the sender send a request again.
// The zero RetryPolicy never retries.
type RetryPolicy struct {
	// Retries is how many times a request may be sent again after the
	// first attempt.
	Retries int
	// After says whether a request answered status, with the answer's
	// Retry-After header retryAfter, is sent again, and after how long.
	// status is 0 when no answer came (the request failed or timed out).
	// nil: never.
	After func(status int, retryAfter string) (time.Duration, bool)
	// CountHeader, when set, names a header each retry carries with its
	// number (1 for the first retry); the first attempt goes without it.
	CountHeader string
}

// retry says whether and when to retry after the attempt-th request (from
// 0) was answered status (0: no answer) with a Retry-After header.
func (p RetryPolicy) retry(attempt, status int, retryAfter string) (time.Duration, bool) {
	if attempt >= p.Retries || p.After == nil {
		return 0, false
	}
	wait, ok := p.After(status, retryAfter)
	if !ok || wait < 0 {
		return 0, false
	}
	return wait, true
}

// RetryAfterSeconds reads a Retry-After header given in whole seconds and
// returns the wait it asks for when that is under max.
func RetryAfterSeconds(retryAfter string, max time.Duration) (time.Duration, bool) {
	secs, err := strconv.Atoi(retryAfter)
	if err != nil || secs < 0 || int64(secs) > int64(max/time.Second) {
		return 0, false
	}
	wait := time.Duration(secs) * time.Second
	if wait >= max {
		return 0, false
	}
	return wait, true
}

// SenderOptions configure a Sender.
type SenderOptions struct {
	// Client makes the requests. nil: a client that does not follow
	// redirects.
	Client *http.Client
	// Timeout bounds each attempt, answer included (default
	// DefaultSendTimeout).
	Timeout time.Duration
	// Retry is the vendor's retry policy (zero: no retries).
	Retry RetryPolicy
	// Clock dates each attempt of a Delivery without At (default
	// time.Now).
	Clock func() time.Time
}

// Delivery is one webhook request to send.
type Delivery struct {
	// Method is the request's method (default POST).
	Method string
	// URL is where it goes.
	URL string
	// Header is sent with every attempt; Send takes a copy, so the caller
	// may reuse it.
	Header http.Header
	// Body is the request's body; the caller must not change it after
	// Send.
	Body []byte
	// Sign signs each attempt (nil: unsigned).
	Sign Signer
	// At is the time each attempt is signed with. Zero: the sender's clock
	// when the attempt is made.
	At time.Time
}

// Sender sends webhook requests in the background. It is safe for
// concurrent use; make one with NewSender.
type Sender struct {
	opts   SenderOptions
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	idle     *sync.Cond // signalled when inFlight drops to 0
	inFlight int
	closed   bool
}

// NewSender returns a Sender with o's settings, defaults filled in.
func NewSender(o SenderOptions) *Sender {
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultSendTimeout
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	s := &Sender{opts: o}
	s.idle = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Send starts sending d and returns at once, so that it may be called
// under the caller's lock. After Close it sends nothing.
func (s *Sender) Send(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	d.Header = d.Header.Clone()
	s.inFlight++
	go func() {
		defer s.done()
		s.send(d)
	}()
}

func (s *Sender) done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.inFlight == 0 {
		s.idle.Broadcast()
	}
}

// Wait returns once every request sent so far has been answered or given
// up, retries included.
func (s *Sender) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inFlight > 0 {
		s.idle.Wait()
	}
}

// Close abandons the requests still being made or waiting to be retried,
// refuses any new one, and returns once none is left.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.Wait()
}

// send makes d's request, retrying as the policy says.
func (s *Sender) send(d Delivery) {
	for attempt := 0; ; attempt++ {
		status, retryAfter := s.attempt(d, attempt)
		wait, ok := s.opts.Retry.retry(attempt, status, retryAfter)
		if !ok {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// attempt makes one request and returns the answer's status (0 when none
// came) and Retry-After header.
func (s *Sender) attempt(d Delivery, retry int) (int, string) {
	if s.ctx.Err() != nil {
		return 0, ""
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.Timeout)
	defer cancel()
	method := d.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, ""
	}
	req.Header = d.Header.Clone() // each attempt signs a copy of its own
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if retry > 0 && s.opts.Retry.CountHeader != "" {
		req.Header.Set(s.opts.Retry.CountHeader, strconv.Itoa(retry))
	}
	if d.Sign != nil {
		at := d.At
		if at.IsZero() {
			at = s.opts.Clock()
		}
		d.Sign(req.Header, d.Body, at)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, maxAnswerBytes)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// The headers of casebridge's own signature scheme.
const (
	CasebridgeTimestampHeader = "X-Casebridge-Timestamp"
	CasebridgeSignatureHeader = "X-Casebridge-Signature"
)

// Bounds of a webhook secret, as casebridge's receiver takes it.
const (
	MinWebhookSecret = 16
	MaxWebhookSecret = 1024
)

// ValidWebhookTarget reports whether a webhook can be sent to rawURL
// signed with secret: the URL is http or https with a host, and the secret
// is 16 to 1024 bytes, as casebridge's receiver takes it.
func ValidWebhookTarget(rawURL, secret string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		len(secret) >= MinWebhookSecret && len(secret) <= MaxWebhookSecret
}

// CasebridgeSigner signs with casebridge's own scheme, which helpdesks
// without one of their own are set up to send (see docs/webhooks.md):
// X-Casebridge-Timestamp is at in Unix seconds, and X-Casebridge-Signature
// is "sha256=" and the lowercase hex HMAC-SHA256(secret, timestamp + "." +
// body).
func CasebridgeSigner(secret string) Signer {
	return func(h http.Header, body []byte, at time.Time) {
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts))
		m.Write([]byte("."))
		m.Write(body)
		h.Set(CasebridgeTimestampHeader, ts)
		h.Set(CasebridgeSignatureHeader, "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
}
