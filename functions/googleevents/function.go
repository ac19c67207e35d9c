// Package googleevents is the GoogleEvents Cloud Function: for each support
// event the Cloud Support API publishes on the support-events topic (the
// organization's support event subscription, which Terraform creates), it
// publishes case-updated for each case the event names that casebridge
// syncs, or, when it may name cases it could not read, a tick on
// tick-poll-google so that PollGoogle runs at once.
//
// The event is never trusted beyond the case names it mentions: its shape is
// not documented (see eventing.ReadSupportEvent), so the case-updated
// messages carry no update time and sync-case reads each case from the API.
// Its log lines name the attribute keys and the data's size, never a value
// or the data.
//
// It is thin wiring: the configuration is read once at cold start (a
// misconfigured deployment exits at start with a CRITICAL log line naming
// the variables to set), the Pub/Sub push is decoded, and eventing.Handler
// applies the retry contract: a failed publish is redelivered.
package googleevents

import (
	"context"
	"log/slog"
	"os"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionGoogleEvents

var handler func(context.Context, event.Event) error

func init() {
	app := appconfig.MustLoad(Name)
	client, err := pubsub.NewClient(context.Background(), app.Config.Project)
	if err != nil {
		logging.WithFunction(app.Log, Name).Log(context.Background(), logging.LevelCritical,
			"casebridge cannot start: opening Pub/Sub", "project", app.Config.Project, logging.Err(err))
		os.Exit(1)
	}
	forward := eventing.SupportEventForwarder{
		InScope:    app.Engine.Google.InScope,
		Cases:      app.Publisher,
		PollGoogle: eventing.NewTickPublisher(client, app.Config.TopicTickPollGoogle),
	}
	h := eventing.Handler{Function: Name, Log: app.Log, MaxAge: app.Config.EventMaxAge, Failures: app.Store}
	handler = h.SupportEvent(func(ctx context.Context, log *slog.Logger, ev eventing.SupportEvent) error {
		return forward.Forward(ctx, log, ev)
	})
	functions.CloudEvent(Name, Handle)
}

// Handle handles one Pub/Sub push converted to a CloudEvent. The local
// functions process also serves it under /GoogleEvents/projects/P/topics/T.
func Handle(ctx context.Context, e event.Event) error { return handler(ctx, e) }
