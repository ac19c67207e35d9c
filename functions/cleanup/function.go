// Package cleanup is the Cleanup Cloud Function: on each (daily) scheduler
// tick it deletes the mappings of cases resolved longer ago than the
// retention period.
//
// It is thin wiring: the configuration is read and the engine built once at
// cold start (a misconfigured deployment exits at start with a CRITICAL log
// line naming the variables to set), the Pub/Sub push is decoded, the
// engine does the work, and eventing.Handler applies the retry contract.
package cleanup

import (
	"context"
	"log/slog"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionCleanup

var handler func(context.Context, event.Event) error

func init() {
	app := appconfig.MustLoad(Name)
	h := eventing.Handler{Function: Name, Log: app.Log, MaxAge: eventing.TickPeriod(Name), Failures: app.Store}
	handler = h.Tick(func(ctx context.Context, log *slog.Logger) error {
		n, err := app.EngineFor(log).Cleanup(ctx)
		if err != nil {
			return err
		}
		log.Info("cleanup done", "deleted", n)
		return nil
	})
	functions.CloudEvent(Name, Handle)
}

// Handle handles one Pub/Sub push converted to a CloudEvent. The local
// functions process also serves it under /Cleanup/projects/P/topics/T.
func Handle(ctx context.Context, e event.Event) error { return handler(ctx, e) }
