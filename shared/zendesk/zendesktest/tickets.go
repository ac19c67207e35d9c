package zendesktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// httpError is an error answer: a status and a Zendesk error body.
type httpError struct {
	Status int
	Body   apiError
}

func (e *httpError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, e.Body.Error)
	if e.Body.Description != "" {
		msg += ": " + e.Body.Description
	}
	if d, ok := e.Body.Details.(map[string][]map[string]any); ok {
		for _, ds := range d {
			for _, x := range ds {
				msg += fmt.Sprintf("; %v", x["description"])
			}
		}
	}
	return msg
}

func unprocessable(field, description string) *httpError {
	return &httpError{Status: http.StatusUnprocessableEntity, Body: invalid(field, description)}
}

var closedPrevents = unprocessable("status", "Status: closed prevents ticket update")

// auditEvent is one event of an audit: a Comment or a Change.
type auditEvent map[string]any

type audit struct {
	ID        int64        `json:"id"`
	TicketID  int64        `json:"ticket_id"`
	CreatedAt string       `json:"created_at"`
	AuthorID  int64        `json:"author_id"`
	Events    []auditEvent `json:"events"`
}

// checkbox reads a checkbox value as Zendesk accepts it.
func checkbox(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// fieldType is the type of the custom field id: "checkbox" for the sync
// flag, "text" for the Google case and fields not configured.
func (s *Server) fieldType(id int64) string {
	if id == s.opts.SyncFlagFieldID {
		return "checkbox"
	}
	for _, f := range s.opts.Fields {
		if f.ID == id {
			return f.Type
		}
	}
	return "text"
}

// fieldValue normalises a custom field value for storage.
func (s *Server) fieldValue(f fieldInput) (any, *httpError) {
	if s.fieldType(f.ID) == "checkbox" {
		b, ok := checkbox(f.Value)
		if !ok {
			return nil, unprocessable("custom_fields", fmt.Sprintf("field %d: is not a checkbox value", f.ID))
		}
		return b, nil
	}
	switch x := f.Value.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return x, nil
	case bool, float64:
		return fmt.Sprint(x), nil
	}
	return nil, unprocessable("custom_fields", fmt.Sprintf("field %d: value is not text", f.ID))
}

// parsePriority reads the priority of an input: set reports whether one was
// given, value is "" for null.
func parsePriority(raw json.RawMessage) (value string, set bool, err *httpError) {
	if raw == nil {
		return "", false, nil
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", true, nil
	}
	var p string
	if json.Unmarshal(raw, &p) != nil || (p != "" && !slices.Contains(Priorities, p)) {
		return "", false, unprocessable("priority", "Priority: is not valid")
	}
	return p, true, nil
}

// applyLocked validates in against t and, if valid, applies it as actor,
// returning the audit of the change (nil when nothing changed).
func (s *Server) applyLocked(base string, t *ticket, in ticketInput, actor *user) (*audit, *httpError) {
	prio, prioSet, herr := parsePriority(in.Priority)
	if herr != nil {
		return nil, herr
	}
	if t.Status == "closed" {
		// Zendesk lets only the subject, tags and priority of a closed
		// ticket change.
		if in.Comment != nil || in.Status != nil || len(in.CustomFields) > 0 || in.ExternalID != nil || in.AssigneeID != nil || in.RequesterID != nil {
			return nil, closedPrevents
		}
	}
	if prioSet && prio == "" && t.Priority != "" {
		return nil, unprocessable("priority", "Priority: cannot be reset to none")
	}
	assignee := t.AssigneeID
	if in.AssigneeID != nil {
		if u, ok := s.users[*in.AssigneeID]; *in.AssigneeID != 0 && (!ok || u.Role == "end-user") {
			return nil, unprocessable("assignee", "Assignee: is not an agent")
		}
		assignee = *in.AssigneeID
	}
	if in.Status != nil {
		st := *in.Status
		if !slices.Contains(Statuses, st) {
			return nil, unprocessable("status", "Status: is not valid")
		}
		if st == "new" && t.Status != "new" {
			return nil, unprocessable("status", "Status: cannot be set back to New")
		}
		if (st == "solved" || st == "closed") && st != t.Status && assignee == 0 && !s.opts.AutoAssignOnSolve {
			return nil, &httpError{Status: http.StatusUnprocessableEntity, Body: errAssigneeRequired}
		}
	}
	values := map[int64]any{}
	for _, f := range in.CustomFields {
		v, herr := s.fieldValue(f)
		if herr != nil {
			return nil, herr
		}
		values[f.ID] = v
	}
	var newComment *comment
	if in.Comment != nil {
		body := ""
		if in.Comment.Body != nil {
			body = *in.Comment.Body
		} else if in.Comment.HTMLBody != nil {
			body = *in.Comment.HTMLBody
		}
		if strings.TrimSpace(body) == "" {
			return nil, unprocessable("comment", "Comment: cannot be blank")
		}
		author := actor
		if in.Comment.AuthorID != nil {
			u, ok := s.users[*in.Comment.AuthorID]
			if !ok {
				return nil, unprocessable("comment", "Comment: author is not valid")
			}
			author = u
		}
		public := true
		if in.Comment.Public != nil {
			public = *in.Comment.Public
		}
		var atts []*attachment
		for _, tok := range in.Comment.Uploads {
			up, ok := s.uploads[tok]
			if !ok {
				return nil, unprocessable("uploads", "Uploads: token is not valid or has expired")
			}
			atts = append(atts, up...)
		}
		newComment = &comment{AuthorID: author.ID, Body: body, Public: public, Attachments: atts}
	}

	// Valid: apply.
	now := s.now()
	s.nextAudit++
	a := &audit{ID: s.nextAudit, TicketID: t.ID, CreatedAt: formatTime(now), AuthorID: actor.ID}
	change := func(field string, value, previous any) {
		a.Events = append(a.Events, auditEvent{"id": s.nextEventID(), "type": "Change", "field_name": field, "value": value, "previous_value": previous})
	}
	if in.Subject != nil && *in.Subject != t.Subject {
		change("subject", *in.Subject, t.Subject)
		t.Subject = *in.Subject
	}
	if prioSet && prio != t.Priority {
		change("priority", prio, t.Priority)
		t.Priority = prio
	}
	if in.AssigneeID != nil && *in.AssigneeID != t.AssigneeID {
		change("assignee_id", *in.AssigneeID, t.AssigneeID)
		t.AssigneeID = *in.AssigneeID
	}
	if in.RequesterID != nil && *in.RequesterID != t.RequesterID {
		change("requester_id", *in.RequesterID, t.RequesterID)
		t.RequesterID = *in.RequesterID
	}
	if in.Status != nil && *in.Status != t.Status {
		if (*in.Status == "solved" || *in.Status == "closed") && t.AssigneeID == 0 && s.opts.AutoAssignOnSolve && actor.Role != "end-user" {
			change("assignee_id", actor.ID, nil)
			t.AssigneeID = actor.ID
		}
		change("status", *in.Status, t.Status)
		t.Status = *in.Status
	}
	for id, v := range values {
		old, had := t.CustomFields[id]
		if had && old == v || !had && v == nil {
			continue
		}
		change(strconv.FormatInt(id, 10), v, old)
		if v == nil {
			delete(t.CustomFields, id)
		} else {
			t.CustomFields[id] = v
		}
	}
	if in.ExternalID != nil && *in.ExternalID != t.ExternalID {
		change("external_id", *in.ExternalID, t.ExternalID)
		t.ExternalID = *in.ExternalID
	}
	if in.Tags != nil {
		if tags := normalizeTags(in.Tags); !slices.Equal(tags, t.Tags) {
			change("tags", tags, t.Tags)
			t.Tags = tags
		}
	}
	if newComment != nil {
		s.nextComment++
		newComment.ID = s.nextComment
		newComment.CreatedAt = now
		newComment.AuditID = a.ID
		for _, tok := range in.Comment.Uploads {
			delete(s.uploads, tok)
		}
		t.Comments = append(t.Comments, newComment)
		if len(t.Comments) == 1 {
			t.Description = newComment.Body
		}
		ev := auditEvent{}
		raw, _ := json.Marshal(s.commentJSON(base, newComment))
		_ = json.Unmarshal(raw, &ev)
		delete(ev, "audit_id")
		a.Events = append([]auditEvent{ev}, a.Events...)
	}
	if len(a.Events) == 0 {
		s.nextAudit--
		return nil, nil
	}
	t.UpdatedAt, t.Generated = now, now
	return a, nil
}

// makePrivateLocked turns a comment of t into an internal note. The
// ticket's update time does not move: no ticket event is made.
func (s *Server) makePrivateLocked(t *ticket, commentID string) *httpError {
	n, err := strconv.ParseInt(commentID, 10, 64)
	if err != nil {
		return &httpError{Status: http.StatusNotFound, Body: errNotFound}
	}
	for _, c := range t.Comments {
		if c.ID == n {
			c.Public = false
			return nil
		}
	}
	return &httpError{Status: http.StatusNotFound, Body: errNotFound}
}

func (s *Server) nextEventID() int64 {
	s.nextComment++
	return s.nextComment
}

// createLocked makes a ticket from in as actor.
func (s *Server) createLocked(base string, in ticketInput, actor *user) (*ticket, *audit, *httpError) {
	if in.Comment == nil || in.Comment.Body == nil && in.Comment.HTMLBody == nil {
		return nil, nil, unprocessable("description", "Description: cannot be blank")
	}
	now := s.now()
	t := &ticket{
		ID:           s.nextTicket + 1,
		Status:       "new",
		RequesterID:  actor.ID,
		SubmitterID:  actor.ID,
		CustomFields: map[int64]any{},
		CreatedAt:    now,
		UpdatedAt:    now,
		Generated:    now,
	}
	if in.RequesterID != nil {
		if _, ok := s.users[*in.RequesterID]; !ok {
			return nil, nil, unprocessable("requester", "Requester: is not valid")
		}
	}
	st := "new"
	if in.Status != nil {
		st = *in.Status
		in.Status = nil
	}
	if st == "closed" {
		return nil, nil, unprocessable("status", "Status: cannot be closed at creation")
	}
	a, herr := s.applyLocked(base, t, in, actor)
	if herr != nil {
		return nil, nil, herr
	}
	if st != "new" {
		if _, herr := s.applyLocked(base, t, ticketInput{Status: &st}, actor); herr != nil {
			return nil, nil, herr
		}
	}
	s.nextTicket++
	s.tickets[t.ID] = t
	s.notifyLocked(t, a, actor, true)
	return t, a, nil
}

// updateLocked applies in to an existing ticket as actor, as applyLocked
// does, and sends the webhooks the change concerns.
func (s *Server) updateLocked(base string, t *ticket, in ticketInput, actor *user) (*audit, *httpError) {
	a, herr := s.applyLocked(base, t, in, actor)
	if herr == nil {
		s.notifyLocked(t, a, actor, false)
	}
	return a, herr
}

func decodeTicket(r *http.Request) (ticketInput, *httpError) {
	var body struct {
		Ticket *ticketInput `json:"ticket"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Ticket == nil {
		return ticketInput{}, &httpError{Status: http.StatusBadRequest, Body: apiError{Error: "InvalidJSON", Description: "The request body is not a ticket"}}
	}
	return *body.Ticket, nil
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request, base string) {
	in, herr := decodeTicket(r)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, a, herr := s.createLocked(base, in, s.syncUser)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ticket": s.ticketJSON(base, t), "audit": a})
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request, base string, id int64) {
	in, herr := decodeTicket(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, errNotFound)
		return
	}
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	if herr := safeUpdateLocked(t, in.SafeUpdate, in.UpdatedStamp); herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	a, herr := s.updateLocked(base, t, in, s.syncUser)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	out := map[string]any{"ticket": s.ticketJSON(base, t)}
	if a != nil {
		out["audit"] = a
	} else {
		out["audit"] = audit{TicketID: t.ID, CreatedAt: formatTime(s.now()), AuthorID: s.syncUser.ID, Events: []auditEvent{}}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, base string) {
	ext := r.URL.Query().Get("external_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []ticketJSON{}
	for _, id := range s.sortedIDsLocked() {
		t := s.tickets[id]
		if ext == "" || t.ExternalID == ext {
			list = append(list, s.ticketJSON(base, t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": list, "next_page": nil, "previous_page": nil, "count": len(list)})
}

func (s *Server) sortedIDsLocked() []int64 {
	ids := make([]int64, 0, len(s.tickets))
	for id := range s.tickets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *Server) showManyUsers(w http.ResponseWriter, r *http.Request, base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	users := []userJSON{}
	for _, part := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil {
			continue
		}
		if u, ok := s.users[id]; ok {
			users = append(users, userJSONFor(base, u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

// pageSize reads page[size] (or per_page) bounded by max.
func pageSize(r *http.Request, def, most int) (int, *httpError) {
	q := r.URL.Query()
	s := q.Get("page[size]")
	if s == "" {
		s = q.Get("per_page")
	}
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, &httpError{Status: http.StatusBadRequest, Body: apiError{Error: "InvalidPaginationParameter",
			Description: fmt.Sprintf("page size must be a whole number from 1 to %d", most)}}
	}
	return n, nil
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, base string, id int64) {
	size, herr := pageSize(r, 100, 100)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, errNotFound)
		return
	}
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	q := r.URL.Query()
	comments := append([]*comment{}, t.Comments...)
	if q.Get("sort_order") == "desc" {
		slices.Reverse(comments)
	}
	start := 0
	if after := q.Get("page[after]"); after != "" {
		pos, err := decodeCursor(after)
		if err != nil || len(pos) != 1 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidPaginationParameter", Description: "page[after] is not a valid cursor"})
			return
		}
		start = len(comments)
		for i, c := range comments {
			if c.ID == pos[0] {
				start = i + 1
				break
			}
		}
	}
	end := min(start+size, len(comments))
	page := comments[start:end]
	out := map[string]any{}
	list := make([]commentJSON, 0, len(page))
	authors := map[int64]bool{}
	var users []userJSON
	for _, c := range page {
		list = append(list, s.commentJSON(base, c))
		if !authors[c.AuthorID] {
			authors[c.AuthorID] = true
			if u, ok := s.users[c.AuthorID]; ok {
				users = append(users, userJSONFor(base, u))
			}
		}
	}
	out["comments"] = list
	if slices.Contains(strings.Split(q.Get("include"), ","), "users") {
		if users == nil {
			users = []userJSON{}
		}
		out["users"] = users
	}
	hasMore := end < len(comments)
	meta := map[string]any{"has_more": hasMore, "after_cursor": nil, "before_cursor": nil}
	links := map[string]any{"next": nil, "prev": nil}
	if len(page) > 0 {
		meta["after_cursor"] = encodeCursor(page[len(page)-1].ID)
		meta["before_cursor"] = encodeCursor(page[0].ID)
		if hasMore {
			nq := r.URL.Query()
			nq.Set("page[after]", encodeCursor(page[len(page)-1].ID))
			nq.Set("page[size]", strconv.Itoa(size))
			links["next"] = base + r.URL.Path + "?" + nq.Encode()
		}
	}
	out["meta"] = meta
	out["links"] = links
	writeJSON(w, http.StatusOK, out)
}

// The search and the export.

func (s *Server) exportTickets(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	size, herr := pageSize(r, 1000, 1000)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	now := s.now()
	horizon := now.Add(-s.opts.ExportExclusion)
	var pos [2]int64
	switch {
	case q.Get("cursor") != "":
		p, err := decodeCursor(q.Get("cursor"))
		if err != nil || len(p) != 2 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "cursor is not valid"})
			return
		}
		pos = [2]int64{p[0], p[1]}
	case q.Get("start_time") != "":
		st, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
		if err != nil || st < 0 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "start_time is not a Unix time"})
			return
		}
		if st > horizon.Unix() {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "Too recent start_time. Use a start_time older than the export's exclusion window"})
			return
		}
		pos = [2]int64{st, 0} // every ticket generated at or after st
	default:
		writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidValue", Description: "start_time or cursor is required"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*ticket
	for _, t := range s.tickets {
		key := [2]int64{t.Generated.Unix(), t.ID}
		if less(pos, key) && !t.Generated.After(horizon) {
			all = append(all, t)
		}
	}
	slices.SortFunc(all, func(a, b *ticket) int {
		ka, kb := [2]int64{a.Generated.Unix(), a.ID}, [2]int64{b.Generated.Unix(), b.ID}
		switch {
		case less(ka, kb):
			return -1
		case less(kb, ka):
			return 1
		}
		return 0
	})
	page := all[:min(size, len(all))]
	list := make([]ticketJSON, 0, len(page))
	for _, t := range page {
		list = append(list, s.ticketJSON(base, t))
	}
	after := pos
	if len(page) > 0 {
		last := page[len(page)-1]
		after = [2]int64{last.Generated.Unix(), last.ID}
	}
	cur := encodeCursor(after[0], after[1])
	writeJSON(w, http.StatusOK, map[string]any{
		"tickets":       list,
		"after_cursor":  cur,
		"after_url":     base + "/api/v2/incremental/tickets/cursor.json?cursor=" + cur + "&per_page=" + strconv.Itoa(size),
		"before_cursor": nil,
		"before_url":    nil,
		"end_of_stream": len(all) <= size,
	})
}

func less(a, b [2]int64) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

// searchTerms splits a query into terms, keeping quoted values whole.
func searchTerms(query string) []string {
	var terms []string
	var cur strings.Builder
	quoted := false
	for _, r := range query {
		switch {
		case r == '"':
			quoted = !quoted
		case (r == ' ' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				terms = append(terms, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		terms = append(terms, cur.String())
	}
	return terms
}

func (s *Server) matches(t *ticket, terms []string) bool {
	for _, term := range terms {
		key, value, ok := strings.Cut(term, ":")
		if !ok {
			text := strings.ToLower(t.Subject + " " + t.Description)
			if !strings.Contains(text, strings.ToLower(term)) {
				return false
			}
			continue
		}
		switch {
		case key == "type":
			if value != "ticket" {
				return false
			}
		case key == "external_id":
			if !strings.EqualFold(t.ExternalID, value) {
				return false
			}
		case key == "status":
			if t.Status != value {
				return false
			}
		case strings.HasPrefix(key, "custom_field_"):
			id, err := strconv.ParseInt(strings.TrimPrefix(key, "custom_field_"), 10, 64)
			if err != nil {
				return false
			}
			v := t.CustomFields[id]
			if id == s.opts.SyncFlagFieldID && v == nil {
				v = false
			}
			if v == nil || !strings.EqualFold(fmt.Sprint(v), value) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	size, herr := pageSize(r, 100, 100)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	page := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidPaginationParameter", Description: "page must be an integer"})
			return
		}
		page = n
	}
	if (page-1)*size >= 1000 {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "InsufficientResourceError", Description: "Search results are limited to 1000"})
		return
	}
	terms := searchTerms(q.Get("query"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*ticket
	for _, id := range s.sortedIDsLocked() {
		if t := s.tickets[id]; s.matches(t, terms) {
			found = append(found, t)
		}
	}
	count := len(found)
	found = found[:min(len(found), 1000)]
	start := min((page-1)*size, len(found))
	end := min(start+size, len(found))
	results := make([]ticketJSON, 0, end-start)
	for _, t := range found[start:end] {
		j := s.ticketJSON(base, t)
		j.ResultType = "ticket"
		results = append(results, j)
	}
	var next any
	if end < len(found) {
		nq := r.URL.Query()
		nq.Set("page", strconv.Itoa(page+1))
		next = base + "/api/v2/search.json?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results, "facets": nil, "next_page": next, "previous_page": nil, "count": count})
}

// encodeCursor makes an opaque cursor of numbers.
func encodeCursor(nums ...int64) string {
	parts := make([]string, len(nums))
	for i, n := range nums {
		parts[i] = strconv.FormatInt(n, 10)
	}
	return b64.EncodeToString([]byte(strings.Join(parts, ".")))
}

func decodeCursor(c string) ([]int64, error) {
	raw, err := b64.DecodeString(c)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, p := range strings.Split(string(raw), ".") {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

var b64 = base64.RawURLEncoding

// normalizeTags is tags as Zendesk keeps them: in lower case, split at
// white space, each once, in the order given.
func normalizeTags(in []string) []string {
	out := []string{}
	for _, t := range in {
		for _, f := range strings.Fields(strings.ToLower(t)) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

// safeUpdateLocked refuses a safe update (safe_update true or "true") whose
// updated_stamp is not the ticket's updated_at: it was changed since the
// caller read it.
func safeUpdateLocked(t *ticket, safe json.RawMessage, stamp *string) *httpError {
	var on bool
	if json.Unmarshal(safe, &on) != nil {
		var str string
		on = json.Unmarshal(safe, &str) == nil && str == "true"
	}
	if !on {
		return nil
	}
	if stamp != nil {
		if at, err := time.Parse(time.RFC3339, *stamp); err == nil && at.Equal(t.UpdatedAt.Truncate(time.Second)) {
			return nil
		}
	}
	return &httpError{Status: http.StatusConflict, Body: errConflict}
}

// ticketTags serves a ticket's tags: GET shows them, POST sets them (every
// other tag removed), PUT adds the given ones and DELETE removes them, each
// answering the tags after. The body is {"tags": [...]}, with safe_update
// and updated_stamp as on a ticket update. Zendesk's tag endpoints do not
// change closed tickets (the 422 body here is plausible, not Zendesk's).
func (s *Server) ticketTags(w http.ResponseWriter, r *http.Request, base string, id int64) {
	var body struct {
		Tags         []string        `json:"tags"`
		SafeUpdate   json.RawMessage `json:"safe_update"`
		UpdatedStamp *string         `json:"updated_stamp"`
	}
	if r.Method != http.MethodGet {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Tags == nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidJSON", Description: "The request body holds no tags"})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, errNotFound)
		return
	}
	if r.Method != http.MethodGet {
		if t.Status == "closed" {
			writeJSON(w, http.StatusUnprocessableEntity, closedPrevents.Body)
			return
		}
		if herr := safeUpdateLocked(t, body.SafeUpdate, body.UpdatedStamp); herr != nil {
			writeJSON(w, herr.Status, herr.Body)
			return
		}
		given := normalizeTags(body.Tags)
		tags := given
		switch r.Method {
		case http.MethodPut:
			tags = normalizeTags(append(slices.Clone(t.Tags), given...))
		case http.MethodDelete:
			tags = slices.DeleteFunc(slices.Clone(t.Tags), func(x string) bool { return slices.Contains(given, x) })
		}
		if _, herr := s.updateLocked(base, t, ticketInput{Tags: tags}, s.syncUser); herr != nil {
			writeJSON(w, herr.Status, herr.Body)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": append([]string{}, t.Tags...)})
}
