package zendesk_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// TestTheMinutesAPIUsageIsReadFromEachAnswer: Zendesk's X-Rate-Limit and
// X-Rate-Limit-Remaining on every answer give the account's usage of the
// minute, which operator status shows.
func TestTheMinutesAPIUsageIsReadFromEachAnswer(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{RequestsPerMinute: 50}, nil)
	if _, ok := crm.APIUsage(); ok {
		t.Errorf("an API usage is known before any call")
	}
	before := time.Now()
	for range 3 {
		if err := crm.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	for _, n := range sim.Calls() {
		calls += n
	}
	u, ok := crm.APIUsage()
	if !ok || u.Used != int64(calls) || u.Max != 50 || u.Window != casesync.APIUsageMinute || u.At.Before(before) || u.At.After(time.Now()) {
		t.Errorf("APIUsage = %+v (%v), want %d of 50 a minute, at the answer", u, ok, calls)
	}
}
