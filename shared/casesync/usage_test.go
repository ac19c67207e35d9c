package casesync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
)

// usageCRM is a CRM whose searches report an API usage with their
// answers, as an adapter reading its vendor's headers does: each search
// sets the usage next (stamped with the wall clock as it answers), and
// fails with failWith when it is set.
type usageCRM struct {
	casesync.CRM // nil: the poll calls nothing else

	mu       sync.Mutex
	next     *casesync.APIUsage
	failWith error
	usage    casesync.APIUsage
	known    bool
}

func (c *usageCRM) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next != nil {
		c.usage, c.known = *c.next, true
		c.usage.At = time.Now().UTC()
		c.next = nil
	}
	if c.failWith != nil {
		return nil, c.failWith
	}
	return nil, nil
}

func (c *usageCRM) APIUsage() (casesync.APIUsage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage, c.known
}

func (c *usageCRM) report(u casesync.APIUsage, failWith error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next, c.failWith = &u, failWith
}

// countPolls wraps a store that keeps API usage and counts how the poll
// state is written.
type countPolls struct {
	casesync.Store
	usage casesync.APIUsageStore

	mu                           sync.Mutex
	plain, withUsage, usageAlone int
}

func (s *countPolls) RecordPoll(ctx context.Context, side casesync.Side, last, hb time.Time) error {
	s.mu.Lock()
	s.plain++
	s.mu.Unlock()
	return s.Store.RecordPoll(ctx, side, last, hb)
}

func (s *countPolls) RecordCompanyPollWithAPIUsage(ctx context.Context, last, hb time.Time, u casesync.APIUsage) error {
	s.mu.Lock()
	s.withUsage++
	s.mu.Unlock()
	return s.usage.RecordCompanyPollWithAPIUsage(ctx, last, hb, u)
}

func (s *countPolls) SaveCompanyAPIUsage(ctx context.Context, u casesync.APIUsage) error {
	s.mu.Lock()
	s.usageAlone++
	s.mu.Unlock()
	return s.usage.SaveCompanyAPIUsage(ctx, u)
}

func (s *countPolls) take() (plain, withUsage, usageAlone int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	plain, withUsage, usageAlone = s.plain, s.withUsage, s.usageAlone
	s.plain, s.withUsage, s.usageAlone = 0, 0, 0
	return
}

// TestTheCRMPollRecordsTheAPIUsageItsCallsReported: a CRM poll whose
// search answers reported the CRM's API usage records it in the poll
// state, stamped with the poll's time, in the very write that records the
// poll; a poll whose answers reported none, or one Check refuses, leaves
// the last one as it was; a failed poll records what its answers reported.
func TestTheCRMPollRecordsTheAPIUsageItsCallsReported(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewManual(time.Date(2026, 5, 4, 10, 0, 0, 123456789, time.UTC))
			base := sk.new(t)
			us, ok := base.(casesync.APIUsageStore)
			if !ok {
				t.Fatalf("the %s store does not keep the CRM's API usage (casesync.APIUsageStore)", sk.name)
			}
			store := &countPolls{Store: base, usage: us}
			crm := &usageCRM{}
			e := &casesync.Engine{CRM: crm, Store: store, Publisher: &queue{}, Clock: clk}
			state := func() casesync.PollState {
				t.Helper()
				st, err := base.GetPollState(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}

			crm.report(casesync.APIUsage{Used: 12345, Max: 100000, Window: casesync.APIUsageDay}, nil)
			if _, err := e.PollCRM(ctx); err != nil {
				t.Fatal(err)
			}
			first := casesync.APIUsage{Used: 12345, Max: 100000, Window: casesync.APIUsageDay, At: clk.Now().Truncate(time.Microsecond)}
			if got := state().CompanyAPIUsage; got != first {
				t.Errorf("after a poll whose answer reported 12,345 of 100,000: usage %+v, want %+v", got, first)
			}
			if plain, withUsage, alone := store.take(); plain != 0 || withUsage != 1 || alone != 0 {
				t.Errorf("the poll wrote the poll state %d times without the usage, %d with it and %d for the usage alone; want once, with it", plain, withUsage, alone)
			}

			// The next poll's answers carry no usage: what the adapter
			// still holds is from before this poll and is not recorded.
			clk.Advance(time.Minute)
			if _, err := e.PollCRM(ctx); err != nil {
				t.Fatal(err)
			}
			if got := state().CompanyAPIUsage; got != first {
				t.Errorf("after a poll with no usage reported: usage %+v, want the last one %+v kept", got, first)
			}
			if plain, withUsage, _ := store.take(); plain != 1 || withUsage != 0 {
				t.Errorf("a poll with no usage of its own recorded it %d times (plain polls: %d)", withUsage, plain)
			}

			// A usage Check refuses is not kept; the poll is recorded.
			clk.Advance(time.Minute)
			crm.report(casesync.APIUsage{Used: 5, Max: 0, Window: casesync.APIUsageDay}, nil)
			if _, err := e.PollCRM(ctx); err != nil {
				t.Fatal(err)
			}
			if st := state(); st.CompanyAPIUsage != first || !st.CompanyHeartbeat.Equal(clk.Now().Truncate(time.Microsecond)) {
				t.Errorf("after a poll reporting a limit of 0: usage %+v, heartbeat %v; want %+v kept and the poll recorded", st.CompanyAPIUsage, st.CompanyHeartbeat, first)
			}
			store.take()

			// A poll that fails keeps what its answers reported, beside
			// the failure.
			clk.Advance(time.Minute)
			crm.report(casesync.APIUsage{Used: 100200, Max: 100000, Window: casesync.APIUsageDay},
				&casesync.APIError{Side: casesync.SideCompany, Op: "query", Status: 403, Err: errors.New("REQUEST_LIMIT_EXCEEDED")})
			if _, err := e.PollCRM(ctx); err == nil {
				t.Fatal("the poll succeeded, want the search's error")
			}
			st := state()
			over := casesync.APIUsage{Used: 100200, Max: 100000, Window: casesync.APIUsageDay, At: clk.Now().Truncate(time.Microsecond)}
			if st.CompanyAPIUsage != over || st.CompanyFailingSince.IsZero() {
				t.Errorf("after a failed poll: usage %+v, failing since %v; want %+v and the failure", st.CompanyAPIUsage, st.CompanyFailingSince, over)
			}
			if _, withUsage, alone := store.take(); withUsage != 0 || alone != 1 {
				t.Errorf("the failed poll saved the usage %d times alone and %d with a poll, want once alone", alone, withUsage)
			}
		})
	}
}

// TestAnUnfinishedCRMPollKeepsTheAPIUsage: a CRM poll that reads part of
// its search and stops still records the usage its answers reported.
func TestAnUnfinishedCRMPollKeepsTheAPIUsage(t *testing.T) {
	w := newResumeWorld(t, storeKinds[0], 30, 5, 2)
	crm := &usageStream{streamCRM: w.crm}
	w.engine.CRM = crm
	// The world's fault wrapper hides the optional store interfaces but
	// the position's; the engine is given the store itself.
	w.engine.Store = w.store
	if _, err := w.run(); err != nil {
		t.Fatal(err)
	}
	st := w.state()
	if st.CompanyResume.IsZero() {
		t.Fatal("the poll read its whole search; the test needs one that stops part way")
	}
	want := casesync.APIUsage{Used: 7, Max: 50, Window: casesync.APIUsageMinute, At: w.clock.Now().Truncate(time.Microsecond)}
	if st.CompanyAPIUsage != want {
		t.Errorf("after the unfinished poll: usage %+v, want %+v", st.CompanyAPIUsage, want)
	}
}

// usageStream is a streamCRM that reports a usage with every step.
type usageStream struct {
	*streamCRM
	mu sync.Mutex
	at time.Time
}

func (c *usageStream) SearchUpdatedStep(ctx context.Context, since time.Time, cursor string, stopAt time.Time) ([]casesync.CompanyCase, string, error) {
	c.mu.Lock()
	c.at = time.Now().UTC()
	c.mu.Unlock()
	return c.streamCRM.SearchUpdatedStep(ctx, since, cursor, stopAt)
}

func (c *usageStream) APIUsage() (casesync.APIUsage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return casesync.APIUsage{Used: 7, Max: 50, Window: casesync.APIUsageMinute, At: c.at}, !c.at.IsZero()
}

func TestAPIUsageHighAndCheck(t *testing.T) {
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		u           casesync.APIUsage
		valid, high bool
	}{
		{casesync.APIUsage{Used: 80000, Max: 100000, Window: casesync.APIUsageDay, At: at}, true, false},
		{casesync.APIUsage{Used: 80001, Max: 100000, Window: casesync.APIUsageDay, At: at}, true, true},
		{casesync.APIUsage{Used: 120, Max: 100, Window: casesync.APIUsageMinute, At: at}, true, true},
		{casesync.APIUsage{Used: 0, Max: 1, Window: casesync.APIUsageHour, At: at}, true, false},
		{casesync.APIUsage{Used: casesync.MaxAPIUsageCount, Max: casesync.MaxAPIUsageCount, Window: casesync.APIUsageDay, At: at}, true, true},
		{casesync.APIUsage{Used: casesync.MaxAPIUsageCount + 1, Max: 10, Window: casesync.APIUsageDay, At: at}, false, false},
		{casesync.APIUsage{Used: 1, Max: casesync.MaxAPIUsageCount + 1, Window: casesync.APIUsageDay, At: at}, false, false},
		{casesync.APIUsage{Used: -1, Max: 10, Window: casesync.APIUsageDay, At: at}, false, false},
		{casesync.APIUsage{Used: 9, Max: 0, Window: casesync.APIUsageDay, At: at}, false, false},
		{casesync.APIUsage{Used: 9, Max: 10, Window: "", At: at}, false, false},
		{casesync.APIUsage{Used: 9, Max: 10, Window: casesync.APIUsageDay}, false, false},
	} {
		if err := tc.u.Check(); (err == nil) != tc.valid {
			t.Errorf("%+v: Check = %v, want valid %v", tc.u, err, tc.valid)
		}
		if got := tc.u.High(); got != tc.high {
			t.Errorf("%+v: High = %v, want %v", tc.u, got, tc.high)
		}
	}
}
