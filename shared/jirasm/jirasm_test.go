package jirasm_test

import (
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

// newSite starts a simulator and an adapter for it.
func newSite(t *testing.T, opts jirasmtest.Options, edit func(*jirasm.Config)) (*jirasmtest.Server, *jirasm.Client) {
	t.Helper()
	if opts.TimeZone == nil {
		opts.TimeZone = sydney(t)
	}
	if opts.MaxAttachmentBytes == 0 {
		opts.MaxAttachmentBytes = testLimit
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
