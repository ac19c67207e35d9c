package salesforcetest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// locatorIdle is how long a query cursor lives unused.
const locatorIdle = 15 * time.Minute

// batchSize reads Sforce-Query-Options: batchSize from 200 to 2000,
// default 2000, capped by Options.MaxBatchSize.
func (s *Server) batchSize(r *http.Request) int {
	n := 2000
	for _, part := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "batchSize="); ok {
			if b, err := strconv.Atoi(v); err == nil && b >= 200 && b <= 2000 {
				n = b
			}
		}
	}
	if s.opts.MaxBatchSize > 0 && n > s.opts.MaxBatchSize {
		n = s.opts.MaxBatchSize
	}
	return n
}

// subqueryBatch is how many child rows a subquery returns with its parent.
func (s *Server) subqueryBatch() int {
	if s.opts.MaxBatchSize > 0 {
		return s.opts.MaxBatchSize
	}
	return 200
}

// newLocatorLocked keeps rows past the first batch and returns the
// nextRecordsUrl that reads them.
func (s *Server) newLocatorLocked(rows []map[string]any, batch int) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := fmt.Sprintf("01gSim%09x", uint64(b[0])<<32|uint64(b[1])<<24|uint64(b[2])<<16|uint64(b[3])<<8|uint64(b[4]))[:15]
	s.locators[id] = &locator{rows: rows, seen: s.opts.Clock()}
	return fmt.Sprintf("%s/query/%s-%d", s.api(), id, batch)
}

func (s *Server) page(rows []map[string]any, total, batch int) map[string]any {
	out := map[string]any{"totalSize": total, "done": true}
	if len(rows) > batch {
		out["done"] = false
		out["nextRecordsUrl"] = s.newLocatorLocked(rows, batch)
		rows = rows[:batch]
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	out["records"] = rows
	return out
}

// query runs GET /query?q=.
func (s *Server) query(w http.ResponseWriter, r *http.Request, _ string) {
	soql := r.URL.Query().Get("q")
	if soql == "" || len(soql) > 100_000 {
		writeErr(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query is required and may hold at most 100,000 characters.")
		return
	}
	q, qerr := parseQuery(soql)
	if qerr != nil {
		writeErr(w, http.StatusBadRequest, qerr.code, qerr.msg)
		return
	}
	if o, ok, _ := canonicalObject(q.object); ok {
		q.object = o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, qerr := s.runLocked(q)
	if qerr != nil {
		writeErr(w, http.StatusBadRequest, qerr.code, qerr.msg)
		return
	}
	writeJSON(w, http.StatusOK, s.page(rows, len(rows), s.batchSize(r)))
}

// nextBatch serves a nextRecordsUrl: /query/{locator}-{offset}.
func (s *Server) nextBatch(w http.ResponseWriter, r *http.Request, token string) {
	id, off, ok := strings.Cut(token, "-")
	offset, err := strconv.Atoi(off)
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := s.locators[id]
	if !ok || err != nil || loc == nil || offset < 0 || offset > len(loc.rows) || s.opts.Clock().Sub(loc.seen) > locatorIdle {
		writeErr(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	loc.seen = s.opts.Clock()
	rest := loc.rows[offset:]
	batch := s.batchSize(r)
	out := map[string]any{"totalSize": len(loc.rows), "done": true}
	if len(rest) > batch {
		out["done"] = false
		out["nextRecordsUrl"] = fmt.Sprintf("%s/query/%s-%d", s.api(), id, offset+batch)
		rest = rest[:batch]
	} else {
		delete(s.locators, id)
	}
	out["records"] = rest
	writeJSON(w, http.StatusOK, out)
}

// readObject reads a JSON object body of at most 1 MB.
func readObject(r *http.Request) (map[string]any, *sfErr) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return nil, &sfErr{ErrorCode: "UNSUPPORTED_MEDIA_TYPE", Message: "Content-Type must be application/json"}
	}
	var in map[string]any
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || in == nil {
		return nil, &sfErr{ErrorCode: "JSON_PARSER_ERROR", Message: "The request body is not a JSON object."}
	}
	return in, nil
}

// applyLocked validates fields of an insert or update and sets them on rc.
func (s *Server) applyLocked(rc *rec, object string, in map[string]any) *sfErr {
	defs := s.schema(object)
	vals := map[string]any{}
	for k, v := range in {
		if k == "attributes" {
			continue
		}
		name, def, ok := canonical(defs, k)
		if !ok {
			return &sfErr{ErrorCode: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", k, object), Fields: []string{k}}
		}
		if !def.writable {
			return &sfErr{ErrorCode: "INVALID_FIELD_FOR_INSERT_UPDATE", Message: fmt.Sprintf("Unable to create/update fields: %s.", name), Fields: []string{name}}
		}
		switch def.typ {
		case ftBool:
			b, ok := v.(bool)
			if !ok {
				return &sfErr{ErrorCode: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Cannot deserialize instance of boolean for %s", name), Fields: []string{name}}
			}
			vals[name] = b
		case ftString, ftTextArea, ftPicklist, ftRef:
			if v == nil {
				vals[name] = ""
				continue
			}
			str, ok := v.(string)
			if !ok {
				return &sfErr{ErrorCode: "JSON_PARSER_ERROR", Message: fmt.Sprintf("Cannot deserialize instance of string for %s", name), Fields: []string{name}}
			}
			limit := utf8.RuneCountInString(str)
			if object == "CaseComment" && name == "CommentBody" {
				limit = len(str) // bytes
			}
			if def.max > 0 && limit > def.max {
				return &sfErr{ErrorCode: "STRING_TOO_LONG", Message: fmt.Sprintf("%s: data value too large", name), Fields: []string{name}}
			}
			if def.typ == ftPicklist {
				var allowed []string
				switch name {
				case "Status":
					allowed = s.opts.Statuses
				case "Priority":
					allowed = s.opts.Priorities
				case "Origin":
					allowed = []string{"Phone", "Email", "Web"}
				}
				if str != "" && !contains(allowed, str) {
					return &sfErr{ErrorCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", Message: fmt.Sprintf("%s: bad value for restricted picklist field: %s", name, str), Fields: []string{name}}
				}
			}
			vals[name] = str
		default:
			return &sfErr{ErrorCode: "INVALID_FIELD_FOR_INSERT_UPDATE", Message: "Unable to create/update fields: " + name, Fields: []string{name}}
		}
	}
	for k, v := range vals {
		rc.vals[k] = v
	}
	return nil
}

// touchLocked stamps a record as modified by user.
func (s *Server) touchLocked(rc *rec, user *rec) {
	now := s.nowLocked()
	rc.vals["LastModifiedDate"] = now
	rc.vals["SystemModstamp"] = now
	if _, ok := s.schema(rc.object)["LastModifiedById"]; ok {
		rc.vals["LastModifiedById"] = user.id()
	}
	if rc.object == "Case" {
		st, _ := rc.vals["Status"].(string)
		rc.vals["IsClosed"] = contains(s.opts.ClosedStatuses, st)
	}
}

// newCaseLocked inserts a case made by user from in.
func (s *Server) newCaseLocked(in map[string]any, user *rec) (*rec, *sfErr) {
	rc := &rec{object: "Case", vals: map[string]any{"Status": s.opts.Statuses[0]}}
	if contains(s.opts.Priorities, "Medium") {
		rc.vals["Priority"] = "Medium"
	}
	for name, typ := range s.opts.CustomFields {
		if typ == ftBool {
			rc.vals[name] = false
		}
	}
	if err := s.applyLocked(rc, "Case", in); err != nil {
		return nil, err
	}
	s.caseNumber++
	now := s.nowLocked()
	rc.vals["Id"] = s.newIDLocked("500")
	rc.vals["CaseNumber"] = fmt.Sprintf("%08d", s.caseNumber)
	rc.vals["CreatedDate"] = now
	rc.vals["CreatedById"] = user.id()
	s.touchLocked(rc, user)
	s.cases = append(s.cases, rc)
	s.afterSaveLocked(rc, "Case", user)
	return rc, nil
}

func (s *Server) createCase(w http.ResponseWriter, r *http.Request) {
	in, e := readObject(r)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rc, e := s.newCaseLocked(in, s.syncUser)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": rc.id(), "success": true, "errors": []any{}})
}

func (s *Server) updateCase(w http.ResponseWriter, r *http.Request, id string) {
	in, e := readObject(r)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", id)
	if rc == nil {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	cp := &rec{object: "Case", vals: map[string]any{}}
	if e := s.applyLocked(cp, "Case", in); e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	for k, v := range cp.vals {
		rc.vals[k] = v
	}
	s.touchLocked(rc, s.syncUser)
	s.afterSaveLocked(rc, "Case", s.syncUser)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getCase(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rc := s.byIDLocked("Case", id)
	if rc == nil {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	var fields []string
	for name := range s.schema("Case") {
		fields = append(fields, name)
	}
	writeJSON(w, http.StatusOK, s.renderLocked(rc, "Case", fields))
}

// newCommentLocked adds a case comment by user.
func (s *Server) newCommentLocked(in map[string]any, user *rec) (*rec, *sfErr) {
	cm := &rec{object: "CaseComment", vals: map[string]any{"IsPublished": false, "IsDeleted": false}}
	if err := s.applyLocked(cm, "CaseComment", in); err != nil {
		return nil, err
	}
	pid, _ := cm.vals["ParentId"].(string)
	if pid == "" {
		return nil, &sfErr{ErrorCode: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [ParentId]", Fields: []string{"ParentId"}}
	}
	parent := s.byIDLocked("Case", pid)
	if parent == nil || !idRE.MatchString(pid) {
		return nil, &sfErr{ErrorCode: "FIELD_INTEGRITY_EXCEPTION", Message: "Parent ID: id value of incorrect type: " + pid, Fields: []string{"ParentId"}}
	}
	if body, _ := cm.vals["CommentBody"].(string); strings.TrimSpace(body) == "" {
		return nil, &sfErr{ErrorCode: "REQUIRED_FIELD_MISSING", Message: "Required fields are missing: [CommentBody]", Fields: []string{"CommentBody"}}
	}
	now := s.nowLocked()
	cm.vals["Id"] = s.newIDLocked("00a")
	cm.vals["ParentId"] = parent.id()
	cm.vals["CreatedDate"] = now
	cm.vals["CreatedById"] = user.id()
	s.touchLocked(cm, user)
	s.comments = append(s.comments, cm)
	if s.opts.CommentsTouchCase {
		s.touchLocked(parent, user)
	}
	s.afterSaveLocked(parent, "CaseComment", user)
	return cm, nil
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	in, e := readObject(r)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cm, e := s.newCommentLocked(in, s.syncUser)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": cm.id(), "success": true, "errors": []any{}})
}

// newFileLocked stores a file and links it to a case.
func (s *Server) newFileLocked(caseID, title, pathOnClient string, data []byte, user *rec, visibility string) (string, *sfErr) {
	parent := s.byIDLocked("Case", caseID)
	if parent == nil {
		return "", &sfErr{ErrorCode: "FIELD_INTEGRITY_EXCEPTION", Message: "First Publish Location ID: id value of incorrect type: " + caseID, Fields: []string{"FirstPublishLocationId"}}
	}
	if title == "" {
		title = pathOnClient
	}
	ext := ""
	if i := strings.LastIndexByte(pathOnClient, '.'); i >= 0 && i < len(pathOnClient)-1 {
		ext = strings.ToLower(pathOnClient[i+1:])
	}
	now := s.nowLocked()
	vid := s.newIDLocked("068")
	doc := &rec{object: "ContentDocument", vals: map[string]any{
		"Id": s.newIDLocked("069"), "Title": title, "FileExtension": ext, "FileType": strings.ToUpper(ext),
		"ContentSize": int64(len(data)), "LatestPublishedVersionId": vid, "CreatedById": user.id(),
		"CreatedDate": now, "SystemModstamp": now, "SharingPrivacy": "N"}}
	link := &rec{object: "ContentDocumentLink", vals: map[string]any{
		"Id": s.newIDLocked("06A"), "ContentDocumentId": doc.id(), "LinkedEntityId": parent.id(),
		"Visibility": visibility, "ShareType": "V", "IsDeleted": false, "SystemModstamp": now}}
	ver := &rec{object: "ContentVersion", vals: map[string]any{
		"Id": vid, "ContentDocumentId": doc.id(), "FirstPublishLocationId": parent.id(), "Title": title,
		"PathOnClient": pathOnClient, "ContentSize": int64(len(data)), "IsLatest": true, "CreatedById": user.id(),
		"CreatedDate": now, "SystemModstamp": now}}
	s.versionRecs = append(s.versionRecs, ver)
	s.docs = append(s.docs, doc)
	s.links = append(s.links, link)
	s.versions[vid] = data
	s.versionDoc[vid] = doc.id()
	s.afterSaveLocked(parent, "ContentDocumentLink", user)
	return vid, nil
}

// createVersion inserts a ContentVersion from a multipart body: the part
// entity_content (JSON) and the part VersionData (the bytes).
func (s *Server) createVersion(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "The request body is not JSON; a file is sent as multipart/form-data.")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var meta map[string]any
	var data []byte
	gotData := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeErr(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Malformed multipart body.")
			return
		}
		switch p.FormName() {
		case "entity_content":
			if err := json.NewDecoder(io.LimitReader(p, 1<<20)).Decode(&meta); err != nil {
				writeErr(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "entity_content is not JSON.")
				return
			}
		case "VersionData":
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(p, s.opts.MaxFileBytes+1))
			if err != nil {
				writeErr(w, http.StatusBadRequest, "MALFORMED_REQUEST", "Malformed multipart body.")
				return
			}
			if n > s.opts.MaxFileBytes {
				writeErr(w, http.StatusBadRequest, "MAXIMUM_SIZE_OF_ATTACHMENT", "The file is larger than the maximum size.")
				return
			}
			data, gotData = buf.Bytes(), true
		}
	}
	if meta == nil || !gotData {
		writeErr(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [VersionData]", "VersionData")
		return
	}
	str := func(k string) string { v, _ := meta[k].(string); return v }
	path := str("PathOnClient")
	if path == "" {
		writeErr(w, http.StatusBadRequest, "REQUIRED_FIELD_MISSING", "Required fields are missing: [PathOnClient]", "PathOnClient")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vid, e := s.newFileLocked(str("FirstPublishLocationId"), str("Title"), path, data, s.syncUser, s.opts.DefaultFileVisibility)
	if e != nil {
		writeErr(w, http.StatusBadRequest, e.ErrorCode, e.Message, e.Fields...)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": vid, "success": true, "errors": []any{}})
}

// versionData streams a file version's bytes.
func (s *Server) versionData(w http.ResponseWriter, id string) {
	s.mu.Lock()
	var data []byte
	ok := false
	for vid, d := range s.versions {
		if len(id) >= 15 && vid[:15] == id[:15] {
			data, ok = d, true
		}
	}
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	w.Header().Set("Content-Type", "application/octetstream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
