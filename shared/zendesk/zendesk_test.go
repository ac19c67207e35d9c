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

// The custom fields of Google's case state and escalation requests in the
// simulated account.
const (
	stateFieldID         = 360000000010 // text
	reasonFieldID        = 360000000011 // text
	justificationFieldID = 360000000012 // textarea
	escalationBoxID      = 360000000013 // checkbox
)

var stateFields = []zendesktest.CustomField{
	{ID: stateFieldID, Type: "text"}, {ID: reasonFieldID, Type: "text"},
	{ID: justificationFieldID, Type: "textarea"}, {ID: escalationBoxID, Type: "checkbox"},
}

// withStateFields configures the adapter as the contract's state subtests
// need: the state in a text field, two states mapped to statuses, and the
// escalation's reason and justification in text fields. The request is the
// default tag.
func withStateFields(c *zendesk.Config) {
	c.StateFieldID = stateFieldID
	c.StateStatuses = map[string]string{"IN_PROGRESS_GOOGLE_SUPPORT": "hold", "ACTION_REQUIRED": "open"}
	c.EscalationReasonFieldID, c.EscalationJustificationFieldID = reasonFieldID, justificationFieldID
}

func newHarness(t *testing.T) crmcontract.Harness {
	sim, crm := newAdapter(t, zendesktest.Options{MaxAttachmentBytes: contractLimit, Fields: stateFields}, withStateFields)
	return &harness{sim: sim, crm: crm, limit: contractLimit}
}

// RequestEscalation fills in the reason and justification and adds the
// escalation tag, as an agent does.
func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	if err := h.sim.SetHumanFields(id, map[int64]any{reasonFieldID: reason, justificationFieldID: justification}); err != nil {
		t.Fatalf("SetHumanFields: %v", err)
	}
	if err := h.sim.AddHumanTags(id, zendesk.DefaultEscalationTag); err != nil {
		t.Fatalf("AddHumanTags: %v", err)
	}
}

func (h *harness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	v, err := h.sim.TicketState(id)
	if err != nil {
		t.Fatalf("TicketState: %v", err)
	}
	state, _ = v.Fields[stateFieldID].(string)
	return state, v.Status
}

func (h *harness) MappedState() (state, status string, ok bool) {
	return "ACTION_REQUIRED", "open", true
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
		sim, crm := newAdapter(t, zendesktest.Options{MaxAttachmentBytes: testLimit, Fields: stateFields}, func(c *zendesk.Config) {
			c.PageSize = 0
			withStateFields(c)
		})
		return engineHarness{&harness{sim: sim, crm: crm, limit: testLimit}}
	})
}
