package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// lineKeys returns the keys of a JSON log line's top-level object in the
// order written, duplicates included (decoding into a map would hide them).
func lineKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line %q is not a JSON object", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
	}
	return keys
}

func TestNewWritesEachKeyOnce(t *testing.T) {
	tests := []struct {
		name     string
		log      func(l *slog.Logger)
		wantKeys []string
		want     map[string]any
	}{
		{
			name: "a key of the logger's tags and of the line is written once, with the line's value",
			log: func(l *slog.Logger) {
				l = WithCase(l, casesync.CaseRef{MappingID: "m1"})
				l.Info("case reconciled", KeyMappingID, "m2")
			},
			wantKeys: []string{"timestamp", "severity", "message", "mappingId"},
			want:     map[string]any{"severity": "INFO", "message": "case reconciled", "mappingId": "m2"},
		},
		{
			name: "a key tagged twice is written once, with the later value",
			log: func(l *slog.Logger) {
				l = l.With(KeyMappingID, "m1").With("step", 1).With(KeyMappingID, "m1")
				l.Info("done")
			},
			wantKeys: []string{"timestamp", "severity", "message", "mappingId", "step"},
			want:     map[string]any{"severity": "INFO", "message": "done", "mappingId": "m1", "step": 1.0},
		},
		{
			name:     "a key given twice on one line is written once",
			log:      func(l *slog.Logger) { l.Info("done", "n", 1, "n", 2) },
			wantKeys: []string{"timestamp", "severity", "message", "n"},
			want:     map[string]any{"severity": "INFO", "message": "done", "n": 2.0},
		},
		{
			name: "keys inside a group are unique and apart from the keys outside it",
			log: func(l *slog.Logger) {
				l = l.With("id", "outer").WithGroup("g").With("id", "a")
				l.Info("done", "id", "b")
			},
			wantKeys: []string{"timestamp", "severity", "message", "id", "g"},
			want:     map[string]any{"severity": "INFO", "message": "done", "id": "outer", "g": map[string]any{"id": "b"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug))
			if diff := cmp.Diff(tt.wantKeys, lineKeys(t, buf.Bytes())); diff != "" {
				t.Errorf("keys of the log line (-want +got):\n%s", diff)
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			delete(got, "timestamp")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewCutsLongValues(t *testing.T) {
	huge := strings.Repeat("7", 2<<20)
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		key  string
	}{
		{name: "a 2 MB case id tagged by WithCase is cut",
			log: func(l *slog.Logger) {
				WithCase(l, casesync.CaseRef{Side: casesync.SideCompany, ID: huge}).Info("x")
			}, key: KeyCaseID},
		{name: "a 2 MB mapping id tagged by WithCase is cut",
			log: func(l *slog.Logger) { WithCase(l, casesync.CaseRef{MappingID: huge}).Info("x") }, key: KeyMappingID},
		{name: "a 2 MB event id is cut",
			log: func(l *slog.Logger) { WithEvent(l, huge).Info("x") }, key: KeyEventID},
		{name: "a 2 MB string attribute of any caller is cut",
			log: func(l *slog.Logger) { l.Info("x", "mappingId", huge) }, key: "mappingId"},
		{name: "a 2 MB error text is cut",
			log: func(l *slog.Logger) { l.Error("x", "error", errors.New(huge)) }, key: "error"},
		{name: "a 2 MB error text through Err is cut",
			log: func(l *slog.Logger) { l.Error("x", Err(errors.New(huge))) }, key: "error"},
		{name: "each 2 MB id of a list is cut",
			log: func(l *slog.Logger) { l.Error("x", "mappingIds", []string{huge, "m1"}) }, key: "mappingIds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, slog.LevelDebug))
			if buf.Len() > 3*MaxValueBytes {
				t.Errorf("the log line is %d bytes long, want at most %d", buf.Len(), 3*MaxValueBytes)
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("log line is not JSON: %v", err)
			}
			v := fmt.Sprint(got[tt.key])
			if !strings.Contains(v, "7777") || !strings.Contains(v, fmt.Sprintf("(%d bytes)", len(huge))) {
				t.Errorf("%s = %.100q…, want a prefix of the value and its length", tt.key, v)
			}
		})
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{name: "a short value is kept", in: "abc", n: 3, want: "abc"},
		{name: "a long value is cut and its length given", in: "abcdef", n: 3, want: "abc… (6 bytes)"},
		{name: "a cut never splits a character", in: "aéé", n: 2, want: "a… (5 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Cut(tt.in, tt.n)); diff != "" {
				t.Errorf("Cut(%q, %d) (-want +got):\n%s", tt.in, tt.n, diff)
			}
		})
	}
}
