package freshdesktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Ticket is a ticket as an agent opens it in the helpdesk.
type Ticket struct {
	Subject, Description string
	// Priority is 1 (Low, the default) to 4 (Urgent); Status 2 (Open, the
	// default) or another.
	Priority, Status int
	// SyncFlag ticks the sync checkbox; GoogleCase fills the Google-case
	// field (both by their default names, FieldSyncFlag and
	// FieldGoogleCase).
	SyncFlag   bool
	GoogleCase string
	// Fields sets other custom fields by API name.
	Fields map[string]any
	// Requester is the requester's email (default requester@example.com).
	Requester string
	// Files are attached to the ticket itself, with its description.
	Files []File
}

// File is a file an agent attaches.
type File struct {
	Name, ContentType string
	Data              []byte
}

// ErrNoTicket is returned for a ticket the account does not hold.
var ErrNoTicket = errors.New("freshdesktest: no such ticket")

func (s *Server) ticketLocked(id string) (*ticket, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNoTicket, id)
	}
	t, ok := s.tickets[n]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoTicket, id)
	}
	return t, nil
}

// checkFieldsLocked checks custom field values as the API does.
func (s *Server) checkFieldsLocked(fields map[string]any) error {
	for name, v := range fields {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, ferr := s.customValue(name, raw); ferr != nil {
			return fmt.Errorf("freshdesktest: field %s: %s (%s)", ferr.Field, ferr.Message, ferr.Code)
		}
	}
	return nil
}

// CreateTicket opens a ticket as an agent in the helpdesk (a portal
// ticket of the requester) and returns its id. It panics on fields the
// account does not have: that is a mistake in the test.
func (s *Server) CreateTicket(in Ticket) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	fields := map[string]any{}
	for k, v := range in.Fields {
		fields[k] = v
	}
	if in.SyncFlag {
		fields[FieldSyncFlag] = true
	}
	if in.GoogleCase != "" {
		fields[FieldGoogleCase] = in.GoogleCase
	}
	if err := s.checkFieldsLocked(fields); err != nil {
		panic(err)
	}
	email := in.Requester
	if email == "" {
		email = s.requester.Email
	}
	t := s.newTicketLocked(s.contactLocked(email).ID, 2)
	t.Subject, t.Description = in.Subject, htmlOf(in.Description)
	if in.Priority != 0 {
		t.Priority = in.Priority
	}
	if in.Status != 0 {
		t.Status = in.Status
	}
	for k, v := range fields {
		t.Custom[k] = v
	}
	for _, f := range in.Files {
		t.Attachments = append(t.Attachments, s.storeFileLocked(newFile{name: f.Name, contentType: f.ContentType, data: f.Data}, t.CreatedAt))
	}
	s.runRulesLocked(t, true, humanAgent)
	return strconv.FormatInt(t.ID, 10)
}

// AddHumanComment adds, as the agent called author, a public reply
// (public) or a private note, and returns the conversation's id.
func (s *Server) AddHumanComment(id, author, body string, public bool) (string, error) {
	return s.addHuman(id, author, body, public, nil)
}

// AddHumanPublicNote adds a public note (private false) as the agent
// called author, and returns its id.
func (s *Server) AddHumanPublicNote(id, author, body string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return "", err
	}
	c := s.addConversationLocked(t, s.agentLocked(author), htmlOf(body), false, false, SourceNote, nil)
	return strconv.FormatInt(c.ID, 10), nil
}

// AddCustomerReply adds a reply from the requester (incoming), as when
// they answer the ticket's email, and returns its id.
func (s *Server) AddCustomerReply(id, body string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return "", err
	}
	c := s.addConversationLocked(t, s.users[t.RequesterID], htmlOf(body), false, true, SourceReply, nil)
	return strconv.FormatInt(c.ID, 10), nil
}

func (s *Server) addHuman(id, author, body string, public bool, files []newFile) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return "", err
	}
	source := SourceNote
	if public {
		source = SourceReply
	}
	c := s.addConversationLocked(t, s.agentLocked(author), htmlOf(body), !public, false, source, files)
	return strconv.FormatInt(c.ID, 10), nil
}

// AddHumanAttachment attaches a file to a public reply by the agent
// called author, which the requester sees, and returns the file's id.
func (s *Server) AddHumanAttachment(id, author, filename, mimeType string, data []byte) (string, error) {
	return s.addHumanFile(id, author, filename, mimeType, data, true)
}

// AddHumanInternalAttachment attaches a file to a private note by the
// agent called author, and returns the file's id.
func (s *Server) AddHumanInternalAttachment(id, author, filename, mimeType string, data []byte) (string, error) {
	return s.addHumanFile(id, author, filename, mimeType, data, false)
}

func (s *Server) addHumanFile(id, author, filename, mimeType string, data []byte, public bool) (string, error) {
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	cid, err := s.addHuman(id, author, "Attached "+filename, public, []newFile{{name: filename, contentType: mimeType, data: data}})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _ := s.ticketLocked(id)
	c := t.Conversations[len(t.Conversations)-1]
	if strconv.FormatInt(c.ID, 10) != cid {
		return "", errors.New("freshdesktest: the conversation moved")
	}
	return strconv.FormatInt(c.Attachments[0].ID, 10), nil
}

// SetHumanFields sets custom fields as an agent does in the ticket's
// properties, checked as the API checks them.
func (s *Server) SetHumanFields(id string, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	if err := s.checkFieldsLocked(fields); err != nil {
		return err
	}
	if t.apply(ticketInput{custom: fields}) {
		t.UpdatedAt = s.now()
		s.runRulesLocked(t, false, humanAgent)
	}
	return nil
}

// SetHumanStatus sets the ticket's status as an agent does.
func (s *Server) SetHumanStatus(id string, status int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	if !slices.Contains(s.statuses(), status) {
		return fmt.Errorf("freshdesktest: status %d is not one of %v", status, s.statuses())
	}
	if t.apply(ticketInput{status: status}) {
		t.UpdatedAt = s.now()
		s.runRulesLocked(t, false, humanAgent)
	}
	return nil
}

// SetHumanPriority sets the ticket's priority (1 to 4) as an agent does.
func (s *Server) SetHumanPriority(id string, priority int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	if priority < 1 || priority > 4 {
		return fmt.Errorf("freshdesktest: priority %d is not 1 to 4", priority)
	}
	if t.apply(ticketInput{priority: priority}) {
		t.UpdatedAt = s.now()
		s.runRulesLocked(t, false, humanAgent)
	}
	return nil
}

// DeleteTicket moves the ticket to the trash, as an agent does.
func (s *Server) DeleteTicket(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return err
	}
	t.Deleted = true
	t.UpdatedAt = s.now()
	return nil
}

// TicketView is what an agent sees of a ticket.
type TicketView struct {
	ID, Subject, Description string
	Status, Priority         int
	Fields                   map[string]any
	SyncFlag                 bool
	GoogleCase               string
	Files                    []FileView
	Conversations            []ConversationView
	UpdatedAt                string
}

// ConversationView is what an agent sees of a conversation.
type ConversationView struct {
	ID, Author, Body  string
	UserID            int64
	Private, Incoming bool
	Source            int
	Files             []FileView
}

// FileView is a file's id, name and bytes.
type FileView struct {
	ID, Name, ContentType string
	Data                  []byte
}

// TicketState returns what an agent sees of the ticket.
func (s *Server) TicketState(id string) (TicketView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.ticketLocked(id)
	if err != nil {
		return TicketView{}, err
	}
	return s.viewLocked(t), nil
}

// Tickets returns every ticket not deleted, oldest first.
func (s *Server) Tickets() []TicketView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TicketView
	for i := int64(1); i <= s.nextTicket; i++ {
		if t, ok := s.tickets[i]; ok && !t.Deleted {
			out = append(out, s.viewLocked(t))
		}
	}
	return out
}

func files(as []*attachment) []FileView {
	var out []FileView
	for _, a := range as {
		out = append(out, FileView{ID: strconv.FormatInt(a.ID, 10), Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	return out
}

func (s *Server) viewLocked(t *ticket) TicketView {
	v := TicketView{ID: strconv.FormatInt(t.ID, 10), Subject: t.Subject, Description: textOf(t.Description),
		Status: t.Status, Priority: t.Priority, Fields: s.customJSON(t), Files: files(t.Attachments), UpdatedAt: formatTime(t.UpdatedAt)}
	v.SyncFlag, _ = t.Custom[FieldSyncFlag].(bool)
	v.GoogleCase, _ = t.Custom[FieldGoogleCase].(string)
	for _, c := range t.Conversations {
		name := ""
		if u := s.users[c.UserID]; u != nil {
			name = u.Name
		}
		v.Conversations = append(v.Conversations, ConversationView{ID: strconv.FormatInt(c.ID, 10), Author: name, Body: textOf(c.Body),
			UserID: c.UserID, Private: c.Private, Incoming: c.Incoming, Source: c.Source, Files: files(c.Attachments)})
	}
	return v
}
