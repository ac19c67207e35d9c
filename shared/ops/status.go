package ops

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// StaleHeartbeat is how old a poller's heartbeat may be before status calls
// the poller stale, for pollers that run every minute: five missed polls.
const StaleHeartbeat = 5 * time.Minute

// StaleAfter is how old a poller's heartbeat may be before status calls it
// stale, for pollers that run every pollInterval: its next poll four
// minutes late (StaleHeartbeat for one-minute polls).
func StaleAfter(pollInterval time.Duration) time.Duration {
	return StaleHeartbeat + casesync.HeartbeatCredit(pollInterval)
}

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
	// Stuck are the open mappings with a change a poller handed on that no
	// reconciliation has applied for StuckAfter or more, and that no
	// reconciliation is working on now: oldest first, at most
	// MaxMappingsShown (Mappings.Stuck counts them all).
	Stuck []Stuck `json:"stuck"`
	// Failing are the mappings whose last reconciliations failed and that
	// the sweep still retries: failing longest first, at most
	// MaxMappingsShown (Mappings.Failing counts them all).
	Failing []Failing `json:"failing"`
	// GivenUp are the mappings whose counterpart could not be created and
	// that the sweep no longer asks for (operator resync starts them
	// again): oldest first, at most MaxMappingsShown (Mappings.GivenUp
	// counts them all).
	GivenUp []GivenUp `json:"givenUp"`
	// CRMAPIUsage is the CRM's API usage the latest CRM poll recorded; nil
	// when none did (usage.go).
	CRMAPIUsage *CRMAPIUsage `json:"crmApiUsage"`
}

// StuckAfter is how long a change a poller handed on may wait for a
// reconciliation before status calls its mapping stuck: far below the
// shortest outage tolerance (10 minutes), far above a reconciliation's
// usual few seconds.
const StuckAfter = 2 * time.Minute

// MaxMappingsShown bounds each list of mappings status shows (stuck,
// failing, given up).
const MaxMappingsShown = 50

// Stuck is one mapping whose change waits for a reconciliation that is
// not running.
type Stuck struct {
	MappingID     string `json:"mappingId"`
	GoogleCase    string `json:"googleCase"`
	CompanyCaseID string `json:"companyCaseId"`
	// Sides are the sides whose change has waited StuckAfter or more.
	Sides []casesync.Side `json:"sides"`
	// Since is the oldest of those sides' pending marks: when the poller
	// first saw the change; Age is Now - Since.
	Since time.Time     `json:"since"`
	Age   time.Duration `json:"age"`
	// DueAt is when the pollers' sweep asks for the mapping again (zero:
	// nothing will, until a poll sees a new change).
	DueAt time.Time `json:"dueAt,omitzero"`
	// LeaseExpired: a reconciliation took the mapping and its lease ran
	// out without being released (the worker died or hung).
	LeaseExpired bool `json:"leaseExpired,omitempty"`
	// Attempts and LastError: the failed reconciliations in a row, if any,
	// and the last one's error (it names ids only).
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"lastError,omitempty"`
}

// Failing is one mapping whose reconciliations fail and are retried.
type Failing struct {
	MappingID     string    `json:"mappingId"`
	GoogleCase    string    `json:"googleCase"`
	CompanyCaseID string    `json:"companyCaseId"`
	Attempts      int       `json:"attempts"`
	FailingSince  time.Time `json:"failingSince,omitzero"`
	LastError     string    `json:"lastError"`
	// NextTry is when the sweep asks for the mapping again (DueAt).
	NextTry time.Time `json:"nextTry,omitzero"`
}

// GivenUp is one mapping the sweep stopped asking for: its counterpart
// could not be created.
type GivenUp struct {
	MappingID     string    `json:"mappingId"`
	GoogleCase    string    `json:"googleCase"`
	CompanyCaseID string    `json:"companyCaseId"`
	GaveUpAt      time.Time `json:"gaveUpAt"`
	Attempts      int       `json:"attempts"`
	FailingSince  time.Time `json:"failingSince,omitzero"`
	LastError     string    `json:"lastError"`
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
	// Stuck, Failing and GivenUp count the mappings of Status.Stuck,
	// Status.Failing and Status.GivenUp, all of them.
	Stuck   int `json:"stuck"`
	Failing int `json:"failing"`
	GivenUp int `json:"givenUp"`
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
	// StaleAfter the poll interval.
	Stale bool `json:"stale"`
	// Failing is true while the side's polls fail; FailingSince is when
	// they started to (zero while they succeed).
	Failing      bool      `json:"failing"`
	FailingSince time.Time `json:"failingSince,omitzero"`
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
// status at now for pollers that run every pollInterval (dead-letter
// depths are left for the caller to add).
func ReadStatus(ctx context.Context, s StateReader, now time.Time, pollInterval time.Duration) (Status, error) {
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
	st := ComputeStatus(now, ms, ps, pollInterval)
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

// ComputeStatus is the status of mappings and poll state at now, for
// pollers that run every pollInterval (0 means a minute). A mapping is out
// of sync exactly when outage detection (casesync.DetectOutages), told the
// same interval, counts it so: it is linked and open, and now is past the
// earlier side's synced-through time (a poller's heartbeat counting for
// casesync.HeartbeatCredit more) plus the tolerance for its priority and
// freshness.
func ComputeStatus(now time.Time, mappings []casesync.Mapping, ps casesync.PollState, pollInterval time.Duration) Status {
	st := Status{Now: now, OutOfSync: []OutOfSync{}, OutageFlags: []OutageFlag{}, DeadLetters: []Depth{}, Refusals: []casesync.Refusal{},
		Stuck: []Stuck{}, Failing: []Failing{}, GivenUp: []GivenUp{}}
	stale := StaleAfter(pollInterval)
	st.Pollers = []PollerStatus{
		poller(now, casesync.SideGoogle, ps.GoogleLastPolledAt, ps.GoogleHeartbeat, ps.GoogleFailingSince, stale),
		poller(now, casesync.SideCompany, ps.CompanyLastPolledAt, ps.CompanyHeartbeat, ps.CompanyFailingSince, stale),
	}
	st.CRMAPIUsage = crmAPIUsage(ps.CompanyAPIUsage)
	credit := casesync.HeartbeatCredit(pollInterval)
	for _, m := range mappings {
		st.Mappings.Total++
		if m.Resolved() {
			st.Mappings.Resolved++
		} else {
			st.Mappings.Open++
			if !m.Linked() {
				st.Mappings.Unlinked++
			}
			if !m.Google.PendingSince.IsZero() || !m.Company.PendingSince.IsZero() {
				st.Mappings.Pending++
			}
		}
		if m.Google.OutageNoticeSent || m.Company.OutageNoticeSent {
			st.OutageFlags = append(st.OutageFlags, OutageFlag{
				MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID,
				SentToGoogle: m.Google.OutageNoticeSent, SentToCompany: m.Company.OutageNoticeSent,
			})
		}
		st.addDelivery(now, m)
		if !m.Linked() || m.Resolved() {
			continue
		}
		tol := casesync.Tolerance(m.Priority, now.Sub(m.LastContentAt()))
		g := casesync.SyncedThrough(m.Google.PendingSince, m.Google.UpdatesSyncedAt, casesync.Credited(ps.GoogleHeartbeat, credit))
		c := casesync.SyncedThrough(m.Company.PendingSince, m.Company.UpdatesSyncedAt, casesync.Credited(ps.CompanyHeartbeat, credit))
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
			GooglePending: !m.Google.PendingSince.IsZero(), CompanyPending: !m.Company.PendingSince.IsZero(),
		})
	}
	sort.SliceStable(st.OutOfSync, func(i, j int) bool {
		if st.OutOfSync[i].Lag != st.OutOfSync[j].Lag {
			return st.OutOfSync[i].Lag > st.OutOfSync[j].Lag
		}
		return st.OutOfSync[i].MappingID < st.OutOfSync[j].MappingID
	})
	sort.SliceStable(st.OutageFlags, func(i, j int) bool { return st.OutageFlags[i].MappingID < st.OutageFlags[j].MappingID })
	st.sortDelivery()
	return st
}

// addDelivery adds m to the stuck, failing and given-up lists it belongs
// to.
//
// A mapping is stuck when a side's pending mark is StuckAfter old or more
// and no reconciliation is working on it now: it holds no lease, or its
// lease ran out without being released. Its due time does not matter:
// the sweep moves it forward each time it asks again, and a failing
// mapping's backoff does too, so a mapping whose requests are never
// delivered would otherwise show only in the minute between two sweeps.
// A mapping the sweep gave up on is listed as given up only.
func (st *Status) addDelivery(now time.Time, m casesync.Mapping) {
	if !m.GaveUpAt.IsZero() {
		st.Mappings.GivenUp++
		st.GivenUp = append(st.GivenUp, GivenUp{
			MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID,
			GaveUpAt: m.GaveUpAt, Attempts: m.Attempts, FailingSince: m.FailingSince, LastError: m.LastError,
		})
		return
	}
	if m.Attempts > 0 {
		st.Mappings.Failing++
		st.Failing = append(st.Failing, Failing{
			MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID,
			Attempts: m.Attempts, FailingSince: m.FailingSince, LastError: m.LastError, NextTry: m.DueAt,
		})
	}
	if m.Resolved() {
		return
	}
	leased := m.LeaseHolder != "" && m.LeaseUntil.After(now)
	if leased {
		return
	}
	s := Stuck{MappingID: m.ID, GoogleCase: m.GoogleCase, CompanyCaseID: m.CompanyCaseID, Sides: []casesync.Side{},
		DueAt: m.DueAt, LeaseExpired: m.LeaseHolder != "", Attempts: m.Attempts, LastError: m.LastError}
	for _, p := range []struct {
		side  casesync.Side
		since time.Time
	}{{casesync.SideGoogle, m.Google.PendingSince}, {casesync.SideCompany, m.Company.PendingSince}} {
		if p.since.IsZero() || now.Sub(p.since) < StuckAfter {
			continue
		}
		s.Sides = append(s.Sides, p.side)
		if s.Since.IsZero() || p.since.Before(s.Since) {
			s.Since = p.since
		}
	}
	if len(s.Sides) == 0 {
		return
	}
	s.Age = now.Sub(s.Since)
	st.Mappings.Stuck++
	st.Stuck = append(st.Stuck, s)
}

// sortDelivery orders the stuck, failing and given-up lists, oldest
// first, and cuts each to MaxMappingsShown.
func (st *Status) sortDelivery() {
	sort.Slice(st.Stuck, func(i, j int) bool {
		a, b := st.Stuck[i], st.Stuck[j]
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.MappingID < b.MappingID
	})
	sort.Slice(st.Failing, func(i, j int) bool {
		a, b := st.Failing[i], st.Failing[j]
		if !a.FailingSince.Equal(b.FailingSince) {
			return a.FailingSince.Before(b.FailingSince)
		}
		return a.MappingID < b.MappingID
	})
	sort.Slice(st.GivenUp, func(i, j int) bool {
		a, b := st.GivenUp[i], st.GivenUp[j]
		if !a.GaveUpAt.Equal(b.GaveUpAt) {
			return a.GaveUpAt.Before(b.GaveUpAt)
		}
		return a.MappingID < b.MappingID
	})
	st.Stuck = st.Stuck[:min(len(st.Stuck), MaxMappingsShown)]
	st.Failing = st.Failing[:min(len(st.Failing), MaxMappingsShown)]
	st.GivenUp = st.GivenUp[:min(len(st.GivenUp), MaxMappingsShown)]
}

func poller(now time.Time, side casesync.Side, last, hb, failingSince time.Time, staleAfter time.Duration) PollerStatus {
	p := PollerStatus{Side: side, LastPolledAt: last, Heartbeat: hb, Stale: true, Failing: !failingSince.IsZero(), FailingSince: failingSince}
	if !hb.IsZero() {
		p.HeartbeatAge = now.Sub(hb)
		p.Stale = p.HeartbeatAge > staleAfter
	}
	return p
}

// Attention lists what an operator should look at, most telling first, one
// short phrase each ("3 stuck, the oldest since …", "CRM polls failing
// since …"): stuck, given-up and failing mappings, failing, stale or idle
// pollers, the CRM's API usage above casesync.APIUsageWarnPercent of its
// limit, mappings out of sync and dead-lettered messages (counted or
// not). It is empty when all is well.
func (s Status) Attention() []string {
	var out []string
	if n := s.Mappings.Stuck; n > 0 && len(s.Stuck) > 0 {
		out = append(out, fmt.Sprintf("%d stuck, the oldest waiting since %s (%s)", n, stamp(s.Stuck[0].Since), ago(s.Stuck[0].Age)))
	}
	if n := s.Mappings.GivenUp; n > 0 {
		out = append(out, fmt.Sprintf("%d given up", n))
	}
	if n := s.Mappings.Failing; n > 0 {
		out = append(out, fmt.Sprintf("%d failing", n))
	}
	for _, p := range s.Pollers {
		switch {
		case p.Failing:
			out = append(out, fmt.Sprintf("%s polls failing since %s (%s)", sideName(p.Side), stamp(p.FailingSince), ago(s.Now.Sub(p.FailingSince))))
		case p.Heartbeat.IsZero():
			out = append(out, fmt.Sprintf("%s poller never polled", sideName(p.Side)))
		case p.Stale:
			out = append(out, fmt.Sprintf("%s poller stale, last heartbeat %s", sideName(p.Side), ago(p.HeartbeatAge)))
		}
	}
	if a := s.apiUsageAttention(); a != "" {
		out = append(out, a)
	}
	if n := len(s.OutOfSync); n > 0 {
		out = append(out, fmt.Sprintf("%d out of sync", n))
	}
	var dead int64
	for _, d := range s.DeadLetters {
		if d.Error != "" {
			out = append(out, fmt.Sprintf("dead letters of %s not counted", d.Subscription))
		}
		dead += d.Messages
	}
	if dead > 0 {
		out = append(out, fmt.Sprintf("%d dead-lettered message(s)", dead))
	}
	return out
}

// sideName names a side the way people call it.
func sideName(s casesync.Side) string {
	if s == casesync.SideCompany {
		return "CRM"
	}
	return "Google"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ago renders a duration to the second, as "4m10s ago".
func ago(d time.Duration) string { return d.Round(time.Second).String() + " ago" }
