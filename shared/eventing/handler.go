package eventing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/cloudevents/sdk-go/v2/event"
)

// The functions' entry-point names. Locally each is served at /<Name>; in
// production each is deployed with FUNCTION_TARGET=<Name>.
const (
	FunctionPollGoogle    = "PollGoogle"
	FunctionPollCRM       = "PollCRM"
	FunctionSyncCase      = "SyncCase"
	FunctionCleanup       = "Cleanup"
	FunctionDetectOutages = "DetectOutages"
	// FunctionCRMWebhook is the HTTP function that takes the CRM's
	// webhooks (functions/crmwebhook); no subscription feeds it.
	FunctionCRMWebhook = "CRMWebhook"
)

// Handler turns a function's work into a CloudEvent handler that applies
// the retry contract: a transient failure returns an error, so Pub/Sub
// redelivers with backoff (and the error is recorded in Failures, if set);
// anything else is logged with its reason and acknowledged; an event older
// than MaxAge is dropped with a log line.
type Handler struct {
	// Function is the entry-point name, attached to every log line.
	Function string
	Log      *slog.Logger
	// MaxAge is how old an event may be and still be handled.
	MaxAge time.Duration
	// Now tells the real time, which is what Pub/Sub stamps messages with
	// (never the sandbox's shifted clock). Nil means time.Now.
	Now func() time.Time
	// Failures, when set, keeps the error of every attempt that Pub/Sub
	// will redeliver, for the dead-letter tool (best effort; nothing is
	// written when a message is handled or acknowledged).
	Failures FailureRecorder
	// Clock, when set, is the engine's clock (the sandbox may shift it):
	// a case message's publish time is given to the engine on that clock.
	Clock func() time.Time
}

func (h Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Tick returns the handler of a scheduled function: the message body is
// ignored, run does the work.
func (h Handler) Tick(run func(ctx context.Context, log *slog.Logger) error) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := logging.WithFunction(h.Log, h.Function)
		msg, err := Decode(e)
		if err != nil {
			return Settle(logging.WithEvent(log, e.ID()), err)
		}
		log = logging.WithEvent(log, msg.Message.MessageID)
		if h.tooOld(log, msg) {
			return nil
		}
		err = Settle(log, run(ctx, log))
		h.recordFailure(ctx, log, msg, nil, err)
		return err
	}
}

// Case returns the handler of a function fed case-updated or sync-requested
// messages: the body is decoded into a CaseRef (a malformed body is logged
// and acknowledged) and run reconciles it.
func (h Handler) Case(run func(ctx context.Context, log *slog.Logger, ref casesync.CaseRef) error) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		log := logging.WithFunction(h.Log, h.Function)
		msg, err := Decode(e)
		if err != nil {
			return Settle(logging.WithEvent(log, e.ID()), err)
		}
		log = logging.WithEvent(log, msg.Message.MessageID)
		ref, err := DecodeCaseRef(msg.Message.Data)
		if err != nil {
			return Settle(log, err)
		}
		log = logging.WithCase(log, ref)
		if h.tooOld(log, msg) {
			return nil
		}
		timed := ref
		timed.EventTime = h.eventTime(msg.Message.PublishTime)
		err = Settle(log, run(ctx, log, timed))
		h.recordFailure(ctx, log, msg, &ref, err)
		return err
	}
}

// eventTime is a message's publish time (Pub/Sub's, real time) on the
// engine's clock; zero when Pub/Sub gave none.
func (h Handler) eventTime(published time.Time) time.Time {
	if published.IsZero() || h.Clock == nil {
		return published
	}
	return published.Add(h.Clock().Sub(h.now()))
}

func (h Handler) tooOld(log *slog.Logger, msg MessagePublishedData) bool {
	if h.MaxAge <= 0 || msg.Message.PublishTime.IsZero() {
		return false
	}
	age := h.now().Sub(msg.Message.PublishTime)
	if age <= h.MaxAge {
		return false
	}
	log.Warn("event dropped: older than the age cutoff",
		"age", age.Round(time.Second).String(), "maxAge", h.MaxAge.String())
	return true
}

// Settle applies the retry contract to the outcome of handling one event
// and logs it once: nil stays nil; an error known to be permanent (a
// malformed message, a 4xx, a link conflict) is logged with its reason and
// nil is returned, so the message is acknowledged and never loops; any other
// error, transient or unknown, is logged and returned, so Pub/Sub redelivers
// it with backoff and, after the last attempt, dead-letters it: nothing is
// dropped because its error was not recognised.
func Settle(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if IsPermanent(err) || casesync.IsPermanent(err) {
		log.Error("permanent failure: message acknowledged without retry", logging.Err(err))
		return nil
	}
	if errors.Is(err, casesync.ErrWaitForHolder) {
		log.Info("handed back: Pub/Sub will deliver it again once the run holding its case ends", logging.Err(err))
		return err
	}
	if casesync.IsTransient(err) {
		log.Warn("transient failure: Pub/Sub will redeliver", logging.Err(err))
	} else {
		log.Error("unexpected failure: Pub/Sub will redeliver, then dead-letter", logging.Err(err))
	}
	return err
}
