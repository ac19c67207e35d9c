package simhttp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/webhook"
)

// received is what a test endpoint was sent.
type received struct {
	Method string
	Body   string
	Header http.Header
}

// recorder is a test endpoint that answers each request with the next of
// its answers (the last one once they run out) and records the requests.
type recorder struct {
	mu      sync.Mutex
	answers []answer
	got     []received
}

type answer struct {
	status     int
	retryAfter string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.got)
	rec.got = append(rec.got, received{Method: r.Method, Body: string(body), Header: r.Header.Clone()})
	a := answer{status: http.StatusOK}
	if len(rec.answers) > 0 {
		a = rec.answers[min(n, len(rec.answers)-1)]
	}
	rec.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
}

func (rec *recorder) requests() []received {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]received(nil), rec.got...)
}

func newRecorder(t *testing.T, answers ...answer) (*recorder, string) {
	t.Helper()
	rec := &recorder{answers: answers}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

// finishes runs f and fails the test if it does not return within ten
// seconds.
func finishes(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within ten seconds", what)
	}
}

func newTestSender(t *testing.T, o SenderOptions) *Sender {
	t.Helper()
	s := NewSender(o)
	t.Cleanup(s.Close)
	return s
}

func TestTheSignerIsCalledWithTheBodyAndTheTimeOfEachAttempt(t *testing.T) {
	rec, url := newRecorder(t, answer{status: http.StatusConflict}, answer{status: http.StatusOK})
	clock := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var clockMu sync.Mutex
	s := newTestSender(t, SenderOptions{
		Retry: RetryPolicy{Retries: 3, After: func(status int, _ string) (time.Duration, bool) {
			return 0, status == http.StatusConflict
		}},
		Clock: func() time.Time {
			clockMu.Lock()
			defer clockMu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		},
	})
	type call struct {
		Body string
		At   time.Time
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	sign := func(h http.Header, body []byte, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{string(body), at})
		h.Set("X-Test-Signature", "signed:"+string(body))
	}
	header := http.Header{"X-Fixed": {"kept"}}
	s.Send(Delivery{Method: http.MethodPut, URL: url, Header: header, Body: []byte(`{"n":1}`), Sign: sign})
	header.Set("X-Fixed", "changed after Send")
	s.Wait()

	wantCalls := []call{
		{`{"n":1}`, time.Date(2025, 3, 4, 5, 6, 8, 0, time.UTC)},
		{`{"n":1}`, time.Date(2025, 3, 4, 5, 6, 9, 0, time.UTC)},
	}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("signer calls (-want +got):\n%s", diff)
	}
	got := rec.requests()
	if len(got) != 2 {
		t.Fatalf("the endpoint got %d requests, want 2 (one retry of the 409)", len(got))
	}
	for i, r := range got {
		if r.Method != http.MethodPut || r.Body != `{"n":1}` || r.Header.Get("X-Test-Signature") != `signed:{"n":1}` {
			t.Errorf("request %d: %s %q signed %q, want PUT of the body signed by the signer", i, r.Method, r.Body, r.Header.Get("X-Test-Signature"))
		}
	}
	if h := got[0].Header.Get("X-Fixed"); h != "kept" {
		t.Errorf("X-Fixed = %q: the delivery's header was not copied at Send", h)
	}
}

func TestAGivenTimeSignsEveryAttempt(t *testing.T) {
	_, url := newRecorder(t)
	s := newTestSender(t, SenderOptions{Clock: func() time.Time { t.Error("the clock was read for a delivery with At"); return time.Now() }})
	at := time.Unix(1700000000, 0)
	var signedAt time.Time
	s.Send(Delivery{URL: url, Body: []byte("x"), At: at, Sign: func(_ http.Header, _ []byte, when time.Time) { signedAt = when }})
	s.Wait()
	if !signedAt.Equal(at) {
		t.Errorf("signed at %v, want the delivery's At %v", signedAt, at)
	}
}

func TestOnlyTheStatusesThePolicyNamesAreRetried(t *testing.T) {
	// The policy retries 409 after a fixed wait and 503 after its
	// Retry-After, up to twice.
	policy := RetryPolicy{
		Retries:     2,
		CountHeader: "X-Retry",
		After: func(status int, retryAfter string) (time.Duration, bool) {
			switch status {
			case http.StatusConflict:
				return time.Millisecond, true
			case http.StatusServiceUnavailable:
				return RetryAfterSeconds(retryAfter, time.Minute)
			}
			return 0, false
		},
	}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    int
	}{
		{"a success is sent once", []answer{{status: 200}}, 1},
		{"a 409 is retried until it succeeds", []answer{{status: 409}, {status: 204}}, 2},
		{"retries stop at the policy's count", []answer{{status: 409}}, 3},
		{"a 503 with Retry-After is retried", []answer{{status: 503, retryAfter: "0"}, {status: 200}}, 2},
		{"a 503 without Retry-After is not", []answer{{status: 503}}, 1},
		{"a 500 is not retried", []answer{{status: 500}}, 1},
		{"a 429 is not retried", []answer{{status: 429, retryAfter: "0"}}, 1},
		{"a 400 is not retried", []answer{{status: 400}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, url := newRecorder(t, tc.answers...)
			s := newTestSender(t, SenderOptions{Retry: policy})
			s.Send(Delivery{URL: url, Body: []byte("{}")})
			finishes(t, "Wait", s.Wait)
			got := rec.requests()
			if len(got) != tc.want {
				t.Fatalf("the endpoint got %d requests, want %d", len(got), tc.want)
			}
			for i, r := range got {
				want := ""
				if i > 0 {
					want = strconv.Itoa(i)
				}
				if h := r.Header.Get("X-Retry"); h != want {
					t.Errorf("request %d: X-Retry = %q, want %q", i, h, want)
				}
			}
		})
	}
}

func TestARequestWithNoAnswerIsRetriedOnlyWhenThePolicySaysSo(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens there now
	s := newTestSender(t, SenderOptions{Retry: RetryPolicy{Retries: 2, After: func(status int, _ string) (time.Duration, bool) {
		asked.Add(1)
		if status != 0 {
			t.Errorf("a request that got no answer was given status %d, want 0", status)
		}
		return 0, false
	}}})
	s.Send(Delivery{URL: url})
	s.Wait()
	if asked.Load() != 1 {
		t.Errorf("the policy was asked %d times, want once", asked.Load())
	}
}

func TestAnAttemptIsBoundedByTheTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	s := newTestSender(t, SenderOptions{Timeout: 100 * time.Millisecond})
	start := time.Now()
	s.Send(Delivery{URL: srv.URL})
	s.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Wait returned after %v; the attempt should have given up after 100ms", took)
	}
}

func TestWaitWaitsForADeliveryInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var answered atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(arrived)
		<-release
		answered.Store(true)
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	s := newTestSender(t, SenderOptions{})
	s.Send(Delivery{URL: srv.URL})
	<-arrived

	waited := make(chan struct{})
	go func() { s.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while the delivery was still being answered")
	case <-time.After(200 * time.Millisecond):
	}
	unblock()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the delivery was answered")
	}
	if !answered.Load() {
		t.Error("Wait returned before the endpoint answered")
	}
}

func TestNothingIsSentAfterClose(t *testing.T) {
	rec, url := newRecorder(t, answer{status: http.StatusConflict})
	s := NewSender(SenderOptions{Retry: RetryPolicy{Retries: 3, After: func(int, string) (time.Duration, bool) {
		return time.Hour, true
	}}})
	s.Send(Delivery{URL: url})
	// Wait for the first attempt; the retry waits an hour.
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	finishes(t, "Close (with a retry waiting an hour)", s.Close)
	s.Send(Delivery{URL: url})
	s.Wait()
	time.Sleep(100 * time.Millisecond)
	if n := len(rec.requests()); n != 1 {
		t.Errorf("the endpoint got %d requests, want only the first attempt before Close", n)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"59", 59 * time.Second, true},
		{"60", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
		{"99999999999999", 0, false}, // would overflow a Duration
	} {
		got, ok := RetryAfterSeconds(tc.in, time.Minute)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfterSeconds(%q, 1m) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCasebridgeSignerIsWhatTheReceiverVerifies(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	now := time.Unix(1700000000, 0)
	v, err := webhook.New(webhook.KindSimulator, []byte(secret), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"case":"42","event":"comment","actor":"agent"}`)
	req := httptest.NewRequest(http.MethodPost, "/webhook", nil)
	CasebridgeSigner(secret)(req.Header, body, now)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	ev, err := v.Verify(req)
	if err != nil {
		t.Fatalf("the receiver refused the signed webhook: %v", err)
	}
	if diff := cmp.Diff([]string{"42"}, ev.CaseIDs); diff != "" {
		t.Errorf("case ids (-want +got):\n%s", diff)
	}

	CasebridgeSigner("another-secret-0123")(req.Header, body, now)
	req.Body = io.NopCloser(bytes.NewReader(body))
	if _, err := v.Verify(req); err == nil {
		t.Error("the receiver took a webhook signed with another secret")
	}
}

func TestValidWebhookTarget(t *testing.T) {
	secret := "0123456789abcdef"
	for _, tc := range []struct {
		url, secret string
		want        bool
	}{
		{"http://127.0.0.1:8080/webhook", secret, true},
		{"https://example.com/hook", secret, true},
		{"ftp://example.com/hook", secret, false},
		{"http:///nohost", secret, false},
		{"not a url", secret, false},
		{"https://example.com/hook", secret[:15], false},
		{"https://example.com/hook", string(make([]byte, 1025)), false},
		{"https://example.com/hook", string(make([]byte, 1024)), true},
	} {
		if got := ValidWebhookTarget(tc.url, tc.secret); got != tc.want {
			t.Errorf("ValidWebhookTarget(%q, %d-byte secret) = %v, want %v", tc.url, len(tc.secret), got, tc.want)
		}
	}
}
