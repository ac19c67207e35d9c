package jirasm_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmcontract"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
)

// testLimit keeps the oversized-upload case small.
const testLimit = 256 << 10

// sydney is a zone far from UTC, so that searches prove they read JQL
// dates in the sync user's time zone.
func sydney(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Australia/Sydney")
	if err != nil {
		t.Fatalf("loading the Australia/Sydney time zone (needed by these tests): %v", err)
	}
	return loc
}

// The custom fields the test site has for Google's case state and
// escalation requests, as docs/crms/jira.md asks the administrator to
// create them.
const (
	stateField         = "customfield_10060"
	reasonField        = "customfield_10062"
	justificationField = "customfield_10063"
)

// stateFields are those fields as the site's administrator made them.
func stateFields() map[string]jirasmtest.CustomField {
	return map[string]jirasmtest.CustomField{
		stateField: {Name: "Google case state", Type: jirasmtest.FieldText},
		reasonField: {Name: "Escalation reason", Type: jirasmtest.FieldSelect,
			Options: []string{"Resolution time", "Technical expertise", "Business impact"}},
		justificationField: {Name: "Escalation justification", Type: jirasmtest.FieldParagraph},
	}
}

// stateStatuses is the test site's mapping of Google states to statuses.
func stateStatuses() map[string]string {
	return map[string]string{
		"IN_PROGRESS_GOOGLE_SUPPORT": jirasmtest.StatusInProgress,
		"ACTION_REQUIRED":            jirasmtest.StatusWaiting,
		"SOLUTION_PROVIDED":          jirasmtest.StatusWaitingCustomer,
	}
}

// newSite starts a simulator and an adapter for it. Unless opts names
// other custom fields, the site has the state and escalation fields and
// the adapter uses them, with stateStatuses.
func newSite(t *testing.T, opts jirasmtest.Options, edit func(*jirasm.Config)) (*jirasmtest.Server, *jirasm.Client) {
	t.Helper()
	if opts.TimeZone == nil {
		opts.TimeZone = sydney(t)
	}
	if opts.MaxAttachmentBytes == 0 {
		opts.MaxAttachmentBytes = testLimit
	}
	withState := opts.CustomFields == nil
	if withState {
		opts.CustomFields = stateFields()
	}
	sim := jirasmtest.NewServer(t, opts)
	// The adapter declares the simulator's search lag: none by default, so
	// that the engine never waits for the index in these tests.
	searchLag := opts.SearchLag
	if searchLag == 0 {
		searchLag = -1
	}
	cfg := jirasm.Config{
		BaseURL:            sim.URL,
		Email:              sim.Email(),
		APIToken:           sim.APIToken(),
		ProjectKey:         "SUP",
		SyncFlagField:      "customfield_10051",
		GoogleCaseField:    "customfield_10050",
		PageSize:           7, // 25 issues take four pages
		MaxAttachmentBytes: sim.MaxAttachmentBytes(),
		SearchLag:          searchLag,
		HTTP:               &http.Client{Timeout: 30 * time.Second},
	}
	if withState {
		cfg.StateField = stateField
		cfg.StateStatuses = stateStatuses()
		cfg.EscalationLabel = jirasm.DefaultEscalationLabel
		cfg.EscalationReasonField = reasonField
		cfg.EscalationJustificationField = justificationField
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := jirasm.New(cfg)
	if err != nil {
		t.Fatalf("jirasm.New: %v", err)
	}
	return sim, c
}

// harness runs the contract against the adapter over HTTP to the
// simulator, acting as humans through the simulator's methods.
type harness struct {
	sim *jirasmtest.Server
	crm *jirasm.Client
}

// contractLimit is the contract's upload limit: above 25 MiB, so that the
// streamed-download test moves a whole 25 MiB file.
const contractLimit = 26 << 20

func newHarness(t *testing.T) crmcontract.Harness {
	sim, c := newSite(t, jirasmtest.Options{MaxAttachmentBytes: contractLimit}, nil)
	return &harness{sim: sim, crm: c}
}

func (h *harness) CRM() casesync.CRM { return h.crm }

func (h *harness) CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string {
	return h.sim.CreateIssue(jirasmtest.NewIssue{Summary: subject, Description: description, Priority: priority, SyncFlag: syncFlag})
}

func (h *harness) AddHumanComment(t *testing.T, id, author, body string, public bool) string {
	t.Helper()
	cid, err := h.sim.AddComment(id, author, body, public)
	if err != nil {
		t.Fatalf("AddComment as a human: %v", err)
	}
	return cid
}

// AddHumanAttachment puts the file in a public reply, as an agent who
// drops it into the reply editor.
func (h *harness) AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	_, aid, err := h.sim.AddHumanFileComment(id, jirasmtest.HumanComment{Author: "Human Agent", Body: "Here is the file.", Public: true},
		filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanFileComment (public reply) as a human: %v", err)
	}
	return aid
}

// AddHumanInternalAttachment puts the file in an internal note.
func (h *harness) AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string {
	t.Helper()
	_, aid, err := h.sim.AddHumanFileComment(id, jirasmtest.HumanComment{Author: "Human Agent", Body: "For agents only.", Public: false},
		filename, mimeType, data)
	if err != nil {
		t.Fatalf("AddHumanFileComment (internal note) as a human: %v", err)
	}
	return aid
}

func (h *harness) PriorityValues() []string { return h.sim.Priorities() }

func (h *harness) InjectRateLimit(t *testing.T) bool {
	h.sim.InjectRateLimit(time.Second)
	return true
}

func (h *harness) MaxAttachmentBytes() int64 { return h.sim.MaxAttachmentBytes() }

func TestTheAdapterPassesTheContract(t *testing.T) {
	crmcontract.Run(t, newHarness)
}

func (h *harness) PriorityMap() string { return jirasm.DefaultPriorityMap }

func (h *harness) Calls() map[string]int64 { return h.crm.Calls() }

func TestTheSyncEngineRunsEndToEndOverJiraServiceManagement(t *testing.T) {
	crmcontract.RunEngine(t, func(t *testing.T) crmcontract.EngineHarness {
		sim, c := newSite(t, jirasmtest.Options{}, nil)
		return &harness{sim: sim, crm: c}
	})
}

// RequestEscalation asks for an escalation as an agent does: the label
// (the adapter's default), the reason chosen in the select list and the
// justification typed in the paragraph field.
func (h *harness) RequestEscalation(t *testing.T, id, reason, justification string) {
	t.Helper()
	if err := h.sim.AddLabel(id, jirasm.DefaultEscalationLabel); err != nil {
		t.Fatalf("adding the escalation label as a human: %v", err)
	}
	var r, j any
	if reason != "" {
		r = map[string]string{"value": reason}
	}
	if justification != "" {
		j = jirasmtest.TextDocument(justification)
	}
	if err := h.sim.SetCustomField(id, reasonField, r); err != nil {
		t.Fatalf("choosing the escalation reason as a human: %v", err)
	}
	if err := h.sim.SetCustomField(id, justificationField, j); err != nil {
		t.Fatalf("writing the escalation justification as a human: %v", err)
	}
}

// GoogleState reads the state field and the status as the agent view
// shows them.
func (h *harness) GoogleState(t *testing.T, id string) (state, status string) {
	t.Helper()
	is, ok := h.sim.Issue(id)
	if !ok {
		t.Fatalf("issue %s does not exist", id)
	}
	if raw, ok := is.Custom[stateField]; ok {
		if err := json.Unmarshal(raw, &state); err != nil {
			t.Fatalf("the state field holds %s, not text", raw)
		}
	}
	return state, is.Status
}

func (h *harness) MappedState() (state, status string, ok bool) {
	return "IN_PROGRESS_GOOGLE_SUPPORT", jirasmtest.StatusInProgress, true
}
