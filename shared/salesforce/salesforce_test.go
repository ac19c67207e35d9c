package salesforce_test

import (
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// testLimit keeps the oversized-upload case of the engine suite small.
const testLimit = 256 << 10

// contractLimit lets the contract's 25 MiB download through whole, so that
// it measures a real stream.
const contractLimit = 25 << 20

// The Google state mapping the adapter under test is given.
const (
	mappedState  = "IN_PROGRESS_GOOGLE_SUPPORT"
	mappedStatus = "Working"
)

// harness runs the contract against the adapter over HTTP to the simulator.
type harness struct {
	sim   *salesforcetest.Server
	crm   *salesforce.Client
	limit int64
}

// newAdapter starts a simulator whose query batches hold 7 rows, so that
// the contract's 25-case search and long listings take several batches,
// and an adapter for it.
func newAdapter(t *testing.T, opts salesforcetest.Options, edit func(*salesforce.Config)) (*salesforcetest.Server, *salesforce.Client) {
	t.Helper()
	if opts.MaxBatchSize == 0 {
		opts.MaxBatchSize = 7
	}
	sim := salesforcetest.NewServer(t, opts)
	return sim, adapterFor(t, sim, edit)
}

// adapterFor makes an adapter for sim with the client credentials flow and
// every state and escalation field.
func adapterFor(t *testing.T, sim *salesforcetest.Server, edit func(*salesforce.Config)) *salesforce.Client {
	t.Helper()
	o := sim.Options()
	cfg := salesforce.Config{
		BaseURL:                      sim.URL,
		ClientID:                     o.ClientID,
		ClientSecret:                 o.ClientSecret,
		StateField:                   salesforce.DefaultStateField,
		EscalationField:              salesforce.DefaultEscalationField,
		EscalationReasonField:        salesforce.DefaultEscalationReasonField,
		EscalationJustificationField: salesforce.DefaultEscalationJustifyField,
		StateStatuses:                map[string]string{mappedState: mappedStatus},
		MaxAttachmentBytes:           o.MaxFileBytes,
		RatePerSecond:                1000,
		MinBackoff:                   time.Millisecond,
	}
	if o.MaxFileBytes == 2<<30 {
		cfg.MaxAttachmentBytes = 0
	}
	if edit != nil {
		edit(&cfg)
	}
	crm, err := salesforce.New(cfg)
	if err != nil {
		t.Fatalf("salesforce.New: %v", err)
	}
	return crm
}

func newHarness(t *testing.T) crmcontract.Harness {
	sim, crm := newAdapter(t, salesforcetest.Options{MaxFileBytes: contractLimit}, nil)
	return &harness{sim: sim, crm: crm, limit: contractLimit}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	return h.sim.CreateCase(salesforcetest.Case{Subject: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.sim.AddComment(id, author, body, public)
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	return cid
}

func (h *harness) AddHumanAttachment(t *testing.T, id, filename, _ string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddFile(id, "Human Agent", filename, data, "AllUsers")
	if err != nil {
		t.Fatalf("AddFile: %v", err)
	}
	return aid
}

func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, _ string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddFile(id, "Human Agent", filename, data, "InternalUsers")
	if err != nil {
		t.Fatalf("AddFile: %v", err)
	}
	return aid
}

func (h *harness) PriorityValues() []string { return []string{"High", "Medium", "Low"} }

// InjectRateLimit makes the next call answer 503 SERVER_UNAVAILABLE with
// a Retry-After: Salesforce's REST API answers no 429, and its
// REQUEST_LIMIT_EXCEEDED is a daily limit that is waited out, not retried
// (vendor_test.go tests it).
func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectUnavailable(time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return h.limit }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	err := h.sim.UpdateCase(id, "Human Agent", map[string]any{
		salesforce.DefaultEscalationField: true, salesforce.DefaultEscalationReasonField: reason,
		salesforce.DefaultEscalationJustifyField: justification})
	if err != nil {
		t.Fatalf("UpdateCase: %v", err)
	}
}

func (h *harness) GoogleState(t *testing.T, id string) (string, string) {
	t.Helper()
	v, err := h.sim.View(id)
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	s, _ := v.Fields[salesforce.DefaultStateField].(string)
	return s, v.Status
}

func (h *harness) MappedState() (string, string, bool) { return mappedState, mappedStatus, true }

func TestTheAdapterPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

// engineHarness adds what the end-to-end engine suite needs.
type engineHarness struct{ *harness }

func (h engineHarness) PriorityMap() string { return salesforce.DefaultPriorityMap }

func TestTheEngineSyncsThroughTheAdapter(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		// Salesforce's default batch size, so that the logged costs are
		// those of a real deployment.
		sim, crm := newAdapter(t, salesforcetest.Options{MaxFileBytes: testLimit, MaxBatchSize: 2000}, nil)
		return engineHarness{&harness{sim: sim, crm: crm, limit: testLimit}}
	})
}
