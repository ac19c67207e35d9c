package csapitest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

// maxCommentChars is the documented limit on a comment body, in characters.
const maxCommentChars = 12800

// Handler serves the API under /v2/ and /upload/v2/ and the test hooks under
// /_sim/.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			s.serveSim(w, r)
			return
		}
		s.serveAPI(w, r)
	})
}

// route is one parsed API request path.
type route struct {
	method  string // API method name, e.g. "cases.get"
	kind    string // "projects" or "organizations"
	id      string // project ID or number, or organization number
	number  string // case number
	childID string // comment or attachment ID
}

func (rt route) parent() string   { return rt.kind + "/" + rt.id }
func (rt route) caseName() string { return rt.parent() + "/cases/" + rt.number }

// parseRoute maps an HTTP method and the path after "/v2/" (or
// "/upload/v2/") to an API method. Custom verbs (":search", ":close", ...)
// are split off the last segment by hand.
func parseRoute(httpMethod, rest string, upload bool) (route, bool) {
	segs := strings.Split(rest, "/")
	last := segs[len(segs)-1]
	verb := ""
	if i := strings.LastIndex(last, ":"); i >= 0 {
		verb = last[i+1:]
		segs[len(segs)-1] = last[:i]
	}
	for _, s := range segs {
		if s == "" {
			return route{}, false
		}
	}
	get, post := httpMethod == http.MethodGet, httpMethod == http.MethodPost
	if len(segs) == 1 {
		if segs[0] == "caseClassifications" && verb == "search" && get && !upload {
			return route{method: "caseClassifications.search"}, true
		}
		return route{}, false
	}
	if len(segs) >= 3 && segs[0] == "organizations" && segs[2] == "supportEventSubscriptions" && !upload {
		return parseSubscriptionRoute(httpMethod, segs, verb)
	}
	if len(segs) < 3 || segs[2] != "cases" || (segs[0] != "projects" && segs[0] != "organizations") {
		return route{}, false
	}
	rt := route{kind: segs[0], id: segs[1]}
	if upload {
		if len(segs) == 5 && segs[4] == "attachments" && verb == "" && post {
			rt.number = segs[3]
			rt.method = "media.upload"
			return rt, true
		}
		return route{}, false
	}
	switch len(segs) {
	case 3:
		switch {
		case verb == "" && get:
			rt.method = "cases.list"
		case verb == "" && post:
			rt.method = "cases.create"
		case verb == "search" && get:
			rt.method = "cases.search"
		}
	case 4:
		rt.number = segs[3]
		switch {
		case verb == "" && get:
			rt.method = "cases.get"
		case verb == "" && httpMethod == http.MethodPatch:
			rt.method = "cases.patch"
		case verb == "close" && post:
			rt.method = "cases.close"
		case verb == "escalate" && post:
			rt.method = "cases.escalate"
		}
	case 5:
		rt.number = segs[3]
		switch {
		case segs[4] == "comments" && verb == "" && get:
			rt.method = "comments.list"
		case segs[4] == "comments" && verb == "" && post:
			rt.method = "comments.create"
		case segs[4] == "attachments" && verb == "" && get:
			rt.method = "attachments.list"
		case segs[4] == "attachments" && verb == "" && post:
			rt.method = "media.upload"
		}
	case 6:
		rt.number, rt.childID = segs[3], segs[5]
		switch {
		case segs[4] == "comments" && verb == "" && get:
			rt.method = "comments.get"
		case segs[4] == "attachments" && verb == "" && get:
			rt.method = "attachments.get"
		case segs[4] == "attachments" && verb == "download" && get:
			rt.method = "media.download"
		}
	}
	return rt, rt.method != ""
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	var (
		rt     route
		ok     bool
		upload bool
	)
	switch {
	case strings.HasPrefix(r.URL.Path, "/upload/v2/"):
		upload = true
		rt, ok = parseRoute(r.Method, strings.TrimPrefix(r.URL.Path, "/upload/v2/"), true)
	case strings.HasPrefix(r.URL.Path, "/v2/"):
		rt, ok = parseRoute(r.Method, strings.TrimPrefix(r.URL.Path, "/v2/"), false)
	case strings.HasPrefix(r.URL.Path, "/v2beta/"):
		rt, ok = parseBetaRoute(r.Method, strings.TrimPrefix(r.URL.Path, "/v2beta/"))
	}
	if !ok {
		writeError(w, errNotFound("The requested URL was not found on this server."))
		return
	}

	s.mu.Lock()
	s.calls[rt.method]++
	down := s.down
	var fault *Fault
	if !down {
		fault = s.takeFault(rt.method)
	}
	s.mu.Unlock()

	if down {
		writeError(w, &APIError{Code: 503, Status: "UNAVAILABLE", Message: faultMessage(503)})
		return
	}
	if fault != nil {
		if fault.Latency > 0 {
			t := time.NewTimer(fault.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if fault.Status != 0 {
			writeError(w, &APIError{Code: fault.Status, Status: statusName(fault.Status), Message: faultMessage(fault.Status), RetryAfter: fault.RetryAfter})
			return
		}
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		writeError(w, errInvalid("Could not read the request body."))
		return
	}
	if len(body) > maxBodyBytes {
		writeError(w, &APIError{Code: http.StatusRequestEntityTooLarge, Status: "OUT_OF_RANGE", Message: "Request body too large."})
		return
	}

	var resp any
	var apiErr *APIError
	switch rt.method {
	case "caseClassifications.search":
		resp, apiErr = s.searchClassifications(r)
	case "cases.list":
		resp, apiErr = s.listCases(r, rt)
	case "cases.search":
		resp, apiErr = s.searchCases(r, rt)
	case "cases.get":
		resp, apiErr = s.getCase(rt)
	case "cases.create":
		resp, apiErr = s.createCaseAPI(rt, body)
	case "cases.patch":
		resp, apiErr = s.patchCase(r, rt, body)
	case "cases.close":
		resp, apiErr = s.closeCaseAPI(rt, body)
	case "cases.escalate":
		resp, apiErr = s.escalateCase(rt, body)
	case "comments.list":
		resp, apiErr = s.listComments(r, rt)
	case "comments.create":
		resp, apiErr = s.createCommentAPI(rt, body)
	case "comments.get":
		resp, apiErr = s.getComment(rt)
	case "attachments.list":
		resp, apiErr = s.listAttachments(r, rt)
	case "attachments.get":
		resp, apiErr = s.getAttachment(rt)
	case "media.upload":
		resp, apiErr = s.upload(r, rt, body, upload)
	case "media.download":
		s.download(w, r, rt)
		return
	case "cases.showFeed":
		resp, apiErr = s.showFeed(r, rt)
	case "supportEventSubscriptions.create":
		resp, apiErr = s.createSubscription(rt, body)
	case "supportEventSubscriptions.get":
		resp, apiErr = s.getSubscription(rt)
	case "supportEventSubscriptions.list":
		resp, apiErr = s.listSubscriptions(r, rt)
	case "supportEventSubscriptions.patch":
		resp, apiErr = s.patchSubscription(r, rt, body)
	case "supportEventSubscriptions.delete":
		resp, apiErr = s.deleteSubscription(rt)
	case "supportEventSubscriptions.undelete":
		resp, apiErr = s.undeleteSubscription(rt, body)
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// cases -------------------------------------------------------------------

func (s *Server) getCase(rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	c := copyCase(rec.c)
	return &c, nil
}

func snapshotOf(c *cloudsupport.Case, updated time.Time) *caseSnapshot {
	snap := &caseSnapshot{displayName: c.DisplayName, description: c.Description, state: c.State, priority: c.Priority, updated: updated}
	if c.Creator != nil {
		snap.creatorEmail = c.Creator.Email
	}
	return snap
}

func (s *Server) listCases(r *http.Request, rt route) (any, *APIError) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, err := s.parseParent(rt.parent())
	if err != nil {
		return nil, err
	}
	filter := q.Get("filter")
	pred, err := parseFilter(filter, false)
	if err != nil {
		return nil, err
	}
	var hits []*cloudsupport.Case
	for _, rec := range s.sortedCases() {
		if rec.parent != parent {
			continue
		}
		v := caseView{c: snapshotOf(&rec.c, rec.history[len(rec.history)-1].at), comments: commentBodies(rec.comments, time.Time{})}
		if pred(v) {
			c := copyCase(rec.c)
			hits = append(hits, &c)
		}
	}
	start, end, next, err := page(q, len(hits), "cases.list", parent, filter)
	if err != nil {
		return nil, err
	}
	return &cloudsupport.ListCasesResponse{Cases: hits[start:end], NextPageToken: next}, nil
}

// commentBodies returns the bodies of comments created at or before cutoff
// (all of them when cutoff is zero).
func commentBodies(cs []*commentRecord, cutoff time.Time) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if !cutoff.IsZero() && c.at.After(cutoff) {
			continue
		}
		out = append(out, c.c.Body)
	}
	return out
}

func (s *Server) searchCases(r *http.Request, rt route) (any, *APIError) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, err := s.parseParent(rt.parent())
	if err != nil {
		return nil, err
	}
	query := q.Get("query")
	pred, err := parseFilter(query, true)
	if err != nil {
		return nil, err
	}
	var cutoff time.Time
	if s.searchLag > 0 {
		cutoff = s.now().Add(-s.searchLag)
	}
	var hits []*cloudsupport.Case
	for _, rec := range s.sortedCases() {
		if !s.inScope(rec.parent, parent, true) {
			continue
		}
		ver := rec.history[len(rec.history)-1]
		if !cutoff.IsZero() {
			found := false
			for i := len(rec.history) - 1; i >= 0; i-- {
				if !rec.history[i].at.After(cutoff) {
					ver, found = rec.history[i], true
					break
				}
			}
			if !found {
				continue // not indexed yet
			}
		}
		v := caseView{c: snapshotOf(&ver.c, ver.at), comments: commentBodies(rec.comments, cutoff)}
		if pred(v) {
			c := copyCase(ver.c)
			hits = append(hits, &c)
		}
	}
	start, end, next, err := page(q, len(hits), "cases.search", parent, query)
	if err != nil {
		return nil, err
	}
	return &cloudsupport.SearchCasesResponse{Cases: hits[start:end], NextPageToken: next}, nil
}

func (s *Server) createCaseAPI(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.Case
	if err := decodeMessage(body, &in, "case"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, err := s.parseParent(rt.parent())
	if err != nil {
		return nil, err
	}
	if in.ContactEmail != "" {
		return nil, errInvalid("contact_email must only be set by Workforce Identity Federation callers.")
	}
	rec, apiErr := s.createCaseLocked(parent, in, s.callerActor())
	if apiErr != nil {
		return nil, apiErr
	}
	c := copyCase(rec.c)
	return &c, nil
}

// createCaseLocked validates and stores a new case; the caller holds s.mu.
func (s *Server) createCaseLocked(parent string, in cloudsupport.Case, creator *cloudsupport.Actor) (*caseRecord, *APIError) {
	switch {
	case strings.TrimSpace(in.DisplayName) == "":
		return nil, errInvalid("display_name is required.")
	case strings.TrimSpace(in.Description) == "":
		return nil, errInvalid("description is required.")
	case in.Classification == nil || in.Classification.Id == "":
		return nil, errInvalid("classification.id is required.")
	case in.Priority == "" || in.Priority == "PRIORITY_UNSPECIFIED":
		return nil, errInvalid("priority is required.")
	case !validPriority(in.Priority):
		return nil, errInvalid("Invalid value for priority: %q.", in.Priority)
	}
	cl, ok := s.classification(in.Classification.Id)
	if !ok {
		return nil, errInvalid("Invalid classification id %q.", in.Classification.Id)
	}
	number := strconv.FormatInt(s.nextCase, 10)
	s.nextCase++
	now := s.now()
	lang := in.LanguageCode
	if lang == "" {
		lang = "en"
	}
	c := cloudsupport.Case{
		Name:                     parent + "/cases/" + number,
		DisplayName:              in.DisplayName,
		Description:              in.Description,
		Classification:           &cloudsupport.CaseClassification{Id: cl.ID, DisplayName: cl.DisplayName},
		TimeZone:                 in.TimeZone,
		SubscriberEmailAddresses: append([]string(nil), in.SubscriberEmailAddresses...),
		State:                    "NEW",
		CreateTime:               formatTime(now),
		Creator:                  copyActor(creator),
		ContactEmail:             in.ContactEmail,
		TestCase:                 in.TestCase,
		LanguageCode:             lang,
		Priority:                 in.Priority,
	}
	if len(c.SubscriberEmailAddresses) == 0 {
		c.SubscriberEmailAddresses = nil
	}
	rec := &caseRecord{number: number, parent: parent, c: c}
	s.touch(rec, now)
	s.cases[number] = rec
	s.emitLocked(NotificationCaseCreated, c.Name)
	return rec, nil
}

func (s *Server) patchCase(r *http.Request, rt route, body []byte) (any, *APIError) {
	var in cloudsupport.Case
	if err := decodeMessage(body, &in, "case"); err != nil {
		return nil, err
	}
	mask := firstParam(r.URL.Query(), "updateMask", "update_mask")
	fields := map[string]bool{}
	if strings.TrimSpace(mask) == "" {
		fields = map[string]bool{"priority": true, "display_name": true, "subscriber_email_addresses": true}
	} else {
		for _, p := range strings.Split(mask, ",") {
			p = strings.TrimSpace(p)
			switch p {
			case "priority":
				fields["priority"] = true
			case "display_name", "displayName":
				fields["display_name"] = true
			case "subscriber_email_addresses", "subscriberEmailAddresses":
				fields["subscriber_email_addresses"] = true
			default:
				return nil, errInvalid("Invalid update_mask path %q: only priority, display_name and subscriber_email_addresses can be updated.", p)
			}
		}
	}
	if fields["priority"] && !validPriority(in.Priority) {
		return nil, errInvalid("Invalid value for priority: %q.", in.Priority)
	}
	if fields["display_name"] && strings.TrimSpace(in.DisplayName) == "" {
		return nil, errInvalid("display_name must not be empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	if fields["priority"] {
		rec.c.Priority = in.Priority
	}
	if fields["display_name"] {
		rec.c.DisplayName = in.DisplayName
	}
	if fields["subscriber_email_addresses"] {
		rec.c.SubscriberEmailAddresses = nil
		if len(in.SubscriberEmailAddresses) > 0 {
			rec.c.SubscriberEmailAddresses = append([]string(nil), in.SubscriberEmailAddresses...)
		}
	}
	s.touch(rec, s.now())
	s.emitLocked(NotificationCaseUpdated, rec.c.Name)
	c := copyCase(rec.c)
	return &c, nil
}

func (s *Server) closeCaseAPI(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.CloseCaseRequest
	if err := decodeMessage(body, &in, "close_case_request"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	if apiErr := s.closeLocked(rec); apiErr != nil {
		return nil, apiErr
	}
	c := copyCase(rec.c)
	return &c, nil
}

func (s *Server) closeLocked(rec *caseRecord) *APIError {
	if rec.c.State == "CLOSED" {
		return errPrecondition("The case is already closed.")
	}
	rec.c.State = "CLOSED"
	s.touch(rec, s.now())
	s.emitLocked(NotificationCaseUpdated, rec.c.Name)
	return nil
}

func (s *Server) escalateCase(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.EscalateCaseRequest
	if err := decodeMessage(body, &in, "escalate_case_request"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	if s.escalDenied {
		return nil, errPermissionDenied("Your support plan does not include technical escalations.")
	}
	switch {
	case in.Escalation == nil || in.Escalation.Reason == "" || in.Escalation.Reason == "REASON_UNSPECIFIED":
		return nil, errInvalid("escalation.reason is required.")
	case in.Escalation.Reason != "RESOLUTION_TIME" && in.Escalation.Reason != "TECHNICAL_EXPERTISE" && in.Escalation.Reason != "BUSINESS_IMPACT":
		return nil, errInvalid("Invalid value for escalation.reason: %q.", in.Escalation.Reason)
	case strings.TrimSpace(in.Escalation.Justification) == "":
		return nil, errInvalid("escalation.justification is required.")
	case rec.c.State == "CLOSED":
		return nil, errPrecondition("A closed case cannot be escalated.")
	}
	rec.c.Escalated = true
	s.touch(rec, s.now())
	s.emitLocked(NotificationCaseUpdated, rec.c.Name)
	c := copyCase(rec.c)
	return &c, nil
}

// comments ----------------------------------------------------------------

func (s *Server) listComments(r *http.Request, rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(r.URL.Query(), len(rec.comments), "comments.list", rec.c.Name)
	if err != nil {
		return nil, err
	}
	out := make([]*cloudsupport.Comment, 0, end-start)
	for i := start; i < end; i++ {
		c := copyComment(rec.comments[len(rec.comments)-1-i].c) // newest first
		out = append(out, &c)
	}
	return &cloudsupport.ListCommentsResponse{Comments: out, NextPageToken: next}, nil
}

func (s *Server) createCommentAPI(rt route, body []byte) (any, *APIError) {
	var in cloudsupport.Comment
	if err := decodeMessage(body, &in, "comment"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	cm, apiErr := s.addCommentLocked(rec, in.Body, s.callerActor())
	if apiErr != nil {
		return nil, apiErr
	}
	return &cm, nil
}

// addCommentLocked validates and stores a comment, bumps the case and moves
// its state the way an answer from either side does; the caller holds s.mu.
func (s *Server) addCommentLocked(rec *caseRecord, body string, creator *cloudsupport.Actor) (cloudsupport.Comment, *APIError) {
	if strings.TrimSpace(body) == "" {
		return cloudsupport.Comment{}, errInvalid("body is required.")
	}
	if n := utf8.RuneCountInString(body); n > maxCommentChars {
		return cloudsupport.Comment{}, errInvalid("The comment body is %d characters long; the maximum is %d.", n, maxCommentChars)
	}
	now := s.now()
	id := strconv.FormatInt(s.nextComment, 10)
	s.nextComment++
	cm := cloudsupport.Comment{
		Name:          rec.c.Name + "/comments/" + id,
		Body:          body,
		PlainTextBody: body,
		CreateTime:    formatTime(now),
		Creator:       copyActor(creator),
	}
	s.nextItem++
	rec.comments = append(rec.comments, &commentRecord{at: now, seq: s.nextItem, c: cm})
	if rec.c.State != "CLOSED" {
		switch {
		case creator.GoogleSupport:
			rec.c.State = "ACTION_REQUIRED"
		case rec.c.State == "ACTION_REQUIRED" || rec.c.State == "SOLUTION_PROVIDED":
			rec.c.State = "IN_PROGRESS_GOOGLE_SUPPORT"
		}
	}
	s.touch(rec, now)
	s.emitLocked(NotificationCommentCreated, cm.Name)
	return copyComment(cm), nil
}

func (s *Server) getComment(rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	for _, c := range rec.comments {
		if strings.HasSuffix(c.c.Name, "/comments/"+rt.childID) {
			cm := copyComment(c.c)
			return &cm, nil
		}
	}
	return nil, errNotFound("Requested entity was not found.")
}

// attachments -------------------------------------------------------------

func (s *Server) listAttachments(r *http.Request, rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	start, end, next, err := page(r.URL.Query(), len(rec.attachments), "attachments.list", rec.c.Name)
	if err != nil {
		return nil, err
	}
	out := make([]*cloudsupport.Attachment, 0, end-start)
	for i := start; i < end; i++ {
		a := copyAttachment(rec.attachments[len(rec.attachments)-1-i].a) // newest first
		out = append(out, &a)
	}
	return &cloudsupport.ListAttachmentsResponse{Attachments: out, NextPageToken: next}, nil
}

func (s *Server) findAttachment(rt route) (*attachmentRecord, *APIError) {
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	for _, a := range rec.attachments {
		if strings.HasSuffix(a.a.Name, "/attachments/"+rt.childID) {
			return a, nil
		}
	}
	return nil, errNotFound("Requested entity was not found.")
}

func (s *Server) getAttachment(rt route) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.findAttachment(rt)
	if err != nil {
		return nil, err
	}
	out := copyAttachment(a.a)
	return &out, nil
}

// upload accepts the two forms the real service takes: multipart/related
// (JSON CreateAttachmentRequest, then the media) and a raw media body with
// the file name in the attachment.filename query parameter.
func (s *Server) upload(r *http.Request, rt route, body []byte, uploadPath bool) (any, *APIError) {
	q := r.URL.Query()
	mediaType, params := uploadContentType(r.Header.Get("Content-Type"))
	uploadType := q.Get("uploadType")
	if uploadType == "" {
		uploadType = q.Get("upload_type")
	}
	if !uploadPath {
		return nil, errInvalid("Media upload requests must be sent to the /upload/v2/ path.")
	}
	if uploadType == "resumable" {
		return nil, errInvalid("Resumable uploads are not supported by this method; use uploadType=multipart.")
	}
	var meta cloudsupport.CreateAttachmentRequest
	var data []byte
	var mimeType string
	if mediaType == "multipart/related" || uploadType == "multipart" {
		if mediaType != "multipart/related" || params["boundary"] == "" {
			return nil, errInvalid("uploadType=multipart needs a multipart/related body.")
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		metaPart, err := mr.NextPart()
		if err != nil {
			return nil, errInvalid("The multipart body has no metadata part.")
		}
		metaBytes, err := io.ReadAll(metaPart)
		if err != nil {
			return nil, errInvalid("The metadata part could not be read.")
		}
		if err := decodeMessage(metaBytes, &meta, "create_attachment_request"); err != nil {
			return nil, err
		}
		mediaPart, err := mr.NextPart()
		if err != nil {
			return nil, errInvalid("The multipart body has no media part.")
		}
		if data, err = io.ReadAll(mediaPart); err != nil {
			return nil, errInvalid("The media part could not be read.")
		}
		mimeType = partType(mediaPart.Header)
	} else {
		if name := firstParam(q, "attachment.filename", "attachment.fileName"); name != "" {
			meta.Attachment = &cloudsupport.Attachment{Filename: name}
		}
		data = body
		mimeType = mediaType
	}
	if meta.Attachment == nil || strings.TrimSpace(meta.Attachment.Filename) == "" {
		return nil, errInvalid("attachment.filename is required.")
	}
	if mimeType == "" {
		mimeType = http.DetectContentType(data)
		if i := strings.Index(mimeType, ";"); i >= 0 {
			mimeType = mimeType[:i]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if err != nil {
		return nil, err
	}
	a := s.addAttachmentLocked(rec, meta.Attachment.Filename, mimeType, data, s.callerActor())
	return &a, nil
}

// singleQuotedBoundary finds a boundary parameter written in single quotes.
var singleQuotedBoundary = regexp.MustCompile(`(?i)(;\s*boundary\s*=\s*)'([^']*)'`)

// uploadContentType reads an upload's Content-Type. Besides the standard
// forms it takes a boundary in single quotes, as in
// multipart/related; boundary='===============0123456789=='
// which Google's Python API tooling sends (it writes the boundary with
// Python's repr) and the service accepts; the quotes are not part of the
// boundary.
func uploadContentType(h string) (string, map[string]string) {
	mediaType, params, err := mime.ParseMediaType(h)
	if err != nil && singleQuotedBoundary.MatchString(h) {
		// A boundary holding '=' is not a token, so it only parses quoted.
		mediaType, params, err = mime.ParseMediaType(singleQuotedBoundary.ReplaceAllString(h, `$1"$2"`))
	}
	if err != nil {
		// A bad parameter still leaves the media type (mime.ErrInvalidMediaParameter).
		return mediaType, nil
	}
	if b := params["boundary"]; len(b) >= 2 && b[0] == '\'' && b[len(b)-1] == '\'' {
		// "'" is a token character, so a boundary made of token characters
		// parses with its quotes on.
		params["boundary"] = b[1 : len(b)-1]
	}
	return mediaType, params
}

func partType(h textproto.MIMEHeader) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// addAttachmentLocked stores an attachment and bumps the case; the caller
// holds s.mu.
func (s *Server) addAttachmentLocked(rec *caseRecord, filename, mimeType string, data []byte, creator *cloudsupport.Actor) cloudsupport.Attachment {
	now := s.now()
	id := salesforceID(s.nextAttach)
	s.nextAttach++
	a := cloudsupport.Attachment{
		Name:       rec.c.Name + "/attachments/" + id,
		Filename:   filename,
		MimeType:   mimeType,
		SizeBytes:  int64(len(data)),
		CreateTime: formatTime(now),
		Creator:    copyActor(creator),
	}
	s.nextItem++
	rec.attachments = append(rec.attachments, &attachmentRecord{at: now, seq: s.nextItem, a: a, data: append([]byte(nil), data...)})
	s.touch(rec, now)
	s.emitLocked(NotificationAttachmentCreated, a.Name)
	return copyAttachment(a)
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, rt route) {
	s.mu.Lock()
	a, err := s.findAttachment(rt)
	var data []byte
	var meta cloudsupport.Attachment
	if err == nil {
		data, meta = a.data, a.a
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	if r.URL.Query().Get("alt") != "media" {
		writeJSON(w, http.StatusOK, &cloudsupport.Media{ContentType: meta.MimeType, Length: int64(len(data)), Filename: meta.Filename})
		return
	}
	ct := meta.MimeType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// classifications ---------------------------------------------------------

func (s *Server) searchClassifications(r *http.Request) (any, *APIError) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("query"))
	match := func(Classification) bool { return true }
	if query != "" {
		field, val, ok := strings.Cut(query, ":")
		field = strings.TrimSpace(field)
		val = strings.TrimSpace(val)
		if !ok {
			field, val, ok = strings.Cut(query, "=")
			field, val = strings.TrimSpace(field), strings.TrimSpace(val)
			if !ok || field != "id" {
				return nil, errInvalid("Invalid query %q.", query)
			}
		}
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return nil, errInvalid("Invalid query: the value must be quoted.")
		}
		val = val[1 : len(val)-1]
		switch field {
		case "display_name", "displayName":
			pattern := strings.ToLower(val)
			match = func(c Classification) bool { return globMatch(pattern, strings.ToLower(c.DisplayName)) }
		case "id":
			match = func(c Classification) bool { return c.ID == val }
		default:
			return nil, errInvalid("Invalid query: unknown field %q.", field)
		}
	}
	var hits []*cloudsupport.CaseClassification
	for _, c := range s.classifications {
		if match(c) {
			hits = append(hits, &cloudsupport.CaseClassification{Id: c.ID, DisplayName: c.DisplayName})
		}
	}
	start, end, next, err := page(q, len(hits), "caseClassifications.search", query)
	if err != nil {
		return nil, err
	}
	return &cloudsupport.SearchCaseClassificationsResponse{CaseClassifications: hits[start:end], NextPageToken: next}, nil
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
