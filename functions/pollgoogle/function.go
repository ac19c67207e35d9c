// Package pollgoogle is the PollGoogle Cloud Function: on each scheduler
// tick it searches the Cloud Support API for cases changed since the last
// poll and publishes case-updated for each.
//
// It is thin wiring: the configuration is read and the engine built once at
// cold start (a misconfigured deployment exits at start with a CRITICAL log
// line naming the variables to set), the Pub/Sub push is decoded, the
// engine does the work, and eventing.Handler applies the retry contract.
package pollgoogle

import (
	"context"
	"log/slog"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionPollGoogle

var handler func(context.Context, event.Event) error

func init() {
	app := appconfig.MustLoad(Name)
	// A tick older than the poll interval is dropped: the next one does the
	// same work.
	h := eventing.Handler{Function: Name, Log: app.Log, MaxAge: app.Config.Engine.PollInterval, Failures: app.Store}
	handler = h.Tick(func(ctx context.Context, log *slog.Logger) error {
		res, err := app.EngineFor(log).PollGoogle(ctx)
		if err != nil {
			return err
		}
		log.Info("Google poll done", "found", res.Found, "published", res.Published, "skipped", res.Skipped)
		return nil
	})
	functions.CloudEvent(Name, Handle)
}

// Handle handles one Pub/Sub push converted to a CloudEvent. The local
// functions process also serves it under /PollGoogle/projects/P/topics/T.
func Handle(ctx context.Context, e event.Event) error { return handler(ctx, e) }
