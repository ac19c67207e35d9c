package jirasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
)

func TestACasesReadAtIsJirasClockNotCasebridges(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration
	}{
		{name: "a Jira clock 90 seconds behind ours", skew: -90 * time.Second},
		{name: "a Jira clock 90 seconds ahead of ours", skew: 90 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			crmNow := func() time.Time { return time.Now().Add(tc.skew) }
			sim, crm := newSite(t, jirasmtest.Options{Clock: crmNow}, nil)
			key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", Description: "d"})
			from := crmNow().UTC().Truncate(time.Second)
			c, err := crm.GetCase(context.Background(), key)
			to := crmNow()
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			if c.ReadAt.Before(from) || c.ReadAt.After(to) {
				t.Errorf("ReadAt = %v, want Jira's clock during the read, within [%v, %v]", c.ReadAt, from, to)
			}
		})
	}
}
