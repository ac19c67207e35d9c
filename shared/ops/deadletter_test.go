package ops

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/store"
	"github.com/google/go-cmp/cmp"
)

const testProject = "casebridge-ops-test"

// pushTarget stands in for the functions: it answers every push with 500
// while failing is set (so Pub/Sub retries, then dead-letters), else 204,
// and records what it accepted.
type pushTarget struct {
	failing  atomic.Bool
	mu       sync.Mutex
	accepted []pushed
}

type pushed struct {
	Topic string // the topic id at the end of the push path
	Body  string // the wrapped Pub/Sub message's data
}

func (p *pushTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if p.failing.Load() {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	e := eventing.MessagePublishedData{}
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.accepted = append(p.accepted, pushed{Topic: r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], Body: string(e.Message.Data)})
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (p *pushTarget) got() []pushed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.accepted)
}

// fixture is a Pub/Sub emulator with casebridge's topology (prefix "t-")
// pushing to a pushTarget, with a retry policy short enough that a failing
// message is dead-lettered in seconds, and a Firestore emulator holding the
// failure records the queues read (no function writes them here).
type fixture struct {
	client *pubsub.Client
	topo   []eventing.Subscription
	target *pushTarget
	store  *store.Store
	q      *DeadLetterQueues
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emu := emulators.StartPubSubForTest(t)
	c, err := eventing.NewEmulatorClient(t.Context(), testProject, emu.Host)
	if err != nil {
		t.Fatal(err)
	}
	st := newFailureStore(t)
	target := &pushTarget{}
	target.failing.Store(true)
	srv := httptest.NewServer(target)
	topo := eventing.Topology("t-")
	for i := range topo {
		topo[i].MinBackoff = time.Second
		topo[i].MaxBackoff = time.Second
		topo[i].MaxDeliveryAttempts = 5
	}
	if err := eventing.EnsureTopology(t.Context(), c, testProject, srv.URL, topo); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Subscriptions first, so nothing pushes to the closed server.
		if err := eventing.DeleteTopology(context.Background(), c, testProject, topo); err != nil {
			t.Errorf("deleting the topology: %v", err)
		}
		srv.Close()
		c.Close()
	})
	return &fixture{client: c, topo: topo, target: target, store: st,
		q: &DeadLetterQueues{Client: c, Project: testProject, Topology: topo, PullWait: 2 * time.Second, Failures: st}}
}

// newFailureStore starts a Firestore emulator for the test and returns a
// store on it.
func newFailureStore(t *testing.T) *store.Store {
	t.Helper()
	emu := emulators.StartFirestoreForTest(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", emu.Host)
	st, err := store.New(t.Context(), testProject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// publish publishes data on topic (an ordering key makes it ordered) and
// returns the message id.
func (f *fixture) publish(t *testing.T, topic string, data []byte, orderingKey string) string {
	t.Helper()
	p := f.client.Publisher(topic)
	p.EnableMessageOrdering = orderingKey != ""
	defer p.Stop()
	id, err := p.Publish(t.Context(), &pubsub.Message{Data: data, OrderingKey: orderingKey}).Get(t.Context())
	if err != nil {
		t.Fatalf("publishing on %s: %v", topic, err)
	}
	return id
}

// waitDeadLettered waits until the dead-letter subscriptions hold n
// messages in all and returns them.
func (f *fixture) waitDeadLettered(t *testing.T, n int) []DeadLetter {
	t.Helper()
	return f.waitListed(t, nil, n)
}

// waitListed waits until the dead-letter subscriptions subs (nil: all)
// hold n messages in all and returns them.
func (f *fixture) waitListed(t *testing.T, subs []string, n int) []DeadLetter {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		dls, err := f.q.List(t.Context(), subs, Selection{})
		if err != nil {
			t.Fatalf("listing the dead-letter subscriptions: %v", err)
		}
		if len(dls) >= n {
			return dls
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the dead-letter subscriptions hold %d messages, want %d", len(dls), n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// summary is what the tests compare of a DeadLetter.
type summary struct {
	DeadLetterSubscription, SourceSubscription, SourceTopic, Function string
	Kind                                                              Kind
	Case                                                              *casesync.CaseRef
	OrderingKey                                                       string
	DeliveryCount                                                     int
	LastError                                                         string
}

func summarize(dls []DeadLetter) []summary {
	out := []summary{}
	for _, d := range dls {
		out = append(out, summary{d.DeadLetterSubscription, d.SourceSubscription, d.SourceTopic, d.Function, d.Kind, d.Case, d.OrderingKey, d.DeliveryCount, d.LastError})
	}
	return out
}

func byCase(dls []DeadLetter, id string) DeadLetter {
	for _, d := range dls {
		if (d.Case != nil && (d.Case.ID == id || d.Case.MappingID == id)) || (id == "tick" && d.Kind == KindTick) {
			return d
		}
	}
	return DeadLetter{}
}

func ids(dls []DeadLetter) []string {
	var out []string
	for _, d := range dls {
		out = append(out, d.MessageID)
	}
	slices.Sort(out)
	return out
}

func TestDeadLetterQueues(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	case1 := casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1", UpdateTime: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	case2 := casesync.CaseRef{Side: casesync.SideCompany, ID: "42", UpdateTime: time.Date(2026, 5, 1, 9, 5, 0, 0, time.UTC)}
	body1, _ := eventing.EncodeCaseRef(case1)
	body2, _ := eventing.EncodeCaseRef(case2)

	// One message per subscription: the emulator does not reliably
	// dead-letter when several messages of one push subscription fail at
	// once.
	before := time.Now().Add(-time.Second)
	f.publish(t, "t-case-updated", body1, "")
	f.publish(t, "t-sync-requested", body2, "")
	f.publish(t, "t-tick-poll-google", []byte("tick"), "")
	f.publish(t, "t-tick-detect-outages", []byte("tick"), "")
	dls := f.waitDeadLettered(t, 4)
	after := time.Now()

	t.Run("list shows each dead-lettered message with its source, its case and its delivery count", func(t *testing.T) {
		ref1, ref2 := case1, case2
		want := []summary{
			{"t-detect-outages-dead-letter", "t-detect-outages", "t-tick-detect-outages", eventing.FunctionDetectOutages, KindTick, nil, "", 5, UnknownError},
			{"t-poll-google-dead-letter", "t-poll-google", "t-tick-poll-google", eventing.FunctionPollGoogle, KindTick, nil, "", 5, UnknownError},
			{"t-sync-case-case-updated-dead-letter", "t-sync-case-case-updated", "t-case-updated", eventing.FunctionSyncCase, KindCase, &ref1, "", 5, UnknownError},
			{"t-sync-case-sync-requested-dead-letter", "t-sync-case-sync-requested", "t-sync-requested", eventing.FunctionSyncCase, KindCase, &ref2, "", 5, UnknownError},
		}
		got := summarize(dls)
		sortSummaries(got)
		sortSummaries(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dead letters (-want +got):\n%s", diff)
		}
		for _, d := range dls {
			if d.FirstPublishTime.Before(before) || d.FirstPublishTime.After(after) {
				t.Errorf("message %s first published at %v, want between %v and %v", d.MessageID, d.FirstPublishTime, before, after)
			}
			if d.DeadLetteredAt.Before(d.FirstPublishTime) {
				t.Errorf("message %s dead-lettered at %v, before its first publication %v", d.MessageID, d.DeadLetteredAt, d.FirstPublishTime)
			}
		}
	})

	t.Run("a failure recorded during a message's life is shown as its last error", func(t *testing.T) {
		m := byCase(dls, case2.ID)
		f2 := eventing.DeliveryFailure{Key: eventing.FailureKey(eventing.FunctionSyncCase, &case2), Function: eventing.FunctionSyncCase,
			Error: "CRM tickets.get: HTTP 503: unavailable", At: m.DeadLetteredAt.Add(-time.Millisecond).Truncate(time.Microsecond), CaseRef: &case2}
		if err := f.store.RecordFailure(ctx, f2); err != nil {
			t.Fatal(err)
		}
		got, err := f.q.List(ctx, nil, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][2]any{}
		for _, d := range dls {
			want[d.MessageID] = [2]any{UnknownError, time.Time{}}
		}
		want[m.MessageID] = [2]any{f2.Error, f2.At}
		gotErrs := map[string][2]any{}
		for _, d := range got {
			gotErrs[d.MessageID] = [2]any{d.LastError, d.LastErrorAt}
			if d.LogFilter == "" {
				t.Errorf("message %s has no log filter", d.MessageID)
			}
		}
		if diff := cmp.Diff(want, gotErrs); diff != "" {
			t.Errorf("last errors and their times by message (-want +got):\n%s", diff)
		}
		// The record stays: what the later subtests compare against knows it.
		for i := range dls {
			if dls[i].MessageID == m.MessageID {
				dls[i].LastError, dls[i].LastErrorAt = f2.Error, f2.At
			}
		}
	})

	t.Run("listing again returns the same messages: listing removes nothing", func(t *testing.T) {
		again, err := f.q.List(ctx, nil, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ids(dls), ids(again)); diff != "" {
			t.Errorf("message ids (-first +second):\n%s", diff)
		}
	})

	t.Run("a limit returns that many messages and leaves the rest", func(t *testing.T) {
		got, err := f.q.List(ctx, nil, Selection{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("listed %d messages with limit 2", len(got))
		}
		all, err := f.q.List(ctx, nil, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 4 {
			t.Errorf("after a limited list the subscriptions hold %d messages, want 4", len(all))
		}
	})

	t.Run("inspect by id returns that message only", func(t *testing.T) {
		want := byCase(dls, "42")
		got, err := f.q.List(ctx, []string{"t-sync-case-sync-requested-dead-letter"}, Selection{IDs: []string{want.MessageID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(summarize([]DeadLetter{want}), summarize(got)); diff != "" {
			t.Errorf("inspected (-want +got):\n%s", diff)
		}
	})

	t.Run("an id no subscription holds is reported as not found", func(t *testing.T) {
		_, err := f.q.List(ctx, nil, Selection{IDs: []string{"no-such-message"}})
		var nf *NotFoundError
		if !errors.As(err, &nf) || !slices.Equal(nf.IDs, []string{"no-such-message"}) {
			t.Errorf("List error = %v, want a NotFoundError naming no-such-message", err)
		}
	})

	t.Run("a replay whose publication fails leaves the message where it was", func(t *testing.T) {
		broken := *f.q
		broken.SyncRequestedTopic = "t-no-such-topic"
		m := byCase(dls, "42")
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		res, err := broken.Replay(pctx, nil, Selection{IDs: []string{m.MessageID}}, ReplaySyncRequested)
		if err == nil || len(res) != 1 || res[0].Error == "" {
			t.Fatalf("Replay = %+v, %v; want the message reported as not replayed", res, err)
		}
		still, err := f.q.List(ctx, nil, Selection{IDs: []string{m.MessageID}})
		if err != nil {
			t.Fatalf("the message is gone after a failed replay: %v", err)
		}
		if len(still) != 1 {
			t.Errorf("listed %d messages for id %s, want 1", len(still), m.MessageID)
		}
	})

	t.Run("a tick cannot be replayed as sync-requested and stays", func(t *testing.T) {
		tick := byCase(dls, "tick")
		res, err := f.q.Replay(ctx, nil, Selection{IDs: []string{tick.MessageID}}, ReplaySyncRequested)
		if err == nil || len(res) != 1 || !strings.Contains(res[0].Error, "names no case") {
			t.Fatalf("Replay = %+v, %v; want the tick refused", res, err)
		}
		if _, err := f.q.List(ctx, nil, Selection{IDs: []string{tick.MessageID}}); err != nil {
			t.Errorf("the tick is gone after a refused replay: %v", err)
		}
	})

	f.target.failing.Store(false)

	t.Run("replay to the original topic delivers the message once and removes it", func(t *testing.T) {
		m := byCase(dls, case1.ID)
		res, err := f.q.Replay(ctx, nil, Selection{IDs: []string{m.MessageID}}, ReplayOriginal)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Topic != "t-case-updated" || res[0].NewMessageID == "" {
			t.Fatalf("Replay = %+v, want one message republished on t-case-updated", res)
		}
		waitPushed(t, f.target, pushed{Topic: "t-case-updated", Body: string(body1)})
		time.Sleep(3 * time.Second) // a second delivery would come within ~1 s
		if n := countPushed(f.target, pushed{Topic: "t-case-updated", Body: string(body1)}); n != 1 {
			t.Errorf("the replayed message was delivered %d times, want once", n)
		}
		if _, err := f.q.List(ctx, nil, Selection{IDs: []string{m.MessageID}}); err == nil {
			t.Errorf("message %s is still dead-lettered after its replay", m.MessageID)
		}
	})

	t.Run("replay as sync-requested publishes a command for the case, without its update time", func(t *testing.T) {
		m := byCase(dls, case2.ID)
		res, err := f.q.Replay(ctx, nil, Selection{IDs: []string{m.MessageID}}, ReplaySyncRequested)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Topic != "t-sync-requested" {
			t.Fatalf("Replay = %+v, want one message on t-sync-requested", res)
		}
		waitPushed(t, f.target, pushed{Topic: "t-sync-requested", Body: `{"side":"company","id":"42"}`})
	})

	t.Run("purge with an id deletes that message only", func(t *testing.T) {
		tick := byCase(dls, "tick")
		if tick.Function != eventing.FunctionPollGoogle {
			tick = dlsOf(dls, eventing.FunctionPollGoogle)
		}
		purged, _, err := f.q.Purge(ctx, nil, Selection{IDs: []string{tick.MessageID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{tick.MessageID}, ids(purged)); diff != "" {
			t.Errorf("purged (-want +got):\n%s", diff)
		}
		left, err := f.q.List(ctx, nil, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{dlsOf(dls, eventing.FunctionDetectOutages).MessageID}, ids(left)); diff != "" {
			t.Errorf("left after the purge (-want +got):\n%s", diff)
		}
	})

	t.Run("counting by pulling sees what is left and removes nothing", func(t *testing.T) {
		got, err := f.q.PullDepths(ctx, nil)
		if err != nil {
			t.Errorf("counting: %v", err)
		}
		want := map[string]int64{}
		for _, s := range f.topo {
			want[s.DeadLetterSubscription()] = 0
		}
		want["t-detect-outages-dead-letter"] = 1
		gotMap := map[string]int64{}
		for _, d := range got {
			if d.Error != "" || d.Method != DepthByPull {
				t.Errorf("depth %+v, want a count by pull without error", d)
			}
			gotMap[d.Subscription] = d.Messages
		}
		if diff := cmp.Diff(want, gotMap); diff != "" {
			t.Errorf("depths (-want +got):\n%s", diff)
		}
	})

	t.Run("purge without ids empties every dead-letter subscription", func(t *testing.T) {
		if _, _, err := f.q.Purge(ctx, nil, Selection{}); err != nil {
			t.Fatal(err)
		}
		left, err := f.q.List(ctx, nil, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("%d messages left after purging all", len(left))
		}
	})
}

func dlsOf(dls []DeadLetter, function string) DeadLetter {
	for _, d := range dls {
		if d.Function == function {
			return d
		}
	}
	return DeadLetter{}
}

func sortSummaries(s []summary) {
	slices.SortFunc(s, func(a, b summary) int {
		return strings.Compare(a.DeadLetterSubscription+a.OrderingKey, b.DeadLetterSubscription+b.OrderingKey)
	})
}

func countPushed(p *pushTarget, want pushed) int {
	n := 0
	for _, g := range p.got() {
		if g == want {
			n++
		}
	}
	return n
}

func waitPushed(t *testing.T, p *pushTarget, want pushed) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for countPushed(p, want) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s %+v was not delivered; delivered: %+v", want, p.got())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
