// Package crmhttp is the HTTP client every CRM adapter of casebridge shares:
// a client-side rate limiter, retries that honour Retry-After and never
// repeat a call that may have done its work, typed errors
// (*casesync.APIError) that never carry case text, and per-call counters.
//
// Credentials (whatever Config.Authorize sets) go only to the exact origin
// (scheme, host and port) of Config.BaseURL and to the origins listed in
// Config.TrustedOrigins. The client follows redirects itself: a redirect to
// any other origin is followed without credentials, a redirect from https
// to http is refused, and so is a chain of more than MaxRedirects. Only
// GET and HEAD calls follow redirects; a write that is redirected ends in
// the permanent error of its 3xx answer, as it may have done its work.
//
// Every call is bounded in time: a call whose body is not streamed must be
// over, answer body read included, within Config.RequestTimeout; a
// streamed call (an upload from Request.Stream, or Download) fails once
// nothing has been sent or received for Config.StallTimeout. Either ends
// in a transient *casesync.APIError wrapping a *TimeoutError
// (errors.Is(err, ErrTimeout)), which is not retried within the call: the
// engine tries again on a later run.
//
// Every call is bounded in size too: a JSON answer is decoded through a
// bound of Config.MaxAnswerBytes (JSON, DecodeJSON), a download through
// Config.MaxDownloadBytes, and a listing's pages through a Pager.
//
// JSONAt also gives the answer's Date header (AnswerDate): the CRM's own
// clock when it answered, which adapters hand on as a case's ReadAt.
package crmhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// BaseURL's origin or one of Config.TrustedOrigins, so credentials
	// never go elsewhere.
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
	// Reason gives the vendor's own reason for an error answer (e.g. one of
	// its sentinel errors, from the error code in the body), or nil. The
	// answer's StatusError wraps it, so errors.Is finds it. It must not
	// carry case text.
	Reason func(status int, body []byte) error
	// MaxPages bounds every listing's pages (NewPager); DefaultMaxPages when
	// zero.
	MaxPages int
	// MaxDownloadBytes bounds the bytes Download hands on: past it the read
	// fails with the permanent TooLarge error. Zero: no bound.
	MaxDownloadBytes int64
	// MaxAnswerBytes bounds the body of an answer decoded as JSON (JSON,
	// DecodeJSON): past it the decoding fails with the permanent
	// *AnswerTooLargeError of the call's Op. Zero: DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
	// OnAnswer, when set, is given the headers of every answer the CRM
	// sends, error answers included, before the answer is read: an adapter
	// keeps what they say of its API usage. It must not block.
	OnAnswer func(http.Header)
	// TrustedOrigins are origins other than BaseURL's that get the
	// credentials too, each "scheme://host[:port]" (e.g. a vendor's
	// documented download host that checks the same credentials). An
	// entry that is not of that form is trusted for nothing.
	TrustedOrigins []string
	// RequestTimeout bounds a call whose body is not streamed, from the
	// first byte sent to the last byte of the answer read, redirects
	// included. Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// StallTimeout bounds the silence in a streamed call (an upload from
	// Request.Stream, or Download): no byte sent or received for this long
	// ends it. Default DefaultStallTimeout.
	StallTimeout time.Duration
}

// Defaults of Config's time bounds, and the longest chain of redirects a
// call follows.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultStallTimeout   = 60 * time.Second
	MaxRedirects          = 5
)

// DefaultMaxAnswerBytes bounds a JSON answer when Config.MaxAnswerBytes is
// zero. The largest legitimate pages fit with room to spare. The largest
// is a Zendesk incremental export page of 1000 tickets: each description
// may hold about 65,000 characters (the comment size limit), so with its
// fields a page may reach 70 to 90 MB, past 64 MiB. A Jira search page of
// 100 issues whose 32,767-character descriptions are in ADF is a few tens
// of MB, and a ServiceNow page (sysparm_limit up to 10,000) or a case's
// whole journal read through the record is smaller still.
const DefaultMaxAnswerBytes = 128 << 20

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
	// trusted holds the origins that get the credentials.
	trusted map[string]bool

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
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxAnswerBytes <= 0 {
		cfg.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	base, _ := url.Parse(cfg.BaseURL)
	// The client follows redirects itself (see send), so that credentials
	// go to trusted origins only; the caller's http.Client is left as it is.
	hc := *cfg.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{cfg: cfg, http: &hc, base: base, trusted: map[string]bool{}, calls: map[string]int64{}}
	if base != nil && base.Host != "" && base.User == nil {
		c.trusted[originOf(base)] = true
	}
	for _, o := range cfg.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" ||
			(u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		c.trusted[originOf(u)] = true
	}
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
//
// The response's body is bounded by Config.RequestTimeout (or, for a
// request with a Stream, Config.StallTimeout): reading it past the bound
// fails with the transient ErrTimeout error, and closing it ends the
// bound.
func (c *Client) Do(ctx context.Context, req Request) (*http.Response, error) {
	return c.do(ctx, req, false)
}

// do is Do; download says the answer's body is streamed to the caller, so
// it is bounded by silence rather than by the call's whole length.
func (c *Client) do(ctx context.Context, req Request, download bool) (*http.Response, error) {
	mode := req.Mode
	if req.Stream != nil || req.Limited != nil {
		mode = Never
	}
	streamed := download || req.Stream != nil
	backoff := c.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, req, streamed)
		if err == nil {
			return resp, nil
		}
		var ae *casesync.APIError
		// A timed-out call already took its whole bound; it is left to a
		// later run rather than repeated now.
		if !errors.As(err, &ae) || attempt >= c.cfg.MaxAttempts || !retryable(mode, ae) || ctx.Err() != nil ||
			errors.Is(err, ErrTimeout) {
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

// target is the URL of req's first hop: BaseURL and Path, or req.URL when
// it is on a trusted origin.
func (c *Client) target(req Request) (*url.URL, error) {
	if req.URL == "" {
		raw := c.cfg.BaseURL + req.Path
		if len(req.Query) > 0 {
			raw += "?" + req.Query.Encode()
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("malformed request path: %w", scrubURL(err))
		}
		return u, nil
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, errors.New("malformed URL from the CRM")
	}
	if u.User != nil {
		return nil, errors.New("the CRM gave a URL with a user name or password in it; it is not used")
	}
	if !c.trusts(u) {
		return nil, fmt.Errorf("the CRM gave a URL on %s, which is neither the configured %s nor a trusted origin; credentials are not sent elsewhere",
			originOf(u), c.baseOrigin())
	}
	if len(req.Query) > 0 {
		q := u.Query()
		for k, vs := range req.Query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// originOf gives u's origin as scheme://host:port, lower case, with the
// scheme's default port filled in: https://x and https://x:443 are one
// origin.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// trusts reports whether u's origin gets the credentials.
func (c *Client) trusts(u *url.URL) bool { return u.User == nil && c.trusted[originOf(u)] }

func (c *Client) baseOrigin() string {
	if c.base == nil || c.base.Host == "" {
		return "(no base URL)"
	}
	return originOf(c.base)
}

func (c *Client) once(ctx context.Context, req Request, streamed bool) (*http.Response, error) {
	u, err := c.target(req)
	if err != nil {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Err: fmt.Errorf("%s: %w", c.cfg.Vendor, err)}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Transient: true, Err: err}
		}
	}
	g := c.newGuard(ctx, streamed)
	c.count(req.Op)
	resp, err := c.send(g, req, u)
	if err != nil {
		g.stop()
		return nil, err
	}
	if c.cfg.OnAnswer != nil {
		c.cfg.OnAnswer(resp.Header)
	}
	if resp.StatusCode/100 == 2 {
		resp.Body = &guardedBody{body: resp.Body, g: g, op: req.Op}
		return resp, nil
	}
	defer g.stop()
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, c.errorFor(req.Op, resp, data)
}

// send makes one attempt of req, first at u, following redirects: the
// credentials go only to trusted origins, a redirect from https to http is
// refused, and so is a chain longer than MaxRedirects. It returns the
// first answer that is not a redirect to follow.
func (c *Client) send(g *guard, req Request, u *url.URL) (*http.Response, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	secure := false
	for hop := 0; ; hop++ {
		secure = secure || u.Scheme == "https"
		hr, err := c.newRequest(g, req, method, u)
		if err != nil {
			return nil, &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Err: fmt.Errorf("%s: %w", c.cfg.Vendor, scrubURL(err))}
		}
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
			return nil, c.transportError(g, req.Op, err)
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" || (method != http.MethodGet && method != http.MethodHead) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		refuse := func(to, reason string) error {
			return &casesync.APIError{Side: casesync.SideCompany, Op: req.Op, Status: resp.StatusCode,
				Err: &RedirectError{Vendor: c.cfg.Vendor, From: originOf(u), To: to, Reason: reason}}
		}
		if hop >= MaxRedirects {
			return nil, refuse("", fmt.Sprintf("more than %d redirects", MaxRedirects))
		}
		next, err := u.Parse(loc)
		if err != nil || (next.Scheme != "https" && next.Scheme != "http") || next.Host == "" {
			return nil, refuse("", "the redirect's Location is not a web address")
		}
		if secure && next.Scheme == "http" {
			return nil, refuse(originOf(next), "a redirect from https to plain http is not followed")
		}
		next.User = nil
		u = next
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// newRequest builds one hop of req to u. Authorize runs only for a trusted
// origin, so nothing it sets (headers, cookies, basic auth) reaches another.
func (c *Client) newRequest(g *guard, req Request, method string, u *url.URL) (*http.Request, error) {
	var body io.Reader
	switch {
	case req.Stream != nil:
		body = newProgressReader(req.Stream, g)
	case req.Body != nil:
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(g.ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if req.Stream != nil {
		switch l, ok := req.Stream.(interface{ Len() int }); {
		case req.ContentLength > 0:
			hr.ContentLength = req.ContentLength
		case ok && l.Len() > 0:
			hr.ContentLength = int64(l.Len())
		case ok:
			hr.Body = http.NoBody
		}
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
	if c.cfg.Authorize != nil && c.trusts(u) {
		c.cfg.Authorize(hr)
	}
	return hr, nil
}

// transportError is the APIError of a failed exchange: a timeout of ours,
// or a transport failure, worth retrying unless the caller gave up.
func (c *Client) transportError(g *guard, op string, err error) error {
	if te := g.timedOut(); te != nil {
		return &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: true, Err: te}
	}
	ctx := g.parent
	transient := ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded)
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: transient, Err: fmt.Errorf("%s: %w", c.cfg.Vendor, scrubURL(err))}
}

// guard bounds one attempt in time: as a whole (RequestTimeout), or, for a
// streamed one, by the silence since the last byte sent or received
// (StallTimeout). Its context is cancelled with a *TimeoutError when the
// bound is reached.
type guard struct {
	parent, ctx context.Context
	cancel      context.CancelCauseFunc
	vendor      string
	idle        time.Duration // zero for a bound on the whole attempt
	start       time.Time
	last        atomic.Int64 // time of the last progress, since start

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (c *Client) newGuard(parent context.Context, streamed bool) *guard {
	ctx, cancel := context.WithCancelCause(parent)
	g := &guard{parent: parent, ctx: ctx, cancel: cancel, vendor: c.cfg.Vendor, start: time.Now()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if streamed {
		g.idle = c.cfg.StallTimeout
		g.timer = time.AfterFunc(g.idle, g.checkStall)
	} else {
		d := c.cfg.RequestTimeout
		g.timer = time.AfterFunc(d, func() { cancel(&TimeoutError{Vendor: c.cfg.Vendor, After: d}) })
	}
	return g
}

// progress records that bytes went through.
func (g *guard) progress() {
	if g.idle > 0 {
		g.last.Store(int64(time.Since(g.start)))
	}
}

// checkStall ends the attempt if nothing went through for the idle bound,
// and otherwise looks again when the bound would next be reached.
func (g *guard) checkStall() {
	quiet := time.Since(g.start) - time.Duration(g.last.Load())
	if quiet >= g.idle {
		g.cancel(&TimeoutError{Vendor: g.vendor, Stalled: true, After: g.idle})
		return
	}
	g.mu.Lock()
	if !g.stopped {
		g.timer.Reset(g.idle - quiet)
	}
	g.mu.Unlock()
}

// stop ends the bound and releases the attempt's context.
func (g *guard) stop() {
	g.mu.Lock()
	g.stopped = true
	g.timer.Stop()
	g.mu.Unlock()
	g.cancel(nil)
}

// timedOut returns the bound that ended the attempt, if one did.
func (g *guard) timedOut() *TimeoutError {
	var te *TimeoutError
	if errors.As(context.Cause(g.ctx), &te) {
		return te
	}
	return nil
}

// progressReader is an upload's body, telling its guard of each read. A
// read of the source that outlasts the attempt is abandoned: Go's transport
// waits for the body's reader before it gives up a request, so a source
// that stops giving bytes would otherwise hold the call past every bound.
// The source is read from a goroutine into a buffer of the reader's own;
// an abandoned read finishes in the background, when its source does.
type progressReader struct {
	r    io.Reader
	g    *guard
	buf  []byte
	done chan readResult
	gone error // set once a read was abandoned
}

type readResult struct {
	n   int
	err error
}

func newProgressReader(r io.Reader, g *guard) *progressReader {
	return &progressReader{r: r, g: g, done: make(chan readResult, 1)}
}

func (p *progressReader) Read(b []byte) (int, error) {
	if p.gone != nil {
		return 0, p.gone
	}
	if len(b) == 0 {
		return 0, nil
	}
	if len(p.buf) < len(b) && len(p.buf) < 64<<10 {
		p.buf = make([]byte, min(len(b), 64<<10))
	}
	buf := p.buf[:min(len(b), len(p.buf))]
	go func() {
		n, err := p.r.Read(buf)
		p.done <- readResult{n, err}
	}()
	select {
	case r := <-p.done:
		if r.n > 0 {
			p.g.progress()
		}
		return copy(b, buf[:r.n]), r.err
	case <-p.g.ctx.Done():
		p.gone = context.Cause(p.g.ctx)
		return 0, p.gone
	}
}

// guardedBody is an answer's body under its attempt's time bound: a read
// cut off by the bound fails with the transient ErrTimeout error, and
// Close ends the bound.
type guardedBody struct {
	body io.ReadCloser
	g    *guard
	op   string
}

func (b *guardedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.g.progress()
	}
	if err != nil && err != io.EOF {
		if te := b.g.timedOut(); te != nil {
			err = &casesync.APIError{Side: casesync.SideCompany, Op: b.op, Transient: true, Err: te}
		}
	}
	return n, err
}

func (b *guardedBody) Close() error {
	err := b.body.Close()
	b.g.stop()
	return err
}

// limitedReaderOf returns the LimitReader bounding req's stream, if any.
func limitedReaderOf(req Request) *LimitedReader {
	if req.Limited != nil {
		return req.Limited
	}
	l, _ := req.Stream.(*LimitedReader)
	return l
}

// scrubURL keeps only the scheme and host of a transport error's URL: a
// query may hold search terms, and a path a file's name (a download link)
// or a signed token. The error's Op names the call.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		host := "the CRM"
		if perr == nil && u.Host != "" {
			host = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
		}
		return &url.Error{Op: ue.Op, URL: host, Err: ue.Err}
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
	// Reason is the vendor's own reason (Config.Reason), when known. It is
	// not in the message; Unwrap gives it to errors.Is and errors.As.
	Reason error
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

// Unwrap gives the vendor's reason, if any.
func (e *StatusError) Unwrap() error { return e.Reason }

func (c *Client) errorFor(op string, resp *http.Response, body []byte) *casesync.APIError {
	status := resp.StatusCode
	if status != http.StatusNotFound && c.cfg.NotFound != nil && c.cfg.NotFound(status, body) {
		status = http.StatusNotFound
	}
	se := &StatusError{Vendor: c.cfg.Vendor, Status: status, CredentialVars: c.cfg.CredentialVars}
	if c.cfg.ErrorDetail != nil {
		se.Detail = cleanDetail(c.cfg.ErrorDetail(resp.StatusCode, body))
	}
	if c.cfg.Reason != nil {
		se.Reason = c.cfg.Reason(resp.StatusCode, body)
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
			// A wait too long for a Duration is the longest one, not one
			// that wraps around to a negative.
			if secs >= float64(math.MaxInt64)/float64(time.Second) {
				return time.Duration(math.MaxInt64)
			}
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
// read, at most Config.MaxAnswerBytes of it, and dropped). The answer is
// read through the bound of Config.MaxAnswerBytes, as DecodeJSON reads it.
// JSONAt does the same and also gives the answer's Date.
func (c *Client) JSON(ctx context.Context, req Request, out any) error {
	_, err := c.JSONAt(ctx, req, out)
	return err
}

// DecodeJSON decodes the JSON body of resp, an answer to a call named op
// that Do returned, into out; the caller still closes the body. The body
// is read through a bound of Config.MaxAnswerBytes, never into memory to
// measure it: an answer that declares a larger Content-Length is refused
// before it is read, and one that goes past the bound while being decoded
// fails there, both with the permanent *AnswerTooLargeError of op
// (errors.Is(err, ErrAnswerTooLarge)). An answer that is not JSON fails
// with a transient error.
func (c *Client) DecodeJSON(op string, resp *http.Response, out any) error {
	if err := json.NewDecoder(c.boundAnswer(op, resp)).Decode(out); err != nil {
		return c.answerError(op, resp, err)
	}
	return nil
}

// boundAnswer returns resp's body behind the MaxAnswerBytes bound.
func (c *Client) boundAnswer(op string, resp *http.Response) io.Reader {
	return &answerReader{r: resp.Body, left: c.cfg.MaxAnswerBytes, declared: resp.ContentLength,
		err: &AnswerTooLargeError{Vendor: c.cfg.Vendor, Op: op, Limit: c.cfg.MaxAnswerBytes}}
}

// answerError is the APIError of an answer that could not be read whole:
// the bound's or the time bound's own, else a transient one.
func (c *Client) answerError(op string, resp *http.Response, err error) error {
	var ae *casesync.APIError
	if errors.As(err, &ae) {
		return err
	}
	var tl *AnswerTooLargeError
	if errors.As(err, &tl) {
		return &casesync.APIError{Side: casesync.SideCompany, Op: op, Err: tl}
	}
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: resp.StatusCode, Transient: true,
		Err: fmt.Errorf("%s: reading the answer: %w", c.cfg.Vendor, err)}
}

// answerReader hands on an answer's body and fails with err once more than
// left bytes came, or at once when the declared length is over the bound.
type answerReader struct {
	r        io.Reader
	left     int64
	declared int64
	err      *AnswerTooLargeError
}

func (a *answerReader) Read(p []byte) (int, error) {
	if a.declared > a.err.Limit || a.left < 0 {
		return 0, a.err
	}
	// Ask for one byte more than allowed, to notice an answer that goes on.
	if int64(len(p)) > a.left+1 {
		p = p[:a.left+1]
	}
	n, err := a.r.Read(p)
	a.left -= int64(n)
	if a.left < 0 {
		return 0, a.err
	}
	return n, err
}

// Download makes req and returns the answer's body as a stream, never read
// into memory. Reading past Config.MaxDownloadBytes fails with the
// permanent TooLarge error of req.Op, whatever size the CRM listed or
// declared: the bound is on the bytes actually read; a declared
// Content-Length over the bound is refused before anything is read. The
// stream fails with the transient ErrTimeout error once nothing has come
// for Config.StallTimeout. The caller closes it.
func (c *Client) Download(ctx context.Context, req Request) (io.ReadCloser, error) {
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if c.cfg.MaxDownloadBytes > 0 && resp.ContentLength > c.cfg.MaxDownloadBytes {
		resp.Body.Close()
		return nil, TooLarge(c.cfg.Vendor, req.Op, c.cfg.MaxDownloadBytes)
	}
	return &limitedBody{LimitedReader: LimitReader(resp.Body, c.cfg.MaxDownloadBytes, c.cfg.Vendor, req.Op), body: resp.Body}, nil
}

// limitedBody is a download's body behind its size bound.
type limitedBody struct {
	*LimitedReader
	body io.Closer
}

func (b *limitedBody) Close() error { return b.body.Close() }

// NewPager starts a bounded listing named op with the client's MaxPages.
func (c *Client) NewPager(op string) *Pager { return NewPager(c.cfg.Vendor, op, c.cfg.MaxPages) }

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
