package main

import (
	"context"
	"fmt"

	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// salesforceCRM is the stack's Salesforce simulator. The demo acts as its
// agents through the simulator's human actions (what an agent does on the
// case record) and reads cases, case comments and files from the
// simulator's own state, as an agent sees them.
type salesforceCRM struct {
	sim *salesforcetest.Server
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)
}

func newSalesforceCRM(st *localstack.Stack) *salesforceCRM {
	return &salesforceCRM{sim: st.Salesforce, calls: st.CRMCalls}
}

func (s *salesforceCRM) Describe() string { return "the Salesforce simulator" }

func (s *salesforceCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	return s.sim.CreateCase(salesforcetest.Case{Subject: t.Subject, Description: t.Description, Priority: t.Priority,
		SyncFlag: t.Flagged, Author: demoAgentName}), nil
}

// Comment adds a case comment, Public ticked for a public one.
func (s *salesforceCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	return s.sim.AddComment(id, author, body, public)
}

// Attach uploads a file to the case, visible to all users (customers
// included).
func (s *salesforceCRM) Attach(_ context.Context, id, author, filename, _ string, data []byte) error {
	_, err := s.sim.AddFile(id, author, filename, data, "AllUsers")
	return err
}

func (s *salesforceCRM) SetPriority(_ context.Context, id, priority string) error {
	return s.sim.UpdateCase(id, demoAgentName, map[string]any{"Priority": priority})
}

// Close sets the Closed status, as an agent does.
func (s *salesforceCRM) Close(_ context.Context, id string) error {
	return s.sim.UpdateCase(id, demoAgentName, map[string]any{"Status": "Closed"})
}

func (s *salesforceCRM) ticket(v salesforcetest.CaseView) crmTicket {
	gc, _ := v.Fields[salesforce.DefaultGoogleCaseField].(string)
	return crmTicket{ID: v.ID, Subject: v.Subject, Priority: v.Priority, GoogleCase: gc, Closed: v.IsClosed}
}

func (s *salesforceCRM) Ticket(_ context.Context, id string) (crmTicket, error) {
	v, err := s.sim.View(id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("the Salesforce simulator: %w", err)
	}
	t := s.ticket(v)
	for _, c := range s.sim.Comments(id) {
		t.Comments = append(t.Comments, crmComment{ID: c.ID, Author: c.Author, Body: c.Body, Public: c.Public})
	}
	for _, f := range s.sim.Files(id) {
		t.Files = append(t.Files, crmFile{Filename: f.Title, Data: f.Data})
	}
	return t, nil
}

func (s *salesforceCRM) Synced(context.Context) ([]crmTicket, error) {
	var out []crmTicket
	for _, id := range s.sim.Cases() {
		v, err := s.sim.View(id)
		if err != nil {
			return nil, err
		}
		if flag, _ := v.Fields[salesforce.DefaultSyncFlagField].(bool); flag || v.Fields[salesforce.DefaultGoogleCaseField] != nil && v.Fields[salesforce.DefaultGoogleCaseField] != "" {
			out = append(out, s.ticket(v))
		}
	}
	return out, nil
}

// Calls are the calls the Salesforce adapter of the functions process
// counted.
func (s *salesforceCRM) Calls(ctx context.Context) (map[string]int, error) {
	return adapterCalls(ctx, s.calls)
}

// SearchOp: casebridge polls Salesforce with a SOQL query of changed cases.
func (s *salesforceCRM) SearchOp() string { return "cases.search" }

// SearchCallsPerPoll: one batch holds the demo's cases.
func (s *salesforceCRM) SearchCallsPerPoll() int { return 1 }

// RequestEscalation ticks the escalation checkbox with a reason and a
// justification, as an agent does on the case.
func (s *salesforceCRM) RequestEscalation(_ context.Context, id string) error {
	return s.sim.UpdateCase(id, demoAgentName, map[string]any{
		salesforce.DefaultEscalationField:        true,
		salesforce.DefaultEscalationReasonField:  "Business impact",
		salesforce.DefaultEscalationJustifyField: "Our production checkout is failing for customers.",
	})
}

func (s *salesforceCRM) GoogleState(_ context.Context, id string) (string, error) {
	v, err := s.sim.View(id)
	if err != nil {
		return "", err
	}
	st, _ := v.Fields[salesforce.DefaultStateField].(string)
	return st, nil
}

func (s *salesforceCRM) EscalationRequested(_ context.Context, id string) (bool, error) {
	v, err := s.sim.View(id)
	if err != nil {
		return false, err
	}
	on, _ := v.Fields[salesforce.DefaultEscalationField].(bool)
	return on, nil
}

// MaxCommentBytes is the most a person can write in one case comment.
func (s *salesforceCRM) MaxCommentBytes() int { return salesforce.MaxCommentBytes }
