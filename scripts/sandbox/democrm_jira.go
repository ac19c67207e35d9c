package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/casebridge/casebridge/shared/localstack"
)

// jiraCRM is the stack's Jira Service Management simulator. The demo acts
// as its agents through the simulator's human actions (what an agent does
// in the agent view) and reads issues through casebridge's Jira adapter
// (adapterReader), which turns Atlassian Documents back into text.
type jiraCRM struct {
	*adapterReader
	sim *jirasmtest.Server
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)
}

func newJiraCRM(st *localstack.Stack) (*jiraCRM, error) {
	o := st.Jira.Options()
	crm, err := jirasm.New(jirasm.Config{
		BaseURL:         st.Jira.URL,
		Email:           o.Email,
		APIToken:        o.APIToken,
		ProjectKey:      o.ProjectKey,
		SyncFlagField:   o.SyncFlagField,
		SyncFlagValue:   o.SyncFlagValue,
		GoogleCaseField: o.GoogleCaseField,
		Priorities:      o.Priorities,
		// The simulator has no rate limit and no index lag, and these
		// calls are not casebridge's.
		RatePerSecond: 1000,
		SearchLag:     -1,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the Jira simulator: %w", err)
	}
	return &jiraCRM{adapterReader: newAdapterReader("Jira issue", crm), sim: st.Jira, calls: st.CRMCalls}, nil
}

func (j *jiraCRM) Describe() string { return "the Jira Service Management simulator" }

func (j *jiraCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	defer j.changed("")
	return j.sim.CreateIssue(jirasmtest.NewIssue{Summary: t.Subject, Description: t.Description, Priority: t.Priority,
		SyncFlag: t.Flagged, Reporter: t.Requester}), nil
}

func (j *jiraCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	defer j.changed(id)
	return j.sim.AddComment(id, author, body, public)
}

// Attach drops the file into a public reply, as an agent does to show it
// to the customer (a file attached to the issue alone stays with the
// agents).
func (j *jiraCRM) Attach(_ context.Context, id, author, filename, mimeType string, data []byte) error {
	defer j.changed(id)
	_, _, err := j.sim.AddHumanFileComment(id, jirasmtest.HumanComment{Author: author, Body: "Attached " + filename, Public: true},
		filename, mimeType, data)
	return err
}

func (j *jiraCRM) SetPriority(_ context.Context, id, priority string) error {
	defer j.changed(id)
	return j.sim.SetPriority(id, priority)
}

// Close resolves the issue through the service desk's workflow.
func (j *jiraCRM) Close(_ context.Context, id string) error {
	defer j.changed(id)
	return j.sim.Transition(id, jirasmtest.TransitionResolve)
}

// Calls are the calls the Jira adapter of the functions process counted.
func (j *jiraCRM) Calls(ctx context.Context) (map[string]int, error) {
	return adapterCalls(ctx, j.calls)
}

func (j *jiraCRM) SearchOp() string { return jirasm.OpSearch }

// SearchCallsPerPoll: a page without nextPageToken is the last.
func (j *jiraCRM) SearchCallsPerPoll() int { return 1 }

// RequestEscalation asks for the issue's Google case to be escalated as an
// agent does: the escalation label, with a reason chosen and a
// justification written in their fields.
func (j *jiraCRM) RequestEscalation(_ context.Context, id string) error {
	defer j.changed(id)
	if err := j.sim.AddLabel(id, jirasm.DefaultEscalationLabel); err != nil {
		return err
	}
	if err := j.sim.SetCustomField(id, localstack.JiraReasonField, map[string]string{"value": "Business impact"}); err != nil {
		return err
	}
	return j.sim.SetCustomField(id, localstack.JiraJustificationField, jirasmtest.TextDocument("The demo's helpdesk agent asks for it."))
}

// GoogleState reads the issue's Google-state field.
func (j *jiraCRM) GoogleState(_ context.Context, id string) (string, error) {
	is, ok := j.sim.Issue(id)
	if !ok {
		return "", fmt.Errorf("the Jira simulator has no issue %s", id)
	}
	var state string
	if raw, ok := is.Custom[localstack.JiraStateField]; ok {
		if err := json.Unmarshal(raw, &state); err != nil {
			return "", fmt.Errorf("issue %s's Google-state field is not text", id)
		}
	}
	return state, nil
}

// EscalationRequested reports whether the issue still has the escalation
// label.
func (j *jiraCRM) EscalationRequested(_ context.Context, id string) (bool, error) {
	is, ok := j.sim.Issue(id)
	if !ok {
		return false, fmt.Errorf("the Jira simulator has no issue %s", id)
	}
	return slices.Contains(is.Labels, jirasm.DefaultEscalationLabel), nil
}
