package casesync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// lease is one reconciliation's hold on a mapping. It is renewed in the
// background while the work runs; once another worker has taken it (the
// holder or generation in the store is no longer this one's), the work's
// context is cancelled and nothing more is written.
type lease struct {
	e      *Engine
	id     string
	holder string
	gen    int64
	dur    time.Duration

	mu    sync.Mutex
	until time.Time
	lost  error
	// ended: the holder's last write let the lease go (see endIn).
	ended bool

	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// hold starts renewing the lease every third of its duration. The returned
// context is cancelled when the lease is lost; call release when the work
// ends.
func (e *Engine) hold(ctx context.Context, m Mapping, holder string, dur time.Duration) (*lease, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	l := &lease{e: e, id: m.ID, holder: holder, gen: m.LeaseGeneration, dur: dur, until: m.LeaseUntil,
		cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	go l.loop(ctx)
	return l, ctx
}

func (l *lease) loop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(max(l.dur/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.renew(ctx); errors.Is(err, ErrLeaseLost) {
				return
			}
		}
	}
}

// renew extends the lease from now. A lost lease cancels the work.
func (l *lease) renew(ctx context.Context) error {
	if err := l.lostErr(); err != nil {
		return err
	}
	now := l.e.now()
	m, err := l.e.Store.RenewLease(ctx, l.id, l.holder, l.gen, now.Add(l.dur))
	if errors.Is(err, ErrLeaseLost) || IsNotFound(err) {
		l.mu.Lock()
		l.lost = fmt.Errorf("mapping %s: %w", l.id, ErrLeaseLost)
		l.mu.Unlock()
		l.cancel()
		return l.lost
	}
	if err != nil {
		// A failed renewal is tried again on the next tick; the lease
		// still runs until its end.
		return err
	}
	l.mu.Lock()
	l.until = m.LeaseUntil
	l.mu.Unlock()
	return nil
}

func (l *lease) lostErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// keep is called before every side effect: it fails if the lease was lost,
// and renews it first when less than half of it is left.
func (l *lease) keep(ctx context.Context) error {
	if err := l.lostErr(); err != nil {
		return err
	}
	l.mu.Lock()
	left := l.until.Sub(l.e.now())
	l.mu.Unlock()
	if left > l.dur/2 {
		return nil
	}
	if err := l.renew(ctx); err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return nil
}

// owns reports whether m, as just read in a transaction, is still held by
// this lease. Writes under the lease check it, so a worker that lost the
// lease records nothing.
func (l *lease) owns(m *Mapping) error {
	if m.LeaseHolder != l.holder || m.LeaseGeneration != l.gen {
		l.mu.Lock()
		if l.lost == nil {
			l.lost = fmt.Errorf("mapping %s: %w", l.id, ErrLeaseLost)
		}
		l.mu.Unlock()
		l.cancel()
		return l.lostErr()
	}
	return nil
}

// stopRenewing stops the renewals and cancels the work's context, for a
// holder that ends the lease in its own last write.
func (l *lease) stopRenewing() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.cancel()
}

// release stops the renewals and ends the lease, even if ctx is done.
func (l *lease) release(ctx context.Context) error {
	l.stopRenewing()
	if l.lostErr() != nil || l.ended {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return l.e.Store.ReleaseLease(rctx, l.id, l.holder)
}

// endIn lets the lease go in m, the holder's last write of the mapping, so
// that no separate release is needed; call ended once that write is
// committed.
func (l *lease) endIn(m *Mapping) {
	m.LeaseHolder, m.LeaseUntil = "", time.Time{}
}

// endedInWrite records that the holder's committed last write let the
// lease go, and stops the renewals.
func (l *lease) endedInWrite() {
	l.stopRenewing()
	l.ended = true
}
