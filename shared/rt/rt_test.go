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
	cfg := rt.Config{BaseURL: proxy.URL, Token: inst.SyncToken, PageSize: 10, MaxAttachmentBytes: testLimit, RatePerSecond: 200}
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

// harness acts as humans in the shared RT for the contract suites.
type harness struct {
	crm *rt.Client
}

func newHarness(t *testing.T) crmcontract.Harness { return &harness{crm: newClient(t, nil)} }

// newEngineHarness uses the default page size, so the logged call costs
// are those of a real deployment.
func newEngineHarness(t *testing.T) crmcontract.EngineHarness {
	return &harness{crm: newClient(t, func(c *rt.Config) { c.PageSize = rt.DefaultPageSize })}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	t.Helper()
	id, err := inst.Human.CreateTicket(ctxFor(t), rttest.NewTicket{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
	if err != nil {
		t.Fatalf("creating a ticket as a human: %v", err)
	}
	return id
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := inst.Human.AddComment(ctxFor(t), id, author, body, public)
	if err != nil {
		t.Fatalf("commenting as a human: %v", err)
	}
	return cid
}

func (h *harness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := inst.Human.Attach(ctxFor(t), id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("attaching as a human: %v", err)
	}
	return aid
}

func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := inst.Human.AttachInternal(ctxFor(t), id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("attaching to an internal comment as a human: %v", err)
	}
	return aid
}

func (h *harness) PriorityValues() []string { return []string{"Medium", "High", "Low"} }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	proxy.InjectRateLimit(1, time.Second)
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
