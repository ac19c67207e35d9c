package eventing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/google/go-cmp/cmp"
)

func TestFailureKey(t *testing.T) {
	tests := []struct {
		name     string
		function string
		ref      *casesync.CaseRef
		want     string
	}{
		{name: "a tick is keyed by its function", function: FunctionPollCRM, want: "PollCRM-tick"},
		{name: "a CRM case is keyed by side and id", function: FunctionSyncCase,
			ref: &casesync.CaseRef{Side: casesync.SideCompany, ID: "4711"}, want: "SyncCase-company-4711"},
		{name: "a Google case is keyed by its case number", function: FunctionSyncCase,
			ref: &casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1234"}, want: "SyncCase-google-1234"},
		{name: "a Google case named by project number has the same key", function: FunctionSyncCase,
			ref: &casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/123456/cases/1234"}, want: "SyncCase-google-1234"},
		{name: "the update time does not change the key", function: FunctionSyncCase,
			ref: &casesync.CaseRef{Side: casesync.SideCompany, ID: "4711", UpdateTime: published}, want: "SyncCase-company-4711"},
		{name: "a CRM id with slashes is escaped", function: FunctionSyncCase,
			ref: &casesync.CaseRef{Side: casesync.SideCompany, ID: "INC/42%"}, want: "SyncCase-company-INC%2F42%25"},
		{name: "a mapping-only request is keyed by the mapping", function: FunctionSyncCase,
			ref: &casesync.CaseRef{MappingID: "m9"}, want: "SyncCase-mapping-m9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FailureKey(tt.function, tt.ref)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FailureKey (-want +got):\n%s", diff)
			}
			if strings.Contains(got, "/") {
				t.Errorf("FailureKey = %q holds a '/', which no Firestore document id may", got)
			}
		})
	}
}

// recorder is a FailureRecorder that keeps what it is given, or fails.
type recorder struct {
	mu   sync.Mutex
	got  []DeliveryFailure
	fail error
	ctxs []error // ctx.Err() seen at each call
}

func (r *recorder) RecordFailure(ctx context.Context, f DeliveryFailure) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctxs = append(r.ctxs, ctx.Err())
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, f)
	return nil
}

func TestCaseHandlerRecordsTheFailuresPubSubRedelivers(t *testing.T) {
	now := published.Add(time.Minute)
	transient := &casesync.APIError{Side: casesync.SideCompany, Op: "tickets.create", Status: 503, Transient: true, Err: errors.New("unavailable")}
	permanent := &casesync.APIError{Side: casesync.SideCompany, Op: "tickets.create", Status: 403, Err: errors.New("denied")}
	long := errors.New(strings.Repeat("é", 2*MaxFailureErrorLen))
	ref := casesync.CaseRef{Side: casesync.SideCompany, ID: "4711"}
	tests := []struct {
		name   string
		body   string
		age    time.Duration
		runErr error
		cancel bool // the handler's context has ended when it returns
		want   []DeliveryFailure
	}{
		{name: "a handled message records nothing", body: `{"side":"company","id":"4711"}`},
		{name: "a transient failure is recorded under the case's key", body: `{"side":"company","id":"4711"}`, runErr: transient,
			want: []DeliveryFailure{{Key: "SyncCase-company-4711", Function: FunctionSyncCase, Error: transient.Error(), At: now, CaseRef: &ref}}},
		{name: "an unexpected failure is recorded, as it will be dead-lettered", body: `{"mappingId":"m9"}`, runErr: errors.New("boom"),
			want: []DeliveryFailure{{Key: "SyncCase-mapping-m9", Function: FunctionSyncCase, Error: "boom", At: now, CaseRef: &casesync.CaseRef{MappingID: "m9"}}}},
		{name: "a failure is recorded even when the handler's context has ended", body: `{"side":"company","id":"4711"}`, runErr: transient, cancel: true,
			want: []DeliveryFailure{{Key: "SyncCase-company-4711", Function: FunctionSyncCase, Error: transient.Error(), At: now, CaseRef: &ref}}},
		{name: "a permanent failure is acknowledged and records nothing", body: `{"side":"company","id":"4711"}`, runErr: permanent},
		{name: "an event handed back until the run holding its case ends records nothing", body: `{"side":"company","id":"4711","item":"9"}`,
			runErr: casesync.ErrWaitForHolder},
		{name: "a malformed message records nothing", body: `not json`},
		{name: "an event older than the cutoff records nothing", body: `{"side":"company","id":"4711"}`, age: 25 * time.Hour, runErr: transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			h := Handler{Function: FunctionSyncCase, Log: logging.Discard(), MaxAge: 24 * time.Hour,
				Now: func() time.Time { return now.Add(tt.age) }, Failures: rec}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			err := h.Case(func(context.Context, *slog.Logger, casesync.CaseRef) error {
				if tt.cancel {
					cancel()
				}
				return tt.runErr
			})(ctx, pushEvent(t, "ev1", []byte(tt.body)))
			if tt.want != nil && err == nil {
				t.Errorf("handler returned nil, want the error that makes Pub/Sub redeliver")
			}
			if diff := cmp.Diff(tt.want, rec.got); diff != "" {
				t.Errorf("recorded failures (-want +got):\n%s", diff)
			}
			for _, cerr := range rec.ctxs {
				if cerr != nil {
					t.Errorf("the failure was recorded with an ended context: %v", cerr)
				}
			}
		})
	}

	t.Run("a long error is cut to the cap without splitting a character", func(t *testing.T) {
		rec := &recorder{}
		h := Handler{Function: FunctionSyncCase, Log: logging.Discard(), Failures: rec}
		h.Case(func(context.Context, *slog.Logger, casesync.CaseRef) error { return long })(t.Context(), pushEvent(t, "ev1", []byte(`{"side":"company","id":"4711"}`)))
		if len(rec.got) != 1 {
			t.Fatalf("recorded %d failures, want 1", len(rec.got))
		}
		e := rec.got[0].Error
		if len(e) > MaxFailureErrorLen || !utf8.ValidString(e) || !strings.HasSuffix(e, "…") {
			t.Errorf("recorded error of %d bytes (valid UTF-8: %v), want at most %d bytes of valid UTF-8 ending in …", len(e), utf8.ValidString(e), MaxFailureErrorLen)
		}
	})
}

func TestTickHandlerRecordsItsFailuresUnderTheTickKey(t *testing.T) {
	rec := &recorder{}
	h := Handler{Function: FunctionPollCRM, Log: logging.Discard(), MaxAge: TickPeriod(FunctionPollCRM),
		Now: func() time.Time { return published.Add(time.Second) }, Failures: rec}
	runErr := &casesync.TransientError{Err: errors.New("aborted")}
	if err := h.Tick(func(context.Context, *slog.Logger) error { return runErr })(t.Context(), pushEvent(t, "tick", nil)); err == nil {
		t.Fatal("handler returned nil, want the transient error")
	}
	want := []DeliveryFailure{{Key: "PollCRM-tick", Function: FunctionPollCRM, Error: runErr.Error(), At: published.Add(time.Second)}}
	if diff := cmp.Diff(want, rec.got); diff != "" {
		t.Errorf("recorded failures (-want +got):\n%s", diff)
	}
}

func TestAFailedRecordIsLoggedAndChangesNothing(t *testing.T) {
	var buf bytes.Buffer
	rec := &recorder{fail: errors.New("firestore unavailable")}
	h := Handler{Function: FunctionSyncCase, Log: logging.New(&buf, slog.LevelInfo), Failures: rec}
	runErr := &casesync.TransientError{Err: errors.New("aborted")}
	err := h.Case(func(context.Context, *slog.Logger, casesync.CaseRef) error { return runErr })(t.Context(), pushEvent(t, "ev1", []byte(`{"side":"company","id":"4711"}`)))
	if !errors.Is(err, runErr) {
		t.Errorf("handler error = %v, want the work's own error %v", err, runErr)
	}
	lines := logLines(t, &buf)
	if len(lines) == 0 {
		t.Fatal("nothing logged")
	}
	last := lines[len(lines)-1]
	got := []any{last["severity"], last["error"], last["function"], last["eventId"]}
	want := []any{"WARNING", "firestore unavailable", FunctionSyncCase, "ev1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last log line (-want +got):\n%s", diff)
	}
}
