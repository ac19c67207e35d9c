package servicenow_test

import (
	"context"
	"testing"
	"time"
)

func TestACasesReadAtIsTheInstancesClockNotCasebridges(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration
	}{
		{name: "an instance clock 90 seconds behind ours", skew: -90 * time.Second},
		{name: "an instance clock 90 seconds ahead of ours", skew: 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			crmNow := func() time.Time { return time.Now().Add(tc.skew) }
			sim := newSim(t, crmNow)
			crm := newClient(t, sim, nil)
			id := sim.CreateRecord(human, map[string]string{"short_description": "s", "description": "d"})
			from := crmNow().UTC().Truncate(time.Second)
			c, err := crm.GetCase(context.Background(), id)
			to := crmNow()
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			if c.ReadAt.Before(from) || c.ReadAt.After(to) {
				t.Errorf("ReadAt = %v, want the instance's clock during the read, within [%v, %v]", c.ReadAt, from, to)
			}
		})
	}
}
