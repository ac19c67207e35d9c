package main

import (
	"testing"

	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/google/go-cmp/cmp"
)

func TestCondense(t *testing.T) {
	tests := []struct {
		name string
		line localstack.LogLine
		want string
	}{
		{
			name: "a function's JSON entry becomes one short line with its extra fields sorted",
			line: localstack.LogLine{Fields: map[string]any{
				"timestamp": "not a time", "severity": "INFO", "message": "case reconciled",
				"function": "SyncCase", "eventId": "12", "caseSide": "google", "caseId": "projects/p/cases/1",
			}},
			want: "--:--:-- INFO     SyncCase      case reconciled  caseId=projects/p/cases/1 caseSide=google",
		},
		{
			name: "a plain line is shown as written",
			line: localstack.LogLine{Raw: "Serving function: \"PollGoogle\"  "},
			want: "Serving function: \"PollGoogle\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Condense(tt.line)); diff != "" {
				t.Errorf("Condense (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointLinesAreSortedKeyValueLines(t *testing.T) {
	got := endpointLines(map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:2", "CRM_URL": "http://127.0.0.1:1"})
	want := "CRM_URL=http://127.0.0.1:1\nPUBSUB_EMULATOR_HOST=127.0.0.1:2\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpointLines (-want +got):\n%s", diff)
	}
}
