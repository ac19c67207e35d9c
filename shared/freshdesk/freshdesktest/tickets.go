package freshdesktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds a JSON request body.
const maxBody = 1 << 20

func (s *Server) agentJSON(u *user) agentJSON {
	now := formatTime(s.now())
	return agentJSON{Available: true, ID: u.ID, TicketScope: 1, Type: "support_agent",
		Contact:   contactJSON{Active: true, Email: u.Email, Language: "en", Name: u.Name, TimeZone: "UTC", CreatedAt: now, UpdatedAt: now},
		CreatedAt: now, UpdatedAt: now}
}

// fileURL is a file's pre-signed URL on the file host, valid for
// Options.URLLifetime from now.
func (s *Server) fileURL(base string, a *attachment) string {
	host := s.opts.FilesURL
	if host == "" {
		host = base
	}
	expires := s.opts.Clock().Add(s.opts.URLLifetime).Unix()
	return host + "/files/" + a.Token + "/" + url.PathEscape(a.Name) + "?expires=" + strconv.FormatInt(expires, 10) + "&signature=" + s.sign(a.Token, expires)
}

func (s *Server) attachmentsJSON(base string, as []*attachment) []attachmentJSON {
	out := make([]attachmentJSON, 0, len(as))
	for _, a := range as {
		out = append(out, attachmentJSON{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: int64(len(a.Data)),
			AttachmentURL: s.fileURL(base, a), CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.CreatedAt)})
	}
	return out
}

// customJSON lists every custom field of the account, null when unset
// (false for an unset checkbox).
func (s *Server) customJSON(t *ticket) map[string]any {
	out := map[string]any{}
	for name, f := range s.fields {
		v, ok := t.Custom[name]
		if !ok && f.Type == "custom_checkbox" {
			v = false
		}
		out[name] = v
	}
	return out
}

// ticketJSON is a ticket as GET /tickets/{id} answers it (full: with its
// description and files) or as the list and the search answer it.
func (s *Server) ticketJSON(base string, t *ticket, full bool) ticketJSON {
	j := ticketJSON{
		ID: t.ID, Subject: t.Subject, Status: t.Status, Priority: t.Priority, Source: t.Source,
		RequesterID: t.RequesterID, Deleted: t.Deleted,
		CCEmails: []string{}, FwdEmails: []string{}, ReplyCCEmails: []string{},
		Tags: append([]string{}, t.Tags...), CustomFields: s.customJSON(t),
		DueBy: formatTime(t.CreatedAt.Add(72 * time.Hour)), FrDueBy: formatTime(t.CreatedAt.Add(24 * time.Hour)),
		CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt),
	}
	if t.ResponderID != 0 {
		r := t.ResponderID
		j.ResponderID = &r
	}
	if full {
		d, dt := t.Description, textOf(t.Description)
		j.Description, j.DescriptionText = &d, &dt
		j.Attachments = s.attachmentsJSON(base, t.Attachments)
	}
	return j
}

func (s *Server) conversationJSON(base string, c *conversation) conversationJSON {
	j := conversationJSON{ID: c.ID, Body: c.Body, BodyText: textOf(c.Body), Incoming: c.Incoming, Private: c.Private,
		UserID: c.UserID, Source: c.Source, Category: 2, TicketID: c.TicketID,
		ToEmails: []string{}, CCEmails: []string{}, BCCEmails: []string{},
		Attachments: s.attachmentsJSON(base, c.Attachments),
		CreatedAt:   formatTime(c.CreatedAt), UpdatedAt: formatTime(c.CreatedAt)}
	if u, ok := s.users[c.UserID]; ok && c.Source == SourceReply {
		e := u.Email
		j.FromEmail = &e
	}
	return j
}

// statuses are the account's status numbers.
func (s *Server) statuses() []int {
	out := []int{2, 3, 4, 5}
	for n := range s.opts.CustomStatuses {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func joinInts(ns []int) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, strconv.Itoa(n))
	}
	return strings.Join(parts, ",")
}

// intField reads an integer among allowed.
func intField(name string, raw json.RawMessage, allowed []int) (int, *fieldError) {
	var n int
	if typeName(raw) != "Integer" || json.Unmarshal(raw, &n) != nil {
		e := mismatch(name, raw, "Integer")
		return 0, &e
	}
	if !slices.Contains(allowed, n) {
		return 0, &fieldError{Field: name, Message: "It should be one of these values: '" + joinInts(allowed) + "'", Code: "invalid_value"}
	}
	return n, nil
}

// customValue checks one custom field's value as Freshdesk does.
func (s *Server) customValue(name string, raw json.RawMessage) (any, *fieldError) {
	f, ok := s.fields[name]
	if !ok {
		return nil, &fieldError{Field: name, Message: "Unexpected/invalid field in request", Code: "invalid_field"}
	}
	if typeName(raw) == "Null" {
		return nil, nil
	}
	switch f.Type {
	case "custom_checkbox":
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			e := mismatch(name, raw, "Boolean")
			return nil, &e
		}
		return b, nil
	default:
		var v string
		if json.Unmarshal(raw, &v) != nil {
			e := mismatch(name, raw, "String")
			return nil, &e
		}
		if n := utf8.RuneCountInString(v); f.Type == "custom_text" && n > 255 {
			return nil, &fieldError{Field: name, Message: fmt.Sprintf("Has %d characters, it can have maximum of 255 characters", n), Code: "invalid_value"}
		}
		if f.Type == "custom_dropdown" && !slices.Contains(f.Choices, v) {
			return nil, &fieldError{Field: name, Message: "It should be one of these values: '" + strings.Join(f.Choices, ",") + "'", Code: "invalid_value"}
		}
		return v, nil
	}
}

// ticketInput is a decoded ticket create or update.
type ticketInput struct {
	subject, description *string
	email                string
	requesterID          int64
	status, priority     int
	custom               map[string]any
	tags                 []string
	tagsSet              bool
}

// decodeTicket reads and checks a ticket body; create says which fields
// are mandatory.
func (s *Server) decodeTicket(r *http.Request, create bool) (ticketInput, *validation) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&raw); err != nil {
		return ticketInput{}, invalid(fieldError{Field: "", Message: "Request body has invalid json format", Code: "invalid_json"})
	}
	var in ticketInput
	var errs []fieldError
	str := func(k string) *string {
		v, ok := raw[k]
		if !ok {
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			errs = append(errs, mismatch(k, v, "String"))
			return nil
		}
		return &s
	}
	for k, v := range raw {
		switch k {
		case "subject":
			in.subject = str(k)
		case "description":
			in.description = str(k)
		case "email":
			if e := str(k); e != nil {
				if !strings.Contains(*e, "@") {
					errs = append(errs, fieldError{Field: k, Message: "It should be in the 'valid email address' format", Code: "invalid_value"})
				}
				in.email = *e
			}
		case "requester_id":
			if json.Unmarshal(v, &in.requesterID) != nil {
				errs = append(errs, mismatch(k, v, "Integer"))
			}
		case "status":
			n, e := intField(k, v, s.statuses())
			if e != nil {
				errs = append(errs, *e)
			}
			in.status = n
		case "priority":
			n, e := intField(k, v, []int{1, 2, 3, 4})
			if e != nil {
				errs = append(errs, *e)
			}
			in.priority = n
		case "tags":
			in.tagsSet = true
			if json.Unmarshal(v, &in.tags) != nil {
				errs = append(errs, mismatch(k, v, "Array"))
			}
		case "custom_fields":
			var cf map[string]json.RawMessage
			if json.Unmarshal(v, &cf) != nil {
				errs = append(errs, mismatch(k, v, "key/value pair"))
				continue
			}
			in.custom = map[string]any{}
			for name, val := range cf {
				got, e := s.customValue(name, val)
				if e != nil {
					errs = append(errs, *e)
					continue
				}
				in.custom[name] = got
			}
		case "source", "type", "responder_id", "group_id", "cc_emails", "name", "phone":
			// Accepted and not modelled.
		default:
			errs = append(errs, fieldError{Field: k, Message: "Unexpected/invalid field in request", Code: "invalid_field"})
		}
	}
	if create {
		if in.email == "" && in.requesterID == 0 {
			errs = append(errs, fieldError{Field: "requester_id", Message: "Please fill at least 1 of requester_id, phone, email, twitter_id, facebook_id, unique_external_id fields", Code: "missing_field"})
		}
		if in.subject == nil || strings.TrimSpace(*in.subject) == "" {
			errs = append(errs, fieldError{Field: "subject", Message: "It should be a/an String", Code: "missing_field"})
		}
		if in.description == nil || strings.TrimSpace(*in.description) == "" {
			errs = append(errs, fieldError{Field: "description", Message: "It should be a/an String", Code: "missing_field"})
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Field < errs[j].Field })
		return ticketInput{}, invalid(errs...)
	}
	return in, nil
}

// applyLocked applies an update to t; it reports whether anything changed.
func (t *ticket) apply(in ticketInput) bool {
	changed := false
	if in.subject != nil && *in.subject != t.Subject {
		t.Subject, changed = *in.subject, true
	}
	if in.description != nil && *in.description != t.Description {
		t.Description, changed = *in.description, true
	}
	if in.status != 0 && in.status != t.Status {
		t.Status, changed = in.status, true
	}
	if in.priority != 0 && in.priority != t.Priority {
		t.Priority, changed = in.priority, true
	}
	for k, v := range in.custom {
		if old, ok := t.Custom[k]; !ok || old != v {
			t.Custom[k], changed = v, true
		}
	}
	if in.tagsSet && !slices.Equal(in.tags, t.Tags) {
		t.Tags, changed = in.tags, true
	}
	return changed
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, base string) {
	in, verr := s.decodeTicket(r, true)
	if verr != nil {
		writeJSON(w, http.StatusBadRequest, verr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var requester *user
	if in.requesterID != 0 {
		requester = s.users[in.requesterID]
		if requester == nil {
			writeJSON(w, http.StatusBadRequest, invalid(fieldError{Field: "requester_id", Message: "There is no contact matching the given requester_id", Code: "invalid_value"}))
			return
		}
	} else {
		requester = s.contactLocked(in.email)
	}
	t := s.newTicketLocked(requester.ID, 2)
	if in.status == 0 {
		in.status = 2
	}
	if in.priority == 0 {
		in.priority = 1
	}
	t.apply(in)
	s.runRulesLocked(t, true, performerOf(s.agent))
	writeJSON(w, http.StatusCreated, s.ticketJSON(base, t, true))
}

func (s *Server) newTicketLocked(requester int64, source int) *ticket {
	s.nextTicket++
	now := s.now()
	t := &ticket{ID: s.nextTicket, Status: 2, Priority: 1, Source: source, RequesterID: requester,
		Custom: map[string]any{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	s.tickets[t.ID] = t
	return t
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request, base string, id int64) {
	in, verr := s.decodeTicket(r, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		notFound(w)
		return
	}
	if verr != nil {
		writeJSON(w, http.StatusBadRequest, verr)
		return
	}
	if t.apply(in) {
		t.UpdatedAt = s.now()
		s.runRulesLocked(t, false, performerOf(s.agent))
	}
	writeJSON(w, http.StatusOK, s.ticketJSON(base, t, true))
}

// pageParams reads per_page (default 30, at most 100) and page (from 1).
func pageParams(q url.Values) (perPage, page int, verr *validation) {
	perPage, page = 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, 0, invalid(fieldError{Field: "per_page", Message: "It should be a Positive Integer less than or equal to 100", Code: "invalid_value"})
		}
		perPage = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, invalid(fieldError{Field: "page", Message: "It should be a Positive Integer", Code: "invalid_value"})
		}
		page = n
	}
	return perPage, page, nil
}

// setNext sets the Link header to the next page of the request.
func setNext(w http.ResponseWriter, base string, r *http.Request, page int) {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page+1))
	w.Header().Set("Link", "<"+base+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
}

// listTickets serves GET /tickets: updated_since (inclusive), order_by
// and order_type, pages of per_page with a Link to the next.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	perPage, page, verr := pageParams(q)
	if verr == nil && page > s.opts.MaxListPage {
		verr = invalid(fieldError{Field: "page", Message: fmt.Sprintf("It should be less than or equal to %d", s.opts.MaxListPage), Code: "invalid_value"})
	}
	orderBy := q.Get("order_by")
	if orderBy == "" {
		orderBy = "created_at"
	}
	if verr == nil && !slices.Contains([]string{"created_at", "due_by", "updated_at", "status"}, orderBy) {
		verr = invalid(fieldError{Field: "order_by", Message: "It should be one of these values: 'created_at,due_by,updated_at,status'", Code: "invalid_value"})
	}
	orderType := q.Get("order_type")
	if orderType == "" {
		orderType = "desc"
	}
	if verr == nil && orderType != "asc" && orderType != "desc" {
		verr = invalid(fieldError{Field: "order_type", Message: "It should be one of these values: 'asc,desc'", Code: "invalid_value"})
	}
	var since time.Time
	sinceSet := q.Get("updated_since") != ""
	if sinceSet && verr == nil {
		var err error
		if since, err = time.Parse(time.RFC3339, q.Get("updated_since")); err != nil {
			verr = invalid(fieldError{Field: "updated_since", Message: "It should be in the 'combined date and time ISO8601' format", Code: "invalid_value"})
		}
	}
	if verr != nil {
		writeJSON(w, http.StatusBadRequest, verr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	monthAgo := s.now().AddDate(0, 0, -30)
	var ts []*ticket
	for _, t := range s.tickets {
		switch {
		case t.Deleted:
		case sinceSet && t.UpdatedAt.Before(since):
		case !sinceSet && t.CreatedAt.Before(monthAgo):
		default:
			ts = append(ts, t)
		}
	}
	key := func(t *ticket) int64 {
		switch orderBy {
		case "updated_at":
			return t.UpdatedAt.Unix()
		case "status":
			return int64(t.Status)
		case "due_by":
			return t.CreatedAt.Add(72 * time.Hour).Unix()
		}
		return t.CreatedAt.Unix()
	}
	sort.Slice(ts, func(i, j int) bool {
		a, b := key(ts[i]), key(ts[j])
		if a != b {
			return (a < b) == (orderType == "asc")
		}
		return ts[i].ID < ts[j].ID
	})
	start := min((page-1)*perPage, len(ts))
	end := min(start+perPage, len(ts))
	out := make([]ticketJSON, 0, end-start)
	for _, t := range ts[start:end] {
		out = append(out, s.ticketJSON(base, t, false))
	}
	if end < len(ts) {
		setNext(w, base, r, page)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, base string, id int64) {
	perPage, page, verr := pageParams(r.URL.Query())
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		notFound(w)
		return
	}
	if verr != nil {
		writeJSON(w, http.StatusBadRequest, verr)
		return
	}
	start := min((page-1)*perPage, len(t.Conversations))
	end := min(start+perPage, len(t.Conversations))
	out := make([]conversationJSON, 0, end-start)
	for _, c := range t.Conversations[start:end] {
		out = append(out, s.conversationJSON(base, c))
	}
	if end < len(t.Conversations) {
		setNext(w, base, r, page)
	}
	writeJSON(w, http.StatusOK, out)
}

// newFile is a file of a request, before it is stored.
type newFile struct {
	name, contentType string
	data              []byte
}

// noteInput is a decoded note or reply.
type noteInput struct {
	body     string
	private  *bool
	incoming bool
	userID   int64
	files    []newFile
}

// decodeNote reads a note or reply, as JSON or as multipart/form-data
// with attachments[] parts.
func (s *Server) decodeNote(r *http.Request, source int) (noteInput, *validation, int) {
	var in noteInput
	var errs []fieldError
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return in, invalid(fieldError{Message: "Request body has invalid multipart format", Code: "invalid_multipart"}), http.StatusBadRequest
		}
		var total int64
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return in, invalid(fieldError{Message: "Request body has invalid multipart format", Code: "invalid_multipart"}), http.StatusBadRequest
			}
			switch name := p.FormName(); {
			case name == "attachments[]" && p.FileName() != "":
				data, err := io.ReadAll(io.LimitReader(p, s.opts.MaxAttachmentBytes-total+1))
				if err != nil {
					return in, invalid(fieldError{Message: "Request body has invalid multipart format", Code: "invalid_multipart"}), http.StatusBadRequest
				}
				total += int64(len(data))
				if total > s.opts.MaxAttachmentBytes {
					return in, invalid(fieldError{Field: "attachments", Message: fmt.Sprintf("The cumulative size of all attachments cannot exceed %d MB", s.opts.MaxAttachmentBytes>>20), Code: "invalid_size"}), http.StatusBadRequest
				}
				ctype := p.Header.Get("Content-Type")
				if ctype == "" {
					ctype = "application/octet-stream"
				}
				in.files = append(in.files, newFile{name: p.FileName(), contentType: ctype, data: data})
			default:
				v, _ := io.ReadAll(io.LimitReader(p, maxBody))
				switch name {
				case "body":
					in.body = string(v)
				case "private", "incoming":
					b, err := strconv.ParseBool(string(v))
					if err != nil {
						errs = append(errs, fieldError{Field: name, Message: "Value set is of type String.It should be a/an Boolean", Code: "datatype_mismatch"})
					}
					if name == "private" {
						in.private = &b
					} else {
						in.incoming = b
					}
				case "user_id":
					n, err := strconv.ParseInt(string(v), 10, 64)
					if err != nil {
						errs = append(errs, fieldError{Field: name, Message: "Value set is of type String.It should be a/an Integer", Code: "datatype_mismatch"})
					}
					in.userID = n
				default:
					errs = append(errs, fieldError{Field: name, Message: "Unexpected/invalid field in request", Code: "invalid_field"})
				}
			}
		}
	} else {
		var raw map[string]json.RawMessage
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&raw); err != nil {
			return in, invalid(fieldError{Message: "Request body has invalid json format", Code: "invalid_json"}), http.StatusBadRequest
		}
		for k, v := range raw {
			var err error
			switch k {
			case "body":
				err = json.Unmarshal(v, &in.body)
				if err != nil {
					errs = append(errs, mismatch(k, v, "String"))
				}
			case "private":
				var b bool
				if err = json.Unmarshal(v, &b); err != nil {
					errs = append(errs, mismatch(k, v, "Boolean"))
				}
				in.private = &b
			case "incoming":
				if err = json.Unmarshal(v, &in.incoming); err != nil {
					errs = append(errs, mismatch(k, v, "Boolean"))
				}
			case "user_id":
				if err = json.Unmarshal(v, &in.userID); err != nil {
					errs = append(errs, mismatch(k, v, "Integer"))
				}
			case "notify_emails", "cc_emails", "bcc_emails", "from_email":
			default:
				errs = append(errs, fieldError{Field: k, Message: "Unexpected/invalid field in request", Code: "invalid_field"})
			}
		}
	}
	if strings.TrimSpace(in.body) == "" {
		errs = append(errs, fieldError{Field: "body", Message: "It should be a/an String", Code: "missing_field"})
	}
	if source == SourceReply && in.private != nil {
		errs = append(errs, fieldError{Field: "private", Message: "Unexpected/invalid field in request", Code: "invalid_field"})
	}
	if len(errs) > 0 {
		return in, invalid(errs...), http.StatusBadRequest
	}
	return in, nil, 0
}

// addConversation serves POST /tickets/{id}/notes (private by default)
// and POST /tickets/{id}/reply (always public; Freshdesk emails the
// requester, which the simulator only records as the reply's source).
func (s *Server) addConversation(w http.ResponseWriter, r *http.Request, base string, id int64, source int) {
	s.mu.Lock()
	_, ok := s.tickets[id]
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	in, verr, status := s.decodeNote(r, source)
	if verr != nil {
		writeJSON(w, status, verr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		notFound(w)
		return
	}
	author := s.agent
	if in.userID != 0 {
		if u := s.users[in.userID]; u != nil {
			author = u
		}
	}
	private := source == SourceNote
	if in.private != nil {
		private = *in.private
	}
	c := s.addConversationLocked(t, author, in.body, private, in.incoming, source, in.files)
	writeJSON(w, http.StatusCreated, s.conversationJSON(base, c))
}

func (s *Server) addConversationLocked(t *ticket, author *user, body string, private, incoming bool, source int, files []newFile) *conversation {
	now := s.now()
	s.nextConv++
	c := &conversation{ID: s.nextConv, TicketID: t.ID, UserID: author.ID, Body: body, Private: private,
		Incoming: incoming, Source: source, CreatedAt: now}
	for _, f := range files {
		c.Attachments = append(c.Attachments, s.storeFileLocked(f, now))
	}
	t.Conversations = append(t.Conversations, c)
	t.UpdatedAt = now
	s.runRulesLocked(t, false, performerOf(author))
	return c
}

func (s *Server) storeFileLocked(f newFile, now time.Time) *attachment {
	s.nextAttach++
	a := &attachment{ID: s.nextAttach, Name: f.name, ContentType: f.contentType, Data: f.data, Token: randomToken(), CreatedAt: now}
	s.files[a.Token] = a
	return a
}

// searchTerm is one condition of a search query.
type searchTerm struct {
	field, value string
	quoted       bool
}

// parseQuery reads a query: double-quoted, conditions field:value or
// field:'text' joined by AND.
func parseQuery(q string) ([]searchTerm, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil, false
	}
	var terms []searchTerm
	for _, part := range strings.Split(q[1:len(q)-1], " AND ") {
		field, value, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || field == "" {
			return nil, false
		}
		t := searchTerm{field: field, value: value}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			t.value, t.quoted = value[1:len(value)-1], true
		}
		terms = append(terms, t)
	}
	return terms, true
}

func (s *Server) matches(t *ticket, terms []searchTerm) bool {
	for _, term := range terms {
		var got string
		switch term.field {
		case "status":
			got = strconv.Itoa(t.Status)
		case "priority":
			got = strconv.Itoa(t.Priority)
		default:
			v, ok := t.Custom[term.field]
			switch x := v.(type) {
			case nil:
				got = "null"
			case bool:
				got = strconv.FormatBool(x)
			case string:
				got = x
			}
			if !ok {
				got = "null"
			}
		}
		if term.quoted {
			if !strings.EqualFold(got, term.value) {
				return false
			}
		} else if got != term.value {
			return false
		}
	}
	return true
}

// search serves GET /search/tickets?query="...": 30 results a page, pages
// 1 to 10, and the total.
func (s *Server) search(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	query := q.Get("query")
	terms, ok := parseQuery(query)
	if !ok || len(query) > 512+2 {
		writeJSON(w, http.StatusBadRequest, invalid(fieldError{Field: "query", Message: "It should be a valid query enclosed in double quotes, of at most 512 characters", Code: "invalid_value"}))
		return
	}
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			writeJSON(w, http.StatusBadRequest, invalid(fieldError{Field: "page", Message: "It should be a Positive Integer less than or equal to 10", Code: "invalid_value"}))
			return
		}
		page = n
	}
	for _, t := range terms {
		if _, custom := s.fields[t.field]; !custom && t.field != "status" && t.field != "priority" {
			writeJSON(w, http.StatusBadRequest, invalid(fieldError{Field: t.field, Message: "Unexpected/invalid field in request", Code: "invalid_field"}))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	indexed := s.now().Add(-s.opts.SearchLag)
	var found []*ticket
	for _, t := range s.tickets {
		if !t.Deleted && !t.UpdatedAt.After(indexed) && s.matches(t, terms) {
			found = append(found, t)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		return found[i].UpdatedAt.After(found[j].UpdatedAt) || found[i].UpdatedAt.Equal(found[j].UpdatedAt) && found[i].ID > found[j].ID
	})
	total := len(found)
	if total > 300 {
		found = found[:300]
	}
	start := min((page-1)*30, len(found))
	end := min(start+30, len(found))
	results := make([]ticketJSON, 0, end-start)
	for _, t := range found[start:end] {
		j := s.ticketJSON(base, t, false)
		d, dt := t.Description, textOf(t.Description)
		j.Description, j.DescriptionText = &d, &dt
		results = append(results, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "total": total})
}
