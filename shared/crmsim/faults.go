package crmsim

import (
	"maps"
	"time"
)

// Fault makes matching port calls fail before they do anything.
type Fault struct {
	// Op is the operation it hits (see the Op constants); "" hits any.
	Op string `json:"op,omitempty"`
	// Status is the HTTP status to fail with (429, 500, 503, 400, ...).
	// 429 and 5xx are transient.
	Status int `json:"status"`
	// RetryAfter, when positive, is the server's advice to wait. Over HTTP
	// it is sent as a Retry-After header in whole seconds, rounded up.
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
	// Count is how many calls it hits; 0 means every call until cleared.
	Count int `json:"count,omitempty"`
}

// SetDown makes every port call fail with a transient 503 while down is
// true. Human actions and inspection keep working.
func (c *CRM) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// InjectFault adds a fault. Faults are matched in the order they were
// injected; the first that matches a call hits it.
func (c *CRM) InjectFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Status == 0 {
		f.Status = 503
	}
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every injected fault.
func (c *CRM) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// takeFaultLocked returns the fault that hits a call of op, using one of its
// hits, or nil.
func (c *CRM) takeFaultLocked(op string) *Fault {
	for i, f := range c.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		hit := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
			}
		}
		return &hit
	}
	return nil
}

// Calls returns how many port calls were made per operation since the last
// ResetCalls, failed ones included. Over HTTP every request counts, so a
// search that follows three pages counts three. Human actions do not count.
func (c *CRM) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// ResetCalls sets every count back to zero.
func (c *CRM) ResetCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = map[string]int{}
}
