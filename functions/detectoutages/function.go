// Package detectoutages is the DetectOutages Cloud Function: on each
// scheduler tick (every 5 minutes) it checks the linked mappings that may be
// late against the latency tolerance table and comments on both sides when
// a case is out of sync or has resumed.
//
// It is thin wiring: the configuration is read and the engine built once at
// cold start (a misconfigured deployment exits at start with a CRITICAL log
// line naming the variables to set), the Pub/Sub push is decoded, the
// engine does the work, and eventing.Handler applies the retry contract.
// The engine itself logs the ERROR entry alerting keys on
// (casesync.OutageMessage), as soon as it knows which cases are out of
// sync and before it posts any notice.
package detectoutages

import (
	"context"
	"errors"
	"log/slog"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Name is the function's entry point (FUNCTION_TARGET).
const Name = eventing.FunctionDetectOutages

var handler func(context.Context, event.Event) error

func init() {
	app := appconfig.MustLoad(Name)
	h := eventing.Handler{Function: Name, Log: app.Log, MaxAge: eventing.TickPeriod(Name), Failures: app.Store}
	handler = h.Tick(func(ctx context.Context, log *slog.Logger) error {
		rep, err := app.EngineFor(log).DetectOutages(ctx)
		attrs := []any{"checked", rep.Checked, "outOfSync", len(rep.OutOfSync), "stuck", rep.Stuck,
			"notified", rep.Notified, "resumed", rep.Resumed}
		if errors.Is(err, casesync.ErrOutage) {
			// The engine has logged the ERROR entry monitoring alerts on.
			// The tick is acknowledged: a redelivery cannot end an outage
			// and would only read the candidates again; notices not posted
			// are tried again by the next tick.
			log.Info("outage check done", append(attrs, "error", err)...)
			return nil
		}
		if err != nil {
			return err
		}
		log.Info("outage check done", attrs...)
		return nil
	})
	functions.CloudEvent(Name, Handle)
}

// Handle handles one Pub/Sub push converted to a CloudEvent. The local
// functions process also serves it under /DetectOutages/projects/P/topics/T.
func Handle(ctx context.Context, e event.Event) error { return handler(ctx, e) }
