package crmsim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

func TestACasesReadAtIsTheCRMsClockNotCasebridges(t *testing.T) {
	skews := []struct {
		name string
		skew time.Duration
	}{
		{name: "a CRM clock 90 seconds behind ours", skew: -90 * time.Second},
		{name: "a CRM clock 90 seconds ahead of ours", skew: 90 * time.Second},
	}
	ways := []struct {
		name string
		crm  func(t *testing.T, sim *crmsim.CRM) casesync.CRM
	}{
		{name: "in memory", crm: func(t *testing.T, sim *crmsim.CRM) casesync.CRM { return sim }},
		{name: "over HTTP", crm: func(t *testing.T, sim *crmsim.CRM) casesync.CRM { c, _ := served(t, sim); return c }},
	}
	for _, sk := range skews {
		for _, way := range ways {
			t.Run(sk.name+", read "+way.name, func(t *testing.T) {
				crmNow := func() time.Time { return time.Now().Add(sk.skew) }
				sim := crmsim.New(crmsim.Options{Clock: crmNow})
				crm := way.crm(t, sim)
				id := sim.CreateTicket(crmsim.Ticket{Subject: "s", Description: "d", SyncFlag: true})
				from := crmNow().UTC().Truncate(time.Second)
				c, err := crm.GetCase(context.Background(), id)
				to := crmNow()
				if err != nil {
					t.Fatalf("GetCase: %v", err)
				}
				if c.ReadAt.Before(from) || c.ReadAt.After(to) {
					t.Errorf("ReadAt = %v, want the CRM's clock during the read, within [%v, %v]", c.ReadAt, from, to)
				}
			})
		}
	}
}

func TestEveryAnswerOfTheSimulatorIsDatedByItsClock(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 5, 987654321, time.UTC)
	sim := crmsim.New(crmsim.Options{Clock: func() time.Time { return at }})
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	tests := []struct{ name, method, path string }{
		{name: "a case read", method: http.MethodGet, path: "/api/tickets/" + id},
		{name: "a search", method: http.MethodGet, path: "/api/tickets"},
		{name: "a comment listing", method: http.MethodGet, path: "/api/tickets/" + id + "/comments"},
		{name: "an error answer", method: http.MethodGet, path: "/api/tickets/987654"},
		{name: "an answer without a body", method: http.MethodPost, path: "/api/tickets/" + id + "/close"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.Header.Get("Date"), "Sun, 01 Mar 2026 10:00:05 GMT"; got != want {
				t.Errorf("Date = %q, want %q (status %d)", got, want, resp.StatusCode)
			}
		})
	}
}
