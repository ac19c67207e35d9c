package crmsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/google/go-cmp/cmp"
)

// testLimit keeps the engine suite's oversized-file case small.
const testLimit = 256 << 10

// contractLimit lets the contract's 25 MiB download through, so that its
// flat-memory check measures a download of that size.
const contractLimit = 25 << 20

// steppingClock moves one second on at every reading, so that every change
// gets an update time of its own under whole-second granularity.
type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSteppingClock() *steppingClock {
	return &steppingClock{now: time.Now().UTC().Truncate(time.Second)}
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// memHarness runs the contract against the in-memory CRM.
type memHarness struct {
	sim *crmsim.CRM
	crm casesync.CRM
}

// harnessState is the state configuration the harnesses run with: the
// default fields, and two Google states mapped to statuses.
var harnessState = crmsim.StateConfig{StateStatuses: map[string]string{
	"IN_PROGRESS_GOOGLE_SUPPORT": "on-hold",
	"ACTION_REQUIRED":            "open",
}}

func newMemHarness(t *testing.T) crmcontract.Harness {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now, MaxAttachmentBytes: contractLimit, State: harnessState})
	return &memHarness{sim: sim, crm: sim}
}

func (h *memHarness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	if err := h.sim.RequestEscalation(id, reason, justification); err != nil {
		t.Fatalf("RequestEscalation: %v", err)
	}
}

func (h *memHarness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	ts, ok := h.sim.Ticket(id)
	if !ok {
		t.Fatalf("ticket %s is gone", id)
	}
	return ts.CustomFields[crmsim.DefaultStateField], ts.Status
}

func (h *memHarness) MappedState() (state, status string, ok bool) {
	return "ACTION_REQUIRED", "open", true
}

func (h *memHarness) CRM() casesync.CRM { return h.crm }

func (h *memHarness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	return h.sim.CreateTicket(crmsim.Ticket{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag, Requester: "Requester"})
}

func (h *memHarness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.sim.AddHumanComment(id, author, body, public)
	if err != nil {
		t.Fatalf("AddHumanComment: %v", err)
	}
	return cid
}

func (h *memHarness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddHumanAttachment(id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanAttachment: %v", err)
	}
	return aid
}

func (h *memHarness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	_, aid, err := h.sim.AddHumanCommentWithFile(id, "Human Agent", "A file for the agents.", false, filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanCommentWithFile on an internal note: %v", err)
	}
	return aid
}

func (h *memHarness) PriorityValues() []string { return h.sim.Priorities() }

func (h *memHarness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectFault(crmsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1})
	return true
}

func (h *memHarness) MaxAttachmentBytes() int64 { return h.sim.MaxAttachmentBytes() }

// Calls lets the contract measure what ListItems saves.
func (h *memHarness) Calls() map[string]int64 {
	out := map[string]int64{}
	for op, n := range h.sim.Calls() {
		out[op] = int64(n)
	}
	return out
}

// httpHarness runs the contract against the Client, over HTTP to the
// simulator's Handler, acting as humans through the /_sim/ hooks.
type httpHarness struct {
	memHarness
	ctl *crmsim.Control
}

func newHTTPHarness(t *testing.T) crmcontract.Harness {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now, MaxAttachmentBytes: contractLimit})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := crmsim.NewClient(srv.URL, srv.Client())
	client.PageSize = 7 // 25 tickets take four pages
	client.State = harnessState
	return &httpHarness{memHarness: memHarness{sim: sim, crm: client}, ctl: crmsim.NewControl(srv.URL, srv.Client())}
}

func (h *httpHarness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	t.Helper()
	id, err := h.ctl.CreateTicket(context.Background(), crmsim.Ticket{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
	if err != nil {
		t.Fatalf("CreateTicket over HTTP: %v", err)
	}
	return id
}

func (h *httpHarness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.ctl.AddHumanComment(context.Background(), id, author, body, public)
	if err != nil {
		t.Fatalf("AddHumanComment over HTTP: %v", err)
	}
	return cid
}

func (h *httpHarness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.ctl.AddHumanAttachment(context.Background(), id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanAttachment over HTTP: %v", err)
	}
	return aid
}

func (h *httpHarness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	_, aid, err := h.ctl.AddHumanCommentWithFile(context.Background(), id, "Human Agent", "A file for the agents.", false, filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanCommentWithFile on an internal note over HTTP: %v", err)
	}
	return aid
}

func (h *httpHarness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	if err := h.ctl.RequestEscalation(context.Background(), id, reason, justification); err != nil {
		t.Fatalf("RequestEscalation over HTTP: %v", err)
	}
}

func (h *httpHarness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	ts, err := h.ctl.Ticket(context.Background(), id)
	if err != nil {
		t.Fatalf("reading ticket %s over HTTP: %v", id, err)
	}
	return ts.CustomFields[crmsim.DefaultStateField], ts.Status
}

func (h *httpHarness) InjectRateLimit(t *testing.T) bool {
	t.Helper()
	if err := h.ctl.InjectFault(context.Background(), crmsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 1}); err != nil {
		t.Fatalf("InjectFault over HTTP: %v", err)
	}
	return true
}

func TestTheInMemoryCRMPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newMemHarness)
}

func TestTheHTTPClientPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHTTPHarness)
}

// served starts the simulator's Handler and returns a Client for it.
func served(t *testing.T, sim *crmsim.CRM) (*crmsim.Client, *crmsim.Control) {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c := crmsim.NewClient(srv.URL, srv.Client())
	c.MinBackoff = time.Millisecond
	return c, crmsim.NewControl(srv.URL, srv.Client())
}

func TestUpdateTimesAreTruncatedToTheGranularity(t *testing.T) {
	tests := []struct {
		name        string
		granularity time.Duration
		want        time.Time
	}{
		{name: "whole seconds by default", want: time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)},
		{name: "whole minutes when asked", granularity: time.Minute, want: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := time.Date(2026, 3, 1, 10, 0, 5, 987654321, time.UTC)
			sim := crmsim.New(crmsim.Options{Clock: func() time.Time { return at }, TimeGranularity: tc.granularity})
			id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
			c, err := sim.GetCase(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.UpdateTime.Equal(tc.want) || !c.CreateTime.Equal(tc.want) {
				t.Errorf("times = create %v, update %v; want both %v", c.CreateTime, c.UpdateTime, tc.want)
			}
			// A search from just before the change, inside the same truncated
			// unit, misses it: the quirk the engine's polling overlap covers.
			found, err := sim.SearchUpdated(context.Background(), at.Add(-time.Nanosecond))
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 0 {
				t.Errorf("search from inside the truncated unit found %d tickets, want 0", len(found))
			}
		})
	}
}

func TestHumanActionsBumpTheUpdateTimeAndIdempotentWritesDoNot(t *testing.T) {
	clk := newSteppingClock()
	sim := crmsim.New(crmsim.Options{Clock: clk.Now})
	ctx := context.Background()
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", Priority: "normal", SyncFlag: true})
	updated := func() time.Time {
		c, err := sim.GetCase(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.UpdateTime
	}
	steps := []struct {
		name     string
		act      func() error
		wantBump bool
	}{
		{"a human comment bumps it", func() error { _, err := sim.AddHumanComment(id, "Bob", "hi", true); return err }, true},
		{"a human attachment bumps it", func() error { _, err := sim.AddHumanAttachment(id, "Bob", "a.txt", "", []byte("x")); return err }, true},
		{"a human priority change bumps it", func() error { return sim.SetHumanPriority(id, "high") }, true},
		{"setting the same priority does not", func() error { return sim.SetPriority(ctx, id, "high") }, false},
		{"a human close bumps it", func() error { return sim.HumanClose(id) }, true},
		{"closing a closed ticket does not", func() error { return sim.CloseCase(ctx, id) }, false},
		{"a human reopen bumps it", func() error { return sim.HumanReopen(id) }, true},
		{"linking a Google case bumps it", func() error { return sim.SetGoogleCase(ctx, id, "projects/p/cases/1") }, true},
		{"linking the same Google case does not", func() error { return sim.SetGoogleCase(ctx, id, "projects/p/cases/1") }, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := updated()
			if err := st.act(); err != nil {
				t.Fatal(err)
			}
			if bumped := updated().After(before); bumped != st.wantBump {
				t.Errorf("update time bumped = %v, want %v", bumped, st.wantBump)
			}
		})
	}
	st, _ := sim.Ticket(id)
	if st.Closed || st.Priority != "high" || len(st.Comments) != 1 || len(st.Attachments) != 1 || st.Attachments[0].MimeType != "application/octet-stream" {
		t.Errorf("final state = %+v; want open, high, one comment, one octet-stream attachment", st)
	}
}

func TestFaultsAndOutagesGiveTypedErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		fault         *crmsim.Fault
		down          bool
		wantStatus    int
		wantTransient bool
		wantRetry     time.Duration
		wantReason    error
	}{
		{name: "a down CRM answers a transient 503", down: true, wantStatus: 503, wantTransient: true, wantReason: crmsim.ErrUnavailable},
		{name: "a 429 fault is transient and carries its advice", fault: &crmsim.Fault{Op: crmsim.OpGet, Status: 429, RetryAfter: 3 * time.Second},
			wantStatus: 429, wantTransient: true, wantRetry: 3 * time.Second, wantReason: crmsim.ErrRateLimited},
		{name: "a 500 fault is transient", fault: &crmsim.Fault{Status: 500}, wantStatus: 500, wantTransient: true, wantReason: crmsim.ErrInjected},
		{name: "a 403 fault is permanent", fault: &crmsim.Fault{Op: crmsim.OpGet, Status: 403}, wantStatus: 403, wantReason: crmsim.ErrInjected},
	}
	for _, tc := range tests {
		for _, via := range []string{"in memory", "over HTTP"} {
			t.Run(tc.name+" "+via, func(t *testing.T) {
				sim := crmsim.New(crmsim.Options{})
				id := sim.CreateTicket(crmsim.Ticket{Subject: "s"})
				var crm casesync.CRM = sim
				if via == "over HTTP" {
					c, _ := served(t, sim)
					c.MaxAttempts = 1 // see the first answer
					crm = c
				}
				if tc.fault != nil {
					sim.InjectFault(*tc.fault)
				}
				sim.SetDown(tc.down)
				_, err := crm.GetCase(ctx, id)
				var ae *casesync.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("GetCase error %v, want an APIError", err)
				}
				got := []any{ae.Side, ae.Status, ae.Transient, ae.RetryAfter, errors.Is(err, tc.wantReason)}
				want := []any{casesync.SideCompany, tc.wantStatus, tc.wantTransient, tc.wantRetry, true}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("error [side status transient retryAfter reason] (-want +got):\n%s", diff)
				}
				sim.SetDown(false)
				sim.ClearFaults()
				if _, err := crm.GetCase(ctx, id); err != nil {
					t.Errorf("GetCase after the fault cleared: %v", err)
				}
			})
		}
	}
}

func TestTheClientRetriesOnlyWhatIsSafeToRepeat(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		fault     crmsim.Fault
		call      func(c *crmsim.Client, id string) error
		wantErr   bool
		wantCalls map[string]int
	}{
		{
			name:  "a read is retried after 503s until it succeeds",
			fault: crmsim.Fault{Op: crmsim.OpListComments, Status: 503, Count: 2},
			call: func(c *crmsim.Client, id string) error {
				_, err := c.ListComments(ctx, id)
				return err
			},
			wantCalls: map[string]int{crmsim.OpListComments: 3},
		},
		{
			name:  "a read gives up after its attempts",
			fault: crmsim.Fault{Op: crmsim.OpGet, Status: 503},
			call: func(c *crmsim.Client, id string) error {
				_, err := c.GetCase(ctx, id)
				return err
			},
			wantErr:   true,
			wantCalls: map[string]int{crmsim.OpGet: 3},
		},
		{
			name:  "a comment is not repeated after a 503 that may have been processed",
			fault: crmsim.Fault{Op: crmsim.OpAddComment, Status: 503, Count: 1},
			call: func(c *crmsim.Client, id string) error {
				_, err := c.AddComment(ctx, id, "once", true)
				return err
			},
			wantErr:   true,
			wantCalls: map[string]int{crmsim.OpAddComment: 1},
		},
		{
			name:  "a create is repeated after a 429, which did no work",
			fault: crmsim.Fault{Op: crmsim.OpCreate, Status: 429, Count: 1},
			call: func(c *crmsim.Client, id string) error {
				_, err := c.CreateCase(ctx, casesync.NewCompanyCase{Subject: "s", GoogleCase: "projects/p/cases/9"})
				return err
			},
			wantCalls: map[string]int{crmsim.OpCreate: 2},
		},
		{
			name:  "a read is not retried when the server asks for a longer wait than the client allows",
			fault: crmsim.Fault{Op: crmsim.OpGet, Status: 429, RetryAfter: time.Minute, Count: 1},
			call: func(c *crmsim.Client, id string) error {
				_, err := c.GetCase(ctx, id)
				var ae *casesync.APIError
				if errors.As(err, &ae) && ae.RetryAfter != time.Minute {
					t.Errorf("RetryAfter = %v, want 1m", ae.RetryAfter)
				}
				return err
			},
			wantErr:   true,
			wantCalls: map[string]int{crmsim.OpGet: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := crmsim.New(crmsim.Options{})
			id := sim.CreateTicket(crmsim.Ticket{Subject: "s"})
			c, _ := served(t, sim)
			sim.InjectFault(tc.fault)
			err := tc.call(c, id)
			if (err != nil) != tc.wantErr {
				t.Errorf("error = %v, want error: %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantCalls, sim.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallsCountPortCallsOnly(t *testing.T) {
	sim := crmsim.New(crmsim.Options{})
	ctx := context.Background()
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	sim.AddHumanComment(id, "Bob", "hi", true)
	sim.SearchUpdated(ctx, time.Time{})
	sim.GetCase(ctx, id)
	sim.GetCase(ctx, "404")
	if diff := cmp.Diff(map[string]int{crmsim.OpSearch: 1, crmsim.OpGet: 2}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	sim.ResetCalls()
	if diff := cmp.Diff(map[string]int{}, sim.Calls()); diff != "" {
		t.Errorf("calls after reset (-want +got):\n%s", diff)
	}
}

func TestTheControlDrivesASimulatorOverHTTP(t *testing.T) {
	ctx := context.Background()
	sim := crmsim.New(crmsim.Options{})
	client, ctl := served(t, sim)
	id, err := ctl.CreateTicket(ctx, crmsim.Ticket{Subject: "From the sandbox", Priority: "low", SyncFlag: true, Requester: "dana"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.AddHumanComment(ctx, id, "Dana", "note", false); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.AddHumanAttachment(ctx, id, "Dana", "x.bin", "application/octet-stream", []byte{0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetHumanPriority(ctx, id, "urgent"); err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetHumanPriority(ctx, id, "P9"); !errors.Is(err, crmsim.ErrInvalidPriority) {
		t.Errorf("SetHumanPriority(P9) = %v, want ErrInvalidPriority", err)
	}
	if err := ctl.HumanClose(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := ctl.HumanReopen(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := ctl.Ticket(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sim.Ticket(id)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticket over HTTP vs in memory (-want +got):\n%s", diff)
	}
	if _, err := ctl.Ticket(ctx, "404"); !casesync.IsNotFound(err) {
		t.Errorf("Ticket(404) = %v, want not found", err)
	}

	if err := ctl.SetDown(ctx, true); err != nil {
		t.Fatal(err)
	}
	client.MaxAttempts = 1
	if _, err := client.GetCase(ctx, id); !casesync.IsTransient(err) {
		t.Errorf("GetCase while down = %v, want a transient error", err)
	}
	if err := ctl.SetDown(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := ctl.InjectFault(ctx, crmsim.Fault{Status: 500}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetCase(ctx, id); !casesync.IsTransient(err) {
		t.Errorf("GetCase with a fault = %v, want a transient error", err)
	}
	if err := ctl.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetCase(ctx, id); err != nil {
		t.Errorf("GetCase after clearing faults: %v", err)
	}
	calls, err := ctl.Calls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{crmsim.OpGet: 3}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if err := ctl.ResetCalls(ctx); err != nil {
		t.Fatal(err)
	}
	if calls, _ := ctl.Calls(ctx); len(calls) != 0 {
		t.Errorf("calls after reset = %v, want none", calls)
	}
	all, err := ctl.Tickets(ctx)
	if err != nil || len(all) != 1 || all[0].ID != id {
		t.Errorf("Tickets = %d tickets, %v; want the one", len(all), err)
	}
}

func TestConcurrentCallsKeepIDsUnique(t *testing.T) {
	sim := crmsim.New(crmsim.Options{})
	client, _ := served(t, sim)
	ctx := context.Background()
	id := sim.CreateTicket(crmsim.Ticket{Subject: "busy", SyncFlag: true})
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var crm casesync.CRM = sim
				if w%2 == 1 {
					crm = client
				}
				if _, err := crm.AddComment(ctx, id, "c"+strconv.Itoa(w)+"-"+strconv.Itoa(i), i%2 == 0); err != nil {
					t.Errorf("AddComment: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	cs, err := sim.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.ID] = true
	}
	if len(cs) != workers*each || len(seen) != workers*each {
		t.Errorf("%d comments with %d distinct ids, want %d of each", len(cs), len(seen), workers*each)
	}
}

func TestAnUploadFarOverTheLimitIsRefusedForGoodOverHTTP(t *testing.T) {
	sim := crmsim.New(crmsim.Options{MaxAttachmentBytes: 64 << 10})
	client, _ := served(t, sim)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s"})
	// A stream of unknown length, sixteen times the limit: the server stops
	// reading and answers before the client has sent it all.
	r := io.LimitReader(zeros{}, 1<<20)
	_, err := client.UploadAttachment(context.Background(), id, "big.bin", "application/octet-stream", r)
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge || ae.Transient || !errors.Is(err, crmsim.ErrTooLarge) {
		t.Errorf("UploadAttachment = %v, want a permanent 413 APIError wrapping ErrTooLarge", err)
	}
}

// zeros is an endless stream of NUL bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// engineHarness runs the engine suite against the simulator over HTTP, on
// the real clock the suite's other side keeps.
type engineHarness struct {
	httpHarness
}

func (h *engineHarness) PriorityMap() string { return "critical=P0,urgent=P1,high=P2,normal=P3,low=P4" }

func (h *engineHarness) Calls() map[string]int64 {
	out := map[string]int64{}
	for op, n := range h.sim.Calls() {
		out[op] = int64(n)
	}
	return out
}

func TestTheSyncEngineRunsEndToEndOverTheHTTPClient(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		sim := crmsim.New(crmsim.Options{MaxAttachmentBytes: testLimit})
		srv := httptest.NewServer(sim.Handler())
		t.Cleanup(srv.Close)
		client := crmsim.NewClient(srv.URL, srv.Client())
		client.State = harnessState
		return &engineHarness{httpHarness{memHarness: memHarness{sim: sim, crm: client}, ctl: crmsim.NewControl(srv.URL, srv.Client())}}
	})
}

func TestAFileTakesTheVisibilityOfWhatItCameWith(t *testing.T) {
	ctx := context.Background()
	sim := crmsim.New(crmsim.Options{})
	client, ctl := served(t, sim)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	type view struct {
		Filename  string
		Public    bool
		OnComment bool
		Comment   string // the body of the reply or note it came with
	}
	tests := []struct {
		name   string
		attach func() (string, error)
		want   view
	}{
		{"a file on the ticket itself is public",
			func() (string, error) {
				return sim.AddHumanAttachment(id, "Ann", "ticket.txt", "text/plain", []byte("t"))
			},
			view{Filename: "ticket.txt", Public: true}},
		{"a file on a public reply is public",
			func() (string, error) {
				_, aid, err := sim.AddHumanCommentWithFile(id, "Ann", "see the log", true, "reply.txt", "text/plain", []byte("r"))
				return aid, err
			},
			view{Filename: "reply.txt", Public: true, OnComment: true, Comment: "see the log"}},
		{"a file on an internal note is not public",
			func() (string, error) {
				_, aid, err := sim.AddHumanCommentWithFile(id, "Ann", "agents only", false, "note.txt", "text/plain", []byte("n"))
				return aid, err
			},
			view{Filename: "note.txt", OnComment: true, Comment: "agents only"}},
		{"a file on an internal note added through the test hooks is not public",
			func() (string, error) {
				_, aid, err := ctl.AddHumanCommentWithFile(ctx, id, "Ann", "agents only too", false, "note2.txt", "text/plain", []byte("n2"))
				return aid, err
			},
			view{Filename: "note2.txt", OnComment: true, Comment: "agents only too"}},
		{"the connector's own upload is on the ticket and public",
			func() (string, error) {
				a, err := client.UploadAttachment(ctx, id, "mirror.bin", "application/octet-stream", strings.NewReader("m"))
				return a.ID, err
			},
			view{Filename: "mirror.bin", Public: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			aid, err := tc.attach()
			if err != nil {
				t.Fatal(err)
			}
			st, _ := sim.Ticket(id)
			bodies := map[string]string{}
			for _, c := range st.Comments {
				bodies[c.ID] = c.Body
			}
			var stored *crmsim.AttachmentState
			for i := range st.Attachments {
				if st.Attachments[i].ID == aid {
					stored = &st.Attachments[i]
				}
			}
			if stored == nil {
				t.Fatalf("attachment %s is not stored", aid)
			}
			got := view{Filename: stored.Filename, Public: stored.Public, OnComment: stored.CommentID != "", Comment: bodies[stored.CommentID]}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stored attachment (-want +got):\n%s", diff)
			}
			listed, err := client.ListAttachments(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range listed {
				if a.ID == aid && a.Public != tc.want.Public {
					t.Errorf("over HTTP the file lists with Public %v, want %v", a.Public, tc.want.Public)
				}
			}
		})
	}
	t.Run("a file with an empty note is refused and stores nothing", func(t *testing.T) {
		before, _ := sim.Ticket(id)
		if _, _, err := sim.AddHumanCommentWithFile(id, "Ann", "", false, "x.txt", "text/plain", []byte("x")); !errors.Is(err, crmsim.ErrEmptyComment) {
			t.Errorf("AddHumanCommentWithFile with an empty note = %v, want ErrEmptyComment", err)
		}
		after, _ := sim.Ticket(id)
		if len(after.Attachments) != len(before.Attachments) || len(after.Comments) != len(before.Comments) {
			t.Errorf("the refused file left %d attachments and %d comments, want %d and %d",
				len(after.Attachments), len(after.Comments), len(before.Attachments), len(before.Comments))
		}
	})
}

func TestTheClientTakesAFileWhoseVisibilityIsNotGivenForInternal(t *testing.T) {
	// A server that lists a file without saying whether it is public.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `[{"id":"9","filename":"f.txt","mimeType":"text/plain","size":1,"author":"Ann","byConnector":false,"createTime":"2026-03-01T10:00:00Z"}]`)
	}))
	t.Cleanup(srv.Close)
	list, err := crmsim.NewClient(srv.URL, srv.Client()).ListAttachments(context.Background(), "1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Public {
		t.Errorf("ListAttachments = %+v; want one file, not public", list)
	}
}
