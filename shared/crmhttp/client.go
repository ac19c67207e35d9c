// Package crmhttp is the HTTP client every CRM adapter of casebridge shares:
// a client-side rate limiter, retries that honour Retry-After and never
// repeat a call that may have done its work, typed errors
// (*casesync.APIError) that never carry case text, and per-call counters.
package crmhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// RetryMode says when a call may be sent again.
type RetryMode int

const (
	// Safe calls (reads and idempotent writes) are retried on 429, 502, 503,
	// 504 and transport failures.
	Safe RetryMode = iota
	// IfRefused calls (creates, comment adds) are retried only on 429: the
	// CRM refused them before doing any work.
	IfRefused
	// Never: the call is sent once (streamed bodies cannot be sent again).
	Never
)

// Request is one API call.
type Request struct {
	// Op names the call in errors and counters, e.g. "tickets.get".
	Op     string
	Method string
	// Path is appended to Config.BaseURL.
	Path string
	// URL, when set, is an absolute URL used instead of Path. It must be on
	// the same host as BaseURL, so credentials never go elsewhere.
	URL   string
	Query url.Values
	// Header holds extra headers.
	Header http.Header
	// Body is sent on every attempt.
	Body []byte
	// Stream is sent once; a Request with a Stream is never retried.
	Stream io.Reader
	// Limited is the LimitReader that Stream draws on, when it is not
	// Stream itself (e.g. behind an io.Pipe feeding a multipart writer).
	// Once the call is over, if it went over its limit, Do returns its
	// permanent TooLarge error whatever the CRM answered. A Stream that is
	// itself a *LimitedReader needs no Limited.
	Limited *LimitedReader
	// ContentLength of Stream, when known (0: unknown).
	ContentLength int64
	ContentType   string
	Mode          RetryMode
}

// Config configures a Client.
type Config struct {
	// Vendor names the CRM in error messages, e.g. "Zendesk".
	Vendor  string
	BaseURL string
	// HTTP is the client used; nil means DefaultHTTPClient.
	HTTP *http.Client
	// Authorize sets the authentication headers on every attempt.
	Authorize func(*http.Request)
	// CredentialVars are the environment variables holding the credentials,
	// named in the error of a 401 answer.
	CredentialVars []string
	// RatePerSecond caps the calls this client makes; 0 means no cap.
	RatePerSecond float64
	// Burst is how many calls may go at once after a quiet spell. Default:
	// RatePerSecond rounded up, at least 1.
	Burst int
	// MaxAttempts is how many times a call is tried in all. Default 4.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts when the CRM
	// gives no Retry-After. Defaults 250 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryWait is the longest Retry-After waited for in process; a longer
	// one ends the retries and the transient error carries it. Default 30 s.
	MaxRetryWait time.Duration
	// ErrorDetail extracts the vendor's error code or title from an error
	// answer, for the error message. It must not return case text.
	ErrorDetail func(status int, body []byte) string
	// NotFound reports whether an error answer means "no such record" when
	// the vendor does not use 404 for it.
	NotFound func(status int, body []byte) bool
}

// DefaultHTTPClient is the client adapters use unless told otherwise. It
// bounds connecting and waiting for an answer's headers (60 s), not the
// whole exchange: a large attachment may take longer to stream, and the
// caller's context bounds the call as a whole.
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	t.TLSHandshakeTimeout = 15 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// Client makes API calls to one CRM.
type Client struct {
	cfg     Config
	http    *http.Client
	base    *url.URL
	limiter *Limiter

	mu    sync.Mutex
	calls map[string]int64
}

// New returns a Client for cfg, filling in defaults.
func New(cfg Config) *Client {
	if cfg.HTTP == nil {
		cfg.HTTP = DefaultHTTPClient()
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 30 * time.Second
	}
	if cfg.Vendor == "" {
		cfg.Vendor = "CRM"
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	base, _ := url.Parse(cfg.BaseURL)
	c := &Client{cfg: cfg, http: cfg.HTTP, base: base, calls: map[string]int64{}}
	if cfg.RatePerSecond > 0 {
		c.limiter = NewLimiter(cfg.RatePerSecond, cfg.Burst)
	}
	return c
}

// Vendor returns the CRM's name as errors give it.
func (c *Client) Vendor() string { return c.cfg.Vendor }

// Calls returns how many attempts each Op has made, retries included.
func (c *Client) Calls() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

func (c *Client) count(op string) {
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
}

// Do sends req, retrying as its mode allows, and returns the response to a
// 2xx answer; the caller closes its body. Any failure is a
// *casesync.APIError. A streamed body that went over its LimitReader's
// limit ends in that reader's permanent TooLarge error (status 413),
// whatever came back.
func (c *Client) Do(ctx context.Context, req Request) (*http.Response, error) {
	mode := req.Mode
	if req.Stream != nil || req.Limited != nil {
		mode = Never
	}
	backoff := c.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, req)
		if err == nil {
			return resp, nil
		}
		var ae *casesync.APIError
		if !errors.As(err, &ae) || attempt >= c.cfg.MaxAttempts || !retryable(mode, ae) || ctx.Err() != nil {
			return nil, err
		}
		wait := backoff
		if ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		if wait > c.cfg.MaxRetryWait {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

func retryable(mode RetryMode, ae *casesync.APIError) bool {
	switch mode {
	case Safe:
		switch ae.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case 0:
			return ae.Transient
		}
	case IfRefused:
		return ae.Status == http.StatusTooManyRequests
	}
	return false
}

func (c *Client) target(req Request) (string, error) {
	if req.URL == "" {
		u := c.cfg.BaseURL + req.Path
		if len(req.Query) > 0 {
			u += "?" + req.Query.Encode()
		}
		return u, nil
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return "", fmt.Errorf("malformed URL from the CRM: %w", err)
	}
	if c.base == nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", fmt.Errorf("the CRM gave a URL on host %q, not the configured %q; credentials are not sent elsewhere", u.Host, c.base.Host)
	}
	if len(req.Query) > 0 {
		q := u.Query()
		for k, vs := range req.Query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func (c *Client) once(ctx context.Context, req Request) (*http.Response, error) {
	target, err := c.target(req)
	if err != nil {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Err: fmt.Errorf("%s: %w", c.cfg.Vendor, err)}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Transient: true, Err: err}
		}
	}
	var body io.Reader
	switch {
	case req.Stream != nil:
		body = req.Stream
	case req.Body != nil:
		body = bytes.NewReader(req.Body)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Err: err}
	}
	if req.Stream != nil && req.ContentLength > 0 {
		hr.ContentLength = req.ContentLength
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if c.cfg.Authorize != nil {
		c.cfg.Authorize(hr)
	}
	c.count(req.Op)
	resp, err := c.http.Do(hr)
	// A streamed body cut off by its LimitReader: the refusal is ours and
	// permanent, whether the CRM answered (even with a success, for the
	// part it got) or the transport failed.
	if tooLarge := limitedReaderOf(req).Exceeded(); tooLarge != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, tooLarge
	}
	if err != nil {
		// A transport failure is worth retrying unless the caller gave up.
		transient := ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded)
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Transient: transient, Err: fmt.Errorf("%s: %w", c.cfg.Vendor, scrubURL(err))}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, c.errorFor(req.Op, resp, data)
}

// limitedReaderOf returns the LimitReader bounding req's stream, if any.
func limitedReaderOf(req Request) *LimitedReader {
	if req.Limited != nil {
		return req.Limited
	}
	l, _ := req.Stream.(*LimitedReader)
	return l
}

// scrubURL drops the query string from a transport error's URL: queries
// may hold search terms.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr == nil {
			u.RawQuery = ""
			u.User = nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// StatusError is the reason inside the APIError of an error answer.
type StatusError struct {
	Vendor string
	Status int
	// Detail is the vendor's error code or title, when known.
	Detail string
	// CredentialVars, on a 401, are the variables to check.
	CredentialVars []string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s answered HTTP %d %s", e.Vendor, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Status == http.StatusUnauthorized && len(e.CredentialVars) > 0 {
		msg += fmt.Sprintf(" — the credentials were refused; check %s", strings.Join(e.CredentialVars, " and "))
	}
	if e.Status == http.StatusForbidden && len(e.CredentialVars) > 0 {
		msg += fmt.Sprintf(" — the sync user lacks a right, or %s belong to another user", strings.Join(e.CredentialVars, " and "))
	}
	return msg
}

// Is makes errors.Is(err, casesync.ErrNotFound) true for a not-found answer.
func (e *StatusError) Is(target error) bool {
	return target == casesync.ErrNotFound && e.Status == http.StatusNotFound
}

func (c *Client) errorFor(op string, resp *http.Response, body []byte) *casesync.APIError {
	status := resp.StatusCode
	if status != http.StatusNotFound && c.cfg.NotFound != nil && c.cfg.NotFound(status, body) {
		status = http.StatusNotFound
	}
	se := &StatusError{Vendor: c.cfg.Vendor, Status: status, CredentialVars: c.cfg.CredentialVars}
	if c.cfg.ErrorDetail != nil {
		se.Detail = cleanDetail(c.cfg.ErrorDetail(resp.StatusCode, body))
	}
	ae := &casesync.APIError{
		Side:      casesync.SideCompany,
		Op:        op,
		Status:    status,
		Transient: status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500,
		Err:       se,
	}
	ae.RetryAfter = RetryAfter(resp.Header, time.Now())
	return ae
}

// RetryAfter reads the server's advice on when to try again: Retry-After
// in seconds or as an HTTP date, else X-RateLimit-Reset (seconds from now
// or a Unix time). Zero when there is none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if s := strings.TrimSpace(h.Get("Retry-After")); s != "" {
		if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if s := strings.TrimSpace(h.Get("X-RateLimit-Reset")); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			if n > 1_000_000_000 { // a Unix time
				return max(time.Unix(n, 0).Sub(now), 0)
			}
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// JSON makes req and decodes the JSON answer into out (nil: the answer is
// read and dropped).
func (c *Client) JSON(ctx context.Context, req Request, out any) error {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Status: resp.StatusCode, Transient: true,
			Err: fmt.Errorf("%s: reading the answer: %w", c.cfg.Vendor, err)}
	}
	return nil
}

// JSONBody marshals v for a Request body.
func JSONBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("crmhttp: marshalling a request body: %v", err))
	}
	return b
}

// cleanDetail keeps a vendor's error detail fit for a log line: valid UTF-8
// (an adapter may have cut it mid-character) and at most 200 characters.
func cleanDetail(s string) string {
	s = strings.ToValidUTF8(s, "")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:199]) + "…"
	}
	return s
}
