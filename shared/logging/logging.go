// Package logging builds casebridge's structured loggers: JSON lines on
// stdout with the field names Cloud Logging understands (severity, message,
// timestamp), so that every function's logs are searchable by function,
// event and case. Loggers are passed in, never global.
//
// Case text, comment bodies and attachment bytes are customer data: nothing
// here logs a payload, and callers must not either. Log identifiers only.
// Identifiers come from outside and can be of any size, so every string a
// line carries is cut to MaxValueBytes; and each key appears once per line,
// however many loggers along the way tagged it.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"

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

// MaxValueBytes bounds every string value a log line carries (attribute
// values, error texts, the message): a longer one is cut to this many bytes
// and marked with its full length. Values from outside (ids, names, vendor
// error details) can be of any size; a log line stays small whatever they
// are.
const MaxValueBytes = 1024

// maxIDBytes bounds the ids and names the With helpers attach, which are
// repeated on every line of an event. A well-formed id is far shorter.
const maxIDBytes = 200

// New returns a JSON logger writing to w at the given minimum level, with
// Cloud Logging's field names: "severity" (DEBUG, INFO, WARNING, ERROR,
// CRITICAL), "message" and "timestamp". Each key appears once per line: when
// a logger's tags and a line's own attributes name the same key, the value
// given last wins, in the place of the first. String values (and error
// texts) are cut to MaxValueBytes.
func New(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: cloudLoggingNames,
	})
	return slog.New(&lineHandler{next: h})
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
	return boundValue(a)
}

// boundValue cuts a string value, an error's text or the elements of a
// list of strings to MaxValueBytes.
func boundValue(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); len(s) > MaxValueBytes {
			a.Value = slog.StringValue(Cut(s, MaxValueBytes))
		}
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			if v != nil {
				a.Value = slog.StringValue(Cut(v.Error(), MaxValueBytes))
			}
		case []string:
			cut := make([]string, len(v))
			for i, s := range v {
				cut[i] = Cut(s, MaxValueBytes)
			}
			a.Value = slog.AnyValue(cut)
		}
	}
	return a
}

// Cut returns s when it is at most n bytes long; otherwise its first bytes
// (never splitting a UTF-8 sequence) followed by "… (N bytes)" giving its
// full length, the whole at most n bytes plus that mark.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf("… (%d bytes)", len(s))
}

// lineHandler keeps the tags a logger was given (With) itself instead of
// passing them on, so that each line can be written with every key once:
// slog's JSON handler would write a key twice if a tag and a line's own
// attribute shared it. Tags given after WithGroup belong to the group; the
// ones before it are handed to the next handler then.
type lineHandler struct {
	next  slog.Handler
	attrs []slog.Attr
}

func (h *lineHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	all := make([]slog.Attr, 0, len(h.attrs)+len(as))
	all = append(append(all, h.attrs...), as...)
	return &lineHandler{next: h.next, attrs: all}
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	next := h.next
	if len(h.attrs) > 0 {
		next = next.WithAttrs(unique(h.attrs))
	}
	return &lineHandler{next: next.WithGroup(name)}
}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	if len(h.attrs) == 0 && r.NumAttrs() == 0 {
		return h.next.Handle(ctx, r)
	}
	all := make([]slog.Attr, 0, len(h.attrs)+r.NumAttrs())
	all = append(all, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		all = append(all, a)
		return true
	})
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(unique(all)...)
	return h.next.Handle(ctx, out)
}

// unique returns as with each key once: a later value replaces an earlier
// one in its place. Groups without a key are opened into their parent (slog
// writes their members inline), empty attributes are dropped, and the
// members of a group are made unique in turn.
func unique(as []slog.Attr) []slog.Attr {
	var out []slog.Attr
	at := map[string]int{}
	var add func(a slog.Attr)
	add = func(a slog.Attr) {
		a.Value = a.Value.Resolve()
		if a.Value.Kind() == slog.KindGroup {
			members := a.Value.Group()
			if len(members) == 0 {
				return // slog writes nothing for an empty group
			}
			if a.Key == "" {
				for _, m := range members {
					add(m)
				}
				return
			}
			a.Value = slog.GroupValue(unique(members)...)
		}
		if a.Equal(slog.Attr{}) {
			return
		}
		if i, ok := at[a.Key]; ok {
			out[i] = a
			return
		}
		at[a.Key] = len(out)
		out = append(out, a)
	}
	for _, a := range as {
		add(a)
	}
	return out
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
	return l.With(KeyFunction, Cut(name, maxIDBytes))
}

// WithEvent returns l tagged with the id of the event being handled (the
// Pub/Sub message id), cut to a short length.
func WithEvent(l *slog.Logger, eventID string) *slog.Logger {
	return l.With(KeyEventID, Cut(eventID, maxIDBytes))
}

// WithCase returns l tagged with the case a reference names: side and id
// when it names a case, the mapping id when it carries one, each cut to a short
// length (a reference is checked before it is logged, but its values come
// from outside).
func WithCase(l *slog.Logger, ref casesync.CaseRef) *slog.Logger {
	var args []any
	if ref.Side != "" || ref.ID != "" {
		args = append(args, KeyCaseSide, Cut(string(ref.Side), maxIDBytes), KeyCaseID, Cut(ref.ID, maxIDBytes))
	}
	if ref.MappingID != "" {
		args = append(args, KeyMappingID, Cut(ref.MappingID, maxIDBytes))
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
