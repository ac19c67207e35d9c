package servicenowtest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// defaultLimit is the Table API's row limit when sysparm_limit is absent.
const defaultLimit = 10000

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/now/table/{table}", s.listRows)
	mux.HandleFunc("GET /api/now/table/{table}/{id}", s.getRow)
	mux.HandleFunc("POST /api/now/table/{table}", s.createRow)
	mux.HandleFunc("PATCH /api/now/table/{table}/{id}", s.updateRow)
	mux.HandleFunc("PUT /api/now/table/{table}/{id}", s.updateRow)
	mux.HandleFunc("GET /api/now/attachment", s.listAttachments)
	mux.HandleFunc("GET /api/now/attachment/{id}", s.getAttachment)
	mux.HandleFunc("GET /api/now/attachment/{id}/file", s.downloadAttachment)
	mux.HandleFunc("POST /api/now/attachment/file", s.uploadAttachment)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == SimWebhookPath {
			// The admin setup the rule stands for, not the Table API.
			s.serveWebhookRule(w, r)
			return
		}
		s.count(r)
		user, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `BASIC realm="Service-now"`)
			writeError(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
			return
		}
		if f := s.takeFault(); f != nil {
			writeFault(w, f)
			return
		}
		r.Header.Set("X-Sim-User", user)
		mux.ServeHTTP(w, r)
	})
}

// count records the request under its "METHOD pattern" key.
func (s *Server) count(r *http.Request) {
	p := r.URL.Path
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) == 5 && parts[2] == "table":
		p = "/api/now/table/" + parts[3] + "/{sys_id}"
	case len(parts) == 4 && parts[2] == "attachment" && parts[3] != "file":
		p = "/api/now/attachment/{sys_id}"
	case len(parts) == 5 && parts[2] == "attachment" && parts[4] == "file":
		p = "/api/now/attachment/{sys_id}/file"
	}
	s.requests.Add(r.Method + " " + p)
}

func (s *Server) authenticate(r *http.Request) (string, bool) {
	if user, pass, ok := r.BasicAuth(); ok {
		okUser := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.User)) == 1
		okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password)) == 1
		return s.opts.User, okUser && okPass
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.opts.Token != "" {
		return s.opts.User, subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
	}
	return "", false
}

func (s *Server) takeFault() *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return nil
	}
	f := s.faults[0]
	if s.faults[0].Count--; s.faults[0].Count <= 0 {
		s.faults = s.faults[1:]
	}
	return &f
}

func writeFault(w http.ResponseWriter, f *Fault) {
	if f.Status == http.StatusTooManyRequests {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("X-RateLimit-Limit", "10")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Unix()+secs, 10))
		w.Header().Set("X-RateLimit-Rule", "5e1fffffffffffffffffffffffffffff")
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeError(w, f.Status, "Rate limit exceeded", "Rate limit of 10 requests per hour for Table API exceeded")
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(f.RetryAfter/time.Second), 10))
	}
	writeError(w, f.Status, http.StatusText(f.Status), "")
}

// writeError writes the platform's error body:
// {"error":{"message":...,"detail":...},"status":"failure"}.
func writeError(w http.ResponseWriter, status int, message, detail string) {
	var d any
	if detail != "" {
		d = detail
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": message, "detail": d}, "status": "failure"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
}

func (s *Server) tableLocked(w http.ResponseWriter, name string) *table {
	t := s.tables[name]
	if t == nil {
		writeError(w, http.StatusBadRequest, "Invalid table "+name, "")
	}
	return t
}

// project returns the row restricted to sysparm_fields (every column when
// empty), as a JSON object of strings.
func project(row map[string]string, fields string) map[string]string {
	if fields == "" {
		return maps.Clone(row)
	}
	out := map[string]string{}
	for _, f := range strings.Split(fields, ",") {
		if f = strings.TrimSpace(f); f != "" {
			if v, ok := row[f]; ok {
				out[f] = v
			}
		}
	}
	return out
}

// page runs sysparm_query over rows, applies sysparm_offset/sysparm_limit
// and writes the result with X-Total-Count and Link headers. read turns a
// row of the page into what the API user may read of it (nil: hidden by an
// ACL), after the page is picked, as the platform applies ACLs after the
// query: X-Total-Count and the links count the hidden rows too.
func (s *Server) page(w http.ResponseWriter, r *http.Request, t *table, read func(row map[string]string, fields string) map[string]string) {
	qv := r.URL.Query()
	q := parseQuery(qv.Get("sysparm_query"), t.columns)
	var rows []map[string]string
	for _, row := range t.rows {
		if q.matches(row) {
			rows = append(rows, row)
		}
	}
	q.sortRows(rows)
	limit, offset := defaultLimit, 0
	if v := qv.Get("sysparm_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "Invalid sysparm_limit", "")
			return
		}
		limit = n
	}
	if v := qv.Get("sysparm_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "Invalid sysparm_offset", "")
			return
		}
		offset = n
	}
	total := len(rows)
	result := []map[string]string{}
	for i := offset; i < total && i < offset+limit; i++ {
		if row := read(rows[i], qv.Get("sysparm_fields")); row != nil {
			result = append(result, row)
		}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("Link", links(r, offset, limit, total))
	writeJSON(w, http.StatusOK, map[string]any{"result": result})
}

// links builds the Link header: first, prev, next and last pages.
func links(r *http.Request, offset, limit, total int) string {
	at := func(off int) string {
		q := r.URL.Query()
		q.Set("sysparm_offset", strconv.Itoa(off))
		q.Set("sysparm_limit", strconv.Itoa(limit))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return "<" + u.String() + ">"
	}
	parts := []string{at(0) + `;rel="first"`}
	if offset > 0 {
		parts = append(parts, at(max(offset-limit, 0))+`;rel="prev"`)
	}
	if offset+limit < total {
		parts = append(parts, at(offset+limit)+`;rel="next"`)
	}
	last := 0
	if total > 0 {
		last = (total - 1) / limit * limit
	}
	parts = append(parts, at(last)+`;rel="last"`)
	return strings.Join(parts, ",")
}

func (s *Server) listRows(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("table")
	t := s.tableLocked(w, name)
	if t == nil {
		return
	}
	if s.refused[name] {
		q := parseQuery(r.URL.Query().Get("sysparm_query"), t.columns)
		n := 0
		for _, row := range t.rows {
			if q.matches(row) {
				n++
			}
		}
		writeError(w, http.StatusForbidden, "User Not Authorized", fmt.Sprintf("%d records constrained due to ACL restrictions", n))
		return
	}
	s.page(w, r, t, func(row map[string]string, fields string) map[string]string {
		return s.readableLocked(name, row, fields)
	})
}

func (s *Server) getRow(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(w, r.PathValue("table"))
	if t == nil {
		return
	}
	name := r.PathValue("table")
	if s.refused[name] {
		writeError(w, http.StatusForbidden, "User Not Authorized", "1 records constrained due to ACL restrictions")
		return
	}
	row := t.byID[r.PathValue("id")]
	var out map[string]string
	if row != nil {
		out = s.readableLocked(name, row, r.URL.Query().Get("sysparm_fields"))
	}
	if out == nil {
		notFound(w)
		return
	}
	if name == s.opts.Table && r.URL.Query().Get("sysparm_display_value") == "true" {
		// A journal field's display value is its entries.
		for _, f := range []string{"comments", "work_notes"} {
			if _, ok := out[f]; ok {
				out[f] = s.journalDisplayLocked(row["sys_id"], f)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// readFields reads a JSON object body; values may be strings, numbers or
// booleans, as the Table API takes them.
func readFields(r *http.Request) (map[string]string, error) {
	var raw map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&raw); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}

func (s *Server) writable(w http.ResponseWriter, name string) bool {
	if name != s.opts.Table {
		if s.tables[name] == nil {
			writeError(w, http.StatusBadRequest, "Invalid table "+name, "")
		} else {
			writeError(w, http.StatusForbidden, "Operation Failed", "ACL Exception Insert Failed due to security constraints")
		}
		return false
	}
	return true
}

func (s *Server) createRow(w http.ResponseWriter, r *http.Request) {
	fields, err := readFields(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable(w, r.PathValue("table")) {
		return
	}
	row, err := s.insertCaseLocked(r.Header.Get("X-Sim-User"), fields)
	if err != nil {
		writeError(w, http.StatusForbidden, "Operation Failed", err.Error())
		return
	}
	w.Header().Set("Location", s.URL+"/api/now/table/"+s.opts.Table+"/"+row["sys_id"])
	writeJSON(w, http.StatusCreated, map[string]any{"result": project(row, r.URL.Query().Get("sysparm_fields"))})
}

func (s *Server) updateRow(w http.ResponseWriter, r *http.Request) {
	fields, err := readFields(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("table")
	if s.tables[name] != nil && s.tables[name].byID[r.PathValue("id")] == nil {
		notFound(w)
		return
	}
	if !s.writable(w, name) {
		return
	}
	row := s.tables[name].byID[r.PathValue("id")]
	before := maps.Clone(row)
	by := r.Header.Get("X-Sim-User")
	journal, err := s.applyLocked(row, fields)
	var dp *dataPolicyError
	if errors.As(err, &dp) {
		writeError(w, http.StatusForbidden, "Operation Failed", err.Error())
		return
	}
	for _, j := range journal {
		s.addJournalLocked(row, j[0], by, j[1])
	}
	if len(journal) > 0 || !maps.Equal(before, row) {
		s.touchLocked(row, by)
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": project(row, r.URL.Query().Get("sysparm_fields"))})
}

func (s *Server) listAttachments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.page(w, r, s.tables[AttachmentTable], project)
}

func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.tables[AttachmentTable].byID[r.PathValue("id")]
	if row == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": maps.Clone(row)})
}

func (s *Server) downloadAttachment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	row := s.tables[AttachmentTable].byID[r.PathValue("id")]
	var data []byte
	var meta map[string]string
	if row != nil {
		data, meta = s.files[row["sys_id"]], maps.Clone(row)
	}
	s.mu.Unlock()
	if row == nil {
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", meta["content_type"])
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("X-Attachment-Metadata", mustJSON(meta))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *Server) uploadAttachment(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tableName, id, fileName := q.Get("table_name"), q.Get("table_sys_id"), q.Get("file_name")
	contentType := r.Header.Get("Content-Type")
	if tableName == "" || id == "" || fileName == "" || contentType == "" {
		writeError(w, http.StatusBadRequest, "Failed to create the attachment", "table_name, table_sys_id, file_name and a Content-Type header are required")
		return
	}
	s.mu.Lock()
	limit := s.opts.MaxAttachmentBytes
	exists := tableName == s.opts.Table && s.tables[s.opts.Table].byID[id] != nil
	s.mu.Unlock()
	if !exists {
		writeError(w, http.StatusNotFound, "Record doesn't exist or ACL restricts the record retrieval", "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Failed to create the attachment", "The request body could not be read")
		return
	}
	if int64(len(data)) > limit {
		writeError(w, http.StatusBadRequest, "Failed to create the attachment", fmt.Sprintf("Attachment size exceeds the maximum of %d bytes (com.glide.attachment.max_size)", limit))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables[s.opts.Table].byID[id] == nil {
		notFound(w)
		return
	}
	row := s.addAttachmentLocked(id, r.Header.Get("X-Sim-User"), fileName, contentType, data)
	w.Header().Set("Location", s.URL+"/api/now/attachment/"+row["sys_id"])
	writeJSON(w, http.StatusCreated, map[string]any{"result": maps.Clone(row)})
}
