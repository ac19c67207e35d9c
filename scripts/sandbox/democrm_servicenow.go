package main

import (
	"context"
	"fmt"

	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
)

// serviceNowCRM is the stack's ServiceNow simulator. The demo acts as the
// instance's agents through the simulator's human actions (what an agent
// does in the UI, as the agent's own user) and reads records through
// casebridge's ServiceNow adapter (adapterReader), which reads the journal
// and the attachments as the platform serves them.
type serviceNowCRM struct {
	*adapterReader
	sim *servicenowtest.Server
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)
}

func newServiceNowCRM(st *localstack.Stack) (*serviceNowCRM, error) {
	o := st.ServiceNow.Options()
	crm, err := servicenow.New(servicenow.Config{
		BaseURL:         st.ServiceNow.URL,
		User:            o.User,
		Password:        o.Password,
		Table:           o.Table,
		SyncFlagField:   o.SyncFlagField,
		GoogleCaseField: o.GoogleCaseField,
		// The simulator has no rate limit, and these calls are not
		// casebridge's.
		RatePerSecond: 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the ServiceNow simulator: %w", err)
	}
	return &serviceNowCRM{adapterReader: newAdapterReader("ServiceNow record", crm), sim: st.ServiceNow, calls: st.CRMCalls}, nil
}

func (n *serviceNowCRM) Describe() string { return "the ServiceNow simulator" }

// agent is the user_name of the agent called name.
func (n *serviceNowCRM) agent(name string) string { return n.sim.UserNameFor(name) }

// CreateTicket opens an incident as the demo's agent, its priority set
// through impact and urgency as the platform computes it.
func (n *serviceNowCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	defer n.changed("")
	impact, urgency, ok := servicenowtest.ImpactUrgency(t.Priority)
	if !ok {
		return "", fmt.Errorf("no impact and urgency give ServiceNow priority %q", t.Priority)
	}
	o := n.sim.Options()
	flag := "false"
	if t.Flagged {
		flag = "true"
	}
	return n.sim.CreateRecord(n.agent(demoAgentName), map[string]string{"short_description": t.Subject,
		"description": t.Description, "impact": impact, "urgency": urgency, o.SyncFlagField: flag}), nil
}

// Comment writes an additional comment (public) or a work note
// (internal).
func (n *serviceNowCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	defer n.changed(id)
	element := "work_notes"
	if public {
		element = "comments"
	}
	return n.sim.AddJournal(id, element, n.agent(author), body)
}

// Attach attaches the file with an additional comment naming it, which the
// caller sees (the Attachment Note activity's way).
func (n *serviceNowCRM) Attach(_ context.Context, id, author, filename, mimeType string, data []byte) error {
	defer n.changed(id)
	_, _, err := n.sim.AttachWithNote(id, n.agent(author), "comments", filename, mimeType, data)
	return err
}

// SetPriority sets the impact and urgency that give the priority.
func (n *serviceNowCRM) SetPriority(_ context.Context, id, priority string) error {
	defer n.changed(id)
	impact, urgency, ok := servicenowtest.ImpactUrgency(priority)
	if !ok {
		return fmt.Errorf("no impact and urgency give ServiceNow priority %q", priority)
	}
	return n.sim.UpdateRecord(id, n.agent(demoAgentName), map[string]string{"impact": impact, "urgency": urgency})
}

// Close resolves the incident with the close code and notes the platform
// requires.
func (n *serviceNowCRM) Close(_ context.Context, id string) error {
	defer n.changed(id)
	return n.sim.UpdateRecord(id, n.agent(demoAgentName), map[string]string{"state": "6",
		"close_code": "Solved (Permanently)", "close_notes": "Answered by the agent."})
}

// Calls are the calls the ServiceNow adapter of the functions process
// counted.
func (n *serviceNowCRM) Calls(ctx context.Context) (map[string]int, error) {
	return adapterCalls(ctx, n.calls)
}

// SearchOp: a poll searches the case table once (and the attachments
// table, which is not a search of cases).
func (n *serviceNowCRM) SearchOp() string { return "records.search" }

// SearchCallsPerPoll: the records of files attached since the last poll are
// already among the records found, unless a file alone changed a record.
func (n *serviceNowCRM) SearchCallsPerPoll() int { return 1 }

// RequestEscalation ticks the record's escalation box with a reason and a
// justification, as an agent does in the form.
func (n *serviceNowCRM) RequestEscalation(_ context.Context, id string) error {
	defer n.changed(id)
	o := n.sim.Options()
	return n.sim.UpdateRecord(id, n.agent("Helpdesk Agent"), map[string]string{o.EscalationField: "true",
		o.EscalationReasonField: "Business impact", o.EscalationJustificationField: "The demo's helpdesk agent asks for it."})
}

// GoogleState reads the record's Google-state column.
func (n *serviceNowCRM) GoogleState(_ context.Context, id string) (string, error) {
	r, ok := n.sim.Record(id)
	if !ok {
		return "", fmt.Errorf("the ServiceNow simulator has no record %s", id)
	}
	return r[n.sim.Options().StateField], nil
}

// EscalationRequested reports whether the record's escalation box is
// still ticked.
func (n *serviceNowCRM) EscalationRequested(_ context.Context, id string) (bool, error) {
	r, ok := n.sim.Record(id)
	if !ok {
		return false, fmt.Errorf("the ServiceNow simulator has no record %s", id)
	}
	return r[n.sim.Options().EscalationField] == "true", nil
}
