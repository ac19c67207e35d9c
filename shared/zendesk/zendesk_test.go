package zendesk_test

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// testLimit keeps the oversized-upload case of the engine suite small.
const testLimit = 256 << 10

// contractLimit lets the contract's 25 MiB download through whole, so that
// it measures a real stream.
const contractLimit = 25 << 20

// harness runs the contract against the adapter over HTTP to the simulator.
type harness struct {
	sim   *zendesktest.Server
	crm   *zendesk.Client
	limit int64 // the upload limit of both
}

// newAdapter starts a simulator and an adapter for it with small pages, so
// that the contract's 25-ticket search and long comment lists take several
// pages.
func newAdapter(t *testing.T, opts zendesktest.Options, edit func(*zendesk.Config)) (*zendesktest.Server, *zendesk.Client) {
	t.Helper()
	sim := zendesktest.NewServer(t, opts)
	return sim, adapterFor(t, sim, edit)
}

// adapterFor makes an adapter for sim, as newAdapter does.
func adapterFor(t *testing.T, sim *zendesktest.Server, edit func(*zendesk.Config)) *zendesk.Client {
	t.Helper()
	o := sim.Options()
	cfg := zendesk.Config{
		BaseURL:            sim.URL,
		Email:              o.Email,
		APIToken:           o.APIToken,
		SyncFlagFieldID:    o.SyncFlagFieldID,
		GoogleCaseFieldID:  o.GoogleCaseFieldID,
		PageSize:           2,
		ExportPageSize:     7,
		MaxAttachmentBytes: o.MaxAttachmentBytes,
		RatePerSecond:      1000,
		MinBackoff:         time.Millisecond,
	}
	if o.Clock != nil {
		cfg.Now = o.Clock
	}
	if edit != nil {
		edit(&cfg)
	}
	crm, err := zendesk.New(cfg)
	if err != nil {
		t.Fatalf("zendesk.New: %v", err)
	}
	return crm
}

func newHarness(t *testing.T) crmcontract.Harness {
	sim, crm := newAdapter(t, zendesktest.Options{MaxAttachmentBytes: contractLimit}, nil)
	return &harness{sim: sim, crm: crm, limit: contractLimit}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	return h.sim.CreateTicket(zendesktest.Ticket{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.sim.AddHumanComment(id, author, body, public)
	if err != nil {
		t.Fatalf("AddHumanComment: %v", err)
	}
	return cid
}

func (h *harness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddHumanAttachment(id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanAttachment: %v", err)
	}
	return aid
}

func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddHumanInternalAttachment(id, "Human Agent", filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanInternalAttachment: %v", err)
	}
	return aid
}

func (h *harness) PriorityValues() []string { return zendesk.Priorities }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectRateLimit(time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return h.limit }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

func TestTheAdapterPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

// engineHarness adds what the end-to-end engine suite needs.
type engineHarness struct{ *harness }

func (h engineHarness) PriorityMap() string { return zendesk.DefaultPriorityMap }

func TestTheEngineSyncsThroughTheAdapter(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		// Default comment pages, so that the logged costs are those of a
		// real deployment.
		sim, crm := newAdapter(t, zendesktest.Options{MaxAttachmentBytes: testLimit}, func(c *zendesk.Config) { c.PageSize = 0 })
		return engineHarness{&harness{sim: sim, crm: crm, limit: testLimit}}
	})
}
