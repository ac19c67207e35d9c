package servicenow_test

import (
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
)

// testLimit keeps the oversized-upload case small.
const testLimit = 256 << 10

// contractLimit is the contract harness's upload limit: above 25 MiB, so
// that the contract's large download is a real 25 MiB.
const contractLimit = 32 << 20

// human is the user_name the harness's human agent works as.
const human = "abel.tuter"

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

// harness runs the adapter over HTTP against the simulator and acts as the
// instance's humans through the simulator's methods.
type harness struct {
	sim   *servicenowtest.Server
	crm   *servicenow.Client
	limit int64
}

// newSim starts a simulator with the test size limit; clock nil keeps real
// time.
func newSim(t *testing.T, clock func() time.Time) *servicenowtest.Server {
	return newSimLimit(t, clock, testLimit)
}

func newSimLimit(t *testing.T, clock func() time.Time, limit int64) *servicenowtest.Server {
	t.Helper()
	sim := servicenowtest.NewServer(t, servicenowtest.Options{Clock: clock, MaxAttachmentBytes: limit})
	sim.AddUser(human, "Abel Tuter")
	return sim
}

// stateStatuses is the tests' mapping of Google states to incident
// states: On Hold (awaiting the vendor) while Google works on the case, In
// Progress when the company must act.
func stateStatuses() map[string]string {
	return map[string]string{"IN_PROGRESS_GOOGLE_SUPPORT": "3", "ACTION_REQUIRED": "2"}
}

// newClient returns an adapter for sim, with the default state and
// escalation columns and stateStatuses; edit changes the configuration.
func newClient(t *testing.T, sim *servicenowtest.Server, edit func(*servicenow.Config)) *servicenow.Client {
	t.Helper()
	o := sim.Options()
	cfg := servicenow.Config{
		BaseURL: sim.URL, User: o.User, Password: o.Password, HTTP: sim.Client(),
		PageSize: 7, MaxAttachmentBytes: testLimit, // 25 tickets take four pages
		StateStatuses: stateStatuses(),
		StateField:    o.StateField, EscalationField: o.EscalationField,
		EscalationReasonField: o.EscalationReasonField, EscalationJustificationField: o.EscalationJustificationField,
	}
	if edit != nil {
		edit(&cfg)
	}
	crm, err := servicenow.New(cfg)
	if err != nil {
		t.Fatalf("servicenow.New: %v", err)
	}
	return crm
}

func newHarness(t *testing.T) crmcontract.Harness {
	sim := newSimLimit(t, newSteppingClock().Now, contractLimit)
	crm := newClient(t, sim, func(c *servicenow.Config) { c.MaxAttachmentBytes = contractLimit })
	return &harness{sim: sim, crm: crm, limit: contractLimit}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	t.Helper()
	impact, urgency, ok := servicenowtest.ImpactUrgency(priority)
	if !ok {
		t.Fatalf("CreateTicket: priority %q is not 1..5", priority)
	}
	flag := "false"
	if syncFlag {
		flag = "true"
	}
	return h.sim.CreateRecord(human, map[string]string{"short_description": subject, "description": description,
		"impact": impact, "urgency": urgency, "u_gcp_sync": flag})
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	element := "work_notes"
	if public {
		element = "comments"
	}
	cid, err := h.sim.AddJournal(id, element, h.sim.UserNameFor(author), body)
	if err != nil {
		t.Fatalf("AddHumanComment: %v", err)
	}
	return cid
}

// AddHumanAttachment attaches the file to the record itself, where the
// caller sees it on the portal's ticket page.
func (h *harness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, err := h.sim.AddAttachment(id, human, filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanAttachment: %v", err)
	}
	return aid
}

// AddHumanInternalAttachment attaches the file the way an agent keeps one
// to a work note: the file with a work note naming it, written together.
func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	aid, _, err := h.sim.AttachWithNote(id, human, "work_notes", filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanInternalAttachment: %v", err)
	}
	return aid
}

func (h *harness) PriorityValues() []string { return []string{"1", "2", "3", "4", "5"} }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectRateLimit(time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return h.limit }

func (h *harness) PriorityMap() string { return servicenow.DefaultPriorityMap }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

func TestTheAdapterPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

func TestTheSyncEngineRunsEndToEndOverServiceNow(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		sim := newSim(t, nil) // a real instance keeps real time
		return &harness{sim: sim, crm: newClient(t, sim, nil), limit: testLimit}
	})
}

// RequestEscalation ticks the escalation box and fills in the reason and
// justification as an agent does in the form.
func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	o := h.sim.Options()
	err := h.sim.UpdateRecord(id, human, map[string]string{o.EscalationField: "true",
		o.EscalationReasonField: reason, o.EscalationJustificationField: justification})
	if err != nil {
		t.Fatalf("asking for an escalation as a human: %v", err)
	}
}

// GoogleState reads the state column and the record's state.
func (h *harness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	r, ok := h.sim.Record(id)
	if !ok {
		t.Fatalf("record %s does not exist", id)
	}
	return r[h.sim.Options().StateField], r["state"]
}

func (h *harness) MappedState() (state, status string, ok bool) {
	return "IN_PROGRESS_GOOGLE_SUPPORT", "3", true
}
