package casesync_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
)

// streamCRM is a CRM whose search is a stream read a page at a time, as
// Zendesk's incremental export is: a step reads at most stepPages pages, and
// SearchUpdated, which must read the whole stream in one call, fails past
// that many pages (the page bound of one run). Only the search is served.
type streamCRM struct {
	casesync.CRM // nil: the poll calls nothing else

	mu        sync.Mutex
	stream    []casesync.CompanyCase
	pageSize  int
	stepPages int
	// refused cursors answer, once, an error wrapping ErrPollCursorRefused
	// (as an expired cursor: the same position read again later gets a
	// cursor that works).
	refused map[string]bool
	steps   []stepCall
	wholes  int
}

type stepCall struct {
	since  time.Time
	cursor string
	stopAt time.Time
}

// newStreamCRM makes n flagged cases updated a minute apart, ending an hour
// before now.
func newStreamCRM(n, pageSize, stepPages int, now time.Time) *streamCRM {
	c := &streamCRM{pageSize: pageSize, stepPages: stepPages, refused: map[string]bool{}}
	for i := range n {
		at := now.Add(-time.Hour - time.Duration(n-i)*time.Minute)
		c.stream = append(c.stream, casesync.CompanyCase{ID: strconv.Itoa(1001 + i), Subject: "s", SyncFlag: true,
			Priority: "P3", CreateTime: at, UpdateTime: at})
	}
	return c
}

// read reads up to pages pages from pos; next is "" at the end.
func (c *streamCRM) read(since time.Time, pos, pages int) ([]casesync.CompanyCase, string) {
	var out []casesync.CompanyCase
	for range pages {
		end := min(pos+c.pageSize, len(c.stream))
		for _, x := range c.stream[pos:end] {
			if x.UpdateTime.After(since) {
				out = append(out, x)
			}
		}
		pos = end
		if pos >= len(c.stream) {
			return out, ""
		}
	}
	return out, "pos:" + strconv.Itoa(pos)
}

func (c *streamCRM) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wholes++
	out, next := c.read(since, 0, c.stepPages)
	if next != "" {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: "tickets.export",
			Err: fmt.Errorf("listing stopped after %d pages: it has more", c.stepPages)}
	}
	return out, nil
}

func (c *streamCRM) SearchUpdatedStep(ctx context.Context, since time.Time, cursor string, stopAt time.Time) ([]casesync.CompanyCase, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.steps = append(c.steps, stepCall{since, cursor, stopAt})
	pos := 0
	if cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cursor, "pos:"))
		if c.refused[cursor] || !strings.HasPrefix(cursor, "pos:") || err != nil || n < 0 || n > len(c.stream) {
			delete(c.refused, cursor)
			return nil, "", &casesync.APIError{Side: casesync.SideCompany, Op: "tickets.export", Status: 422,
				Err: fmt.Errorf("cursor is not valid (%w)", casesync.ErrPollCursorRefused)}
		}
		pos = n
	} else {
		// The stream starts at the first change after since.
		for pos < len(c.stream) && !c.stream[pos].UpdateTime.After(since) {
			pos++
		}
	}
	out, next := c.read(since, pos, c.stepPages)
	return out, next, nil
}

func (c *streamCRM) takeSteps() []stepCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.steps
	c.steps = nil
	return s
}

// resumeFaults wraps a store: SaveCompanyPollResume fails the next
// failSaves times, as a run that dies between handing cases on and saving
// where it stopped; GetPollState answers tampered as the saved position
// when it is set.
type resumeFaults struct {
	casesync.Store
	mu        sync.Mutex
	failSaves int
	tampered  *casesync.PollResume
}

func (s *resumeFaults) SaveCompanyPollResume(ctx context.Context, r casesync.PollResume) error {
	s.mu.Lock()
	fail := s.failSaves > 0
	if fail {
		s.failSaves--
	}
	s.mu.Unlock()
	if fail {
		return errors.New("the run died before saving where it stopped")
	}
	return s.Store.(casesync.PollResumeStore).SaveCompanyPollResume(ctx, r)
}

func (s *resumeFaults) GetPollState(ctx context.Context) (casesync.PollState, error) {
	st, err := s.Store.GetPollState(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tampered != nil && !st.CompanyResume.IsZero() {
		st.CompanyResume = *s.tampered
	}
	return st, err
}

// hideResume wraps a store so that it does not offer PollResumeStore.
type hideResume struct{ casesync.Store }

type resumeWorld struct {
	t      *testing.T
	ctx    context.Context
	clock  *clock.Manual
	crm    *streamCRM
	store  casesync.Store
	faults *resumeFaults
	queue  *queue
	logs   *bytes.Buffer
	engine *casesync.Engine
}

func newResumeWorld(t *testing.T, sk storeKind, n, pageSize, stepPages int) *resumeWorld {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	w := &resumeWorld{t: t, ctx: context.Background(), clock: clock.NewManual(now), crm: newStreamCRM(n, pageSize, stepPages, now),
		store: sk.new(t), queue: &queue{}, logs: &bytes.Buffer{}}
	w.faults = &resumeFaults{Store: w.store}
	w.engine = &casesync.Engine{CRM: w.crm, Store: w.faults, Publisher: w.queue, Clock: w.clock,
		Log: slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	return w
}

// run is one scheduled run of the CRM poll, a minute after the last.
func (w *resumeWorld) run() (casesync.PollResult, error) {
	w.clock.Advance(time.Minute)
	return w.engine.PollCRM(w.ctx)
}

func (w *resumeWorld) state() casesync.PollState {
	w.t.Helper()
	st, err := w.store.GetPollState(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

// handedOn returns the ids of the CRM cases published or given a mapping.
func (w *resumeWorld) handedOn(published map[string]bool) []string {
	w.t.Helper()
	var ids []string
	for _, c := range w.crm.stream {
		ids = append(ids, c.ID)
	}
	ms, err := w.store.LookupMappings(w.ctx, casesync.SideCompany, ids)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, id := range ids {
		if _, ok := ms[id]; ok || published[id] {
			out = append(out, id)
		}
	}
	return out
}

func (w *resumeWorld) collect(published map[string]bool) {
	for _, r := range w.queue.take() {
		if r.Side == casesync.SideCompany {
			published[r.ID] = true
		}
	}
}

func allIDs(c *streamCRM) []string {
	var ids []string
	for _, x := range c.stream {
		ids = append(ids, x.ID)
	}
	return ids
}

// TestACRMPollTooLargeForOneRunCompletesOverSeveralRuns: a CRM poll whose
// search has more pages than one run reads hands on each run's part, saves
// where it stopped, and the next run goes on from there with the same
// since; the watermark and heartbeat move only when the search ends, to
// the start of the poll's first run.
func TestACRMPollTooLargeForOneRunCompletesOverSeveralRuns(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			// 25 cases, 4 a page, 2 pages a run: 4 runs.
			w := newResumeWorld(t, sk, 25, 4, 2)
			published := map[string]bool{}
			var firstStart, firstSince time.Time
			for run := 1; run <= 4; run++ {
				res, err := w.run()
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				w.collect(published)
				steps := w.crm.takeSteps()
				if len(steps) != 1 {
					t.Fatalf("run %d read the search in %d steps, want 1", run, len(steps))
				}
				st := w.state()
				if run == 1 {
					firstStart, firstSince = w.clock.Now(), steps[0].since
					if steps[0].cursor != "" {
						t.Fatalf("the first run read from cursor %q, want the beginning", steps[0].cursor)
					}
					if want := firstStart.Add(-30 * 24 * time.Hour); !firstSince.Equal(want) {
						t.Errorf("the first poll reads changes after %v, want %v (30 days back)", firstSince, want)
					}
				} else {
					if want := "pos:" + strconv.Itoa((run-1)*8); steps[0].cursor != want {
						t.Errorf("run %d read from cursor %q, want %q, where run %d stopped", run, steps[0].cursor, want, run-1)
					}
					if !steps[0].since.Equal(firstSince) {
						t.Errorf("run %d read changes after %v, want the poll's since %v", run, steps[0].since, firstSince)
					}
				}
				if budget := steps[0].stopAt.Sub(time.Now()); budget <= 0 || budget > casesync.PollReadBudget {
					t.Errorf("run %d may read for %v, want within (0, %v]", run, budget, casesync.PollReadBudget)
				}
				if want := min(8, 25-(run-1)*8); res.Found != want {
					t.Errorf("run %d found %d cases, want %d", run, res.Found, want)
				}
				if run < 4 {
					if !st.CompanyLastPolledAt.IsZero() || !st.CompanyHeartbeat.IsZero() {
						t.Errorf("after run %d of an unfinished poll the watermark is %v and the heartbeat %v; want neither moved",
							run, st.CompanyLastPolledAt, st.CompanyHeartbeat)
					}
					want := casesync.PollResume{Cursor: "pos:" + strconv.Itoa(run*8), Since: firstSince, StartedAt: firstStart}
					if st.CompanyResume != want {
						t.Errorf("after run %d the saved position is %+v, want %+v", run, st.CompanyResume, want)
					}
				} else {
					if !st.CompanyLastPolledAt.Equal(firstStart) || !st.CompanyHeartbeat.Equal(firstStart) {
						t.Errorf("after the last run the watermark is %v and the heartbeat %v, want both the first run's start %v",
							st.CompanyLastPolledAt, st.CompanyHeartbeat, firstStart)
					}
					if !st.CompanyResume.IsZero() {
						t.Errorf("the completed poll left the saved position %+v", st.CompanyResume)
					}
				}
			}
			if got := w.handedOn(published); !slices.Equal(got, allIDs(w.crm)) {
				t.Errorf("handed on %d cases %v, want all %d", len(got), got, len(w.crm.stream))
			}
			if w.crm.wholes != 0 {
				t.Errorf("the poll read the whole search %d times, want never", w.crm.wholes)
			}

			// The next poll starts from the watermark, from the beginning
			// of its search, and completes in one run.
			if _, err := w.run(); err != nil {
				t.Fatal(err)
			}
			steps := w.crm.takeSteps()
			if len(steps) != 1 || steps[0].cursor != "" || !steps[0].since.Before(firstStart) || !steps[0].since.After(firstSince) {
				t.Errorf("the next poll read %+v; want one step from the beginning, reaching back before the watermark %v", steps, firstStart)
			}
			if st := w.state(); !st.CompanyLastPolledAt.After(firstStart) || !st.CompanyResume.IsZero() {
				t.Errorf("after the next poll the watermark is %v and the position %+v", st.CompanyLastPolledAt, st.CompanyResume)
			}
		})
	}
}

// TestARunThatDiesBeforeSavingItsPositionSkipsNothing: cases are handed on
// before the position is saved, so a run that dies in between leaves the
// previous position; the next run reads the same cases again, and every
// case is handed on in the end. A run that dies after the watermark moved
// and before the position is cleared makes the next run read the end of
// the search again, not all of it.
func TestARunThatDiesBeforeSavingItsPositionSkipsNothing(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			w := newResumeWorld(t, sk, 20, 4, 2) // 8 a run: 3 runs
			published := map[string]bool{}
			if _, err := w.run(); err != nil {
				t.Fatal(err)
			}
			w.collect(published)
			first := w.state().CompanyResume
			w.crm.takeSteps()

			// Run 2 hands on cases 9-16, then dies before saving.
			w.faults.failSaves = 1
			if _, err := w.run(); err == nil {
				t.Fatal("the run whose save failed reported success")
			}
			w.collect(published)
			if st := w.state(); st.CompanyResume != first {
				t.Fatalf("after the failed save the position is %+v, want the previous %+v", st.CompanyResume, first)
			}
			if len(published) != 16 {
				t.Errorf("before its save failed run 2 published %d cases in all, want 16 (its part is published first)", len(published))
			}
			// Run 3 reads run 2's part again.
			if _, err := w.run(); err != nil {
				t.Fatal(err)
			}
			w.collect(published)
			if steps := w.crm.takeSteps(); len(steps) != 2 || steps[1].cursor != first.Cursor {
				t.Errorf("the run after the failed save read %+v, want to go on from %q", steps, first.Cursor)
			}

			// Run 4 reaches the end; the watermark moves, and clearing
			// the position fails.
			w.faults.failSaves = 1
			if _, err := w.run(); err == nil {
				t.Fatal("the run whose clearing failed reported success")
			}
			st := w.state()
			if st.CompanyLastPolledAt.IsZero() || st.CompanyResume.IsZero() {
				t.Fatalf("after the failed clearing the watermark is %v and the position %+v; want the watermark moved and the position kept",
					st.CompanyLastPolledAt, st.CompanyResume)
			}
			last := st.CompanyResume
			w.crm.takeSteps()
			if _, err := w.run(); err != nil {
				t.Fatal(err)
			}
			w.collect(published)
			if steps := w.crm.takeSteps(); len(steps) != 1 || steps[0].cursor != last.Cursor {
				t.Errorf("the run after the failed clearing read %+v, want the end of the search from %q", steps, last.Cursor)
			}
			st = w.state()
			if !st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(last.StartedAt) {
				t.Errorf("after the poll completed again the position is %+v and the watermark %v, want none and %v",
					st.CompanyResume, st.CompanyLastPolledAt, last.StartedAt)
			}
			if got := w.handedOn(published); !slices.Equal(got, allIDs(w.crm)) {
				t.Errorf("handed on %d cases %v, want all %d", len(got), got, len(w.crm.stream))
			}
		})
	}
}

// TestARefusedOrUnusablePositionStartsThePollAgain: a cursor the CRM no
// longer accepts makes the poll read its search again from its since, with
// a WARNING that names neither the cursor nor any case; a saved position
// that is not well-formed is not given to the CRM at all.
func TestARefusedOrUnusablePositionStartsThePollAgain(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("refused by the CRM", func(t *testing.T) {
				w := newResumeWorld(t, sk, 12, 4, 2)
				published := map[string]bool{}
				if _, err := w.run(); err != nil {
					t.Fatal(err)
				}
				saved := w.state().CompanyResume
				w.crm.takeSteps()
				w.crm.refused[saved.Cursor] = true
				if _, err := w.run(); err != nil {
					t.Fatalf("the run whose cursor was refused: %v", err)
				}
				w.collect(published)
				steps := w.crm.takeSteps()
				if len(steps) != 2 || steps[0].cursor != saved.Cursor || steps[1].cursor != "" || !steps[1].since.Equal(saved.Since) {
					t.Errorf("the run read %+v; want the saved cursor refused, then the beginning with the poll's since %v", steps, saved.Since)
				}
				logs := w.logs.String()
				if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "refused the saved position") {
					t.Errorf("the refusal was not logged at WARNING:\n%s", logs)
				}
				if strings.Contains(logs, saved.Cursor) {
					t.Errorf("the log holds the cursor:\n%s", logs)
				}
				// It read the first 8 again; the next run reads the rest.
				if _, err := w.run(); err != nil {
					t.Fatal(err)
				}
				w.collect(published)
				st := w.state()
				if !st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(saved.StartedAt) {
					t.Errorf("the poll ended with position %+v and watermark %v, want none and the first run's start %v",
						st.CompanyResume, st.CompanyLastPolledAt, saved.StartedAt)
				}
				if got := w.handedOn(published); !slices.Equal(got, allIDs(w.crm)) {
					t.Errorf("handed on %v, want all %d", got, len(w.crm.stream))
				}
			})
			for _, bad := range []struct {
				name string
				r    func(good casesync.PollResume) casesync.PollResume
			}{
				{"a cursor with a control character", func(g casesync.PollResume) casesync.PollResume { g.Cursor = "pos:8\n"; return g }},
				{"an oversized cursor", func(g casesync.PollResume) casesync.PollResume {
					g.Cursor = strings.Repeat("x", casesync.MaxPollCursor+1)
					return g
				}},
				{"a start time after now", func(g casesync.PollResume) casesync.PollResume {
					g.StartedAt = g.StartedAt.Add(time.Hour)
					return g
				}},
				{"no since", func(g casesync.PollResume) casesync.PollResume { g.Since = time.Time{}; return g }},
			} {
				t.Run(bad.name, func(t *testing.T) {
					w := newResumeWorld(t, sk, 12, 4, 2)
					if _, err := w.run(); err != nil {
						t.Fatal(err)
					}
					saved := w.state().CompanyResume
					w.crm.takeSteps()
					tampered := bad.r(saved)
					w.faults.tampered = &tampered
					if _, err := w.run(); err != nil {
						t.Fatal(err)
					}
					steps := w.crm.takeSteps()
					if len(steps) != 1 || steps[0].cursor != "" {
						t.Errorf("with %s saved the run read %+v, want one step from the beginning", bad.name, steps)
					}
					if !strings.Contains(w.logs.String(), "cannot be used") {
						t.Errorf("the unusable position was not logged:\n%s", w.logs.String())
					}
				})
			}
		})
	}
}

// TestWithoutResumableStorageTheCRMIsSearchedWhole: a CRM that can be read
// in steps, on a store that cannot keep the position, is polled as before,
// with SearchUpdated.
func TestWithoutResumableStorageTheCRMIsSearchedWhole(t *testing.T) {
	w := newResumeWorld(t, storeKinds[0], 6, 4, 2)
	w.engine.Store = hideResume{w.store}
	res, err := w.run()
	if err != nil {
		t.Fatal(err)
	}
	if w.crm.wholes != 1 || len(w.crm.takeSteps()) != 0 || res.Found != 6 {
		t.Errorf("searched whole %d times and in steps %v, found %d; want one whole search finding 6", w.crm.wholes, w.crm.steps, res.Found)
	}
}

// TestAPollStepStopsReadingBeforeTheRunsDeadline: the time a run may read
// is cut so that enough is left, before its context's deadline, to hand on
// what it read and save where it stopped.
func TestAPollStepStopsReadingBeforeTheRunsDeadline(t *testing.T) {
	w := newResumeWorld(t, storeKinds[0], 6, 4, 2)
	ctx, cancel := context.WithTimeout(w.ctx, 70*time.Second)
	defer cancel()
	w.ctx = ctx
	if _, err := w.run(); err != nil {
		t.Fatal(err)
	}
	steps := w.crm.takeSteps()
	deadline, _ := ctx.Deadline()
	if len(steps) != 1 || deadline.Sub(steps[0].stopAt) < 60*time.Second {
		t.Errorf("the step may read until %v, %v before the run's deadline; want at least 60 s kept", steps[0].stopAt, deadline.Sub(steps[0].stopAt))
	}
}
