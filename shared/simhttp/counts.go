package simhttp

import (
	"maps"
	"sync"
)

// Counts counts a simulator's requests by key ("METHOD pattern"). It is
// safe for concurrent use and needs no setup.
type Counts[N int | int64] struct {
	mu sync.Mutex
	n  map[string]N
}

// Add counts one request under key.
func (c *Counts[N]) Add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]N{}
	}
	c.n[key]++
}

// Snapshot returns the counts so far.
func (c *Counts[N]) Snapshot() map[string]N {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := maps.Clone(c.n)
	if out == nil {
		out = map[string]N{}
	}
	return out
}

// Reset zeroes the counts.
func (c *Counts[N]) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = nil
}
