package ops

import (
	"fmt"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/google/go-cmp/cmp"
)

func TestComputeStatus(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	fresh := casesync.PollState{GoogleLastPolledAt: ago(time.Minute), GoogleHeartbeat: ago(time.Minute),
		CompanyLastPolledAt: ago(time.Minute), CompanyHeartbeat: ago(time.Minute)}
	linked := func(id string) casesync.Mapping {
		return casesync.Mapping{ID: id, GoogleCase: "projects/p/cases/" + id, CompanyCaseID: "c" + id, Priority: casesync.P2,
			NewContentAt: ago(2 * time.Hour), Google: casesync.MappingSide{UpdatesSyncedAt: ago(time.Hour)}, Company: casesync.MappingSide{UpdatesSyncedAt: ago(time.Hour)}}
	}
	tests := []struct {
		name     string
		mappings []casesync.Mapping
		poll     casesync.PollState
		want     []OutOfSync
	}{
		{
			name:     "a mapping with no pending change is in sync while its pollers are fresh",
			mappings: []casesync.Mapping{linked("1")},
			poll:     fresh,
			want:     []OutOfSync{},
		},
		{
			name: "a pending change older than the tolerance makes the mapping out of sync by its age",
			mappings: []casesync.Mapping{func() casesync.Mapping {
				m := linked("1")
				m.Company.PendingSince = ago(25 * time.Minute) // P2, fresh (the change is new content): 10 min
				return m
			}()},
			poll: fresh,
			want: []OutOfSync{{MappingID: "1", GoogleCase: "projects/p/cases/1", CompanyCaseID: "c1", Priority: casesync.P2, PriorityName: "P2",
				Lag: 25 * time.Minute, Tolerance: 10 * time.Minute, GoogleSyncedThrough: ago(time.Minute), CompanySyncedThrough: ago(25 * time.Minute), CompanyPending: true}},
		},
		{
			name:     "stale pollers make a mapping out of sync from its last reconciliation",
			mappings: []casesync.Mapping{linked("1")},
			poll:     casesync.PollState{},
			want: []OutOfSync{{MappingID: "1", GoogleCase: "projects/p/cases/1", CompanyCaseID: "c1", Priority: casesync.P2, PriorityName: "P2",
				Lag: time.Hour, Tolerance: 20 * time.Minute, GoogleSyncedThrough: ago(time.Hour), CompanySyncedThrough: ago(time.Hour)}},
		},
		{
			name: "resolved and unlinked mappings are never out of sync",
			mappings: []casesync.Mapping{
				func() casesync.Mapping { m := linked("1"); m.ResolvedAt = ago(time.Hour); return m }(),
				{ID: "2", GoogleCase: "projects/p/cases/2", CreatedAt: ago(time.Hour)},
			},
			poll: casesync.PollState{},
			want: []OutOfSync{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeStatus(now, tc.mappings, tc.poll, time.Minute)
			if diff := cmp.Diff(tc.want, got.OutOfSync); diff != "" {
				t.Errorf("out of sync (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("with pollers 30 minutes apart, status judges as outage detection does and calls a poller stale only once its next poll is 4 minutes late", func(t *testing.T) {
		ps := casesync.PollState{GoogleHeartbeat: ago(25 * time.Minute), CompanyHeartbeat: ago(35 * time.Minute)}
		m := linked("1")
		m.Priority = casesync.P0 // 10 minutes
		type view struct {
			OutOfSync          int
			GoogleStale, Stale bool
		}
		for _, c := range []struct {
			interval time.Duration
			want     view
		}{
			{time.Minute, view{OutOfSync: 1, GoogleStale: true, Stale: true}},
			{30 * time.Minute, view{OutOfSync: 0, GoogleStale: false, Stale: true}},
		} {
			got := ComputeStatus(now, []casesync.Mapping{m}, ps, c.interval)
			// The CRM poller's heartbeat is 35 minutes old, one minute
			// past its 34-minute stale mark; its credited heartbeat (29
			// minutes later) is 6 minutes old, within the tolerance.
			gv := view{OutOfSync: len(got.OutOfSync), GoogleStale: got.Pollers[0].Stale, Stale: got.Pollers[1].Stale}
			if diff := cmp.Diff(c.want, gv); diff != "" {
				t.Errorf("polls every %s (-want +got):\n%s", c.interval, diff)
			}
		}
		if got := StaleAfter(30 * time.Minute); got != 34*time.Minute {
			t.Errorf("StaleAfter(30m) = %s, want 34m", got)
		}
	})

	t.Run("counts, outage flags and pollers are reported", func(t *testing.T) {
		flagged := linked("3")
		flagged.Company.OutageNoticeSent = true
		pending := linked("4")
		pending.Google.PendingSince = ago(time.Minute)
		resolved := linked("5")
		resolved.ResolvedAt = ago(time.Hour)
		unlinked := casesync.Mapping{ID: "6", GoogleCase: "projects/p/cases/6"}
		ps := casesync.PollState{GoogleLastPolledAt: ago(time.Minute), GoogleHeartbeat: ago(2 * time.Minute), CompanyHeartbeat: ago(10 * time.Minute)}
		got := ComputeStatus(now, []casesync.Mapping{flagged, pending, resolved, unlinked}, ps, time.Minute)
		if diff := cmp.Diff(MappingCounts{Total: 4, Open: 3, Resolved: 1, Unlinked: 1, Pending: 1}, got.Mappings); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]OutageFlag{{MappingID: "3", GoogleCase: "projects/p/cases/3", CompanyCaseID: "c3", SentToCompany: true}}, got.OutageFlags); diff != "" {
			t.Errorf("outage flags (-want +got):\n%s", diff)
		}
		wantPollers := []PollerStatus{
			{Side: casesync.SideGoogle, LastPolledAt: ago(time.Minute), Heartbeat: ago(2 * time.Minute), HeartbeatAge: 2 * time.Minute},
			{Side: casesync.SideCompany, Heartbeat: ago(10 * time.Minute), HeartbeatAge: 10 * time.Minute, Stale: true},
		}
		if diff := cmp.Diff(wantPollers, got.Pollers); diff != "" {
			t.Errorf("pollers (-want +got):\n%s", diff)
		}
	})
}

func TestStatusShowsStuckFailingAndGivenUpMappings(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	linked := func(id string, fn func(*casesync.Mapping)) casesync.Mapping {
		m := casesync.Mapping{ID: id, GoogleCase: "projects/p/cases/" + id, CompanyCaseID: "c" + id, Priority: casesync.P2,
			NewContentAt: ago(time.Hour), Google: casesync.MappingSide{UpdatesSyncedAt: ago(time.Hour)}, Company: casesync.MappingSide{UpdatesSyncedAt: ago(time.Hour)}}
		fn(&m)
		return m
	}
	stuck := func(id string, fn func(*Stuck)) Stuck {
		s := Stuck{MappingID: id, GoogleCase: "projects/p/cases/" + id, CompanyCaseID: "c" + id}
		fn(&s)
		return s
	}
	tests := []struct {
		name     string
		mappings []casesync.Mapping
		want     []Stuck
	}{
		{
			name: "a change pending 3 minutes whose due time has passed is stuck, with its side, since when and its age",
			mappings: []casesync.Mapping{linked("1", func(m *casesync.Mapping) {
				m.Company.PendingSince, m.DueAt = ago(3*time.Minute), ago(time.Second)
			})},
			want: []Stuck{stuck("1", func(s *Stuck) {
				s.Sides, s.Since, s.Age, s.DueAt = []casesync.Side{casesync.SideCompany}, ago(3*time.Minute), 3*time.Minute, ago(time.Second)
			})},
		},
		{
			name: "a change pending 1 minute is not stuck yet",
			mappings: []casesync.Mapping{linked("1", func(m *casesync.Mapping) {
				m.Google.PendingSince, m.DueAt = ago(time.Minute), ago(time.Second)
			})},
			want: []Stuck{},
		},
		{
			name: "a change pending 3 minutes under a running lease is not stuck: a sync is working on it",
			mappings: []casesync.Mapping{linked("1", func(m *casesync.Mapping) {
				m.Google.PendingSince = ago(3 * time.Minute)
				m.LeaseHolder, m.LeaseUntil, m.DueAt = "w1", now.Add(20*time.Second), now.Add(20*time.Second)
			})},
			want: []Stuck{},
		},
		{
			name: "a change pending 3 minutes whose lease ran out unreleased is stuck, and says the lease expired",
			mappings: []casesync.Mapping{linked("1", func(m *casesync.Mapping) {
				m.Google.PendingSince = ago(3 * time.Minute)
				m.LeaseHolder, m.LeaseUntil, m.DueAt = "w1", ago(100*time.Second), ago(100*time.Second)
			})},
			want: []Stuck{stuck("1", func(s *Stuck) {
				s.Sides, s.Since, s.Age, s.DueAt, s.LeaseExpired = []casesync.Side{casesync.SideGoogle}, ago(3*time.Minute), 3*time.Minute, ago(100*time.Second), true
			})},
		},
		{
			name: "a change the sweep already asked for again, due again later but never delivered, is still stuck",
			mappings: []casesync.Mapping{linked("1", func(m *casesync.Mapping) {
				m.Company.PendingSince, m.DueAt = ago(8*time.Minute), now.Add(4*time.Minute)
			})},
			want: []Stuck{stuck("1", func(s *Stuck) {
				s.Sides, s.Since, s.Age, s.DueAt = []casesync.Side{casesync.SideCompany}, ago(8*time.Minute), 8*time.Minute, now.Add(4*time.Minute)
			})},
		},
		{
			name: "a failing mapping's waiting change is stuck with its attempts and last error, counterpart or not",
			mappings: []casesync.Mapping{{ID: "2", GoogleCase: "projects/p/cases/2", CreatedAt: ago(time.Hour),
				Google: casesync.MappingSide{PendingSince: ago(10 * time.Minute)}, DueAt: now.Add(time.Minute),
				Attempts: 4, FailingSince: ago(9 * time.Minute), LastError: "CRM create case: HTTP 403"}},
			want: []Stuck{{MappingID: "2", GoogleCase: "projects/p/cases/2", Sides: []casesync.Side{casesync.SideGoogle},
				Since: ago(10 * time.Minute), Age: 10 * time.Minute, DueAt: now.Add(time.Minute), Attempts: 4, LastError: "CRM create case: HTTP 403"}},
		},
		{
			name: "changes stuck on both sides are one entry, since the older mark, and entries are listed oldest first",
			mappings: []casesync.Mapping{
				linked("1", func(m *casesync.Mapping) { m.Google.PendingSince, m.DueAt = ago(4*time.Minute), ago(time.Minute) }),
				linked("2", func(m *casesync.Mapping) {
					m.Google.PendingSince, m.Company.PendingSince, m.DueAt = ago(5*time.Minute), ago(6*time.Minute), ago(time.Minute)
				}),
			},
			want: []Stuck{
				stuck("2", func(s *Stuck) {
					s.Sides, s.Since, s.Age, s.DueAt = []casesync.Side{casesync.SideGoogle, casesync.SideCompany}, ago(6*time.Minute), 6*time.Minute, ago(time.Minute)
				}),
				stuck("1", func(s *Stuck) {
					s.Sides, s.Since, s.Age, s.DueAt = []casesync.Side{casesync.SideGoogle}, ago(4*time.Minute), 4*time.Minute, ago(time.Minute)
				}),
			},
		},
		{
			name: "resolved and given-up mappings are not listed as stuck",
			mappings: []casesync.Mapping{
				linked("1", func(m *casesync.Mapping) { m.Google.PendingSince, m.ResolvedAt = ago(time.Hour), ago(time.Minute) }),
				{ID: "2", GoogleCase: "projects/p/cases/2", Google: casesync.MappingSide{PendingSince: ago(25 * time.Hour)}, Attempts: 30, FailingSince: ago(25 * time.Hour), GaveUpAt: ago(time.Hour)},
			},
			want: []Stuck{},
		},
	}
	fresh := casesync.PollState{GoogleLastPolledAt: ago(time.Minute), GoogleHeartbeat: ago(time.Minute),
		CompanyLastPolledAt: ago(time.Minute), CompanyHeartbeat: ago(time.Minute)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeStatus(now, tc.mappings, fresh, time.Minute)
			if diff := cmp.Diff(tc.want, got.Stuck); diff != "" {
				t.Errorf("stuck (-want +got):\n%s", diff)
			}
			if got.Mappings.Stuck != len(tc.want) {
				t.Errorf("stuck count %d, want %d", got.Mappings.Stuck, len(tc.want))
			}
		})
	}

	t.Run("a long stuck list is cut to the oldest, and the count says how many there are", func(t *testing.T) {
		var ms []casesync.Mapping
		for i := range MaxMappingsShown + 10 {
			ms = append(ms, linked(fmt.Sprintf("m%03d", i), func(m *casesync.Mapping) {
				m.Company.PendingSince, m.DueAt = ago(time.Duration(3+i)*time.Minute), ago(time.Second)
			}))
		}
		got := ComputeStatus(now, ms, fresh, time.Minute)
		if got.Mappings.Stuck != MaxMappingsShown+10 || len(got.Stuck) != MaxMappingsShown {
			t.Fatalf("count %d and %d listed, want %d and %d", got.Mappings.Stuck, len(got.Stuck), MaxMappingsShown+10, MaxMappingsShown)
		}
		if first := got.Stuck[0]; first.MappingID != fmt.Sprintf("m%03d", MaxMappingsShown+9) || first.Age != time.Duration(MaxMappingsShown+12)*time.Minute {
			t.Errorf("first listed %s, %v old; want the oldest", first.MappingID, first.Age)
		}
	})

	t.Run("failing and given-up mappings are listed with their attempts, since when, last error and next try", func(t *testing.T) {
		failing := linked("1", func(m *casesync.Mapping) {
			m.Attempts, m.FailingSince, m.LastError, m.DueAt = 3, ago(7*time.Minute), "CRM update case c1: HTTP 503", now.Add(2*time.Minute)
		})
		givenUp := casesync.Mapping{ID: "2", CompanyCaseID: "c2", Attempts: 40, FailingSince: ago(25 * time.Hour),
			LastError: "Google create case: permission denied", GaveUpAt: ago(time.Hour)}
		got := ComputeStatus(now, []casesync.Mapping{failing, givenUp, linked("3", func(*casesync.Mapping) {})}, fresh, time.Minute)
		wantFailing := []Failing{{MappingID: "1", GoogleCase: "projects/p/cases/1", CompanyCaseID: "c1", Attempts: 3,
			FailingSince: ago(7 * time.Minute), LastError: "CRM update case c1: HTTP 503", NextTry: now.Add(2 * time.Minute)}}
		if diff := cmp.Diff(wantFailing, got.Failing); diff != "" {
			t.Errorf("failing (-want +got):\n%s", diff)
		}
		wantGivenUp := []GivenUp{{MappingID: "2", CompanyCaseID: "c2", GaveUpAt: ago(time.Hour), Attempts: 40,
			FailingSince: ago(25 * time.Hour), LastError: "Google create case: permission denied"}}
		if diff := cmp.Diff(wantGivenUp, got.GivenUp); diff != "" {
			t.Errorf("given up (-want +got):\n%s", diff)
		}
		if got.Mappings.Failing != 1 || got.Mappings.GivenUp != 1 {
			t.Errorf("counts: %d failing and %d given up, want 1 and 1", got.Mappings.Failing, got.Mappings.GivenUp)
		}
		if diff := cmp.Diff([]string{"1 given up", "1 failing"}, got.Attention()); diff != "" {
			t.Errorf("attention (-want +got):\n%s", diff)
		}
	})
}

func TestStatusShowsFailingPollsAndWhatNeedsAttention(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	ctx := t.Context()
	s := casesynctest.NewMemStore()
	for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		if err := s.RecordPoll(ctx, side, ago(time.Minute), ago(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("with every poll succeeding and nothing waiting, nothing needs attention", func(t *testing.T) {
		st, err := ReadStatus(ctx, s, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if a := st.Attention(); len(a) != 0 {
			t.Errorf("attention %q, want none", a)
		}
	})

	// The CRM answers no more: its polls fail, and the change a poll
	// handed on before is never reconciled.
	if err := s.RecordPollFailure(ctx, casesync.SideCompany, ago(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	m, _, err := s.ResolveMapping(ctx, "projects/p/cases/1", "101", true, func(m *casesync.Mapping) { m.Origin = casesync.SideGoogle })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPending(ctx, casesync.SideGoogle, []string{m.ID}, ago(3*time.Minute), ago(30*time.Second)); err != nil {
		t.Fatal(err)
	}

	st, err := ReadStatus(ctx, s, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a side whose polls fail is not ok: it says since when", func(t *testing.T) {
		want := []PollerStatus{
			{Side: casesync.SideGoogle, LastPolledAt: ago(time.Minute), Heartbeat: ago(time.Minute), HeartbeatAge: time.Minute},
			{Side: casesync.SideCompany, LastPolledAt: ago(time.Minute), Heartbeat: ago(time.Minute), HeartbeatAge: time.Minute,
				Failing: true, FailingSince: ago(4 * time.Minute)},
		}
		if diff := cmp.Diff(want, st.Pollers); diff != "" {
			t.Errorf("pollers (-want +got):\n%s", diff)
		}
	})
	t.Run("the change handed on 3 minutes ago and never reconciled is stuck", func(t *testing.T) {
		want := []Stuck{{MappingID: m.ID, GoogleCase: "projects/p/cases/1", CompanyCaseID: "101", Sides: []casesync.Side{casesync.SideGoogle},
			Since: ago(3 * time.Minute), Age: 3 * time.Minute, DueAt: ago(30 * time.Second)}}
		if diff := cmp.Diff(want, st.Stuck); diff != "" {
			t.Errorf("stuck (-want +got):\n%s", diff)
		}
	})
	t.Run("attention names the stuck mapping's age and the failing polls, before the tolerance makes anything out of sync", func(t *testing.T) {
		if len(st.OutOfSync) != 0 {
			t.Errorf("out of sync %+v: the test wants a state no outage rule catches yet", st.OutOfSync)
		}
		want := []string{
			"1 stuck, the oldest waiting since 2026-06-01T11:57:00Z (3m0s ago)",
			"CRM polls failing since 2026-06-01T11:56:00Z (4m0s ago)",
		}
		if diff := cmp.Diff(want, st.Attention()); diff != "" {
			t.Errorf("attention (-want +got):\n%s", diff)
		}
	})
}
