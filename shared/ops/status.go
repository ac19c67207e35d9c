package ops

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// StaleHeartbeat is how old a poller's heartbeat may be before status calls
// the poller stale: five missed one-minute polls.
const StaleHeartbeat = 5 * time.Minute

// Status is the state of a deployment as the operator sees it.
type Status struct {
	Now      time.Time      `json:"now"`
	Mappings MappingCounts  `json:"mappings"`
	Pollers  []PollerStatus `json:"pollers"`
	// OutOfSync are the linked, open mappings outage detection counts as
	// out of sync, most lagging first.
	OutOfSync []OutOfSync `json:"outOfSync"`
	// OutageFlags are the mappings that carry an outage comment on a side
	// (set when it was posted, cleared when "Syncing has resumed." is).
	OutageFlags []OutageFlag `json:"outageFlags"`
	// DeadLetters is the depth of every dead-letter subscription.
	DeadLetters []Depth `json:"deadLetters"`
	// Refusals are the links and copies casebridge refused (a link line it
	// did not write, a Google-case field it cannot honour), most recent
	// first, at most MaxRefusalsShown; RefusalsMore says more exist.
	Refusals     []casesync.Refusal `json:"refusals"`
	RefusalsMore bool               `json:"refusalsMore,omitempty"`
}

// MaxRefusalsShown is how many refusal records status reads.
const MaxRefusalsShown = 50

// MappingCounts counts the mappings.
type MappingCounts struct {
	Total    int `json:"total"`
	Open     int `json:"open"`
	Resolved int `json:"resolved"`
	// Unlinked are open mappings whose counterpart does not exist yet (its
	// creation has not succeeded).
	Unlinked int `json:"unlinked"`
	// Pending are open mappings with a change a poller saw and no
	// reconciliation has applied yet.
	Pending int `json:"pending"`
}

// PollerStatus is one poller's watermark and heartbeat.
type PollerStatus struct {
	Side casesync.Side `json:"side"`
	// LastPolledAt is the watermark: the next poll searches for changes
	// since it, less the polling window.
	LastPolledAt time.Time `json:"lastPolledAt,omitzero"`
	// Heartbeat is when the last successful poll started.
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	// HeartbeatAge is Now - Heartbeat (0 when there is none).
	HeartbeatAge time.Duration `json:"heartbeatAge"`
	// Stale is true when there is no heartbeat or it is older than
	// StaleHeartbeat.
	Stale bool `json:"stale"`
}

// OutOfSync is one mapping past its latency tolerance.
type OutOfSync struct {
	MappingID     string            `json:"mappingId"`
	GoogleCase    string            `json:"googleCase"`
	CompanyCaseID string            `json:"companyCaseId"`
	Priority      casesync.Priority `json:"-"`
	PriorityName  string            `json:"priority"`
	// Lag is how long the mapping has gone unsynced: Now minus the earlier
	// of the two sides' synced-through times.
	Lag       time.Duration `json:"lag"`
	Tolerance time.Duration `json:"tolerance"`
	// GoogleSyncedThrough and CompanySyncedThrough are the times up to
	// which every change of that side is known to have reached the other.
	GoogleSyncedThrough  time.Time `json:"googleSyncedThrough,omitzero"`
	CompanySyncedThrough time.Time `json:"companySyncedThrough,omitzero"`
	// GooglePending / CompanyPending: a poller saw a change on that side
	// that no reconciliation has applied.
	GooglePending  bool `json:"googlePending"`
	CompanyPending bool `json:"companyPending"`
}

// OutageFlag is a mapping with an outage comment posted on a side.
type OutageFlag struct {
	MappingID     string `json:"mappingId"`
	GoogleCase    string `json:"googleCase"`
	CompanyCaseID string `json:"companyCaseId"`
	SentToGoogle  bool   `json:"sentToGoogle"`
	SentToCompany bool   `json:"sentToCompany"`
}

// StateReader is what status reads of the store (shared/store.Store).
type StateReader interface {
	ListMappings(ctx context.Context, fn func(casesync.Mapping) error) error
	GetPollState(ctx context.Context) (casesync.PollState, error)
	ListRefusals(ctx context.Context, limit int) ([]casesync.Refusal, error)
}

// ReadStatus reads every mapping and the poll state and computes the
// status at now (dead-letter depths are left for the caller to add).
func ReadStatus(ctx context.Context, s StateReader, now time.Time) (Status, error) {
	ps, err := s.GetPollState(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("reading the poll state: %w", err)
	}
	var ms []casesync.Mapping
	if err := s.ListMappings(ctx, func(m casesync.Mapping) error {
		ms = append(ms, m)
		return nil
	}); err != nil {
		return Status{}, fmt.Errorf("reading the mappings: %w", err)
	}
	st := ComputeStatus(now, ms, ps)
	refusals, err := readRefusals(ctx, s)
	if err != nil {
		return Status{}, err
	}
	st.Refusals = refusals
	if len(st.Refusals) > MaxRefusalsShown {
		st.Refusals, st.RefusalsMore = st.Refusals[:MaxRefusalsShown], true
	}
	return st, nil
}

func readRefusals(ctx context.Context, s StateReader) ([]casesync.Refusal, error) {
	rs, err := s.ListRefusals(ctx, MaxRefusalsShown+1)
	if err != nil {
		return nil, fmt.Errorf("reading the refusals: %w", err)
	}
	if rs == nil {
		rs = []casesync.Refusal{}
	}
	return rs, nil
}

// ComputeStatus is the status of mappings and poll state at now. A mapping
// is out of sync exactly when outage detection (casesync.DetectOutages)
// counts it so: it is linked and open, and now is past the earlier side's
// synced-through time plus the tolerance for its priority and freshness.
func ComputeStatus(now time.Time, mappings []casesync.Mapping, ps casesync.PollState) Status {
	st := Status{Now: now, OutOfSync: []OutOfSync{}, OutageFlags: []OutageFlag{}, DeadLetters: []Depth{}, Refusals: []casesync.Refusal{}}
	st.Pollers = []PollerStatus{
		poller(now, casesync.SideGoogle, ps.GoogleLastPolledAt, ps.GoogleHeartbeat),
		poller(now, casesync.SideCompany, ps.CompanyLastPolledAt, ps.CompanyHeartbeat),
	}
	for _, m := range mappings {
		st.Mappings.Total++
		if m.Resolved() {
			st.Mappings.Resolved++
		} else {
			st.Mappings.Open++
			if !m.Linked() {
				st.Mappings.Unlinked++
			}
			if !m.GooglePendingSince.IsZero() || !m.CompanyPendingSince.IsZero() {
				st.Mappings.Pending++
			}
		}
		if m.OutageCommentSentToGoogle || m.OutageCommentSentToCompany {
			st.OutageFlags = append(st.OutageFlags, OutageFlag{
				MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID,
				SentToGoogle: m.OutageCommentSentToGoogle, SentToCompany: m.OutageCommentSentToCompany,
			})
		}
		if !m.Linked() || m.Resolved() {
			continue
		}
		tol := casesync.Tolerance(m.Priority, now.Sub(m.NewContentAt))
		g := casesync.SyncedThrough(m.GooglePendingSince, m.GoogleUpdatesSyncedAt, ps.GoogleHeartbeat)
		c := casesync.SyncedThrough(m.CompanyPendingSince, m.CompanyUpdatesSyncedAt, ps.CompanyHeartbeat)
		through := g
		if c.Before(through) {
			through = c
		}
		if !now.After(through.Add(tol)) {
			continue
		}
		st.OutOfSync = append(st.OutOfSync, OutOfSync{
			MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID,
			Priority: m.Priority, PriorityName: m.Priority.String(),
			Lag: now.Sub(through), Tolerance: tol,
			GoogleSyncedThrough: g, CompanySyncedThrough: c,
			GooglePending: !m.GooglePendingSince.IsZero(), CompanyPending: !m.CompanyPendingSince.IsZero(),
		})
	}
	sort.SliceStable(st.OutOfSync, func(i, j int) bool {
		if st.OutOfSync[i].Lag != st.OutOfSync[j].Lag {
			return st.OutOfSync[i].Lag > st.OutOfSync[j].Lag
		}
		return st.OutOfSync[i].MappingID < st.OutOfSync[j].MappingID
	})
	sort.SliceStable(st.OutageFlags, func(i, j int) bool { return st.OutageFlags[i].MappingID < st.OutageFlags[j].MappingID })
	return st
}

func poller(now time.Time, side casesync.Side, last, hb time.Time) PollerStatus {
	p := PollerStatus{Side: side, LastPolledAt: last, Heartbeat: hb, Stale: true}
	if !hb.IsZero() {
		p.HeartbeatAge = now.Sub(hb)
		p.Stale = p.HeartbeatAge > StaleHeartbeat
	}
	return p
}
