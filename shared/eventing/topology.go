package eventing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Topic names (before the deployment prefix). Terraform uses the same names.
const (
	TopicCaseUpdated       = "case-updated"
	TopicSyncRequested     = "sync-requested"
	TopicTickPollGoogle    = "tick-poll-google"
	TopicTickPollCRM       = "tick-poll-crm"
	TopicTickDetectOutages = "tick-detect-outages"
	TopicTickCleanup       = "tick-cleanup"
	// TopicSupportEvents is the topic the Cloud Support API's support event
	// subscription publishes to (Terraform grants its agent publisher on
	// it); GoogleEvents reads it.
	TopicSupportEvents = "support-events"
)

// Tick is a scheduled trigger: Cloud Scheduler (or the local stack's
// ticker) publishes an empty message on Topic every Period.
type Tick struct {
	Topic    string
	Function string
	// Period is the production schedule; a tick older than its period is
	// dropped, since the next one does the same work.
	Period time.Duration
	// Schedule is Period as a Cloud Scheduler cron expression.
	Schedule string
}

// DefaultPollInterval is how often the pollers run unless the deployment
// chooses otherwise (Terraform's poll_interval_minutes, which gives the
// functions POLL_INTERVAL). With events on, changes arrive in seconds and
// the poll is the safety net for a missed one: its interval bounds how
// late a missed change can be.
const DefaultPollInterval = time.Minute

// MaxPollInterval is the longest poll interval a deployment may choose.
const MaxPollInterval = time.Hour

// IsPoller reports whether function is one of the two pollers, whose tick
// period is the deployment's poll interval.
func IsPoller(function string) bool {
	return function == FunctionPollGoogle || function == FunctionPollCRM
}

// PollSchedule returns the Cloud Scheduler cron expression that ticks a
// poller every interval, which must be a whole number of minutes that
// divides an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60): cron
// cannot space other periods evenly. terraform/topology.tf builds the same
// expression from poll_interval_minutes.
func PollSchedule(interval time.Duration) (string, error) {
	m := int(interval / time.Minute)
	if interval%time.Minute != 0 || m < 1 || m > 60 || 60%m != 0 {
		return "", fmt.Errorf("a poll interval of %s cannot be scheduled evenly: give a whole number of minutes that divides 60", interval)
	}
	switch m {
	case 1:
		return "* * * * *", nil
	case 60:
		return "0 * * * *", nil
	}
	return fmt.Sprintf("*/%d * * * *", m), nil
}

// Ticks returns the scheduled triggers, with topic names prefixed. The
// pollers' are those of DefaultPollInterval; a deployment may tick them
// less often (PollSchedule).
func Ticks(prefix string) []Tick {
	return []Tick{
		{Topic: prefix + TopicTickPollGoogle, Function: FunctionPollGoogle, Period: DefaultPollInterval, Schedule: "* * * * *"},
		{Topic: prefix + TopicTickPollCRM, Function: FunctionPollCRM, Period: DefaultPollInterval, Schedule: "* * * * *"},
		{Topic: prefix + TopicTickDetectOutages, Function: FunctionDetectOutages, Period: 5 * time.Minute, Schedule: "*/5 * * * *"},
		{Topic: prefix + TopicTickCleanup, Function: FunctionCleanup, Period: 24 * time.Hour, Schedule: "17 3 * * *"},
	}
}

// TickPeriod returns the period of the tick that triggers function in the
// default schedule, or 0 if none does. The pollers' period is the
// deployment's poll interval (DefaultPollInterval unless it chose
// another): the functions read it from their configuration.
func TickPeriod(function string) time.Duration {
	for _, t := range Ticks("") {
		if t.Function == function {
			return t.Period
		}
	}
	return 0
}

// Subscription is one push subscription feeding a function, with its retry
// policy and its dead-letter topic (which has a pull subscription of the
// same name, to inspect what was dead-lettered). No subscription is
// ordered: every reconciliation reads both cases' current state under the
// mapping's lease, so a message that arrives twice, late or out of order
// finds nothing left to do, and an ordered subscription would only hold a
// case's later messages behind a failing one.
type Subscription struct {
	// Name is the subscription id.
	Name string
	// Topic is the topic id it reads.
	Topic string
	// Function is the entry point it pushes to.
	Function string
	// MinBackoff and MaxBackoff bound the exponential retry delay.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxDeliveryAttempts is how often a message is tried before it goes to
	// the dead-letter topic (Pub/Sub allows 5..100).
	MaxDeliveryAttempts int
	// AckDeadline is how long a push may take before Pub/Sub sends it
	// again; the function's timeout must be shorter.
	AckDeadline time.Duration
	// DeadLetterTopic is the topic id failed messages go to; a pull
	// subscription of the same id reads it.
	DeadLetterTopic string
}

// DeadLetterSubscription is the id of the pull subscription on the
// dead-letter topic.
func (s Subscription) DeadLetterSubscription() string { return s.DeadLetterTopic }

// Topology returns every subscription casebridge needs, with topic and
// subscription ids prefixed by prefix (e.g. "cb-"; "" for none).
func Topology(prefix string) []Subscription {
	sub := func(name, topic, function string, attempts int) Subscription {
		return Subscription{
			Name:                prefix + name,
			Topic:               prefix + topic,
			Function:            function,
			MinBackoff:          10 * time.Second,
			MaxBackoff:          10 * time.Minute,
			MaxDeliveryAttempts: attempts,
			AckDeadline:         5 * time.Minute,
			DeadLetterTopic:     prefix + name + "-dead-letter",
		}
	}
	return []Subscription{
		sub("sync-case-case-updated", TopicCaseUpdated, FunctionSyncCase, 10),
		sub("sync-case-sync-requested", TopicSyncRequested, FunctionSyncCase, 10),
		sub("poll-google", TopicTickPollGoogle, FunctionPollGoogle, 5),
		sub("poll-crm", TopicTickPollCRM, FunctionPollCRM, 5),
		sub("detect-outages", TopicTickDetectOutages, FunctionDetectOutages, 5),
		sub("cleanup", TopicTickCleanup, FunctionCleanup, 5),
		// Not "google-events": with no prefix (the local stack) its
		// dead-letter topic would start with "goog", which Pub/Sub refuses.
		sub("support-events", TopicSupportEvents, FunctionGoogleEvents, 5),
	}
}

// Topics returns the ids of every topic the subscriptions read or
// dead-letter to, each once, sources first.
func Topics(subs []Subscription) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, s := range subs {
		add(s.Topic)
	}
	for _, s := range subs {
		add(s.DeadLetterTopic)
	}
	return out
}

// LocalPushEndpoint is the push endpoint of s on a functions process that
// serves every function at /<Name> (FUNCTION_TARGET unset). The path ends in
// /projects/P/topics/T, from which functions-framework takes the topic.
func LocalPushEndpoint(baseURL, project string, s Subscription) string {
	return fmt.Sprintf("%s/%s/projects/%s/topics/%s", strings.TrimRight(baseURL, "/"), s.Function, project, s.Topic)
}

// EnsureTopology creates the topics, dead-letter topics, their pull
// subscriptions and the push subscriptions of subs in project, pushing to a
// functions process at pushBaseURL (see LocalPushEndpoint). It is meant for
// the Pub/Sub emulator; production topology is Terraform's. Things that
// already exist are left as they are.
func EnsureTopology(ctx context.Context, c *pubsub.Client, project, pushBaseURL string, subs []Subscription) error {
	for _, t := range Topics(subs) {
		_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(project, t)})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("creating topic %s: %w", t, err)
		}
	}
	for _, s := range subs {
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               subscriptionName(project, s.DeadLetterSubscription()),
			Topic:              topicName(project, s.DeadLetterTopic),
			AckDeadlineSeconds: 60,
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("creating dead-letter subscription %s: %w", s.DeadLetterSubscription(), err)
		}
	}
	for _, s := range subs {
		_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name:               subscriptionName(project, s.Name),
			Topic:              topicName(project, s.Topic),
			PushConfig:         &pubsubpb.PushConfig{PushEndpoint: LocalPushEndpoint(pushBaseURL, project, s)},
			AckDeadlineSeconds: int32(s.AckDeadline / time.Second),
			RetryPolicy: &pubsubpb.RetryPolicy{
				MinimumBackoff: durationpb.New(s.MinBackoff),
				MaximumBackoff: durationpb.New(s.MaxBackoff),
			},
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{
				DeadLetterTopic:     topicName(project, s.DeadLetterTopic),
				MaxDeliveryAttempts: int32(s.MaxDeliveryAttempts),
			},
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("creating push subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

// DeleteTopology deletes the push subscriptions first (so nothing is
// pushed to a stopped process), then the dead-letter subscriptions and every
// topic. Things already gone are fine; every failure is reported.
func DeleteTopology(ctx context.Context, c *pubsub.Client, project string, subs []Subscription) error {
	var errs []error
	del := func(what string, err error) {
		if err != nil && status.Code(err) != codes.NotFound {
			errs = append(errs, fmt.Errorf("deleting %s: %w", what, err))
		}
	}
	for _, s := range subs {
		del("subscription "+s.Name, c.SubscriptionAdminClient.DeleteSubscription(ctx,
			&pubsubpb.DeleteSubscriptionRequest{Subscription: subscriptionName(project, s.Name)}))
	}
	for _, s := range subs {
		del("subscription "+s.DeadLetterSubscription(), c.SubscriptionAdminClient.DeleteSubscription(ctx,
			&pubsubpb.DeleteSubscriptionRequest{Subscription: subscriptionName(project, s.DeadLetterSubscription())}))
	}
	for _, t := range Topics(subs) {
		del("topic "+t, c.TopicAdminClient.DeleteTopic(ctx, &pubsubpb.DeleteTopicRequest{Topic: topicName(project, t)}))
	}
	return errors.Join(errs...)
}

func topicName(project, id string) string { return "projects/" + project + "/topics/" + id }

func subscriptionName(project, id string) string {
	return "projects/" + project + "/subscriptions/" + id
}
