package freshdesk_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

func TestACasesReadAtIsFreshdesksClockNotCasebridges(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration
	}{
		{name: "a Freshdesk clock 90 seconds behind ours", skew: -90 * time.Second},
		{name: "a Freshdesk clock 90 seconds ahead of ours", skew: 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			crmNow := func() time.Time { return time.Now().Add(tc.skew) }
			sim, crm := newAdapter(t, freshdesktest.Options{Clock: crmNow}, nil)
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
			from := crmNow().UTC().Truncate(time.Second)
			ctx := context.Background()
			c, err := crm.GetCase(ctx, id)
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			found, err := crm.SearchUpdated(ctx, crmNow().Add(-time.Hour))
			to := crmNow()
			if err != nil || len(found) != 1 {
				t.Fatalf("SearchUpdated = %d cases, %v; want 1", len(found), err)
			}
			for what, at := range map[string]time.Time{"GetCase": c.ReadAt, "SearchUpdated": found[0].ReadAt} {
				if at.Before(from) || at.After(to) {
					t.Errorf("%s: ReadAt = %v, want Freshdesk's clock during the read, within [%v, %v]", what, at, from, to)
				}
			}
		})
	}
}
