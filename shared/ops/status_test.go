package ops

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/google/go-cmp/cmp"
)

func TestComputeStatus(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	fresh := casesync.PollState{GoogleLastPolledAt: ago(time.Minute), GoogleHeartbeat: ago(time.Minute),
		CompanyLastPolledAt: ago(time.Minute), CompanyHeartbeat: ago(time.Minute)}
	linked := func(id string) casesync.Mapping {
		return casesync.Mapping{ID: id, GoogleCase: "projects/p/cases/" + id, CompanyCaseID: "c" + id, Priority: casesync.P2,
			NewContentAt: ago(2 * time.Hour), GoogleUpdatesSyncedAt: ago(time.Hour), CompanyUpdatesSyncedAt: ago(time.Hour)}
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
				m.CompanyPendingSince = ago(25 * time.Minute) // P2, default freshness: 20 min
				return m
			}()},
			poll: fresh,
			want: []OutOfSync{{MappingID: "1", GoogleCase: "projects/p/cases/1", CompanyCaseID: "c1", Priority: casesync.P2, PriorityName: "P2",
				Lag: 25 * time.Minute, Tolerance: 20 * time.Minute, GoogleSyncedThrough: ago(time.Minute), CompanySyncedThrough: ago(25 * time.Minute), CompanyPending: true}},
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
			got := ComputeStatus(now, tc.mappings, tc.poll)
			if diff := cmp.Diff(tc.want, got.OutOfSync); diff != "" {
				t.Errorf("out of sync (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("counts, outage flags and pollers are reported", func(t *testing.T) {
		flagged := linked("3")
		flagged.OutageCommentSentToCompany = true
		pending := linked("4")
		pending.GooglePendingSince = ago(time.Minute)
		resolved := linked("5")
		resolved.ResolvedAt = ago(time.Hour)
		unlinked := casesync.Mapping{ID: "6", GoogleCase: "projects/p/cases/6"}
		ps := casesync.PollState{GoogleLastPolledAt: ago(time.Minute), GoogleHeartbeat: ago(2 * time.Minute), CompanyHeartbeat: ago(10 * time.Minute)}
		got := ComputeStatus(now, []casesync.Mapping{flagged, pending, resolved, unlinked}, ps)
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
