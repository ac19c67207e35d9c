package crmsim

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Control drives a simulator in another process through its /_sim/ hooks:
// it acts as the helpdesk's human agents, injects faults and reads the
// call counts, as the sandbox and the local-stack tests do. Its errors are
// *casesync.APIError, like the Client's.
type Control struct {
	c *Client
}

// NewControl returns a Control for the simulator at baseURL. A nil
// httpClient means http.DefaultClient.
func NewControl(baseURL string, httpClient *http.Client) *Control {
	c := NewClient(baseURL, httpClient)
	c.MaxAttempts = 1
	return &Control{c: c}
}

func (k *Control) send(ctx context.Context, op, method, path string, in, out any) error {
	req := request{op: op, method: method, path: path, mode: retryNever}
	if in != nil {
		req.contentType = "application/json"
		req.body = jsonBody(in)
	}
	return k.c.call(ctx, req, out)
}

func simTicketPath(id string, rest ...string) string {
	return "/_sim/tickets/" + url.PathEscape(id) + strings.Join(append([]string{""}, rest...), "/")
}

// CreateTicket opens a ticket as a human agent and returns its id.
func (k *Control) CreateTicket(ctx context.Context, t Ticket) (string, error) {
	var out wireID
	err := k.send(ctx, "human.create", http.MethodPost, "/_sim/tickets", t, &out)
	return out.ID, err
}

// AddHumanComment adds a reply or note written by author.
func (k *Control) AddHumanComment(ctx context.Context, id, author, body string, public bool) (string, error) {
	var out wireID
	err := k.send(ctx, "human.comment", http.MethodPost, simTicketPath(id, "comments"), wireHumanComment{Author: author, Body: body, Public: public}, &out)
	return out.ID, err
}

// AddHumanAttachment attaches a file uploaded by author.
func (k *Control) AddHumanAttachment(ctx context.Context, id, author, filename, mimeType string, data []byte) (string, error) {
	var out wireID
	req := request{op: "human.attachment", method: http.MethodPost, path: simTicketPath(id, "attachments"),
		query: url.Values{"filename": {filename}, "author": {author}}, contentType: mimeType, stream: bytes.NewReader(data), mode: retryNever}
	err := k.c.call(ctx, req, &out)
	return out.ID, err
}

// AddHumanCommentWithFile adds a public reply or an internal note by
// author with one file attached; the file is public exactly when the
// comment is.
func (k *Control) AddHumanCommentWithFile(ctx context.Context, id, author, body string, public bool, filename, mimeType string, data []byte) (commentID, attachmentID string, err error) {
	on := "note"
	if public {
		on = "reply"
	}
	var out wireAttached
	req := request{op: "human.attachment", method: http.MethodPost, path: simTicketPath(id, "attachments"),
		query:       url.Values{"filename": {filename}, "author": {author}, "on": {on}, "body": {body}},
		contentType: mimeType, stream: bytes.NewReader(data), mode: retryNever}
	err = k.c.call(ctx, req, &out)
	return out.CommentID, out.ID, err
}

// SetHumanPriority changes the priority as an agent would.
func (k *Control) SetHumanPriority(ctx context.Context, id, priority string) error {
	return k.send(ctx, "human.priority", http.MethodPut, simTicketPath(id, "priority"), wirePriority{Priority: priority}, nil)
}

// UpdateTicket changes a ticket's status and custom fields as an agent
// would.
func (k *Control) UpdateTicket(ctx context.Context, id string, u TicketUpdate) error {
	return k.send(ctx, "human.update", http.MethodPatch, simTicketPath(id), u, nil)
}

// RequestEscalation asks, as an agent, for the ticket's Google case to be
// escalated, through the simulator's default fields (see
// CRM.RequestEscalation).
func (k *Control) RequestEscalation(ctx context.Context, id, reason, justification string) error {
	return k.UpdateTicket(ctx, id, escalationUpdate(reason, justification))
}

// HumanClose closes the ticket.
func (k *Control) HumanClose(ctx context.Context, id string) error {
	return k.send(ctx, "human.close", http.MethodPost, simTicketPath(id, "close"), nil, nil)
}

// HumanReopen reopens the ticket.
func (k *Control) HumanReopen(ctx context.Context, id string) error {
	return k.send(ctx, "human.reopen", http.MethodPost, simTicketPath(id, "reopen"), nil, nil)
}

// Ticket returns the full state of one ticket.
func (k *Control) Ticket(ctx context.Context, id string) (TicketState, error) {
	var out TicketState
	err := k.send(ctx, "human.ticket", http.MethodGet, simTicketPath(id), nil, &out)
	return out, err
}

// Tickets returns the full state of every ticket, in creation order.
func (k *Control) Tickets(ctx context.Context) ([]TicketState, error) {
	var out []TicketState
	err := k.send(ctx, "human.tickets", http.MethodGet, "/_sim/tickets", nil, &out)
	return out, err
}

// SetDown switches the simulated outage on or off.
func (k *Control) SetDown(ctx context.Context, down bool) error {
	return k.send(ctx, "sim.down", http.MethodPut, "/_sim/down", wireDown{Down: down}, nil)
}

// SetWebhook makes the simulator send its webhooks to w.URL signed with
// w.Secret; a zero Webhook stops them.
func (k *Control) SetWebhook(ctx context.Context, w Webhook) error {
	return k.send(ctx, "sim.webhook", http.MethodPut, "/_sim/webhook", w, nil)
}

// InjectFault adds a fault.
func (k *Control) InjectFault(ctx context.Context, f Fault) error {
	return k.send(ctx, "sim.faults", http.MethodPost, "/_sim/faults", f, nil)
}

// ClearFaults removes every injected fault.
func (k *Control) ClearFaults(ctx context.Context) error {
	return k.send(ctx, "sim.faults", http.MethodDelete, "/_sim/faults", nil, nil)
}

// Calls returns the port call counts by operation.
func (k *Control) Calls(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := k.send(ctx, "sim.calls", http.MethodGet, "/_sim/calls", nil, &out)
	return out, err
}

// ResetCalls sets every count back to zero.
func (k *Control) ResetCalls(ctx context.Context) error {
	return k.send(ctx, "sim.calls", http.MethodDelete, "/_sim/calls", nil, nil)
}
