package chaos

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// queue stands in for Pub/Sub: at-least-once delivery of what the functions
// publish and of the events both sides send, which may fail to publish, and,
// while faults are on, deliver a message twice, two copies at once, out of
// order, much later than it was published, or not at all.
type queue struct {
	w    *world
	mu   sync.Mutex
	msgs []message
	// held are messages Pub/Sub holds back for a while: delivered late,
	// with their old publish time.
	held []heldMessage
}

// Kinds of message, by what published them: each sync-case run knows the
// kind of the message that started it.
const (
	kindPoll    = "case-updated by a poller"
	kindCommand = "sync-requested"
	kindPerson  = "event for a person's change"
	kindOwn     = "event for casebridge's own write"
)

type message struct {
	ref  casesync.CaseRef
	kind string
	// published is the publish time Pub/Sub stamped, on the engine's clock
	// (give or take the clocks' skew): the handler passes it to the engine
	// as the reference's EventTime. Redeliveries keep it.
	published time.Time
	attempts  int
	// notBefore: a message handed back is delivered again only after
	// Pub/Sub's retry backoff.
	notBefore time.Time
	// handedBack: sync-case handed this message back at least once
	// (ErrWaitForHolder); it must be handled in the end.
	handedBack bool
}

type heldMessage struct {
	m message
	// until is the operation after which it is delivered.
	until int
}

// maxAttempts is the subscription's delivery attempts before a message is
// dead-lettered (Terraform's sync-case subscriptions allow 10).
const maxAttempts = 10

// Pub/Sub's retry backoff on the sync-case subscriptions (Terraform's: 10 s
// doubling up to 10 min), applied to a message sync-case handed back.
const (
	minBackoff = 10 * time.Second
	maxBackoff = 10 * time.Minute
)

// maxClockSkew bounds how far Pub/Sub's clock, which stamps publish times,
// is from the functions' clock in this world: just under the margin the
// engine allows for (two seconds).
const maxClockSkew = 1900 * time.Millisecond

var errPublish = errors.New("chaos: publish failed")

// earlyRate is the share of messages delivered before their publish call
// returns.
const earlyRate = 0.2

// runPublisher is the publisher of one run: what it publishes draws its
// faults from the run's dice.
type runPublisher struct {
	q *queue
	d *dice
}

func (p runPublisher) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	return p.publish(ctx, kindPoll, refs...)
}

func (p runPublisher) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	return p.publish(ctx, kindCommand, ref)
}

// publish is the functions' publish: it may fail while faults are on.
func (p runPublisher) publish(ctx context.Context, kind string, refs ...casesync.CaseRef) error {
	w := p.q.w
	if w.faults && p.d.roll(w.opts.FaultRate/10) {
		w.count(faultPublish)
		return errPublish
	}
	p.q.enqueue(ctx, p.d, kind, refs...)
	return nil
}

// enqueue takes messages into Pub/Sub, stamped with Pub/Sub's publish time,
// with the delivery faults that strike at publish: a duplicate, a message
// held back to be delivered late, and (not a fault: it happens with the
// faults off too) delivery before the publish call returns.
func (q *queue) enqueue(ctx context.Context, d *dice, kind string, refs ...casesync.CaseRef) {
	w := q.w
	var early []message
	for _, r := range refs {
		m := message{ref: r, kind: kind, published: w.clock.Now().Add(w.skew(d))}
		q.mu.Lock()
		q.msgs = append(q.msgs, m)
		q.mu.Unlock()
		if w.faults && d.roll(w.opts.FaultRate/10) {
			w.count(faultDuplicate)
			q.mu.Lock()
			q.msgs = append(q.msgs, m)
			q.mu.Unlock()
		}
		if w.faults && d.roll(w.opts.FaultRate/10) {
			// Held back: delivered after later operations, its publish
			// time by then long past.
			w.count(faultHeld)
			until := w.op + 5 + d.intn(40)
			q.mu.Lock()
			q.msgs = q.msgs[:len(q.msgs)-1]
			q.held = append(q.held, heldMessage{m: m, until: until})
			q.mu.Unlock()
			continue
		}
		if d.roll(earlyRate) {
			// Pub/Sub pushes as soon as it has the message: the
			// subscriber's run may finish before the publisher hears back.
			w.count(faultEarly)
			q.mu.Lock()
			q.msgs = q.msgs[:len(q.msgs)-1]
			q.mu.Unlock()
			early = append(early, m)
		}
	}
	for _, m := range early {
		w.deliver(ctx, d, m)
	}
}

// release puts the held-back messages whose time has come (all of them
// when all is true) back in line for delivery.
func (q *queue) release(all bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.held[:0]
	for _, h := range q.held {
		if all || h.until <= q.w.op {
			q.msgs = append(q.msgs, h.m)
		} else {
			kept = append(kept, h)
		}
	}
	q.held = kept
}

// len is how many messages are waiting, held back or not.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs) + len(q.held)
}

// nextDue is the earliest time a waiting message may be delivered.
func (q *queue) nextDue() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var at time.Time
	for i, m := range q.msgs {
		if i == 0 || m.notBefore.Before(at) {
			at = m.notBefore
		}
	}
	return at, len(q.msgs) > 0
}

// take removes one message that may be delivered now: a random one while
// faults are on (reordering), the oldest otherwise.
func (q *queue) take() (message, bool) {
	now := q.w.clock.Now()
	ready := func() []int {
		var out []int
		for i, m := range q.msgs {
			if !m.notBefore.After(now) {
				out = append(out, i)
			}
		}
		return out
	}
	q.mu.Lock()
	n := len(ready())
	q.mu.Unlock()
	if n == 0 {
		return message{}, false
	}
	j := 0
	if q.w.faults {
		j = q.w.intn(n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	// Messages are only appended meanwhile: the j-th ready one is the same.
	i := ready()[j]
	m := q.msgs[i]
	q.msgs = append(q.msgs[:i:i], q.msgs[i+1:]...)
	return m, true
}

// redeliver puts m back for another attempt, as Pub/Sub does after a nack;
// a message handed back waits for the retry backoff.
func (q *queue) redeliver(m message, handedBack bool) {
	w := q.w
	m.attempts++
	if handedBack {
		if !m.handedBack {
			w.mu.Lock()
			w.stats.HandedBack++
			w.mu.Unlock()
		}
		m.handedBack = true
		backoff := min(minBackoff<<min(m.attempts-1, 10), maxBackoff)
		m.notBefore = w.clock.Now().Add(backoff)
	}
	if m.attempts >= maxAttempts {
		w.mu.Lock()
		w.stats.DeadLettered++
		if m.handedBack {
			w.stats.HandedBackLost++
		}
		w.mu.Unlock()
		if m.handedBack {
			w.tracef("dead-lettered a message handed back: %s %s item %q", m.ref.Side, m.ref.ID, m.ref.Item)
		}
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
	w.deliver(ctx, w.dice, m)
	return true
}

// deliver hands m to sync-case, with the delivery faults drawn from d.
func (w *world) deliver(ctx context.Context, d *dice, m message) {
	if w.faults && !m.handedBack && d.roll(w.opts.FaultRate/20) {
		// Lost: Pub/Sub never delivers it; the sweep must notice. (A
		// message sync-case handed back is kept by Pub/Sub until acked.)
		w.count(faultDrop)
		return
	}
	if w.faults && d.roll(w.opts.FaultRate/10) {
		w.count(faultConcur)
		// The second copy is a delivery of its own: for the count of
		// messages handed back, it is a new message.
		copies := []message{m, m}
		copies[1].handedBack = false
		runs := []*run{w.newRun(d, m.kind), w.newRun(d, m.kind)}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = w.syncOnce(ctx, runs[i], copies[i])
			}()
		}
		wg.Wait()
		for i, err := range errs {
			w.settle(copies[i], err)
		}
		return
	}
	w.settle(m, w.syncOnce(ctx, w.newRun(d, m.kind), m))
}

// settle applies the retry contract to the outcome of one delivery of m.
func (w *world) settle(m message, err error) {
	switch {
	case errors.Is(err, casesync.ErrWaitForHolder):
		w.queue.redeliver(m, true)
	case retry(err):
		w.queue.redeliver(m, false)
	case m.handedBack:
		w.mu.Lock()
		w.stats.HandedBackHandled++
		w.mu.Unlock()
	}
}

// syncOnce is run r of sync-case, by a worker that may die, for message
// m: the handler gives the engine the message's publish time.
func (w *world) syncOnce(ctx context.Context, r *run, m message) error {
	w.mu.Lock()
	w.stats.SyncRuns++
	w.mu.Unlock()
	if w.faults && r.roll(w.opts.FaultRate/20) {
		// The function's deadline runs out at one of the run's API calls.
		w.count(faultDeadline)
		r.deadline, r.deadlineAt = newExpiringContext(ctx), 1+r.dice.intn(8)
		ctx = r.deadline
	}
	ref := m.ref
	ref.EventTime = m.published
	res, err := w.engine(r).SyncCase(ctx, ref)
	w.tracef("sync %s %s %s item %q (%s, published %s): mapping %s skipped %q actions %q error %v dead %v",
		ref.Side, ref.ID, ref.MappingID, ref.Item, m.kind, m.published.Format("15:04:05.000"), res.MappingID, res.Skipped, res.Actions, err, r.dead.Load())
	w.outcome(m, res, err)
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
