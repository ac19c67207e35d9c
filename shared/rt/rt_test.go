package rt_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
)

// inst is the Request Tracker every test of the package shares: the
// contract only looks at the tickets it creates.
var inst *rttest.Instance

// proxy stands in front of inst so tests can make RT answer 429 or 503.
var proxy *rttest.Proxy

func TestMain(m *testing.M) {
	// A fuzzing run (scripts/fuzz.sh: -run '^$' -fuzz X, and the worker
	// processes it starts) runs no test that needs RT.
	flag.Parse()
	if flag.Lookup("test.fuzzworker").Value.String() == "true" || flag.Lookup("test.run").Value.String() == "^$" {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var err error
	inst, err = rttest.Start(ctx, rttest.Options{})
	cancel()
	if err != nil {
		// Fail, never skip: the tests need a real RT.
		fmt.Fprintf(os.Stderr, "cannot start Request Tracker, which these tests need: %v\n", err)
		os.Exit(1)
	}
	proxy, err = rttest.NewProxy(inst.URL)
	if err != nil {
		inst.Stop()
		fmt.Fprintf(os.Stderr, "starting the fault proxy: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	proxy.Close()
	if err := inst.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// testLimit is the upload limit of the adapters under test. It is 25 MiB so
// the contract's large download moves a file of that size through RT.
const testLimit = 25 << 20

// newClient returns an adapter for the shared RT through the proxy, as the
// sync user with its token, adjusted by edit.
func newClient(t *testing.T, edit func(*rt.Config)) *rt.Client {
	t.Helper()
	return newClientOf(t, inst, proxy, edit)
}

// newClientOf returns an adapter for in through px, as the sync user with
// its token, adjusted by edit.
func newClientOf(t *testing.T, in *rttest.Instance, px *rttest.Proxy, edit func(*rt.Config)) *rt.Client {
	t.Helper()
	cfg := rt.Config{BaseURL: px.URL, Token: in.SyncToken, PageSize: 10, MaxAttachmentBytes: testLimit, RatePerSecond: 200,
		StateStatuses: map[string]string{"ACTION_REQUIRED": "open", "IN_PROGRESS_GOOGLE_SUPPORT": "stalled"}}
	if edit != nil {
		edit(&cfg)
	}
	c, err := rt.New(cfg)
	if err != nil {
		t.Fatalf("rt.New: %v", err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// harness acts as humans in an RT (in, reached through px) for the contract
// suites.
type harness struct {
	crm *rt.Client
	in  *rttest.Instance
	px  *rttest.Proxy
}

func newHarness(t *testing.T) crmcontract.Harness {
	return &harness{crm: newClient(t, nil), in: inst, px: proxy}
}

// newEngineHarness runs the engine suite on an RT of its own: the flagged
// tickets the other tests left in the shared one, changed within the
// engine's first polling window, would each be given a Google case first.
// It uses the default page size, so the logged call costs are those of a
// real deployment.
func newEngineHarness(t *testing.T) crmcontract.EngineHarness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in, err := rttest.Start(ctx, rttest.Options{})
	if err != nil {
		t.Fatalf("starting a Request Tracker for the engine suite: %v", err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Errorf("stopping the engine suite's Request Tracker: %v", err)
		}
	})
	px, err := rttest.NewProxy(in.URL)
	if err != nil {
		t.Fatalf("starting the engine suite's fault proxy: %v", err)
	}
	t.Cleanup(func() { px.Close() })
	return &harness{crm: newClientOf(t, in, px, func(c *rt.Config) { c.PageSize = rt.DefaultPageSize }), in: in, px: px}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	t.Helper()
	id, err := h.in.Human.CreateTicket(ctxFor(t), rttest.NewTicket{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
	if err != nil {
		t.Fatalf("creating a ticket as a human: %v", err)
	}
	return id
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.in.Human.AddComment(ctxFor(t), id, author, body, public)
	if err != nil {
		t.Fatalf("commenting as a human: %v", err)
	}
	return cid
}

func (h *harness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.in.Human.Attach(ctxFor(t), id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("attaching as a human: %v", err)
	}
	return aid
}

func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.in.Human.AttachInternal(ctxFor(t), id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("attaching to an internal comment as a human: %v", err)
	}
	return aid
}

func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	if err := h.in.Human.RequestEscalation(ctxFor(t), id, "Human Agent", reason, justification); err != nil {
		t.Fatalf("asking for an escalation as a human: %v", err)
	}
}

func (h *harness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	v, err := h.in.Human.Ticket(ctxFor(t), id)
	if err != nil {
		t.Fatalf("reading the ticket as a human: %v", err)
	}
	return v.CustomFields[rttest.StateField], v.Status
}

func (h *harness) MappedState() (state, status string, ok bool) {
	return "ACTION_REQUIRED", "open", true
}

func (h *harness) PriorityValues() []string { return []string{"Medium", "High", "Low"} }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.px.InjectRateLimit(1, time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return testLimit }

func (h *harness) PriorityMap() string { return rt.DefaultPriorityMap }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

func TestTheAdapterPassesTheContractAgainstARealRequestTracker(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

func TestTheSyncEngineWorksEndToEndWithARealRequestTracker(t *testing.T) {
	crmcontract.RunEngine(t, newEngineHarness)
}
