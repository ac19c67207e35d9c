package crmhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// stalling is a CRM that misbehaves in time. It sends head (after the
// status line, unless noHeaders), then a byte of trickle every tick until
// the client goes away (or trickleFor has passed, then it ends the answer
// well), and otherwise just stops sending.
type stalling struct {
	noHeaders  bool
	head       string
	trickle    string
	tick       time.Duration
	trickleFor time.Duration
	calls      atomic.Int32
	done       chan struct{}
}

func (s *stalling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false
		case <-s.done:
			return false
		case <-t.C:
			return true
		}
	}
	if s.noHeaders {
		wait(time.Hour)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, s.head)
	w.(http.Flusher).Flush()
	if s.trickle == "" {
		wait(time.Hour)
		return
	}
	end := time.Now().Add(s.trickleFor)
	for s.trickleFor == 0 || time.Now().Before(end) {
		if !wait(s.tick) {
			return
		}
		io.WriteString(w, s.trickle)
		w.(http.Flusher).Flush()
	}
}

func newStalling(t *testing.T, s *stalling, cfg crmhttp.Config) *crmhttp.Client {
	t.Helper()
	s.done = make(chan struct{})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.done) }) // runs first: frees the handlers
	cfg.Vendor, cfg.BaseURL, cfg.HTTP, cfg.MinBackoff = "TestCRM", srv.URL, srv.Client(), time.Millisecond
	return crmhttp.New(cfg)
}

// wantTimeout checks err is the transient timeout of op, reached within
// limit of start.
func wantTimeout(t *testing.T, err error, op string, start time.Time, limit time.Duration) {
	t.Helper()
	var ae *casesync.APIError
	if !errors.Is(err, crmhttp.ErrTimeout) || !casesync.IsTransient(err) || !errors.As(err, &ae) || ae.Op != op {
		t.Errorf("error %v, want the transient ErrTimeout of %s", err, op)
	}
	if took := time.Since(start); took > limit {
		t.Errorf("the call ended after %v, want within %v", took, limit)
	}
}

// The caller's context is far longer than the bounds under test: without
// them, each call would run until it ends.
const callerDeadline = 30 * time.Second

func TestACallWhoseAnswerNeverEndsIsCutAtTheRequestTimeout(t *testing.T) {
	tests := []struct {
		name string
		crm  *stalling
	}{
		{name: "a server that never sends its answer's headers", crm: &stalling{noHeaders: true}},
		{name: "a server that trickles its JSON answer forever", crm: &stalling{head: `{"items":[`, trickle: " ", tick: 10 * time.Millisecond}},
		{name: "a server that stops sending in the middle of its answer", crm: &stalling{head: `{"items":[1,2,`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newStalling(t, tc.crm, crmhttp.Config{RequestTimeout: 300 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
			defer cancel()
			start := time.Now()
			var out any
			err := c.JSON(ctx, crmhttp.Request{Op: "tickets.search", Path: "/search"}, &out)
			wantTimeout(t, err, "tickets.search", start, 10*time.Second)
			if got := tc.crm.calls.Load(); got != 1 {
				t.Errorf("the CRM got %d calls, want 1: a timed-out call is left to a later run", got)
			}
		})
	}
	t.Run("a caller reading the body Do returned is cut at the request timeout too", func(t *testing.T) {
		crm := &stalling{head: `{"items":[`, trickle: " ", tick: 10 * time.Millisecond}
		c := newStalling(t, crm, crmhttp.Config{RequestTimeout: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
		defer cancel()
		start := time.Now()
		resp, err := c.Do(ctx, crmhttp.Request{Op: "tickets.get", Path: "/t/1"})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		wantTimeout(t, err, "tickets.get", start, 10*time.Second)
	})
	t.Run("an answer that ends within the bound is read whole", func(t *testing.T) {
		crm := &stalling{head: `{"items":[`, trickle: " ", tick: 10 * time.Millisecond, trickleFor: 50 * time.Millisecond}
		c := newStalling(t, crm, crmhttp.Config{RequestTimeout: 2 * time.Second})
		resp, err := c.Do(context.Background(), crmhttp.Request{Op: "tickets.get", Path: "/t/1"})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil || !strings.HasPrefix(string(data), `{"items":[ `) {
			t.Errorf("read %q, %v; want the whole answer", data, err)
		}
	})
}

func TestAStreamedCallIsCutWhenItStalls(t *testing.T) {
	t.Run("a download whose server stops sending fails after the stall timeout", func(t *testing.T) {
		crm := &stalling{head: strings.Repeat("x", 1024)}
		c := newStalling(t, crm, crmhttp.Config{StallTimeout: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
		defer cancel()
		start := time.Now()
		body, err := c.Download(ctx, crmhttp.Request{Op: "attachments.download", Path: "/f"})
		if err != nil {
			t.Fatalf("Download: %v", err)
		}
		defer body.Close()
		n, err := io.Copy(io.Discard, body)
		wantTimeout(t, err, "attachments.download", start, 10*time.Second)
		if n != 1024 {
			t.Errorf("read %d bytes before the stall, want 1024", n)
		}
		var te *crmhttp.TimeoutError
		if !errors.As(err, &te) || !te.Stalled {
			t.Errorf("error %v, want a TimeoutError for a stall", err)
		}
	})
	t.Run("a download whose server never answers fails after the stall timeout", func(t *testing.T) {
		crm := &stalling{noHeaders: true}
		c := newStalling(t, crm, crmhttp.Config{StallTimeout: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
		defer cancel()
		start := time.Now()
		_, err := c.Download(ctx, crmhttp.Request{Op: "attachments.download", Path: "/f"})
		wantTimeout(t, err, "attachments.download", start, 10*time.Second)
	})
	t.Run("a slow download that keeps sending outlasts the request timeout", func(t *testing.T) {
		crm := &stalling{head: "x", trickle: "x", tick: 20 * time.Millisecond, trickleFor: 600 * time.Millisecond}
		c := newStalling(t, crm, crmhttp.Config{RequestTimeout: 100 * time.Millisecond, StallTimeout: 3 * time.Second})
		body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/f"})
		if err != nil {
			t.Fatalf("Download: %v", err)
		}
		defer body.Close()
		n, err := io.Copy(io.Discard, body)
		if err != nil || n < 10 {
			t.Errorf("read %d bytes, %v; want the whole slow file", n, err)
		}
	})
	t.Run("a slow upload that keeps sending outlasts the request timeout", func(t *testing.T) {
		c := newUploadTarget(t, crmhttp.Config{RequestTimeout: 100 * time.Millisecond, StallTimeout: 3 * time.Second})
		err := c.JSON(context.Background(), crmhttp.Request{Op: "attachments.upload", Method: http.MethodPost, Path: "/uploads",
			Stream: &slowReader{left: 15, tick: 40 * time.Millisecond}, Mode: crmhttp.Never}, nil)
		if err != nil {
			t.Errorf("upload: %v, want success", err)
		}
	})
	t.Run("an upload whose source stops giving bytes fails after the stall timeout", func(t *testing.T) {
		c := newUploadTarget(t, crmhttp.Config{StallTimeout: 300 * time.Millisecond})
		stuck := make(chan struct{})
		t.Cleanup(func() { close(stuck) })
		ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
		defer cancel()
		start := time.Now()
		err := c.JSON(ctx, crmhttp.Request{Op: "attachments.upload", Method: http.MethodPost, Path: "/uploads",
			Stream: io.MultiReader(strings.NewReader("first bytes"), &stuckReader{until: stuck}), Mode: crmhttp.Never}, nil)
		wantTimeout(t, err, "attachments.upload", start, 10*time.Second)
	})
}

// newUploadTarget is a CRM that reads an upload whole and answers {}.
func newUploadTarget(t *testing.T, cfg crmhttp.Config) *crmhttp.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	cfg.Vendor, cfg.BaseURL, cfg.HTTP = "TestCRM", srv.URL, srv.Client()
	return crmhttp.New(cfg)
}

// stuckReader blocks until its channel closes.
type stuckReader struct{ until chan struct{} }

func (r *stuckReader) Read([]byte) (int, error) {
	<-r.until
	return 0, io.EOF
}

// slowReader gives one byte every tick, left times.
type slowReader struct {
	left int
	tick time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.tick)
	r.left--
	p[0] = 'x'
	return 1, nil
}
