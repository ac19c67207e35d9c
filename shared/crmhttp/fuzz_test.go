package crmhttp

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what a CRM's answers steer in every adapter: the
// server's advice on when to retry, the error detail kept for a log line,
// and the bounds of a paged listing. Each runs on its seeds in the ordinary
// test command; scripts/fuzz.sh runs them for a given time.

func FuzzRetryAfter(f *testing.F) {
	for _, s := range [][2]string{
		{"120", ""}, {"0.5", ""}, {"Wed, 21 Oct 2026 07:28:00 GMT", ""}, {"", "30"}, {"", "1900000000"},
		{"-5", "7"}, {"NaN", ""}, {"soon", "later"}, {"", "-1"}, {"", "9223372036854775807"},
	} {
		f.Add(s[0], s[1], int64(1_790_000_000))
	}
	f.Fuzz(func(t *testing.T, retryAfter, reset string, nowUnix int64) {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		if reset != "" {
			h.Set("X-RateLimit-Reset", reset)
		}
		now := time.Unix(nowUnix%(1<<40), 0)
		d := RetryAfter(h, now)
		if d < 0 {
			t.Fatalf("RetryAfter(Retry-After %q, X-RateLimit-Reset %q) = %v, a negative wait", retryAfter, reset, d)
		}
		// Plain seconds within a day are taken as given.
		if secs, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After")), 64); err == nil && secs >= 0 && secs <= 86400 {
			if want := time.Duration(secs * float64(time.Second)); d != want {
				t.Fatalf("RetryAfter(Retry-After %q) = %v, want %v", retryAfter, d, want)
			}
		}
	})
}

func FuzzCleanDetail(f *testing.F) {
	for _, s := range []string{"", "Not Found", "RecordInvalid (subject)", strings.Repeat("é", 300), "ab\xe2\x82", "\xff" + strings.Repeat("x", 250)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cleanDetail(s)
		if !utf8.ValidString(got) {
			t.Fatalf("cleanDetail(%q) = %q, not valid UTF-8", s, got)
		}
		if n := utf8.RuneCountInString(got); n > 200 {
			t.Fatalf("cleanDetail of %d bytes kept %d characters", len(s), n)
		}
		if utf8.ValidString(s) && utf8.RuneCountInString(s) <= 200 && got != s {
			t.Fatalf("cleanDetail(%q) = %q changed a short valid detail", s, got)
		}
		se := &StatusError{Vendor: "CRM", Status: http.StatusBadRequest, Detail: got}
		if msg := se.Error(); !utf8.ValidString(msg) || len(msg) > 1000 {
			t.Fatalf("the status error %q is not a short valid line", msg)
		}
	})
}

// FuzzPager plays a listing: each byte of script is one page, its low bits
// the page's token, bit 3 whether it held items and bit 4 whether the CRM
// said more follow. Whatever the CRM answers, the listing stops within
// max pages, never on a token it has seen, and never keeps going on an
// empty page that claims more.
func FuzzPager(f *testing.F) {
	f.Add([]byte{0x18, 0x19, 0x1a, 0x0b}, 3)
	f.Add([]byte{0x18, 0x18}, 10)
	f.Add([]byte{0x10}, 5)
	f.Add([]byte{0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d}, 2)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, script []byte, max int) {
		if max > 1000 || max < -1 {
			return
		}
		limit := max
		if limit <= 0 {
			limit = DefaultMaxPages
		}
		pg := NewPager("CRM", "things.list", max)
		seen := map[string]bool{}
		for i, b := range script {
			token := strconv.Itoa(int(b & 7))
			items := int(b>>3) & 1
			more := b&0x10 != 0
			err := pg.Page(token, items, more)
			wantStop := seen[token] || (more && items == 0) || (more && i+1 >= limit)
			if (err != nil) != wantStop {
				t.Fatalf("page %d (token %s, items %d, more %v, max %d): err = %v, want a stop: %v", i+1, token, items, more, max, err, wantStop)
			}
			if err != nil {
				var ae *casesync.APIError
				if !errors.As(err, &ae) || ae.Transient || !errors.Is(err, ErrPaging) || ae.Op != "things.list" {
					t.Fatalf("the stop is %#v, want a permanent APIError of things.list wrapping ErrPaging", err)
				}
				return
			}
			if !more {
				return
			}
			seen[token] = true
			if pg.Pages() != i+1 {
				t.Fatalf("Pages() = %d after %d pages", pg.Pages(), i+1)
			}
		}
	})
}
