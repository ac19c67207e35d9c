// Package envconf reads configuration from environment variables and
// collects every problem it finds, each naming the variable to set and how,
// so that one failed start lists everything to fix at once. casebridge's
// configuration (shared/appconfig) and every CRM adapter read through it.
package envconf

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Problem is one thing wrong with the environment.
type Problem struct {
	// Var is the environment variable to set or fix.
	Var string
	// Message says what is wrong and what to set it to. It never holds the
	// variable's value when the variable is a credential.
	Message string
}

// Reader reads variables through getenv and records problems.
type Reader struct {
	getenv   func(string) string
	problems []Problem
}

// NewReader returns a Reader over getenv (os.Getenv in production).
func NewReader(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Get returns the variable's value, trimmed of surrounding space.
func (r *Reader) Get(v string) string { return strings.TrimSpace(r.getenv(v)) }

// Problemf records a problem with v.
func (r *Reader) Problemf(v, format string, args ...any) {
	r.problems = append(r.problems, Problem{Var: v, Message: fmt.Sprintf(format, args...)})
}

// Problems returns the problems recorded so far, in order.
func (r *Reader) Problems() []Problem { return r.problems }

// Str returns the variable, or def when it is unset.
func (r *Reader) Str(v, def string) string {
	if s := r.Get(v); s != "" {
		return s
	}
	return def
}

// Required returns the variable; unset is a problem whose message is hint.
func (r *Reader) Required(v, hint string) string {
	s := r.Get(v)
	if s == "" {
		r.Problemf(v, "is not set: %s", hint)
	}
	return s
}

// Bool reads true/false (any form strconv.ParseBool takes).
func (r *Reader) Bool(v string, def bool) bool {
	s := r.Get(v)
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.Problemf(v, "is %q: set it to true or false", s)
		return def
	}
	return b
}

// Int reads a positive integer.
func (r *Reader) Int(v string, def int64) int64 {
	s := r.Get(v)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		r.Problemf(v, "is %q: set it to a positive whole number such as %d", s, def)
		return def
	}
	return n
}

// Float reads a positive, finite number.
func (r *Reader) Float(v string, def float64) float64 {
	s := r.Get(v)
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	// NaN and infinities parse, but are no rate or size anyone means.
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		r.Problemf(v, "is %q: set it to a positive number such as %g", s, def)
		return def
	}
	return f
}

// Duration reads a positive Go duration such as "5m".
func (r *Reader) Duration(v string, def time.Duration) time.Duration {
	s := r.Get(v)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		r.Problemf(v, "is %q: set it to a positive Go duration such as %s", s, def)
		return def
	}
	return d
}

// URL reads an http(s) URL with a host, without a trailing slash. hint says
// what to set.
func (r *Reader) URL(v string, required bool, hint string) string {
	s := strings.TrimRight(r.Get(v), "/")
	if s == "" {
		if required {
			r.Problemf(v, "is not set: %s", hint)
		}
		return ""
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		!strings.HasPrefix(s, u.Scheme+"://") {
		r.Problemf(v, "is %q, not an http(s) URL: %s", s, hint)
	}
	return s
}

// List reads a comma-separated list, trimming each item and dropping empty
// ones; def when unset.
func (r *Reader) List(v string, def []string) []string {
	s := r.Get(v)
	if s == "" {
		return def
	}
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) == 0 {
		r.Problemf(v, "is %q: set it to a comma-separated list", s)
		return def
	}
	return out
}
