package crmsim

import (
	"bytes"
	"context"
	"maps"
	"slices"
)

// CreateTicket opens a ticket as a human agent would and returns its id.
// The requester (or "customer" when none is given) is recorded as the
// ticket's requester.
func (c *CRM) CreateTicket(t Ticket) (id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nt := c.createLocked(t, "customer")
	c.notifyLocked(nt, EventCreated, nt.requester)
	return nt.ID
}

// AddHumanComment adds a public reply or an internal note written by author.
// A comment whose author is the sync user counts as the connector's own.
func (c *CRM) AddHumanComment(id, author, body string, public bool) (commentID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cm, err := c.addCommentLocked("human.comment", id, author, body, public)
	return cm.ID, err
}

// AddHumanAttachment attaches a file uploaded by author to the ticket
// itself, where the requester sees it (public). The CRM's size limit
// applies.
func (c *CRM) AddHumanAttachment(id, author, filename, mimeType string, data []byte) (attachmentID string, err error) {
	a, err := c.upload(context.Background(), "human.attachment", id, author, filename, mimeType, bytes.NewReader(data), nil)
	return a.ID, err
}

// AddHumanCommentWithFile adds a public reply or an internal note written
// by author with one file attached. The file is public exactly when the
// comment is: a file on an internal note is for the agents only. The CRM's
// size limit applies.
func (c *CRM) AddHumanCommentWithFile(id, author, body string, public bool, filename, mimeType string, data []byte) (commentID, attachmentID string, err error) {
	a, err := c.upload(context.Background(), "human.attachment", id, author, filename, mimeType, bytes.NewReader(data), &withComment{body: body, public: public})
	return a.CommentID, a.ID, err
}

// SetHumanPriority changes the priority as an agent would; the value must be
// one of the CRM's priorities.
func (c *CRM) SetHumanPriority(id, priority string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setPriorityLocked("human.priority", id, priority, HumanAgent)
}

// HumanClose closes (resolves) the ticket.
func (c *CRM) HumanClose(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setClosedLocked("human.close", id, true, HumanAgent)
}

// HumanReopen reopens a closed ticket.
func (c *CRM) HumanReopen(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setClosedLocked("human.reopen", id, false, HumanAgent)
}

// Ticket returns the full state of one ticket; ok is false when there is
// none. The result is a copy.
func (c *CRM) Ticket(id string) (TicketState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tickets[id]
	if !ok {
		return TicketState{}, false
	}
	return c.stateLocked(t), true
}

// Tickets returns the full state of every ticket, in creation order.
func (c *CRM) Tickets() []TicketState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TicketState, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.stateLocked(c.tickets[id]))
	}
	return out
}

func (c *CRM) stateLocked(t *ticket) TicketState {
	s := TicketState{CompanyCase: c.viewLocked(t).CompanyCase, Status: t.status, CustomFields: maps.Clone(t.fields),
		Requester: t.requester, Comments: slices.Clone(t.comments)}
	for _, a := range t.attachments {
		a.Data = slices.Clone(a.Data)
		s.Attachments = append(s.Attachments, a)
	}
	return s
}
