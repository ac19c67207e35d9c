package main

import (
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// This file models the connector of the design casebridge is based on
// (Google's guide to building a Customer Care connector: the tasks
// PollGoogleForUpdates, PollCompanyForUpdates, SyncGoogleUpdatesToCompany
// and SyncCompanyUpdatesToGoogle), run on the same trace, to count the API
// calls, Datastore reads and writes and sync tasks it would make. It makes
// no HTTP calls: it keeps what each side holds and counts what each step of
// the guide asks for. Step numbers below are the guide's.
//
// Where the guide leaves a choice open the model takes the cheaper one:
//   - comparing the two sides' comment (and attachment) lists finds exactly
//     the items not copied yet, never a duplicate;
//   - a query reads one document per entity returned (at least one per
//     query), a lookup by key reads one, each entity written is one write;
//   - the guide keeps CaseMapping.priority but does not say when a sync task
//     compares it: the model compares it with the case it got in step 1 and
//     patches the other side when they differ, written with step 6's update.

// The guide's polling windows and page sizes.
const (
	seedGoogleWindow   = 30 * time.Minute // GOOGLE_POLLING_WINDOW, "we recommend 30 minutes"
	seedCompanyWindow  = 5 * time.Minute  // COMPANY_POLLING_WINDOW, "for example, 5 minutes"
	seedGoogleSearch   = 100              // CSAPI.SearchCases(page_size=100)
	seedCompanySearch  = 100              // YOUR_CRM.SearchCases(page_size=100)
	seedGoogleComments = 100              // CSAPI.ListComments(page_size=100)
	seedCompanyComment = 50               // YOUR_CRM.GetComments(page_size=50)
)

// seedItem is one comment or attachment on one side.
type seedItem struct {
	at          time.Time
	byConnector bool
	copied      bool // a person's item the connector has copied to the other side
}

type seedSide struct {
	update      time.Time
	comments    []seedItem // oldest first
	attachments []seedItem
	priority    casesync.Priority
}

// seedMapping is the guide's CaseMapping, the fields the model needs.
type seedMapping struct {
	googleUpdatesSyncedAt  time.Time
	companyUpdatesSyncedAt time.Time
	priority               casesync.Priority
}

type seedCase struct {
	google, company seedSide
	mapping         seedMapping
}

// SeedCost is what the modelled connector did in the measured minutes.
type SeedCost struct {
	Calls    map[string]int64
	Reads    int64
	Writes   int64
	SyncRuns int64
}

type seedModel struct {
	cases []*seedCase
	// Global: google_last_polled_at and company_last_polled_at.
	googleLastPolledAt, companyLastPolledAt time.Time
	counting                                bool
	cost                                    SeedCost
}

type seedTask struct {
	side casesync.Side // the side whose case the task syncs from
	i    int
}

// SeedDesign runs the guide's connector on tr: each minute people make the
// minute's changes, both poll tasks run once, 30 s into the minute, and
// then every sync task they queued. It counts the measured minutes only.
func SeedDesign(tr Trace) SeedCost {
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	setUp := base.Add(-time.Hour)
	s := &seedModel{cost: SeedCost{Calls: map[string]int64{}}}
	// The same start as casebridge's run: every pair linked an hour ago
	// (a Google-origin case carries the link comment the connector
	// posted), and a quiet poll of both sides just before minute 0.
	lastQuietPoll := base.Add(-time.Minute).Add(pollOffset)
	for i := 0; i < tr.Pairs; i++ {
		c := &seedCase{
			google:  seedSide{update: setUp, priority: initialPriority},
			company: seedSide{update: setUp, priority: initialPriority},
			mapping: seedMapping{googleUpdatesSyncedAt: lastQuietPoll, companyUpdatesSyncedAt: lastQuietPoll, priority: initialPriority},
		}
		if Origin(i) == casesync.SideGoogle {
			c.google.comments = append(c.google.comments, seedItem{at: setUp, byConnector: true})
		}
		s.cases = append(s.cases, c)
	}
	s.googleLastPolledAt, s.companyLastPolledAt = lastQuietPoll, lastQuietPoll

	for m := 0; m < tr.Warmup+tr.Minutes; m++ {
		s.counting = tr.Measured(m)
		at := base.Add(time.Duration(m) * time.Minute)
		for _, ch := range tr.In(m) {
			s.apply(ch, at)
		}
		now := at.Add(pollOffset)
		var tasks []seedTask
		tasks = append(tasks, s.poll(casesync.SideGoogle, now)...)
		tasks = append(tasks, s.poll(casesync.SideCompany, now)...)
		for _, t := range tasks {
			s.sync(t, now)
		}
	}
	return s.cost
}

func (s *seedModel) call(op string, n int) {
	if s.counting {
		s.cost.Calls[op] += int64(n)
	}
}

func (s *seedModel) read(n int) {
	if s.counting {
		s.cost.Reads += int64(n)
	}
}

func (s *seedModel) write(n int) {
	if s.counting {
		s.cost.Writes += int64(n)
	}
}

// apply is a person's change, on the side it is made on.
func (s *seedModel) apply(ch Change, at time.Time) {
	side := s.cases[ch.Pair].sideOf(ch.Side)
	switch ch.Kind {
	case KindComment:
		side.comments = append(side.comments, seedItem{at: at})
	case KindAttachment:
		side.attachments = append(side.attachments, seedItem{at: at})
	case KindPriority:
		side.priority = ch.Priority
	}
	side.update = at
}

func (c *seedCase) sideOf(s casesync.Side) *seedSide {
	if s == casesync.SideGoogle {
		return &c.google
	}
	return &c.company
}

// poll is PollGoogleForUpdates or PollCompanyForUpdates.
func (s *seedModel) poll(side casesync.Side, now time.Time) []seedTask {
	last, window, page := &s.googleLastPolledAt, seedGoogleWindow, seedGoogleSearch
	if side == casesync.SideCompany {
		last, window, page = &s.companyLastPolledAt, seedCompanyWindow, seedCompanySearch
	}
	// Reading Global.*_last_polled_at.
	s.read(1)
	// Step 1: search for cases updated after last_polled_at - window,
	// following nextPageToken (pages of 100).
	since := last.Add(-window)
	var found []int
	for i, c := range s.cases {
		if c.sideOf(side).update.After(since) {
			found = append(found, i)
		}
	}
	s.call(opsOf(side).search, pages(len(found), page))
	// Step 2: "If CaseMapping does not exist for case.name": one lookup
	// per case found (every pair has one already).
	s.read(len(found))
	// Step 3: queue a sync task for every case found.
	var tasks []seedTask
	inFound := map[int]bool{}
	for _, i := range found {
		tasks = append(tasks, seedTask{side: side, i: i})
		inFound[i] = true
	}
	// Step 4: "For each open CaseMapping not recently updated, update
	// CaseMapping.googleUpdatesSyncedAt (companyUpdatesSyncedAt) to the
	// current time": a query of the open mappings, and a write of each whose
	// case the search did not return.
	s.read(max(1, len(s.cases)))
	for i, c := range s.cases {
		if inFound[i] {
			continue
		}
		if side == casesync.SideGoogle {
			c.mapping.googleUpdatesSyncedAt = now
		} else {
			c.mapping.companyUpdatesSyncedAt = now
		}
		s.write(1)
	}
	// Step 5: update Global.*_last_polled_at.
	*last = now
	s.write(1)
	return tasks
}

// sync is SyncGoogleUpdatesToCompany (t.side Google) or
// SyncCompanyUpdatesToGoogle (t.side CRM).
func (s *seedModel) sync(t seedTask, now time.Time) {
	if s.counting {
		s.cost.SyncRuns++
	}
	c := s.cases[t.i]
	src, dst := c.sideOf(t.side), c.sideOf(other(t.side))
	srcOps, dstOps := opsOf(t.side), opsOf(other(t.side))
	// Step 1: get the CaseMapping (a query by case name or id) and the case.
	s.read(1)
	s.call(srcOps.get, 1)
	// Steps 2 and 3 (closing, linking) do nothing: no case closes in the
	// trace and every pair is linked. The priority the mapping keeps is
	// carried when the case's differs.
	if src.priority != c.mapping.priority {
		s.call(dstOps.setPriority, 1)
		dst.priority, dst.update = src.priority, now
		c.mapping.priority = src.priority
	}
	// Step 4: list comments on both sides, Google's in pages of 100 back to
	// googleUpdatesSyncedAt - GOOGLE_POLLING_WINDOW, the CRM's in pages of
	// 50 back to companyUpdatesSyncedAt - COMPANY_POLLING_WINDOW; copy the
	// source's new ones, one call each.
	gCut := c.mapping.googleUpdatesSyncedAt.Add(-seedGoogleWindow)
	cCut := c.mapping.companyUpdatesSyncedAt.Add(-seedCompanyWindow)
	s.call(googleOps.listComments, listPages(c.google.comments, gCut, seedGoogleComments))
	s.call(crmOps.listComments, listPages(c.company.comments, cCut, seedCompanyComment))
	for k := range src.comments {
		it := &src.comments[k]
		if it.byConnector || it.copied {
			continue
		}
		s.call(dstOps.addComment, 1)
		dst.comments = append(dst.comments, seedItem{at: now, byConnector: true})
		dst.update = now
		it.copied = true
	}
	// Step 5: "Repeat for attachments": list both sides the same way, and
	// download each new file from the source and upload it to the other.
	s.call(googleOps.listAttachments, listPages(c.google.attachments, gCut, seedGoogleComments))
	s.call(crmOps.listAttachments, listPages(c.company.attachments, cCut, seedCompanyComment))
	for k := range src.attachments {
		it := &src.attachments[k]
		if it.byConnector || it.copied {
			continue
		}
		s.call(srcOps.download, 1)
		s.call(dstOps.upload, 1)
		dst.attachments = append(dst.attachments, seedItem{at: now, byConnector: true})
		dst.update = now
		it.copied = true
	}
	// Step 6: update CaseMapping.googleUpdatesSyncedAt
	// (companyUpdatesSyncedAt) to the current time.
	if t.side == casesync.SideGoogle {
		c.mapping.googleUpdatesSyncedAt = now
	} else {
		c.mapping.companyUpdatesSyncedAt = now
	}
	s.write(1)
}

// pages is how many pages a list of n results takes: one at least.
func pages(n, size int) int {
	return max(1, (n+size-1)/size)
}

// listPages is how many pages the guide's "continue retrieving successive
// pages until the oldest comment retrieved is older than cutoff" fetches
// from items (oldest first; the lists come newest first).
func listPages(items []seedItem, cutoff time.Time, size int) int {
	n := len(items)
	fetched := 0
	for p := 1; ; p++ {
		fetched = min(fetched+size, n)
		if fetched == n {
			return p
		}
		// The oldest item on this page is the fetched-th newest.
		if items[n-fetched].at.Before(cutoff) {
			return p
		}
	}
}
