package casesync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/store"
)

func TestAnOutageIsReportedOnceAndItsEndOnce(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Outage", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("DetectOutages with everything in sync: %v", err)
	}

	w.crm.SetDown(true)
	w.clock.Advance(11 * time.Minute)
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine.PollCRM(w.ctx); err == nil {
		t.Fatal("PollCRM succeeded with the CRM down")
	}
	for i := 0; i < 2; i++ {
		rep, err := w.engine.DetectOutages(w.ctx)
		if !errors.Is(err, casesync.ErrOutage) {
			t.Fatalf("run %d: DetectOutages = %v, want ErrOutage", i+1, err)
		}
		if len(rep.OutOfSync) != 1 {
			t.Errorf("run %d: out of sync = %v, want the one mapping", i+1, rep.OutOfSync)
		}
	}
	if got := countWithPrefix(w.googleBodies(name), "This case has not synced properly in "); got != 1 {
		t.Errorf("outage comments on Google = %d, want 1", got)
	}
	if m := w.mapping(name); !m.Google.OutageNoticeSent || m.Company.OutageNoticeSent {
		t.Errorf("flags = google %v, company %v; want true, false (the CRM was unreachable)", m.Google.OutageNoticeSent, m.Company.OutageNoticeSent)
	}

	w.crm.SetDown(false)
	w.settle()
	rep, err := w.engine.DetectOutages(w.ctx)
	if err != nil {
		t.Fatalf("DetectOutages after recovery: %v", err)
	}
	if rep.Resumed != 1 {
		t.Errorf("resumed notices posted = %d, want 1", rep.Resumed)
	}
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatal(err)
	}
	gb := w.googleBodies(name)
	if got := countWithPrefix(gb, "Syncing has resumed."); got != 1 {
		t.Errorf("resumed comments on Google = %d, want 1", got)
	}
	for _, c := range w.crmComments(id) {
		if strings.HasPrefix(c.Body, "This case has not synced") || strings.HasPrefix(c.Body, "Syncing has resumed") {
			t.Errorf("the CRM got a notice although it never had the outage comment: %q", c.Body)
		}
	}
	// The notices are the connector's own: never mirrored.
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 0 {
		t.Errorf("%d notices were mirrored to the CRM", got)
	}
}

func TestAStalledPollerIsSeenWithoutPerMappingWrites(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Stall", "P0")
	w.settle()
	// The Google poller stops; nothing else happens.
	w.clock.Advance(9 * time.Minute)
	w.engine.PollCRM(w.ctx)
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("after 9 minutes: %v, want in sync (P0 fresh tolerance is 10 min)", err)
	}
	w.clock.Advance(2 * time.Minute)
	w.engine.PollCRM(w.ctx)
	if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("after 11 minutes: %v, want ErrOutage", err)
	}
	if !w.mapping(name).Company.OutageNoticeSent {
		t.Errorf("the CRM was not told")
	}
}

// TestALongerPollIntervalIsNotAnOutage runs pollers every 30 minutes
// (PollInterval): a quiet P0 case is not late 25 minutes after the last
// polls, which found nothing, but it is once the pollers have missed their
// next poll by more than the tolerance.
func TestALongerPollIntervalIsNotAnOutage(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		wantLate bool
	}{{0, true}, {time.Minute, true}, {30 * time.Minute, false}} {
		t.Run(fmt.Sprintf("polls every %s", tc.interval), func(t *testing.T) {
			w := newWorld(t, casesync.Config{PollInterval: tc.interval})
			w.newGoogleCase("Quiet", "P0")
			w.settle()
			w.engine.PollGoogle(w.ctx)
			w.engine.PollCRM(w.ctx)
			w.clock.Advance(25 * time.Minute)
			_, err := w.engine.DetectOutages(w.ctx)
			if late := errors.Is(err, casesync.ErrOutage); late != tc.wantLate || (err != nil && !late) {
				t.Fatalf("25 minutes after the last polls: DetectOutages = %v, want an outage %t", err, tc.wantLate)
			}
			if tc.wantLate {
				return
			}
			// The next polls are 16 minutes late: past the 10-minute
			// tolerance.
			w.clock.Advance(21 * time.Minute)
			if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
				t.Fatalf("46 minutes after the last polls: DetectOutages = %v, want ErrOutage", err)
			}
		})
	}
	if got := casesync.HeartbeatCredit(10 * time.Minute); got != 9*time.Minute {
		t.Errorf("HeartbeatCredit(10m) = %s, want 9m", got)
	}
	if got := casesync.HeartbeatCredit(0); got != 0 {
		t.Errorf("HeartbeatCredit(0) = %s, want 0", got)
	}
}

func TestAnUnchangedCaseCostsNothingButTheSearch(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) { testUnchangedCaseCost(t, sk) })
	}
}

func testUnchangedCaseCost(t *testing.T, sk storeKind) {
	w := newWorldOn(t, casesync.Config{}, sk)
	name := w.newGoogleCase("Cost", "P3")
	w.settle()
	w.settle()
	id := w.mapping(name).CompanyCaseID

	w.google.ResetCalls()
	w.crm.ResetCalls()
	for i := 0; i < 3; i++ { // within the polling windows: the case is found again each time
		w.tick()
		g, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.engine.PollCRM(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g.Published+c.Published != 0 || g.Found != 1 || c.Found != 1 {
			t.Errorf("idle poll %d: google %+v, crm %+v; want the case found and nothing published", i+1, g, c)
		}
	}
	if diff := cmp.Diff(map[string]int{"cases.search": 3}, w.google.Calls()); diff != "" {
		t.Errorf("Google calls for idle polls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"search": 3}, w.crm.Calls()); diff != "" {
		t.Errorf("CRM calls for idle polls (-want +got):\n%s", diff)
	}

	// One new Google comment: one reconciliation, lists fetched only where needed.
	if _, err := w.google.AddComment(name, "news", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.google.ResetCalls()
	w.crm.ResetCalls()
	w.tick()
	w.engine.PollGoogle(w.ctx)
	refs := w.queue.take()
	if len(refs) != 1 {
		t.Fatalf("published %d, want 1", len(refs))
	}
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	// The first pass mirrors the comment without reading the CRM case (only
	// Google's comments changed; the mapping knows the CRM case) or listing
	// its comments (every earlier write is recorded); the second reads the
	// CRM case its own comment changed, and lists it, so that no later poll
	// takes that change for news.
	wantG := map[string]int{"cases.search": 1, "cases.get": 1, "comments.list": 1, "attachments.list": 1}
	if diff := cmp.Diff(wantG, w.google.Calls()); diff != "" {
		t.Errorf("Google calls for one changed case (-want +got):\n%s", diff)
	}
	wantC := map[string]int{"get": 1, "comments.list": 1, "attachments.list": 1, "comments.add": 1}
	if diff := cmp.Diff(wantC, w.crm.Calls()); diff != "" {
		t.Errorf("CRM calls for one changed case (-want +got):\n%s", diff)
	}
	w.tick()
	g, err := w.engine.PollGoogle(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.engine.PollCRM(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Published+c.Published+g.Swept+c.Swept != 0 {
		t.Errorf("after the reconciliation: google poll %+v, crm poll %+v; want nothing asked for (no echo of casebridge's own comment)", g, c)
	}
	_ = id
}

// ---- issue 9: freshness, "Syncing has resumed.", detection at scale ----

// logRecorder keeps the entries logged through its handler.
type logRecorder struct {
	mu   sync.Mutex
	recs []logEntry
}

type logEntry struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

type recordingHandler struct {
	r     *logRecorder
	attrs []slog.Attr
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordingHandler) Handle(_ context.Context, rec slog.Record) error {
	e := logEntry{level: rec.Level, msg: rec.Message, attrs: map[string]any{}}
	for _, a := range h.attrs {
		e.attrs[a.Key] = a.Value.Any()
	}
	rec.Attrs(func(a slog.Attr) bool {
		e.attrs[a.Key] = a.Value.Any()
		return true
	})
	h.r.mu.Lock()
	h.r.recs = append(h.r.recs, e)
	h.r.mu.Unlock()
	return nil
}

func (h recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recordingHandler{r: h.r, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h recordingHandler) WithGroup(string) slog.Handler { return h }

func (r *logRecorder) logger() *slog.Logger { return slog.New(recordingHandler{r: r}) }

// entries returns the entries with this message.
func (r *logRecorder) entries(msg string) []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logEntry
	for _, e := range r.recs {
		if e.msg == msg {
			out = append(out, e)
		}
	}
	return out
}

// notices returns the outage and resumed notices among bodies, in order,
// as "outage" and "resumed".
func notices(bodies []string) []string {
	out := []string{}
	for _, b := range bodies {
		switch {
		case strings.HasPrefix(b, "This case has not synced properly in "):
			out = append(out, "outage")
		case b == "Syncing has resumed.":
			out = append(out, "resumed")
		}
	}
	return out
}

// stallGoogle makes every linked mapping of the world late without touching
// a case: the Google poller stops for 11 minutes while the CRM's keeps
// polling.
func (w *world) stallGoogle() {
	w.t.Helper()
	w.clock.Advance(11 * time.Minute)
	if _, err := w.engine.PollCRM(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	w.queue.take()
}

func TestFreshnessIsMeasuredFromWhenNewContentWasSeen(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Quiet for two days", "P3")
	w.settle()
	w.clock.Advance(48 * time.Hour)
	w.settle()
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("DetectOutages on the quiet case: %v", err)
	}

	// A new comment is seen, but sync-case never gets to it; the pollers
	// stay healthy.
	if _, err := w.google.AddComment(name, "Still broken.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		w.clock.Advance(5 * time.Minute)
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.queue.take()
	}
	m := w.mapping(name)
	if got, want := m.LastContentAt(), m.Google.PendingSince; !got.Equal(want) || want.IsZero() {
		t.Errorf("LastContentAt = %v, want the pending mark %v", got, want)
	}
	rep, err := w.engine.DetectOutages(w.ctx)
	if !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages after the new comment waited 40 minutes = %v, want ErrOutage (a fresh P3 change has 10 minutes)", err)
	}
	if diff := cmp.Diff([]string{m.ID}, rep.OutOfSync); diff != "" {
		t.Errorf("out of sync (-want +got):\n%s", diff)
	}
}

// failingGoogle fails AddComment before doing it, as a call that never
// reached Google.
type failingGoogle struct {
	casesync.Google
	left *atomic.Int64
}

func (g failingGoogle) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	if g.left.Add(-1) >= 0 {
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideGoogle, Op: "comments.create", Status: 503, Transient: true, Err: errors.New("unavailable")}
	}
	return g.Google.AddComment(ctx, name, body)
}

func TestSyncingHasResumedFollowsEveryOutageNoticePosted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// wrap gives the detection engine's ports for its first run.
		wrap                    func(g casesync.Google, c casesync.CRM) (casesync.Google, casesync.CRM)
		wantGoogle, wantCompany []string
	}{
		{"when the answer to the Google notice was lost", func(g casesync.Google, c casesync.CRM) (casesync.Google, casesync.CRM) {
			return crashingGoogle{g, &crashAfter{op: "AddComment", left: 1}}, c
		}, []string{"outage", "resumed"}, []string{"outage", "resumed"}},
		{"when the answer to the CRM notice was lost", func(g casesync.Google, c casesync.CRM) (casesync.Google, casesync.CRM) {
			return g, crashingCRM{c, &crashAfter{op: "AddComment", left: 1}}
		}, []string{"outage", "resumed"}, []string{"outage", "resumed"}},
		{"when both answers were lost", func(g casesync.Google, c casesync.CRM) (casesync.Google, casesync.CRM) {
			return crashingGoogle{g, &crashAfter{op: "AddComment", left: 1}}, crashingCRM{c, &crashAfter{op: "AddComment", left: 1}}
		}, []string{"outage", "resumed"}, []string{"outage", "resumed"}},
		{"when the Google notice never reached Google", func(g casesync.Google, c casesync.CRM) (casesync.Google, casesync.CRM) {
			n := &atomic.Int64{}
			n.Store(1)
			return failingGoogle{g, n}, c
		}, []string{}, []string{"outage", "resumed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, casesync.Config{})
			name := w.newGoogleCase("Outage", "P2")
			w.settle()
			id := w.mapping(name).CompanyCaseID

			w.stallGoogle()
			g, c := tc.wrap(w.engine.Google, w.engine.CRM)
			first := &casesync.Engine{Google: g, CRM: c, Store: w.store, Publisher: w.queue, Clock: w.clock}
			if _, err := first.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
				t.Fatalf("DetectOutages during the outage = %v, want ErrOutage", err)
			}

			// The Google poller is back: the next run sees the mapping in step.
			w.settle()
			for i := 0; i < 2; i++ {
				if _, err := w.engine.DetectOutages(w.ctx); err != nil {
					t.Fatalf("run %d after recovery: %v", i+1, err)
				}
			}
			w.checkNoticesEnded(name, id, tc.wantGoogle, tc.wantCompany)
		})
	}
}

func TestAMappingResolvedDuringItsOutageGetsSyncingHasResumed(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Closed during the outage", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	w.stallGoogle()
	if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages during the outage = %v, want ErrOutage", err)
	}
	// The agent closes the ticket; casebridge closes the Google case.
	if err := w.crm.HumanClose(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if m := w.mapping(name); !m.Resolved() {
		t.Fatalf("the mapping is not resolved after both cases closed")
	}
	for i := 0; i < 2; i++ {
		if _, err := w.engine.DetectOutages(w.ctx); err != nil {
			t.Fatalf("run %d after the close: %v", i+1, err)
		}
	}
	// The closed Google case cannot take a comment; the CRM case can.
	if diff := cmp.Diff([]string{"outage"}, notices(w.googleBodies(name))); diff != "" {
		t.Errorf("notices on Google (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"outage", "resumed"}, notices(bodiesOf(w.crmComments(id)))); diff != "" {
		t.Errorf("notices on the CRM (-want +got):\n%s", diff)
	}
	if tk, _ := w.crm.Ticket(id); !tk.Closed {
		t.Errorf("the notice reopened the CRM case")
	}
	if m := w.mapping(name); m.Google.OutageNoticeSent || m.Company.OutageNoticeSent {
		t.Errorf("flags google %v, company %v after the resumed notice; want both cleared", m.Google.OutageNoticeSent, m.Company.OutageNoticeSent)
	}
}

func TestAResumedNoticeThatCannotBePostedClearsItsFlagOnce(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Permission revoked", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	w.stallGoogle()
	if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages during the outage = %v, want ErrOutage", err)
	}
	w.settle()
	// The sync user may no longer comment on the CRM case.
	w.crm.InjectFault(crmsim.Fault{Op: crmsim.OpAddComment, Status: 403})
	var logs logRecorder
	w.engine.Log = logs.logger()
	w.crm.ResetCalls()
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("DetectOutages with the CRM refusing the notice: %v", err)
	}
	if got := len(logs.entries("the resumed notice cannot be posted; its outage flag is cleared")); got != 1 {
		t.Errorf("%d log lines about the cleared flag, want 1", got)
	}
	if m := w.mapping(name); m.Company.OutageNoticeSent || m.Google.OutageNoticeSent {
		t.Errorf("flags google %v, company %v; want both cleared", m.Google.OutageNoticeSent, m.Company.OutageNoticeSent)
	}
	w.crm.ResetCalls()
	for i := 0; i < 3; i++ {
		if _, err := w.engine.DetectOutages(w.ctx); err != nil {
			t.Fatalf("later run %d: %v", i+1, err)
		}
	}
	if diff := cmp.Diff(map[string]int{}, w.crm.Calls()); diff != "" {
		t.Errorf("CRM calls of three later runs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"outage", "resumed"}, notices(w.googleBodies(name))); diff != "" {
		t.Errorf("notices on Google (-want +got):\n%s", diff)
	}
	_ = id
}

func TestOutageDetectionReadsOnlyTheMappingsThatMayBeLate(t *testing.T) {
	w := newWorldOn(t, casesync.Config{}, storeKinds[1])
	fs, ok := w.store.(*store.Store)
	if !ok {
		t.Fatalf("the Firestore store kind gave a %T", w.store)
	}
	var names []string
	for i := 0; i < 5; i++ {
		names = append(names, w.newGoogleCase(fmt.Sprintf("Case %d", i), "P2"))
	}
	w.settle()
	// One of them is resolved.
	if err := w.crm.HumanClose(w.mapping(names[4]).CompanyCaseID); err != nil {
		t.Fatal(err)
	}
	w.settle()
	reads := func() int64 {
		t.Helper()
		before := fs.Reads()
		if _, err := w.engine.DetectOutages(w.ctx); err != nil && !errors.Is(err, casesync.ErrOutage) {
			t.Fatal(err)
		}
		return fs.Reads() - before
	}
	if got := reads(); got != 1 {
		t.Errorf("reads with every mapping in step = %d, want 1 (the poll state)", got)
	}
	// A change of one case waits; the pollers stay healthy.
	if _, err := w.google.AddComment(names[0], "news", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	w.engine.PollGoogle(w.ctx)
	w.queue.take()
	w.clock.Advance(3 * time.Minute)
	w.engine.PollGoogle(w.ctx)
	w.engine.PollCRM(w.ctx)
	w.queue.take()
	if got := reads(); got != 2 {
		t.Errorf("reads with one change waiting 3 minutes = %d, want 2 (the poll state and that mapping)", got)
	}
}

func TestTheOutageAlertIsLoggedOnceBeforeAnyNotice(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := casesynctest.NewMemStore()
	late := seedOutage(ctx, t, s, now, 200, 150)
	ports := newSlowPorts(time.Millisecond)
	var logs logRecorder
	var early atomic.Bool
	early.Store(true)
	ports.hang = func(side casesync.Side, op string) bool {
		if op == "comments.create" && len(logs.entries(casesync.OutageMessage)) == 0 {
			early.Store(false)
		}
		return false
	}
	e := &casesync.Engine{Google: slowGoogle{p: ports}, CRM: slowCRM{p: ports}, Store: s, Publisher: &countingPublisher{},
		Clock: fixedClock{now}, Log: logs.logger()}
	rep, err := e.DetectOutages(ctx)
	if !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages = %v, want ErrOutage", err)
	}
	if rep.Notified != 300 {
		t.Errorf("notices posted = %d, want 300", rep.Notified)
	}
	if !early.Load() {
		t.Errorf("a notice was posted before the alerting entry was logged")
	}
	got := logs.entries(casesync.OutageMessage)
	if len(got) != 1 {
		t.Fatalf("%d %q entries, want 1", len(got), casesync.OutageMessage)
	}
	ids, _ := got[0].attrs["mappingIds"].([]string)
	if got[0].level != slog.LevelError || got[0].attrs["count"] != int64(150) || len(ids) != 100 || got[0].attrs["idsOmitted"] != int64(50) {
		t.Errorf("entry: level %v, count %v, %d ids, %v omitted; want ERROR, 150, 100 ids and 50 omitted",
			got[0].level, got[0].attrs["count"], len(ids), got[0].attrs["idsOmitted"])
	}
	for _, id := range ids {
		if !slices.Contains(late, id) {
			t.Errorf("the entry names %s, which is in step", id)
		}
	}
}

func TestOneHungCallDoesNotHoldOutageDetection(t *testing.T) {
	defer casesync.SetNoticeLimits(16, 200*time.Millisecond, time.Minute)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := casesynctest.NewMemStore()
	late := seedOutage(ctx, t, s, now, 60, 40)
	ports := newSlowPorts(5 * time.Millisecond)
	// The CRM takes every notice and never answers.
	ports.hang = func(side casesync.Side, op string) bool {
		return side == casesync.SideCompany && op == "comments.create"
	}
	e := &casesync.Engine{Google: slowGoogle{p: ports}, CRM: slowCRM{p: ports}, Store: s, Publisher: &countingPublisher{}, Clock: fixedClock{now}}
	start := time.Now()
	rep, err := e.DetectOutages(ctx)
	took := time.Since(start)
	if !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages = %v, want ErrOutage", err)
	}
	if took > 5*time.Second {
		t.Errorf("the run took %v with the CRM hanging; want it bounded by the per-call timeout (200 ms here, 16 mappings at once)", took)
	}
	if rep.Notified != 40 {
		t.Errorf("notices posted = %d, want the 40 on Google", rep.Notified)
	}
	for _, id := range late {
		m, err := s.GetMapping(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Google.OutageNoticeSent || m.Company.OutageNoticeSent || !m.Company.OutageNoticeIntent {
			t.Fatalf("mapping %s: sent google %v, company %v, intent company %v; want true, false, true",
				id, m.Google.OutageNoticeSent, m.Company.OutageNoticeSent, m.Company.OutageNoticeIntent)
		}
	}
}

func TestOutageNoticesArePostedInBoundedParallel(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := casesynctest.NewMemStore()
	seedOutage(ctx, t, s, now, 100, 80)
	ports := newSlowPorts(20 * time.Millisecond)
	e := &casesync.Engine{Google: slowGoogle{p: ports}, CRM: slowCRM{p: ports}, Store: s, Publisher: &countingPublisher{}, Clock: fixedClock{now}}
	if _, err := e.DetectOutages(ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("DetectOutages = %v, want ErrOutage", err)
	}
	// Each mapping posts on its two sides at once.
	limit := int64(2 * casesync.NoticeParallel())
	if got := ports.maxInFlight.Load(); got <= 2 || got > limit {
		t.Errorf("at most %d calls were in flight at once; want more than 2 and at most %d", got, limit)
	}
	if got := ports.calls.Load(); got != 320 {
		t.Errorf("%d calls, want 320 (a list and a post per side of 80 mappings)", got)
	}
}

func TestAChangeNeverReconciledIsLoggedAsStuckLongBeforeItsTolerance(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Stuck", "P2")
	w.settle()
	var logs logRecorder
	w.engine.Log = logs.logger()

	// The poller hands the change on; sync-case never gets it.
	if _, err := w.google.AddComment(name, "news", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.queue.take()
	since := w.mapping(name).Google.PendingSince

	for _, step := range []struct {
		after     time.Duration
		wantStuck int
	}{{time.Minute, 0}, {2 * time.Minute, 1}} {
		w.clock.Advance(step.after)
		w.engine.PollGoogle(w.ctx)
		w.engine.PollCRM(w.ctx)
		w.queue.take()
		rep, err := w.engine.DetectOutages(w.ctx)
		if err != nil {
			t.Fatalf("%v after the change: DetectOutages = %v, want no outage yet", w.clock.Now().Sub(since), err)
		}
		if rep.Stuck != step.wantStuck {
			t.Errorf("%v after the change: %d stuck, want %d", w.clock.Now().Sub(since), rep.Stuck, step.wantStuck)
		}
	}
	got := logs.entries(casesync.StuckMessage)
	if len(got) != 1 {
		t.Fatalf("%d %q entries, want 1", len(got), casesync.StuckMessage)
	}
	want := []string{w.mapping(name).ID + " since " + since.Format(time.RFC3339)}
	if got[0].level != slog.LevelWarn || !cmp.Equal(want, got[0].attrs["mappings"]) || !since.Equal(got[0].attrs["oldestSince"].(time.Time)) {
		t.Errorf("entry: level %v, mappings %v, oldestSince %v; want WARN, %v, %v", got[0].level, got[0].attrs["mappings"], got[0].attrs["oldestSince"], want, since)
	}
}

// pausingCRM posts a comment whose body starts with prefix, then tells
// posted and waits for resume before answering: a notice job caught
// between its post and recording it.
type pausingCRM struct {
	casesync.CRM
	prefix         string
	posted, resume chan struct{}
}

func (c pausingCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	got, err := c.CRM.AddComment(ctx, id, body, public)
	if strings.HasPrefix(body, c.prefix) {
		c.posted <- struct{}{}
		<-c.resume
	}
	return got, err
}

// pausingStore hands over its outage candidates, then tells listed and
// waits for resume: a run of outage detection that has judged the
// mappings and not yet started their notice jobs.
type pausingStore struct {
	casesync.Store
	listed, resume chan struct{}
}

func (s pausingStore) ListOutageCandidates(ctx context.Context, before time.Time, allOpen bool) ([]casesync.Mapping, error) {
	got, err := s.Store.ListOutageCandidates(ctx, before, allOpen)
	s.listed <- struct{}{}
	<-s.resume
	return got, err
}

// lastNotice is the last outage or resumed notice among bodies, or "".
func lastNotice(bodies []string) string {
	n := notices(bodies)
	if len(n) == 0 {
		return ""
	}
	return n[len(n)-1]
}

// outageOnlyOnGoogle makes a world with one synced case, then an outage
// with the CRM down: detection posts the notice on Google and records the
// CRM's as intended. The CRM is back when it returns.
func outageOnlyOnGoogle(t *testing.T, title string) (w *world, name, crmID string) {
	t.Helper()
	w = newWorld(t, casesync.Config{})
	name = w.newGoogleCase(title, "P2")
	w.settle()
	crmID = w.mapping(name).CompanyCaseID
	w.crm.SetDown(true)
	w.clock.Advance(11 * time.Minute)
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		w.t.Fatalf("DetectOutages during the outage = %v, want ErrOutage", err)
	}
	w.crm.SetDown(false)
	return w, name, crmID
}

func TestTwoOutageRunsNeverLeaveAFlagTheSideDoesNotShow(t *testing.T) {
	w, name, id := outageOnlyOnGoogle(t, "Overlapping detections")

	// Run A, still out of sync, posts the CRM's outage notice and is
	// slow to record it.
	pc := pausingCRM{CRM: w.engine.CRM, prefix: "This case has not synced", posted: make(chan struct{}), resume: make(chan struct{})}
	a := &casesync.Engine{Google: w.engine.Google, CRM: pc, Store: w.store, Publisher: w.queue, Clock: w.clock}
	aDone := make(chan error, 1)
	go func() { _, err := a.DetectOutages(w.ctx); aDone <- err }()
	select {
	case <-pc.posted:
	case err := <-aDone:
		t.Fatalf("run A ended (%v) without posting the CRM's outage notice", err)
	}
	// Meanwhile both pollers succeed, so the mapping is back in step, and
	// run B looks at it.
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine.PollCRM(w.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("run B: %v", err)
	}
	close(pc.resume)
	if err := <-aDone; !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("run A = %v, want ErrOutage", err)
	}

	// Whatever order they ran in, each side's flag says what its last
	// notice is: an outage flag with "Syncing has resumed." last would
	// never be answered, a missing one would leave the outage notice
	// without its end.
	m := w.mapping(name)
	gLast, cLast := lastNotice(w.googleBodies(name)), lastNotice(bodiesOf(w.crmComments(id)))
	if m.Google.OutageNoticeSent != (gLast == "outage") || m.Company.OutageNoticeSent != (cLast == "outage") {
		t.Errorf("after both runs: flags google %v, company %v; last notices google %q, CRM %q",
			m.Google.OutageNoticeSent, m.Company.OutageNoticeSent, gLast, cLast)
	}

	w.settle()
	for i := 0; i < 2; i++ {
		if _, err := w.engine.DetectOutages(w.ctx); err != nil {
			t.Fatalf("run %d after both: %v", i+1, err)
		}
	}
	w.checkNoticesEnded(name, id, []string{"outage", "resumed"}, []string{"outage", "resumed"})
}

func TestAnOutageRunActsOnTheMappingAsItIsWhenItsNoticeJobStarts(t *testing.T) {
	w, name, id := outageOnlyOnGoogle(t, "A late judgement")

	// Run A reads the mapping while it is out of sync, and is slow to
	// start its notice jobs.
	ps := pausingStore{Store: w.store, listed: make(chan struct{}), resume: make(chan struct{})}
	a := &casesync.Engine{Google: w.engine.Google, CRM: w.engine.CRM, Store: ps, Publisher: w.queue, Clock: w.clock}
	aDone := make(chan error, 1)
	go func() { _, err := a.DetectOutages(w.ctx); aDone <- err }()
	<-ps.listed
	// Meanwhile the pollers succeed and run B ends the outage.
	w.settle()
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("run B: %v", err)
	}
	close(ps.resume)
	<-aDone

	// Run A's judgement is stale: the CRM never saw the outage, and must
	// not get a notice of it now that it is over.
	w.checkNoticesEnded(name, id, []string{"outage", "resumed"}, []string{})
}

// outageState names the outage flags and intents set on m, "" if none.
func outageState(m casesync.Mapping) string {
	var set []string
	for _, f := range []struct {
		name string
		on   bool
	}{
		{"sent to Google", m.Google.OutageNoticeSent}, {"sent to the CRM", m.Company.OutageNoticeSent},
		{"intended on Google", m.Google.OutageNoticeIntent}, {"intended on the CRM", m.Company.OutageNoticeIntent},
	} {
		if f.on {
			set = append(set, f.name)
		}
	}
	return strings.Join(set, ", ")
}

// checkNoticesEnded checks the outage and resumed notices on each side of
// the case and that its mapping keeps no outage flag or intent.
func (w *world) checkNoticesEnded(name, crmID string, wantGoogle, wantCRM []string) {
	w.t.Helper()
	if diff := cmp.Diff(wantGoogle, notices(w.googleBodies(name))); diff != "" {
		w.t.Errorf("notices on Google (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCRM, notices(bodiesOf(w.crmComments(crmID)))); diff != "" {
		w.t.Errorf("notices on the CRM (-want +got):\n%s", diff)
	}
	if st := outageState(w.mapping(name)); st != "" {
		w.t.Errorf("outage flags and intents left set: %s", st)
	}
}
