package salesforcetest

import (
	"errors"
	"fmt"
	"time"
)

// Case is a case a human agent opens.
type Case struct {
	Subject, Description string
	// Priority and Status are picklist values ("" for the defaults).
	Priority, Status string
	// SyncFlag ticks the sync checkbox (Sync_with_Google__c or the first
	// boolean custom field named so in Options.CustomFields).
	SyncFlag bool
	// Author is the agent's name (default "Human Agent").
	Author string
}

// SyncFlagField and GoogleCaseField are the default custom fields' names.
const (
	SyncFlagField   = "Sync_with_Google__c"
	GoogleCaseField = "Google_Case__c"
)

func asError(e *sfErr) error {
	if e == nil {
		return nil
	}
	return fmt.Errorf("%s: %s", e.ErrorCode, e.Message)
}

// CreateCase opens a case as a human agent and returns its id; it panics
// on a value the org refuses (a test's mistake).
func (s *Server) CreateCase(c Case) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	author := c.Author
	if author == "" {
		author = "Human Agent"
	}
	in := map[string]any{"Subject": c.Subject, "Description": c.Description}
	if c.Priority != "" {
		in["Priority"] = c.Priority
	}
	if c.Status != "" {
		in["Status"] = c.Status
	}
	if _, ok := s.opts.CustomFields[SyncFlagField]; ok {
		in[SyncFlagField] = c.SyncFlag
	}
	rc, e := s.newCaseLocked(in, s.userLocked(author))
	if e != nil {
		panic(asError(e))
	}
	return rc.id()
}

// UpdateCase changes fields of a case as a human agent would in the
// record's edit form: the same validation as the API's.
func (s *Server) UpdateCase(id, author string, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", id)
	if rc == nil {
		return errors.New("NOT_FOUND: no such case")
	}
	cp := &rec{object: "Case", vals: map[string]any{}}
	if e := s.applyLocked(cp, "Case", fields); e != nil {
		return asError(e)
	}
	for k, v := range cp.vals {
		rc.vals[k] = v
	}
	user := s.userLocked(author)
	s.touchLocked(rc, user)
	s.afterSaveLocked(rc, "Case", user)
	return nil
}

// AddComment adds a case comment by a human agent, published (public) or
// not, and returns its id.
func (s *Server) AddComment(caseID, author, body string, public bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cm, e := s.newCommentLocked(map[string]any{"ParentId": caseID, "CommentBody": body, "IsPublished": public}, s.userLocked(author))
	if e != nil {
		return "", asError(e)
	}
	return cm.id(), nil
}

// AddFile uploads a file to a case as a human agent, its link to the case
// with the given Visibility (AllUsers: customers see it; InternalUsers:
// they do not), and returns the file's version id.
func (s *Server) AddFile(caseID, author, filename string, data []byte, visibility string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vid, e := s.newFileLocked(caseID, filename, filename, append([]byte(nil), data...), s.userLocked(author), visibility)
	return vid, asError(e)
}

// CaseView is what a person sees of a case.
type CaseView struct {
	ID, Subject, Description, Status, Priority string
	IsClosed                                   bool
	// Fields are the custom fields' values.
	Fields                      map[string]any
	CreatedDate, SystemModstamp time.Time
	Comments                    int
}

// View returns a case as a person sees it.
func (s *Server) View(id string) (CaseView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", id)
	if rc == nil {
		return CaseView{}, errors.New("NOT_FOUND: no such case")
	}
	str := func(k string) string { v, _ := rc.vals[k].(string); return v }
	v := CaseView{ID: rc.id(), Subject: str("Subject"), Description: str("Description"), Status: str("Status"),
		Priority: str("Priority"), Fields: map[string]any{}}
	v.IsClosed, _ = rc.vals["IsClosed"].(bool)
	v.CreatedDate, _ = rc.vals["CreatedDate"].(time.Time)
	v.SystemModstamp, _ = rc.vals["SystemModstamp"].(time.Time)
	for name := range s.opts.CustomFields {
		v.Fields[name] = rc.vals[name]
	}
	for _, cm := range s.comments {
		if cm.vals["ParentId"] == rc.id() {
			v.Comments++
		}
	}
	return v, nil
}

// Cases returns the ids of every case, oldest first.
func (s *Server) Cases() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.cases {
		out = append(out, c.id())
	}
	return out
}

// CommentBodies returns the bodies of a case's comments, oldest first,
// with whether each is published.
func (s *Server) CommentBodies(caseID string) (bodies []string, published []bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", caseID)
	if rc == nil {
		return nil, nil
	}
	for _, cm := range s.comments {
		if cm.vals["ParentId"] == rc.id() {
			b, _ := cm.vals["CommentBody"].(string)
			p, _ := cm.vals["IsPublished"].(bool)
			bodies = append(bodies, b)
			published = append(published, p)
		}
	}
	return bodies, published
}

// DeleteComment removes a comment (an agent with Modify All Data may).
func (s *Server) DeleteComment(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, cm := range s.comments {
		if cm.id()[:15] == id[:15] {
			s.comments = append(s.comments[:i], s.comments[i+1:]...)
			return
		}
	}
}

// CommentIDs returns the ids of a case's comments, oldest first.
func (s *Server) CommentIDs(caseID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", caseID)
	if rc == nil {
		return nil
	}
	var out []string
	for _, cm := range s.comments {
		if cm.vals["ParentId"] == rc.id() {
			out = append(out, cm.id())
		}
	}
	return out
}

// CommentView is a case comment as a person sees it.
type CommentView struct {
	ID, Author, Body string
	Public           bool
}

// Comments returns a case's comments, oldest first.
func (s *Server) Comments(caseID string) []CommentView {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", caseID)
	if rc == nil {
		return nil
	}
	var out []CommentView
	for _, cm := range s.comments {
		if cm.vals["ParentId"] != rc.id() {
			continue
		}
		v := CommentView{ID: cm.id()}
		v.Body, _ = cm.vals["CommentBody"].(string)
		v.Public, _ = cm.vals["IsPublished"].(bool)
		if by, _ := cm.vals["CreatedById"].(string); by != "" {
			if u := s.byIDLocked("User", by); u != nil {
				v.Author, _ = u.vals["Name"].(string)
			}
		}
		out = append(out, v)
	}
	return out
}

// FileView is a file linked to a case.
type FileView struct {
	VersionID, Title, Visibility string
	Data                         []byte
}

// Files returns the files linked to a case, oldest first.
func (s *Server) Files(caseID string) []FileView {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", caseID)
	if rc == nil {
		return nil
	}
	var out []FileView
	for _, l := range s.links {
		if l.vals["LinkedEntityId"] != rc.id() {
			continue
		}
		doc := s.byIDLocked("ContentDocument", l.vals["ContentDocumentId"].(string))
		if doc == nil {
			continue
		}
		vid, _ := doc.vals["LatestPublishedVersionId"].(string)
		v := FileView{VersionID: vid, Data: s.versions[vid]}
		v.Title, _ = doc.vals["Title"].(string)
		v.Visibility, _ = l.vals["Visibility"].(string)
		out = append(out, v)
	}
	return out
}

// SetFilePrivateOnRecords makes a file private on records (its
// ContentDocument's SharingPrivacy P), as its owner may in the file's
// sharing settings, or visible to anyone with record access again (N).
func (s *Server) SetFilePrivateOnRecords(versionID string, private bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc := s.byIDLocked("ContentDocument", s.versionDoc[versionID])
	if doc == nil {
		return errors.New("NOT_FOUND: no such file")
	}
	doc.vals["SharingPrivacy"] = map[bool]string{true: "P", false: "N"}[private]
	doc.vals["SystemModstamp"] = s.nowLocked()
	return nil
}
