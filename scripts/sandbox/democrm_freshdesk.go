package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/casebridge/casebridge/shared/localstack"
)

// freshdeskCRM is the stack's Freshdesk simulator. The demo acts as its
// agents through the simulator's human actions (what an agent does in the
// helpdesk) and reads tickets, conversations and files from the
// simulator's own state, as an agent sees them.
type freshdeskCRM struct {
	sim *freshdesktest.Server
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)
}

func newFreshdeskCRM(st *localstack.Stack) (*freshdeskCRM, error) {
	if st.Freshdesk == nil {
		return nil, fmt.Errorf("the stack runs no Freshdesk simulator")
	}
	return &freshdeskCRM{sim: st.Freshdesk, calls: st.CRMCalls}, nil
}

func (f *freshdeskCRM) Describe() string { return "the Freshdesk simulator" }

// freshdeskPriority reads one of Freshdesk's priorities, "1" to "4".
func freshdeskPriority(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 4 {
		return 0, fmt.Errorf("%q is not a Freshdesk priority (1 to 4)", p)
	}
	return n, nil
}

func (f *freshdeskCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	p := 1
	if t.Priority != "" {
		var err error
		if p, err = freshdeskPriority(t.Priority); err != nil {
			return "", err
		}
	}
	return f.sim.CreateTicket(freshdesktest.Ticket{Subject: t.Subject, Description: t.Description, Priority: p,
		SyncFlag: t.Flagged, Requester: t.Requester}), nil
}

// Comment adds a public reply or a private note, as an agent does.
func (f *freshdeskCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	return f.sim.AddHumanComment(id, author, body, public)
}

// Attach puts the file on a public reply, which the requester sees.
func (f *freshdeskCRM) Attach(_ context.Context, id, author, filename, mimeType string, data []byte) error {
	_, err := f.sim.AddHumanAttachment(id, author, filename, mimeType, data)
	return err
}

func (f *freshdeskCRM) SetPriority(_ context.Context, id, p string) error {
	n, err := freshdeskPriority(p)
	if err != nil {
		return err
	}
	return f.sim.SetHumanPriority(id, n)
}

// Close resolves the ticket, as an agent does.
func (f *freshdeskCRM) Close(_ context.Context, id string) error {
	return f.sim.SetHumanStatus(id, freshdesk.StatusResolved)
}

func (f *freshdeskCRM) Ticket(_ context.Context, id string) (crmTicket, error) {
	v, err := f.sim.TicketState(id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("the Freshdesk simulator: %w", err)
	}
	t := freshdeskTicket(v)
	for _, file := range v.Files {
		t.Files = append(t.Files, crmFile{Filename: file.Name, Data: file.Data})
	}
	for _, c := range v.Conversations {
		t.Comments = append(t.Comments, crmComment{ID: c.ID, Author: c.Author, Body: c.Body, Public: !c.Private})
		for _, file := range c.Files {
			t.Files = append(t.Files, crmFile{Filename: file.Name, Data: file.Data})
		}
	}
	return t, nil
}

func freshdeskTicket(v freshdesktest.TicketView) crmTicket {
	return crmTicket{ID: v.ID, Subject: v.Subject, Priority: strconv.Itoa(v.Priority), GoogleCase: v.GoogleCase,
		Closed: v.Status == freshdesk.StatusResolved || v.Status == freshdesk.StatusClosed}
}

func (f *freshdeskCRM) Synced(context.Context) ([]crmTicket, error) {
	var out []crmTicket
	for _, v := range f.sim.Tickets() {
		if v.SyncFlag || v.GoogleCase != "" {
			out = append(out, freshdeskTicket(v))
		}
	}
	return out, nil
}

// Calls are the calls the Freshdesk adapter of the functions process
// counted.
func (f *freshdeskCRM) Calls(ctx context.Context) (map[string]int, error) {
	return adapterCalls(ctx, f.calls)
}

// SearchOp: casebridge polls Freshdesk through the ticket list.
func (f *freshdeskCRM) SearchOp() string { return "tickets.list" }

// SearchCallsPerPoll: the few recent tickets fit on one page.
func (f *freshdeskCRM) SearchCallsPerPoll() int { return 1 }

// RequestEscalation ticks the ticket's escalation box with a reason and a
// justification, as an agent does in the ticket's properties.
func (f *freshdeskCRM) RequestEscalation(_ context.Context, id string) error {
	return f.sim.SetHumanFields(id, map[string]any{freshdesktest.FieldEscalate: true,
		freshdesktest.FieldEscalationReason:        "Business impact",
		freshdesktest.FieldEscalationJustification: "The demo's helpdesk agent asks for it."})
}

// GoogleState reads the ticket's Google-state field.
func (f *freshdeskCRM) GoogleState(_ context.Context, id string) (string, error) {
	v, err := f.sim.TicketState(id)
	if err != nil {
		return "", fmt.Errorf("the Freshdesk simulator: %w", err)
	}
	s, _ := v.Fields[freshdesktest.FieldState].(string)
	return s, nil
}

// EscalationRequested reports whether the escalation box is still ticked.
func (f *freshdeskCRM) EscalationRequested(_ context.Context, id string) (bool, error) {
	v, err := f.sim.TicketState(id)
	if err != nil {
		return false, fmt.Errorf("the Freshdesk simulator: %w", err)
	}
	b, _ := v.Fields[freshdesktest.FieldEscalate].(bool)
	return b, nil
}
