package casesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
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
	// The CRM's API usage is recorded only when an answer to this poll's
	// own calls reported it: the adapter stamps it with its wall clock.
	wallStart := time.Now()
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

	// A CRM whose search can be read in steps reads only what this run has
	// time for; a poll an earlier run left unfinished goes on from there.
	var step *pollStep
	if side == SideCompany {
		step = e.pollStepFor(ctx, st.CompanyResume, since, start)
	}
	var found []polled
	if step != nil {
		found, err = e.searchStep(ctx, step)
		since = step.since
	} else {
		found, err = e.search(ctx, side, since, start)
	}
	if err != nil {
		// Recorded so that the first poll to succeed again asks for every
		// mapping that waited meanwhile.
		if ferr := e.Store.RecordPollFailure(ctx, side, start); ferr != nil {
			e.log().WarnContext(ctx, "could not record the failed poll", "side", string(side), "error", ferr)
		}
		if side == SideCompany {
			// A CRM near or past its request limit is why a poll fails.
			e.saveCRMUsage(ctx, wallStart, e.now())
		}
		return PollResult{}, err
	}
	res := PollResult{Found: len(found)}
	// What the memo says of cases this poll did not find (a narrow poll
	// finds only the latest) stays true; a case found is decided again.
	next := PollMemo{Cases: maps.Clone(memo.Cases)}
	if step != nil && step.resumed {
		// The poll's first run decided how wide it is; what its runs ask
		// of the next poll is kept until the poll completes.
		next.Recheck = memo.Recheck
	}
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
	// A poll that stopped before the end of its search saves where it
	// stopped, only now that what it read is handed on: a run that dies
	// before this line leaves the previous position, and the next run reads
	// (and hands on) the same cases again rather than skip them.
	unfinished := step != nil && step.next != ""
	if unfinished {
		r := PollResume{Cursor: step.next, Since: step.since, StartedAt: step.startedAt}
		if err := step.store.SaveCompanyPollResume(ctx, r); err != nil {
			return res, fmt.Errorf("save where the CRM poll stopped: %w", err)
		}
		e.saveCRMUsage(ctx, wallStart, e.now())
	}
	// Kept for the next polls only when every change found is handed on,
	// as far back as the next wide poll reaches.
	horizon := start.Truncate(cfg.WidePollEvery).Add(-window)
	if err := e.savePollMemo(ctx, side, memo, next, horizon); err != nil {
		e.log().WarnContext(ctx, "could not save the poll memo", "side", string(side), "error", err)
	}
	if unfinished {
		// Mappings overdue are still asked for; the watermark and the
		// heartbeat wait for the poll to reach the end of its search.
		res.Swept, err = e.sweep(ctx, start, time.Time{}, start)
		if err != nil {
			return res, err
		}
		e.log().InfoContext(ctx, "the CRM poll read part of its search; the next run goes on from where it stopped",
			"found", res.Found, "published", res.Published, "since", since, "pollStartedAt", step.startedAt)
		return res, nil
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
	// Only now, with every change handed on, does the watermark move. A
	// poll read over several runs covered every change up to the start of
	// its first run.
	watermark := start
	if step != nil {
		watermark = step.startedAt
	}
	if err := e.recordPoll(ctx, side, watermark, wallStart); err != nil {
		return res, fmt.Errorf("record poll: %w", err)
	}
	if step != nil && step.saved {
		// Cleared after the watermark moved: a run that dies between the
		// two reads the end of the search again, never all of it.
		if err := step.store.SaveCompanyPollResume(ctx, PollResume{}); err != nil {
			return res, fmt.Errorf("clear where the CRM poll stopped: %w", err)
		}
	}
	// The function logs the poll's summary at INFO.
	e.log().DebugContext(ctx, "poll finished", "side", string(side), "found", res.Found,
		"published", res.Published, "unchanged", res.Skipped, "waiting", res.Waiting, "swept", res.Swept, "since", since)
	return res, nil
}

// recordPoll records a completed poll's watermark and heartbeat and, for
// the CRM, in the same write, the API usage its calls reported
// (APIUsageReporter), so that an idle poll still writes one document.
func (e *Engine) recordPoll(ctx context.Context, side Side, watermark, wallStart time.Time) error {
	if side == SideCompany {
		if u, store, ok := e.crmUsage(ctx, wallStart, e.now()); ok {
			return store.RecordCompanyPollWithAPIUsage(ctx, watermark, watermark, u)
		}
	}
	return e.Store.RecordPoll(ctx, side, watermark, watermark)
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
		found = e.crmPolled(cases)
	}
	return e.wellFormed(ctx, side, found), nil
}

// crmPolled turns CRM search results into poll results.
func (e *Engine) crmPolled(cases []CompanyCase) []polled {
	cfg := e.cfg()
	found := make([]polled, 0, len(cases))
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
	return found
}

// wellFormed leaves out the search results whose key is malformed: they
// cannot be looked up, keyed or published. Each is logged, its id cut.
func (e *Engine) wellFormed(ctx context.Context, side Side, found []polled) []polled {
	return slices.DeleteFunc(found, func(f polled) bool {
		ok := CaseRef{Side: side, ID: f.key}.Validate() == nil
		if !ok {
			e.log().WarnContext(ctx, "search returned a case with a malformed id; skipped", "side", string(side), "id", Quote(f.key))
		}
		return !ok
	})
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

// ResumableSearchCRM is implemented by a CRM whose search for changed
// cases can be read in steps. A poll with more changes than one run can read
// (the first poll of a busy helpdesk reaches back MaxCaseAge) then hands on
// what each run read and saves where it stopped (PollState.CompanyResume),
// and the next run goes on from there instead of starting again; the poll
// completes, and the watermark moves, when a run reaches the end of the
// search. The engine uses it only with a store that implements
// PollResumeStore; otherwise it calls SearchUpdated.
type ResumableSearchCRM interface {
	// SearchUpdatedStep returns the cases updated strictly after since, as
	// SearchUpdated does, reading the search from cursor ("" for its
	// beginning) until it ends, the adapter's page bound is reached, or
	// stopAt (on the wall clock, time.Now) has passed, whichever comes
	// first; it reads at least one page. next is "" when the search reached
	// its end; otherwise it is where to go on from (with the same since),
	// printable ASCII of at most MaxPollCursor bytes. An error that wraps
	// ErrPollCursorRefused says the CRM does not take cursor (any more).
	SearchUpdatedStep(ctx context.Context, since time.Time, cursor string, stopAt time.Time) (cases []CompanyCase, next string, err error)
}

// ErrPollCursorRefused is wrapped by SearchUpdatedStep's error when the CRM
// refuses the cursor it was given: the poll starts its search again from
// its beginning.
var ErrPollCursorRefused = errors.New("the CRM does not accept the saved poll cursor")

// MaxPollCursor bounds a saved poll cursor, in bytes.
const MaxPollCursor = 1024

// PollReadBudget is how long one run of a CRM poll reads a resumable search
// before it hands on what it read and saves where it stopped. It keeps a run
// well inside the function's timeout and short of the next scheduler tick,
// so that runs rarely overlap and each one goes on from where the last one
// stopped.
const PollReadBudget = 45 * time.Second

// pollDeadlineReserve is kept free before the run's deadline, when its
// context has one, for handing on what was read and saving the position.
const pollDeadlineReserve = 60 * time.Second

// PollResume is where a CRM poll that did not reach the end of its search
// stopped: the zero value when none did.
type PollResume struct {
	// Cursor is the CRM's position in the search (ResumableSearchCRM).
	Cursor string
	// Since is the poll's since: the search reads changes after it.
	Since time.Time
	// StartedAt is when the poll's first run started. The poll covers every
	// change up to it, so it is the watermark recorded when the poll
	// completes.
	StartedAt time.Time
}

// IsZero reports whether r says no poll is unfinished.
func (r PollResume) IsZero() bool {
	return r.Cursor == "" && r.Since.IsZero() && r.StartedAt.IsZero()
}

// Check reports why r cannot be resumed at now, or nil. A store holds it,
// but the cursor came from the CRM: it is checked before it is used.
func (r PollResume) Check(now time.Time) error {
	if err := CheckPollCursor(r.Cursor); err != nil {
		return err
	}
	switch {
	case r.Since.IsZero() || r.StartedAt.IsZero():
		return errors.New("no since or start time")
	case r.StartedAt.Before(r.Since):
		return errors.New("a start time before its since")
	case r.StartedAt.After(now):
		return errors.New("a start time after now")
	}
	return nil
}

// CheckPollCursor reports why cursor cannot be a saved poll position: it
// must be printable ASCII of 1 to MaxPollCursor bytes.
func CheckPollCursor(cursor string) error {
	switch {
	case cursor == "":
		return errors.New("no cursor")
	case len(cursor) > MaxPollCursor:
		return fmt.Errorf("a cursor of %d bytes, over %d", len(cursor), MaxPollCursor)
	case strings.ContainsFunc(cursor, func(c rune) bool { return c <= ' ' || c > '~' }):
		return errors.New("a cursor that is not printable ASCII")
	}
	return nil
}

// PollResumeStore is implemented by a store that keeps
// PollState.CompanyResume.
type PollResumeStore interface {
	// SaveCompanyPollResume replaces PollState.CompanyResume (the zero
	// value clears it) with one write, leaving the rest of the poll state
	// alone. It refuses a non-zero r that Check(r.StartedAt) refuses.
	SaveCompanyPollResume(ctx context.Context, r PollResume) error
}

// pollStep is one run's part of a CRM poll read in steps.
type pollStep struct {
	crm   ResumableSearchCRM
	store PollResumeStore
	// since and startedAt are the poll's (see PollResume); cursor is where
	// this run reads from ("" from the beginning).
	since, startedAt time.Time
	cursor           string
	// resumed: this run goes on from where an earlier run stopped. saved: a
	// position is stored, to be cleared when the poll completes.
	resumed, saved bool
	// next is where the next run goes on from, "" once the search ended.
	next string
}

// pollStepFor returns how this run reads the CRM's search in steps, or nil
// when the CRM or the store cannot: the poll then reads it whole. A saved
// position that cannot be used is logged (never the cursor itself) and the
// poll starts again from its watermark.
func (e *Engine) pollStepFor(ctx context.Context, saved PollResume, since, start time.Time) *pollStep {
	crm, ok := e.CRM.(ResumableSearchCRM)
	if !ok {
		return nil
	}
	store, ok := e.Store.(PollResumeStore)
	if !ok {
		return nil
	}
	p := &pollStep{crm: crm, store: store, since: since, startedAt: start, saved: !saved.IsZero()}
	if !p.saved {
		return p
	}
	if err := saved.Check(start); err != nil {
		e.log().WarnContext(ctx, "the saved position of the unfinished CRM poll cannot be used; the poll starts again from its watermark",
			"reason", err.Error(), "cursorBytes", len(saved.Cursor))
		return p
	}
	p.since, p.startedAt, p.cursor, p.resumed = saved.Since, saved.StartedAt, saved.Cursor, true
	return p
}

// searchStep reads this run's part of the CRM's search. A cursor the CRM
// refuses (expired, or never valid) starts the search again from the
// poll's since, which is safe: the watermark has not moved past it.
func (e *Engine) searchStep(ctx context.Context, p *pollStep) ([]polled, error) {
	stopAt := time.Now().Add(PollReadBudget)
	if d, ok := ctx.Deadline(); ok && d.Add(-pollDeadlineReserve).Before(stopAt) {
		stopAt = d.Add(-pollDeadlineReserve)
	}
	cases, next, err := p.crm.SearchUpdatedStep(ctx, p.since, p.cursor, stopAt)
	if err != nil && p.cursor != "" && errors.Is(err, ErrPollCursorRefused) {
		e.log().WarnContext(ctx, "the CRM refused the saved position of the unfinished CRM poll; the poll starts its search again from the beginning",
			"since", p.since, "pollStartedAt", p.startedAt, "cursorBytes", len(p.cursor), "error", err)
		p.cursor = ""
		cases, next, err = p.crm.SearchUpdatedStep(ctx, p.since, "", stopAt)
	}
	if err != nil {
		return nil, err
	}
	if next != "" {
		if cerr := (PollResume{Cursor: next, Since: p.since, StartedAt: p.startedAt}).Check(p.startedAt); cerr != nil {
			return nil, &APIError{Side: SideCompany, Op: "poll", Err: fmt.Errorf("the CRM's search gave a position that cannot be saved: %w", cerr)}
		}
	}
	p.next = next
	return e.wellFormed(ctx, SideCompany, e.crmPolled(cases)), nil
}
