package casesync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// toleranceTable is the latency tolerance by priority and by freshness
// (time since new content): fresh (< 1 h), default (1 h – 1 day), stale.
var toleranceTable = map[Priority][3]time.Duration{
	P0: {10 * time.Minute, 10 * time.Minute, 15 * time.Minute},
	P1: {10 * time.Minute, 15 * time.Minute, 60 * time.Minute},
	P2: {10 * time.Minute, 20 * time.Minute, 120 * time.Minute},
	P3: {10 * time.Minute, 20 * time.Minute, 240 * time.Minute},
	P4: {10 * time.Minute, 30 * time.Minute, 240 * time.Minute},
}

// Tolerance is how long a case of priority p whose last new content is
// sinceNewContent old may go without syncing before it counts as an outage.
// An unknown priority is treated as P3.
func Tolerance(p Priority, sinceNewContent time.Duration) time.Duration {
	row, ok := toleranceTable[p]
	if !ok {
		row = toleranceTable[P3]
	}
	switch {
	case sinceNewContent < time.Hour:
		return row[0]
	case sinceNewContent <= 24*time.Hour:
		return row[1]
	default:
		return row[2]
	}
}

// SyncedThrough is the time up to which every change of one side is known to
// have reached the other: the start of a pending change if there is one,
// otherwise the later of the mapping's last reconciliation and the poller's
// last successful poll (which found nothing new for it). Outage detection
// and the operator's status command both measure lag with it.
func SyncedThrough(pendingSince, syncedAt, heartbeat time.Time) time.Time {
	if !pendingSince.IsZero() {
		return pendingSince
	}
	if heartbeat.After(syncedAt) {
		return heartbeat
	}
	return syncedAt
}

// DetectOutages checks every linked, open mapping against the tolerance
// table. On the first detection it posts "This case has not synced properly
// in …" once on each side it can reach; on recovery it posts "Syncing has
// resumed." once on each side that had the outage comment. A mapping stuck
// while its pollers are healthy gets a sync-requested, so a lost event heals.
// It returns an error wrapping ErrOutage while any mapping is out of sync.
func (e *Engine) DetectOutages(ctx context.Context) (OutageReport, error) {
	now := e.now()
	st, err := e.Store.GetPollState(ctx)
	if err != nil {
		return OutageReport{}, fmt.Errorf("read poll state: %w", err)
	}
	var rep OutageReport
	var errs []error
	err = e.Store.ListMappings(ctx, func(m Mapping) error {
		if !m.Linked() || m.Resolved() {
			return nil
		}
		rep.Checked++
		tol := Tolerance(m.Priority, now.Sub(m.NewContentAt))
		gThrough := SyncedThrough(m.GooglePendingSince, m.GoogleUpdatesSyncedAt, st.GoogleHeartbeat)
		cThrough := SyncedThrough(m.CompanyPendingSince, m.CompanyUpdatesSyncedAt, st.CompanyHeartbeat)
		through := gThrough
		if cThrough.Before(through) {
			through = cThrough
		}
		out := now.After(through.Add(tol))
		if out {
			rep.OutOfSync = append(rep.OutOfSync, m.ID)
			lag := now.Sub(through)
			e.log().WarnContext(ctx, "mapping out of sync", mappingKey, m.ID, "lag", lag.String(), "tolerance", tol.String(),
				"googleSyncedThrough", gThrough, "companySyncedThrough", cThrough)
			for _, side := range []Side{SideGoogle, SideCompany} {
				if m.outageSent(side) {
					continue
				}
				if err := e.postNotice(ctx, m, side, noticeOutage, OutageText(lag)); err != nil {
					errs = append(errs, err)
					continue
				}
				rep.Notified++
			}
			// Heal a lost event: the pollers are fine but this mapping is not.
			pollersFresh := now.Sub(st.GoogleHeartbeat) < tol && now.Sub(st.CompanyHeartbeat) < tol
			if pollersFresh && e.Publisher != nil {
				if err := e.Publisher.PublishSyncRequested(ctx, CaseRef{MappingID: m.ID}); err != nil {
					errs = append(errs, err)
				}
			}
			return nil
		}
		for _, side := range []Side{SideGoogle, SideCompany} {
			if !m.outageSent(side) {
				continue
			}
			if err := e.postNotice(ctx, m, side, noticeResumed, resumedText); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Resumed++
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("list mappings: %w", err)
	}
	for _, err := range errs {
		e.log().WarnContext(ctx, "outage notice not posted; will try again next run", "error", err)
	}
	// The function logs the run's summary at INFO (or the ERROR monitoring
	// alerts on).
	e.log().DebugContext(ctx, "outage detection finished", "checked", rep.Checked, "outOfSync", len(rep.OutOfSync),
		"notified", rep.Notified, "resumed", rep.Resumed)
	if len(rep.OutOfSync) > 0 {
		return rep, fmt.Errorf("%d of %d mappings out of sync: %w", len(rep.OutOfSync), rep.Checked, ErrOutage)
	}
	if len(errs) > 0 {
		return rep, errors.Join(errs...)
	}
	return rep, nil
}

func (m Mapping) outageSent(side Side) bool {
	if side == SideGoogle {
		return m.OutageCommentSentToGoogle
	}
	return m.OutageCommentSentToCompany
}

// postNotice posts an outage or resumed notice on one side, once: if the last
// notice already on that side is of this kind (an earlier run crashed before
// recording it), it only records it. Then the flag is set or cleared.
func (e *Engine) postNotice(ctx context.Context, m Mapping, side Side, kind noticeKind, text string) error {
	var coms []Comment
	var err error
	if side == SideGoogle {
		coms, err = e.Google.ListComments(ctx, m.GoogleCase)
	} else {
		coms, err = e.CRM.ListComments(ctx, m.CompanyCaseID)
	}
	if err != nil {
		return err
	}
	last := noticeNone
	for _, c := range coms {
		if _, k := connectorText(c.Body); k != noticeNone && c.ByConnector {
			last = k
		}
	}
	var posted Comment
	if last != kind {
		if side == SideGoogle {
			posted, err = e.Google.AddComment(ctx, m.GoogleCase, text)
		} else {
			posted, err = e.CRM.AddComment(ctx, m.CompanyCaseID, text, true)
		}
		if err != nil {
			return err
		}
	}
	_, err = e.Store.UpdateMapping(ctx, m.ID, func(x *Mapping) error {
		v := kind == noticeOutage
		if side == SideGoogle {
			x.OutageCommentSentToGoogle = v
			if posted.ID != "" {
				x.GoogleItems.Comments, _ = x.GoogleItems.Comments.settle(map[string]time.Time{posted.ID: posted.CreateTime}, nil)
			}
		} else {
			x.OutageCommentSentToCompany = v
			if posted.ID != "" {
				x.CompanyItems.Comments, _ = x.CompanyItems.Comments.settle(map[string]time.Time{posted.ID: posted.CreateTime}, nil)
			}
		}
		return nil
	})
	return err
}
