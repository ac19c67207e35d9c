package ops

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

// TestDeadLetteredSupportEvents follows a support event GoogleEvents could
// not handle through the dead-letter tool: it is listed with the Google
// cases it names (and nothing else of its content), its last error and log
// filter are GoogleEvents', it is judged settled or not, purge --settled
// keeps it while it is not, and a replay puts exactly the event back on
// support-events.
func TestDeadLetteredSupportEvents(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.q.Mappings = f.store
	sub := f.sub(t, "t-support-events")
	subs := []string{sub.DeadLetterSubscription()}

	// Event A fails every push and is dead-lettered by the emulator. It
	// names case 21 in an attribute and case 22 through a comment in its
	// data, beside text that must never be shown.
	attrsA := map[string]string{"notificationType": "CASE_UPDATED", "resourceName": "projects/p/cases/21"}
	dataA := []byte(`{"comment":{"name":"projects/p/cases/22/comments/9","body":"private words of the customer"}}`)
	pub := f.client.Publisher(sub.Topic)
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: dataA, Attributes: attrsA}).Get(ctx); err != nil {
		t.Fatalf("publishing on %s: %v", sub.Topic, err)
	}
	pub.Stop()
	// Event B, naming case 31 only, is put on the dead-letter topic as
	// Pub/Sub would, first published an hour ago.
	idB := f.deadLetter(t, sub, []byte(`{"case":"projects/p/cases/31"}`), time.Now().Add(-time.Hour))

	dls := f.waitListed(t, subs, 2)
	var a DeadLetter
	for _, d := range dls {
		if d.MessageID != idB {
			a = d
		}
	}

	t.Run("a dead-lettered support event is listed with the Google cases it names, and no other content", func(t *testing.T) {
		type shown struct {
			Function, SourceTopic string
			Kind                  Kind
			Case                  *casesync.CaseRef
			Cases                 []string
			Incomplete, Problem   string
			Size                  int
		}
		got := map[string]shown{}
		for _, d := range dls {
			got[d.MessageID] = shown{d.Function, d.SourceTopic, d.Kind, d.Case, d.SupportCases, d.SupportCasesIncomplete, d.Problem, d.Size}
		}
		want := map[string]shown{
			a.MessageID: {eventing.FunctionGoogleEvents, "t-support-events", KindSupportEvent, nil, []string{"projects/p/cases/21", "projects/p/cases/22"}, "", "", len(dataA)},
			idB:         {eventing.FunctionGoogleEvents, "t-support-events", KindSupportEvent, nil, []string{"projects/p/cases/31"}, "", "", 30},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dead-lettered support events (-want +got):\n%s", diff)
		}
		out, err := json.Marshal(dls)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "private words") || strings.Contains(string(out), "CASE_UPDATED") {
			t.Errorf("the JSON of the dead letters quotes the event's content: %s", out)
		}
		if !strings.Contains(string(out), `"supportCases":["projects/p/cases/21","projects/p/cases/22"]`) {
			t.Errorf("the JSON of the dead letters lacks the cases event A names: %s", out)
		}
	})

	t.Run("its last error is GoogleEvents' failure recorded during its life, and its log filter finds GoogleEvents' entries", func(t *testing.T) {
		if a.LastError != UnknownError {
			t.Errorf("before any failure record, last error %q, want %q", a.LastError, UnknownError)
		}
		wantFilter := `jsonPayload.function="GoogleEvents" AND severity>=WARNING AND timestamp>="` + a.FirstPublishTime.Format(time.RFC3339) +
			`" AND timestamp<="` + a.DeadLetteredAt.Add(logFilterMargin).Format(time.RFC3339) + `"`
		if a.LogFilter != wantFilter {
			t.Errorf("log filter %q, want %q", a.LogFilter, wantFilter)
		}
		failure := eventing.DeliveryFailure{Key: eventing.FailureKey(eventing.FunctionGoogleEvents, nil), Function: eventing.FunctionGoogleEvents,
			Error: "publishing a Google poll tick: rpc error: code = Unavailable", At: a.DeadLetteredAt.Add(-time.Millisecond).Truncate(time.Microsecond)}
		if err := f.store.RecordFailure(ctx, failure); err != nil {
			t.Fatal(err)
		}
		got, err := f.q.List(ctx, subs, Selection{IDs: []string{a.MessageID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].LastError != failure.Error || !got[0].LastErrorAt.Equal(failure.At) {
			t.Errorf("listed %+v, want event A with the last error %q at %v", got, failure.Error, failure.At)
		}
	})

	// Case 21's mapping last read its Google case before event A; case 22
	// has no mapping and the Google poller has not run; case 31's mapping
	// read its case after event B.
	case21 := seedMapping(t, f.store, "projects/p/cases/21", "c21", func(m *casesync.Mapping) { m.Google.ReadAt = a.FirstPublishTime.Add(-time.Minute) })
	seedMapping(t, f.store, "projects/p/cases/31", "c31", func(m *casesync.Mapping) { m.Google.ReadAt = time.Now().Add(-time.Minute) })

	t.Run("purge --settled removes the settled event and keeps the other, saying why", func(t *testing.T) {
		purged, kept, err := f.q.Purge(ctx, subs, Selection{OnlySettled: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([2][]string{{idB}, {a.MessageID}}, [2][]string{ids(purged), ids(kept)}); diff != "" {
			t.Fatalf("purged and kept (-want +got):\n%s", diff)
		}
		if want := "Google case projects/p/cases/21: its mapping " + case21.ID + " last read it at"; !strings.Contains(kept[0].NotSettledBecause, want) {
			t.Errorf("event A kept because %q, want %q", kept[0].NotSettledBecause, want)
		}
		left, err := f.q.List(ctx, subs, Selection{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{a.MessageID}, ids(left)); diff != "" {
			t.Errorf("left after the purge (-want +got):\n%s", diff)
		}
	})

	t.Run("the event is settled once its mapped case was read since and the Google poller succeeded since", func(t *testing.T) {
		later := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := f.store.UpdateMapping(ctx, case21.ID, func(m *casesync.Mapping) error { m.Google.ReadAt = later; return nil }); err != nil {
			t.Fatal(err)
		}
		judge := func() DeadLetter {
			t.Helper()
			got, err := f.q.List(ctx, subs, Selection{IDs: []string{a.MessageID}})
			if err != nil || len(got) != 1 {
				t.Fatalf("List = %+v, %v; want event A", got, err)
			}
			return got[0]
		}
		if d := judge(); d.Settled || !strings.Contains(d.NotSettledBecause, "no mapping holds Google case(s) projects/p/cases/22, and the Google poller has never succeeded") {
			t.Errorf("with case 21 read since and no poll: settled %v, not because %q; want not settled for case 22", d.Settled, d.NotSettledBecause)
		}
		if err := f.store.RecordPoll(ctx, casesync.SideGoogle, later, later); err != nil {
			t.Fatal(err)
		}
		if d := judge(); !d.Settled || !strings.Contains(d.SettledBy, "its mapping "+case21.ID+" read Google case projects/p/cases/21") ||
			!strings.Contains(d.SettledBy, "the Google poller succeeded in a poll started at "+later.Format(time.RFC3339Nano)) {
			t.Errorf("settled %v by %q (not because %q); want settled by case 21's read and the Google poll", d.Settled, d.SettledBy, d.NotSettledBecause)
		}
	})

	t.Run("a support event cannot be replayed as sync-requested and stays", func(t *testing.T) {
		res, err := f.q.Replay(ctx, subs, Selection{IDs: []string{a.MessageID}}, ReplaySyncRequested)
		if err == nil || len(res) != 1 || !strings.Contains(res[0].Error, "replay it as original") {
			t.Fatalf("Replay = %+v, %v; want the support event refused", res, err)
		}
		if _, err := f.q.List(ctx, subs, Selection{IDs: []string{a.MessageID}}); err != nil {
			t.Errorf("the event is gone after a refused replay: %v", err)
		}
	})

	t.Run("replay puts the event's data and attributes back on support-events, without Pub/Sub's dead-letter attributes", func(t *testing.T) {
		// A pull subscription made now receives the replay only.
		check := "projects/" + testProject + "/subscriptions/t-support-events-replayed"
		if _, err := f.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: check, Topic: "projects/" + testProject + "/topics/" + sub.Topic, AckDeadlineSeconds: 60,
		}); err != nil {
			t.Fatal(err)
		}
		f.target.failing.Store(false)
		res, err := f.q.Replay(ctx, subs, Selection{IDs: []string{a.MessageID}}, ReplayOriginal)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Topic != sub.Topic || res[0].NewMessageID == "" {
			t.Fatalf("Replay = %+v, want one message republished on %s", res, sub.Topic)
		}
		var got *pubsubpb.PubsubMessage
		deadline := time.Now().Add(20 * time.Second)
		for got == nil && time.Now().Before(deadline) {
			resp, err := f.client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: check, MaxMessages: 10, ReturnImmediately: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, rm := range resp.ReceivedMessages {
				if len(resp.ReceivedMessages) != 1 {
					t.Errorf("the replay put %d messages on %s, want 1", len(resp.ReceivedMessages), sub.Topic)
				}
				got = rm.Message
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got == nil {
			t.Fatalf("after 20 s nothing was republished on %s", sub.Topic)
		}
		wantAttrs := maps.Clone(attrsA)
		wantAttrs[AttrReplayOf] = a.MessageID
		if diff := cmp.Diff([2]any{string(dataA), wantAttrs}, [2]any{string(got.Data), got.Attributes}); diff != "" {
			t.Errorf("republished data and attributes (-want +got):\n%s", diff)
		}
		waitPushed(t, f.target, pushed{Topic: sub.Topic, Body: string(dataA)})
		if _, err := f.q.List(ctx, subs, Selection{IDs: []string{a.MessageID}}); err == nil {
			t.Errorf("event A is still dead-lettered after its replay")
		}
	})
}
