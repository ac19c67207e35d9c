package salesforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

func TestACasesReadAtIsSalesforcesClockNotCasebridges(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration
	}{
		{name: "a Salesforce clock 90 seconds behind ours", skew: -90 * time.Second},
		{name: "a Salesforce clock 90 seconds ahead of ours", skew: 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			crmNow := func() time.Time { return time.Now().Add(tc.skew) }
			sim, crm := newAdapter(t, salesforcetest.Options{Clock: crmNow}, nil)
			id := sim.CreateCase(salesforcetest.Case{Subject: "s", Description: "d", SyncFlag: true})
			from := crmNow().UTC().Truncate(time.Second)
			c, err := crm.GetCase(context.Background(), id)
			to := crmNow()
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			if c.ReadAt.Before(from) || c.ReadAt.After(to) {
				t.Errorf("ReadAt = %v, want Salesforce's clock during the read, within [%v, %v]", c.ReadAt, from, to)
			}
			if c.UpdateTime.Truncate(time.Millisecond) != c.UpdateTime {
				t.Errorf("UpdateTime %v is finer than Salesforce's millisecond", c.UpdateTime)
			}
		})
	}
}
