package ops

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/ops/opstest"
	"github.com/casebridge/casebridge/shared/store"
	"github.com/google/go-cmp/cmp"
)

// seedMapping stores a mapping of the two cases with fn's changes applied.
func seedMapping(t *testing.T, st *store.Store, google, crm string, fn func(*casesync.Mapping)) casesync.Mapping {
	t.Helper()
	m, _, err := st.ResolveMapping(t.Context(), google, crm, true, func(m *casesync.Mapping) { m.Origin = casesync.SideGoogle })
	if err != nil {
		t.Fatal(err)
	}
	m, err = st.UpdateMapping(t.Context(), m.ID, func(m *casesync.Mapping) error { fn(m); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// countingReader counts what settle asks of the store.
type countingReader struct {
	MappingReader
	mu      sync.Mutex
	ids     []string
	keys    []string
	lookups int
	polls   int
}

func (c *countingReader) GetMapping(ctx context.Context, id string) (casesync.Mapping, error) {
	c.mu.Lock()
	c.ids = append(c.ids, id)
	c.mu.Unlock()
	return c.MappingReader.GetMapping(ctx, id)
}

func (c *countingReader) LookupMappings(ctx context.Context, side casesync.Side, keys []string) (map[string]casesync.Mapping, error) {
	c.mu.Lock()
	c.lookups++
	for _, k := range keys {
		c.keys = append(c.keys, string(side)+" "+k)
	}
	c.mu.Unlock()
	return c.MappingReader.LookupMappings(ctx, side, keys)
}

func (c *countingReader) GetPollState(ctx context.Context) (casesync.PollState, error) {
	c.mu.Lock()
	c.polls++
	c.mu.Unlock()
	return c.MappingReader.GetPollState(ctx)
}

func TestSettledMessagesAreThoseTheMappingsAndPollsHaveMadeGood(t *testing.T) {
	st := newFailureStore(t)
	ctx := t.Context()
	first := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	dead := first.Add(time.Hour)
	updated := first.Add(-time.Minute)
	ok := func(m *casesync.Mapping) {
		m.Google.SeenUpdateTime, m.Company.SeenUpdateTime = updated, updated
		m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = dead.Add(time.Minute), dead.Add(time.Minute)
	}
	healed := seedMapping(t, st, "projects/p/cases/1", "c1", ok)
	failing := seedMapping(t, st, "projects/p/cases/2", "c2", func(m *casesync.Mapping) {
		ok(m)
		m.Attempts, m.LastError, m.FailingSince = 3, "CRM tickets.get: HTTP 503", first
	})
	givenUp := seedMapping(t, st, "projects/p/cases/3", "c3", func(m *casesync.Mapping) { ok(m); m.GaveUpAt = dead })
	unlinked := seedMapping(t, st, "projects/p/cases/4", "", ok)
	behind := seedMapping(t, st, "projects/p/cases/5", "c5", func(m *casesync.Mapping) {
		ok(m)
		m.Company.SeenUpdateTime = updated.Add(-time.Second)
		m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = first.Add(30*time.Minute), first.Add(30*time.Minute)
	})
	oneSideSynced := seedMapping(t, st, "projects/p/cases/6", "c6", func(m *casesync.Mapping) {
		ok(m)
		m.Company.UpdatesSyncedAt = first.Add(-time.Minute)
	})
	if err := st.RecordPoll(ctx, casesync.SideGoogle, dead.Add(time.Minute), dead.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordPoll(ctx, casesync.SideCompany, dead.Add(-time.Minute), dead.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}

	caseUpdated := func(side casesync.Side, id string, at time.Time) DeadLetter {
		return DeadLetter{Function: eventing.FunctionSyncCase, SourceTopic: "t-" + eventing.TopicCaseUpdated, Kind: KindCase,
			Case: &casesync.CaseRef{Side: side, ID: id, UpdateTime: at}, FirstPublishTime: first, DeadLetteredAt: dead}
	}
	syncRequested := func(ref casesync.CaseRef) DeadLetter {
		return DeadLetter{Function: eventing.FunctionSyncCase, SourceTopic: "t-" + eventing.TopicSyncRequested, Kind: KindCase,
			Case: &ref, FirstPublishTime: first, DeadLetteredAt: dead}
	}
	tick := func(function string) DeadLetter {
		return DeadLetter{Function: function, Kind: KindTick, FirstPublishTime: first, DeadLetteredAt: dead}
	}
	tests := []struct {
		name string
		dl   DeadLetter
		want verdict
	}{
		{"a case update the mapping has reconciled since, with no failure outstanding, is settled",
			caseUpdated(casesync.SideGoogle, "projects/p/cases/1", updated.Add(-time.Second)), verdict{Settled: true, By: "its mapping " + healed.ID + " has reconciled the google case as updated at 2026-05-01T08:59:00Z"}},
		{"a case update at exactly the time the mapping has seen is settled",
			caseUpdated(casesync.SideCompany, "c1", updated), verdict{Settled: true, By: healed.ID}},
		{"a Google case is found whatever project form its name uses",
			caseUpdated(casesync.SideGoogle, "projects/my-project/cases/1", updated), verdict{Settled: true, By: healed.ID}},
		{"a case update newer than what the mapping has seen is not settled",
			caseUpdated(casesync.SideCompany, "c5", updated), verdict{Not: "has reconciled the company case as updated at 2026-05-01T08:58:59Z only, before this message's update time 2026-05-01T08:59:00Z"}},
		{"a case update of a mapping that still fails is not settled, however far it has seen",
			caseUpdated(casesync.SideCompany, "c2", updated.Add(-time.Hour)), verdict{Not: "its mapping " + failing.ID + " is still failing: 3 failed reconciliation(s) since 2026-05-01T09:00:00Z"}},
		{"a case update of a mapping the sweep gave up on is not settled",
			caseUpdated(casesync.SideGoogle, "projects/p/cases/3", updated), verdict{Not: "the sweep gave up on its mapping " + givenUp.ID}},
		{"a case update of a mapping not linked on both sides is not settled",
			caseUpdated(casesync.SideGoogle, "projects/p/cases/4", updated), verdict{Not: "its mapping " + unlinked.ID + " is not linked"}},
		{"a case update a poll sent naming its mapping is judged by the case",
			func() DeadLetter {
				d := caseUpdated(casesync.SideGoogle, "projects/p/cases/1", updated.Add(-time.Second))
				d.Case.MappingID = "m-since-deleted"
				return d
			}(), verdict{Settled: true, By: "its mapping " + healed.ID + " has reconciled the google case"}},
		{"a case update without a mapping cannot be judged",
			caseUpdated(casesync.SideCompany, "c404", updated), verdict{Problem: "no mapping holds company case c404"}},
		{"a case update without an update time needs a complete reconciliation after its publication",
			caseUpdated(casesync.SideCompany, "c1", time.Time{}), verdict{Settled: true, By: "its mapping " + healed.ID + " reconciled completely at 2026-05-01T10:01:00Z, after the message was first published at 2026-05-01T09:00:00Z"}},
		{"a case update without an update time is not settled when one side last reconciled before its publication",
			caseUpdated(casesync.SideCompany, "c6", time.Time{}), verdict{Not: "its mapping " + oneSideSynced.ID + " last reconciled completely at 2026-05-01T08:59:00Z, not after the message was first published"}},
		{"a sync request for a mapping reconciled completely since it was published is settled",
			syncRequested(casesync.CaseRef{MappingID: healed.ID}), verdict{Settled: true, By: "reconciled completely at 2026-05-01T10:01:00Z, after the message was first published"}},
		{"a sync request for a case, even with an update time the mapping has seen, needs a complete reconciliation after its publication",
			syncRequested(casesync.CaseRef{Side: casesync.SideCompany, ID: "c6", UpdateTime: updated.Add(-time.Hour)}), verdict{Not: "its mapping " + oneSideSynced.ID + " last reconciled completely at 2026-05-01T08:59:00Z, not after the message was first published at 2026-05-01T09:00:00Z"}},
		{"without its first publication time, a sync request needs a complete reconciliation after its dead-lettering",
			func() DeadLetter {
				d := syncRequested(casesync.CaseRef{MappingID: behind.ID})
				d.FirstPublishTime = time.Time{}
				return d
			}(), verdict{Not: "not after the message was dead-lettered at 2026-05-01T10:00:00Z"}},
		{"a sync request for a mapping id that does not exist cannot be judged",
			syncRequested(casesync.CaseRef{MappingID: "m404"}), verdict{Problem: "mapping m404 does not exist"}},
		{"a sync request for a mapping that still fails is not settled",
			syncRequested(casesync.CaseRef{MappingID: failing.ID}), verdict{Not: "still failing"}},
		{"a Google poll tick is settled by a successful poll started after its dead-lettering",
			tick(eventing.FunctionPollGoogle), verdict{Settled: true, By: "the Google poller succeeded in a poll started at 2026-05-01T10:01:00Z, after the tick was dead-lettered at 2026-05-01T10:00:00Z"}},
		{"a CRM poll tick is not settled by a poll started before its dead-lettering",
			tick(eventing.FunctionPollCRM), verdict{Not: "the CRM poller last succeeded in a poll started at 2026-05-01T09:59:00Z"}},
		{"the other ticks are not judged",
			tick(eventing.FunctionDetectOutages), verdict{Problem: "not judged for function DetectOutages"}},
		{"a malformed message is not judged",
			DeadLetter{Function: eventing.FunctionSyncCase, Kind: KindMalformed, FirstPublishTime: first, DeadLetteredAt: dead}, verdict{Problem: "not judged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkVerdict(ctx, t, st, tt.dl, tt.want) })
	}

	t.Run("each mapping, case and the poll state is read once however many messages name it", func(t *testing.T) {
		r := &countingReader{MappingReader: st}
		dls := []DeadLetter{
			caseUpdated(casesync.SideGoogle, "projects/p/cases/1", updated), caseUpdated(casesync.SideGoogle, "projects/p/cases/1", updated.Add(-time.Hour)),
			caseUpdated(casesync.SideCompany, "c2", updated), caseUpdated(casesync.SideCompany, "c2", updated), caseUpdated(casesync.SideCompany, "c404", updated),
			syncRequested(casesync.CaseRef{MappingID: healed.ID}), syncRequested(casesync.CaseRef{MappingID: healed.ID}),
			tick(eventing.FunctionPollGoogle), tick(eventing.FunctionPollCRM),
		}
		if err := (&DeadLetterQueues{Mappings: r}).settle(ctx, dls); err != nil {
			t.Fatal(err)
		}
		got := [4]any{r.ids, r.keys, r.lookups, r.polls}
		want := [4]any{[]string{healed.ID}, []string{"google projects/p/cases/1", "company c2", "company c404"}, 2, 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("mapping ids, case keys, lookups and poll state reads (-want +got):\n%s", diff)
		}
		if !dls[0].Settled || !dls[1].Settled || dls[2].Settled || dls[4].SettledProblem == "" || !dls[5].Settled || !dls[7].Settled || dls[8].Settled {
			t.Errorf("judged %+v", dls)
		}
	})

	t.Run("an unreadable store settles nothing and says why", func(t *testing.T) {
		closed := newFailureStore(t)
		closed.Close()
		dls := []DeadLetter{caseUpdated(casesync.SideGoogle, "projects/p/cases/1", updated), syncRequested(casesync.CaseRef{MappingID: healed.ID}), tick(eventing.FunctionPollGoogle)}
		(&DeadLetterQueues{Mappings: closed}).settle(ctx, dls)
		for _, d := range dls {
			if d.Settled || !strings.Contains(d.SettledProblem, "could not be read") {
				t.Errorf("%s message: settled %v, problem %q; want not settled, and the reason the store could not be read", d.Kind, d.Settled, d.SettledProblem)
			}
		}
	})
}

func orNothing(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// deadLetter puts a message on sub's dead-letter topic as Pub/Sub
// dead-letters it, first published at first, and returns its id there.
func (f *fixture) deadLetter(t *testing.T, sub eventing.Subscription, body []byte, first time.Time) string {
	t.Helper()
	p := f.client.Publisher(sub.DeadLetterTopic)
	defer p.Stop()
	id, err := p.Publish(t.Context(), &pubsub.Message{Data: body, Attributes: map[string]string{
		AttrDeliveryCount: "10", AttrSourceSubscription: "projects/" + testProject + "/subscriptions/" + sub.Name,
		AttrSourceProject: testProject, AttrSourcePublishTime: first.UTC().Format(time.RFC3339Nano)}}).Get(t.Context())
	if err != nil {
		t.Fatalf("publishing on %s: %v", sub.DeadLetterTopic, err)
	}
	return id
}

func (f *fixture) sub(t *testing.T, name string) eventing.Subscription {
	t.Helper()
	for _, s := range f.topo {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no subscription %s", name)
	return eventing.Subscription{}
}

func TestPurgeOfSettledMessagesKeepsEveryOther(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.q.Mappings = f.store
	updated := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	caseUpdated := f.sub(t, "t-sync-case-case-updated")
	subs := []string{caseUpdated.DeadLetterSubscription(), f.sub(t, "t-poll-google").DeadLetterSubscription()}

	// The mapping of case 1 reconciled past the update after the outage;
	// the mapping of c2 has seen as far but fails still; c3 has none.
	healed := seedMapping(t, f.store, "projects/p/cases/1", "c1", func(m *casesync.Mapping) {
		m.Google.SeenUpdateTime = updated.Add(time.Minute)
	})
	failing := seedMapping(t, f.store, "projects/p/cases/2", "c2", func(m *casesync.Mapping) {
		m.Company.SeenUpdateTime = updated.Add(time.Minute)
		m.Attempts, m.FailingSince = 4, updated
	})
	ref1 := casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1", UpdateTime: updated}
	body1, _ := eventing.EncodeCaseRef(ref1)
	body2, _ := eventing.EncodeCaseRef(casesync.CaseRef{Side: casesync.SideCompany, ID: "c2", UpdateTime: updated})
	body3, _ := eventing.EncodeCaseRef(casesync.CaseRef{Side: casesync.SideCompany, ID: "c3", UpdateTime: updated})

	// Case 1 and the tick fail their way to the dead-letter topics; the
	// emulator does not reliably dead-letter several messages of one push
	// subscription at once, so the other two are put there as Pub/Sub
	// would.
	f.publish(t, "t-case-updated", body1, "")
	f.publish(t, "t-tick-poll-google", []byte("tick"), "")
	id2 := f.deadLetter(t, caseUpdated, body2, time.Now())
	id3 := f.deadLetter(t, caseUpdated, body3, time.Now())
	dls := f.waitListed(t, subs, 4)
	id1, tickID := byCase(dls, ref1.ID).MessageID, byCase(dls, "tick").MessageID
	if id1 == "" || tickID == "" {
		t.Fatalf("dead-lettered %+v, want case 1 and a tick among them", dls)
	}
	type state struct {
		Settled            bool
		By, Not, Problem   bool // set or not
		ByMentions, NotHas string
	}
	judged := func(dls []DeadLetter) map[string]state {
		out := map[string]state{}
		for _, d := range dls {
			s := state{Settled: d.Settled, By: d.SettledBy != "", Not: d.NotSettledBecause != "", Problem: d.SettledProblem != ""}
			out[d.MessageID] = s
		}
		return out
	}

	t.Run("list tells the healed case's message settled, the failing one's not, and cannot tell without a mapping", func(t *testing.T) {
		want := map[string]state{
			id1:    {Settled: true, By: true},
			id2:    {Not: true},
			id3:    {Problem: true},
			tickID: {Not: true},
		}
		if diff := cmp.Diff(want, judged(dls)); diff != "" {
			t.Errorf("settled states by message (-want +got):\n%s", diff)
		}
		if d := byCase(dls, ref1.ID); !strings.Contains(d.SettledBy, "its mapping "+healed.ID+" has reconciled the google case as updated at 2026-05-01T09:01:00Z") {
			t.Errorf("case 1 settled by %q, want its mapping named with the update it has seen", d.SettledBy)
		}
		if d := byCase(dls, "c2"); !strings.Contains(d.NotSettledBecause, "its mapping "+failing.ID+" is still failing: 4 failed") {
			t.Errorf("c2 not settled because %q, want its mapping's failures", d.NotSettledBecause)
		}
		if d := byCase(dls, "c3"); !strings.Contains(d.SettledProblem, "no mapping holds company case c3") {
			t.Errorf("c3's problem is %q, want that no mapping holds it", d.SettledProblem)
		}
	})

	t.Run("a poll tick is settled once its poller succeeds after its dead-lettering", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Microsecond) // as Firestore keeps it
		if err := f.store.RecordPoll(ctx, casesync.SideGoogle, now, now); err != nil {
			t.Fatal(err)
		}
		got, err := f.q.List(ctx, subs, Selection{IDs: []string{tickID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Settled || !strings.Contains(got[0].SettledBy, "the Google poller succeeded in a poll started at "+now.Format(time.RFC3339Nano)) {
			t.Errorf("tick %+v, want it settled by the Google poll started at %v", got, now)
		}
	})

	t.Run("purging only settled messages without the mappings purges nothing", func(t *testing.T) {
		blind := *f.q
		blind.Mappings = nil
		purged, kept, err := blind.Purge(ctx, subs, Selection{OnlySettled: true})
		if err == nil || len(purged) != 0 || len(kept) != 0 {
			t.Errorf("Purge = %v, %v, %v; want an error and nothing purged", ids(purged), ids(kept), err)
		}
	})

	t.Run("purging only settled messages with Firestore unreachable purges nothing", func(t *testing.T) {
		t.Setenv("FIRESTORE_EMULATOR_HOST", opstest.ClosedAddr(t))
		unreachable, err := store.New(ctx, testProject)
		if err != nil {
			t.Fatal(err)
		}
		defer unreachable.Close()
		blind := *f.q
		blind.Mappings = unreachable
		pctx, cancel := WithTimeout(ctx, 8*time.Second)
		defer cancel()
		purged, kept, err := blind.Purge(pctx, subs, Selection{OnlySettled: true})
		var ue *UnreachableError
		if !errors.As(err, &ue) || ue.Service != ServiceFirestore || len(purged) != 0 || len(kept) != 4 {
			t.Errorf("Purge = %v, kept %v, %v; want an unreachable Firestore, nothing purged, all 4 kept", ids(purged), ids(kept), err)
		}
	})

	t.Run("purging only settled messages with a store that answers with errors purges nothing", func(t *testing.T) {
		closed, err := store.New(ctx, testProject)
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		blind := *f.q
		blind.Mappings = closed
		purged, kept, err := blind.Purge(ctx, subs, Selection{OnlySettled: true})
		if err != nil || len(purged) != 0 || len(kept) != 4 {
			t.Errorf("Purge = %v, kept %v, %v; want nothing purged, all 4 kept", ids(purged), ids(kept), err)
		}
		for _, d := range kept {
			if !strings.Contains(d.SettledProblem, "could not be read") {
				t.Errorf("kept %s with problem %q, want the reason the store could not be read", d.MessageID, d.SettledProblem)
			}
		}
		left, err := f.q.List(ctx, subs, Selection{})
		if err != nil || len(left) != 4 {
			t.Errorf("after the purge %d messages are left (%v), want all 4", len(left), err)
		}
	})

	t.Run("purge of settled messages removes those alone and says why it kept the others", func(t *testing.T) {
		purged, kept, err := f.q.Purge(ctx, subs, Selection{OnlySettled: true})
		if err != nil {
			t.Fatal(err)
		}
		want := [2][]string{ids([]DeadLetter{{MessageID: id1}, {MessageID: tickID}}), ids([]DeadLetter{{MessageID: id2}, {MessageID: id3}})}
		if diff := cmp.Diff(want, [2][]string{ids(purged), ids(kept)}); diff != "" {
			t.Errorf("purged and kept (-want +got):\n%s", diff)
		}
		for _, d := range kept {
			if d.Settled || d.NotSettledBecause == "" && d.SettledProblem == "" {
				t.Errorf("kept %s without saying why: %+v", d.MessageID, d)
			}
		}
		left, err := f.q.List(ctx, subs, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[1], ids(left)); diff != "" {
			t.Errorf("left after the purge (-want +got):\n%s", diff)
		}
	})
}

// verdict is what settle should make of a dead letter.
type verdict struct {
	Settled bool
	// The words the reason, what still holds it, or the problem must
	// hold; the other two must be empty.
	By, Not, Problem string
}

// checkVerdict judges dl alone against st and checks the verdict.
func checkVerdict(ctx context.Context, t *testing.T, st MappingReader, dl DeadLetter, want verdict) {
	t.Helper()
	dls := []DeadLetter{dl}
	if err := (&DeadLetterQueues{Mappings: st}).settle(ctx, dls); err != nil {
		t.Fatal(err)
	}
	d := dls[0]
	if d.Settled != want.Settled {
		t.Errorf("settled = %v, want %v (by %q, not because %q, problem %q)", d.Settled, want.Settled, d.SettledBy, d.NotSettledBecause, d.SettledProblem)
	}
	for _, f := range []struct{ name, got, want string }{
		{"settled by", d.SettledBy, want.By}, {"not settled because", d.NotSettledBecause, want.Not}, {"problem", d.SettledProblem, want.Problem},
	} {
		if (f.want == "") != (f.got == "") || !strings.Contains(f.got, f.want) {
			t.Errorf("%s is %q, want %q", f.name, f.got, orNothing(f.want))
		}
	}
}
