package csapitest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// TestSupportEventsReachTopicsOnThePubSubEmulator runs the simulator with
// the Pub/Sub publisher on the official emulator: a subscription to a topic
// that exists receives each change; one to a missing topic goes FAILING
// with TOPIC_NOT_FOUND, and WORKING again once the topic exists.
func TestSupportEventsReachTopicsOnThePubSubEmulator(t *testing.T) {
	emu := emulators.StartPubSubForTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const project = "events-project"
	client, err := eventing.NewEmulatorClient(ctx, project, emu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pub := NewPubSubPublisher(client)
	defer pub.Stop()

	existing := "projects/" + project + "/topics/support-events"
	missing := "projects/" + project + "/topics/not-yet"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: existing}); err != nil {
		t.Fatal(err)
	}
	pullSub := "projects/" + project + "/subscriptions/read-support-events"
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: pullSub, Topic: existing, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}

	s, svc, _ := startEventSim(t, pub)
	working := subscribe(t, svc, existing)
	failing := subscribe(t, svc, missing)
	caseName := mustCreate(t, s, testProject, "Disk full", "The boot disk is full", "P2", "alice@example.com")
	comment, err := s.AddComment(caseName, "any news?", Actor{DisplayName: "Alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, s)

	t.Run("the topic that exists receives one message per change, with the assumed attributes and body", func(t *testing.T) {
		got := pull(ctx, t, client, pullSub, 2)
		want := []publishedEvent{
			{Topic: existing, Attributes: map[string]string{AttrNotificationType: NotificationCaseCreated, AttrResourceName: caseName}, Data: map[string]string{"notificationType": NotificationCaseCreated, "resourceName": caseName}},
			{Topic: existing, Attributes: map[string]string{AttrNotificationType: NotificationCommentCreated, AttrResourceName: comment}, Data: map[string]string{"notificationType": NotificationCommentCreated, "resourceName": comment}},
		}
		if diff := cmp.Diff(eventKeys(want), eventKeys(got)); diff != "" {
			t.Errorf("messages on %s (-want +got):\n%s", existing, diff)
		}
	})

	get := func(name string) *cloudsupport.SupportEventSubscription {
		t.Helper()
		sub, err := svc.Organizations.SupportEventSubscriptions.Get(name).Do()
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	t.Run("the subscription to a missing topic is FAILING with TOPIC_NOT_FOUND", func(t *testing.T) {
		if sub := get(failing.Name); sub.State != "FAILING" || sub.FailureReason != "TOPIC_NOT_FOUND" {
			t.Errorf("subscription to %s is %s/%s, want FAILING/TOPIC_NOT_FOUND", missing, sub.State, sub.FailureReason)
		}
		if sub := get(working.Name); sub.State != "WORKING" || sub.FailureReason != "" {
			t.Errorf("subscription to %s is %s/%s, want WORKING", existing, sub.State, sub.FailureReason)
		}
	})

	t.Run("once the topic exists the next change makes it WORKING", func(t *testing.T) {
		if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: missing}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPriority(caseName, "P1"); err != nil {
			t.Fatal(err)
		}
		flush(t, s)
		if sub := get(failing.Name); sub.State != "WORKING" || sub.FailureReason != "" {
			t.Errorf("subscription to %s is %s/%s after a publish that worked, want WORKING", missing, sub.State, sub.FailureReason)
		}
	})
}

func eventKeys(es []publishedEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, eventKey(e))
	}
	return out
}

// pull receives n messages from sub, acknowledging them, in publish order
// of their resource (the emulator may deliver in any order).
func pull(ctx context.Context, t *testing.T, client *pubsub.Client, sub string, n int) []publishedEvent {
	t.Helper()
	var out []publishedEvent
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		resp, err := client.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: int32(n)})
		if err != nil {
			t.Fatalf("pulling from %s: %v", sub, err)
		}
		var ackIDs []string
		for _, m := range resp.ReceivedMessages {
			ackIDs = append(ackIDs, m.AckId)
			var data map[string]string
			if err := json.Unmarshal(m.Message.Data, &data); err != nil {
				t.Errorf("message data is not a JSON object of strings: %v", err)
			}
			out = append(out, publishedEvent{Topic: "projects/events-project/topics/support-events", Attributes: m.Message.Attributes, Data: data})
		}
		if len(ackIDs) > 0 {
			if err := client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: ackIDs}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(out) != n {
		t.Fatalf("received %d messages from %s within 30 s, want %d", len(out), sub, n)
	}
	// Case first, then its comment: sort by type for a stable comparison.
	if len(out) == 2 && out[0].Attributes[AttrNotificationType] == NotificationCommentCreated {
		out[0], out[1] = out[1], out[0]
	}
	return out
}
