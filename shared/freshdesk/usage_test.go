package freshdesk_test

import (
	"context"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// TestTheMinutesAPIUsageIsReadFromEachAnswer: X-RateLimit-Total and
// X-RateLimit-Remaining of the simulator's answers become the usage of
// the current minute.
func TestTheMinutesAPIUsageIsReadFromEachAnswer(t *testing.T) {
	_, crm := newAdapter(t, freshdesktest.Options{RequestsPerMinute: 50}, nil)
	if _, ok := crm.APIUsage(); ok {
		t.Errorf("an API usage is known before any call")
	}
	before := time.Now()
	for range 3 {
		if err := crm.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	u, ok := crm.APIUsage()
	if !ok || u.Used != 3 || u.Max != 50 || u.Window != casesync.APIUsageMinute || u.At.Before(before) || u.At.After(time.Now()) {
		t.Errorf("APIUsage = %+v (%v), want 3 of 50 a minute, at the answer", u, ok)
	}
}

// discardPublisher takes what a poll publishes and drops it.
type discardPublisher struct{}

func (discardPublisher) PublishCaseUpdated(context.Context, []casesync.CaseRef) error { return nil }
func (discardPublisher) PublishSyncRequested(context.Context, casesync.CaseRef) error { return nil }

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestTheMinutesAPIUsageReachesThePollState: what the answers to a CRM
// poll said of the rate limit ends in the poll state.
func TestTheMinutesAPIUsageReachesThePollState(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, freshdesktest.Options{RequestsPerMinute: 400}, nil)
	sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
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
	calls := 0
	for _, n := range sim.Calls() {
		calls += n
	}
	if calls == 0 {
		t.Fatal("the poll made no call")
	}
	want := casesync.APIUsage{Used: int64(calls), Max: 400, Window: casesync.APIUsageMinute, At: now.Truncate(time.Microsecond)}
	if st.CompanyAPIUsage != want {
		t.Errorf("poll state's API usage %+v, want %+v (the poll's %d calls this minute)", st.CompanyAPIUsage, want, calls)
	}
}
