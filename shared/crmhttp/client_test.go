package crmhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// scripted answers each request with the next of its statuses (the last
// one repeats) and records what it received.
type scripted struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	body     string
	got      []string
	auth     []string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	s.got = append(s.got, r.Method+" "+r.URL.Path+" "+string(b))
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	st := s.statuses[0]
	if len(s.statuses) > 1 {
		s.statuses = s.statuses[1:]
	}
	for k, vs := range s.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(st)
	io.WriteString(w, s.body)
}

func newClient(t *testing.T, h http.Handler, cfg crmhttp.Config) (*crmhttp.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	cfg.HTTP = srv.Client()
	if cfg.Vendor == "" {
		cfg.Vendor = "TestCRM"
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Millisecond
	}
	return crmhttp.New(cfg), srv
}

func TestRetriesFollowTheRequestsMode(t *testing.T) {
	tests := []struct {
		name      string
		mode      crmhttp.RetryMode
		statuses  []int
		wantCalls int
		wantErr   int // status of the final error, 0 for success
	}{
		{"a safe call is retried after a 503 and succeeds", crmhttp.Safe, []int{503, 200}, 2, 0},
		{"a safe call is retried after a 429 and succeeds", crmhttp.Safe, []int{429, 200}, 2, 0},
		{"a safe call gives up after four attempts", crmhttp.Safe, []int{503}, 4, 503},
		{"a create is retried after a 429, which did no work", crmhttp.IfRefused, []int{429, 201}, 2, 0},
		{"a create is not retried after a 503, which may have done its work", crmhttp.IfRefused, []int{503, 201}, 1, 503},
		{"a create is not retried after a 502, which may have done its work", crmhttp.IfRefused, []int{502, 201}, 1, 502},
		{"a create is not retried after a 504, which may have done its work", crmhttp.IfRefused, []int{504, 201}, 1, 504},
		{"a create is not retried after a 500, which may have done its work", crmhttp.IfRefused, []int{500, 201}, 1, 500},
		{"a never-retried call is sent once even after a 429", crmhttp.Never, []int{429, 200}, 1, 429},
		{"a 400 is not retried", crmhttp.Safe, []int{400, 200}, 1, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{statuses: tc.statuses}
			c, _ := newClient(t, s, crmhttp.Config{})
			resp, err := c.Do(context.Background(), crmhttp.Request{Op: "things.make", Method: "POST", Path: "/things", Body: []byte("x"), Mode: tc.mode})
			if resp != nil {
				resp.Body.Close()
			}
			if len(s.got) != tc.wantCalls {
				t.Errorf("the CRM got %d calls, want %d", len(s.got), tc.wantCalls)
			}
			for i, g := range s.got {
				if g != "POST /things x" {
					t.Errorf("call %d was %q, want the same body every time", i+1, g)
				}
			}
			var ae *casesync.APIError
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Errorf("error %v, want success", err)
			case tc.wantErr != 0 && (!errors.As(err, &ae) || ae.Status != tc.wantErr):
				t.Errorf("error %v, want an APIError with status %d", err, tc.wantErr)
			}
			if got := c.Calls()["things.make"]; got != int64(tc.wantCalls) {
				t.Errorf("Calls()[things.make] = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestRetryAfterIsHonouredAndReported(t *testing.T) {
	t.Run("a short Retry-After is waited out before the retry", func(t *testing.T) {
		s := &scripted{statuses: []int{429, 200}, header: http.Header{"Retry-After": {"1"}}}
		c, _ := newClient(t, s, crmhttp.Config{})
		start := time.Now()
		resp, err := c.Do(context.Background(), crmhttp.Request{Op: "get", Path: "/x"})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		resp.Body.Close()
		if waited := time.Since(start); waited < 900*time.Millisecond {
			t.Errorf("retried after %v, want at least the 1 s Retry-After", waited)
		}
	})
	t.Run("a Retry-After longer than the wait allowed comes back as a transient error carrying it", func(t *testing.T) {
		s := &scripted{statuses: []int{429}, header: http.Header{"Retry-After": {"120"}}}
		c, _ := newClient(t, s, crmhttp.Config{MaxRetryWait: time.Second})
		_, err := c.Do(context.Background(), crmhttp.Request{Op: "get", Path: "/x"})
		var ae *casesync.APIError
		if !errors.As(err, &ae) || !ae.Transient || ae.Status != 429 || ae.RetryAfter != 120*time.Second {
			t.Fatalf("error %#v, want a transient 429 with RetryAfter 120s", err)
		}
		if len(s.got) != 1 {
			t.Errorf("the CRM got %d calls, want 1", len(s.got))
		}
	})
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"an HTTP date", http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}}, 30 * time.Second},
		{"a reset in seconds", http.Header{"X-Ratelimit-Reset": {"12"}}, 12 * time.Second},
		{"a reset as a Unix time", http.Header{"X-Ratelimit-Reset": {"1795255260"}}, time.Unix(1795255260, 0).Sub(now)},
		{"nothing", http.Header{}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := crmhttp.RetryAfter(tc.header, now); got != tc.want {
				t.Errorf("RetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorsAreTypedAndNameTheCredentialVariables(t *testing.T) {
	const secret = "s3cr3t-token-value"
	tests := []struct {
		name          string
		status        int
		wantNotFound  bool
		wantTransient bool
		wantInMessage []string
	}{
		{"a 401 names the credential variables", 401, false, false, []string{"TestCRM answered HTTP 401", "CRM_TOKEN and CRM_USER", "RecordInvalid"}},
		{"a 403 says the user lacks a right", 403, false, false, []string{"lacks a right", "CRM_TOKEN"}},
		{"a 404 is not found", 404, true, false, []string{"HTTP 404"}},
		{"a 500 is transient", 500, false, true, []string{"HTTP 500"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{statuses: []int{tc.status}, body: `{"error":"RecordInvalid","description":"customer text here"}`}
			c, _ := newClient(t, s, crmhttp.Config{
				CredentialVars: []string{"CRM_TOKEN", "CRM_USER"},
				Authorize:      func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) },
				MaxAttempts:    1,
				ErrorDetail: func(status int, body []byte) string {
					if bytes.Contains(body, []byte("RecordInvalid")) {
						return "RecordInvalid"
					}
					return ""
				},
			})
			_, err := c.Do(context.Background(), crmhttp.Request{Op: "tickets.get", Path: "/tickets/1"})
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Side != casesync.SideCompany || ae.Op != "tickets.get" {
				t.Fatalf("error %v, want a company-side APIError for tickets.get", err)
			}
			if got := casesync.IsNotFound(err); got != tc.wantNotFound {
				t.Errorf("IsNotFound = %v, want %v", got, tc.wantNotFound)
			}
			if got := casesync.IsTransient(err); got != tc.wantTransient {
				t.Errorf("IsTransient = %v, want %v", got, tc.wantTransient)
			}
			msg := err.Error()
			for _, w := range tc.wantInMessage {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, leak := range []string{secret, "customer text"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q holds %q", msg, leak)
				}
			}
			if s.auth[0] != "Bearer "+secret {
				t.Errorf("Authorization sent = %q, want the configured one", s.auth[0])
			}
		})
	}
}

func TestAnAbsoluteURLOnAnotherHostIsRefused(t *testing.T) {
	s := &scripted{statuses: []int{200}}
	c, srv := newClient(t, s, crmhttp.Config{Authorize: func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }})
	t.Run("the same host is used", func(t *testing.T) {
		resp, err := c.Do(context.Background(), crmhttp.Request{Op: "download", URL: srv.URL + "/files/1?token=a"})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		resp.Body.Close()
	})
	t.Run("another host is refused without a call", func(t *testing.T) {
		_, err := c.Do(context.Background(), crmhttp.Request{Op: "download", URL: "http://elsewhere.example/files/1"})
		if err == nil || !casesync.IsPermanent(err) {
			t.Fatalf("error %v, want a permanent error", err)
		}
		if len(s.got) != 1 {
			t.Errorf("the CRM got %d calls, want 1 (only the same-host one)", len(s.got))
		}
	})
}

func TestTheLimiterSpacesCalls(t *testing.T) {
	s := &scripted{statuses: []int{200}}
	c, _ := newClient(t, s, crmhttp.Config{RatePerSecond: 20, Burst: 1})
	start := time.Now()
	for range 6 {
		resp, err := c.Do(context.Background(), crmhttp.Request{Op: "get", Path: "/x"})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		resp.Body.Close()
	}
	// Six calls at 20 a second with no burst: the last goes 250 ms after the first.
	if took := time.Since(start); took < 240*time.Millisecond {
		t.Errorf("6 calls at 20/s took %v, want at least 250 ms", took)
	}
}

func TestTheLimiterGivesUpWhenTheContextEnds(t *testing.T) {
	l := crmhttp.NewLimiter(0.5, 1)
	if err := l.Wait(context.Background()); err != nil {
		t.Fatalf("first Wait: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Wait within 20 ms of a 2 s interval = %v, want DeadlineExceeded", err)
	}
}

func TestInputChecks(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantErr bool
	}{
		{"plain text passes", "hello — ünïcödé", false},
		{"empty text is refused", "  \n", true},
		{"invalid UTF-8 is refused", "bad \xff", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := crmhttp.CheckText("TestCRM", "comments.add", tc.text)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckText = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!casesync.IsPermanent(err) || !errors.Is(err, crmhttp.ErrInvalidInput)) {
				t.Errorf("error %v, want a permanent ErrInvalidInput", err)
			}
		})
	}
}

func TestReadAllLimited(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{"exactly the limit is read", 100, false},
		{"one byte over is refused", 101, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := crmhttp.ReadAllLimited(bytes.NewReader(make([]byte, tc.n)), 100, "TestCRM", "attachments.upload")
			if tc.wantErr {
				if !errors.Is(err, crmhttp.ErrTooLarge) || !casesync.IsPermanent(err) {
					t.Errorf("error %v, want a permanent ErrTooLarge", err)
				}
				return
			}
			if err != nil || len(data) != tc.n {
				t.Errorf("got %d bytes, %v; want %d bytes", len(data), err, tc.n)
			}
		})
	}
}

func TestAStreamOverTheLimitIsAPermanentRefusal(t *testing.T) {
	s := &scripted{statuses: []int{201}}
	c, _ := newClient(t, s, crmhttp.Config{})
	body := crmhttp.LimitReader(bytes.NewReader(make([]byte, 5000)), 1000, "TestCRM", "attachments.upload")
	_, err := c.Do(context.Background(), crmhttp.Request{Op: "attachments.upload", Method: "POST", Path: "/uploads", Stream: body})
	if !errors.Is(err, crmhttp.ErrTooLarge) || !casesync.IsPermanent(err) {
		t.Fatalf("error %v, want a permanent ErrTooLarge", err)
	}
}

// readsThenAnswers is a transport that reads the request body as far as
// it goes, ignoring how it ends, and then answers with status, or fails
// when status is 0. It stands for a CRM (or a proxy) that answers even
// though the body was cut off.
type readsThenAnswers struct {
	status int
	closed bool
}

func (a *readsThenAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	if a.status == 0 {
		return nil, errors.New("connection reset by peer")
	}
	return &http.Response{
		StatusCode: a.status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       &closeSpy{Reader: strings.NewReader(`{"id":"1"}`), closed: &a.closed},
		Request:    r,
	}, nil
}

// closeSpy records that an answer's body was closed.
type closeSpy struct {
	io.Reader
	closed *bool
}

func (c *closeSpy) Close() error {
	*c.closed = true
	return nil
}

func TestAStreamOverTheLimitIsRefusedWhateverCameBack(t *testing.T) {
	tests := []struct {
		name       string
		status     int // 0: the transport fails
		size       int
		behindPipe bool
		wantErr    bool
	}{
		{name: "the server answered 201 after the body went over", status: 201, size: 5000, wantErr: true},
		{name: "the server answered 500 after the body went over", status: 500, size: 5000, wantErr: true},
		{name: "the server answered 429 after the body went over", status: 429, size: 5000, wantErr: true},
		{name: "the transport failed after the body went over", status: 0, size: 5000, wantErr: true},
		{name: "the server answered 201 after a body behind a pipe went over", status: 201, size: 5000, behindPipe: true, wantErr: true},
		{name: "the server answered 500 after a body behind a pipe went over", status: 500, size: 5000, behindPipe: true, wantErr: true},
		{name: "a body of exactly the limit is sent", status: 201, size: 1000, wantErr: false},
		{name: "a body of exactly the limit behind a pipe is sent", status: 201, size: 1000, behindPipe: true, wantErr: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &readsThenAnswers{status: tc.status}
			c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: "http://crm.example", HTTP: &http.Client{Transport: tr},
				MinBackoff: time.Millisecond})
			limited := crmhttp.LimitReader(bytes.NewReader(make([]byte, tc.size)), 1000, "TestCRM", "attachments.upload")
			req := crmhttp.Request{Op: "attachments.upload", Method: "POST", Path: "/uploads", Stream: limited}
			if tc.behindPipe {
				pr, pw := io.Pipe()
				go func() {
					_, err := io.Copy(pw, limited)
					pw.CloseWithError(err)
				}()
				defer pr.Close()
				req.Stream, req.Limited = pr, limited
			}
			resp, err := c.Do(context.Background(), req)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Do: %v, want success", err)
				}
				resp.Body.Close()
				return
			}
			var ae *casesync.APIError
			if !errors.Is(err, crmhttp.ErrTooLarge) || !casesync.IsPermanent(err) || !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("error %v, want a permanent 413 ErrTooLarge", err)
			}
			if resp != nil {
				t.Errorf("Do returned a response along with the error")
			}
			if tc.status != 0 && !tr.closed {
				t.Errorf("the answer's body was not closed")
			}
			if got := c.Calls()["attachments.upload"]; got != 1 {
				t.Errorf("Calls()[attachments.upload] = %d, want 1: an oversized upload is never sent again", got)
			}
		})
	}
}

func TestALimitedReader(t *testing.T) {
	tests := []struct {
		name       string
		limit      int64
		size       int
		wantOver   bool
		wantLength int // the most bytes that may come through
	}{
		{name: "a source within the limit is read whole and not marked over", limit: 100, size: 100, wantLength: 100},
		{name: "a source one byte over is cut off within the limit and marked over", limit: 100, size: 101, wantOver: true, wantLength: 100},
		{name: "no limit passes everything", limit: 0, size: 5000, wantLength: 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := crmhttp.LimitReader(bytes.NewReader(make([]byte, tc.size)), tc.limit, "TestCRM", "attachments.upload")
			if err := l.Exceeded(); err != nil {
				t.Fatalf("Exceeded before reading = %v, want nil", err)
			}
			data, err := io.ReadAll(l)
			if len(data) > tc.wantLength || (!tc.wantOver && len(data) != tc.wantLength) {
				t.Errorf("read %d bytes, want %d", len(data), tc.wantLength)
			}
			if (err != nil) != tc.wantOver {
				t.Errorf("read error %v, want an error: %v", err, tc.wantOver)
			}
			over := l.Exceeded()
			if (over != nil) != tc.wantOver {
				t.Fatalf("Exceeded = %v, want an error: %v", over, tc.wantOver)
			}
			if over != nil && (!errors.Is(over, crmhttp.ErrTooLarge) || !casesync.IsPermanent(over)) {
				t.Errorf("Exceeded = %v, want a permanent ErrTooLarge", over)
			}
		})
	}
	t.Run("a nil reader has not gone over", func(t *testing.T) {
		var l *crmhttp.LimitedReader
		if err := l.Exceeded(); err != nil {
			t.Errorf("Exceeded = %v, want nil", err)
		}
	})
}

func TestTheDefaultClientBoundsWaitingNotStreaming(t *testing.T) {
	c := crmhttp.DefaultHTTPClient()
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T, want *http.Transport", c.Transport)
	}
	got := []time.Duration{c.Timeout, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout}
	want := []time.Duration{0, 60 * time.Second, 15 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timeouts (whole exchange, response headers, TLS handshake) = %v, want %v: a large attachment must be able to stream for longer than a minute", got, want)
			break
		}
	}
}

func TestAVendorErrorDetailIsKeptValidAndShort(t *testing.T) {
	tests := []struct {
		name   string
		detail string
		want   string
	}{
		{"a detail cut mid-character loses the broken bytes", "RecordInvalid: é"[:len("RecordInvalid: é")-1], "RecordInvalid: "},
		{"a long detail is cut to 200 characters", strings.Repeat("ü", 300), strings.Repeat("ü", 199) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{statuses: []int{400}}
			c, _ := newClient(t, s, crmhttp.Config{ErrorDetail: func(int, []byte) string { return tc.detail }})
			_, err := c.Do(context.Background(), crmhttp.Request{Op: "get", Path: "/x"})
			var se *crmhttp.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a StatusError", err)
			}
			if se.Detail != tc.want {
				t.Errorf("Detail = %q, want %q", se.Detail, tc.want)
			}
		})
	}
}
