package csapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	cloudsupport "google.golang.org/api/cloudsupport/v2"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what the CSAPI adapter reads from outside: case names
// (from messages and CRM fields), and the API's answers (timestamps,
// resource names, Retry-After). Each runs on its seeds in the ordinary
// test command; scripts/fuzz.sh runs them for a given time.

// maxErrorLen bounds an error about a value from outside.
const maxErrorLen = 300

func FuzzCaseNameScope(f *testing.F) {
	for _, s := range [][2]string{
		{"projects/p/cases/1", "organizations/1"},
		{"projects/p/cases/1", "projects/p"},
		{"projects/q/cases/1", "projects/p"},
		{"organizations/1/cases/1", "organizations/1"},
		{"organizations/2/cases/1", "organizations/1"},
		{"projects/p/cases/1/../../q/cases/2", "projects/p"},
		{"projects/example.com:p/cases/9", "projects/example.com:p"},
		{"", "organizations/1"},
	} {
		f.Add(s[0], s[1], "projects/extra")
	}
	f.Fuzz(func(t *testing.T, name, parent, more string) {
		c := &Client{cfg: Config{Parent: parent, CreateParent: parent, MoreParents: []string{more}}}
		err := checkCaseName("cases.get", name)
		if (err == nil) != casesync.ValidGoogleCaseName(name) {
			t.Fatalf("checkCaseName(%q) = %v, but ValidGoogleCaseName says %v", name, err, casesync.ValidGoogleCaseName(name))
		}
		if err != nil && (len(err.Error()) > maxErrorLen || strings.Contains(err.Error(), name) && len(name) > 20) {
			t.Fatalf("checkCaseName's error quotes the name or is long: %q", err)
		}
		if !c.InScope(name) {
			return
		}
		if err != nil {
			t.Fatalf("InScope(%q) is true for a malformed name", name)
		}
		p := casesync.GoogleCaseParent(name)
		if p != parent && p != more && !(strings.HasPrefix(parent, "organizations/") && strings.HasPrefix(p, "projects/")) {
			t.Fatalf("InScope(%q) is true under parent %q and more %q", name, parent, more)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456789+01:00", "2026-13-02T03:04:05Z", "yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime("createTime", s)
		if err != nil {
			if msg := err.Error(); len(msg) > maxErrorLen || !utf8.ValidString(msg) {
				t.Fatalf("the error for a %d-byte time is %d bytes (valid UTF-8: %v)", len(s), len(msg), utf8.ValidString(msg))
			}
			return
		}
		if s == "" {
			if !got.IsZero() {
				t.Fatalf("parseTime(\"\") = %v, want the zero time", got)
			}
			return
		}
		back, err := parseTime("createTime", got.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(got) {
			t.Fatalf("parseTime(%q) = %v, which does not read back (%v, %v)", s, got, back, err)
		}
	})
}

func FuzzConvertAnswers(f *testing.F) {
	f.Add("projects/p/cases/1/comments/9", "2026-01-02T03:04:05Z", "hi", "Ann", "ann@example.com", false, int64(10))
	f.Add("projects/p/cases/1/attachments/0684M00000P3h1fQAB", "", "", "Google Support", "bot@example.com", true, int64(-1))
	f.Add("", "not a time", "", "", "", false, int64(0))
	f.Add("a/b/", "2026-01-02T03:04:05.5-07:00", "\xff", "\n", " BOT@example.com ", false, int64(1<<62))
	f.Fuzz(func(t *testing.T, name, created, body, display, email string, googleSupport bool, size int64) {
		c := &Client{cfg: Config{ConnectorEmail: "bot@example.com", MoreConnectorEmails: []string{"notices@example.com"}}}
		actor := &cloudsupport.Actor{DisplayName: display, Email: email, GoogleSupport: googleSupport}
		cm, err := convert("comments.list", &cloudsupport.Comment{Name: name, CreateTime: created, Body: body, Creator: actor}, c.toComment)
		if err == nil {
			if !cm.Public || cm.ID != lastSegment(name) || strings.Contains(cm.ID, "/") || !strings.HasSuffix(name, cm.ID) {
				t.Fatalf("comment %q reads as %+v", name, cm)
			}
			if googleSupport && cm.ByConnector {
				t.Fatalf("a Google Support agent's comment reads as casebridge's own")
			}
		} else if !casesync.IsPermanent(err) || len(err.Error()) > maxErrorLen {
			t.Fatalf("a bad comment gave %v, want a short permanent error", err)
		}
		a, err := convert("attachments.list", &cloudsupport.Attachment{Name: name, CreateTime: created, Filename: body, SizeBytes: size, Creator: actor}, c.toAttachment)
		if err == nil && (!a.Public || a.ID != lastSegment(name) || a.Size != size || (googleSupport && a.ByConnector)) {
			t.Fatalf("attachment %q reads as %+v", name, a)
		}
		if _, err := convert[cloudsupport.Comment]("comments.list", nil, c.toComment); !casesync.IsPermanent(err) {
			t.Fatalf("a missing object gave %v, want a permanent error", err)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "3", "0.25", "-1", "Wed, 21 Oct 2026 07:28:00 GMT", "soon"} {
		f.Add(s, int64(1_790_000_000))
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		h := http.Header{}
		h.Set("Retry-After", v)
		d := retryAfter(h, time.Unix(nowUnix%(1<<40), 0))
		if d < 0 {
			t.Fatalf("retryAfter(%q) = %v, a negative wait", v, d)
		}
		if secs, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && secs > 0 && secs <= 86400 {
			if want := time.Duration(secs * float64(time.Second)); d != want {
				t.Fatalf("retryAfter(%q) = %v, want %v", v, d, want)
			}
		}
	})
}
