package freshdesktest_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// TestAPlanCapsTheTicketListPerMinute: on Growth the ticket list takes 20
// calls a minute while the account takes 200; past the list's cap the
// list answers 429 with Retry-After until the minute ends, and other
// endpoints are still served.
func TestAPlanCapsTheTicketListPerMinute(t *testing.T) {
	perMinute, caps, ok := freshdesktest.PlanLimits("growth")
	if !ok || perMinute != 200 || caps["GET /api/v2/tickets"] != 20 || caps["POST /api/v2/tickets"] != 80 {
		t.Fatalf(`PlanLimits("growth") = %d, %v, %v; want 200 a minute, the list 20 and ticket creation 80`, perMinute, caps, ok)
	}
	if _, _, ok := freshdesktest.PlanLimits("unknown"); ok {
		t.Errorf(`PlanLimits("unknown") is ok; want an unknown plan refused`)
	}
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := freshdesktest.NewServer(t, freshdesktest.Options{Clock: clock, RequestsPerMinute: perMinute, EndpointLimits: caps})
	id := s.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	key := s.Options().APIKey
	for i := 1; i <= 20; i++ {
		if st, _, body := call(t, s, http.MethodGet, "/api/v2/tickets", key, nil); st != http.StatusOK {
			t.Fatalf("list call %d answered %d %s; want 200 within the cap", i, st, body)
		}
	}
	st, h, _ := call(t, s, http.MethodGet, "/api/v2/tickets", key, nil)
	if st != http.StatusTooManyRequests {
		t.Fatalf("the 21st list call in a minute answered %d; want 429", st)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q; want 1 to 60 seconds", h.Get("Retry-After"))
	}
	if got := h.Get("X-RateLimit-Remaining"); got != strconv.Itoa(perMinute-21) {
		t.Errorf("X-RateLimit-Remaining = %q; want %d (the refused call counts)", got, perMinute-21)
	}
	if st, _, _ := call(t, s, http.MethodGet, "/api/v2/tickets/"+id, key, nil); st != http.StatusOK {
		t.Errorf("GET /tickets/{id} answered %d with the list's cap spent; want 200", st)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if st, _, _ := call(t, s, http.MethodGet, "/api/v2/tickets", key, nil); st != http.StatusOK {
		t.Errorf("the list answered %d a minute later; want 200", st)
	}
}

// TestWithoutCapsTheListIsNotLimited: the caps are an option; without
// them the list is served whatever the count.
func TestWithoutCapsTheListIsNotLimited(t *testing.T) {
	s := freshdesktest.NewServer(t, freshdesktest.Options{})
	for i := 1; i <= 30; i++ {
		st, h, _ := call(t, s, http.MethodGet, "/api/v2/tickets", s.Options().APIKey, nil)
		if st != http.StatusOK {
			t.Fatalf("list call %d answered %d; want 200", i, st)
		}
		if h.Get("X-RateLimit-Total") != "" {
			t.Fatalf("X-RateLimit-Total = %q without a limit; want none", h.Get("X-RateLimit-Total"))
		}
	}
}
