// Package synccase is the SyncCase Cloud Function: for each case-updated
// fact or sync-requested command it resolves or creates the case's mapping
// and reconciles the case both ways.
//
// It is thin wiring: the configuration is read and the engine built once at
// cold start (a misconfigured deployment exits at start with a CRITICAL log
// line naming the variables to set), the Pub/Sub push is decoded, the
// engine does the work, and eventing.Handler applies the retry contract.
package synccase

import (
	"context"
	"log/slog"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionSyncCase

var handler func(context.Context, event.Event) error

func init() {
	app := appconfig.MustLoad(Name)
	h := eventing.Handler{Function: Name, Log: app.Log, MaxAge: app.Config.EventMaxAge, Failures: app.Store, Clock: app.Engine.Clock.Now}
	handler = h.Case(func(ctx context.Context, log *slog.Logger, ref casesync.CaseRef) error {
		res, err := app.EngineFor(log).SyncCase(ctx, ref)
		if err != nil {
			return err
		}
		if res.Skipped != "" {
			log.Info("case needed no work", logging.KeyMappingID, res.MappingID, "reason", res.Skipped)
			return nil
		}
		log.Info("case reconciled", logging.KeyMappingID, res.MappingID, "actions", res.Actions)
		return nil
	})
	functions.CloudEvent(Name, Handle)
}

// Handle handles one Pub/Sub push converted to a CloudEvent. The local
// functions process also serves it under /SyncCase/projects/P/topics/T.
func Handle(ctx context.Context, e event.Event) error { return handler(ctx, e) }
