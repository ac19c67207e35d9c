package zendesk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// refQueue records what the poller publishes.
type refQueue struct {
	mu   sync.Mutex
	refs []casesync.CaseRef
}

func (q *refQueue) PublishCaseUpdated(_ context.Context, refs []casesync.CaseRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refs = append(q.refs, refs...)
	return nil
}

func (q *refQueue) PublishSyncRequested(_ context.Context, ref casesync.CaseRef) error { return nil }

func (q *refQueue) ids() map[string]bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]bool{}
	for _, r := range q.refs {
		out[r.ID] = true
	}
	return out
}

// dyingStore fails SaveCompanyPollResume the next fail times: the run dies
// between publishing what it read and saving where it stopped.
type dyingStore struct {
	*casesynctest.MemStore
	mu   sync.Mutex
	fail int
}

func (s *dyingStore) SaveCompanyPollResume(ctx context.Context, r casesync.PollResume) error {
	s.mu.Lock()
	fail := s.fail > 0
	if fail {
		s.fail--
	}
	s.mu.Unlock()
	if fail {
		return errors.New("the function instance died")
	}
	return s.MemStore.SaveCompanyPollResume(ctx, r)
}

type resumeRig struct {
	sim    *zendesktest.Server
	crm    *zendesk.Client
	store  *dyingStore
	queue  *refQueue
	logs   *bytes.Buffer
	engine *casesync.Engine
	ids    []string
	seen   int // export requests counted so far
}

// newResumeRig makes n flagged tickets and an engine whose Zendesk adapter
// reads export pages of 4 tickets and at most 2 pages a run: 8 tickets.
func newResumeRig(t *testing.T, n int) *resumeRig {
	t.Helper()
	r := &resumeRig{store: &dyingStore{MemStore: casesynctest.NewMemStore()}, queue: &refQueue{}, logs: &bytes.Buffer{}}
	r.sim, r.crm = newAdapter(t, zendesktest.Options{}, func(c *zendesk.Config) { c.ExportPageSize, c.MaxPages = 4, 2 })
	for range n {
		r.ids = append(r.ids, r.sim.CreateTicket(zendesktest.Ticket{Subject: "flagged", Description: "d", SyncFlag: true}))
	}
	r.engine = &casesync.Engine{CRM: r.crm, Store: r.store, Publisher: r.queue,
		Log: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	return r
}

func (r *resumeRig) state(t *testing.T) casesync.PollState {
	t.Helper()
	st, err := r.store.GetPollState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// exports returns the export requests made since the last call.
func (r *resumeRig) exports() int {
	n := r.sim.Calls()["GET /api/v2/incremental/tickets/cursor"]
	defer func() { r.seen = n }()
	return n - r.seen
}

// missing returns the tickets not published.
func (r *resumeRig) missing() []string {
	got := r.queue.ids()
	return slices.DeleteFunc(slices.Clone(r.ids), func(id string) bool { return got[id] })
}

// TestTheFirstPollOfMoreTicketsThanARunReadsCompletesOverRuns: 30 flagged
// tickets, 8 a run. Each run reads its two pages, publishes them and saves
// the export's cursor; the next goes on from it; the fourth reaches the end
// of the stream and records the watermark: the first run's start. Without
// resuming, every run would fail at the page bound and start again.
func TestTheFirstPollOfMoreTicketsThanARunReadsCompletesOverRuns(t *testing.T) {
	r := newResumeRig(t, 30)
	ctx := context.Background()
	var first casesync.PollResume
	for run := 1; run <= 4; run++ {
		res, err := r.engine.PollCRM(ctx)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if n := r.exports(); n > 2 {
			t.Errorf("run %d made %d export requests, want at most 2 (the page bound)", run, n)
		}
		if want := min(8, 30-(run-1)*8); res.Found != want {
			t.Errorf("run %d found %d tickets, want %d", run, res.Found, want)
		}
		st := r.state(t)
		if run == 1 {
			first = st.CompanyResume
			if first.IsZero() {
				t.Fatal("the first run saved no position")
			}
		}
		if run < 4 && (st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.IsZero()) {
			t.Errorf("after run %d: position %+v, watermark %v; want a position and no watermark", run, st.CompanyResume, st.CompanyLastPolledAt)
		}
		if run < 4 && (!st.CompanyResume.Since.Equal(first.Since) || !st.CompanyResume.StartedAt.Equal(first.StartedAt)) {
			t.Errorf("after run %d the poll's since and start are %v and %v, want the first run's %v and %v",
				run, st.CompanyResume.Since, st.CompanyResume.StartedAt, first.Since, first.StartedAt)
		}
		if run == 4 && (!st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(first.StartedAt)) {
			t.Errorf("after the last run: position %+v, watermark %v; want none and the first run's start %v",
				st.CompanyResume, st.CompanyLastPolledAt, first.StartedAt)
		}
	}
	if m := r.missing(); len(m) > 0 {
		t.Errorf("tickets never published: %v", m)
	}
}

// TestAPollRunThatDiesBeforeSavingRepublishesAndSkipsNothing: the second
// run publishes its 8 tickets and dies before saving the cursor; the third
// reads them again from the first run's cursor, and every ticket is
// published once the poll completes.
func TestAPollRunThatDiesBeforeSavingRepublishesAndSkipsNothing(t *testing.T) {
	r := newResumeRig(t, 20)
	ctx := context.Background()
	if _, err := r.engine.PollCRM(ctx); err != nil {
		t.Fatal(err)
	}
	saved := r.state(t).CompanyResume
	r.store.fail = 1
	if _, err := r.engine.PollCRM(ctx); err == nil {
		t.Fatal("the run that died reported success")
	}
	if got := len(r.queue.ids()); got != 16 {
		t.Errorf("after the run that died %d tickets are published, want 16 (published before the save)", got)
	}
	if st := r.state(t); st.CompanyResume != saved {
		t.Fatalf("the run that died moved the position to %+v", st.CompanyResume)
	}
	for run := 3; run <= 4; run++ {
		if _, err := r.engine.PollCRM(ctx); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	st := r.state(t)
	if !st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(saved.StartedAt) {
		t.Errorf("the poll ended with position %+v and watermark %v, want none and %v", st.CompanyResume, st.CompanyLastPolledAt, saved.StartedAt)
	}
	if m := r.missing(); len(m) > 0 {
		t.Errorf("tickets never published: %v", m)
	}
}

// TestAnExportCursorZendeskRefusesStartsThePollAgain: a saved cursor the
// export answers 400 for (expired, or not Zendesk's) makes the run read the
// export again from the poll's since, logged at WARNING without the cursor.
func TestAnExportCursorZendeskRefusesStartsThePollAgain(t *testing.T) {
	r := newResumeRig(t, 12)
	ctx := context.Background()
	if _, err := r.engine.PollCRM(ctx); err != nil {
		t.Fatal(err)
	}
	saved := r.state(t).CompanyResume
	bogus := saved
	bogus.Cursor = "bm90LWEtY3Vyc29y"
	if err := r.store.MemStore.SaveCompanyPollResume(ctx, bogus); err != nil {
		t.Fatal(err)
	}
	r.exports()
	if _, err := r.engine.PollCRM(ctx); err != nil {
		t.Fatalf("the run with the refused cursor: %v", err)
	}
	if n := r.exports(); n != 3 {
		t.Errorf("the run made %d export requests, want 3: the refused cursor, then two pages from the beginning", n)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "refused the saved position") || strings.Contains(logs, bogus.Cursor) {
		t.Errorf("want a WARNING about the refused position, without the cursor; logs:\n%s", logs)
	}
	if _, err := r.engine.PollCRM(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.state(t)
	if !st.CompanyResume.IsZero() || !st.CompanyLastPolledAt.Equal(saved.StartedAt) {
		t.Errorf("the poll ended with position %+v and watermark %v, want none and %v", st.CompanyResume, st.CompanyLastPolledAt, saved.StartedAt)
	}
	if m := r.missing(); len(m) > 0 {
		t.Errorf("tickets never published: %v", m)
	}
}

// TestAnExportStepStopsAtItsTimeBudget: a step whose stopAt has passed
// reads one page and answers the cursor to go on from; a cursor that could
// not have come from Zendesk is refused without a request.
func TestAnExportStepStopsAtItsTimeBudget(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{}, func(c *zendesk.Config) { c.ExportPageSize = 4 })
	for range 10 {
		sim.CreateTicket(zendesktest.Ticket{Subject: "flagged", Description: "d", SyncFlag: true})
	}
	ctx := context.Background()
	since := time.Now().Add(-time.Hour)
	cases, next, err := crm.SearchUpdatedStep(ctx, since, "", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 || next == "" {
		t.Fatalf("a step past its time read %d tickets and answered cursor %q; want one page of 4 and a cursor", len(cases), next)
	}
	rest, end, err := crm.SearchUpdatedStep(ctx, since, next, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 6 || end != "" {
		t.Errorf("the step from the cursor read %d tickets and answered %q; want the other 6 and the end", len(rest), end)
	}
	before := sim.Calls()["GET /api/v2/incremental/tickets/cursor"]
	for _, bad := range []string{"a b", strings.Repeat("c", casesync.MaxPollCursor+1), "x\x00"} {
		if _, _, err := crm.SearchUpdatedStep(ctx, since, bad, time.Now().Add(time.Minute)); !errors.Is(err, casesync.ErrPollCursorRefused) {
			t.Errorf("cursor %q: error %v, want ErrPollCursorRefused", bad, err)
		}
	}
	if after := sim.Calls()["GET /api/v2/incremental/tickets/cursor"]; after != before {
		t.Errorf("malformed cursors made %d requests, want none", after-before)
	}
}
