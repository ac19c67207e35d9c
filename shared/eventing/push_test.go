package eventing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

// The functions framework serves one process-wide registry and cannot be
// stopped, so the push tests share one server whose SyncCase handler is
// swapped per test.
var (
	pushServerOnce sync.Once
	pushServerURL  string
	pushServerErr  error
	pushHandlerMu  sync.Mutex
	pushHandler    func(context.Context, event.Event) error
)

// servePush starts the functions framework with SyncCase registered as the
// local functions process registers it, so that a raw Pub/Sub push body
// posted to /SyncCase/projects/P/topics/T is converted to a CloudEvent,
// handled by h, and answered 2xx (acknowledged) or 5xx (redelivered).
func servePush(t *testing.T, h func(context.Context, event.Event) error) string {
	t.Helper()
	pushHandlerMu.Lock()
	pushHandler = h
	pushHandlerMu.Unlock()
	pushServerOnce.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			pushServerErr = err
			return
		}
		port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		err = funcframework.RegisterCloudEventFunctionContext(context.Background(), "/"+FunctionSyncCase+"/",
			func(ctx context.Context, e event.Event) error {
				pushHandlerMu.Lock()
				h := pushHandler
				pushHandlerMu.Unlock()
				return h(ctx, e)
			})
		if err != nil {
			pushServerErr = err
			return
		}
		go func() { _ = funcframework.StartHostPort("127.0.0.1", port) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				pushServerErr = fmt.Errorf("the functions framework did not start listening: %w", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		pushServerURL = "http://127.0.0.1:" + port
	})
	if pushServerErr != nil {
		t.Fatalf("cannot serve the function through the functions framework: %v", pushServerErr)
	}
	return pushServerURL
}

// push posts body as Pub/Sub's push delivery sends a message of the
// sync-requested topic and returns the HTTP status.
func push(t *testing.T, base, messageID string, body []byte) int {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"message": map[string]any{
			"data": body, "messageId": messageID, "message_id": messageID,
			"publishTime": published.Format(time.RFC3339Nano), "attributes": map[string]string{},
		},
		"subscription": "projects/p/subscriptions/sync-requested-sync-case",
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/"+FunctionSyncCase+"/projects/p/topics/sync-requested", "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// lockedBuffer is a log sink written by the server's goroutine and read by
// the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out
}

// jsonKeys returns the top-level keys of a JSON log line in the order
// written, duplicates included.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line %.200q is not a JSON object", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %.200q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("log line %.200q: %v", line, err)
		}
	}
	return keys
}

func TestSyncCasePushOverTheFunctionsFramework(t *testing.T) {
	huge := strings.Repeat("7", 2<<20)
	// What the engine's store answers an id it cannot use: an error that is
	// neither known transient nor known permanent, so redelivered.
	storeRefusal := errors.New("store: invalid document id")
	tests := []struct {
		name       string
		messageID  string
		body       string
		runLogs    bool  // the work logs as SyncCase and the engine do
		runErr     error // what the work returns if it runs
		wantStatus int
		wantRun    bool
		wantReason string // in the error of the last line, "" for none
	}{
		{name: "an invalid mapping id is acknowledged once with its reason, not answered 500",
			messageID: "m1", body: `{"mappingId":"../../mappings/x"}`, runErr: storeRefusal,
			wantStatus: http.StatusOK, wantReason: "mapping id"},
		{name: "a 2 MB CRM case id is refused as permanent",
			messageID: "m2", body: `{"side":"company","id":"` + huge + `"}`, runErr: storeRefusal,
			wantStatus: http.StatusOK, wantReason: "CRM case id"},
		{name: "a 2 MB mapping id is refused as permanent",
			messageID: "m3", body: `{"mappingId":"` + huge + `"}`, runErr: storeRefusal,
			wantStatus: http.StatusOK, wantReason: "mapping id"},
		{name: "a malformed Google case name is refused as permanent",
			messageID: "m4", body: `{"side":"google","id":"projects/p/cases/1/comments/2"}`, runErr: storeRefusal,
			wantStatus: http.StatusOK, wantReason: "Google case name"},
		{name: "a 2 MB message id gives short log lines",
			messageID: huge, body: `{"side":"company","id":"7"}`, runLogs: true,
			wantStatus: http.StatusOK, wantRun: true},
		{name: "a mapping id named by the message and by the work's own lines is logged once per line",
			messageID: "m6", body: `{"mappingId":"m-77"}`, runLogs: true,
			wantStatus: http.StatusOK, wantRun: true},
		{name: "a well-formed reference whose work fails for a reason unknown is still redelivered",
			messageID: "m7", body: `{"side":"google","id":"projects/p/cases/1"}`, runErr: storeRefusal,
			wantStatus: http.StatusInternalServerError, wantRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs lockedBuffer
			ran := false
			h := Handler{Function: FunctionSyncCase, Log: logging.New(&logs, slog.LevelDebug), MaxAge: 24 * time.Hour,
				Now: func() time.Time { return published.Add(time.Minute) }}
			base := servePush(t, h.Case(func(ctx context.Context, log *slog.Logger, ref casesync.CaseRef) error {
				ran = true
				if tt.runLogs {
					// The engine tags its lines with the mapping it holds,
					// and SyncCase adds the mapping to its summary.
					log.With(logging.KeyMappingID, "m-77").Debug("reconciliation finished", "actions", 0)
					log.Info("case reconciled", logging.KeyMappingID, "m-77", "actions", []string{})
				}
				return tt.runErr
			}))
			if got := push(t, base, tt.messageID, []byte(tt.body)); got != tt.wantStatus {
				t.Errorf("HTTP status = %d, want %d", got, tt.wantStatus)
			}
			if ran != tt.wantRun {
				t.Errorf("the work ran = %v, want %v", ran, tt.wantRun)
			}
			lines := logs.lines()
			if len(lines) == 0 {
				t.Fatal("nothing was logged")
			}
			for _, l := range lines {
				if len(l) > 2000 {
					t.Errorf("a log line is %d bytes long, want at most 2000: %.200s…", len(l), l)
				}
				keys := jsonKeys(t, l)
				seen := map[string]bool{}
				for _, k := range keys {
					if seen[k] {
						t.Errorf("key %q appears twice in the log line %.300s", k, l)
					}
					seen[k] = true
				}
			}
			if tt.wantReason != "" {
				var last map[string]any
				if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
					t.Fatal(err)
				}
				reason := fmt.Sprint(last["error"])
				got := []any{last["severity"], strings.Contains(reason, tt.wantReason)}
				if diff := cmp.Diff([]any{"ERROR", true}, got); diff != "" {
					t.Errorf("the refusal's log line (error %.200q): severity and whether it names %q (-want +got):\n%s", reason, tt.wantReason, diff)
				}
			}
		})
	}
}
