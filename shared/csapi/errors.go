package csapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/googleapi"

	"github.com/casebridge/casebridge/shared/casesync"
)

// CommentTooLongError says a comment body exceeds CSAPI's limit. The Client
// returns it (inside a permanent *casesync.APIError) without calling the API.
type CommentTooLongError struct {
	// Len is the body's length in characters (runes); Max is the limit.
	Len, Max int
}

func (e *CommentTooLongError) Error() string {
	return fmt.Sprintf("comment body has %d characters, CSAPI accepts at most %d", e.Len, e.Max)
}

// InvalidInputError says an argument was refused before any call was made,
// e.g. an unknown priority or an empty search phrase.
type InvalidInputError struct {
	Reason string
}

func (e *InvalidInputError) Error() string { return "invalid input: " + e.Reason }

// invalid returns the permanent error for a refused argument.
func invalid(op, format string, args ...any) error {
	return &casesync.APIError{
		Side: casesync.SideGoogle,
		Op:   op,
		Err:  &InvalidInputError{Reason: fmt.Sprintf(format, args...)},
	}
}

// outcome is one classified attempt.
type outcome struct {
	err *casesync.APIError
	// unsent is true when the server certainly did not act on the request:
	// it refused it with 429 (Google Cloud answers 429 when a request goes
	// over a quota, and such a request is blocked), or no connection was
	// made. A 503 is not such a refusal: Google's status codes warn that
	// retrying a non-idempotent call after UNAVAILABLE is not always safe,
	// so a 503 may come after the work was done, like a 500 or a timeout.
	unsent bool
}

// classify turns the error of one attempt into an APIError. parent is the
// caller's context, whose end is told apart from a per-attempt timeout.
func classify(parent context.Context, op string, err error) outcome {
	ae := &casesync.APIError{Side: casesync.SideGoogle, Op: op, Err: err}
	o := outcome{err: ae}

	var herr *googleapi.Error
	if errors.As(err, &herr) {
		ae.Status = herr.Code
		sanitize(herr)
		ae.RetryAfter = retryAfter(herr.Header, time.Now())
		switch {
		case herr.Code == http.StatusTooManyRequests:
			ae.Transient = true
			o.unsent = true
		case herr.Code == http.StatusNotImplemented:
			// UNIMPLEMENTED: the method is not there (a v2beta method
			// withdrawn, say); retrying will not change that.
		case herr.Code == http.StatusRequestTimeout || herr.Code >= 500:
			ae.Transient = true
		}
		return o
	}

	if parent.Err() != nil {
		// The caller gave up (cancelled or out of time); report it as the
		// context error so casesync.IsTransient and errors.Is see it.
		ae.Err = parent.Err()
		ae.Transient = true
		return o
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Only the per-attempt timeout fired.
		ae.Transient = true
		return o
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		ae.Transient = true
		o.unsent = true
		return o
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		ae.Transient = true
	}
	return o
}

// sanitize drops the raw response body from a googleapi.Error, so that error
// strings and logs never carry it; the API's message stays.
func sanitize(herr *googleapi.Error) {
	herr.Body = ""
	if herr.Message == "" && len(herr.Errors) == 0 {
		herr.Message = http.StatusText(herr.Code)
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case !(secs > 0): // zero, negative or NaN
			return 0
		case secs >= float64(math.MaxInt64/int64(time.Second)):
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
