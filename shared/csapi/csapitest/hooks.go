package csapitest

import (
	"strings"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// CreateCase creates a case the way a customer does in the console: the
// first seeded classification, state NEW, and the given creator. parent may
// name a project by ID or number. It returns the case name.
func (s *Server) CreateCase(parent, displayName, description, priority, creatorEmail string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, apiErr := s.parseParent(parent)
	if apiErr != nil {
		return "", apiErr
	}
	in := cloudsupport.Case{
		DisplayName:    displayName,
		Description:    description,
		Priority:       priority,
		Classification: &cloudsupport.CaseClassification{Id: s.classifications[0].ID},
	}
	creator := &cloudsupport.Actor{DisplayName: displayNameFromEmail(creatorEmail), Email: creatorEmail, Username: creatorEmail}
	rec, apiErr := s.createCaseLocked(p, in, creator)
	if apiErr != nil {
		return "", apiErr
	}
	return rec.c.Name, nil
}

// AddComment adds a comment by creator, as if written in the console (or by
// Google when creator.GoogleSupport is set). It returns the comment name.
func (s *Server) AddComment(caseName, body string, creator Actor) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return "", apiErr
	}
	cm, apiErr := s.addCommentLocked(rec, body, actorOf(creator))
	if apiErr != nil {
		return "", apiErr
	}
	return cm.Name, nil
}

// AddAgentComment adds a comment from a Google Support agent: googleSupport
// true, an obfuscated display name, no username or email. It returns the
// comment name.
func (s *Server) AddAgentComment(caseName, body string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return "", apiErr
	}
	agent := &cloudsupport.Actor{DisplayName: obfuscatedAgentNames[s.agentSeq%len(obfuscatedAgentNames)], GoogleSupport: true}
	s.agentSeq++
	cm, apiErr := s.addCommentLocked(rec, body, agent)
	if apiErr != nil {
		return "", apiErr
	}
	return cm.Name, nil
}

// AddAttachment attaches a file to a case as creator. It returns the
// attachment name.
func (s *Server) AddAttachment(caseName, filename, mimeType string, data []byte, creator Actor) (string, error) {
	if strings.TrimSpace(filename) == "" {
		return "", errInvalid("attachment.filename is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return "", apiErr
	}
	a := s.addAttachmentLocked(rec, filename, mimeType, data, actorOf(creator))
	return a.Name, nil
}

// SetPriority changes a case's priority, as a customer or agent can in the
// console.
func (s *Server) SetPriority(caseName, priority string) error {
	if !validPriority(priority) {
		return errInvalid("Invalid value for priority: %q.", priority)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return apiErr
	}
	rec.c.Priority = priority
	s.touch(rec, s.now())
	s.emitLocked(NotificationCaseUpdated, rec.c.Name)
	return nil
}

// SetState moves a case to one of the states only Google can set
// (IN_PROGRESS_GOOGLE_SUPPORT, ACTION_REQUIRED, SOLUTION_PROVIDED, ...).
func (s *Server) SetState(caseName, state string) error {
	switch state {
	case "NEW", "IN_PROGRESS_GOOGLE_SUPPORT", "ACTION_REQUIRED", "SOLUTION_PROVIDED", "CLOSED":
	default:
		return errInvalid("Invalid value for state: %q.", state)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return apiErr
	}
	rec.c.State = state
	s.touch(rec, s.now())
	s.emitLocked(NotificationCaseUpdated, rec.c.Name)
	return nil
}

// CloseCase closes a case as a customer or agent does in the console. Closing
// a closed case fails with FAILED_PRECONDITION.
func (s *Server) CloseCase(caseName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := s.closeLocked(rec); apiErr != nil {
		return apiErr
	}
	return nil
}

// Case returns the current state of a case; name may use the project ID or
// number.
func (s *Server) Case(name string) (cloudsupport.Case, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(name)
	if apiErr != nil {
		return cloudsupport.Case{}, false
	}
	return copyCase(rec.c), true
}

// Cases returns every case, newest first.
func (s *Server) Cases() []cloudsupport.Case {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.sortedCases()
	out := make([]cloudsupport.Case, 0, len(recs))
	for _, rec := range recs {
		out = append(out, copyCase(rec.c))
	}
	return out
}

// Comments returns a case's comments, oldest first (the API lists them
// newest first).
func (s *Server) Comments(caseName string) []cloudsupport.Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return nil
	}
	out := make([]cloudsupport.Comment, 0, len(rec.comments))
	for _, c := range rec.comments {
		out = append(out, copyComment(c.c))
	}
	return out
}

// Attachments returns a case's attachments, oldest first.
func (s *Server) Attachments(caseName string) []cloudsupport.Attachment {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return nil
	}
	out := make([]cloudsupport.Attachment, 0, len(rec.attachments))
	for _, a := range rec.attachments {
		out = append(out, copyAttachment(a.a))
	}
	return out
}

// AttachmentData returns a copy of an attachment's bytes.
func (s *Server) AttachmentData(attachmentName string) ([]byte, bool) {
	parts := strings.Split(attachmentName, "/")
	if len(parts) != 6 || parts[4] != "attachments" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, apiErr := s.findAttachment(route{kind: parts[0], id: parts[1], number: parts[3], childID: parts[5]})
	if apiErr != nil {
		return nil, false
	}
	return append([]byte(nil), a.data...), true
}

func actorOf(a Actor) *cloudsupport.Actor {
	return &cloudsupport.Actor{DisplayName: a.DisplayName, Email: a.Email, Username: a.Username, GoogleSupport: a.GoogleSupport}
}
