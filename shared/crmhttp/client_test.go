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
