package eventing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

var published = time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)

// pushEvent builds the CloudEvent functions-framework makes of a raw
// Pub/Sub push body.
func pushEvent(t *testing.T, id string, body []byte) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/case-updated")
	e.SetTime(published)
	data := map[string]any{"message": map[string]any{
		"data": body, "messageId": id, "publishTime": published, "attributes": nil,
	}}
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	return e
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		delete(m, "timestamp")
		out = append(out, m)
	}
	return out
}

func TestDecode(t *testing.T) {
	t.Run("a converted push body yields the message", func(t *testing.T) {
		got, err := Decode(pushEvent(t, "m1", []byte(`{"side":"google","id":"projects/p/cases/1"}`)))
		if err != nil {
			t.Fatal(err)
		}
		want := MessagePublishedData{Message: PubsubMessage{
			Data: []byte(`{"side":"google","id":"projects/p/cases/1"}`), MessageID: "m1", PublishTime: published,
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode (-want +got):\n%s", diff)
		}
	})
	t.Run("an event without data is permanent", func(t *testing.T) {
		e := event.New()
		e.SetID("x")
		_, err := Decode(e)
		if !IsPermanent(err) {
			t.Errorf("Decode error = %v, want a PermanentError", err)
		}
	})
}

func TestDecodeCaseRef(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		want          casesync.CaseRef
		wantPermanent bool
	}{
		{name: "a Google case reference is read", body: `{"side":"google","id":"projects/p/cases/1"}`,
			want: casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1"}},
		{name: "a CRM case reference with update time is read", body: `{"side":"company","id":"7","updateTime":"2026-04-01T10:00:00Z"}`,
			want: casesync.CaseRef{Side: casesync.SideCompany, ID: "7", UpdateTime: published}},
		{name: "a mapping-only sync request is read", body: `{"mappingId":"m9"}`,
			want: casesync.CaseRef{MappingID: "m9"}},
		{name: "an empty body is permanent", body: ``, wantPermanent: true},
		{name: "text that is not JSON is permanent", body: `please sync my case`, wantPermanent: true},
		{name: "a wrongly typed field is permanent", body: `{"side":"google","id":7}`, wantPermanent: true},
		{name: "an unknown side is permanent", body: `{"side":"jira","id":"7"}`, wantPermanent: true},
		{name: "a reference with no id is permanent", body: `{"side":"google"}`, wantPermanent: true},
		{name: "a mapping id with a slash is permanent", body: `{"mappingId":"a/b"}`, wantPermanent: true},
		{name: "a mapping id over the length bound is permanent", body: `{"mappingId":"` + strings.Repeat("m", casesync.MaxIDLen+1) + `"}`, wantPermanent: true},
		{name: "an event's item is read", body: `{"side":"google","id":"projects/p/cases/1","item":"55"}`,
			want: casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1", Item: "55"}},
		{name: "a malformed item is permanent", body: `{"side":"google","id":"projects/p/cases/1","item":"5/../6"}`, wantPermanent: true},
		{name: "a CRM case id with a space is permanent", body: `{"side":"company","id":"7 OR 1=1"}`, wantPermanent: true},
		{name: "a Google case name with extra segments is permanent", body: `{"side":"google","id":"projects/p/cases/1/../2"}`, wantPermanent: true},
		{name: "a Google case name given as a CRM id's form is permanent", body: `{"side":"google","id":"7"}`, wantPermanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeCaseRef([]byte(tt.body))
			if tt.wantPermanent {
				if !IsPermanent(err) {
					t.Fatalf("DecodeCaseRef error = %v, want a PermanentError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeCaseRef (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCaseHandlerRetryContract(t *testing.T) {
	transient := &casesync.APIError{Side: casesync.SideGoogle, Op: "cases.get", Status: 503, Transient: true, Err: errors.New("unavailable")}
	permanent := &casesync.APIError{Side: casesync.SideGoogle, Op: "cases.get", Status: 403, Err: errors.New("denied")}
	tests := []struct {
		name       string
		body       string
		age        time.Duration
		runErr     error
		wantErr    bool
		wantRun    bool
		wantSevere string // severity of the last log line, "" for none
	}{
		{name: "a handled case is acked", body: `{"side":"google","id":"projects/p/cases/1"}`, wantRun: true},
		{name: "a transient failure is returned for redelivery", body: `{"side":"google","id":"projects/p/cases/1"}`,
			runErr: transient, wantErr: true, wantRun: true, wantSevere: "WARNING"},
		{name: "a held lease is returned for redelivery", body: `{"side":"google","id":"projects/p/cases/1"}`,
			runErr: casesync.ErrLeaseHeld, wantErr: true, wantRun: true, wantSevere: "WARNING"},
		{name: "an event waiting for the run holding its case is returned for redelivery, logged at INFO", body: `{"side":"google","id":"projects/p/cases/1","item":"5"}`,
			runErr: fmt.Errorf("mapping m1: %w", casesync.ErrWaitForHolder), wantErr: true, wantRun: true, wantSevere: "INFO"},
		{name: "a permanent failure is logged and acked", body: `{"side":"google","id":"projects/p/cases/1"}`,
			runErr: permanent, wantRun: true, wantSevere: "ERROR"},
		{name: "a malformed message is logged and acked without running", body: `customer secret text`,
			wantSevere: "ERROR"},
		{name: "an event older than the cutoff is dropped", body: `{"side":"company","id":"7"}`,
			age: 25 * time.Hour, wantSevere: "WARNING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			ran := false
			h := Handler{
				Function: FunctionSyncCase,
				Log:      logging.New(&buf, slog.LevelInfo),
				MaxAge:   24 * time.Hour,
				Now:      func() time.Time { return published.Add(tt.age) },
			}
			fn := h.Case(func(ctx context.Context, log *slog.Logger, ref casesync.CaseRef) error {
				ran = true
				return tt.runErr
			})
			err := fn(t.Context(), pushEvent(t, "ev1", []byte(tt.body)))
			if (err != nil) != tt.wantErr {
				t.Errorf("handler error = %v, want error %v", err, tt.wantErr)
			}
			if ran != tt.wantRun {
				t.Errorf("engine ran = %v, want %v", ran, tt.wantRun)
			}
			lines := logLines(t, &buf)
			gotSevere := ""
			if len(lines) > 0 {
				last := lines[len(lines)-1]
				gotSevere, _ = last["severity"].(string)
				if diff := cmp.Diff([]any{FunctionSyncCase, "ev1"}, []any{last["function"], last["eventId"]}); diff != "" {
					t.Errorf("log line lacks function and event id (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.wantSevere, gotSevere); diff != "" {
				t.Errorf("severity of the last log line (-want +got):\n%s", diff)
			}
			if strings.Contains(buf.String(), "secret") {
				t.Errorf("the log quotes the message body: %s", buf.String())
			}
		})
	}
}

func TestTickHandler(t *testing.T) {
	tests := []struct {
		name    string
		age     time.Duration
		runErr  error
		wantErr bool
		wantRun bool
	}{
		{name: "a fresh tick runs the work", age: time.Second, wantRun: true},
		{name: "a tick older than its period is dropped", age: 2 * time.Minute, wantRun: false},
		{name: "a transient failure is returned", age: time.Second, runErr: &casesync.TransientError{Err: errors.New("aborted")}, wantErr: true, wantRun: true},
		{name: "a permanent failure is acked", age: time.Second, runErr: &casesync.APIError{Side: casesync.SideCompany, Op: "search", Status: 400, Err: errors.New("bad query")}, wantRun: true},
		{name: "an unrecognised failure is returned, to be retried and then dead-lettered", age: time.Second, runErr: errors.New("something unexpected"), wantErr: true, wantRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			h := Handler{Function: FunctionPollGoogle, Log: logging.Discard(), MaxAge: TickPeriod(FunctionPollGoogle),
				Now: func() time.Time { return published.Add(tt.age) }}
			err := h.Tick(func(ctx context.Context, log *slog.Logger) error {
				ran = true
				return tt.runErr
			})(t.Context(), pushEvent(t, "tick", nil))
			if (err != nil) != tt.wantErr {
				t.Errorf("handler error = %v, want error %v", err, tt.wantErr)
			}
			if ran != tt.wantRun {
				t.Errorf("poll ran = %v, want %v", ran, tt.wantRun)
			}
		})
	}
}

// TestTheCaseHandlerGivesTheEngineThePublishTimeOnItsClock: the engine
// compares a message's publish time with when it read a case, on its own
// clock, which the sandbox may shift away from real time.
func TestTheCaseHandlerGivesTheEngineThePublishTimeOnItsClock(t *testing.T) {
	real := published.Add(3 * time.Second)
	for _, tt := range []struct {
		name  string
		clock func() time.Time
		want  time.Time
	}{
		{"real time", nil, published},
		{"a clock two days ahead", func() time.Time { return real.Add(48 * time.Hour) }, published.Add(48 * time.Hour)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got casesync.CaseRef
			h := Handler{Function: "SyncCase", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return real }, Clock: tt.clock}
			run := h.Case(func(_ context.Context, _ *slog.Logger, ref casesync.CaseRef) error {
				got = ref
				return nil
			})
			if err := run(context.Background(), pushEvent(t, "m1", []byte(`{"side":"company","id":"7","item":"42"}`))); err != nil {
				t.Fatal(err)
			}
			if !got.EventTime.Equal(tt.want) || got.Item != "42" {
				t.Errorf("the engine got %+v; want item 42 and event time %s", got, tt.want)
			}
		})
	}
}
