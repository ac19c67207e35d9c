package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/ops"
)

func TestOutputNamesTheCasesOfASupportEvent(t *testing.T) {
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	naming := ops.DeadLetter{MessageID: "m7", DeadLetterSubscription: "support-events-dead-letter", SourceSubscription: "support-events", SourceTopic: "support-events",
		Function: "GoogleEvents", Kind: ops.KindSupportEvent, SupportCases: []string{"projects/p/cases/21", "organizations/1/cases/22"}, Size: 412,
		DeliveryCount: 5, FirstPublishTime: first, DeadLetteredAt: first.Add(time.Hour), LastError: ops.UnknownError,
		LogFilter:         `jsonPayload.function="GoogleEvents" AND severity>=WARNING`,
		NotSettledBecause: "no mapping holds Google case(s) organizations/1/cases/22, and the Google poller has never succeeded"}
	none := naming
	none.MessageID, none.SupportCases, none.Size, none.NotSettledBecause = "m8", nil, 57, ""
	none.Settled, none.SettledBy = true, "the Google poller succeeded in a poll started at 2026-05-01T09:30:00Z"
	incomplete := naming
	incomplete.MessageID, incomplete.SupportCasesIncomplete = "m9", "it names more than the 10 cases taken from one event"

	const named = `support event naming Google case\(s\) projects/p/cases/21, organizations/1/cases/22`
	tests := []struct {
		name  string
		print func(*bytes.Buffer)
		want  []string
	}{
		{name: "list names the Google cases of each support event, or says it names none and its size",
			print: func(b *bytes.Buffer) { printList(b, []ops.DeadLetter{naming, none, incomplete}, ops.Selection{}) },
			want: []string{`m7\s+support-events\s+5\s+2026-05-01T09:00:00Z\s+` + named + `\s+no\s+unknown\n`,
				`m8\s+.*support event naming no case \(57 bytes\)\s+yes\s+unknown\n`,
				`m9\s+.*` + named + ` \(it may name more: it names more than the 10 cases taken from one event\)\s+no\s+unknown\n`}},
		{name: "inspect names them, with what keeps the event from being settled",
			print: func(b *bytes.Buffer) { printInspect(b, []ops.DeadLetter{naming}, "p", false) },
			want: []string{`content\s+` + named + `\n`, `function\s+GoogleEvents\n`,
				`settled\s+no: no mapping holds Google case\(s\) organizations/1/cases/22, and the Google poller has never succeeded\n`,
				`gcloud logging read 'jsonPayload.function="GoogleEvents" AND severity>=WARNING'`}},
		{name: "purge --settled names them for what it purged and kept",
			print: func(b *bytes.Buffer) { printPurge(b, []ops.DeadLetter{none}, []ops.DeadLetter{naming}, true) },
			want: []string{`\n  m8  support-events-dead-letter  support event naming no case \(57 bytes\)\n      settled: the Google poller succeeded`,
				`kept:\n  m7  support-events-dead-letter  ` + named + `\n      not settled: no mapping holds`}},
		{name: "replay names them",
			print: func(b *bytes.Buffer) {
				printReplay(b, []ops.Replayed{{DeadLetter: naming, Topic: "support-events", NewMessageID: "n1"}})
			},
			want: []string{`m7  -> support-events as message n1  \(` + named + `\)\n`}},
		{name: "--json has the case names and the kind",
			print: func(b *bytes.Buffer) { writeJSON(b, []ops.DeadLetter{incomplete}) },
			want: []string{`"kind": "support-event"`, `"supportCases": \[\s*"projects/p/cases/21",\s*"organizations/1/cases/22"\s*\]`,
				`"supportCasesIncomplete": "it names more than the 10 cases taken from one event"`}},
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
		})
	}

	t.Run("--json of an event naming no case has no case names", func(t *testing.T) {
		var b bytes.Buffer
		writeJSON(&b, none)
		var got map[string]any
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got["supportCases"]; ok || got["kind"] != "support-event" || got["size"] != 57.0 {
			t.Errorf("JSON %s: want kind support-event, size 57 and no supportCases", b.String())
		}
	})
}
