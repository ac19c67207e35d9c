package crmsim

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/casebridge/casebridge/shared/simhttp"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// The REST API Handler serves. Port operations (as the sync user):
//
//	GET    /api/tickets?updatedAfter=RFC3339&pageSize=N&pageToken=T  search, paged
//	GET    /api/tickets?googleCase=NAME                               find
//	POST   /api/tickets                          {subject,description,priority,googleCase}
//	GET    /api/tickets/{id}
//	PATCH  /api/tickets/{id}                     {status,customFields: {name: value}}
//	PUT    /api/tickets/{id}/google-case         {googleCase}
//	PUT    /api/tickets/{id}/priority            {priority}
//	POST   /api/tickets/{id}/close
//	GET    /api/tickets/{id}/comments
//	POST   /api/tickets/{id}/comments?public=B   raw UTF-8 body
//	GET    /api/tickets/{id}/attachments     [{id,filename,mimeType,size,author,byConnector,public,createTime}]
//	POST   /api/tickets/{id}/attachments?filename=F  raw bytes, Content-Type; on the ticket, public
//	GET    /api/tickets/{id}/attachments/{aid}   raw bytes
//	GET    /api/tickets/{id}/conversation    {comments: [{id,body,author,byConnector,public,createTime,
//	       attachments: [file...]}], attachments: [file...]}
//
// The conversation is a ticket's replies and notes, oldest first, each
// carrying the files that came with it (a file as the attachments listing
// gives it), and the files on the ticket itself, in the order they came:
// the shape of Zendesk's ticket comments listing, whose comments carry
// their attachments, with the ticket's own files beside them, since here a
// file may belong to the ticket rather than to a reply. It is the
// comments listing and the attachments listing in one call.
//
// A ticket on the wire is
//
//	{id,subject,description,priority,status,closed,syncFlag,googleCase,
//	 customFields: {name: value},createTime,updateTime}
//
// where status is one of the CRM's open statuses or "closed" (exactly when
// closed is true), and customFields holds every custom field the CRM
// defines, "" when empty (see state.go for the statuses and fields). The
// update (PATCH) sets the status and the custom fields it is given and
// leaves the rest: a status of "" or left out is kept, a field given as ""
// is emptied (a checkbox unchecked). It checks every value before it
// writes any, refuses "closed" and any status the CRM does not have
// (invalid_status), a field the CRM does not define (unknown_field) and a
// value the field's type does not take (invalid_field_value, invalid_utf8,
// too_large), and changes nothing, not even the update time, when the
// ticket already holds what it is given.
//
// Test hooks (no faults, not metered):
//
//	POST   /_sim/tickets                         Ticket → {id}
//	GET    /_sim/tickets, /_sim/tickets/{id}     TicketState
//	POST   /_sim/tickets/{id}/comments           {author,body,public} → {id}
//	POST   /_sim/tickets/{id}/attachments?filename=F&author=A  raw bytes → {id}: on the ticket, public
//	       ...&on=reply&body=B or ...&on=note&body=B: on a new public reply or
//	       internal note by A with body B (a file on a note is not public)
//	       → {id, commentId}
//	PUT    /_sim/tickets/{id}/priority           {priority}
//	PATCH  /_sim/tickets/{id}                    {status,customFields}: as the update,
//	       made by an agent (e.g. checking "escalate_to_google")
//	POST   /_sim/tickets/{id}/close, /reopen
//	PUT    /_sim/down                            {down}
//	PUT    /_sim/webhook                         {url, secret}: send a signed
//	       webhook after each change of a ticket flagged for sync or linked
//	       (see webhook.go); {} stops them
//	POST   /_sim/faults  Fault;  DELETE /_sim/faults
//	GET    /_sim/calls;  DELETE /_sim/calls
//
// Errors answer {"error": message, "code": reason} with the status, and a
// Retry-After header (whole seconds) when the fault advises one.
//
// Every answer carries a Date header from the simulator's Clock (not Go's
// real one), as a helpdesk's server dates its answers by its own clock: a
// read's answer is dated when the CRM read the case, the cases it holds
// carry that same time as ReadAt, and other answers are dated when their
// headers go out.

// defaultPageSize and maxPageSize bound a search page, as real helpdesks
// do (RT and ServiceNow cap at 100).
const (
	defaultPageSize = 10
	maxPageSize     = 100
)

// wireCase is a ticket on the wire.
type wireCase struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Priority    string `json:"priority"`
	Status      string `json:"status"`
	Closed      bool   `json:"closed"`
	SyncFlag    bool   `json:"syncFlag"`
	GoogleCase  string `json:"googleCase"`
	// CustomFields holds every field the CRM defines, "" when empty.
	CustomFields map[string]string `json:"customFields"`
	CreateTime   time.Time         `json:"createTime"`
	UpdateTime   time.Time         `json:"updateTime"`
}

func (c *CRM) toWireCase(v view) wireCase {
	fields := make(map[string]string, len(c.opts.Fields))
	for _, f := range c.opts.Fields {
		fields[f.Name] = v.fields[f.Name]
	}
	return wireCase{ID: v.ID, Subject: v.Subject, Description: v.Description, Priority: v.Priority, Status: v.status, Closed: v.Closed,
		SyncFlag: v.SyncFlag, GoogleCase: v.GoogleCase, CustomFields: fields, CreateTime: v.CreateTime, UpdateTime: v.UpdateTime}
}

// domain is the case the ticket is, with the escalation request its
// fields hold under s.
func (w wireCase) domain(s StateConfig) casesync.CompanyCase {
	return casesync.CompanyCase{ID: w.ID, Subject: w.Subject, Description: w.Description, Priority: w.Priority, Closed: w.Closed,
		SyncFlag: w.SyncFlag, GoogleCase: w.GoogleCase, CreateTime: w.CreateTime, UpdateTime: w.UpdateTime,
		Escalation: s.escalation(w.CustomFields)}
}

// wireUpdate is a ticket update on the wire.
type wireUpdate struct {
	Status       string            `json:"status,omitempty"`
	CustomFields map[string]string `json:"customFields,omitempty"`
}

type wireCaseList struct {
	Tickets       []wireCase `json:"tickets"`
	NextPageToken string     `json:"nextPageToken,omitempty"`
}

type wireNewCase struct {
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Priority    string `json:"priority"`
	GoogleCase  string `json:"googleCase"`
}

// wireComment is a comment on the wire. byConnector says the calling user
// (the sync user) wrote it.
type wireComment struct {
	ID          string    `json:"id"`
	Body        string    `json:"body"`
	Author      string    `json:"author"`
	ByConnector bool      `json:"byConnector"`
	Public      bool      `json:"public"`
	CreateTime  time.Time `json:"createTime"`
}

func toWireComment(c casesync.Comment) wireComment {
	return wireComment{ID: c.ID, Body: c.Body, Author: c.AuthorName, ByConnector: c.ByConnector, Public: c.Public, CreateTime: c.CreateTime}
}

func (w wireComment) domain() casesync.Comment {
	return casesync.Comment{ID: w.ID, Body: w.Body, AuthorName: w.Author, ByConnector: w.ByConnector, Public: w.Public, CreateTime: w.CreateTime}
}

// wireAttachment is a file on the wire. public says everyone on the ticket
// sees it (it is on the ticket or a public reply); a file on an internal
// note is sent with public false, and so is one from a server that does not
// say (the field is absent): unclear visibility is internal.
type wireAttachment struct {
	ID          string    `json:"id"`
	Filename    string    `json:"filename"`
	MimeType    string    `json:"mimeType"`
	Size        int64     `json:"size"`
	Author      string    `json:"author"`
	ByConnector bool      `json:"byConnector"`
	Public      bool      `json:"public"`
	CreateTime  time.Time `json:"createTime"`
}

func toWireAttachment(a casesync.Attachment) wireAttachment {
	return wireAttachment{ID: a.ID, Filename: a.Filename, MimeType: a.MimeType, Size: a.Size, Author: a.AuthorName, ByConnector: a.ByConnector, Public: a.Public, CreateTime: a.CreateTime}
}

func (w wireAttachment) domain() casesync.Attachment {
	return casesync.Attachment{ID: w.ID, Filename: w.Filename, MimeType: w.MimeType, Size: w.Size, AuthorName: w.Author, ByConnector: w.ByConnector, Public: w.Public, CreateTime: w.CreateTime}
}

// wireConversation is a ticket's conversation on the wire.
type wireConversation struct {
	Comments []wireConversationComment `json:"comments"`
	// Attachments are the files on the ticket itself.
	Attachments []wireAttachment `json:"attachments"`
}

// wireConversationComment is a reply or note with the files that came
// with it.
type wireConversationComment struct {
	wireComment
	Attachments []wireAttachment `json:"attachments"`
}

type wireError struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

type wireID struct {
	ID string `json:"id"`
}

// wireAttached names a file a human attached and the reply or note it came
// with ("" for a file on the ticket itself).
type wireAttached struct {
	ID        string `json:"id"`
	CommentID string `json:"commentId,omitempty"`
}

type wireHumanComment struct {
	Author string `json:"author"`
	Body   string `json:"body"`
	Public bool   `json:"public"`
}

type wireGoogleCase struct {
	GoogleCase string `json:"googleCase"`
}

type wirePriority struct {
	Priority string `json:"priority"`
}

type wireDown struct {
	Down bool `json:"down"`
}

// Handler serves the simulator's REST API over the same state as c.
func (c *CRM) Handler() http.Handler {
	mux := c.mux()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &requestClock{clock: c.opts.Clock}
		r = r.WithContext(context.WithValue(r.Context(), requestClockKey{}, rc))
		simhttp.Dated(rc.get, mux).ServeHTTP(w, r)
	})
}

// requestClockKey keys a request's requestClock in its context.
type requestClockKey struct{}

// requestClock reads the CRM's clock once for one request, at the first
// need: the case read, or else the answer's headers.
type requestClock struct {
	clock func() time.Time
	once  sync.Once
	at    time.Time
}

func (rc *requestClock) get() time.Time {
	rc.once.Do(func() { rc.at = rc.clock().UTC().Truncate(time.Second) })
	return rc.at
}

func (c *CRM) serveSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("googleCase") {
		tc, ok, err := c.find(r.Context(), q.Get("googleCase"))
		out := wireCaseList{Tickets: []wireCase{}}
		if ok {
			out.Tickets = append(out.Tickets, c.toWireCase(tc))
		}
		respond(w, http.StatusOK, out, err)
		return
	}
	var since time.Time
	if s := q.Get("updatedAfter"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			respond(w, 0, nil, newError(OpSearch, http.StatusBadRequest, ErrBadRequest))
			return
		}
		since = t
	}
	size := defaultPageSize
	if s := q.Get("pageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			respond(w, 0, nil, newError(OpSearch, http.StatusBadRequest, ErrBadRequest))
			return
		}
		size = min(n, maxPageSize)
	}
	after, err := parsePageToken(q.Get("pageToken"))
	if err != nil {
		respond(w, 0, nil, newError(OpSearch, http.StatusBadRequest, ErrBadRequest))
		return
	}
	all, err := c.search(r.Context(), since)
	if err != nil {
		respond(w, 0, nil, err)
		return
	}
	// The page token is the sort key of the last ticket sent (keyset
	// paging), so tickets changing between pages are neither skipped nor
	// shifted; a ticket updated meanwhile may come again on a later page.
	out := wireCaseList{Tickets: []wireCase{}}
	for _, tc := range all {
		if after != nil && compareCases(tc.CompanyCase, *after) <= 0 {
			continue
		}
		if len(out.Tickets) == size {
			last := out.Tickets[len(out.Tickets)-1]
			out.NextPageToken = last.UpdateTime.Format(time.RFC3339Nano) + "," + last.ID
			break
		}
		out.Tickets = append(out.Tickets, c.toWireCase(tc))
	}
	respond(w, http.StatusOK, out, nil)
}

func parsePageToken(s string) (*casesync.CompanyCase, error) {
	if s == "" {
		return nil, nil
	}
	ts, id, ok := strings.Cut(s, ",")
	if !ok {
		return nil, ErrBadRequest
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, err
	}
	return &casesync.CompanyCase{ID: id, UpdateTime: t}, nil
}

func (c *CRM) serveCreate(w http.ResponseWriter, r *http.Request) {
	var in wireNewCase
	if !decode(w, r, OpCreate, &in) {
		return
	}
	tc, err := c.create(r.Context(), casesync.NewCompanyCase{Subject: in.Subject, Description: in.Description, Priority: in.Priority, GoogleCase: in.GoogleCase})
	respond(w, http.StatusCreated, c.toWireCase(tc), err)
}

// serveAddComment takes the body raw rather than in JSON, so that bytes
// that are not UTF-8 reach the CRM as sent (JSON encoders silently replace
// them) and are rejected there.
func (c *CRM) serveAddComment(w http.ResponseWriter, r *http.Request) {
	public, err := strconv.ParseBool(r.URL.Query().Get("public"))
	if err != nil {
		respond(w, 0, nil, newError(OpAddComment, http.StatusBadRequest, ErrBadRequest))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCommentBytes+1))
	if err != nil {
		respond(w, 0, nil, newError(OpAddComment, http.StatusBadRequest, ErrUploadInterrupted))
		return
	}
	cm, err := c.AddComment(r.Context(), r.PathValue("id"), string(body), public)
	respond(w, http.StatusCreated, toWireComment(cm), err)
}

// serveConversation answers a ticket's replies and notes, each with its
// files, and the files on the ticket itself.
func (c *CRM) serveConversation(w http.ResponseWriter, r *http.Request) {
	cs, files, err := c.conversation(r.Context(), r.PathValue("id"))
	if err != nil {
		respond(w, 0, nil, err)
		return
	}
	out := wireConversation{Comments: make([]wireConversationComment, 0, len(cs)), Attachments: []wireAttachment{}}
	at := map[string]int{}
	for i, cm := range cs {
		out.Comments = append(out.Comments, wireConversationComment{wireComment: toWireComment(cm), Attachments: []wireAttachment{}})
		at[cm.ID] = i
	}
	for _, a := range files {
		if i, ok := at[a.CommentID]; ok && a.CommentID != "" {
			out.Comments[i].Attachments = append(out.Comments[i].Attachments, toWireAttachment(a.Attachment))
			continue
		}
		out.Attachments = append(out.Attachments, toWireAttachment(a.Attachment))
	}
	respond(w, http.StatusOK, out, nil)
}

func (c *CRM) serveDownload(w http.ResponseWriter, r *http.Request) {
	if err := c.enter(r.Context(), OpDownloadAttachment); err != nil {
		respond(w, 0, nil, err)
		return
	}
	a, data, err := c.attachment(OpDownloadAttachment, r.PathValue("id"), r.PathValue("aid"))
	if err != nil {
		respond(w, 0, nil, err)
		return
	}
	w.Header().Set("Content-Type", a.MimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// maxDrain is how much of a refused upload the server still reads, so that
// the client, still sending, gets the answer rather than a reset connection.
const maxDrain = 64 << 20

// drain reads and discards what is left of a refused request's body, up to
// maxDrain; past that the connection is closed.
func drain(r *http.Request) {
	io.CopyN(io.Discard, r.Body, maxDrain)
}

// decode reads a JSON request body into v, answering 400 when it cannot.
func decode(w http.ResponseWriter, r *http.Request, op string, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCommentBytes+4096))
	if err := dec.Decode(v); err != nil {
		respond(w, 0, nil, newError(op, http.StatusBadRequest, ErrBadRequest))
		return false
	}
	return true
}

// respond writes v with status, or err as an error answer. Error messages
// are the simulator's own fixed texts: they never carry request content.
func respond(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		var ae *casesync.APIError
		if !errors.As(err, &ae) {
			ae = newError("", http.StatusInternalServerError, err)
		}
		st := ae.Status
		if st == 0 { // the request's context ended
			st = http.StatusServiceUnavailable
		}
		if ae.RetryAfter > 0 {
			secs := int64((ae.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		json.NewEncoder(w).Encode(wireError{Error: ae.Err.Error(), Code: codeOf(ae.Err)})
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// mux routes the simulator's REST API and its test actions under /_sim/.
func (c *CRM) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/tickets", c.serveSearch)
	mux.HandleFunc("POST /api/tickets", c.serveCreate)
	mux.HandleFunc("GET /api/tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		tc, err := c.get(r.Context(), r.PathValue("id"))
		respond(w, http.StatusOK, c.toWireCase(tc), err)
	})
	mux.HandleFunc("PATCH /api/tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in wireUpdate
		if !decode(w, r, OpUpdate, &in) {
			return
		}
		respond(w, http.StatusNoContent, nil, c.update(r.Context(), r.PathValue("id"), update{status: in.Status, fields: in.CustomFields}))
	})
	mux.HandleFunc("PUT /api/tickets/{id}/google-case", func(w http.ResponseWriter, r *http.Request) {
		var in wireGoogleCase
		if !decode(w, r, OpSetGoogleCase, &in) {
			return
		}
		respond(w, http.StatusNoContent, nil, c.SetGoogleCase(r.Context(), r.PathValue("id"), in.GoogleCase))
	})
	mux.HandleFunc("PUT /api/tickets/{id}/priority", func(w http.ResponseWriter, r *http.Request) {
		var in wirePriority
		if !decode(w, r, OpSetPriority, &in) {
			return
		}
		respond(w, http.StatusNoContent, nil, c.SetPriority(r.Context(), r.PathValue("id"), in.Priority))
	})
	mux.HandleFunc("POST /api/tickets/{id}/close", func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusNoContent, nil, c.CloseCase(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("GET /api/tickets/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		cs, err := c.ListComments(r.Context(), r.PathValue("id"))
		out := make([]wireComment, 0, len(cs))
		for _, cm := range cs {
			out = append(out, toWireComment(cm))
		}
		respond(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /api/tickets/{id}/comments", c.serveAddComment)
	mux.HandleFunc("GET /api/tickets/{id}/attachments", func(w http.ResponseWriter, r *http.Request) {
		as, err := c.ListAttachments(r.Context(), r.PathValue("id"))
		out := make([]wireAttachment, 0, len(as))
		for _, a := range as {
			out = append(out, toWireAttachment(a))
		}
		respond(w, http.StatusOK, out, err)
	})
	mux.HandleFunc("POST /api/tickets/{id}/attachments", func(w http.ResponseWriter, r *http.Request) {
		if err := c.enter(r.Context(), OpUploadAttachment); err != nil {
			respond(w, 0, nil, err)
			return
		}
		a, err := c.upload(r.Context(), OpUploadAttachment, r.PathValue("id"), c.opts.SyncUser, r.URL.Query().Get("filename"), r.Header.Get("Content-Type"), r.Body, nil)
		if err != nil {
			drain(r)
		}
		respond(w, http.StatusCreated, toWireAttachment(a.Attachment), err)
	})
	mux.HandleFunc("GET /api/tickets/{id}/attachments/{aid}", c.serveDownload)
	mux.HandleFunc("GET /api/tickets/{id}/conversation", c.serveConversation)

	mux.HandleFunc("POST /_sim/tickets", func(w http.ResponseWriter, r *http.Request) {
		var in Ticket
		if !decode(w, r, "human.create", &in) {
			return
		}
		respond(w, http.StatusCreated, wireID{ID: c.CreateTicket(in)}, nil)
	})
	mux.HandleFunc("GET /_sim/tickets", func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusOK, c.Tickets(), nil)
	})
	mux.HandleFunc("GET /_sim/tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := c.Ticket(r.PathValue("id"))
		if !ok {
			respond(w, 0, nil, notFound("human.ticket", "ticket"))
			return
		}
		respond(w, http.StatusOK, t, nil)
	})
	mux.HandleFunc("POST /_sim/tickets/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		var in wireHumanComment
		if !decode(w, r, "human.comment", &in) {
			return
		}
		id, err := c.AddHumanComment(r.PathValue("id"), in.Author, in.Body, in.Public)
		respond(w, http.StatusCreated, wireID{ID: id}, err)
	})
	mux.HandleFunc("POST /_sim/tickets/{id}/attachments", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var on *withComment
		switch q.Get("on") {
		case "", "ticket":
		case "reply":
			on = &withComment{body: q.Get("body"), public: true}
		case "note":
			on = &withComment{body: q.Get("body"), public: false}
		default:
			drain(r)
			respond(w, 0, nil, newError("human.attachment", http.StatusBadRequest, ErrBadRequest))
			return
		}
		a, err := c.upload(r.Context(), "human.attachment", r.PathValue("id"), q.Get("author"), q.Get("filename"), r.Header.Get("Content-Type"), r.Body, on)
		if err != nil {
			drain(r)
		}
		respond(w, http.StatusCreated, wireAttached{ID: a.ID, CommentID: a.CommentID}, err)
	})
	mux.HandleFunc("PUT /_sim/tickets/{id}/priority", func(w http.ResponseWriter, r *http.Request) {
		var in wirePriority
		if !decode(w, r, "human.priority", &in) {
			return
		}
		respond(w, http.StatusNoContent, nil, c.SetHumanPriority(r.PathValue("id"), in.Priority))
	})
	mux.HandleFunc("PATCH /_sim/tickets/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in TicketUpdate
		if !decode(w, r, "human.update", &in) {
			return
		}
		respond(w, http.StatusNoContent, nil, c.UpdateTicket(r.PathValue("id"), in))
	})
	mux.HandleFunc("POST /_sim/tickets/{id}/close", func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusNoContent, nil, c.HumanClose(r.PathValue("id")))
	})
	mux.HandleFunc("POST /_sim/tickets/{id}/reopen", func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusNoContent, nil, c.HumanReopen(r.PathValue("id")))
	})
	mux.HandleFunc("PUT /_sim/down", func(w http.ResponseWriter, r *http.Request) {
		var in wireDown
		if !decode(w, r, "sim.down", &in) {
			return
		}
		c.SetDown(in.Down)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sim/webhook", func(w http.ResponseWriter, r *http.Request) {
		var in Webhook
		if !decode(w, r, "sim.webhook", &in) {
			return
		}
		if err := c.SetWebhook(in); err != nil {
			respond(w, 0, nil, newError("sim.webhook", http.StatusBadRequest, err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var in Fault
		if !decode(w, r, "sim.faults", &in) {
			return
		}
		c.InjectFault(in)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		c.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		respond(w, http.StatusOK, c.Calls(), nil)
	})
	mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		c.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
