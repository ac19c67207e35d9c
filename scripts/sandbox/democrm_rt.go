package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
)

// rtReadEvery is how long the demo reuses what it read of a Request
// Tracker ticket. RT serves with two workers, shared with the functions
// process: reading every 150 ms, as the checks look, would slow the sync
// the demo measures.
const rtReadEvery = time.Second

// rtCRM is a real Request Tracker: the demo acts through rttest's Human
// API (as RT users named for the demo's agents) and reads through the
// casebridge adapter (as the sync user, straight to RT, so that the
// outage switch in front of RT does not blind the demo).
type rtCRM struct {
	inst   *rttest.Instance
	human  *rttest.Human
	client *rt.Client
	// calls asks the functions process for its adapter's call counts.
	calls func(context.Context) (map[string]int64, error)
	// since is how far back Synced searches: before the demo began.
	since time.Time

	mu      sync.Mutex
	tickets map[string]*cachedRead[crmTicket]
	synced  cachedRead[[]crmTicket]
	files   map[string][]byte // attachment id -> bytes; files never change
	// views are the tickets' status and custom fields as an agent sees them.
	views map[string]*cachedRead[rttest.TicketView]
}

// newRTCRM reads and acts on inst; calls (nil: not measured) gives the
// functions process's CRM calls.
func newRTCRM(inst *rttest.Instance, calls func(context.Context) (map[string]int64, error)) (*rtCRM, error) {
	client, err := rt.New(rt.Config{
		BaseURL:         inst.URL,
		Token:           inst.SyncToken,
		User:            rttest.SyncUser,
		Queue:           rttest.Queue,
		SyncFlagField:   rttest.SyncFlagField,
		SyncFlagValue:   rttest.SyncFlagYes,
		GoogleCaseField: rttest.GoogleCaseField,
	})
	if err != nil {
		return nil, fmt.Errorf("reading Request Tracker: %w", err)
	}
	return &rtCRM{inst: inst, human: inst.Human, client: client, calls: calls,
		since: time.Now().Add(-time.Hour), tickets: map[string]*cachedRead[crmTicket]{}, files: map[string][]byte{}}, nil
}

func (r *rtCRM) Describe() string { return "Request Tracker at " + r.inst.URL }

// The demo's own actions make it read the ticket afresh.

func (r *rtCRM) CreateTicket(ctx context.Context, t demoTicket) (string, error) {
	defer r.synced.forget()
	return r.human.CreateTicket(ctx, rttest.NewTicket{Subject: t.Subject, Description: t.Description,
		Priority: t.Priority, SyncFlag: t.Flagged, Author: demoAgentName, Requestor: t.Requester})
}

func (r *rtCRM) Comment(ctx context.Context, id, author, body string, public bool) (string, error) {
	defer r.entry(id).forget()
	return r.human.AddComment(ctx, id, author, body, public)
}

func (r *rtCRM) Attach(ctx context.Context, id, author, filename, mimeType string, data []byte) error {
	defer r.entry(id).forget()
	_, err := r.human.Attach(ctx, id, author, filename, mimeType, data)
	return err
}

func (r *rtCRM) SetPriority(ctx context.Context, id, priority string) error {
	defer r.entry(id).forget()
	return r.human.SetPriority(ctx, id, demoAgentName, priority)
}

func (r *rtCRM) Close(ctx context.Context, id string) error {
	defer r.entry(id).forget()
	return r.human.Resolve(ctx, id, demoAgentName)
}

func (r *rtCRM) entry(id string) *cachedRead[crmTicket] {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.tickets[id]
	if !ok {
		e = &cachedRead[crmTicket]{}
		r.tickets[id] = e
	}
	return e
}

func (r *rtCRM) Ticket(ctx context.Context, id string) (crmTicket, error) {
	return r.entry(id).get(rtReadEvery, func() (crmTicket, error) { return r.read(ctx, id) })
}

// read reads a ticket, its comments and its files (each file's bytes once).
func (r *rtCRM) read(ctx context.Context, id string) (crmTicket, error) {
	c, err := r.client.GetCase(ctx, id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("reading RT ticket %s: %w", id, err)
	}
	t := crmTicket{ID: c.ID, Subject: c.Subject, Priority: c.Priority, GoogleCase: c.GoogleCase, Closed: c.Closed}
	comments, err := r.client.ListComments(ctx, id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("reading the comments of RT ticket %s: %w", id, err)
	}
	for _, cm := range comments {
		t.Comments = append(t.Comments, crmComment{ID: cm.ID, Author: cm.AuthorName, Body: cm.Body, Public: cm.Public})
	}
	files, err := r.client.ListAttachments(ctx, id)
	if err != nil {
		return crmTicket{}, fmt.Errorf("listing the files of RT ticket %s: %w", id, err)
	}
	for _, f := range files {
		data, err := r.file(ctx, id, f.ID)
		if err != nil {
			return crmTicket{}, err
		}
		t.Files = append(t.Files, crmFile{Filename: f.Filename, Data: data})
	}
	return t, nil
}

func (r *rtCRM) file(ctx context.Context, ticketID, attachmentID string) ([]byte, error) {
	r.mu.Lock()
	data, ok := r.files[attachmentID]
	r.mu.Unlock()
	if ok {
		return data, nil
	}
	body, err := r.client.DownloadAttachment(ctx, ticketID, attachmentID)
	if err != nil {
		return nil, fmt.Errorf("downloading file %s of RT ticket %s: %w", attachmentID, ticketID, err)
	}
	defer body.Close()
	data, err = io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("downloading file %s of RT ticket %s: %w", attachmentID, ticketID, err)
	}
	r.mu.Lock()
	r.files[attachmentID] = data
	r.mu.Unlock()
	return data, nil
}

func (r *rtCRM) Synced(ctx context.Context) ([]crmTicket, error) {
	return r.synced.get(rtReadEvery, func() ([]crmTicket, error) {
		cases, err := r.client.SearchUpdated(ctx, r.since)
		if err != nil {
			return nil, fmt.Errorf("searching Request Tracker: %w", err)
		}
		out := make([]crmTicket, 0, len(cases))
		for _, c := range cases {
			out = append(out, crmTicket{ID: c.ID, Subject: c.Subject, Priority: c.Priority, GoogleCase: c.GoogleCase, Closed: c.Closed})
		}
		return out, nil
	})
}

// Calls are the calls the Request Tracker adapter of the functions process
// counted (nil when that process does not report them).
func (r *rtCRM) Calls(ctx context.Context) (map[string]int, error) {
	if r.calls == nil {
		return nil, nil
	}
	calls, err := r.calls(ctx)
	if err != nil || calls == nil {
		return nil, err
	}
	out := make(map[string]int, len(calls))
	for op, n := range calls {
		out[op] = int(n)
	}
	return out, nil
}

func (r *rtCRM) SearchOp() string { return rt.OpSearch }

// SearchCallsPerPoll: the adapter reads on to an empty page, because RT
// can return a short page that is not the last.
func (r *rtCRM) SearchCallsPerPoll() int { return 2 }

// RequestEscalation sets the ticket's "Escalate to Google" field as an
// agent, with a reason and a justification.
func (r *rtCRM) RequestEscalation(ctx context.Context, id string) error {
	defer r.view(id).forget()
	return r.human.RequestEscalation(ctx, id, demoAgentName, "Business impact", "The demo's helpdesk agent asks for it.")
}

// GoogleState reads the ticket's Google-state field as an agent sees it.
func (r *rtCRM) GoogleState(ctx context.Context, id string) (string, error) {
	t, err := r.readView(ctx, id)
	return t.CustomFields[rttest.StateField], err
}

// EscalationRequested reports whether the ticket's "Escalate to Google"
// field still asks.
func (r *rtCRM) EscalationRequested(ctx context.Context, id string) (bool, error) {
	t, err := r.readView(ctx, id)
	return t.CustomFields[rttest.EscalationField] != "", err
}

// view is the cached read of one ticket's status and custom fields.
func (r *rtCRM) view(id string) *cachedRead[rttest.TicketView] {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.views == nil {
		r.views = map[string]*cachedRead[rttest.TicketView]{}
	}
	e, ok := r.views[id]
	if !ok {
		e = &cachedRead[rttest.TicketView]{}
		r.views[id] = e
	}
	return e
}

func (r *rtCRM) readView(ctx context.Context, id string) (rttest.TicketView, error) {
	return r.view(id).get(rtReadEvery, func() (rttest.TicketView, error) { return r.human.Ticket(ctx, id) })
}
