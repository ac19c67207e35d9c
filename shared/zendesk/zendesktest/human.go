package zendesktest

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNoTicket is returned by the human actions for an unknown ticket id.
var ErrNoTicket = errors.New("no such ticket")

// Ticket is what a human fills in to open a ticket.
type Ticket struct {
	Subject, Description string
	// Priority is low, normal, high, urgent or "" (none).
	Priority string
	SyncFlag bool
	// GoogleCase fills the Google-case field (usually left empty by humans).
	GoogleCase string
	// Requester is the end user's name (default "Requester"); Agent the
	// agent who submits it (default "Human Agent").
	Requester, Agent string
	// Assignee is the name of the agent it is assigned to ("" for none).
	Assignee string
	// Private makes the first comment (the description) an internal note,
	// as when an agent opens a ticket on a requester's behalf with a
	// private first comment. Zendesk still answers its text as the ticket's
	// description.
	Private bool
}

// TicketView is a snapshot of a ticket, for assertions.
type TicketView struct {
	ID                   string
	Subject, Description string
	Status, Priority     string
	Assignee             string // the assignee's name, "" for none
	SyncFlag             bool
	GoogleCase           string
	ExternalID           string
	CreatedAt, UpdatedAt time.Time
	Comments             []CommentView
	// Tags are the ticket's tags; Fields its custom fields that hold a
	// value, by id.
	Tags   []string
	Fields map[int64]any
}

// CommentView is a snapshot of a comment, the description included.
type CommentView struct {
	ID          string
	Author      string
	Body        string
	Public      bool
	CreatedAt   time.Time
	Attachments []AttachmentView
}

// AttachmentView is a snapshot of an attachment.
type AttachmentView struct {
	ID, FileName, ContentType string
	Size                      int64
}

const humanBase = "http://zendesk.invalid"

func (s *Server) ticketLocked(id string) (*ticket, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("ticket %q: %w", id, ErrNoTicket)
	}
	t, ok := s.tickets[n]
	if !ok {
		return nil, fmt.Errorf("ticket %s: %w", id, ErrNoTicket)
	}
	return t, nil
}

func asError(herr *httpError) error {
	if herr == nil {
		return nil
	}
	return herr
}

// CreateTicket opens a ticket as a human agent on behalf of an end user and
// returns its id. The description is the ticket's first comment.
func (s *Server) CreateTicket(in Ticket) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	requester := s.requester
	if in.Requester != "" {
		requester = nil
		for _, u := range s.users {
			if u.Name == in.Requester && u.Role == "end-user" {
				requester = u
			}
		}
		if requester == nil {
			requester = s.addUserLocked(in.Requester, "", "end-user")
		}
	}
	agent := s.agentLocked(defaultString(in.Agent, "Human Agent"))
	desc := defaultString(in.Description, in.Subject)
	public := !in.Private
	input := ticketInput{
		Subject:      &in.Subject,
		Comment:      &commentInput{Body: &desc, Public: &public, AuthorID: &requester.ID},
		RequesterID:  &requester.ID,
		CustomFields: []fieldInput{{ID: s.opts.SyncFlagFieldID, Value: in.SyncFlag}},
	}
	if in.Priority != "" {
		input.Priority = []byte(strconv.Quote(in.Priority))
	}
	if in.Assignee != "" {
		input.AssigneeID = &s.agentLocked(in.Assignee).ID
	}
	if in.GoogleCase != "" {
		input.CustomFields = append(input.CustomFields, fieldInput{ID: s.opts.GoogleCaseFieldID, Value: in.GoogleCase})
	}
	t, _, herr := s.createLocked(humanBase, input, agent)
	if herr != nil {
		panic(fmt.Sprintf("zendesktest: creating a human ticket: %v", herr))
	}
	return strconv.FormatInt(t.ID, 10)
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// AddHumanComment adds a public reply or internal note written by the
// agent called author and returns the comment's id.
func (s *Server) AddHumanComment(id, author, body string, public bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return "", err
	}
	agent := s.agentLocked(author)
	if _, herr := s.updateLocked(humanBase, t, ticketInput{Comment: &commentInput{Body: &body, Public: &public}}, agent); herr != nil {
		return "", herr
	}
	return strconv.FormatInt(t.Comments[len(t.Comments)-1].ID, 10), nil
}

// AddHumanAttachment attaches a file as the agent called author, on a
// public reply naming the file (so the requester sees it), and returns the
// attachment's id.
func (s *Server) AddHumanAttachment(id, author, filename, mimeType string, data []byte) (string, error) {
	return s.addHumanAttachment(id, author, filename, mimeType, data, true)
}

// AddHumanInternalAttachment attaches a file as the agent called author, on
// an internal note (a private comment) naming the file, as an agent keeps a
// file from the requester, and returns the attachment's id.
func (s *Server) AddHumanInternalAttachment(id, author, filename, mimeType string, data []byte) (string, error) {
	return s.addHumanAttachment(id, author, filename, mimeType, data, false)
}

func (s *Server) addHumanAttachment(id, author, filename, mimeType string, data []byte, public bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return "", err
	}
	if int64(len(data)) > s.opts.MaxAttachmentBytes {
		return "", fmt.Errorf("attachment of %d bytes: over the limit of %d", len(data), s.opts.MaxAttachmentBytes)
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	s.nextAttach++
	a := &attachment{ID: s.nextAttach, FileName: filename, ContentType: mimeType, Data: append([]byte{}, data...), Token: randomToken()}
	tok := randomToken()
	s.uploads[tok] = []*attachment{a}
	body := "Attached " + filename
	in := ticketInput{Comment: &commentInput{Body: &body, Public: &public, Uploads: []string{tok}}}
	if _, herr := s.updateLocked(humanBase, t, in, s.agentLocked(author)); herr != nil {
		delete(s.uploads, tok)
		return "", herr
	}
	return strconv.FormatInt(a.ID, 10), nil
}

// MakeCommentPrivate turns a public comment into an internal note, as
// Zendesk's Make Comment Private endpoint does (there is no way back). The
// ticket's description keeps the first comment's text either way.
func (s *Server) MakeCommentPrivate(id, commentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	if herr := s.makePrivateLocked(t, commentID); herr != nil {
		return herr
	}
	return nil
}

func (s *Server) humanUpdate(id string, in ticketInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	_, herr := s.updateLocked(humanBase, t, in, s.agentLocked("Human Agent"))
	return asError(herr)
}

// SetHumanPriority changes the priority as a human agent.
func (s *Server) SetHumanPriority(id, priority string) error {
	return s.humanUpdate(id, ticketInput{Priority: []byte(strconv.Quote(priority))})
}

// SetHumanStatus changes the status as a human agent (e.g. "solved",
// "closed", or "open" to reopen a solved ticket). Solving an unassigned
// ticket also assigns it to that agent, as an agent in the workspace takes
// a ticket before solving it.
func (s *Server) SetHumanStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	agent := s.agentLocked("Human Agent")
	in := ticketInput{Status: &status}
	if (status == "solved" || status == "closed") && t.AssigneeID == 0 {
		in.AssigneeID = &agent.ID
	}
	_, herr := s.updateLocked(humanBase, t, in, agent)
	return asError(herr)
}

// SetHumanSyncFlag ticks or clears the sync flag as a human agent.
func (s *Server) SetHumanSyncFlag(id string, on bool) error {
	return s.humanUpdate(id, ticketInput{CustomFields: []fieldInput{{ID: s.opts.SyncFlagFieldID, Value: on}}})
}

// SetHumanTags replaces the ticket's tags as a human agent.
func (s *Server) SetHumanTags(id string, tags []string) error {
	return s.humanUpdate(id, ticketInput{Tags: append([]string{}, tags...)})
}

// AddHumanTags adds tags to the ticket as a human agent, keeping the
// others.
func (s *Server) AddHumanTags(id string, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	in := ticketInput{Tags: append(append([]string{}, t.Tags...), tags...)}
	_, herr := s.updateLocked(humanBase, t, in, s.agentLocked("Human Agent"))
	return asError(herr)
}

// SetHumanFields sets custom fields (by id) as a human agent: a checkbox
// takes a bool, a text field a string ("" empties it).
func (s *Server) SetHumanFields(id string, values map[int64]any) error {
	var fs []fieldInput
	for fid, v := range values {
		fs = append(fs, fieldInput{ID: fid, Value: v})
	}
	return s.humanUpdate(id, ticketInput{CustomFields: fs})
}

// SetHumanExternalID sets the ticket's external id as another integration
// would.
func (s *Server) SetHumanExternalID(id, externalID string) error {
	return s.humanUpdate(id, ticketInput{ExternalID: &externalID})
}

// TicketState returns a snapshot of the ticket.
func (s *Server) TicketState(id string) (TicketView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return TicketView{}, err
	}
	return s.viewLocked(t), nil
}

// Tickets returns a snapshot of every ticket, by id.
func (s *Server) Tickets() []TicketView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TicketView
	for _, id := range s.sortedIDsLocked() {
		out = append(out, s.viewLocked(s.tickets[id]))
	}
	return out
}

func (s *Server) viewLocked(t *ticket) TicketView {
	v := TicketView{
		ID: strconv.FormatInt(t.ID, 10), Subject: t.Subject, Description: t.Description,
		Status: t.Status, Priority: t.Priority, ExternalID: t.ExternalID,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
	if u, ok := s.users[t.AssigneeID]; ok {
		v.Assignee = u.Name
	}
	v.SyncFlag, _ = checkbox(t.CustomFields[s.opts.SyncFlagFieldID])
	if g, ok := t.CustomFields[s.opts.GoogleCaseFieldID].(string); ok {
		v.GoogleCase = g
	}
	v.Tags = append([]string{}, t.Tags...)
	v.Fields = map[int64]any{}
	for id, x := range t.CustomFields {
		v.Fields[id] = x
	}
	for _, c := range t.Comments {
		cv := CommentView{ID: strconv.FormatInt(c.ID, 10), Body: c.Body, Public: c.Public, CreatedAt: c.CreatedAt}
		if u, ok := s.users[c.AuthorID]; ok {
			cv.Author = u.Name
		}
		for _, a := range c.Attachments {
			cv.Attachments = append(cv.Attachments, AttachmentView{ID: strconv.FormatInt(a.ID, 10), FileName: a.FileName, ContentType: a.ContentType, Size: int64(len(a.Data))})
		}
		v.Comments = append(v.Comments, cv)
	}
	return v
}
