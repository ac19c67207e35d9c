package crmsim

import (
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// The simulator refuses text that is not UTF-8, so a field holding it
// cannot be made through its API: the adapter's reading of such a value
// is checked here.
func TestEscalationTextThatIsNotUTF8IsDropped(t *testing.T) {
	s := StateConfig{}.withDefaults()
	got := s.escalation(map[string]string{
		DefaultEscalationField:              "true",
		DefaultEscalationReasonField:        "Business \xff impact",
		DefaultEscalationJustificationField: strings.Repeat("j", casesync.MaxEscalationText),
	})
	want := casesync.EscalationRequest{Requested: true, Justification: strings.Repeat("j", casesync.MaxEscalationText)}
	if got != want {
		t.Errorf("escalation = requested %v, reason %q, justification of %d bytes; want the reason dropped and the justification kept",
			got.Requested, got.Reason, len(got.Justification))
	}
}
