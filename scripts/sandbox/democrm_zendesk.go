package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// zendeskCRM is the stack's Zendesk simulator. The demo acts as its agents
// through the simulator's human actions (what an agent does in the agent
// workspace) and reads tickets and comments from the simulator's own
// state, as an agent sees them at once (Zendesk's incremental export, which
// casebridge polls, holds the last minute back). File bytes are not in
// that state: they are downloaded as the sync user, with casebridge's
// Zendesk adapter, from the account's address (CRM_URL), where Zendesk
// serves them.
type zendeskCRM struct {
	sim *zendesktest.Server
	// files downloads a file; its calls are the demo's own, not counted
	// with casebridge's.
	files casesync.CRM
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)

	mu    sync.Mutex
	bytes map[string][]byte // attachment id -> bytes; files never change
}

func newZendeskCRM(st *localstack.Stack) (*zendeskCRM, error) {
	o := st.Zendesk.Options()
	files, err := zendesk.New(zendesk.Config{
		BaseURL:           st.Endpoints()[localstack.EndpointCRM],
		Email:             o.Email,
		APIToken:          o.APIToken,
		SyncFlagFieldID:   o.SyncFlagFieldID,
		GoogleCaseFieldID: o.GoogleCaseFieldID,
		// The simulator has no rate limit, and these calls are not
		// casebridge's.
		RatePerSecond: 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the Zendesk simulator's files: %w", err)
	}
	return &zendeskCRM{sim: st.Zendesk, files: files, calls: st.CRMCalls, bytes: map[string][]byte{}}, nil
}

func (z *zendeskCRM) Describe() string { return "the Zendesk simulator" }

func (z *zendeskCRM) CreateTicket(_ context.Context, t demoTicket) (string, error) {
	return z.sim.CreateTicket(zendesktest.Ticket{Subject: t.Subject, Description: t.Description, Priority: t.Priority,
		SyncFlag: t.Flagged, Requester: t.Requester, Agent: demoAgentName}), nil
}

func (z *zendeskCRM) Comment(_ context.Context, id, author, body string, public bool) (string, error) {
	return z.sim.AddHumanComment(id, author, body, public)
}

// Attach puts the file on a public reply, which the requester sees.
func (z *zendeskCRM) Attach(_ context.Context, id, author, filename, mimeType string, data []byte) error {
	_, err := z.sim.AddHumanAttachment(id, author, filename, mimeType, data)
	return err
}

func (z *zendeskCRM) SetPriority(_ context.Context, id, priority string) error {
	return z.sim.SetHumanPriority(id, priority)
}

// Close solves the ticket, as an agent does (assigning it to themselves
// when it has no assignee).
func (z *zendeskCRM) Close(_ context.Context, id string) error {
	return z.sim.SetHumanStatus(id, "solved")
}

func (z *zendeskCRM) Ticket(ctx context.Context, id string) (crmTicket, error) {
	v, err := z.sim.TicketState(id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("the Zendesk simulator: %w", err)
	}
	t := zendeskTicket(v)
	for _, c := range v.Comments {
		t.Comments = append(t.Comments, crmComment{ID: c.ID, Author: c.Author, Body: c.Body, Public: c.Public})
		for _, a := range c.Attachments {
			data, err := z.file(ctx, id, a.ID)
			if err != nil {
				return crmTicket{}, err
			}
			t.Files = append(t.Files, crmFile{Filename: a.FileName, Data: data})
		}
	}
	return t, nil
}

func zendeskTicket(v zendesktest.TicketView) crmTicket {
	return crmTicket{ID: v.ID, Subject: v.Subject, Priority: v.Priority, GoogleCase: v.GoogleCase,
		Closed: v.Status == "solved" || v.Status == "closed"}
}

// file returns a file's bytes, downloading each file once.
func (z *zendeskCRM) file(ctx context.Context, ticketID, attachmentID string) ([]byte, error) {
	z.mu.Lock()
	data, ok := z.bytes[attachmentID]
	z.mu.Unlock()
	if ok {
		return data, nil
	}
	body, err := z.files.DownloadAttachment(ctx, ticketID, attachmentID)
	if err != nil {
		return nil, fmt.Errorf("downloading file %s of Zendesk ticket %s: %w", attachmentID, ticketID, err)
	}
	defer body.Close()
	if data, err = io.ReadAll(body); err != nil {
		return nil, fmt.Errorf("downloading file %s of Zendesk ticket %s: %w", attachmentID, ticketID, err)
	}
	z.mu.Lock()
	z.bytes[attachmentID] = data
	z.mu.Unlock()
	return data, nil
}

func (z *zendeskCRM) Synced(context.Context) ([]crmTicket, error) {
	var out []crmTicket
	for _, v := range z.sim.Tickets() {
		if v.SyncFlag || v.GoogleCase != "" {
			out = append(out, zendeskTicket(v))
		}
	}
	return out, nil
}

// Calls are the calls the Zendesk adapter of the functions process counted.
func (z *zendeskCRM) Calls(ctx context.Context) (map[string]int, error) {
	return adapterCalls(ctx, z.calls)
}

// SearchOp: casebridge polls Zendesk through the incremental ticket export.
func (z *zendeskCRM) SearchOp() string { return "tickets.export" }

// SearchCallsPerPoll: the export's one page ends the stream.
func (z *zendeskCRM) SearchCallsPerPoll() int { return 1 }

// adapterCalls reads the call counts of the functions process's CRM
// adapter (nil when it reports none).
func adapterCalls(ctx context.Context, calls func(context.Context) (map[string]int64, error)) (map[string]int, error) {
	got, err := calls(ctx)
	if err != nil || got == nil {
		return nil, err
	}
	out := make(map[string]int, len(got))
	for op, n := range got {
		out[op] = int(n)
	}
	return out, nil
}
