package eventing

import (
	"context"
	"sort"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/google/go-cmp/cmp"
)

const project = "casebridge-test"

// emulatorClient starts a Pub/Sub emulator for the test and returns a
// client on it.
func emulatorClient(t *testing.T) *pubsub.Client {
	t.Helper()
	emu := emulators.StartPubSubForTest(t)
	c, err := NewEmulatorClient(t.Context(), project, emu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pullSubscription creates a pull subscription on topic (creating the
// topic) and deletes it when the test ends.
func pullSubscription(t *testing.T, c *pubsub.Client, topic, sub string) {
	t.Helper()
	ctx := t.Context()
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(project, topic)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: subscriptionName(project, sub), Topic: topicName(project, topic),
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{Subscription: subscriptionName(project, sub)})
	})
}

type pulled struct {
	Body, OrderingKey string
}

// pullN pulls until n messages arrived (acking them) or the deadline.
func pullN(t *testing.T, c *pubsub.Client, sub string, n int) []pulled {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []pulled
	for len(out) < n {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: subscriptionName(project, sub), MaxMessages: 10})
		if err != nil {
			t.Fatalf("pulling %s: got %d of %d messages: %v", sub, len(out), n, err)
		}
		var ids []string
		for _, m := range resp.ReceivedMessages {
			out = append(out, pulled{Body: string(m.Message.Data), OrderingKey: m.Message.OrderingKey})
			ids = append(ids, m.AckId)
		}
		if len(ids) > 0 {
			if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: subscriptionName(project, sub), AckIds: ids}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Body < out[j].Body })
	return out
}

func TestPublisher(t *testing.T) {
	c := emulatorClient(t)
	pullSubscription(t, c, TopicCaseUpdated, "read-case-updated")
	pullSubscription(t, c, TopicSyncRequested, "read-sync-requested")
	p := NewPublisher(c, TopicCaseUpdated, TopicSyncRequested)
	defer p.Stop()

	t.Run("case-updated messages carry the reference and no ordering key", func(t *testing.T) {
		refs := []casesync.CaseRef{
			{Side: casesync.SideGoogle, ID: "projects/p/cases/1"},
			{Side: casesync.SideCompany, ID: "7", UpdateTime: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)},
		}
		if err := p.PublishCaseUpdated(t.Context(), refs); err != nil {
			t.Fatal(err)
		}
		want := []pulled{
			{Body: `{"side":"company","id":"7","updateTime":"2026-04-01T10:00:00Z"}`},
			{Body: `{"side":"google","id":"projects/p/cases/1"}`},
		}
		if diff := cmp.Diff(want, pullN(t, c, "read-case-updated", 2)); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
		}
	})
	t.Run("a sync request is published as a reference", func(t *testing.T) {
		if err := p.PublishSyncRequested(t.Context(), casesync.CaseRef{MappingID: "m1"}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]pulled{{Body: `{"side":"","id":"","mappingId":"m1"}`}}, pullN(t, c, "read-sync-requested", 1)); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
		}
	})
	t.Run("a publish to a missing topic fails as transient", func(t *testing.T) {
		missing := NewPublisher(c, "no-such-topic", "no-such-topic-either")
		defer missing.Stop()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err := missing.PublishCaseUpdated(ctx, []casesync.CaseRef{{Side: casesync.SideCompany, ID: "7"}})
		if err == nil || !casesync.IsTransient(err) {
			t.Errorf("PublishCaseUpdated error = %v, want a transient error", err)
		}
	})
}
