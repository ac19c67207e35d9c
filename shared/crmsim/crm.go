// Package crmsim is a generic helpdesk that casebridge's tests and sandbox
// use in place of a company's CRM. It keeps tickets, public replies, internal
// notes and attachments in memory (a file is on the ticket, on a public reply
// or on an internal note, and is public unless on a note), lets tests act as the helpdesk's human
// agents, injects faults, and counts the calls the connector makes. A
// ticket also has a status and custom fields (state.go): casebridge writes
// the Google case's state to one and reads escalation requests from
// others, as casesync.CaseStateCRM.
//
// A CRM implements casesync.CRM directly, acting as the connector's sync
// user. Handler serves the same state as a small JSON REST API, and Client
// implements casesync.CRM over that API, the way the sandbox's functions
// reach the simulator across processes.
//
// Like a real helpdesk, every change bumps the ticket's update time, and
// update times are truncated to a granularity (whole seconds by default, as
// in Request Tracker).
package crmsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/simhttp"
)

// Options configures a simulated CRM. The zero value is usable.
type Options struct {
	// Clock tells the simulator the time. Default time.Now.
	Clock func() time.Time
	// SyncUser is the connector's user name in the CRM. Comments and
	// attachments it writes carry this author. Default "casebridge".
	SyncUser string
	// Priorities are the allowed priority values. Default critical, urgent,
	// high, normal, low.
	Priorities []string
	// MaxAttachmentBytes is the largest upload accepted; larger ones are
	// rejected with HTTP 413. Default 50 MiB.
	MaxAttachmentBytes int64
	// TimeGranularity is the precision of the update times the CRM reports
	// (Request Tracker: whole seconds). Default 1s.
	TimeGranularity time.Duration
	// Statuses are the open statuses a ticket may be given (ClosedStatus
	// is the closed one). Default DefaultStatuses; NewStatus and
	// ReopenStatus are always among them.
	Statuses []string
	// Fields are the custom fields the CRM defines. Default DefaultFields.
	Fields []Field
	// State is what the CRM, acting as the connector's adapter
	// (casesync.CaseStateCRM), writes Google's case state to and reads
	// escalation requests from. The zero value uses the default fields and
	// sets no status. New panics when its state-to-status table maps CLOSED
	// or names a status that is not one of Statuses.
	State StateConfig
}

// DefaultPriorities are the priority values a CRM allows unless Options
// says otherwise.
var DefaultPriorities = []string{"critical", "urgent", "high", "normal", "low"}

// DefaultSyncUser is the connector's user name unless Options says otherwise.
const DefaultSyncUser = "casebridge"

// DefaultMaxAttachmentBytes is the upload limit unless Options says otherwise.
const DefaultMaxAttachmentBytes = 50 << 20

// maxCommentBytes bounds a comment body, so that a runaway caller cannot
// exhaust the simulator's memory.
const maxCommentBytes = 4 << 20

// Ticket is what a human agent enters to open a ticket by hand.
type Ticket struct {
	Subject     string
	Description string
	// Priority is taken as given (a human may pick any value the CRM shows).
	Priority string
	// SyncFlag is the "sync with Google Cloud Support" custom field.
	SyncFlag bool
	// GoogleCase is the Google-case custom field, when a human fills it in.
	GoogleCase string
	// Requester is the customer who asked; informational only.
	Requester string
}

// TicketState is everything the simulator holds about one ticket, for
// tests to inspect.
type TicketState struct {
	// CompanyCase is the ticket as the connector reads it, with the
	// escalation request its fields hold under Options.State.
	casesync.CompanyCase
	// Status is the ticket's status: ClosedStatus exactly when closed.
	Status string
	// CustomFields are the custom fields that hold a value, by name.
	CustomFields map[string]string
	Requester    string
	// Comments are the public replies and internal notes, oldest first.
	Comments []casesync.Comment
	// Attachments are the files, oldest first, with their bytes.
	Attachments []AttachmentState
}

// AttachmentState is one stored attachment with its bytes. A file is on
// the ticket itself or on one reply or note (CommentID), and is public
// exactly when it is on the ticket or on a public reply: a file on an
// internal note is for the agents only, as in real helpdesks.
type AttachmentState struct {
	casesync.Attachment
	// CommentID is the reply or note the file came with; "" for a file on
	// the ticket itself.
	CommentID string
	Data      []byte
}

// CRM is an in-memory helpdesk. It implements casesync.CRM, acting as the
// sync user. It is safe for concurrent use.
type CRM struct {
	opts Options

	mu      sync.Mutex
	nextID  int64 // ticket ids
	nextSub int64 // comment and attachment ids, like RT's transaction ids
	tickets map[string]*ticket
	order   []string // ticket ids in creation order
	down    bool
	faults  []*Fault
	calls   map[string]int
	// webhook is where changes are sent (nil: nowhere); sender sends them.
	webhook *Webhook
	sender  *simhttp.Sender
}

var (
	_ casesync.CRM          = (*CRM)(nil)
	_ casesync.CaseStateCRM = (*CRM)(nil)
)

type ticket struct {
	casesync.CompanyCase
	// status is the ticket's status: ClosedStatus exactly when closed.
	status string
	// fields are the custom fields that hold a value, by name.
	fields      map[string]string
	requester   string
	comments    []casesync.Comment
	attachments []AttachmentState
}

// New returns an empty CRM.
func New(opts Options) *CRM {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.SyncUser == "" {
		opts.SyncUser = DefaultSyncUser
	}
	if len(opts.Priorities) == 0 {
		opts.Priorities = DefaultPriorities
	}
	opts.Priorities = slices.Clone(opts.Priorities)
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if opts.TimeGranularity <= 0 {
		opts.TimeGranularity = time.Second
	}
	if len(opts.Statuses) == 0 {
		opts.Statuses = DefaultStatuses
	}
	opts.Statuses = slices.Clone(opts.Statuses)
	for _, s := range []string{NewStatus, ReopenStatus} {
		if !slices.Contains(opts.Statuses, s) {
			opts.Statuses = append(opts.Statuses, s)
		}
	}
	opts.Statuses = slices.DeleteFunc(opts.Statuses, func(s string) bool { return s == ClosedStatus })
	if len(opts.Fields) == 0 {
		opts.Fields = DefaultFields
	}
	opts.Fields = slices.Clone(opts.Fields)
	opts.State = opts.State.withDefaults()
	if err := opts.State.check(); err != nil {
		panic("crmsim: Options.State: " + err.Error())
	}
	for state, status := range opts.State.StateStatuses {
		if !slices.Contains(opts.Statuses, status) {
			panic(fmt.Sprintf("crmsim: Options.State maps %s to %q, which is not one of the statuses %q", state, status, opts.Statuses))
		}
	}
	return &CRM{opts: opts, tickets: map[string]*ticket{}, calls: map[string]int{}, sender: newWebhookSender()}
}

// SyncUser returns the connector's user name in this CRM.
func (c *CRM) SyncUser() string { return c.opts.SyncUser }

// Priorities returns the allowed priority values.
func (c *CRM) Priorities() []string { return slices.Clone(c.opts.Priorities) }

// MaxAttachmentBytes returns the upload limit.
func (c *CRM) MaxAttachmentBytes() int64 { return c.opts.MaxAttachmentBytes }

// now returns the clock's time truncated to the CRM's granularity, in UTC.
func (c *CRM) now() time.Time {
	return c.opts.Clock().UTC().Truncate(c.opts.TimeGranularity)
}

// readTime is the CRM's clock as a read's answer gives it: as the Date
// header of an HTTP answer carries it, to the second, in UTC. Within a
// request that Handler serves, the clock is read once, so the cases an
// answer holds and the answer's Date header agree.
func (c *CRM) readTime(ctx context.Context) time.Time {
	if rc, ok := ctx.Value(requestClockKey{}).(*requestClock); ok {
		return rc.get()
	}
	return c.opts.Clock().UTC().Truncate(time.Second)
}

// enter counts a port call and applies the outage switch and injected
// faults. Callers must not hold c.mu.
func (c *CRM) enter(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: errors.Is(err, context.DeadlineExceeded), Err: err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	if c.down {
		return newError(op, 503, ErrUnavailable)
	}
	if f := c.takeFaultLocked(op); f != nil {
		e := newError(op, f.Status, faultErr(f.Status))
		e.RetryAfter = f.RetryAfter
		return e
	}
	return nil
}

// view is a ticket as a read returns it: the case as the connector reads
// it, with the escalation request its fields hold under Options.State, and
// its status and custom fields (a copy) as the API sends them.
type view struct {
	casesync.CompanyCase
	status string
	fields map[string]string
}

func (c *CRM) viewLocked(t *ticket) view {
	cc := t.CompanyCase
	cc.Escalation = c.opts.State.escalation(t.fields)
	return view{CompanyCase: cc, status: t.status, fields: maps.Clone(t.fields)}
}

// cases returns the cases of views.
func cases(vs []view) []casesync.CompanyCase {
	out := make([]casesync.CompanyCase, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.CompanyCase)
	}
	return out
}

func (c *CRM) getLocked(op, id string) (*ticket, error) {
	t, ok := c.tickets[id]
	if !ok {
		return nil, notFound(op, "ticket")
	}
	return t, nil
}

func (c *CRM) validPriority(p string) bool { return slices.Contains(c.opts.Priorities, p) }

// SearchUpdated returns the tickets flagged for sync or linked to a Google
// case whose update time is strictly after since, by update time then id.
func (c *CRM) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	vs, err := c.search(ctx, since)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	return cases(vs), nil
}

func (c *CRM) search(ctx context.Context, since time.Time) ([]view, error) {
	if err := c.enter(ctx, OpSearch); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []view
	at := c.readTime(ctx)
	for _, id := range c.order {
		t := c.tickets[id]
		if (t.SyncFlag || t.GoogleCase != "") && t.UpdateTime.After(since) {
			v := c.viewLocked(t)
			v.ReadAt = at
			out = append(out, v)
		}
	}
	slices.SortStableFunc(out, func(a, b view) int { return compareCases(a.CompanyCase, b.CompanyCase) })
	return out, nil
}

// compareCases orders cases by update time, then by numeric id.
func compareCases(a, b casesync.CompanyCase) int {
	if c := a.UpdateTime.Compare(b.UpdateTime); c != 0 {
		return c
	}
	return compareIDs(a.ID, b.ID)
}

func compareIDs(a, b string) int {
	x, errX := strconv.ParseInt(a, 10, 64)
	y, errY := strconv.ParseInt(b, 10, 64)
	if errX != nil || errY != nil {
		return strings.Compare(a, b)
	}
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// GetCase returns one ticket.
func (c *CRM) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	v, err := c.get(ctx, id)
	return v.CompanyCase, err
}

func (c *CRM) get(ctx context.Context, id string) (view, error) {
	if err := c.enter(ctx, OpGet); err != nil {
		return view{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(OpGet, id)
	if err != nil {
		return view{}, err
	}
	v := c.viewLocked(t)
	v.ReadAt = c.readTime(ctx)
	return v, nil
}

// FindByGoogleCase returns the oldest ticket whose Google-case field holds
// name.
func (c *CRM) FindByGoogleCase(ctx context.Context, googleCaseName string) (casesync.CompanyCase, bool, error) {
	v, ok, err := c.find(ctx, googleCaseName)
	return v.CompanyCase, ok, err
}

func (c *CRM) find(ctx context.Context, googleCaseName string) (view, bool, error) {
	if err := c.enter(ctx, OpFind); err != nil {
		return view{}, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if googleCaseName == "" {
		return view{}, false, nil
	}
	for _, id := range c.order {
		if t := c.tickets[id]; t.GoogleCase == googleCaseName {
			v := c.viewLocked(t)
			v.ReadAt = c.readTime(ctx)
			return v, true, nil
		}
	}
	return view{}, false, nil
}

// CreateCase opens a ticket as the sync user, with the Google-case field
// set. An empty priority is allowed; any other value must be one of the
// CRM's priorities.
func (c *CRM) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	v, err := c.create(ctx, nc)
	return v.CompanyCase, err
}

func (c *CRM) create(ctx context.Context, nc casesync.NewCompanyCase) (view, error) {
	if err := c.enter(ctx, OpCreate); err != nil {
		return view{}, err
	}
	if !utf8.ValidString(nc.Subject) || !utf8.ValidString(nc.Description) || !utf8.ValidString(nc.GoogleCase) {
		return view{}, newError(OpCreate, 400, ErrInvalidUTF8)
	}
	if nc.Priority != "" && !c.validPriority(nc.Priority) {
		return view{}, newError(OpCreate, 400, ErrInvalidPriority)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.createLocked(Ticket{Subject: nc.Subject, Description: nc.Description, Priority: nc.Priority, GoogleCase: nc.GoogleCase}, c.opts.SyncUser)
	c.notifyLocked(t, EventCreated, c.opts.SyncUser)
	v := c.viewLocked(t)
	v.ReadAt = c.readTime(ctx)
	return v, nil
}

func (c *CRM) createLocked(in Ticket, requester string) *ticket {
	c.nextID++
	id := strconv.FormatInt(c.nextID, 10)
	now := c.now()
	t := &ticket{
		CompanyCase: casesync.CompanyCase{
			ID: id, Subject: in.Subject, Description: in.Description, Priority: in.Priority,
			SyncFlag: in.SyncFlag, GoogleCase: in.GoogleCase, CreateTime: now, UpdateTime: now,
		},
		status:    NewStatus,
		fields:    map[string]string{},
		requester: requester,
	}
	if in.Requester != "" {
		t.requester = in.Requester
	}
	c.tickets[id] = t
	c.order = append(c.order, id)
	return t
}

// SetGoogleCase writes the Google-case field. Writing the value it already
// holds changes nothing, not even the update time.
func (c *CRM) SetGoogleCase(ctx context.Context, id, googleCaseName string) error {
	if err := c.enter(ctx, OpSetGoogleCase); err != nil {
		return err
	}
	if !utf8.ValidString(googleCaseName) {
		return newError(OpSetGoogleCase, 400, ErrInvalidUTF8)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(OpSetGoogleCase, id)
	if err != nil {
		return err
	}
	if t.GoogleCase != googleCaseName {
		t.GoogleCase = googleCaseName
		t.UpdateTime = c.now()
		c.notifyLocked(t, EventGoogleCase, c.opts.SyncUser)
	}
	return nil
}

// SetPriority sets the ticket's priority; values the CRM does not allow are
// rejected with a permanent error (HTTP 400). Setting the current value
// changes nothing.
func (c *CRM) SetPriority(ctx context.Context, id, priority string) error {
	if err := c.enter(ctx, OpSetPriority); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setPriorityLocked(OpSetPriority, id, priority, c.opts.SyncUser)
}

func (c *CRM) setPriorityLocked(op, id, priority, actor string) error {
	t, err := c.getLocked(op, id)
	if err != nil {
		return err
	}
	if !c.validPriority(priority) {
		return newError(op, 400, ErrInvalidPriority)
	}
	if t.Priority != priority {
		t.Priority = priority
		t.UpdateTime = c.now()
		c.notifyLocked(t, EventPriority, actor)
	}
	return nil
}

// CloseCase closes the ticket; closing a closed ticket is fine and changes
// nothing.
func (c *CRM) CloseCase(ctx context.Context, id string) error {
	if err := c.enter(ctx, OpClose); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setClosedLocked(OpClose, id, true, c.opts.SyncUser)
}

func (c *CRM) setClosedLocked(op, id string, closed bool, actor string) error {
	t, err := c.getLocked(op, id)
	if err != nil {
		return err
	}
	if t.Closed != closed {
		t.Closed = closed
		t.status = ClosedStatus
		if !closed {
			t.status = ReopenStatus
		}
		t.UpdateTime = c.now()
		event := EventClosed
		if !closed {
			event = EventReopened
		}
		c.notifyLocked(t, event, actor)
	}
	return nil
}

// ListComments returns the ticket's public replies and internal notes,
// oldest first.
func (c *CRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	if err := c.enter(ctx, OpListComments); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(OpListComments, id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(t.comments), nil
}

// AddComment adds a public reply or an internal note as the sync user. The
// body must be valid UTF-8.
func (c *CRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if err := c.enter(ctx, OpAddComment); err != nil {
		return casesync.Comment{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addCommentLocked(OpAddComment, id, c.opts.SyncUser, body, public)
}

// addCommentLocked adds a reply or note by author and sends the webhook of
// the change.
func (c *CRM) addCommentLocked(op, id, author, body string, public bool) (casesync.Comment, error) {
	t, err := c.getLocked(op, id)
	if err != nil {
		return casesync.Comment{}, err
	}
	if !utf8.ValidString(body) || !utf8.ValidString(author) {
		return casesync.Comment{}, newError(op, 400, ErrInvalidUTF8)
	}
	if len(body) > maxCommentBytes {
		return casesync.Comment{}, newError(op, 413, ErrTooLarge)
	}
	if body == "" {
		return casesync.Comment{}, newError(op, 400, ErrEmptyComment)
	}
	c.nextSub++
	now := c.now()
	cm := casesync.Comment{
		ID: strconv.FormatInt(c.nextSub, 10), Body: body, AuthorName: author,
		ByConnector: author == c.opts.SyncUser, Public: public, CreateTime: now,
	}
	t.comments = append(t.comments, cm)
	t.UpdateTime = now
	c.notifyLocked(t, EventComment, author)
	return cm, nil
}

// ListAttachments returns the ticket's attachments, oldest first (by
// create time, then id).
func (c *CRM) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	if err := c.enter(ctx, OpListAttachments); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(OpListAttachments, id)
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(t.attachments))
	for _, a := range t.attachments {
		out = append(out, a.Attachment)
	}
	sortFiles(out)
	return out, nil
}

// sortFiles orders files oldest first: by create time, then by id.
func sortFiles(as []casesync.Attachment) {
	slices.SortStableFunc(as, func(a, b casesync.Attachment) int {
		if c := a.CreateTime.Compare(b.CreateTime); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
}

// conversation returns, in one call, the ticket's replies and notes,
// oldest first, and its files without their bytes, in the order they came,
// each with the reply or note it came with.
func (c *CRM) conversation(ctx context.Context, id string) ([]casesync.Comment, []AttachmentState, error) {
	if err := c.enter(ctx, OpListConversation); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(OpListConversation, id)
	if err != nil {
		return nil, nil, err
	}
	files := make([]AttachmentState, 0, len(t.attachments))
	for _, a := range t.attachments {
		a.Data = nil
		files = append(files, a)
	}
	return slices.Clone(t.comments), files, nil
}

// DownloadAttachment streams one attachment's bytes.
func (c *CRM) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	if err := c.enter(ctx, OpDownloadAttachment); err != nil {
		return nil, err
	}
	_, data, err := c.attachment(OpDownloadAttachment, id, attachmentID)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// attachment returns one attachment of a ticket. The bytes are never
// modified once stored, so they may be read without the lock.
func (c *CRM) attachment(op, id, attachmentID string) (casesync.Attachment, []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(op, id)
	if err != nil {
		return casesync.Attachment{}, nil, err
	}
	for _, a := range t.attachments {
		if a.ID == attachmentID {
			return a.Attachment, a.Data, nil
		}
	}
	return casesync.Attachment{}, nil, notFound(op, "attachment")
}

// UploadAttachment reads r to its end and stores it on the ticket itself
// (public) as the sync user. Uploads over MaxAttachmentBytes are rejected
// (HTTP 413).
func (c *CRM) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	if err := c.enter(ctx, OpUploadAttachment); err != nil {
		return casesync.Attachment{}, err
	}
	a, err := c.upload(ctx, OpUploadAttachment, id, c.opts.SyncUser, filename, mimeType, r, nil)
	return a.Attachment, err
}

// withComment is the reply or note a file comes with.
type withComment struct {
	body   string
	public bool
}

// upload stores r as a file by author: on the ticket itself when on is nil,
// else on a new reply or note written by author with on's body and
// visibility, which the file takes.
func (c *CRM) upload(ctx context.Context, op, id, author, filename, mimeType string, r io.Reader, on *withComment) (AttachmentState, error) {
	if filename == "" {
		return AttachmentState{}, newError(op, 400, ErrNoFilename)
	}
	if !utf8.ValidString(filename) || !utf8.ValidString(mimeType) || !utf8.ValidString(author) {
		return AttachmentState{}, newError(op, 400, ErrInvalidUTF8)
	}
	if on != nil {
		// The comment's own checks, before a large body is read.
		switch {
		case !utf8.ValidString(on.body):
			return AttachmentState{}, newError(op, 400, ErrInvalidUTF8)
		case on.body == "":
			return AttachmentState{}, newError(op, 400, ErrEmptyComment)
		case len(on.body) > maxCommentBytes:
			return AttachmentState{}, newError(op, 413, ErrTooLarge)
		}
	}
	// Fail fast on an unknown ticket before reading a large body.
	c.mu.Lock()
	_, err := c.getLocked(op, id)
	c.mu.Unlock()
	if err != nil {
		return AttachmentState{}, err
	}
	// The body is read without the lock: a slow uploader must not stall
	// every other call.
	limit := c.opts.MaxAttachmentBytes
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return AttachmentState{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: 400, Err: fmt.Errorf("%w: %w", ErrUploadInterrupted, err)}
	}
	if int64(len(data)) > limit {
		return AttachmentState{}, newError(op, 413, ErrTooLarge)
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getLocked(op, id)
	if err != nil {
		return AttachmentState{}, err
	}
	public, commentID := true, ""
	if on != nil {
		cm, err := c.addCommentLocked(op, id, author, on.body, on.public)
		if err != nil {
			return AttachmentState{}, err
		}
		public, commentID = on.public, cm.ID
	}
	c.nextSub++
	now := c.now()
	a := AttachmentState{
		Attachment: casesync.Attachment{
			ID: strconv.FormatInt(c.nextSub, 10), Filename: filename, MimeType: mimeType, Size: int64(len(data)),
			AuthorName: author, ByConnector: author == c.opts.SyncUser, Public: public, CreateTime: now,
		},
		CommentID: commentID,
		Data:      data,
	}
	t.attachments = append(t.attachments, a)
	t.UpdateTime = now
	c.notifyLocked(t, EventAttachment, author)
	return a, nil
}
