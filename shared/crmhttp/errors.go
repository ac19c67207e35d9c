package crmhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Reasons for refusing a call before it is made, checked with errors.Is.
var (
	ErrInvalidInput = errors.New("invalid input")
	ErrTooLarge     = errors.New("content exceeds the CRM's size limit")
	// ErrRedirect: a redirect was refused (a downgrade from https to http,
	// too many hops, or a Location that is not a web address).
	ErrRedirect = errors.New("redirect refused")
	// ErrTimeout: the CRM took longer than Config.RequestTimeout to answer,
	// or a streamed exchange sent nothing for Config.StallTimeout.
	ErrTimeout = errors.New("the CRM did not answer in time")
	// ErrAnswerTooLarge: an answer's body went past Config.MaxAnswerBytes.
	ErrAnswerTooLarge = errors.New("the CRM's answer is larger than allowed")
)

// AnswerTooLargeError is the reason inside the permanent APIError of a call
// whose answer went past Config.MaxAnswerBytes: reading the same answer
// again would go past it again.
type AnswerTooLargeError struct {
	Vendor string
	// Op names the call whose answer it was.
	Op    string
	Limit int64
}

func (e *AnswerTooLargeError) Error() string {
	return fmt.Sprintf("%s: the answer to %s is larger than %d bytes", e.Vendor, e.Op, e.Limit)
}

func (e *AnswerTooLargeError) Is(target error) bool { return target == ErrAnswerTooLarge }

// RedirectError is the reason inside the permanent APIError of a refused
// redirect. From and To are origins (scheme://host:port), never paths or
// queries, which may hold tokens.
type RedirectError struct {
	Vendor   string
	From, To string
	Reason   string
}

func (e *RedirectError) Error() string {
	if e.To == "" {
		return fmt.Sprintf("%s: %v from %s: %s", e.Vendor, ErrRedirect, e.From, e.Reason)
	}
	return fmt.Sprintf("%s: %v from %s to %s: %s", e.Vendor, ErrRedirect, e.From, e.To, e.Reason)
}

func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// TimeoutError is the reason inside the transient APIError of a call cut
// short by Config.RequestTimeout (Stalled false) or Config.StallTimeout
// (Stalled true).
type TimeoutError struct {
	Vendor  string
	Stalled bool
	After   time.Duration
}

func (e *TimeoutError) Error() string {
	if e.Stalled {
		return fmt.Sprintf("%s: %v: nothing was sent or received for %v", e.Vendor, ErrTimeout, e.After)
	}
	return fmt.Sprintf("%s: %v: the call took over %v", e.Vendor, ErrTimeout, e.After)
}

func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Invalid is the permanent error of a call refused before it was made
// (bad input). The message must not hold case text.
func Invalid(vendor, op, format string, args ...any) *casesync.APIError {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op,
		Err: fmt.Errorf("%s: %w: %s", vendor, ErrInvalidInput, fmt.Sprintf(format, args...))}
}

// NotFoundError is the permanent error for a record the CRM does not hold
// (what: e.g. "ticket 12"); casesync.IsNotFound recognises it.
func NotFoundError(vendor, op, what string) *casesync.APIError {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusNotFound,
		Err: &StatusError{Vendor: vendor, Status: http.StatusNotFound, Detail: what + " does not exist"}}
}

// TooLarge is the permanent error for content over the CRM's size limit.
func TooLarge(vendor, op string, limit int64) *casesync.APIError {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusRequestEntityTooLarge,
		Err: fmt.Errorf("%s: %w of %d bytes", vendor, ErrTooLarge, limit)}
}

// CheckText refuses an empty or non-UTF-8 text before it is sent.
func CheckText(vendor, op, text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return Invalid(vendor, op, "the text is empty")
	case !utf8.ValidString(text):
		return Invalid(vendor, op, "the text is not valid UTF-8")
	}
	return nil
}

// LimitReader reads r and fails with a TooLarge error once more than limit
// bytes have come through (limit <= 0: no limit). Client.Do notices that
// the reader went over, whatever the CRM or the transport said: as
// Request.Stream it is found on its own; when it sits deeper (behind a pipe
// or a multipart writer), set it as Request.Limited too.
func LimitReader(r io.Reader, limit int64, vendor, op string) *LimitedReader {
	return &LimitedReader{r: r, left: limit, limit: limit, vendor: vendor, op: op}
}

// LimitedReader is the reader LimitReader returns. It remembers whether
// its source went over the limit; Exceeded may be asked from another
// goroutine than the one reading.
type LimitedReader struct {
	r           io.Reader
	left, limit int64
	vendor, op  string
	over        atomic.Bool
}

func (l *LimitedReader) Read(p []byte) (int, error) {
	if l.limit <= 0 {
		return l.r.Read(p)
	}
	if l.over.Load() {
		return 0, l.tooLarge()
	}
	// Ask for one byte more than allowed, to notice an overflow.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over.Store(true)
		return 0, l.tooLarge()
	}
	return n, err
}

// Exceeded returns the permanent TooLarge error once the source has gone
// over the limit, and nil before that (or for a nil reader).
func (l *LimitedReader) Exceeded() error {
	if l == nil || !l.over.Load() {
		return nil
	}
	return l.tooLarge()
}

func (l *LimitedReader) tooLarge() *casesync.APIError {
	return TooLarge(l.vendor, l.op, l.limit)
}

// ReadAllLimited reads r whole, refusing content over limit bytes with a
// TooLarge error before anything is sent.
func ReadAllLimited(r io.Reader, limit int64, vendor, op string) ([]byte, error) {
	data, err := io.ReadAll(LimitReader(r, limit, vendor, op))
	if err != nil {
		var ae *casesync.APIError
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, Invalid(vendor, op, "reading the file to upload: %v", err)
	}
	return data, nil
}
