package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/google/go-cmp/cmp"
)

func TestNewWritesCloudLoggingFields(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want map[string]any
	}{
		{
			name: "an info line has severity INFO and a message",
			log:  func(l *slog.Logger) { l.Info("poll done", "found", 3) },
			want: map[string]any{"severity": "INFO", "message": "poll done", "found": 3.0},
		},
		{
			name: "a warning is spelled WARNING",
			log:  func(l *slog.Logger) { l.Warn("slow") },
			want: map[string]any{"severity": "WARNING", "message": "slow"},
		},
		{
			name: "an error carries the error text",
			log:  func(l *slog.Logger) { l.Error("failed", Err(errors.New("boom"))) },
			want: map[string]any{"severity": "ERROR", "message": "failed", "error": "boom"},
		},
		{
			name: "a critical line is spelled CRITICAL",
			log:  func(l *slog.Logger) { l.Log(t.Context(), LevelCritical, "cannot start") },
			want: map[string]any{"severity": "CRITICAL", "message": "cannot start"},
		},
		{
			name: "function, event and case tags are attached",
			log: func(l *slog.Logger) {
				l = WithFunction(l, "SyncCase")
				l = WithEvent(l, "42")
				l = WithCase(l, casesync.CaseRef{Side: casesync.SideCompany, ID: "7", MappingID: "m1"})
				l.Info("synced")
			},
			want: map[string]any{
				"severity": "INFO", "message": "synced", "function": "SyncCase", "eventId": "42",
				"caseSide": "company", "caseId": "7", "mappingId": "m1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug))
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("log line %q is not JSON: %v", buf.String(), err)
			}
			if _, ok := got["timestamp"].(string); !ok {
				t.Errorf("log line %s has no timestamp", buf.String())
			}
			delete(got, "timestamp")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewHonoursLevel(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, slog.LevelWarn)
	l.Info("hidden")
	l.Debug("hidden too")
	if buf.Len() != 0 {
		t.Errorf("a warn-level logger wrote %q for info and debug lines", buf.String())
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{in: "", want: slog.LevelInfo},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "warning", want: slog.LevelWarn},
		{in: "warn", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: "loud", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("level "+tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseLevel(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLevel(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
