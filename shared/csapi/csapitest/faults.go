package csapitest

import "time"

// Fault makes matching API calls misbehave. A fault with Status 0 only adds
// Latency.
type Fault struct {
	// Method is the API method it hits, e.g. "cases.search"; "" hits any.
	Method string
	// Status is the HTTP status to answer with (429, 500, 503, ...); 0 lets
	// the call proceed after Latency.
	Status int
	// RetryAfter, when positive, is sent as a Retry-After header (seconds,
	// rounded up).
	RetryAfter time.Duration
	// Count is how many calls it hits; 0 means until cleared.
	Count int
	// Latency delays the answer.
	Latency time.Duration
}

// InjectFault adds a fault. Faults are matched in the order they were
// injected; the first that matches a call hits it.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fc := f
	s.faults = append(s.faults, &fc)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetDown makes every API call answer 503 UNAVAILABLE while down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetSearchLag makes cases.search see the cases as they were d ago, as a
// lagging search index does: newer cases are missing and newer changes are
// not reflected. cases.get and cases.list are always current.
func (s *Server) SetSearchLag(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchLag = d
}

// SetEscalationDenied makes cases.escalate answer 403 PERMISSION_DENIED, as
// it does for support plans without technical escalations.
func (s *Server) SetEscalationDenied(denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.escalDenied = denied
}

// Calls returns how many API calls each method received (faulted calls
// included, test hooks excluded).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// ResetCalls sets every call counter back to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// takeFault returns the fault hitting a call of method, consuming one use of
// it; the caller holds s.mu.
func (s *Server) takeFault(method string) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		hit := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &hit
	}
	return nil
}
