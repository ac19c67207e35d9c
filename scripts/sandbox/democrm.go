package main

// The demo's view of the CRM: what a helpdesk's human agents do there, and
// what the demo reads back to check the sync. The in-process CRM simulator
// (simCRM), a real Request Tracker (rtCRM, in democrm_rt.go) and the
// vendors' simulators (democrm_zendesk.go, democrm_jira.go,
// democrm_servicenow.go, democrm_freshdesk.go, democrm_salesforce.go)
// implement it.

import (
	"context"
	"fmt"
	"os"

	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/zendesk"
)

// newDemoCRM returns the CRM side of the demo for the stack's CRM, and the
// priority map the functions process uses with it.
func newDemoCRM(st *localstack.Stack) (demoCRM, casesync.PriorityTable, error) {
	setting := os.Getenv(appconfig.EnvCRMPriorityMap)
	switch st.CRMKind() {
	case localstack.CRMRequestTracker:
		table, err := priorityTableFor(setting, rt.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		c, err := newRTCRM(st.RT, st.CRMCalls)
		return c, table, err
	case localstack.CRMZendesk:
		table, err := priorityTableFor(setting, zendesk.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		c, err := newZendeskCRM(st)
		return c, table, err
	case localstack.CRMJira:
		table, err := priorityTableFor(setting, jirasm.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		c, err := newJiraCRM(st)
		return c, table, err
	case localstack.CRMServiceNow:
		table, err := priorityTableFor(setting, servicenow.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		c, err := newServiceNowCRM(st)
		return c, table, err
	case localstack.CRMFreshdesk:
		table, err := priorityTableFor(setting, freshdesk.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		c, err := newFreshdeskCRM(st)
		return c, table, err
	case localstack.CRMSalesforce:
		table, err := priorityTableFor(setting, salesforce.DefaultPriorityMap)
		if err != nil {
			return nil, table, err
		}
		return newSalesforceCRM(st), table, nil
	default:
		table, err := priorityTableFor(setting, "")
		return newSimCRM(st.CRM), table, err
	}
}

// demoCRM is the CRM side of the demo.
type demoCRM interface {
	// Describe names the CRM in the demo's lines, e.g. "the CRM simulator".
	Describe() string

	// Acting as the helpdesk's people.

	// CreateTicket opens a ticket, flagged for sync or not, and returns its
	// id.
	CreateTicket(ctx context.Context, t demoTicket) (string, error)
	// Comment adds a public reply (public) or an internal note written by
	// author and returns the comment's id as the CRM adapter reports it.
	Comment(ctx context.Context, id, author, body string, public bool) (string, error)
	// Attach uploads a file as author.
	Attach(ctx context.Context, id, author, filename, mimeType string, data []byte) error
	// SetPriority sets one of the CRM's own priority values.
	SetPriority(ctx context.Context, id, priority string) error
	// Close closes (resolves) the ticket.
	Close(ctx context.Context, id string) error

	// Reading what is there.

	// Ticket returns a ticket with its comments and files.
	Ticket(ctx context.Context, id string) (crmTicket, error)
	// Synced returns every ticket flagged for sync or naming a Google case
	// (more may be returned), without comments or files.
	Synced(ctx context.Context) ([]crmTicket, error)
	// Calls returns how many CRM calls casebridge has made so far, by
	// operation; nil (and no error) when they cannot be measured.
	Calls(ctx context.Context) (map[string]int, error)
	// SearchOp is the operation of Calls that is one search page.
	SearchOp() string
	// SearchCallsPerPoll is how many search requests one poll that finds
	// recent cases makes: 1, or 2 for a CRM whose adapter reads on to an
	// empty page (Request Tracker's pages can come back short).
	SearchCallsPerPoll() int
}

// demoStateCRM is a demo CRM on which the demo can ask for an escalation
// as a person, and read Google's case state and the request as people see
// them.
type demoStateCRM interface {
	// RequestEscalation asks for the ticket's Google case to be escalated,
	// through the CRM's escalation field (or tag or label).
	RequestEscalation(ctx context.Context, id string) error
	// GoogleState reads the ticket's Google-state field.
	GoogleState(ctx context.Context, id string) (string, error)
	// EscalationRequested reports whether the ticket still asks for an
	// escalation.
	EscalationRequested(ctx context.Context, id string) (bool, error)
}

// demoCommentLimit is a demo CRM whose people cannot write a comment as
// long as the demo's long reply (Salesforce's case comments hold 4,000
// bytes).
type demoCommentLimit interface {
	MaxCommentBytes() int
}

// demoTicket is a ticket as a helpdesk agent opens it.
type demoTicket struct {
	Subject, Description, Priority, Requester string
	Flagged                                   bool
}

// crmTicket is what the demo reads of a ticket.
type crmTicket struct {
	ID, Subject, Priority, GoogleCase string
	Closed                            bool
	Comments                          []crmComment
	Files                             []crmFile
}

type crmComment struct {
	ID, Author, Body string
	Public           bool
}

type crmFile struct {
	Filename string
	Data     []byte
}

// simCRM is the stack's in-process CRM simulator.
type simCRM struct{ crm *crmsim.CRM }

func newSimCRM(crm *crmsim.CRM) *simCRM { return &simCRM{crm: crm} }

func (s *simCRM) Describe() string { return "the CRM simulator" }

func (s *simCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	return s.crm.CreateTicket(crmsim.Ticket{Subject: t.Subject, Description: t.Description,
		Priority: t.Priority, SyncFlag: t.Flagged, Requester: t.Requester}), nil
}

func (s *simCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	return s.crm.AddHumanComment(id, author, body, public)
}

func (s *simCRM) Attach(_ context.Context, id, author, filename, mimeType string, data []byte) error {
	_, err := s.crm.AddHumanAttachment(id, author, filename, mimeType, data)
	return err
}

func (s *simCRM) SetPriority(_ context.Context, id, priority string) error {
	return s.crm.SetHumanPriority(id, priority)
}

func (s *simCRM) Close(_ context.Context, id string) error { return s.crm.HumanClose(id) }

func (s *simCRM) Ticket(_ context.Context, id string) (crmTicket, error) {
	t, ok := s.crm.Ticket(id)
	if !ok {
		return crmTicket{}, fmt.Errorf("the CRM simulator has no ticket %s", id)
	}
	return simTicket(t), nil
}

func (s *simCRM) Synced(context.Context) ([]crmTicket, error) {
	var out []crmTicket
	for _, t := range s.crm.Tickets() {
		out = append(out, simTicket(t))
	}
	return out, nil
}

func simTicket(t crmsim.TicketState) crmTicket {
	out := crmTicket{ID: t.ID, Subject: t.Subject, Priority: t.Priority, GoogleCase: t.GoogleCase, Closed: t.Closed}
	for _, c := range t.Comments {
		out.Comments = append(out.Comments, crmComment{ID: c.ID, Author: c.AuthorName, Body: c.Body, Public: c.Public})
	}
	for _, a := range t.Attachments {
		out.Files = append(out.Files, crmFile{Filename: a.Filename, Data: a.Data})
	}
	return out
}

func (s *simCRM) RequestEscalation(_ context.Context, id string) error {
	return s.crm.RequestEscalation(id, "Business impact", "The demo's helpdesk agent asks for it.")
}

func (s *simCRM) GoogleState(_ context.Context, id string) (string, error) {
	t, ok := s.crm.Ticket(id)
	if !ok {
		return "", fmt.Errorf("the CRM simulator has no ticket %s", id)
	}
	return t.CustomFields[crmsim.DefaultStateField], nil
}

func (s *simCRM) EscalationRequested(_ context.Context, id string) (bool, error) {
	t, ok := s.crm.Ticket(id)
	if !ok {
		return false, fmt.Errorf("the CRM simulator has no ticket %s", id)
	}
	return t.Escalation.Requested, nil
}

// Calls are the simulator's own counts of the calls it received.
func (s *simCRM) Calls(context.Context) (map[string]int, error) { return s.crm.Calls(), nil }

func (s *simCRM) SearchOp() string { return crmsim.OpSearch }

func (s *simCRM) SearchCallsPerPoll() int { return 1 }

// priorityTableFor returns the priority table the functions process uses:
// CRM_PRIORITY_MAP when set, else the CRM's default.
func priorityTableFor(setting, defaultMap string) (casesync.PriorityTable, error) {
	s := setting
	if s == "" {
		s = defaultMap
	}
	if s == "" {
		return casesync.DefaultPriorityTable(), nil
	}
	t, err := casesync.ParsePriorityTable(s)
	if err != nil {
		return t, fmt.Errorf("the priority map %q: %w", s, err)
	}
	return t, nil
}
