// Package logging builds casebridge's structured loggers: JSON lines on
// stdout with the field names Cloud Logging understands (severity, message,
// timestamp), so that every function's logs are searchable by function,
// event and case. Loggers are passed in, never global.
//
// Case text, comment bodies and attachment bytes are customer data: nothing
// here logs a payload, and callers must not either. Log identifiers only.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/casebridge/casebridge/shared/casesync"
)

// LevelCritical is above slog.LevelError; Cloud Logging shows it as
// CRITICAL. It is used for failures that stop a function from starting.
const LevelCritical = slog.Level(12)

// Field names used across casebridge's logs.
const (
	KeyFunction  = "function"
	KeyEventID   = "eventId"
	KeyCaseSide  = "caseSide"
	KeyCaseID    = "caseId"
	KeyMappingID = "mappingId"
	KeyError     = "error"
)

// New returns a JSON logger writing to w at the given minimum level, with
// Cloud Logging's field names: "severity" (DEBUG, INFO, WARNING, ERROR,
// CRITICAL), "message" and "timestamp".
func New(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: cloudLoggingNames,
	})
	return slog.New(h)
}

func cloudLoggingNames(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		lvl, _ := a.Value.Any().(slog.Level)
		return slog.String("severity", Severity(lvl))
	case slog.MessageKey:
		a.Key = "message"
	case slog.TimeKey:
		a.Key = "timestamp"
	}
	return a
}

// Severity returns the Cloud Logging severity for a slog level.
func Severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// ParseLevel reads a LOG_LEVEL value: debug, info, warn/warning or error
// (any case). An empty string is info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: want debug, info, warning or error", s)
}

// WithFunction returns l tagged with the function's name.
func WithFunction(l *slog.Logger, name string) *slog.Logger {
	return l.With(KeyFunction, name)
}

// WithEvent returns l tagged with the id of the event being handled (the
// Pub/Sub message id).
func WithEvent(l *slog.Logger, eventID string) *slog.Logger {
	return l.With(KeyEventID, eventID)
}

// WithCase returns l tagged with the case a reference names: side, id, and
// the mapping id when the reference carries one.
func WithCase(l *slog.Logger, ref casesync.CaseRef) *slog.Logger {
	args := []any{KeyCaseSide, string(ref.Side), KeyCaseID, ref.ID}
	if ref.MappingID != "" {
		args = append(args, KeyMappingID, ref.MappingID)
	}
	return l.With(args...)
}

// Err is the attribute for an error being logged.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.String(KeyError, "")
	}
	return slog.String(KeyError, err.Error())
}

// Discard returns a logger that writes nothing, for tests that do not look
// at logs.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
