package freshdesk_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// testLimit keeps the oversized-upload case of the engine suite small.
const testLimit = 256 << 10

// harness runs the contract against the adapter over HTTP to the
// simulator, with Google's state, a state-to-status mapping and the
// escalation fields configured.
type harness struct {
	sim   *freshdesktest.Server
	crm   *freshdesk.Client
	limit int64 // the upload limit of both
}

// mappedState and mappedStatus are the mapping the harness configures:
// waiting on Google puts the ticket in Pending.
const (
	mappedState  = "IN_PROGRESS_GOOGLE_SUPPORT"
	mappedStatus = freshdesk.StatusPending
)

// newAdapter starts a simulator and an adapter for it with small pages,
// so that the contract's 25-ticket search and long conversation lists
// take several pages.
func newAdapter(t *testing.T, opts freshdesktest.Options, edit func(*freshdesk.Config)) (*freshdesktest.Server, *freshdesk.Client) {
	t.Helper()
	sim := freshdesktest.NewServer(t, opts)
	return sim, adapterFor(t, sim, edit)
}

// adapterFor makes an adapter for sim, as newAdapter does.
func adapterFor(t *testing.T, sim *freshdesktest.Server, edit func(*freshdesk.Config)) *freshdesk.Client {
	t.Helper()
	o := sim.Options()
	cfg := freshdesk.Config{
		BaseURL:                      sim.URL,
		APIKey:                       o.APIKey,
		StateField:                   freshdesk.DefaultStateField,
		StateStatuses:                map[string]int{mappedState: mappedStatus},
		EscalationField:              freshdesk.DefaultEscalationField,
		EscalationReasonField:        freshdesk.DefaultEscalationReasonField,
		EscalationJustificationField: freshdesk.DefaultEscalationJustificationField,
		PageSize:                     2,
		MaxAttachmentBytes:           o.MaxAttachmentBytes,
		RatePerSecond:                1000,
		MinBackoff:                   time.Millisecond,
		SearchLag:                    -1,
	}
	if edit != nil {
		edit(&cfg)
	}
	crm, err := freshdesk.New(cfg)
	if err != nil {
		t.Fatalf("freshdesk.New: %v", err)
	}
	return crm
}

func newHarness(t *testing.T) crmcontract.Harness {
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	return &harness{sim: sim, crm: crm, limit: sim.Options().MaxAttachmentBytes}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	p, err := strconv.Atoi(priority)
	if err != nil {
		t.Fatalf("priority %q is not a Freshdesk priority", priority)
	}
	return h.sim.CreateTicket(freshdesktest.Ticket{Subject: subject, Description: description, Priority: p, SyncFlag: syncFlag})
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

func (h *harness) PriorityValues() []string { return freshdesk.Priorities }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectRateLimit(time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return h.limit }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

// RequestEscalation ticks the escalation checkbox and fills its reason and
// justification, as an agent does in the ticket's properties.
func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	fields := map[string]any{freshdesktest.FieldEscalate: true}
	if reason != "" {
		fields[freshdesktest.FieldEscalationReason] = reason
	}
	if justification != "" {
		fields[freshdesktest.FieldEscalationJustification] = justification
	}
	if err := h.sim.SetHumanFields(id, fields); err != nil {
		t.Fatalf("SetHumanFields: %v", err)
	}
}

// GoogleState reads the state field and the status number as an agent
// sees them.
func (h *harness) GoogleState(t *testing.T, id string) (string, string) {
	t.Helper()
	v, err := h.sim.TicketState(id)
	if err != nil {
		t.Fatalf("TicketState: %v", err)
	}
	state, _ := v.Fields[freshdesktest.FieldState].(string)
	return state, strconv.Itoa(v.Status)
}

func (h *harness) MappedState() (string, string, bool) {
	return mappedState, strconv.Itoa(mappedStatus), true
}

func TestTheAdapterPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

// engineHarness adds what the end-to-end engine suite needs.
type engineHarness struct{ *harness }

func (h engineHarness) PriorityMap() string { return freshdesk.DefaultPriorityMap }

func TestTheEngineSyncsThroughTheAdapter(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		// Default pages, so that the logged costs are those of a real
		// deployment.
		sim, crm := newAdapter(t, freshdesktest.Options{MaxAttachmentBytes: testLimit}, func(c *freshdesk.Config) { c.PageSize = 0 })
		return engineHarness{&harness{sim: sim, crm: crm, limit: testLimit}}
	})
}
