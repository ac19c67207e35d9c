package csapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// faultCase is one failure scenario against the simulator.
type faultCase struct {
	name  string
	fault csapitest.Fault
	// down takes the whole simulated service down.
	down bool
	// cfg adjusts the test configuration.
	cfg func(*csapi.Config)
	// do makes the adapter call under test.
	do func(ctx context.Context, c *csapi.Client, caseName string) error
	// method is the API method whose calls are counted.
	method    string
	wantCalls int
	// wantErr: nil for success, else the expected error shape.
	wantErr *errShape
	// minElapsed is the least time the call must take (Retry-After).
	minElapsed time.Duration
}

type errShape struct {
	Op         string
	Status     int
	Transient  bool
	NotFound   bool
	RetryAfter time.Duration
}

func getCase(ctx context.Context, c *csapi.Client, name string) error {
	_, err := c.GetCase(ctx, name)
	return err
}

func TestTransientFailuresAreRetriedAndPermanentOnesAreNot(t *testing.T) {
	tests := []faultCase{
		{
			name:       "a 429 with Retry-After is waited out and then succeeds",
			fault:      csapitest.Fault{Method: "cases.get", Status: 429, RetryAfter: time.Second, Count: 1},
			cfg:        func(c *csapi.Config) { c.MaxBackoff = 3 * time.Second },
			do:         getCase,
			method:     "cases.get",
			wantCalls:  2,
			minElapsed: time.Second,
		},
		{
			name:   "Retry-After is capped by the maximum backoff",
			fault:  csapitest.Fault{Method: "cases.search", Status: 429, RetryAfter: time.Hour, Count: 1},
			method: "cases.search",
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				_, err := c.SearchUpdated(ctx, time.Time{})
				return err
			},
			wantCalls: 2,
		},
		{
			name:   "a 500 on every attempt gives a transient error after the last attempt",
			fault:  csapitest.Fault{Method: "cases.search", Status: 500},
			method: "cases.search",
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				_, err := c.SearchText(ctx, "x")
				return err
			},
			wantCalls: 3,
			wantErr:   &errShape{Op: "cases.search", Status: 500, Transient: true},
		},
		{
			name:      "a 429 that never ends reports the server's Retry-After",
			fault:     csapitest.Fault{Method: "cases.patch", Status: 429, RetryAfter: 2 * time.Second},
			cfg:       func(c *csapi.Config) { c.MaxAttempts = 1 },
			method:    "cases.patch",
			do:        func(ctx context.Context, c *csapi.Client, n string) error { return c.SetPriority(ctx, n, casesync.P0) },
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.patch", Status: 429, Transient: true, RetryAfter: 2 * time.Second},
		},
		{
			name:   "a missing case is not found and not retried",
			method: "cases.get",
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				return getCase(ctx, c, project+"/cases/99999999")
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.get", Status: 404, NotFound: true},
		},
		{
			name:   "a 400 is permanent and not retried",
			method: "cases.create",
			cfg:    func(c *csapi.Config) { c.ClassificationID = "NO-SUCH-CLASSIFICATION" },
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				_, err := c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "t", Description: "d", Priority: casesync.P3})
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.create", Status: 400},
		},
		{
			name:   "an injected 403 is permanent",
			fault:  csapitest.Fault{Method: "comments.list", Status: 403, Count: 1},
			method: "comments.list",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.ListComments(ctx, n)
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "comments.list", Status: 403},
		},
		{
			name:      "a slow answer past the call timeout is retried",
			fault:     csapitest.Fault{Method: "cases.get", Latency: 400 * time.Millisecond, Count: 1},
			cfg:       func(c *csapi.Config) { c.CallTimeout = 100 * time.Millisecond },
			method:    "cases.get",
			do:        getCase,
			wantCalls: 2,
		},
		{
			name:   "a 500 on case creation is not retried: the case may exist",
			fault:  csapitest.Fault{Method: "cases.create", Status: 500, Count: 1},
			method: "cases.create",
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				_, err := c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "t", Description: "d", Priority: casesync.P3})
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.create", Status: 500, Transient: true},
		},
		{
			name:   "a 429 on a new comment is retried",
			fault:  csapitest.Fault{Method: "comments.create", Status: 429, Count: 1},
			method: "comments.create",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.AddComment(ctx, n, "hi")
				return err
			},
			wantCalls: 2,
		},
		{
			name:   "a timeout on a new comment is not retried: it may have been posted",
			fault:  csapitest.Fault{Method: "comments.create", Latency: 400 * time.Millisecond, Count: 1},
			cfg:    func(c *csapi.Config) { c.CallTimeout = 100 * time.Millisecond },
			method: "comments.create",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.AddComment(ctx, n, "hi")
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "comments.create", Transient: true},
		},
		{
			name:   "a 502 on a new comment is not retried",
			fault:  csapitest.Fault{Method: "comments.create", Status: 502, Count: 1},
			method: "comments.create",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.AddComment(ctx, n, "hi")
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "comments.create", Status: 502, Transient: true},
		},
		{
			name:   "a 429 on the upload of a seekable file is retried",
			fault:  csapitest.Fault{Method: "media.upload", Status: 429, Count: 1},
			method: "media.upload",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				data := binaryData(1<<20 + 3)
				r := bytes.NewReader(data)
				a, err := c.UploadAttachment(ctx, n, "f.bin", "application/octet-stream", r)
				if err != nil {
					return err
				}
				return checkDownload(ctx, c, n, a.ID, data)
			},
			wantCalls: 2,
		},
		{
			name:   "a 429 on the upload of a stream is not retried: the stream is spent",
			fault:  csapitest.Fault{Method: "media.upload", Status: 429, Count: 1},
			method: "media.upload",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.UploadAttachment(ctx, n, "f.bin", "", io.MultiReader(bytes.NewReader(binaryData(1000))))
				return err
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "media.upload", Status: 429, Transient: true},
		},
		{
			name:   "a 500 on a download is retried",
			fault:  csapitest.Fault{Method: "media.download", Status: 500, Count: 2},
			method: "media.download",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				a, err := c.UploadAttachment(ctx, n, "f.bin", "", bytes.NewReader([]byte{0, 1, 0}))
				if err != nil {
					return err
				}
				return checkDownload(ctx, c, n, a.ID, []byte{0, 1, 0})
			},
			wantCalls: 3,
		},
		{
			name:   "a closed case refusing a second close is checked, not failed",
			method: "cases.close",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				if err := c.CloseCase(ctx, n); err != nil {
					return err
				}
				return c.CloseCase(ctx, n)
			},
			wantCalls: 2,
		},
		{
			name:   "closing a case that does not exist is not found",
			method: "cases.close",
			do: func(ctx context.Context, c *csapi.Client, _ string) error {
				return c.CloseCase(ctx, project+"/cases/99999999")
			},
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.close", Status: 404, NotFound: true},
		},
		{
			name:   "the service being down fails the call as transient",
			down:   true,
			method: "attachments.list",
			do: func(ctx context.Context, c *csapi.Client, n string) error {
				_, err := c.ListAttachments(ctx, n)
				return err
			},
			wantCalls: 3,
			wantErr:   &errShape{Op: "attachments.list", Status: 503, Transient: true},
		},
	}
	runFaultCases(t, tests)
}

// runFaultCases runs each case against a fresh simulator holding one case,
// counting the calls of the case's method that reach the simulator.
func runFaultCases(t *testing.T, tests []faultCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _ := newSim(t)
			name := mustCase(t, sim, project, "faults", "P3")
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			c := newClient(t, sim.URL(), cfg)
			if tt.fault != (csapitest.Fault{}) {
				sim.InjectFault(tt.fault)
			}
			sim.SetDown(tt.down)
			start := time.Now()
			err := tt.do(context.Background(), c, name)
			elapsed := time.Since(start)

			if got := sim.Calls()[tt.method]; got != tt.wantCalls {
				t.Errorf("%s calls = %d, want %d", tt.method, got, tt.wantCalls)
			}
			if elapsed < tt.minElapsed {
				t.Errorf("call took %v, want at least %v", elapsed, tt.minElapsed)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("error = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("succeeded, want error %+v", *tt.wantErr)
			}
			ae := apiError(t, err)
			got := errShape{Op: ae.Op, Status: ae.Status, Transient: ae.Transient, NotFound: casesync.IsNotFound(err), RetryAfter: ae.RetryAfter}
			if diff := cmp.Diff(*tt.wantErr, got); diff != "" {
				t.Errorf("error %v (-want +got):\n%s", err, diff)
			}
			if ae.Side != casesync.SideGoogle {
				t.Errorf("side = %q, want %q", ae.Side, casesync.SideGoogle)
			}
			if casesync.IsTransient(err) != tt.wantErr.Transient {
				t.Errorf("casesync.IsTransient = %v, want %v", casesync.IsTransient(err), tt.wantErr.Transient)
			}
		})
	}
}

func createCase(ctx context.Context, c *csapi.Client, _ string) error {
	_, err := c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "t", Description: "d", Priority: casesync.P3})
	return err
}

func addComment(ctx context.Context, c *csapi.Client, n string) error {
	_, err := c.AddComment(ctx, n, "hi")
	return err
}

// uploadSeekable uploads from a reader that can be rewound, so only the
// retry policy decides whether the upload is sent again.
func uploadSeekable(ctx context.Context, c *csapi.Client, n string) error {
	_, err := c.UploadAttachment(ctx, n, "f.bin", "application/octet-stream", bytes.NewReader(binaryData(4096)))
	return err
}

// A 503 does not say the server did nothing: Google's status codes warn that
// retrying a non-idempotent call after UNAVAILABLE is not always safe. A call
// that creates something is therefore not repeated after a 503; the engine
// looks for its marker before writing again. Calls that are harmless to
// repeat still are.
func TestA503IsRetriedOnlyWhereRepeatingIsHarmless(t *testing.T) {
	once503 := func(method string) csapitest.Fault {
		return csapitest.Fault{Method: method, Status: 503, Count: 1}
	}
	tests := []faultCase{
		{
			name:      "a case creation answered 503 is sent once, as the case may exist",
			fault:     once503("cases.create"),
			method:    "cases.create",
			do:        createCase,
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.create", Status: 503, Transient: true},
		},
		{
			name:      "a comment answered 503 is sent once, as it may have been posted",
			fault:     once503("comments.create"),
			method:    "comments.create",
			do:        addComment,
			wantCalls: 1,
			wantErr:   &errShape{Op: "comments.create", Status: 503, Transient: true},
		},
		{
			name:      "the upload of a seekable file answered 503 is sent once, as the file may be attached",
			fault:     once503("media.upload"),
			method:    "media.upload",
			do:        uploadSeekable,
			wantCalls: 1,
			wantErr:   &errShape{Op: "media.upload", Status: 503, Transient: true},
		},
		{
			name:      "a case creation during an outage is sent once",
			down:      true,
			method:    "cases.create",
			do:        createCase,
			wantCalls: 1,
			wantErr:   &errShape{Op: "cases.create", Status: 503, Transient: true},
		},
		{
			name:      "a case read answered 503 and then 200 is retried and succeeds",
			fault:     once503("cases.get"),
			method:    "cases.get",
			do:        getCase,
			wantCalls: 2,
		},
		{
			name:      "a priority change answered 503 and then 200 is retried and succeeds",
			fault:     once503("cases.patch"),
			method:    "cases.patch",
			do:        func(ctx context.Context, c *csapi.Client, n string) error { return c.SetPriority(ctx, n, casesync.P1) },
			wantCalls: 2,
		},
		{
			name:      "a close answered 503 and then 200 is retried and succeeds",
			fault:     once503("cases.close"),
			method:    "cases.close",
			do:        func(ctx context.Context, c *csapi.Client, n string) error { return c.CloseCase(ctx, n) },
			wantCalls: 2,
		},
		{
			name:      "a case creation refused with 429 is still retried, as the quota blocked it",
			fault:     csapitest.Fault{Method: "cases.create", Status: 429, Count: 1},
			method:    "cases.create",
			do:        createCase,
			wantCalls: 2,
		},
		{
			name:      "the upload of a seekable file refused with 429 is still retried",
			fault:     csapitest.Fault{Method: "media.upload", Status: 429, Count: 1},
			method:    "media.upload",
			do:        uploadSeekable,
			wantCalls: 2,
		},
	}
	runFaultCases(t, tests)
}

// A connection that was never made carried nothing, so even a call that
// creates something is tried again.
func TestACreationWhoseConnectionWasNeverMadeIsRetried(t *testing.T) {
	sim, _ := newSim(t)
	simURL, err := url.Parse(sim.URL())
	if err != nil {
		t.Fatalf("simulator URL: %v", err)
	}
	// An address where nothing listens: a listener opened and closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	refused := l.Addr().String()
	l.Close()

	var dials atomic.Int32
	var d net.Dialer
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return d.DialContext(ctx, network, refused)
			}
			return d.DialContext(ctx, network, simURL.Host)
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	c, err := csapi.New(context.Background(), testConfig(), option.WithEndpoint(sim.URL()),
		option.WithoutAuthentication(), option.WithHTTPClient(&http.Client{Transport: transport}))
	if err != nil {
		t.Fatalf("csapi.New: %v", err)
	}
	if err := createCase(context.Background(), c, ""); err != nil {
		t.Fatalf("CreateCase: %v, want success on the second connection", err)
	}
	got := []int{int(dials.Load()), sim.Calls()["cases.create"]}
	if diff := cmp.Diff([]int{2, 1}, got); diff != "" {
		t.Errorf("[connections tried, creations received] (-want +got):\n%s", diff)
	}
}

func checkDownload(ctx context.Context, c *csapi.Client, caseName, id string, want []byte) error {
	rc, err := c.DownloadAttachment(ctx, caseName, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if !bytes.Equal(want, got) {
		return errors.New("downloaded bytes differ from the uploaded ones")
	}
	return nil
}

func TestTheCallersContextEndsTheRetries(t *testing.T) {
	sim, _ := newSim(t)
	name := mustCase(t, sim, project, "deadline", "P3")
	cfg := testConfig()
	cfg.MaxBackoff = time.Minute
	cfg.MaxAttempts = 10
	c := newClient(t, sim.URL(), cfg)

	t.Run("a Retry-After beyond the deadline returns the failure at once", func(t *testing.T) {
		sim.InjectFault(csapitest.Fault{Method: "cases.get", Status: 429, RetryAfter: 30 * time.Second, Count: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.GetCase(ctx, name)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("call took %v, want it to give up without waiting", elapsed)
		}
		ae := apiError(t, err)
		if diff := cmp.Diff([]any{429, true, 30 * time.Second}, []any{ae.Status, ae.Transient, ae.RetryAfter}); diff != "" {
			t.Errorf("error %v (-want +got):\n%s", err, diff)
		}
	})

	t.Run("a cancelled context stops a backoff wait", func(t *testing.T) {
		sim.ClearFaults()
		sim.InjectFault(csapitest.Fault{Method: "cases.get", Status: 503, RetryAfter: 30 * time.Second})
		defer sim.ClearFaults()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.GetCase(ctx, name)
			done <- err
		}()
		deadline := time.Now().Add(5 * time.Second)
		for sim.Calls()["cases.get"] < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if !casesync.IsTransient(err) {
				t.Errorf("error %v is not transient", err)
			}
			apiError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("GetCase kept waiting after its context was cancelled")
		}
	})
}

func TestErrorsCarryNoResponseBody(t *testing.T) {
	// A proxy answering with an HTML page instead of a Google JSON error.
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>secret case text echoed back</html>")
	})
	cfg := testConfig()
	cfg.MaxAttempts = 1
	c := newClient(t, srv.URL, cfg)
	_, err := c.GetCase(context.Background(), project+"/cases/1")
	ae := apiError(t, err)
	if diff := cmp.Diff([]any{502, true}, []any{ae.Status, ae.Transient}); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if msg := err.Error(); bytes.Contains([]byte(msg), []byte("secret")) {
		t.Errorf("error text %q carries the response body", msg)
	}
}
