package csapi

import (
	"context"
	"math/rand/v2"
	"time"
)

// retryPolicy says which transient failures of a call may be repeated.
type retryPolicy int

const (
	// idempotent calls are repeated after any transient failure.
	idempotent retryPolicy = iota
	// onlyIfUnsent calls are repeated only when the server certainly did not
	// act on the request (429, or no connection made); after any other
	// transient failure, 503 included, the call may have done its work.
	onlyIfUnsent
	// never: the call is made once.
	never
)

// attempt makes one HTTP attempt with ctx, the per-attempt context.
type attempt func(ctx context.Context) error

// beforeRetry, when set, prepares the next attempt (e.g. rewinds an upload);
// an error from it ends the retries with the previous failure.
type beforeRetry func() error

// call runs fn until it succeeds, fails permanently, may not be repeated
// under policy, or runs out of attempts, waiting with backoff in between.
// It returns nil or the *casesync.APIError of the last attempt.
func (c *Client) call(ctx context.Context, op string, policy retryPolicy, prepare beforeRetry, fn attempt) error {
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			o := classify(ctx, op, err)
			return o.err
		}
		attemptCtx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		err := fn(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		o := classify(ctx, op, err)
		if !c.mayRetry(ctx, o, policy, n) {
			return o.err
		}
		wait := c.backoff(n, o.err.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlast the caller; hand back the failure now.
			return o.err
		}
		if prepare != nil && prepare() != nil {
			return o.err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return o.err
		case <-t.C:
		}
	}
}

func (c *Client) mayRetry(ctx context.Context, o outcome, policy retryPolicy, n int) bool {
	if !o.err.Transient || n >= c.cfg.MaxAttempts || ctx.Err() != nil {
		return false
	}
	switch policy {
	case idempotent:
		return true
	case onlyIfUnsent:
		return o.unsent
	default:
		return false
	}
}

// backoff returns the wait before attempt n+1: the server's Retry-After if it
// gave one, else MinBackoff doubled per attempt with equal jitter; never more
// than MaxBackoff.
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	maxB := c.cfg.MaxBackoff
	if retryAfter > 0 {
		return min(retryAfter, maxB)
	}
	base := c.cfg.MinBackoff
	for i := 1; i < n && base < maxB; i++ {
		base *= 2
	}
	base = min(base, maxB)
	half := base / 2
	if half <= 0 {
		return base
	}
	return half + rand.N(half+1)
}
