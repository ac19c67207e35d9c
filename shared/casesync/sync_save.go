package casesync

import (
	"context"
	"slices"
	"strings"
	"time"
)

// save records what this pass did, if the lease is still this worker's.
// After a failure it still records the items written, so a retry does not
// look for them again, and schedules the next attempt; only a complete pass
// moves the seen update times and the synced-at times. again reports that
// the case should be looked at once more before the lease is let go: the
// pass wrote to a side, a reconciliation was asked for meanwhile, or the
// CRM's read came in the tick of its last change.
func (r *reconciliation) save(ctx context.Context, runErr error) (saved Mapping, again bool, err error) {
	if r.done == nil || r.merged {
		return Mapping{}, false, nil
	}
	complete := runErr == nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	now := r.e.now()
	seenG, seenC := time.Time{}, time.Time{}
	if r.g != nil {
		seenG = r.g.UpdateTime
	}
	if r.c != nil {
		seenC = r.c.UpdateTime
		// The CRM's update time is coarse: a change in the same tick as our
		// read would carry the same update time, so leave such a read
		// unseen and look once more.
		if r.companyTickWait() > 0 {
			seenC = seenC.Add(-time.Nanosecond)
		}
	}
	googleName, companyID := r.m.GoogleCase, r.m.CompanyCaseID
	var behind []string
	saved, err = r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
		if err := r.lease.owns(m); err != nil {
			return err
		}
		again = false
		r.rerunAsked = m.RerunRequested
		if m.GoogleCase != googleName {
			// A reopen swapped the Google case mid-run.
			return nil
		}
		behind = r.settleItems(m)
		for _, side := range sides {
			if own := r.own[side]; len(own) > 0 {
				m.Side(side).OwnWrites = keepOwnWrites(m.Side(side).OwnWrites, own)
			}
		}
		if r.newContent {
			m.NewContentAt = now
		}
		switch {
		case complete || slices.Contains(r.skipped, m.RefusedItem):
			m.RefusedItem = ""
		}
		if r.refused != "" && !slices.Contains(r.skipped, r.refused) {
			// Proven, its note not yet posted: the next pass skips it.
			m.RefusedItem = r.refused
		}
		// What the pass did of Google's state and the escalation request
		// is so whether or not the pass completed.
		if r.stateShown != nil {
			m.GoogleStateShown = *r.stateShown
		}
		if r.escalation != nil {
			m.Escalation = *r.escalation
		}
		if r.lastEscalation != nil {
			m.LastEscalation = *r.lastEscalation
		}
		r.endsLease = false
		if !complete {
			// A write whose answer was lost may be on a side unrecorded.
			m.WritesRecorded = false
			r.failed(m, runErr, now)
			// The run ends with this write: it lets the lease go.
			r.lease.endIn(m)
			r.endsLease = true
			return nil
		}
		if googleName != "" && seenG.After(m.Google.SeenUpdateTime) {
			m.Google.SeenUpdateTime = seenG
		}
		if companyID != "" && seenC.After(m.Company.SeenUpdateTime) {
			m.Company.SeenUpdateTime = seenC
		}
		// When this pass read each side: a message published before then
		// announced nothing it did not see.
		if r.g != nil && r.g.Name == googleName && r.gAt.After(m.Google.ReadAt) {
			m.Google.ReadAt = r.gAt
		}
		if r.c != nil && r.c.ID == companyID && r.cAt.After(m.Company.ReadAt) {
			m.Company.ReadAt = r.cAt
		}
		if m.Linked() {
			for _, side := range sides {
				if side != r.assumed {
					m.Side(side).UpdatesSyncedAt = now
				}
			}
			if !m.Google.PendingSince.After(r.start) {
				m.Google.PendingSince = time.Time{}
			}
			if !m.Company.PendingSince.After(r.start) {
				m.Company.PendingSince = time.Time{}
			}
		}
		if r.priority != nil {
			m.Priority = *r.priority
		}
		if r.closedG != nil {
			m.Google.Closed, m.Company.Closed = *r.closedG, *r.closedC
		}
		if r.resolvedAt != nil && m.ResolvedAt.IsZero() {
			m.ResolvedAt = *r.resolvedAt
		}
		if r.reopenNotice != nil {
			m.ReopenNoticeSent = *r.reopenNotice
		}
		if r.newCaseNoticed {
			m.NewCaseNoticeOwed = false
		}
		m.Attempts, m.LastError, m.GaveUpAt = 0, "", time.Time{}
		outstanding := m.RerunRequested || !m.Google.PendingSince.IsZero() || !m.Company.PendingSince.IsZero() ||
			len(r.writes) > 0 || r.companyTickWait() > 0 || !m.Linked()
		switch {
		case !outstanding:
			m.DueAt = time.Time{}
		case !m.Linked():
			// Nothing more to do now (a person's case not yet eligible, or
			// waiting on a search index); the sweep looks again later.
			m.DueAt = now.Add(r.cfg.RetryBackoff)
		case r.last:
			// Out of passes: the sweep asks again at the next poll.
			m.RerunRequested = false
			m.DueAt = now
		default:
			m.RerunRequested = false
			again = true
		}
		if !again {
			r.lease.endIn(m)
			r.endsLease = true
			// This pass completed: every write of the run is recorded, and
			// a copy an earlier attempt left unrecorded was found, unless
			// the pass took the CRM case as last seen without listing the
			// items whose copy that may be.
			m.WritesRecorded = r.recorded || r.assumed == ""
		}
		return nil
	})
	if err == nil && r.endsLease {
		r.lease.endedInWrite()
	}
	if len(behind) > 0 {
		r.log.WarnContext(ctx, "item log full: items left without being handled", "items", behind)
	}
	return saved, again, err
}

// failed records a failed pass on m and when to try again: with backoff,
// and for a mapping whose counterpart could not be created, until
// GiveUpAfter, when it gives up with an ERROR entry monitoring alerts on.
func (r *reconciliation) failed(m *Mapping, runErr error, now time.Time) {
	if m.Attempts == 0 {
		m.FailingSince = now
	}
	m.Attempts++
	m.LastError = cutError(runErr)
	m.RerunRequested = false
	m.DueAt = now.Add(r.cfg.retryDelay(m.Attempts))
	if !m.GaveUpAt.IsZero() {
		m.DueAt = time.Time{} // given up already: only a resync asks again
	}
	if !m.Linked() && m.GaveUpAt.IsZero() && !m.FailingSince.IsZero() && now.Sub(m.FailingSince) >= r.cfg.GiveUpAfter {
		m.DueAt, m.GaveUpAt = time.Time{}, now
		r.gaveUp = true
	}
}

// cutError is an error's text as stored on a mapping: it names ids, never
// case text, and is cut to a bounded length.
func cutError(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "?")
	if r := []rune(s); len(r) > maxStoredError {
		s = string(r[:maxStoredError-1]) + "…"
	}
	return s
}

const maxStoredError = 300

// companyTickWait is how long to wait before the CRM's clock leaves the
// tick of the case's last change, when the case was read in that tick (a
// change later in the same tick would carry the same update time). It uses
// the CRM's own clock from its answer when the adapter gives it, and the
// engine's otherwise; zero when the read was late enough.
func (r *reconciliation) companyTickWait() time.Duration {
	if r.c == nil || r.c.UpdateTime.IsZero() || r.assumed == SideCompany {
		return 0
	}
	gran := r.cfg.CompanyTimeGranularity
	readAt := r.c.ReadAt
	if readAt.IsZero() {
		readAt = r.cAt
	}
	// A read one tick after the change still counts as in it: a server may
	// date its answer when the request arrived, or the answer may cross into
	// the next tick after the read. Two ticks later is final.
	if d := readAt.Sub(r.c.UpdateTime); d <= gran {
		return 2*gran - d + 10*time.Millisecond
	}
	return 0
}

// settleItems records in m's item logs what this run did, and keeps them
// small. It returns the items a full log had to leave behind (see
// ItemLog.settle), as "side kind id".
func (r *reconciliation) settleItems(m *Mapping) []string {
	var behind []string
	for _, side := range []Side{SideGoogle, SideCompany} {
		for _, kind := range []itemKind{kindComment, kindAttachment} {
			add := map[string]time.Time{}
			for k, at := range r.done {
				if k.side == side && k.kind == kind {
					add[k.id] = at
				}
			}
			var listed []listedItem
			if r.listed[logKey{side, kind}] {
				listed = r.listing(side, kind)
			}
			if len(add) == 0 && listed == nil {
				continue
			}
			l := m.Side(side).Items.log(kind)
			var left []string
			*l, left = l.settle(add, listed)
			for _, id := range left {
				behind = append(behind, string(side)+" "+kind.String()+" "+id)
			}
		}
	}
	return behind
}

// listing returns what this run listed of one side and kind, each item
// settled or not.
func (r *reconciliation) listing(side Side, kind itemKind) []listedItem {
	var out []listedItem
	add := func(id string, at time.Time, own bool) {
		settled := own || !ValidID(id) || r.isDone(side, kind, id, at)
		out = append(out, listedItem{ID: id, At: at, Settled: settled})
	}
	rd := r.read(side)
	if kind == kindComment {
		for _, c := range rd.comments {
			add(c.ID, c.CreateTime, c.ByConnector)
		}
	} else {
		for _, a := range rd.attachments {
			add(a.ID, a.CreateTime, false)
		}
	}
	return out
}

// keepOwnWrites appends ids to the ids casebridge wrote to a side, keeping
// the newest MaxOwnWrites.
func keepOwnWrites(have, ids []string) []string {
	out := append(slices.Clone(have), ids...)
	if len(out) > MaxOwnWrites {
		out = out[len(out)-MaxOwnWrites:]
	}
	return out
}
