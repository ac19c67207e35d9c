package freshdesk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// TestABacklogUnderTheGrowthPlanCapsIsReadAcrossPolls: with the ticket
// list capped as on Growth (20 calls a minute), a backlog needing more
// list calls than that is read over polls a minute apart, each going on
// from the cursor the last one answered, and every ticket is returned.
func TestABacklogUnderTheGrowthPlanCapsIsReadAcrossPolls(t *testing.T) {
	perMinute, caps, _ := freshdesktest.PlanLimits("growth")
	clk := &steppingClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	sim, crm := newAdapter(t, freshdesktest.Options{Clock: clk.Now, RequestsPerMinute: perMinute, EndpointLimits: caps}, nil)
	since := clk.Now().Add(-time.Minute)
	want := map[string]bool{}
	for i := range 50 {
		clk.Advance(time.Second)
		want[sim.CreateTicket(freshdesktest.Ticket{Subject: "t" + strconv.Itoa(i), Description: "d", SyncFlag: true})] = true
	}
	clk.Advance(time.Minute)
	ctx := context.Background()
	got := map[string]bool{}
	cursor, polls := "", 0
	for {
		polls++
		if polls > 6 {
			t.Fatalf("6 polls did not read the backlog; %d of %d tickets read", len(got), len(want))
		}
		sim.ResetCalls()
		cases, next, err := crm.SearchUpdatedStep(ctx, since, cursor, time.Now().Add(casesync.PollReadBudget))
		if err != nil {
			t.Fatalf("poll %d: SearchUpdatedStep: %v", polls, err)
		}
		if n := sim.Calls()["GET /api/v2/tickets"]; n > caps["GET /api/v2/tickets"]+1 {
			t.Errorf("poll %d made %d list calls; want at most the cap and the one refused", polls, n)
		}
		for _, c := range cases {
			got[c.ID] = true
		}
		if next == "" {
			break
		}
		if err := casesync.CheckPollCursor(next); err != nil {
			t.Fatalf("poll %d answered a cursor that cannot be saved: %v", polls, err)
		}
		cursor = next
		clk.Advance(time.Minute)
	}
	if polls < 2 {
		t.Errorf("the backlog was read in one poll; want it to need several under the cap (is the cap applied?)")
	}
	for id := range want {
		if !got[id] {
			t.Errorf("ticket %s was never returned", id)
		}
	}
}

// TestAStepStopsAtItsDeadlineAndGoesOn: a step whose stopAt has passed
// reads one page and answers where to go on; going on from there reads
// the rest, and the whole equals SearchUpdated.
func TestAStepStopsAtItsDeadlineAndGoesOn(t *testing.T) {
	clk := &steppingClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	sim, crm := newAdapter(t, freshdesktest.Options{Clock: clk.Now}, nil)
	since := clk.Now().Add(-time.Minute)
	for i := range 7 {
		clk.Advance(time.Second)
		sim.CreateTicket(freshdesktest.Ticket{Subject: "t" + strconv.Itoa(i), Description: "d", SyncFlag: true})
	}
	clk.Advance(10 * time.Second)
	ctx := context.Background()
	sim.ResetCalls()
	first, next, err := crm.SearchUpdatedStep(ctx, since, "", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.Calls()["GET /api/v2/tickets"]; n != 1 || next == "" {
		t.Fatalf("a step past its deadline made %d list calls and answered cursor %q; want one call and a cursor", n, next)
	}
	got := map[string]bool{}
	for _, c := range first {
		got[c.ID] = true
	}
	for steps := 0; next != ""; steps++ {
		if steps > 20 {
			t.Fatal("the steps never ended")
		}
		var cases []casesync.CompanyCase
		if cases, next, err = crm.SearchUpdatedStep(ctx, since, next, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			got[c.ID] = true
		}
	}
	whole, err := crm.SearchUpdated(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 7 || len(got) != len(whole) {
		t.Errorf("the steps read %d tickets, SearchUpdated %d; want 7 both", len(got), len(whole))
	}
	for _, c := range whole {
		if !got[c.ID] {
			t.Errorf("ticket %s was not read by the steps", c.ID)
		}
	}
}

// TestACursorThatCannotBeOursIsRefused: a saved cursor comes from a
// store; one that is malformed, names a page out of bounds, or a position
// before the poll's since or in the future is refused without a call.
func TestACursorThatCannotBeOursIsRefused(t *testing.T) {
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	since := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, cursor := range []string{
		"garbage",
		"u" + strconv.FormatInt(since.Unix(), 10) + "p0",
		"u" + strconv.FormatInt(since.Unix(), 10) + "p1001",
		"u" + strconv.FormatInt(since.Unix()-1, 10) + "p1",
		"u" + strconv.FormatInt(time.Now().Add(48*time.Hour).Unix(), 10) + "p1",
		"u" + strconv.FormatInt(since.Unix(), 10) + "p1 ",
		"-u1p1",
	} {
		sim.ResetCalls()
		_, _, err := crm.SearchUpdatedStep(context.Background(), since, cursor, time.Now().Add(time.Minute))
		if !errors.Is(err, casesync.ErrPollCursorRefused) {
			t.Errorf("cursor %q: err = %v; want ErrPollCursorRefused", cursor, err)
		}
		if n := sim.Calls()["GET /api/v2/tickets"]; n != 0 {
			t.Errorf("cursor %q: %d list calls; want none", cursor, n)
		}
	}
	if _, _, err := crm.SearchUpdatedStep(context.Background(), since, "u"+strconv.FormatInt(since.Unix(), 10)+"p1", time.Now().Add(time.Minute)); err != nil {
		t.Errorf("a well-formed cursor at since: %v", err)
	}
}

// TestANextPageOnTheSameHostButAnotherPathIsNotFollowed: a link rel="next"
// must be a further page of the same listing; one to another endpoint of
// the same host is not requested.
func TestANextPageOnTheSameHostButAnotherPathIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	var sim *freshdesktest.Server
	sim = intercepted(t, freshdesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/conversations") {
			w.Header().Set("Link", "<"+sim.URL+"/api/v2/agents/me?page=2>; rel=\"next\"")
			return false
		}
		if r.URL.Query().Get("page") == "2" {
			elsewhere.Add(1)
		}
		return false
	}, nil)
	crm := adapterFor(t, sim, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	if _, err := sim.AddHumanComment(id, "Alice Agent", "hello", true); err != nil {
		t.Fatal(err)
	}
	_, err := crm.ListComments(context.Background(), id)
	if err == nil || !casesync.IsPermanent(err) {
		t.Errorf("ListComments = %v; want a permanent error", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests followed the next link to another path", n)
	}
}

// TestWithNoEscalationFieldClearingMakesNoCall: with
// FRESHDESK_ESCALATION_FIELD=none there is nothing to clear.
func TestWithNoEscalationFieldClearingMakesNoCall(t *testing.T) {
	sim, crm := newAdapter(t, freshdesktest.Options{}, func(c *freshdesk.Config) { c.EscalationField = "" })
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	sim.ResetCalls()
	if err := crm.ClearEscalationRequest(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if calls := sim.Calls(); len(calls) != 0 {
		t.Errorf("ClearEscalationRequest made %v; want no call", calls)
	}
}

// TestAttachmentAddressesOutsideThePublicInternetAreNotFetched: an
// attachment_url naming an IP address, localhost, a single-label or an
// .internal name is refused before anything is dialled.
func TestAttachmentAddressesOutsideThePublicInternetAreNotFetched(t *testing.T) {
	for _, target := range []string{
		"http://10.0.0.7/file",
		"http://127.1/file",
		"http://2130706433/file",
		"http://[::1]/file",
		"http://[fd00::1]/file",
		"http://localhost/file",
		"http://files.localhost/file",
		"http://metadata/computeMetadata/v1/",
		"http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
		"http://vm-1.us-central1-a.c.project.internal/file",
	} {
		t.Run(target, func(t *testing.T) {
			var dialed atomic.Int64
			transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, _ := net.SplitHostPort(addr); host == "127.0.0.1" {
					return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				}
				dialed.Add(1)
				return nil, errors.New("test transport: not dialed")
			}}
			t.Cleanup(transport.CloseIdleConnections)
			sim := intercepted(t, freshdesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/conversations") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`[{"id":5,"body_text":"f","private":false,"user_id":0,"attachments":[{"id":77,"name":"f","content_type":"text/plain","size":1,` +
					`"attachment_url":"` + target + `","created_at":"2026-01-01T00:00:00Z"}],"created_at":"2026-01-01T00:00:00Z"}]`))
				return true
			}, nil)
			crm := adapterFor(t, sim, func(c *freshdesk.Config) { c.HTTP = &http.Client{Transport: transport} })
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			rc, err := crm.DownloadAttachment(context.Background(), id, "77")
			if err == nil {
				rc.Close()
				t.Fatal("DownloadAttachment succeeded; want the address refused")
			}
			if !casesync.IsPermanent(err) {
				t.Errorf("err = %v; want a permanent error", err)
			}
			if n := dialed.Load(); n != 0 {
				t.Errorf("%d dials for a refused address", n)
			}
		})
	}
}

// TestARedirectToAnotherLoopbackAddressIsNotFollowed: the file host (here
// CRM_URL's own, 127.0.0.1) redirects to 127.0.0.2, a loopback address
// that is not CRM_URL's: the dialer refuses it, with the adapter's own
// client (a Control function) and with a caller's transport alike.
func TestARedirectToAnotherLoopbackAddressIsNotFollowed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("this test needs to listen on 127.0.0.2 (Linux routes 127.0.0.0/8 to loopback): %v", err)
	}
	var reached atomic.Int64
	inner := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte("secret"))
	}))
	inner.Listener.Close()
	inner.Listener = ln
	inner.Start()
	t.Cleanup(inner.Close)
	for _, tc := range []struct {
		name string
		http func() *http.Client
	}{
		{"the adapter's own client", func() *http.Client { return nil }},
		{"a caller's transport", func() *http.Client {
			return &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			files := 0
			sim := intercepted(t, freshdesktest.Options{}, nil, func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				files++
				mu.Unlock()
				http.Redirect(w, r, inner.URL+"/token", http.StatusFound)
				return true
			})
			crm := adapterFor(t, sim, func(c *freshdesk.Config) { c.HTTP = tc.http() })
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			if _, err := sim.AddHumanAttachment(id, "Alice Agent", "a.txt", "text/plain", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			atts, err := crm.ListAttachments(context.Background(), id)
			if err != nil || len(atts) != 1 {
				t.Fatalf("ListAttachments = %v, %v; want one file", atts, err)
			}
			rc, err := crm.DownloadAttachment(context.Background(), id, atts[0].ID)
			if err == nil {
				rc.Close()
				t.Fatal("DownloadAttachment succeeded; want the redirect's address refused")
			}
			if !casesync.IsPermanent(err) {
				t.Errorf("err = %v; want a permanent error", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if files == 0 {
				t.Errorf("the file host was never asked: the test did not exercise the redirect")
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("127.0.0.2 was reached %d times", n)
			}
		})
	}
}
