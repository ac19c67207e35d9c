package casesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// WithDefaults returns c with every zero field set to its documented default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.GooglePollingWindow, 30*time.Minute)
	def(&c.CompanyPollingWindow, 5*time.Minute)
	def(&c.WidePollEvery, 10*time.Minute)
	def(&c.NarrowPollingWindow, 2*time.Minute)
	def(&c.MaxCaseAge, 30*24*time.Hour)
	def(&c.CleanupAfter, 30*24*time.Hour)
	def(&c.LeaseDuration, 30*time.Second)
	def(&c.RepublishAfter, 5*time.Minute)
	def(&c.RetryBackoff, time.Minute)
	def(&c.RetryMaxBackoff, time.Hour)
	def(&c.GiveUpAfter, 24*time.Hour)
	def(&c.CompanyTimeGranularity, time.Second)
	if c.MaxSplitParts <= 0 {
		c.MaxSplitParts = 10
	}
	c.MaxSplitParts = min(max(c.MaxSplitParts, 2), MaxSplitPartsLimit)
	if c.MaxAttachmentBytes <= 0 {
		c.MaxAttachmentBytes = 25 << 20
	}
	if c.Priorities.ToGoogle == nil {
		c.Priorities = DefaultPriorityTable()
	}
	if c.GoogleCommentsPublic == nil {
		t := true
		c.GoogleCommentsPublic = &t
	}
	if c.ReopenPolicy == "" {
		c.ReopenPolicy = ReopenComment
	}
	return c
}

func (e *Engine) cfg() Config { return e.Config.WithDefaults() }

func (e *Engine) now() time.Time {
	if e.Clock == nil {
		return time.Now().UTC()
	}
	return e.Clock.Now().UTC()
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// polled is one search result, whichever side it came from.
type polled struct {
	key        string // Google case name or CRM case id
	updateTime time.Time
	eligible   bool // may get a mapping if it has none
	googleCase string
	priority   Priority
}

func (e *Engine) poll(ctx context.Context, side Side) (PollResult, error) {
	cfg := e.cfg()
	start := e.now()
	st, err := e.Store.GetPollState(ctx)
	if err != nil {
		return PollResult{}, fmt.Errorf("read poll state: %w", err)
	}
	last, window, failingSince := st.GoogleLastPolledAt, cfg.GooglePollingWindow, st.GoogleFailingSince
	if side == SideCompany {
		last, window, failingSince = st.CompanyLastPolledAt, cfg.CompanyPollingWindow, st.CompanyFailingSince
	}
	// A case found at the update time a recent poll handed on costs no
	// read: only the others' mappings are looked up.
	memo, err := e.Store.GetPollMemo(ctx, side)
	if err != nil {
		// Only a cost: every case is looked up, and the poll is wide.
		e.log().WarnContext(ctx, "could not read the poll memo; looking every case up", "side", string(side), "error", err)
		memo = PollMemo{}
	}
	// The first poll reaches back as far as a case may be and still sync.
	// The first poll of each WidePollEvery slot of the clock (and the first
	// after failures) is wide: it reaches back the side's polling window
	// before the start of the previous poll's slot, where the previous
	// wide poll ran or later, so a change the index showed late, after the
	// narrow polls had passed it, is found as long as its lag stays within
	// the window. The others reach back only the narrow window.
	since := start.Add(-cfg.MaxCaseAge)
	slot := func(t time.Time) time.Time { return t.Truncate(cfg.WidePollEvery) }
	wide := last.IsZero() || !failingSince.IsZero() || window <= cfg.NarrowPollingWindow || !slot(start).Equal(slot(last)) || memo.Recheck
	switch {
	case last.IsZero():
	case wide:
		since = slot(last).Add(-window)
	default:
		since = last.Add(-cfg.NarrowPollingWindow)
	}

	found, err := e.search(ctx, side, since, start)
	if err != nil {
		// Recorded so that the first poll to succeed again asks for every
		// mapping that waited meanwhile.
		if ferr := e.Store.RecordPollFailure(ctx, side, start); ferr != nil {
			e.log().WarnContext(ctx, "could not record the failed poll", "side", string(side), "error", ferr)
		}
		return PollResult{}, err
	}
	res := PollResult{Found: len(found)}
	// What the memo says of cases this poll did not find (a narrow poll
	// finds only the latest) stays true; a case found is decided again.
	next := PollMemo{Cases: maps.Clone(memo.Cases)}
	if next.Cases == nil {
		next.Cases = map[string]time.Time{}
	}
	for _, f := range found {
		delete(next.Cases, f.key)
	}
	var fresh []polled
	keys := make([]string, 0, len(found))
	for _, f := range found {
		if at, ok := memo.Cases[f.key]; ok && at.Equal(f.updateTime.Truncate(time.Microsecond)) {
			next.Cases[f.key] = at
			res.Skipped++
			continue
		}
		fresh = append(fresh, f)
		keys = append(keys, f.key)
	}
	mappings, err := e.Store.LookupMappings(ctx, side, keys)
	if err != nil {
		return PollResult{}, fmt.Errorf("look up mappings: %w", err)
	}
	refused := e.refusedUnmapped(ctx, side, fresh, mappings)

	due := start.Add(cfg.RepublishAfter)
	var refs []CaseRef
	var pending, created []string
	for _, f := range fresh {
		m, ok := mappings[f.key]
		if !ok && f.eligible && (side == SideGoogle || f.googleCase == "") {
			// A new case: its mapping is made now, marked pending, so that
			// later polls see it asked for. A CRM case naming a Google case
			// gets its mapping from sync-case, which checks the name first.
			nm, isNew, err := e.newMapping(ctx, side, f, start, due)
			if err != nil {
				return res, err
			}
			if isNew {
				refs = append(refs, CaseRef{Side: side, ID: f.key, UpdateTime: f.updateTime, MappingID: nm.ID})
				created = append(created, nm.ID)
				next.Cases[f.key] = f.updateTime.Truncate(time.Microsecond)
				continue
			}
			m, ok = nm, nm.ID != ""
		}
		// settled: what is decided below holds for this update time, so a
		// later poll finding it again has nothing to add. Not so for a case
		// whose reconciliation is running, or one published without a
		// mapping (no pending mark makes the sweep ask again).
		settled := true
		switch {
		case ok && !changedSince(f.updateTime, m.Side(side).SeenUpdateTime):
			res.Skipped++
		case ok && m.LeaseHolder != "" && m.LeaseUntil.After(start):
			// A reconciliation is running: what changed may be its own
			// writes, which it looks at again before it lets go. A person's
			// change it missed is seen by the next poll, which is wide.
			res.Waiting++
			settled = false
			next.Recheck = true
		case ok && !m.GaveUpAt.IsZero():
			// Its counterpart could not be created; only an operator's
			// resync starts it again (the alert said so once).
			res.Skipped++
		case ok && !m.Side(side).PendingSince.IsZero() && start.Before(m.DueAt):
			// Already asked for and not yet late: publishing it again
			// would only queue a second run of the same work; the sweep
			// asks again when it is late. Not remembered as handed on: a
			// run that read the case before this change (and took its lease
			// after this poll) could end without seeing it.
			res.Waiting++
			settled = false
		case ok:
			pending = append(pending, m.ID)
			// Naming the mapping saves sync-case the case key's read.
			refs = append(refs, CaseRef{Side: side, ID: f.key, UpdateTime: f.updateTime, MappingID: m.ID})
		case refusedStill(refused, f):
			// Refused at this very update time: it would be refused again.
			res.Skipped++
		case !f.eligible:
			res.Skipped++
		default:
			refs = append(refs, CaseRef{Side: side, ID: f.key, UpdateTime: f.updateTime})
			settled = false
		}
		if settled {
			next.Cases[f.key] = f.updateTime.Truncate(time.Microsecond)
		}
	}
	// Marked before publishing: marked after, the mark could land once the
	// reconciliation it asks for has already finished, and hold the next
	// change back as if it were still asked for.
	if len(pending) > 0 {
		if err := e.Store.MarkPending(ctx, side, pending, start, due); err != nil {
			return res, fmt.Errorf("mark pending: %w", err)
		}
	}
	if len(refs) > 0 {
		if err := e.Publisher.PublishCaseUpdated(ctx, refs); err != nil {
			// Nothing was handed on: what was marked is due at once, so the
			// next poll's sweep asks for it.
			if ids := append(pending, created...); len(ids) > 0 {
				if merr := e.Store.MarkPending(ctx, side, ids, start, start); merr != nil {
					e.log().WarnContext(ctx, "could not mark mappings due after a failed publish", "error", merr)
				}
			}
			return res, fmt.Errorf("publish case-updated: %w", err)
		}
	}
	res.Published = len(refs)
	// Kept for the next polls only when every change found is handed on,
	// as far back as the next wide poll reaches.
	horizon := start.Truncate(cfg.WidePollEvery).Add(-window)
	if err := e.savePollMemo(ctx, side, memo, next, horizon); err != nil {
		e.log().WarnContext(ctx, "could not save the poll memo", "side", string(side), "error", err)
	}

	// The sweep: mappings whose work is overdue are asked for again. The
	// first poll that succeeds after this side's polls failed asks for every
	// mapping with work outstanding, whenever it was due.
	if !failingSince.IsZero() {
		e.log().InfoContext(ctx, "the side answers again; asking again for every mapping with work outstanding",
			"side", string(side), "failingSince", failingSince)
		res.Swept, err = e.sweepAll(ctx, start)
	} else {
		res.Swept, err = e.sweep(ctx, start, time.Time{}, start)
	}
	if err != nil {
		return res, err
	}
	// Only now, with every change handed on, does the watermark move.
	if err := e.Store.RecordPoll(ctx, side, start, start); err != nil {
		return res, fmt.Errorf("record poll: %w", err)
	}
	// The function logs the poll's summary at INFO.
	e.log().DebugContext(ctx, "poll finished", "side", string(side), "found", res.Found,
		"published", res.Published, "unchanged", res.Skipped, "waiting", res.Waiting, "swept", res.Swept, "since", since)
	return res, nil
}

// MaxPollMemo bounds the cases one side's poll memo keeps: the newest
// update times are kept, and a case left out only costs its mapping's read.
const MaxPollMemo = 2000

// savePollMemo keeps next as the side's memo, without the cases the next
// wide poll's search no longer returns (updated at or before horizon), at
// most MaxPollMemo of them. It writes only when a case was added or its
// update time changed: cases merely dropped (a wrong entry is never
// harmful, only kept to a bound) wait for the next write, so an idle poll
// writes no memo.
func (e *Engine) savePollMemo(ctx context.Context, side Side, old, next PollMemo, horizon time.Time) error {
	for k, at := range next.Cases {
		if !at.After(horizon) {
			delete(next.Cases, k)
		}
	}
	if len(next.Cases) > MaxPollMemo {
		keys := slices.Collect(maps.Keys(next.Cases))
		slices.SortFunc(keys, func(a, b string) int { return next.Cases[b].Compare(next.Cases[a]) })
		for _, k := range keys[MaxPollMemo:] {
			delete(next.Cases, k)
		}
	}
	added := old.Recheck != next.Recheck
	for k, at := range next.Cases {
		if was, ok := old.Cases[k]; !ok || !was.Equal(at) {
			added = true
			break
		}
	}
	if !added {
		return nil
	}
	return e.Store.SavePollMemo(ctx, side, next)
}

// farFuture is a sweep horizon past every due time.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maxRecoveryBatches bounds the sweeps one poll makes after a side's
// outage (sweepLimit mappings each); what is left is asked for by the next
// polls as it falls due.
const maxRecoveryBatches = 40

// sweepAll asks for every mapping with work outstanding, whenever it is
// due, in batches. A claimed mapping's due time becomes exactly
// now+RepublishAfter, so the batches read the due times before it and then
// those after it, and never claim one twice.
func (e *Engine) sweepAll(ctx context.Context, now time.Time) (int, error) {
	next := now.Add(e.cfg().RepublishAfter)
	ranges := [][2]time.Time{{{}, next.Add(-time.Microsecond)}, {next, farFuture}}
	total := 0
	for _, r := range ranges {
		for range maxRecoveryBatches {
			n, err := e.sweep(ctx, now, r[0], r[1])
			total += n
			if err != nil {
				return total, err
			}
			if n == 0 {
				break
			}
		}
	}
	return total, nil
}

// search returns one side's cases updated after since, well-formed ones
// only.
func (e *Engine) search(ctx context.Context, side Side, since, start time.Time) ([]polled, error) {
	cfg := e.cfg()
	var found []polled
	if side == SideGoogle {
		cases, err := e.Google.SearchUpdated(ctx, since)
		if err != nil {
			return nil, err
		}
		for _, c := range cases {
			found = append(found, polled{
				key:        c.Name,
				updateTime: c.UpdateTime,
				eligible:   !c.Closed() && start.Sub(c.CreateTime) < cfg.MaxCaseAge,
				priority:   c.Priority,
			})
		}
	} else {
		cases, err := e.CRM.SearchUpdated(ctx, since)
		if err != nil {
			return nil, err
		}
		for _, c := range cases {
			p, ok := cfg.Priorities.Google(c.Priority)
			if !ok {
				p = P3
			}
			found = append(found, polled{
				key:        c.ID,
				updateTime: c.UpdateTime,
				eligible:   !c.Closed && (c.SyncFlag || c.GoogleCase != ""),
				googleCase: c.GoogleCase,
				priority:   p,
			})
		}
	}
	// A search result whose key is malformed cannot be looked up, keyed or
	// published: it is left out, with a log line naming it (cut).
	return slices.DeleteFunc(found, func(f polled) bool {
		ok := CaseRef{Side: side, ID: f.key}.Validate() == nil
		if !ok {
			e.log().WarnContext(ctx, "search returned a case with a malformed id; skipped", "side", string(side), "id", Quote(f.key))
		}
		return !ok
	}), nil
}

// newMapping makes the mapping of a new case found by a poll, pending on
// its side and due for a reconciliation by due. If sync-case made it first,
// that one is returned.
func (e *Engine) newMapping(ctx context.Context, side Side, f polled, start, due time.Time) (Mapping, bool, error) {
	google, company := f.key, ""
	if side == SideCompany {
		google, company = "", f.key
	}
	m, created, err := e.Store.ResolveMapping(ctx, google, company, true, func(m *Mapping) {
		initMapping(m, side, f.priority, start)
		m.Side(side).PendingSince = start
		m.DueAt = due
	})
	if errors.Is(err, ErrConflict) {
		// Left to sync-case, which reports it.
		return Mapping{}, false, nil
	}
	if err != nil {
		return Mapping{}, false, fmt.Errorf("create mapping: %w", err)
	}
	if created {
		e.log().InfoContext(ctx, "mapping created", mappingKey, m.ID, "origin", string(side))
	}
	return m, created, nil
}

// initMapping sets up a new mapping whose first case is on side origin.
func initMapping(m *Mapping, origin Side, p Priority, at time.Time) {
	m.Origin = origin
	m.CreatedAt = at
	m.NewContentAt = at
	m.Priority = p
	// The origin side is fully read by the first reconciliation; the
	// other side has nothing yet.
	m.Google.UpdatesSyncedAt = at
	m.Company.UpdatesSyncedAt = at
}

// sweepLimit bounds the mappings one sweep asks for.
const sweepLimit = 500

// sweepParallel bounds the publishes one sweep has in flight.
const sweepParallel = 8

// sweep asks again, with sync-requested, for up to sweepLimit mappings due
// after after and at or before before, after claiming them so two sweeps
// never ask for one twice; a claimed mapping is due again RepublishAfter
// from now. It returns how many it asked for.
func (e *Engine) sweep(ctx context.Context, now, after, before time.Time) (int, error) {
	due, err := e.Store.ListDue(ctx, after, before, sweepLimit)
	if err != nil {
		return 0, fmt.Errorf("list due mappings: %w", err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	ids := make([]string, len(due))
	for i, m := range due {
		ids[i] = m.ID
	}
	claimed, err := e.Store.ClaimDue(ctx, ids, now, before, now.Add(e.cfg().RepublishAfter))
	if err != nil {
		return 0, fmt.Errorf("claim due mappings: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, sweepParallel)
	)
	for _, id := range claimed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := e.Publisher.PublishSyncRequested(ctx, CaseRef{MappingID: id}); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		// The claimed mappings fall due again after RepublishAfter.
		return len(claimed) - len(errs), fmt.Errorf("publish sync-requested for %d of %d due mappings: %w", len(errs), len(claimed), errors.Join(errs...))
	}
	return len(claimed), nil
}

// changedSince reports whether a case's update time is after the one a
// reconciliation was based on. Stores keep times to the microsecond (as
// Firestore does) while CSAPI reports nanoseconds, so both are compared at
// microsecond precision; otherwise every case would look changed forever.
func changedSince(updateTime, seen time.Time) bool {
	return updateTime.Truncate(time.Microsecond).After(seen.Truncate(time.Microsecond))
}

// Cleanup deletes mappings resolved longer ago than CleanupAfter. Each is
// checked again as it is deleted (ReadyForCleanup): one reopened, being
// reconciled or with a change pending since it was listed is kept. Running it
// twice deletes nothing more. It returns how many it deleted.
func (e *Engine) Cleanup(ctx context.Context) (int, error) {
	now := e.now()
	cutoff := now.Add(-e.cfg().CleanupAfter)
	ids, err := e.Store.ListResolvedBefore(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("list resolved mappings: %w", err)
	}
	n, kept := 0, 0
	for _, id := range ids {
		deleted, err := e.Store.DeleteResolvedBefore(ctx, id, cutoff, now)
		if err != nil {
			return n, fmt.Errorf("delete mapping %s: %w", id, err)
		}
		if deleted {
			n++
		} else {
			kept++
		}
	}
	e.log().DebugContext(ctx, "cleanup finished", "deleted", n, "kept", kept, "resolvedBefore", cutoff)
	return n, nil
}

// ReadyForCleanup reports whether cleanup may delete m: it is resolved
// before before, no lease on it runs at now, and no change is pending on
// either side (a poll found one and its reconciliation has not finished).
// Stores check it in the transaction that deletes.
func ReadyForCleanup(m Mapping, before, now time.Time) bool {
	leased := m.LeaseHolder != "" && m.LeaseUntil.After(now)
	return !m.ResolvedAt.IsZero() && m.ResolvedAt.Before(before) && !leased &&
		m.Google.PendingSince.IsZero() && m.Company.PendingSince.IsZero()
}
