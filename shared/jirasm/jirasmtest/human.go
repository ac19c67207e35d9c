package jirasmtest

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrNoIssue is returned by the human actions for an unknown issue.
var ErrNoIssue = errors.New("no such issue")

// NewIssue is an issue a human opens in the agent view.
type NewIssue struct {
	Summary string
	// Description is plain text: the editor turns blank-line separated
	// blocks into paragraphs and single newlines into line breaks.
	Description string
	// DescriptionADF, when set, is stored as the description instead.
	DescriptionADF json.RawMessage
	// Priority is a priority name; "" is the default (the middle one).
	Priority   string
	SyncFlag   bool
	GoogleCase string
	// Reporter is the human's display name; default "Requester".
	Reporter string
}

// Issue is a snapshot of an issue, for tests.
type Issue struct {
	ID, Key     string
	Summary     string
	Description json.RawMessage
	Priority    string
	Status      string
	Resolution  string
	SyncFlag    bool
	GoogleCase  string
	Created     time.Time
	Updated     time.Time
	Comments    []Comment
	Attachments []Attachment
	// Labels are the issue's labels.
	Labels []string
	// Custom holds the values of Options.CustomFields, as the API answers
	// them; a field without a value is absent.
	Custom map[string]json.RawMessage
}

// Comment is a snapshot of a comment.
type Comment struct {
	ID, AuthorID, AuthorName string
	// Body is the comment as stored, an Atlassian Document.
	Body json.RawMessage
	// Public is false when the service desk's internal property says so.
	Public bool
	// Visibility is the role or group the comment is restricted to, if any.
	Visibility string
	Created    time.Time
}

// HumanComment is a comment a human writes in the agent view.
type HumanComment struct {
	// Author is the human's display name.
	Author string
	// Body is plain text, stored as the editor would (see NewIssue).
	Body string
	// BodyADF, when set, is stored as the body instead.
	BodyADF json.RawMessage
	// Public is a reply to the customer; false is an internal note.
	Public bool
	// RestrictToRole, when set, restricts the comment to that project role.
	RestrictToRole string
}

// Attachment is a snapshot of an attachment.
type Attachment struct {
	ID, Filename, MimeType, AuthorID string
	// MediaID is the file's id on the media host, as media nodes name it.
	MediaID string
	Data    []byte
}

// CreateIssue opens an issue as a human and returns its key.
func (s *Server) CreateIssue(in NewIssue) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Reporter == "" {
		in.Reporter = "Requester"
	}
	desc := in.DescriptionADF
	if desc == nil && in.Description != "" {
		desc = editorADF(in.Description)
	}
	is := &issue{summary: in.Summary, description: desc, priority: in.Priority, status: StatusWaiting,
		syncFlag: in.SyncFlag, googleCase: in.GoogleCase, reporter: s.accountFor(in.Reporter)}
	s.add(is)
	s.issueCreatedLocked(is)
	return is.key
}

// AddComment adds a public reply or internal note written by the named
// human and returns its id.
func (s *Server) AddComment(key, author, body string, public bool) (string, error) {
	return s.AddHumanComment(key, HumanComment{Author: author, Body: body, Public: public})
}

// AddHumanComment adds a comment as a human and returns its id. An
// internal note carries the service desk's internal property, as the agent
// view writes it; a public reply carries none.
func (s *Server) AddHumanComment(key string, c HumanComment) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return "", ErrNoIssue
	}
	body := c.BodyADF
	if body == nil {
		body = editorADF(c.Body)
	}
	var props []property
	if !c.Public {
		props = []property{{Key: internalProperty, Value: json.RawMessage(`{"internal":true}`)}}
	}
	var vis *visibility
	if c.RestrictToRole != "" {
		vis = &visibility{Type: "role", Value: c.RestrictToRole}
	}
	return s.comment(is, s.accountFor(c.Author), body, props, vis).id, nil
}

// AddAttachment attaches a file to the issue itself, outside any comment,
// as the agent view's attach button does, and returns its id. Jira Service
// Management shows such a file to agents only.
func (s *Server) AddAttachment(key, author, filename, mimeType string, data []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return "", ErrNoIssue
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	return s.attach(is, s.accountFor(author), filename, mimeType, data).id, nil
}

// AddHumanFileComment writes a comment with a file in it, as an agent who
// drops a file into the comment editor: the file becomes an attachment of
// the issue and the comment's document holds a media node naming the
// file's media id (a mediaSingle for an image, a mediaGroup otherwise),
// after the comment's text if any. A public reply shows the file to the
// customer; an internal note keeps it to agents. It returns the comment's
// and the attachment's ids.
func (s *Server) AddHumanFileComment(key string, c HumanComment, filename, mimeType string, data []byte) (commentID, attachmentID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return "", "", ErrNoIssue
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	author := s.accountFor(c.Author)
	a := s.attach(is, author, filename, mimeType, data)
	var doc struct {
		Type    string            `json:"type"`
		Version int               `json:"version"`
		Content []json.RawMessage `json:"content"`
	}
	text := c.BodyADF
	if text == nil && c.Body != "" {
		text = editorADF(c.Body)
	}
	if text != nil {
		if err := json.Unmarshal(text, &doc); err != nil {
			return "", "", err
		}
	}
	doc.Type, doc.Version = "doc", 1
	wrapper := "mediaGroup"
	if strings.HasPrefix(mimeType, "image/") {
		wrapper = "mediaSingle"
	}
	node, _ := json.Marshal(map[string]any{"type": wrapper, "content": []any{map[string]any{
		"type": "media", "attrs": map[string]any{"id": a.mediaID, "type": "file", "collection": ""},
	}}})
	doc.Content = append(doc.Content, node)
	body, _ := json.Marshal(doc)
	var props []property
	if !c.Public {
		props = []property{{Key: internalProperty, Value: json.RawMessage(`{"internal":true}`)}}
	}
	var vis *visibility
	if c.RestrictToRole != "" {
		vis = &visibility{Type: "role", Value: c.RestrictToRole}
	}
	return s.comment(is, author, body, props, vis).id, a.id, nil
}

// HumanAgent is the display name of the human who changes priorities and
// moves issues along the workflow.
const HumanAgent = "Human Agent"

// SetPriority changes the priority as a human.
func (s *Server) SetPriority(key, priority string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return ErrNoIssue
	}
	if !slices.Contains(s.opts.Priorities, priority) {
		return errors.New("unknown priority")
	}
	if is.priority != priority {
		item := s.priorityChange(is.priority, priority)
		is.priority = priority
		s.bump(is)
		s.issueUpdatedLocked(is, s.accountFor(HumanAgent), "issue_updated", []changeItem{item})
	}
	return nil
}

// Transition moves the issue along the named transition as a human (e.g.
// TransitionResolve, TransitionReopen).
func (s *Server) Transition(key, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return ErrNoIssue
	}
	for _, t := range s.transitionsFrom(is.status) {
		if t.name == name {
			if msg := s.transition(is, s.accountFor(HumanAgent), t.id, "Done"); msg != "" {
				return errors.New(msg)
			}
			return nil
		}
	}
	return errors.New("transition not available from " + is.status)
}

// Issue returns a snapshot of the issue with that key or id.
func (s *Server) Issue(key string) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(key)
	if is == nil {
		return Issue{}, false
	}
	out := Issue{ID: is.id, Key: is.key, Summary: is.summary, Description: slices.Clone(is.description),
		Priority: is.priority, Status: is.status, Resolution: is.resolution, SyncFlag: is.syncFlag,
		GoogleCase: is.googleCase, Created: is.created, Updated: is.updated,
		Labels: slices.Clone(is.labels), Custom: map[string]json.RawMessage{}}
	for k, v := range is.custom {
		out.Custom[k] = slices.Clone(v)
	}
	for _, c := range is.comments {
		cs := Comment{ID: c.id, Body: slices.Clone(c.body), AuthorID: c.author.ID,
			AuthorName: c.author.Name, Public: c.public(), Created: c.created}
		if c.visibility != nil {
			cs.Visibility = c.visibility.Type + ":" + c.visibility.Value
		}
		out.Comments = append(out.Comments, cs)
	}
	for _, id := range is.attachmentIDs {
		a := s.attachments[id]
		out.Attachments = append(out.Attachments, Attachment{ID: a.id, Filename: a.filename,
			MimeType: a.mimeType, AuthorID: a.author.ID, MediaID: a.mediaID, Data: slices.Clone(a.data)})
	}
	return out, true
}

// Keys returns every issue's key, oldest first.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, is := range s.issues {
		out = append(out, is.key)
	}
	return out
}

// editorADF renders plain text as the Jira editor stores it: blocks
// separated by a blank line become paragraphs, other newlines hard breaks.
func editorADF(text string) json.RawMessage {
	type node = map[string]any
	var paras []any
	for _, block := range strings.Split(text, "\n\n") {
		var inline []any
		for i, line := range strings.Split(block, "\n") {
			if i > 0 {
				inline = append(inline, node{"type": "hardBreak"})
			}
			if line != "" {
				inline = append(inline, node{"type": "text", "text": line})
			}
		}
		p := node{"type": "paragraph"}
		if inline != nil {
			p["content"] = inline
		}
		paras = append(paras, p)
	}
	b, _ := json.Marshal(node{"type": "doc", "version": 1, "content": paras})
	return b
}

// emptyADF reports whether a document has no content at all.
func emptyADF(raw json.RawMessage) bool {
	var doc struct {
		Type    string            `json:"type"`
		Content []json.RawMessage `json:"content"`
	}
	return json.Unmarshal(raw, &doc) == nil && doc.Type == "doc" && len(doc.Content) == 0
}

// validADF checks an Atlassian Document's outer shape.
func validADF(raw json.RawMessage) bool {
	var doc struct {
		Type    string            `json:"type"`
		Version int               `json:"version"`
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &doc) != nil || doc.Type != "doc" || doc.Version != 1 || doc.Content == nil {
		return false
	}
	for _, c := range doc.Content {
		var n struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(c, &n) != nil || n.Type == "" {
			return false
		}
	}
	return true
}
