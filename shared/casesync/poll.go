package casesync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	def(&c.MaxCaseAge, 30*24*time.Hour)
	def(&c.CleanupAfter, 30*24*time.Hour)
	def(&c.LeaseDuration, 2*time.Minute)
	def(&c.CreateRecheckDelay, 5*time.Minute)
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
}

func (e *Engine) poll(ctx context.Context, side Side) (PollResult, error) {
	cfg := e.cfg()
	start := e.now()
	st, err := e.Store.GetPollState(ctx)
	if err != nil {
		return PollResult{}, fmt.Errorf("read poll state: %w", err)
	}
	last, window := st.GoogleLastPolledAt, cfg.GooglePollingWindow
	if side == SideCompany {
		last, window = st.CompanyLastPolledAt, cfg.CompanyPollingWindow
	}
	// The first poll reaches back as far as a case may be and still sync.
	since := start.Add(-cfg.MaxCaseAge)
	if !last.IsZero() {
		since = last.Add(-window)
	}

	var found []polled
	if side == SideGoogle {
		cases, err := e.Google.SearchUpdated(ctx, since)
		if err != nil {
			return PollResult{}, err
		}
		for _, c := range cases {
			found = append(found, polled{
				key:        c.Name,
				updateTime: c.UpdateTime,
				eligible:   !c.Closed() && start.Sub(c.CreateTime) < cfg.MaxCaseAge,
			})
		}
	} else {
		cases, err := e.CRM.SearchUpdated(ctx, since)
		if err != nil {
			return PollResult{}, err
		}
		for _, c := range cases {
			found = append(found, polled{
				key:        c.ID,
				updateTime: c.UpdateTime,
				eligible:   !c.Closed && (c.SyncFlag || c.GoogleCase != ""),
				googleCase: c.GoogleCase,
			})
		}
	}

	// A search result whose key is malformed cannot be looked up, keyed or
	// published: it is left out, with a log line naming it (cut).
	found = slices.DeleteFunc(found, func(f polled) bool {
		ok := CaseRef{Side: side, ID: f.key}.Validate() == nil
		if !ok {
			e.log().WarnContext(ctx, "search returned a case with a malformed id; skipped", "side", string(side), "id", Quote(f.key))
		}
		return !ok
	})
	keys := make([]string, 0, len(found))
	for _, f := range found {
		keys = append(keys, f.key)
	}
	mappings, err := e.Store.LookupMappings(ctx, side, keys)
	if err != nil {
		return PollResult{}, fmt.Errorf("look up mappings: %w", err)
	}

	res := PollResult{Found: len(found)}
	var refs []CaseRef
	var pending []string
	for _, f := range found {
		m, ok := mappings[f.key]
		if ok {
			if !changedSince(f.updateTime, m.seenUpdateTime(side)) {
				res.Skipped++
				continue
			}
			pending = append(pending, m.ID)
		} else if !f.eligible {
			res.Skipped++
			continue
		}
		refs = append(refs, CaseRef{Side: side, ID: f.key, UpdateTime: f.updateTime})
	}
	if len(pending) > 0 {
		if err := e.Store.MarkPending(ctx, side, pending, start); err != nil {
			return res, fmt.Errorf("mark pending: %w", err)
		}
	}
	if len(refs) > 0 {
		if err := e.Publisher.PublishCaseUpdated(ctx, refs); err != nil {
			return res, fmt.Errorf("publish case-updated: %w", err)
		}
	}
	res.Published = len(refs)
	// Only now, with every change handed on, does the watermark move.
	if err := e.Store.RecordPoll(ctx, side, start, start); err != nil {
		return res, fmt.Errorf("record poll: %w", err)
	}
	// The function logs the poll's summary at INFO.
	e.log().DebugContext(ctx, "poll finished", "side", string(side), "found", res.Found,
		"published", res.Published, "unchanged", res.Skipped, "since", since)
	return res, nil
}

// changedSince reports whether a case's update time is after the one a
// reconciliation was based on. Stores keep times to the microsecond (as
// Firestore does) while CSAPI reports nanoseconds, so both are compared at
// microsecond precision; otherwise every case would look changed forever.
func changedSince(updateTime, seen time.Time) bool {
	return updateTime.Truncate(time.Microsecond).After(seen.Truncate(time.Microsecond))
}

func (m Mapping) seenUpdateTime(side Side) time.Time {
	if side == SideGoogle {
		return m.GoogleSeenUpdateTime
	}
	return m.CompanySeenUpdateTime
}

// Cleanup deletes mappings resolved longer ago than CleanupAfter. Running it
// twice deletes nothing more.
func (e *Engine) Cleanup(ctx context.Context) (int, error) {
	cutoff := e.now().Add(-e.cfg().CleanupAfter)
	ids, err := e.Store.ListResolvedBefore(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("list resolved mappings: %w", err)
	}
	n := 0
	for _, id := range ids {
		if err := e.Store.DeleteMapping(ctx, id); err != nil && !IsNotFound(err) {
			return n, fmt.Errorf("delete mapping %s: %w", id, err)
		}
		n++
	}
	e.log().DebugContext(ctx, "cleanup finished", "deleted", n, "resolvedBefore", cutoff)
	return n, nil
}
