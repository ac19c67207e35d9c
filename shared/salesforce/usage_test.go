package salesforce_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// discardPublisher takes what a poll publishes and drops it.
type discardPublisher struct{}

func (discardPublisher) PublishCaseUpdated(context.Context, []casesync.CaseRef) error { return nil }
func (discardPublisher) PublishSyncRequested(context.Context, casesync.CaseRef) error { return nil }

// TestTheOrgsAPIUsageReachesThePollState: the Sforce-Limit-Info header of
// the simulator's answers to a CRM poll ends in the poll state, as the
// last answer gave it.
func TestTheOrgsAPIUsageReachesThePollState(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{DailyRequestLimit: 100000}, nil)
	sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	sim.SetAPIUsage(85000)
	store := casesynctest.NewMemStore()
	now := time.Now().UTC()
	e := &casesync.Engine{CRM: crm, Store: store, Publisher: discardPublisher{}, Clock: fixedClock(now)}
	if _, err := e.PollCRM(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.GetPollState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used, limit := sim.APIUsage()
	if used <= 85000 {
		t.Fatalf("the simulator counted %d requests, want the poll's on top of 85,000", used)
	}
	want := casesync.APIUsage{Used: used, Max: limit, Window: casesync.APIUsageDay, At: now.Truncate(time.Microsecond)}
	if st.CompanyAPIUsage != want {
		t.Errorf("poll state's API usage %+v, want %+v", st.CompanyAPIUsage, want)
	}
	if !st.CompanyAPIUsage.High() {
		t.Errorf("%d of %d is not counted as high", used, limit)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }
