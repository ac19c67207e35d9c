package crmsim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// vendor names the simulator in error messages.
const vendor = "CRM simulator"

// Client implements casesync.CRM over the simulator's REST API (Handler),
// the way the sandbox's functions reach a simulator in another process.
// Its calls go through crmhttp, the HTTP client every CRM adapter shares.
//
// It maps HTTP statuses to *casesync.APIError (429 and 5xx transient, 404
// recognised by casesync.IsNotFound, Retry-After in RetryAfter), restores
// the simulator's reason (ErrTooLarge, ErrInvalidPriority, ...) from the
// error code the server sends, so that errors.Is finds it, and retries a
// few times with short backoff: 429 always (the request was refused before
// any work), 502, 503, 504 and transport failures only for calls that are
// safe to repeat. A create or comment that may have been processed is not
// repeated; an upload is never repeated, because its stream has been
// consumed.
type Client struct {
	base       string
	httpClient *http.Client

	// MaxAttempts is how many times a call is tried in all. Default 3.
	MaxAttempts int
	// MinBackoff is the first wait between attempts, doubled each time up
	// to crmhttp's 5 s. Default 50 ms; zero means crmhttp's 250 ms.
	MinBackoff time.Duration
	// MaxRetryWait is the longest the Client waits before a retry, however
	// long the server's Retry-After asks; a longer advice ends the retries
	// and the error carries it. Default 2 s; zero means crmhttp's 30 s.
	MaxRetryWait time.Duration
	// PageSize is the search page size asked for. Default 0 asks for the
	// largest page the server serves (100), so a poll reads as few pages as
	// it can.
	PageSize int
	// State says which custom fields and statuses the Client uses for
	// Google's case state and escalation requests. The zero value uses the
	// simulator's default fields and sets no status.
	State StateConfig

	// The fields above are read once, on the first call, to make the
	// crmhttp client; set them before that.
	build sync.Once
	http  *crmhttp.Client
	// state is State with its defaults; stateErr what is wrong with it.
	state    StateConfig
	stateErr error
}

var (
	_ casesync.CRM          = (*Client)(nil)
	_ casesync.ItemLister   = (*Client)(nil)
	_ casesync.CaseStateCRM = (*Client)(nil)
)

// NewClient returns a Client for the simulator at baseURL (e.g.
// "http://127.0.0.1:8090"). A nil httpClient means http.DefaultClient.
func NewClient(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: baseURL, httpClient: httpClient, MaxAttempts: 3, MinBackoff: 50 * time.Millisecond, MaxRetryWait: 2 * time.Second}
}

// api returns the crmhttp client the calls go through, made on the first
// call from the exported fields as they are then.
func (c *Client) api() *crmhttp.Client {
	c.build.Do(func() {
		c.http = crmhttp.New(crmhttp.Config{
			Vendor:       vendor,
			BaseURL:      c.base,
			HTTP:         c.httpClient,
			MaxAttempts:  max(c.MaxAttempts, 1),
			MinBackoff:   c.MinBackoff,
			MaxRetryWait: c.MaxRetryWait,
			ErrorDetail:  func(_ int, body []byte) string { return errorCode(body) },
			Reason:       func(_ int, body []byte) error { return reasonOf(errorCode(body)) },
		})
		c.state = c.State.withDefaults()
		c.stateErr = c.state.check()
	})
	return c.http
}

// stateConfig returns the Client's State with its defaults.
func (c *Client) stateConfig() StateConfig {
	c.api()
	return c.state
}

// errorCode returns the error code of a failed answer's body when it is
// one the simulator sends, else "". The rest of the body is not kept.
func errorCode(body []byte) string {
	var we wireError
	if json.Unmarshal(body, &we) != nil || reasonOf(we.Code) == nil {
		return ""
	}
	return we.Code
}

// The retry modes of the simulator's calls.
const (
	retrySafe      = crmhttp.Safe      // reads and idempotent writes
	retryIfRefused = crmhttp.IfRefused // creates and comments: only a 429, which did no work
	retryNever     = crmhttp.Never     // streamed uploads
)

// request is one API call to make.
type request struct {
	op          string
	method      string
	path        string
	query       url.Values
	contentType string
	body        []byte    // sent again on a retry
	stream      io.Reader // sent once
	mode        crmhttp.RetryMode
}

// toCRMHTTP gives req as crmhttp takes it.
func (r request) toCRMHTTP() crmhttp.Request {
	return crmhttp.Request{Op: r.op, Method: r.method, Path: r.path, Query: r.query,
		ContentType: r.contentType, Body: r.body, Stream: r.stream, Mode: r.mode}
}

// call makes req and decodes its JSON answer into v (nil: no answer
// expected).
func (c *Client) call(ctx context.Context, req request, v any) error {
	return c.api().JSON(ctx, req.toCRMHTTP(), v)
}

// callAt is call that also gives the answer's Date header: the CRM's own
// clock when it answered, zero when the answer gave no usable one.
func (c *Client) callAt(ctx context.Context, req request, v any) (time.Time, error) {
	return c.api().JSONAt(ctx, req.toCRMHTTP(), v)
}

// jsonBody marshals a request body: only plain structs of strings and
// bools are marshalled here.
func jsonBody(v any) []byte { return crmhttp.JSONBody(v) }

func ticketPath(id string, rest ...string) string {
	p := "/api/tickets/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// SearchUpdated returns the flagged or linked tickets updated after since,
// following every page. A ticket seen on two pages (updated while paging)
// is returned once, as last seen.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	q := url.Values{"updatedAfter": {since.UTC().Format(time.RFC3339Nano)}}
	if size := cmp.Or(c.PageSize, maxPageSize); size > 0 {
		q.Set("pageSize", strconv.Itoa(size))
	}
	var out []casesync.CompanyCase
	index := map[string]int{}
	for {
		var page wireCaseList
		at, err := c.callAt(ctx, request{op: OpSearch, method: http.MethodGet, path: "/api/tickets", query: q, mode: retrySafe}, &page)
		if err != nil {
			return nil, err
		}
		for _, w := range page.Tickets {
			cc := w.domain(c.stateConfig())
			cc.ReadAt = at
			if i, ok := index[w.ID]; ok {
				out[i] = cc
				continue
			}
			index[w.ID] = len(out)
			out = append(out, cc)
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		q = cloneValues(q)
		q.Set("pageToken", page.NextPageToken)
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// GetCase returns one ticket.
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	var w wireCase
	at, err := c.callAt(ctx, request{op: OpGet, method: http.MethodGet, path: ticketPath(id), mode: retrySafe}, &w)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cc := w.domain(c.stateConfig())
	cc.ReadAt = at
	return cc, nil
}

// FindByGoogleCase returns the ticket whose Google-case field holds name.
func (c *Client) FindByGoogleCase(ctx context.Context, googleCaseName string) (casesync.CompanyCase, bool, error) {
	var page wireCaseList
	q := url.Values{"googleCase": {googleCaseName}}
	at, err := c.callAt(ctx, request{op: OpFind, method: http.MethodGet, path: "/api/tickets", query: q, mode: retrySafe}, &page)
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	if len(page.Tickets) == 0 {
		return casesync.CompanyCase{}, false, nil
	}
	cc := page.Tickets[0].domain(c.stateConfig())
	cc.ReadAt = at
	return cc, true, nil
}

// CreateCase opens a ticket with the Google-case field set.
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	// JSON would silently replace bytes that are not UTF-8; refuse them as
	// the CRM would rather than send something else.
	if !utf8.ValidString(nc.Subject) || !utf8.ValidString(nc.Description) || !utf8.ValidString(nc.GoogleCase) {
		return casesync.CompanyCase{}, newError(OpCreate, http.StatusBadRequest, ErrInvalidUTF8)
	}
	body := jsonBody(wireNewCase{Subject: nc.Subject, Description: nc.Description, Priority: nc.Priority, GoogleCase: nc.GoogleCase})
	var w wireCase
	at, err := c.callAt(ctx, request{op: OpCreate, method: http.MethodPost, path: "/api/tickets", contentType: "application/json", body: body, mode: retryIfRefused}, &w)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cc := w.domain(c.stateConfig())
	cc.ReadAt = at
	return cc, nil
}

// SetGoogleCase writes the Google-case field.
func (c *Client) SetGoogleCase(ctx context.Context, id, googleCaseName string) error {
	if !utf8.ValidString(googleCaseName) {
		return newError(OpSetGoogleCase, http.StatusBadRequest, ErrInvalidUTF8)
	}
	body := jsonBody(wireGoogleCase{GoogleCase: googleCaseName})
	return c.call(ctx, request{op: OpSetGoogleCase, method: http.MethodPut, path: ticketPath(id, "google-case"), contentType: "application/json", body: body, mode: retrySafe}, nil)
}

// SetPriority sets the ticket's priority.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	body := jsonBody(wirePriority{Priority: priority})
	return c.call(ctx, request{op: OpSetPriority, method: http.MethodPut, path: ticketPath(id, "priority"), contentType: "application/json", body: body, mode: retrySafe}, nil)
}

// CloseCase closes the ticket.
func (c *Client) CloseCase(ctx context.Context, id string) error {
	return c.call(ctx, request{op: OpClose, method: http.MethodPost, path: ticketPath(id, "close"), mode: retrySafe}, nil)
}

// ListComments returns the ticket's replies and notes, oldest first.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	var ws []wireComment
	if err := c.call(ctx, request{op: OpListComments, method: http.MethodGet, path: ticketPath(id, "comments"), mode: retrySafe}, &ws); err != nil {
		return nil, err
	}
	out := make([]casesync.Comment, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.domain())
	}
	return out, nil
}

// AddComment adds a public reply or an internal note. The body is sent
// as raw bytes, so the CRM judges it as given.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	q := url.Values{"public": {strconv.FormatBool(public)}}
	var w wireComment
	req := request{op: OpAddComment, method: http.MethodPost, path: ticketPath(id, "comments"), query: q,
		contentType: "text/plain; charset=utf-8", body: []byte(body), mode: retryIfRefused}
	if err := c.call(ctx, req, &w); err != nil {
		return casesync.Comment{}, err
	}
	return w.domain(), nil
}

// ListAttachments returns the ticket's attachments, oldest first.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	var ws []wireAttachment
	if err := c.call(ctx, request{op: OpListAttachments, method: http.MethodGet, path: ticketPath(id, "attachments"), mode: retrySafe}, &ws); err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.domain())
	}
	return out, nil
}

// ListItems returns what ListComments and ListAttachments return, from one
// reading of the ticket's conversation: its replies and notes, oldest first,
// and every file, those the replies and notes carry and those on the
// ticket itself, oldest first (by create time, then id).
func (c *Client) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	var w wireConversation
	if err := c.call(ctx, request{op: OpListConversation, method: http.MethodGet, path: ticketPath(id, "conversation"), mode: retrySafe}, &w); err != nil {
		return nil, nil, err
	}
	comments := make([]casesync.Comment, 0, len(w.Comments))
	files := make([]casesync.Attachment, 0, len(w.Attachments))
	for _, wc := range w.Comments {
		comments = append(comments, wc.domain())
		for _, a := range wc.Attachments {
			files = append(files, a.domain())
		}
	}
	for _, a := range w.Attachments {
		files = append(files, a.domain())
	}
	sortFiles(files)
	return comments, files, nil
}

// DownloadAttachment streams an attachment's bytes; the caller closes the
// reader.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	return c.api().Download(ctx, request{op: OpDownloadAttachment, method: http.MethodGet, path: ticketPath(id, "attachments", url.PathEscape(attachmentID)), mode: retrySafe}.toCRMHTTP())
}

// UploadAttachment streams r to the ticket as one attachment.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	if r == nil {
		r = bytes.NewReader(nil)
	}
	q := url.Values{"filename": {filename}}
	var w wireAttachment
	req := request{op: OpUploadAttachment, method: http.MethodPost, path: ticketPath(id, "attachments"), query: q,
		contentType: mimeType, stream: r, mode: retryNever}
	if err := c.call(ctx, req, &w); err != nil {
		return casesync.Attachment{}, err
	}
	return w.domain(), nil
}

// SetGoogleState writes state to the configured state field and, when the
// configuration maps it, sets its status, in one update. A state that is
// not CSAPI's is refused without a call; with neither a field nor a status
// for the state, no call is made.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	if err := checkState(OpUpdate, state); err != nil {
		return err
	}
	s := c.stateConfig()
	if c.stateErr != nil {
		return newError(OpUpdate, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrInvalidStatus, c.stateErr))
	}
	u, ok := s.stateUpdate(state)
	if !ok {
		return nil
	}
	err := c.update(ctx, id, u)
	var ae *casesync.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict && errors.Is(err, ErrClosedTicket) && u.status != "" {
		// A closed ticket keeps its status: only the field is written.
		u.status = ""
		if len(u.fields) == 0 {
			return nil
		}
		err = c.update(ctx, id, u)
	}
	return err
}

// ClearEscalationRequest empties the configured escalation field (a
// checkbox is unchecked); with none configured, it makes no call.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	f := c.stateConfig().EscalationField
	if f == "" {
		return nil
	}
	return c.update(ctx, id, update{fields: map[string]string{f: ""}})
}

// update sends a ticket update. It is safe to repeat: it sets values.
func (c *Client) update(ctx context.Context, id string, u update) error {
	for _, v := range u.fields {
		// JSON would silently replace bytes that are not UTF-8.
		if !utf8.ValidString(v) {
			return newError(OpUpdate, http.StatusBadRequest, ErrInvalidUTF8)
		}
	}
	body := jsonBody(wireUpdate{Status: u.status, CustomFields: u.fields})
	return c.call(ctx, request{op: OpUpdate, method: http.MethodPatch, path: ticketPath(id), contentType: "application/json", body: body, mode: retrySafe}, nil)
}
