package eventing

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
)

func TestTopologyShape(t *testing.T) {
	t.Run("every function is fed and sync-case is fed by both case topics", func(t *testing.T) {
		got := map[string][]string{}
		for _, s := range Topology("cb-") {
			got[s.Function] = append(got[s.Function], s.Topic)
		}
		want := map[string][]string{
			FunctionSyncCase:      {"cb-case-updated", "cb-sync-requested"},
			FunctionPollGoogle:    {"cb-tick-poll-google"},
			FunctionPollCRM:       {"cb-tick-poll-crm"},
			FunctionDetectOutages: {"cb-tick-detect-outages"},
			FunctionCleanup:       {"cb-tick-cleanup"},
			FunctionGoogleEvents:  {"cb-support-events"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("topology (-want +got):\n%s", diff)
		}
	})
	t.Run("every subscription retries with backoff and dead-letters to its own topic", func(t *testing.T) {
		seen := map[string]bool{}
		for _, s := range Topology("") {
			if s.MinBackoff <= 0 || s.MaxBackoff < s.MinBackoff || s.MaxDeliveryAttempts < 5 || s.MaxDeliveryAttempts > 100 {
				t.Errorf("%s: retry policy %v..%v with %d attempts is not a valid exponential policy", s.Name, s.MinBackoff, s.MaxBackoff, s.MaxDeliveryAttempts)
			}
			if s.DeadLetterTopic == "" || seen[s.DeadLetterTopic] {
				t.Errorf("%s: dead-letter topic %q is missing or shared", s.Name, s.DeadLetterTopic)
			}
			seen[s.DeadLetterTopic] = true
		}
	})
	t.Run("every tick topic has a subscription", func(t *testing.T) {
		fed := map[string]bool{}
		for _, s := range Topology("") {
			fed[s.Topic] = true
		}
		for _, tk := range Ticks("") {
			if !fed[tk.Topic] {
				t.Errorf("tick topic %s feeds no function", tk.Topic)
			}
		}
	})
}

// pushRecorder is a fake functions process: it records each push's path
// and answers 500 for the paths it is told to fail.
type pushRecorder struct {
	mu    sync.Mutex
	paths []string
	fail  map[string]bool
}

func (p *pushRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message      PubsubMessage `json:"message"`
		Subscription string        `json:"subscription"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil || body.Message.MessageID == "" {
		http.Error(w, "not a push body", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	fail := p.fail[r.URL.Path]
	p.mu.Unlock()
	if fail {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *pushRecorder) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.paths {
		if q == path {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func subscriptionIDs(t *testing.T, c *pubsub.Client) []string {
	t.Helper()
	var ids []string
	it := c.SubscriptionAdminClient.ListSubscriptions(t.Context(), &pubsubpb.ListSubscriptionsRequest{Project: "projects/" + project})
	for {
		s, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.Name)
	}
	sort.Strings(ids)
	return ids
}

func TestEnsureTopologyOnTheEmulator(t *testing.T) {
	c := emulatorClient(t)
	rec := &pushRecorder{fail: map[string]bool{
		"/SyncCase/projects/" + project + "/topics/sync-requested": true,
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	topo := Topology("")
	for i := range topo {
		topo[i].MinBackoff = 100 * time.Millisecond
		topo[i].MaxBackoff = 200 * time.Millisecond
		topo[i].MaxDeliveryAttempts = 5
	}
	ctx := t.Context()
	if err := EnsureTopology(ctx, c, project, srv.URL, topo); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := DeleteTopology(context.Background(), c, project, topo); err != nil {
			t.Errorf("DeleteTopology: %v", err)
		}
	}()

	t.Run("creating it again is fine", func(t *testing.T) {
		if err := EnsureTopology(ctx, c, project, srv.URL, topo); err != nil {
			t.Fatalf("second EnsureTopology: %v", err)
		}
	})

	t.Run("each subscription is created unordered, with its retry and dead-letter policy", func(t *testing.T) {
		type policy struct {
			Name, Topic, Push, DeadLetterTopic  string
			MinBackoff, MaxBackoff, AckDeadline time.Duration
			MaxDeliveryAttempts                 int32
			Ordered                             bool
		}
		var want, got []policy
		for _, s := range topo {
			want = append(want, policy{
				Name: subscriptionName(project, s.Name), Topic: topicName(project, s.Topic),
				Push: LocalPushEndpoint(srv.URL, project, s), DeadLetterTopic: topicName(project, s.DeadLetterTopic),
				MinBackoff: s.MinBackoff, MaxBackoff: s.MaxBackoff, AckDeadline: s.AckDeadline,
				MaxDeliveryAttempts: int32(s.MaxDeliveryAttempts),
			})
			sub, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: subscriptionName(project, s.Name)})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, policy{
				Name: sub.GetName(), Topic: sub.GetTopic(), Push: sub.GetPushConfig().GetPushEndpoint(),
				DeadLetterTopic:     sub.GetDeadLetterPolicy().GetDeadLetterTopic(),
				MinBackoff:          sub.GetRetryPolicy().GetMinimumBackoff().AsDuration(),
				MaxBackoff:          sub.GetRetryPolicy().GetMaximumBackoff().AsDuration(),
				AckDeadline:         time.Duration(sub.GetAckDeadlineSeconds()) * time.Second,
				MaxDeliveryAttempts: sub.GetDeadLetterPolicy().GetMaxDeliveryAttempts(),
				Ordered:             sub.GetEnableMessageOrdering(),
			})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("subscriptions on the emulator (-topology +emulator):\n%s", diff)
		}
	})

	t.Run("a tick is pushed to its function at a path naming the topic", func(t *testing.T) {
		if _, err := c.Publisher(TopicTickPollGoogle).Publish(ctx, &pubsub.Message{Data: []byte("tick")}).Get(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the push to PollGoogle", 15*time.Second, func() bool {
			return rec.count("/PollGoogle/projects/"+project+"/topics/tick-poll-google") == 1
		})
	})

	t.Run("a failing push is retried and then dead-lettered to the inspectable subscription", func(t *testing.T) {
		pub := c.Publisher(TopicSyncRequested)
		defer pub.Stop()
		if _, err := pub.Publish(ctx, &pubsub.Message{Data: []byte(`{"mappingId":"m1"}`)}).Get(ctx); err != nil {
			t.Fatal(err)
		}
		path := "/SyncCase/projects/" + project + "/topics/sync-requested"
		waitFor(t, "five delivery attempts", 30*time.Second, func() bool { return rec.count(path) >= 5 })
		var dl string
		for _, s := range topo {
			if s.Topic == TopicSyncRequested {
				dl = s.DeadLetterSubscription()
			}
		}
		got := pullN(t, c, dl, 1)
		if diff := cmp.Diff([]pulled{{Body: `{"mappingId":"m1"}`}}, got); diff != "" {
			t.Errorf("dead-lettered (-want +got):\n%s", diff)
		}
	})

	t.Run("deleting it leaves no subscription behind", func(t *testing.T) {
		if err := DeleteTopology(ctx, c, project, topo); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string(nil), subscriptionIDs(t, c)); diff != "" {
			t.Errorf("subscriptions left (-want +got):\n%s", diff)
		}
	})
}

func TestPollSchedule(t *testing.T) {
	good := map[time.Duration]string{
		time.Minute:      "* * * * *",
		2 * time.Minute:  "*/2 * * * *",
		5 * time.Minute:  "*/5 * * * *",
		10 * time.Minute: "*/10 * * * *",
		15 * time.Minute: "*/15 * * * *",
		30 * time.Minute: "*/30 * * * *",
		time.Hour:        "0 * * * *",
	}
	for d, want := range good {
		got, err := PollSchedule(d)
		if err != nil || got != want {
			t.Errorf("PollSchedule(%s) = %q, %v; want %q", d, got, err, want)
		}
	}
	for _, d := range []time.Duration{0, 30 * time.Second, 90 * time.Second, 7 * time.Minute, 45 * time.Minute, 2 * time.Hour, -time.Minute} {
		if got, err := PollSchedule(d); err == nil {
			t.Errorf("PollSchedule(%s) = %q, want an error: it cannot be scheduled evenly", d, got)
		}
	}
	if got := DefaultPollInterval; got != TickPeriod(FunctionPollGoogle) || got != TickPeriod(FunctionPollCRM) {
		t.Errorf("the pollers' default ticks are %s and %s apart, want DefaultPollInterval %s", TickPeriod(FunctionPollGoogle), TickPeriod(FunctionPollCRM), got)
	}
	for _, tk := range Ticks("") {
		if IsPoller(tk.Function) {
			if want, _ := PollSchedule(DefaultPollInterval); tk.Schedule != want {
				t.Errorf("%s is scheduled %q, want PollSchedule(DefaultPollInterval) %q", tk.Function, tk.Schedule, want)
			}
		}
	}
}
