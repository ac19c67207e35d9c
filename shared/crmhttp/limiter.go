package crmhttp

import (
	"context"
	"math"
	"sync"
	"time"
)

// Limiter is a token bucket: it lets rate calls a second through on
// average, and up to burst at once after a quiet spell. Calls that would
// go over wait their turn, in order of arrival.
type Limiter struct {
	mu       sync.Mutex
	interval time.Duration // time to earn one token
	burst    float64
	tokens   float64
	last     time.Time
	now      func() time.Time
}

// NewLimiter returns a Limiter of rate calls a second; burst <= 0 means
// rate rounded up (at least 1).
func NewLimiter(rate float64, burst int) *Limiter {
	if burst <= 0 {
		burst = max(int(math.Ceil(rate)), 1)
	}
	return &Limiter{
		interval: time.Duration(float64(time.Second) / rate),
		burst:    float64(burst),
		tokens:   float64(burst),
		now:      time.Now,
	}
}

// reserve takes one token and returns how long the caller must wait
// before using it.
func (l *Limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens = math.Min(l.burst, l.tokens+float64(now.Sub(l.last))/float64(l.interval))
	}
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens * float64(l.interval))
}

// Wait blocks until the caller may make a call, or ctx ends. A call that
// gives up keeps its token spent: the CRM's limit is what matters, and it
// is safer to under-use it.
func (l *Limiter) Wait(ctx context.Context) error {
	d := l.reserve()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
