package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/ops"
)

func TestTextOutputShowsTheLastError(t *testing.T) {
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	base := ops.DeadLetter{MessageID: "m1", DeadLetterSubscription: "sync-case-sync-requested-dead-letter", SourceSubscription: "sync-case-sync-requested",
		Function: "SyncCase", Kind: ops.KindCase, Case: &casesync.CaseRef{Side: casesync.SideCompany, ID: "4711"}, DeliveryCount: 10,
		FirstPublishTime: first, DeadLetteredAt: first.Add(time.Hour), LogFilter: `jsonPayload.function="SyncCase"`}
	known := base
	known.LastError, known.LastErrorAt = "company find: transient error, HTTP 503: HTTP 503 Service Unavailable", first.Add(59*time.Minute)
	unknown := base
	unknown.LastError = ops.UnknownError
	unreadable := unknown
	unreadable.LastErrorProblem = "the failure record could not be read: PermissionDenied"
	long := known
	long.LastError = strings.Repeat("x", 300)

	tests := []struct {
		name    string
		print   func(*bytes.Buffer)
		want    []string
		notWant []string
	}{
		{name: "list shows a known error after its time",
			print: func(b *bytes.Buffer) { printList(b, []ops.DeadLetter{known}, ops.Selection{}) },
			want:  []string{`LAST ERROR`, `2026-05-01T09:59:00Z company find: transient error, HTTP 503`}},
		{name: "list cuts a long error",
			print:   func(b *bytes.Buffer) { printList(b, []ops.DeadLetter{long}, ops.Selection{}) },
			want:    []string{`x{99}…`},
			notWant: []string{`x{101}`}},
		{name: "list says why the errors are unknown when the records cannot be read",
			print: func(b *bytes.Buffer) { printList(b, []ops.DeadLetter{unreadable}, ops.Selection{}) },
			want:  []string{`\bunknown\n`, `last errors unknown: the failure record could not be read: PermissionDenied`}},
		{name: "inspect shows a known error, its time and the log filter",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{known}, "p", false) },
			want:  []string{`last error\s+company find: transient error, HTTP 503: HTTP 503 Service Unavailable\n`, `last error at\s+2026-05-01T09:59:00Z`, `gcloud logging read`}},
		{name: "inspect explains an unknown error and keeps the log filter",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{unknown}, "p", false) },
			want:  []string{`last error\s+unknown: no failure record`, `gcloud logging read`}, notWant: []string{`last error at`}},
		{name: "inspect says why the record could not be read",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{unreadable}, "p", true) },
			want:  []string{`last error\s+unknown: the failure record could not be read: PermissionDenied`, `local functions process logged`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.print(&b)
			for _, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(b.String()) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tt.notWant {
				if regexp.MustCompile(w).MatchString(b.String()) {
					t.Errorf("output has %q:\n%s", w, b.String())
				}
			}
		})
	}
}
