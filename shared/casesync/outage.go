package casesync

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// MinTolerance is the smallest tolerance of the table: no mapping is out of
// sync before a change of it has waited this long.
func MinTolerance() time.Duration {
	least := time.Duration(0)
	for _, row := range toleranceTable {
		for _, d := range row {
			if least == 0 || d < least {
				least = d
			}
		}
	}
	return least
}

// TablePollInterval is the poll period the tolerance table was made for:
// a poller's heartbeat is at most about this old while it is on time.
const TablePollInterval = time.Minute

// HeartbeatCredit is how long after a poller's heartbeat (the start of its
// last successful poll) outage detection counts every change of its side
// as covered, for pollers that run every pollInterval: what that period
// adds to the minute the tolerance table assumes (0 for a minute or less).
// A change made after the heartbeat is found by the next poll, or comes
// sooner by an event; with a longer period the next poll is that much
// further away, and a quiet case is not late for it. A change a poll has
// found is measured from its pending mark, without credit.
func HeartbeatCredit(pollInterval time.Duration) time.Duration {
	return max(pollInterval-TablePollInterval, 0)
}

// LastContentAt is when new content of the mapping's case was last known
// of: the later of when content was last mirrored (NewContentAt) and when a
// poller found a change not yet reconciled (the pending marks). A case's
// freshness for the tolerance table is measured from it, so a new comment
// waiting on a case quiet for days counts as fresh.
func (m Mapping) LastContentAt() time.Time {
	t := m.NewContentAt
	for _, p := range []time.Time{m.Google.PendingSince, m.Company.PendingSince} {
		if p.After(t) {
			t = p
		}
	}
	return t
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

// OutageMessage is the message of the ERROR entry outage detection logs on
// every run while a case is out of sync. Terraform's log-based metric and
// alert policy key on it (terraform/monitoring.tf, local.outage_message).
const OutageMessage = "cases are out of sync"

// StuckAfter is how old a pending mark is before its change counts as
// stuck, when no reconciliation is working on it: handed on by a poller and
// still not reconciled. Outage detection logs such mappings at WARNING long
// before they reach an outage tolerance.
const StuckAfter = 2 * time.Minute

// StuckMessage is the message of the WARNING entry naming stuck mappings.
const StuckMessage = "changes were published but not reconciled"

// How outage detection posts its notices: this many mappings at once (each
// posts on its two sides in parallel, so each side's API has at most this
// many calls in flight), each call given at most noticeCallTimeout, so that
// one hung call cannot hold the run; and no notice is started, nor a call
// let run, past noticeBudget from the start of the run (or past the run's
// own deadline, less a margin), so that a side that hangs on every call
// cannot keep the run beyond the function's timeout (240 s by default).
// Notices left over are posted by the next run. Variables so that tests can
// shorten them.
var (
	noticeParallel    = 16
	noticeCallTimeout = 30 * time.Second
	noticeBudget      = 3 * time.Minute
)

// noticeMargin is kept free before the run's own deadline for recording
// what was posted and answering.
const noticeMargin = 10 * time.Second

// maxLoggedIDs bounds the mapping ids one log entry lists.
const maxLoggedIDs = 100

// DetectOutages checks the linked, open mappings that may be late against
// the tolerance table. It reads only candidates (ListOutageCandidates): the
// open mappings with a pending mark StuckAfter old or more (no mapping is
// out of sync before a change of it has waited MinTolerance, unless a
// poller has stalled: while a poller's heartbeat is MinTolerance old, plus
// the heartbeat credit of the poll interval (HeartbeatCredit), every open
// mapping), and the mappings with an outage notice sent or intended,
// for "Syncing has resumed.". The tally counts linked, open candidates as
// checked.
//
// As soon as the out-of-sync set is known it logs the ERROR entry alerting
// keys on (OutageMessage), and at WARNING the stuck mappings (StuckAfter).
// Then, in bounded parallel with a timeout per call, it posts "This case has
// not synced properly in …" once on each side of an out-of-sync mapping
// that can take it, recording the intent before posting; and, once a
// mapping is back in step or resolved, "Syncing has resumed." on each side
// whose last casebridge notice is an outage notice. An out-of-sync mapping
// whose pollers are healthy gets a sync-requested, so a lost event heals.
// It returns an error wrapping ErrOutage while any mapping is out of sync.
func (e *Engine) DetectOutages(ctx context.Context) (OutageReport, error) {
	now := e.now()
	st, err := e.Store.GetPollState(ctx)
	if err != nil {
		return OutageReport{}, fmt.Errorf("read poll state: %w", err)
	}
	minTol := MinTolerance()
	credit := HeartbeatCredit(e.cfg().PollInterval)
	allOpen := now.Sub(st.GoogleHeartbeat) >= minTol+credit || now.Sub(st.CompanyHeartbeat) >= minTol+credit
	// A mark exactly StuckAfter old is stuck: the query's bound is strict.
	cands, err := e.Store.ListOutageCandidates(ctx, now.Add(-min(minTol, StuckAfter)+time.Microsecond), allOpen)
	if err != nil {
		return OutageReport{}, fmt.Errorf("list outage candidates: %w", err)
	}

	var rep OutageReport
	var jobs []func(context.Context) noticeResult
	var stuck []string
	var oldestStuck time.Time
	var worstLag time.Duration
	for _, m := range cands {
		if !m.Resolved() {
			if since, ok := m.stuckSince(now); ok {
				if len(stuck) < maxLoggedIDs {
					stuck = append(stuck, m.ID+" since "+since.Format(time.RFC3339))
				}
				if oldestStuck.IsZero() || since.Before(oldestStuck) {
					oldestStuck = since
				}
				rep.Stuck++
			}
			if m.Linked() {
				rep.Checked++
			}
		}
		v := judge(m, st, now, credit)
		if v.outOfSync {
			worstLag = max(worstLag, v.lag)
			rep.OutOfSync = append(rep.OutOfSync, m.ID)
		}
		switch {
		case m.noticesOwed(v):
			jobs = append(jobs, func(ctx context.Context) noticeResult { return e.notices(ctx, m.ID) })
		case v.heal:
			jobs = append(jobs, func(ctx context.Context) noticeResult { return e.heal(ctx, m.ID) })
		}
	}

	// Alerting first: the run may yet be cut short by slow notices.
	if n := len(rep.OutOfSync); n > 0 {
		e.log().ErrorContext(ctx, OutageMessage, "count", n, "checked", rep.Checked,
			"mappingIds", rep.OutOfSync[:min(n, maxLoggedIDs)], "idsOmitted", max(0, n-maxLoggedIDs),
			"worstLag", worstLag.String())
	}
	if rep.Stuck > 0 {
		e.log().WarnContext(ctx, StuckMessage, "count", rep.Stuck, "oldestSince", oldestStuck,
			"mappings", stuck, "omitted", rep.Stuck-len(stuck))
	}

	budget := noticeBudget
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)-noticeMargin)
	}
	nctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var errs []error
	for _, r := range e.runNoticeJobs(nctx, jobs) {
		rep.Notified += r.notified
		rep.Resumed += r.resumed
		errs = append(errs, r.errs...)
	}
	if len(errs) > 0 {
		e.log().WarnContext(ctx, "some outage notices were not posted; the next run tries again",
			"failed", len(errs), "firstError", errs[0])
	}
	// The function logs the run's summary at INFO.
	e.log().DebugContext(ctx, "outage detection finished", "candidates", len(cands), "checked", rep.Checked,
		"outOfSync", len(rep.OutOfSync), "stuck", rep.Stuck, "notified", rep.Notified, "resumed", rep.Resumed)
	if len(rep.OutOfSync) > 0 {
		return rep, fmt.Errorf("%d of %d mappings out of sync: %w", len(rep.OutOfSync), rep.Checked, ErrOutage)
	}
	switch n := len(errs); {
	case n > maxJoinedErrors:
		return rep, fmt.Errorf("%d outage notices not posted; the first %d: %w", n, maxJoinedErrors, errors.Join(errs[:maxJoinedErrors]...))
	case n > 0:
		return rep, errors.Join(errs...)
	}
	return rep, nil
}

// maxJoinedErrors bounds the errors a run returns in full.
const maxJoinedErrors = 10

// noticeResult is what one mapping's notice job did.
type noticeResult struct {
	notified, resumed int
	errs              []error
}

// runNoticeJobs runs the jobs, noticeParallel at once. Once ctx is done no
// more are started; each one not started reports ctx's error.
func (e *Engine) runNoticeJobs(ctx context.Context, jobs []func(context.Context) noticeResult) []noticeResult {
	out := make([]noticeResult, len(jobs))
	sem := make(chan struct{}, noticeParallel)
	var wg sync.WaitGroup
	for i, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			for j := i; j < len(jobs); j++ {
				out[j].errs = []error{fmt.Errorf("outage notices not attempted: %w", err)}
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = job(ctx)
		}()
	}
	wg.Wait()
	return out
}

// verdict is outage detection's judgement of one mapping.
type verdict struct {
	outOfSync          bool
	lag, tol           time.Duration
	gThrough, cThrough time.Time
	// heal: the pollers are fine but this mapping is not, so an event was
	// lost; a reconciliation is asked for.
	heal bool
}

// judge measures how far behind m is at now against the tolerance table,
// each poller's heartbeat counting for credit more (HeartbeatCredit). A
// mapping that is not linked or is resolved is never out of sync.
func judge(m Mapping, st PollState, now time.Time, credit time.Duration) verdict {
	if !m.Linked() || m.Resolved() {
		return verdict{}
	}
	tol := Tolerance(m.Priority, now.Sub(m.LastContentAt()))
	gThrough := SyncedThrough(m.Google.PendingSince, m.Google.UpdatesSyncedAt, Credited(st.GoogleHeartbeat, credit))
	cThrough := SyncedThrough(m.Company.PendingSince, m.Company.UpdatesSyncedAt, Credited(st.CompanyHeartbeat, credit))
	through := gThrough
	if cThrough.Before(through) {
		through = cThrough
	}
	if !now.After(through.Add(tol)) {
		return verdict{}
	}
	return verdict{outOfSync: true, lag: now.Sub(through), tol: tol, gThrough: gThrough, cThrough: cThrough,
		heal: now.Sub(st.GoogleHeartbeat) < tol+credit && now.Sub(st.CompanyHeartbeat) < tol+credit}
}

// Credited is a poller's heartbeat moved credit later (HeartbeatCredit);
// a missing heartbeat stays missing.
func Credited(heartbeat time.Time, credit time.Duration) time.Time {
	if heartbeat.IsZero() {
		return heartbeat
	}
	return heartbeat.Add(credit)
}

// errNoticeBusy and errNoNotice end a notice job before it writes: the
// mapping is leased by another worker (a reconciliation, or another run's
// notice job; the next run looks again), or there is nothing to post.
var (
	errNoticeBusy = errors.New("the mapping is leased by another worker")
	errNoNotice   = errors.New("no notice to post")
)

// notices brings the notices of one mapping in line with its state. It
// judges the mapping afresh, from the poll state read again and the
// mapping read in the transaction that takes its lease, so that two runs of
// outage detection, or a run and a reconciliation, never work on the same
// mapping at once, and no run acts on a judgement made from what it read
// at its start, which may be minutes old by the time the job runs:
//
//   - out of sync: the outage notice on each side that does not have it
//     yet and can take a comment, the intent recorded with the lease; and a
//     reconciliation asked for if the pollers are fine (a lost event);
//   - back in step or resolved, with an outage notice sent or intended:
//     "Syncing has resumed." on each side whose last casebridge notice is
//     an outage notice, then the side's flag and intent cleared. A side
//     that cannot take a comment (a closed Google case) is cleared without
//     posting; so is one whose post failed permanently, with a log line,
//     so that no run tries it forever.
//
// What was posted is recorded with the lease's release, in one write.
func (e *Engine) notices(ctx context.Context, id string) noticeResult {
	var res noticeResult
	cfg := e.cfg()
	holder := newHolder()
	var st PollState
	if err := withTimeout(ctx, func(ctx context.Context) (err error) {
		st, err = e.Store.GetPollState(ctx)
		return err
	}); err != nil {
		res.errs = append(res.errs, fmt.Errorf("mapping %s: read the poll state: %w", id, err))
		return res
	}
	now := e.now()
	var v verdict
	var kind noticeKind
	var sides, intend []Side
	m, err := e.Store.UpdateMapping(ctx, id, func(x *Mapping) error {
		if x.LeaseHolder != "" && x.LeaseUntil.After(now) {
			return errNoticeBusy
		}
		v, kind, sides, intend = judge(*x, st, now, HeartbeatCredit(cfg.PollInterval)), noticeNone, nil, nil
		cleared := false
		for _, side := range []Side{SideGoogle, SideCompany} {
			switch {
			case v.outOfSync:
				kind = noticeOutage
				if !x.Side(side).OutageNoticeSent && x.canComment(side) {
					sides = append(sides, side)
					if !x.Side(side).OutageNoticeIntent {
						intend = append(intend, side)
						x.Side(side).OutageNoticeIntent = true
					}
				}
			case !x.Side(side).outageNoticed():
			case x.canComment(side):
				kind = noticeResumed
				sides = append(sides, side)
			default:
				x.Side(side).clearOutageNotice()
				cleared = true
			}
		}
		if len(sides) == 0 {
			if cleared {
				return nil
			}
			return errNoNotice
		}
		if x.LeaseHolder != holder {
			x.LeaseGeneration++
		}
		x.LeaseHolder, x.LeaseUntil = holder, now.Add(cfg.LeaseDuration)
		return nil
	})
	switch {
	case errors.Is(err, errNoticeBusy):
		e.log().DebugContext(ctx, "outage notices left to the next run: the mapping is leased", mappingKey, id)
		return res
	case errors.Is(err, errNoNotice), IsNotFound(err):
		err = nil
	case err != nil:
		res.errs = append(res.errs, fmt.Errorf("mapping %s: take it for its notices: %w", id, err))
		return res
	}
	if len(intend) > 0 {
		// First detection of this outage on these sides.
		e.log().WarnContext(ctx, "mapping out of sync", mappingKey, id, "lag", v.lag.String(), "tolerance", v.tol.String(),
			"googleSyncedThrough", v.gThrough, "companySyncedThrough", v.cThrough)
	}
	if m.LeaseHolder == holder {
		text := resumedText
		if kind == noticeOutage {
			text = OutageText(v.lag)
		}
		l, lctx := e.hold(ctx, m, holder, cfg.LeaseDuration)
		outs := e.onSides(lctx, sides, func(ctx context.Context, side Side) noticeOutcome {
			return e.bringNotice(ctx, l, m, side, kind, text)
		})
		for i, o := range outs {
			if kind == noticeResumed && o.err != nil && IsPermanent(o.err) {
				e.log().WarnContext(ctx, "the resumed notice cannot be posted; its outage flag is cleared", mappingKey, id,
					"side", string(o.side), "error", o.err)
				outs[i].err = nil
			}
		}
		n := &res.resumed
		if kind == noticeOutage {
			n = &res.notified
		}
		res.add(outs, n)
		if err := e.recordNotices(ctx, l, m.ID, kind, outs); err != nil {
			res.errs = append(res.errs, err)
		}
	}
	if v.heal {
		res.errs = append(res.errs, e.heal(ctx, id).errs...)
	}
	return res
}

// noticesOwed reports whether, as far as the run's query shows, a notice
// job has work on m judged v: a side of an out-of-sync mapping without the
// outage notice that can take one, or an outage notice sent or intended on
// a mapping back in step. A job judges again before it posts; a mapping
// whose notices are all in place costs no job.
func (m Mapping) noticesOwed(v verdict) bool {
	if !v.outOfSync {
		return m.outageNoticeState()
	}
	for _, side := range []Side{SideGoogle, SideCompany} {
		if !m.Side(side).OutageNoticeSent && m.canComment(side) {
			return true
		}
	}
	return false
}

// heal asks for a reconciliation of a mapping that is out of sync while
// the pollers are fine: an event was lost.
func (e *Engine) heal(ctx context.Context, id string) noticeResult {
	if e.Publisher == nil {
		return noticeResult{}
	}
	if err := withTimeout(ctx, func(ctx context.Context) error {
		return e.Publisher.PublishSyncRequested(ctx, CaseRef{MappingID: id})
	}); err != nil {
		return noticeResult{errs: []error{fmt.Errorf("mapping %s: ask for a reconciliation: %w", id, err)}}
	}
	return noticeResult{}
}

// noticeOutcome is what bringNotice did on one side.
type noticeOutcome struct {
	side   Side
	did    bool    // a notice was posted
	posted Comment // what the API answered for it
	err    error
}

// add counts the posts of outs into *n and gathers their errors.
func (r *noticeResult) add(outs []noticeOutcome, n *int) {
	for _, o := range outs {
		if o.did {
			*n++
		}
		if o.err != nil {
			r.errs = append(r.errs, o.err)
		}
	}
}

// onSides runs fn on each side at once.
func (e *Engine) onSides(ctx context.Context, sides []Side, fn func(context.Context, Side) noticeOutcome) []noticeOutcome {
	outs := make([]noticeOutcome, len(sides))
	var wg sync.WaitGroup
	for i, side := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = fn(ctx, side)
			outs[i].side = side
		}()
	}
	wg.Wait()
	return outs
}

// bringNotice brings one side's notices to kind: it lists the side's
// comments and posts the notice unless the side's last casebridge notice
// already says so (an earlier run's answer was lost, or it died before
// recording it). An outage notice is posted unless the last notice is one;
// "Syncing has resumed." only when the last notice is an outage notice, so
// that notices alternate. Each call has noticeCallTimeout. The post is made
// only while the lease l is still the job's.
func (e *Engine) bringNotice(ctx context.Context, l *lease, m Mapping, side Side, kind noticeKind, text string) noticeOutcome {
	var coms []Comment
	err := withTimeout(ctx, func(ctx context.Context) (err error) {
		coms, err = e.listComments(ctx, m, side)
		return err
	})
	if err != nil {
		return noticeOutcome{err: fmt.Errorf("mapping %s: list %s comments: %w", m.ID, side, err)}
	}
	last := noticeNone
	for _, c := range coms {
		if _, k := connectorText(c.Body); k != noticeNone && c.ByConnector {
			last = k
		}
	}
	post := last != noticeOutage
	if kind == noticeResumed {
		post = last == noticeOutage
	}
	if !post {
		return noticeOutcome{}
	}
	if err := l.keep(ctx); err != nil {
		return noticeOutcome{err: fmt.Errorf("mapping %s: post the %s notice: %w", m.ID, side, err)}
	}
	var posted Comment
	err = withTimeout(ctx, func(ctx context.Context) (err error) {
		// On a closed CRM case an internal note, which neither reopens it
		// nor writes to the customer.
		posted, err = e.addComment(ctx, m, side, text, !m.Company.Closed)
		return err
	})
	if err != nil {
		return noticeOutcome{err: fmt.Errorf("mapping %s: post the %s notice: %w", m.ID, side, err)}
	}
	return noticeOutcome{did: true, posted: posted}
}

// recordNotices records, in the write that lets the lease go, the sides of
// outs that succeeded: after an outage notice the side's flag is set, after
// a resumed one it is cleared; either way its intent is cleared, and a
// notice posted is settled in the side's item log. It writes even if the
// run's budget ran out meanwhile: what was posted should be known. A lease
// lost meanwhile records nothing; the next run lists the side again.
func (e *Engine) recordNotices(ctx context.Context, l *lease, id string, kind noticeKind, outs []noticeOutcome) error {
	l.stopRenewing()
	var done []noticeOutcome
	for _, o := range outs {
		if o.err == nil {
			done = append(done, o)
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeCallTimeout)
	defer cancel()
	_, err := e.Store.UpdateMapping(rctx, id, func(x *Mapping) error {
		if err := l.owns(x); err != nil {
			return err
		}
		for _, o := range done {
			if kind == noticeOutage {
				x.Side(o.side).recordOutageNotice()
			} else {
				x.Side(o.side).clearOutageNotice()
			}
			if o.posted.ID != "" {
				items := &x.Side(o.side).Items
				items.Comments, _ = items.Comments.settle(map[string]time.Time{o.posted.ID: o.posted.CreateTime}, nil)
			}
		}
		x.LeaseHolder, x.LeaseUntil = "", time.Time{}
		return nil
	})
	if err != nil {
		if rerr := l.release(ctx); rerr != nil {
			e.log().WarnContext(ctx, "release lease", mappingKey, id, "error", rerr)
		}
		return fmt.Errorf("mapping %s: record the notices: %w", id, err)
	}
	return nil
}

// withTimeout runs fn with at most noticeCallTimeout of ctx.
func withTimeout(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, noticeCallTimeout)
	defer cancel()
	return fn(ctx)
}

// outageNoticeState reports whether either side has an outage notice sent
// or intended, which recovery has to answer.
func (m Mapping) outageNoticeState() bool {
	return m.Google.outageNoticed() || m.Company.outageNoticed()
}

// outageNoticed reports whether the side has an outage notice sent or
// intended.
func (s MappingSide) outageNoticed() bool { return s.OutageNoticeSent || s.OutageNoticeIntent }

// recordOutageNotice records the outage notice as on the side.
func (s *MappingSide) recordOutageNotice() { s.OutageNoticeSent, s.OutageNoticeIntent = true, false }

// clearOutageNotice records that the side's outage notice was answered
// (or needs no answer).
func (s *MappingSide) clearOutageNotice() { s.OutageNoticeSent, s.OutageNoticeIntent = false, false }

// canComment reports whether a notice can be posted on the side: CSAPI
// takes no comment on a closed case; a CRM case takes one whatever its
// state.
func (m Mapping) canComment(side Side) bool {
	return side != SideGoogle || !m.Google.Closed
}

// stuckSince reports whether a change of the open mapping m is stuck at
// now, and since when: a side's pending mark is StuckAfter old or more and
// no reconciliation is working on the mapping (it holds no lease, or its
// lease ran out unreleased), the same rule as the operator's status
// command. The due time does not matter: the sweep moves it forward each
// time it asks again, so a mapping whose requests are never delivered
// would otherwise be seen only between two sweeps. A mapping the sweep
// gave up on is not stuck; its own alert covers it.
func (m Mapping) stuckSince(now time.Time) (time.Time, bool) {
	p := m.Google.PendingSince
	if p.IsZero() || (!m.Company.PendingSince.IsZero() && m.Company.PendingSince.Before(p)) {
		p = m.Company.PendingSince
	}
	if p.IsZero() || now.Sub(p) < StuckAfter || !m.GaveUpAt.IsZero() {
		return time.Time{}, false
	}
	if m.LeaseHolder != "" && m.LeaseUntil.After(now) {
		return time.Time{}, false
	}
	return p, true
}
