package eventing

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/logging"
)

// FailureRecorder keeps the last failure of a message that Pub/Sub will
// redeliver, so that once the message is dead-lettered the dead-letter
// tool can say why it failed (the error does not travel with the message).
// shared/store.Store implements it.
type FailureRecorder interface {
	RecordFailure(ctx context.Context, f DeliveryFailure) error
}

// DeliveryFailure is the last failed attempt to handle a message. It holds
// ids and the error text only, never case text.
type DeliveryFailure struct {
	// Key names the record: FailureKey of the function and the case.
	Key      string
	Function string
	// Subscription is the push subscription that delivered the message,
	// when the CloudEvent names it ("" when functions-framework converted a
	// raw push body).
	Subscription string
	// Error is the error the handler returned (and logged), cut to
	// MaxFailureErrorLen bytes.
	Error string
	// At is when the attempt failed, in real time (what Pub/Sub stamps
	// its messages with, never the sandbox's shifted clock).
	At time.Time
	// CaseRef is the case the message names; nil for a tick.
	CaseRef *casesync.CaseRef
}

// MaxFailureErrorLen caps the error text of a DeliveryFailure, in bytes.
const MaxFailureErrorLen = 1000

// recordTimeout bounds the write of a failure record: it runs after the
// handler's work failed, possibly with its context ended, and must not hold
// up the answer to Pub/Sub.
const recordTimeout = 5 * time.Second

// FailureKey is the key of the failure record of a function's message:
// "<function>-tick" for a tick (ref nil), "<function>-<side>-<case>" for a
// case message ("SyncCase-company-4711"; a Google case by its case number,
// which is the same whatever its name's project form), and
// "<function>-mapping-<id>" for a sync request naming only a mapping. Ids
// are path-escaped, so the key never holds a '/' and is a valid Firestore
// document id. The dead-letter tool computes the same key from a
// dead-lettered message's payload.
func FailureKey(function string, ref *casesync.CaseRef) string {
	switch {
	case ref == nil:
		return function + "-tick"
	case ref.ID != "":
		id := ref.ID
		if ref.Side == casesync.SideGoogle {
			if n := casesync.CaseNumber(id); n != "" {
				id = n
			}
		}
		return function + "-" + url.PathEscape(string(ref.Side)) + "-" + url.PathEscape(id)
	default:
		return function + "-mapping-" + url.PathEscape(ref.MappingID)
	}
}

// recordFailure keeps err as the last failure of the message (ref nil for a
// tick) when err will make Pub/Sub redeliver it. It is best effort: a
// failed write is logged at WARNING and changes nothing else.
func (h Handler) recordFailure(ctx context.Context, log *slog.Logger, msg MessagePublishedData, ref *casesync.CaseRef, err error) {
	if h.Failures == nil || err == nil || errors.Is(err, casesync.ErrWaitForHolder) {
		// Waiting for a run to end is not a failure to report.
		return
	}
	f := DeliveryFailure{
		Key:          FailureKey(h.Function, ref),
		Function:     h.Function,
		Subscription: msg.Subscription,
		Error:        cut(err.Error(), MaxFailureErrorLen),
		At:           h.now().UTC(),
	}
	if ref != nil {
		r := *ref
		f.CaseRef = &r
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if rerr := h.Failures.RecordFailure(ctx, f); rerr != nil {
		log.Warn("the failure could not be recorded for the dead-letter tool", logging.Err(rerr))
	}
}

// cut shortens s to at most n bytes without splitting a UTF-8 sequence,
// marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}
