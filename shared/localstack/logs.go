package localstack

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"sync"
)

// LogLine is one line the functions process wrote. Most are the functions'
// JSON log entries; functions-framework also writes a few plain lines.
type LogLine struct {
	// Raw is the line as written.
	Raw string
	// Fields is the parsed JSON entry, nil for a plain line.
	Fields map[string]any
}

// Str returns a string field of the entry, "" if absent.
func (l LogLine) Str(key string) string {
	s, _ := l.Fields[key].(string)
	return s
}

// Severity is the entry's Cloud Logging severity ("" for a plain line).
func (l LogLine) Severity() string { return l.Str("severity") }

// Message is the entry's message, or the raw text of a plain line.
func (l LogLine) Message() string {
	if l.Fields == nil {
		return l.Raw
	}
	return l.Str("message")
}

// maxHistory bounds the lines kept for WaitForLog and Logs.
const maxHistory = 20000

// logHub keeps the functions process's recent lines and fans them out to
// subscribers.
type logHub struct {
	mu      sync.Mutex
	history []LogLine
	subs    map[chan LogLine]struct{}
	changed chan struct{} // closed and replaced on every new line
	done    chan struct{} // closed when the process's output ends
}

func newLogHub() *logHub {
	return &logHub{subs: map[chan LogLine]struct{}{}, changed: make(chan struct{}), done: make(chan struct{})}
}

// read consumes r line by line until it ends.
func (h *logHub) read(r io.Reader) {
	defer close(h.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := LogLine{Raw: sc.Text()}
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			line.Fields = m
		}
		h.add(line)
	}
}

func (h *logHub) add(l LogLine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.history = append(h.history, l)
	if len(h.history) > maxHistory {
		h.history = append([]LogLine(nil), h.history[len(h.history)-maxHistory/2:]...)
	}
	for c := range h.subs {
		select {
		case c <- l:
		default: // a slow subscriber misses lines rather than stalling the process
		}
	}
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *logHub) subscribe() (<-chan LogLine, func()) {
	c := make(chan LogLine, 1024)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, c)
			close(c)
			h.mu.Unlock()
		})
	}
}

func (h *logHub) snapshot() ([]LogLine, chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogLine(nil), h.history...), h.changed
}

// wait returns the lines matching match once there are at least n of them.
func (h *logHub) wait(ctx context.Context, n int, match func(LogLine) bool) ([]LogLine, error) {
	for {
		lines, changed := h.snapshot()
		var got []LogLine
		for _, l := range lines {
			if match(l) {
				got = append(got, l)
			}
		}
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-changed:
		}
	}
}

func (h *logHub) tail(n int) []LogLine {
	lines, _ := h.snapshot()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
