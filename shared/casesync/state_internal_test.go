package casesync

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscalationReasonReadsTheAPIsSpellingAndWords(t *testing.T) {
	for in, want := range map[string]string{
		"BUSINESS_IMPACT":       "BUSINESS_IMPACT",
		"Business impact":       "BUSINESS_IMPACT",
		" technical-expertise ": "TECHNICAL_EXPERTISE",
		"resolution time":       "RESOLUTION_TIME",
		"REASON_UNSPECIFIED":    "",
		"urgent":                "",
		"":                      "",
	} {
		if got := EscalationReason(in); got != want {
			t.Errorf("EscalationReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscalationDetailIsOneBoundedLine(t *testing.T) {
	long := strings.Repeat("é", MaxEscalationDetail)
	got := escalationDetail(&APIError{Side: SideGoogle, Status: 403, Err: errors.New("denied\nbecause " + long)})
	if len(got) > MaxEscalationDetail || !utf8.ValidString(got) || strings.ContainsAny(got, "\r\n") {
		t.Errorf("escalationDetail gave %d bytes, valid UTF-8 %v, with line breaks %v; want at most %d bytes of one line of UTF-8",
			len(got), utf8.ValidString(got), strings.ContainsAny(got, "\r\n"), MaxEscalationDetail)
	}
	if !strings.HasPrefix(got, "HTTP 403: denied because") {
		t.Errorf("escalationDetail = %.40q..., want it to start with the status and message", got)
	}
}

func TestEscalationNoteNamesTheRequestAndItsOutcome(t *testing.T) {
	seen := time.Date(2026, 12, 6, 12, 0, 0, 123e6, time.UTC)
	for outcome, want := range map[EscalationOutcome]string{
		EscalationDone:    "done",
		EscalationAlready: "already escalated",
		EscalationDenied:  "support plan does not include technical escalations",
		EscalationClosed:  "closed",
		EscalationRefused: "refused by the Google Cloud Support API",
	} {
		note := escalationNote("projects/p/cases/1", EscalationProgress{SeenAt: seen, Outcome: outcome, Detail: "HTTP 400: x"})
		if !strings.HasPrefix(note, escalationNotePrefix("projects/p/cases/1", seen)) || !strings.Contains(note, want) {
			t.Errorf("note for %s = %q; want the request's prefix and %q", outcome, note, want)
		}
	}
	if escalationNotePrefix("projects/p/cases/1", seen) == escalationNotePrefix("projects/p/cases/1", seen.Add(time.Millisecond)) {
		t.Errorf("two requests seen a millisecond apart share a note prefix")
	}
}

func TestParseStateStatusesReadsATableAndRefusesWhatCannotBeMapped(t *testing.T) {
	got, err := ParseStateStatuses(" action_required=open , IN_PROGRESS_GOOGLE_SUPPORT = on hold,")
	if err != nil || len(got) != 2 || got["ACTION_REQUIRED"] != "open" || got["IN_PROGRESS_GOOGLE_SUPPORT"] != "on hold" {
		t.Errorf("ParseStateStatuses = %v, %v; want the two pairs", got, err)
	}
	if got, err := ParseStateStatuses(""); err != nil || len(got) != 0 {
		t.Errorf("an empty table gave %v, %v", got, err)
	}
	for _, bad := range []string{"CLOSED=closed", "URGENT=open", "NEW", "NEW=", "=open", "NEW=a,new=b", "NEW=" + strings.Repeat("x", 256), "NEW=\xff"} {
		if got, err := ParseStateStatuses(bad); err == nil {
			t.Errorf("ParseStateStatuses(%.30q) = %v, want an error", bad, got)
		}
	}
}

func TestEscalationTextDropsWhatTheEngineWouldNotTake(t *testing.T) {
	for in, want := range map[string]string{
		"Business impact":                        "Business impact",
		"\xff":                                   "",
		strings.Repeat("x", MaxEscalationText+1): "",
		strings.Repeat("x", MaxEscalationText):   strings.Repeat("x", MaxEscalationText),
	} {
		if got := EscalationText(in); got != want {
			t.Errorf("EscalationText(%.20q) = %.20q, want %.20q", in, got, want)
		}
	}
}
