package casesync_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// lookupCounter records the case keys each poll looks up.
type lookupCounter struct {
	casesync.Store
	mu     sync.Mutex
	looked []string
}

func (s *lookupCounter) LookupMappings(ctx context.Context, side casesync.Side, keys []string) (map[string]casesync.Mapping, error) {
	s.mu.Lock()
	s.looked = append(s.looked, keys...)
	s.mu.Unlock()
	return s.Store.LookupMappings(ctx, side, keys)
}

func (s *lookupCounter) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.looked
	s.looked = nil
	return k
}

// TestAnUnchangedCaseInThePollWindowCostsNoMappingRead: once a poll has
// handed a case on, later polls that find it again at the same update time
// (it stays in the search window for minutes) read nothing for it.
func TestAnUnchangedCaseInThePollWindowCostsNoMappingRead(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			w := newWorldOn(t, casesync.Config{}, sk)
			name := w.newGoogleCase("Quiet case", "P2")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			counter := &lookupCounter{Store: w.store}
			w.engine.Store = counter

			for i := range 3 {
				w.tick()
				g, err := w.engine.PollGoogle(w.ctx)
				if err != nil {
					t.Fatal(err)
				}
				c, err := w.engine.PollCRM(w.ctx)
				if err != nil {
					t.Fatal(err)
				}
				if g.Found == 0 || c.Found == 0 {
					t.Fatalf("poll %d found %d Google and %d CRM cases; the case should still be in both windows", i+1, g.Found, c.Found)
				}
				if looked := counter.take(); len(looked) > 0 {
					t.Errorf("poll %d looked up %q; an unchanged case should cost no read", i+1, looked)
				}
				if refs := w.queue.take(); len(refs) > 0 {
					t.Errorf("poll %d published %+v for an unchanged case", i+1, refs)
				}
			}

			// A change is still seen, and costs one lookup.
			if _, err := w.google.AddComment(name, "One more detail.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
				t.Fatal(err)
			}
			w.tick()
			if _, err := w.engine.PollGoogle(w.ctx); err != nil {
				t.Fatal(err)
			}
			if looked := counter.take(); !slices.Equal(looked, []string{name}) {
				t.Errorf("the poll after a change looked up %q, want just %s", looked, name)
			}
			refs := w.queue.take()
			if len(refs) != 1 || refs[0].ID != name {
				t.Fatalf("the poll after a change published %+v, want the changed case", refs)
			}
			if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
				t.Fatal(err)
			}
			w.settle()
			if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 1 {
				t.Errorf("the CRM case has %d mirrored comments, want 1", got)
			}
		})
	}
}

// TestACaseFoundWhileItsReconciliationRunsIsLookedAtAgain: a poll that
// finds a case while a reconciliation holds it does not remember it as
// handed on; the change the run may not have seen is asked for by the
// next poll.
func TestACaseFoundWhileItsReconciliationRunsIsLookedAtAgain(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Busy case", "P2")
	w.settle()
	m := w.mapping(name)

	if _, err := w.store.AcquireLease(w.ctx, m.ID, "another-worker", w.clock.Now(), w.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.google.AddComment(name, "Written while another worker holds the case.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	res, err := w.engine.PollGoogle(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Waiting != 1 || len(w.queue.take()) != 0 {
		t.Fatalf("poll while the case is held: %+v; want it waiting, nothing published", res)
	}
	// The other worker ends without having seen the comment.
	if err := w.store.ReleaseLease(w.ctx, m.ID, "another-worker"); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if refs := w.queue.take(); len(refs) != 1 || refs[0].ID != name {
		t.Fatalf("the poll after the lease ended published %+v; want the case, whose comment no run has seen", refs)
	}
}

// TestALinkRequestPublishedWithoutAMappingIsAskedForAgain: a CRM case that
// names a Google case gets its mapping from sync-case, so no pending mark
// stands for it; until a mapping exists, each poll that finds it asks again.
func TestALinkRequestPublishedWithoutAMappingIsAskedForAgain(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Linked by hand", "P2")
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Linked by hand", Description: "Opened in the CRM.", Priority: "normal", GoogleCase: name})
	for i := range 2 {
		w.tick()
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		refs := w.queue.take()
		if !slices.ContainsFunc(refs, func(r casesync.CaseRef) bool { return r.Side == casesync.SideCompany && r.ID == id }) {
			t.Fatalf("CRM poll %d published %+v; want the unmapped CRM case naming %s", i+1, refs, name)
		}
	}
}

// commentsOnGoogleWhileWriting is a CRM that, the first time casebridge
// writes a comment to it, has a person comment on the Google case, as if at
// that very moment.
type commentsOnGoogleWhileWriting struct {
	casesync.CRM
	once   sync.Once
	google *csapitest.Server
	name   string
}

func (c *commentsOnGoogleWhileWriting) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	c.once.Do(func() {
		if _, err := c.google.AddComment(c.name, "Written during the mirror.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
			panic(err)
		}
	})
	return c.CRM.AddComment(ctx, id, body, public)
}

// TestAChangeToTheSideAPassDidNotWriteIsNotLost: the pass after a write
// reads again only the side written to; a person's change on the other
// side during the first pass is still seen and mirrored.
func TestAChangeToTheSideAPassDidNotWriteIsNotLost(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Busy", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	w.engine.CRM = &commentsOnGoogleWhileWriting{CRM: w.engine.CRM, google: w.google, name: name}
	if _, err := w.google.AddComment(name, "First.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.settle()
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 2 {
		t.Errorf("the CRM case has %d mirrored Google comments, want 2 (one written during the first's mirror)", got)
	}
}

// sinceRecorder records how far back each Google search reaches.
type sinceRecorder struct {
	casesync.Google
	mu     sync.Mutex
	sinces []time.Time
}

func (g *sinceRecorder) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.GoogleCase, error) {
	g.mu.Lock()
	g.sinces = append(g.sinces, since)
	g.mu.Unlock()
	return g.Google.SearchUpdated(ctx, since)
}

// TestPollsBetweenWidePollsReachBackOnlyTheNarrowWindow: a side's polls
// reach back its whole polling window once every WidePollEvery, and only
// the narrow window in between.
func TestPollsBetweenWidePollsReachBackOnlyTheNarrowWindow(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.newGoogleCase("Windows", "P2")
	w.settle()
	rec := &sinceRecorder{Google: w.engine.Google}
	w.engine.Google = rec
	state, err := w.store.GetPollState(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var starts []time.Time
	for range 25 {
		w.clock.Advance(time.Minute)
		starts = append(starts, w.clock.Now())
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.queue.take()
	}
	// The first poll of each 10-minute slot of the clock is wide: it
	// reaches back 30 minutes before the start of the previous poll's slot
	// (a change the index shows late is found while its lag is within the
	// window); the others 2 minutes before the previous poll.
	wide := 0
	prevStart := state.GoogleLastPolledAt
	for j, since := range rec.sinces {
		since = since.Round(time.Millisecond)
		if j > 0 {
			prevStart = starts[j-1]
		}
		slot := starts[j].Truncate(10 * time.Minute)
		prevSlot := prevStart.Truncate(10 * time.Minute)
		switch {
		case !slot.Equal(prevSlot) && since.Equal(prevSlot.Add(-30*time.Minute).Round(time.Millisecond)):
			wide++
		case slot.Equal(prevSlot) && prevStart.Sub(since).Round(time.Millisecond) == 2*time.Minute:
		default:
			t.Errorf("poll %d (slot %s, previous poll's slot %s) reached back to %s; want 2m before the previous poll in the same slot, or 30m before the previous poll's slot in a new one", j+1, slot, prevSlot, since)
		}
	}
	if wide < 2 || wide > 3 {
		t.Errorf("%d of 24 polls a minute apart were wide; want one every 10 minutes", wide)
	}
}

// TestAChangeTheSearchShowsLateIsFoundByAWidePoll: a change the search
// index shows only after the narrow window has passed it is found by the
// next wide poll.
func TestAChangeTheSearchShowsLateIsFoundByAWidePoll(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Lagging index", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	w.google.SetSearchLag(5 * time.Minute)
	if _, err := w.google.AddComment(name, "Shown late by the search.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	// The index shows the change 5 minutes on, and the first wide poll
	// after that comes at the next 10-minute slot of the clock: at most 16
	// polls, wherever in its slot the test starts.
	for range 20 {
		w.clock.Advance(time.Minute)
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			t.Fatal(err)
		}
		for _, ref := range w.queue.take() {
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 1 {
		t.Errorf("after 20 polls the CRM has %d mirrored comments; want the one the search showed 5 minutes late", got)
	}
}

// TestAWidePollLooksUpNoCaseAnEarlierPollHandedOn: the narrow polls between
// two wide ones no longer find a case changed a few minutes ago; the wide
// poll that finds it again still remembers it.
func TestAWidePollLooksUpNoCaseAnEarlierPollHandedOn(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Found again by the wide poll", "P2")
	w.settle()
	counter := &lookupCounter{Store: w.store}
	w.engine.Store = counter
	wideFound := 0
	// A wide poll comes at each 10-minute slot of the clock: 20 polls hold
	// one after the first three, wherever in its slot the test starts.
	for i := range 20 {
		w.clock.Advance(time.Minute)
		res, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Found > 0 && i > 2 {
			wideFound++
		}
		if looked := counter.take(); len(looked) > 0 {
			t.Errorf("poll %d (found %d) looked up %q; the case was handed on before", i+1, res.Found, looked)
		}
		w.queue.take()
	}
	if wideFound == 0 {
		t.Fatalf("no wide poll found %s again in 20 minutes; the test proves nothing", name)
	}
}

// resolveCounter counts how sync-case finds mappings.
type resolveCounter struct {
	casesync.Store
	gets, resolves int
}

func (s *resolveCounter) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	s.gets++
	return s.Store.GetMapping(ctx, id)
}

func (s *resolveCounter) ResolveMapping(ctx context.Context, g, c string, create bool, init func(*casesync.Mapping)) (casesync.Mapping, bool, error) {
	s.resolves++
	return s.Store.ResolveMapping(ctx, g, c, create, init)
}

// TestAPollNamesTheMappingSoSyncCaseReadsItDirectly: a poll that found a
// mapped case names the mapping in its message; sync-case reads that one
// document instead of the case's key and then the mapping.
func TestAPollNamesTheMappingSoSyncCaseReadsItDirectly(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Named", "P2")
	w.settle()
	m := w.mapping(name)
	if _, err := w.google.AddComment(name, "News.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	refs := w.queue.take()
	if len(refs) != 1 || refs[0].MappingID != m.ID || refs[0].ID != name {
		t.Fatalf("the poll published %+v; want the case with its mapping %s", refs, m.ID)
	}
	counter := &resolveCounter{Store: w.store}
	w.engine.Store = counter
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	if counter.gets != 1 || counter.resolves != 0 {
		t.Errorf("sync-case read the mapping with %d gets and %d case lookups; want one get", counter.gets, counter.resolves)
	}
	if got := countWithPrefix(bodiesOf(w.crmComments(m.CompanyCaseID)), "[Google Comment "); got != 1 {
		t.Errorf("the CRM case has %d mirrored comments, want 1", got)
	}
}

// TestAMessageNamingAMappingThatNoLongerHoldsTheCaseFindsItsMapping: the
// mapping a message names may have been deleted since (or moved to another
// Google case); the case is then found by its key, as without a name.
func TestAMessageNamingAMappingThatNoLongerHoldsTheCaseFindsItsMapping(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Moved", "P2")
	w.settle()
	m := w.mapping(name)
	if _, err := w.google.AddComment(name, "Still synced.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, MappingID: "m-no-longer-there"})
	if err != nil {
		t.Fatal(err)
	}
	if res.MappingID != m.ID {
		t.Fatalf("sync-case used mapping %q (%+v); want %s, found by the case", res.MappingID, res, m.ID)
	}
	if got := countWithPrefix(bodiesOf(w.crmComments(m.CompanyCaseID)), "[Google Comment "); got != 1 {
		t.Errorf("the CRM case has %d mirrored comments, want 1", got)
	}
}

// TestAChangeSeenOnlyWhileARunHeldItsCaseIsFoundAfterTheNarrowWindow: a
// change every poll found while a reconciliation held its case, which
// that run did not see, is older than the narrow window by the time the
// case is free; the poll after one that found a held case is wide, so it
// is found all the same.
func TestAChangeSeenOnlyWhileARunHeldItsCaseIsFoundAfterTheNarrowWindow(t *testing.T) {
	// Wide polls only when asked for, so that no clock slot boundary helps.
	w := newWorld(t, casesync.Config{WidePollEvery: 24 * time.Hour})
	name := w.newGoogleCase("Held for minutes", "P2")
	w.settle()
	m := w.mapping(name)
	if _, err := w.store.AcquireLease(w.ctx, m.ID, "a-slow-run", w.clock.Now(), w.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.google.AddComment(name, "Written while the case is held.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w.clock.Advance(time.Minute)
		res, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && res.Waiting != 1 {
			t.Fatalf("the first poll: %+v; want the held case waiting", res)
		}
		w.queue.take()
	}
	// The slow run ends without having seen the comment.
	if err := w.store.ReleaseLease(w.ctx, m.ID, "a-slow-run"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if refs := w.queue.take(); len(refs) != 1 || refs[0].ID != name {
		t.Fatalf("the poll after the run ended published %+v; want the case, whose comment no run has seen", refs)
	}
}
