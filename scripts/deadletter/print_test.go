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

func TestTextOutputShowsTheLastErrorAndTheSettledState(t *testing.T) {
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
	settled := known
	settled.Settled, settled.SettledBy = true, "its mapping m1 reconciled completely at 2026-05-01T11:00:00Z, after the message was first published at 2026-05-01T09:00:00Z"
	notSettled := known
	notSettled.NotSettledBecause = "its mapping m1 is still failing: 3 failed reconciliation(s)"
	unjudged := known
	unjudged.SettledProblem = "Firestore could not be read: PermissionDenied"

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
		{name: "list shows whether each message is settled and how to purge the settled ones",
			print: func(b *bytes.Buffer) {
				printList(b, []ops.DeadLetter{settled, notSettled, unjudged}, ops.Selection{})
			},
			want: []string{`CONTENT\s+SETTLED\s+LAST ERROR\n`, `company case 4711\s+yes\s+2026`, `company case 4711\s+no\s+2026`, `company case 4711\s+unknown\s+2026`,
				`settled states unknown: Firestore could not be read: PermissionDenied\n`, `\n1 settled: .*deadletter purge --settled --yes`}},
		{name: "list does not suggest purging when nothing is settled",
			print:   func(b *bytes.Buffer) { printList(b, []ops.DeadLetter{notSettled, known}, ops.Selection{}) },
			want:    []string{`company case 4711\s+no\s+2026`, `company case 4711\s+unknown\s+2026`},
			notWant: []string{`purge`, `settled states unknown`}},
		{name: "inspect says what settled a message",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{settled}, "p", false) },
			want:  []string{`settled\s+yes: its mapping m1 reconciled completely at 2026-05-01T11:00:00Z, after the message was first published at 2026-05-01T09:00:00Z\n`}},
		{name: "inspect says what keeps a message from being settled, or why that is unknown",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{notSettled, unjudged, known}, "p", false) },
			want: []string{`settled\s+no: its mapping m1 is still failing: 3 failed reconciliation\(s\)\n`, `settled\s+unknown: Firestore could not be read: PermissionDenied\n`,
				`settled\s+unknown: not judged`}},
		{name: "purge --settled says what it purged and what it kept, and why",
			print: func(b *bytes.Buffer) {
				printPurge(b, []ops.DeadLetter{settled}, []ops.DeadLetter{notSettled, unjudged}, true)
			},
			want: []string{`^purged 1 settled message\(s\); kept 2 that are not settled or could not be judged\n`, `\n      settled: its mapping m1 reconciled completely`,
				`kept:\n.*\n      not settled: its mapping m1 is still failing`, `\n      could not be judged: Firestore could not be read: PermissionDenied\n`}},
		{name: "purge says what it purged",
			print:   func(b *bytes.Buffer) { printPurge(b, []ops.DeadLetter{known}, nil, false) },
			want:    []string{`^purged 1 message\(s\)\n  m1  sync-case-sync-requested-dead-letter  company case 4711\n$`},
			notWant: []string{`kept`}},
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
