package chaos

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// queue stands in for Pub/Sub: at-least-once delivery of what the functions
// publish, which may fail to publish, and, while faults are on, deliver a
// message twice, two copies at once, out of order, or not at all.
type queue struct {
	w    *world
	mu   sync.Mutex
	msgs []message
}

type message struct {
	ref      casesync.CaseRef
	attempts int
}

// maxAttempts is the subscription's delivery attempts before a message is
// dead-lettered (Terraform's sync-case subscriptions allow 10).
const maxAttempts = 10

var errPublish = errors.New("chaos: publish failed")

// earlyRate is the share of messages delivered before their publish call
// returns.
const earlyRate = 0.2

func (q *queue) publish(ctx context.Context, refs ...casesync.CaseRef) error {
	w := q.w
	if w.faults && w.roll(w.opts.FaultRate/10) {
		w.count(faultPublish)
		return errPublish
	}
	var early []message
	q.mu.Lock()
	for _, r := range refs {
		q.msgs = append(q.msgs, message{ref: r})
		if w.faults && w.roll(w.opts.FaultRate/10) {
			w.count(faultDuplicate)
			q.msgs = append(q.msgs, message{ref: r})
		}
		if w.roll(earlyRate) {
			// Pub/Sub pushes as soon as it has the message: the
			// subscriber's run may finish before the publisher hears back.
			// Not a fault: it happens with the faults off too.
			w.count(faultEarly)
			i := len(q.msgs) - 1
			early = append(early, q.msgs[i])
			q.msgs = q.msgs[:i]
		}
	}
	q.mu.Unlock()
	for _, m := range early {
		w.deliver(ctx, m)
	}
	return nil
}

func (q *queue) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	return q.publish(ctx, refs...)
}

func (q *queue) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	return q.publish(ctx, ref)
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// take removes one message: a random one while faults are on (reordering),
// the oldest otherwise.
func (q *queue) take() (message, bool) {
	q.mu.Lock()
	n := len(q.msgs)
	q.mu.Unlock()
	if n == 0 {
		return message{}, false
	}
	i := 0
	if q.w.faults {
		i = q.w.intn(n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if i >= len(q.msgs) {
		i = len(q.msgs) - 1
	}
	m := q.msgs[i]
	q.msgs = append(q.msgs[:i:i], q.msgs[i+1:]...)
	return m, true
}

func (q *queue) redeliver(m message) {
	m.attempts++
	if m.attempts >= maxAttempts {
		q.w.mu.Lock()
		q.w.stats.DeadLettered++
		q.w.mu.Unlock()
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
}

// deliverOne hands one message to sync-case, as Pub/Sub's push does, and
// applies the retry contract: a transient or unknown error is redelivered.
func (w *world) deliverOne(ctx context.Context) bool {
	m, ok := w.queue.take()
	if !ok {
		return false
	}
	w.deliver(ctx, m)
	return true
}

// deliver hands m to sync-case, with the delivery faults.
func (w *world) deliver(ctx context.Context, m message) {
	if w.faults && w.roll(w.opts.FaultRate/20) {
		// Lost: Pub/Sub never delivers it; the sweep must notice.
		w.count(faultDrop)
		return
	}
	if w.faults && w.roll(w.opts.FaultRate/10) {
		w.count(faultConcur)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = w.syncOnce(ctx, m.ref)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if retry(err) {
				w.queue.redeliver(m)
			}
		}
		return
	}
	if err := w.syncOnce(ctx, m.ref); retry(err) {
		w.queue.redeliver(m)
	}
}

// syncOnce is one run of sync-case by a worker that may die.
func (w *world) syncOnce(ctx context.Context, ref casesync.CaseRef) error {
	w.mu.Lock()
	w.stats.SyncRuns++
	w.mu.Unlock()
	r := &run{w: w}
	if w.faults && w.roll(w.opts.FaultRate/20) {
		w.count(faultDeadline)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(1+w.intn(20))*time.Millisecond)
		defer cancel()
	}
	res, err := w.engine(r).SyncCase(ctx, ref)
	w.tracef("sync %s %s %s: mapping %s skipped %q actions %q error %v dead %v", ref.Side, ref.ID, ref.MappingID, res.MappingID, res.Skipped, res.Actions, err, r.dead.Load())
	if r.dead.Load() {
		// The worker is gone: Pub/Sub redelivers after the ack deadline.
		return errCrashed
	}
	return err
}

// retry reports whether Pub/Sub would deliver the message again.
func retry(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errCrashed) {
		return true
	}
	return !casesync.IsPermanent(err)
}
