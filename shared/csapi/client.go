package csapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	cloudsupportbeta "google.golang.org/api/cloudsupport/v2beta"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Config is what the Client needs to know about the Google side.
type Config struct {
	// Parent is the search parent: "organizations/N" (which covers the
	// organization's projects) or "projects/P".
	Parent string
	// MoreParents are further projects searched after Parent: an allowlist
	// of projects ("projects/P") when the connector has rights on those
	// projects only, not on their organization.
	MoreParents []string
	// CreateParent is where new cases are created; Parent when empty.
	CreateParent string
	// ClassificationID is the case classification id given to created cases.
	ClassificationID string
	// TimeZone is given to created cases (optional; e.g. "Europe/Paris").
	TimeZone string
	// TestCase marks created cases as test cases, which keeps them away from
	// Google Support agents. Set it everywhere but production.
	TestCase bool
	// ConnectorEmail and MoreConnectorEmails are the identities casebridge
	// writes to CSAPI as: deployed, each function runs as its own service
	// account, and sync-case writes cases and mirrored items, detect-outages
	// its notices. Cases, comments and attachments whose creator's email or
	// username is one of them, in any case, are marked ByConnector.
	ConnectorEmail      string
	MoreConnectorEmails []string
	// MaxPages bounds the pages one listing reads; 1000 when zero. A
	// listing with more ends in a permanent error naming it.
	MaxPages int
	// PageSize is the page size asked for in every list; 100 when zero.
	// Attachment lists never ask for more than 100, CSAPI's maximum.
	PageSize int64
	// MaxAttempts is the number of attempts per call when failures are
	// transient; 5 when zero.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts; 500ms and
	// 30s when zero. MaxBackoff also caps a server's Retry-After.
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout limits each HTTP attempt (for a download: until the
	// response headers arrive); 60s when zero. It must cover the upload of the
	// largest attachment.
	CallTimeout time.Duration
}

const (
	defaultPageSize    = 100
	defaultMaxPages    = 1000
	maxAttachmentPage  = 100
	defaultMaxAttempts = 5
	defaultMinBackoff  = 500 * time.Millisecond
	defaultMaxBackoff  = 30 * time.Second
	defaultCallTimeout = 60 * time.Second
)

// withDefaults fills in defaults and checks the configuration.
func (cfg Config) withDefaults() (Config, error) {
	var problems []string
	cfg.Parent = strings.TrimSpace(cfg.Parent)
	cfg.CreateParent = strings.TrimSpace(cfg.CreateParent)
	cfg.ConnectorEmail = strings.TrimSpace(cfg.ConnectorEmail)
	cfg.MoreConnectorEmails = slices.Clone(cfg.MoreConnectorEmails)
	for i, e := range cfg.MoreConnectorEmails {
		cfg.MoreConnectorEmails[i] = strings.TrimSpace(e)
		if !strings.Contains(cfg.MoreConnectorEmails[i], "@") {
			problems = append(problems, fmt.Sprintf("MoreConnectorEmails entry %q must be an email address", e))
		}
	}
	if cfg.ConnectorEmail == "" && len(cfg.MoreConnectorEmails) > 0 {
		problems = append(problems, "ConnectorEmail is required when MoreConnectorEmails is set")
	}
	if !validParent(cfg.Parent) {
		problems = append(problems, fmt.Sprintf("Parent %q must be \"organizations/NUMBER\" or \"projects/ID\"", cfg.Parent))
	}
	cfg.MoreParents = slices.Clone(cfg.MoreParents)
	for i, p := range cfg.MoreParents {
		cfg.MoreParents[i] = strings.TrimSpace(p)
		if !strings.HasPrefix(cfg.MoreParents[i], "projects/") || !validParent(cfg.MoreParents[i]) {
			problems = append(problems, fmt.Sprintf("MoreParents entry %q must be \"projects/ID\"", p))
		}
	}
	if cfg.CreateParent == "" {
		cfg.CreateParent = cfg.Parent
	} else if !validParent(cfg.CreateParent) {
		problems = append(problems, fmt.Sprintf("CreateParent %q must be \"organizations/NUMBER\" or \"projects/ID\"", cfg.CreateParent))
	}
	if strings.TrimSpace(cfg.ClassificationID) == "" {
		problems = append(problems, "ClassificationID is required (the classification id given to cases casebridge creates)")
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = defaultPageSize
	} else if cfg.PageSize < 0 {
		problems = append(problems, fmt.Sprintf("PageSize %d must be positive", cfg.PageSize))
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = defaultMaxPages
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = defaultMaxAttempts
	} else if cfg.MaxAttempts < 0 {
		problems = append(problems, fmt.Sprintf("MaxAttempts %d must be positive", cfg.MaxAttempts))
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = defaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = defaultMaxBackoff
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		problems = append(problems, "MinBackoff and MaxBackoff must not be negative")
	} else if cfg.MinBackoff > cfg.MaxBackoff {
		problems = append(problems, fmt.Sprintf("MinBackoff %v is larger than MaxBackoff %v", cfg.MinBackoff, cfg.MaxBackoff))
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = defaultCallTimeout
	} else if cfg.CallTimeout < 0 {
		problems = append(problems, fmt.Sprintf("CallTimeout %v must be positive", cfg.CallTimeout))
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("csapi config: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}

func validParent(p string) bool {
	kind, id, ok := strings.Cut(p, "/")
	return ok && (kind == "organizations" || kind == "projects") && id != "" && !strings.ContainsAny(id, "/ ")
}

// Client is the CSAPI adapter. It is safe for concurrent use.
type Client struct {
	cfg Config
	svc *cloudsupport.Service
	// beta is the v2beta client, for the case feed (WithFeed).
	beta *cloudsupportbeta.Service
}

var _ casesync.Google = (*Client)(nil)

// New checks cfg and builds a Client. opts go to the official client, e.g.
// option.WithEndpoint(simulatorURL) and option.WithoutAuthentication() for
// the simulator; in Cloud Functions the default credentials are used.
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	svc, err := cloudsupport.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("csapi: building the Cloud Support client: %w", err)
	}
	beta, err := cloudsupportbeta.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("csapi: building the Cloud Support v2beta client: %w", err)
	}
	return &Client{cfg: cfg, svc: svc, beta: beta}, nil
}

// SearchUpdated returns every case under the configured parent whose update
// time is after since, following every page. A zero since returns every case.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.GoogleCase, error) {
	query := ""
	if !since.IsZero() {
		// Whole seconds, rounded down so no update is missed, with an
		// explicit offset as CSAPI requires.
		query = fmt.Sprintf("update_time>%q", since.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05-07:00"))
	}
	return c.search(ctx, query)
}

// SearchText returns the cases whose display name, description or comments
// contain phrase, using CSAPI's quoted full-text search.
func (c *Client) SearchText(ctx context.Context, phrase string) ([]casesync.GoogleCase, error) {
	if strings.TrimSpace(phrase) == "" {
		return nil, invalid("cases.search", "the search phrase is empty")
	}
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(phrase)
	return c.search(ctx, `"`+q+`"`)
}

func (c *Client) search(ctx context.Context, query string) ([]casesync.GoogleCase, error) {
	var out []casesync.GoogleCase
	index := map[string]int{}
	for _, parent := range append([]string{c.cfg.Parent}, c.cfg.MoreParents...) {
		if err := c.searchParent(ctx, parent, query, &out, index); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListOwnCases lists the cases casebridge created in the create parent,
// the open ones only unless closed is set: cases.list, which reads the
// cases themselves, not the search index, filtered on casebridge's
// identity.
func (c *Client) ListOwnCases(ctx context.Context, closed bool) ([]casesync.GoogleCase, error) {
	const op = "cases.list"
	filter := fmt.Sprintf(`creator.email=%q`, c.cfg.ConnectorEmail)
	if !closed {
		filter = "state=OPEN AND " + filter
	}
	var out []casesync.GoogleCase
	index := map[string]int{}
	err := c.pages(ctx, op, func(actx context.Context, token string) (string, error) {
		call := c.svc.Cases.List(c.cfg.CreateParent).Filter(filter).PageSize(c.cfg.PageSize).Context(actx)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			return "", err
		}
		return resp.NextPageToken, c.collect(resp.Cases, &out, index)
	})
	return out, err
}

// searchParent appends the cases of one parent matching query to out,
// keeping each case once (index: case name to its place in out).
func (c *Client) searchParent(ctx context.Context, parent, query string, out *[]casesync.GoogleCase, index map[string]int) error {
	const op = "cases.search"
	return c.pages(ctx, op, func(actx context.Context, token string) (string, error) {
		call := c.svc.Cases.Search(parent).PageSize(c.cfg.PageSize).Context(actx)
		if query != "" {
			call = call.Query(query)
		}
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			return "", err
		}
		return resp.NextPageToken, c.collect(resp.Cases, out, index)
	})
}

// collect appends a page of cases to out, keeping each case once: a case
// that moved between pages keeps its latest copy (index: case name to its
// place in out).
func (c *Client) collect(page []*cloudsupport.Case, out *[]casesync.GoogleCase, index map[string]int) error {
	for _, cs := range page {
		if cs == nil {
			continue
		}
		gc, err := c.toCase(cs)
		if err != nil {
			return err
		}
		if i, ok := index[gc.Name]; ok {
			(*out)[i] = gc
			continue
		}
		index[gc.Name] = len(*out)
		*out = append(*out, gc)
	}
	return nil
}

// GetCase reads one case.
func (c *Client) GetCase(ctx context.Context, name string) (casesync.GoogleCase, error) {
	const op = "cases.get"
	if err := checkCaseName(op, name); err != nil {
		return casesync.GoogleCase{}, err
	}
	var got *cloudsupport.Case
	err := c.call(ctx, op, idempotent, nil, func(actx context.Context) error {
		cs, err := c.svc.Cases.Get(name).Context(actx).Do()
		got = cs
		return err
	})
	if err != nil {
		return casesync.GoogleCase{}, err
	}
	return convert(op, got, c.toCase)
}

// CreateCase creates a case under CreateParent with the configured
// classification, test-case flag and time zone. It is not retried once the
// request may have reached CSAPI (see the package documentation).
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewGoogleCase) (casesync.GoogleCase, error) {
	const op = "cases.create"
	if nc.Priority < casesync.P0 || nc.Priority > casesync.P4 {
		return casesync.GoogleCase{}, invalid(op, "priority must be P0..P4")
	}
	if strings.TrimSpace(nc.DisplayName) == "" || strings.TrimSpace(nc.Description) == "" {
		return casesync.GoogleCase{}, invalid(op, "a case needs a display name and a description")
	}
	body := &cloudsupport.Case{
		DisplayName:    nc.DisplayName,
		Description:    nc.Description,
		Priority:       nc.Priority.String(),
		Classification: &cloudsupport.CaseClassification{Id: c.cfg.ClassificationID},
		TestCase:       c.cfg.TestCase,
		TimeZone:       c.cfg.TimeZone,
	}
	var got *cloudsupport.Case
	err := c.call(ctx, op, onlyIfUnsent, nil, func(actx context.Context) error {
		cs, err := c.svc.Cases.Create(c.cfg.CreateParent, body).Context(actx).Do()
		got = cs
		return err
	})
	if err != nil {
		return casesync.GoogleCase{}, err
	}
	return convert(op, got, c.toCase)
}

// SetPriority patches the case's priority alone (updateMask=priority).
func (c *Client) SetPriority(ctx context.Context, name string, p casesync.Priority) error {
	const op = "cases.patch"
	if err := checkCaseName(op, name); err != nil {
		return err
	}
	if p < casesync.P0 || p > casesync.P4 {
		return invalid(op, "priority must be P0..P4")
	}
	return c.call(ctx, op, idempotent, nil, func(actx context.Context) error {
		_, err := c.svc.Cases.Patch(name, &cloudsupport.Case{Priority: p.String()}).
			UpdateMask("priority").Context(actx).Do()
		return err
	})
}

// CloseCase closes the case. Closing a case that is already closed is not an
// error.
func (c *Client) CloseCase(ctx context.Context, name string) error {
	const op = "cases.close"
	if err := checkCaseName(op, name); err != nil {
		return err
	}
	err := c.call(ctx, op, idempotent, nil, func(actx context.Context) error {
		_, err := c.svc.Cases.Close(name, &cloudsupport.CloseCaseRequest{}).Context(actx).Do()
		return err
	})
	var ae *casesync.APIError
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusPreconditionFailed:
		// CSAPI refuses to close a closed case (FAILED_PRECONDITION); that
		// is the state we want.
		if gc, gerr := c.GetCase(ctx, name); gerr == nil && gc.Closed() {
			return nil
		}
	}
	return err
}

// escalationReasons are the reasons cases.escalate takes.
var escalationReasons = []string{"RESOLUTION_TIME", "TECHNICAL_EXPERTISE", "BUSINESS_IMPACT"}

// Escalate escalates the case. It is made only when the server certainly
// did not act on an earlier attempt: escalating twice is not the same as
// once. A plan without technical escalations answers 403.
func (c *Client) Escalate(ctx context.Context, name, reason, justification string) error {
	const op = "cases.escalate"
	if err := checkCaseName(op, name); err != nil {
		return err
	}
	if !slices.Contains(escalationReasons, reason) {
		return invalid(op, "escalation reason must be one of %s", strings.Join(escalationReasons, ", "))
	}
	if strings.TrimSpace(justification) == "" || !utf8.ValidString(justification) || len(justification) > casesync.MaxEscalationText {
		return invalid(op, "escalation justification must be non-empty UTF-8 of at most %d bytes", casesync.MaxEscalationText)
	}
	return c.call(ctx, op, onlyIfUnsent, nil, func(actx context.Context) error {
		_, err := c.svc.Cases.Escalate(name, &cloudsupport.EscalateCaseRequest{
			Escalation: &cloudsupport.Escalation{Reason: reason, Justification: justification},
		}).Context(actx).Do()
		return err
	})
}

// ListComments returns all comments of the case, oldest first (by create
// time, then name), each once.
func (c *Client) ListComments(ctx context.Context, name string) ([]casesync.Comment, error) {
	const op = "comments.list"
	if err := checkCaseName(op, name); err != nil {
		return nil, err
	}
	byName := map[string]*cloudsupport.Comment{}
	err := c.pages(ctx, op, func(actx context.Context, token string) (string, error) {
		call := c.svc.Cases.Comments.List(name).PageSize(c.cfg.PageSize).Context(actx)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			return "", err
		}
		for _, cm := range resp.Comments {
			if cm != nil {
				byName[cm.Name] = cm
			}
		}
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Comment, 0, len(byName))
	for _, cm := range byName {
		m, err := convert(op, cm, c.toComment)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// Names differ only in their last segment within one case, so ordering
	// by ID is ordering by name.
	sortOldestFirst(out, func(m casesync.Comment) (time.Time, string) { return m.CreateTime, m.ID })
	return out, nil
}

// AddComment posts a comment as the connector. Bodies longer than
// casesync.MaxGoogleCommentLen characters are refused before any call with a
// permanent error wrapping *CommentTooLongError. It is not retried once the
// request may have reached CSAPI (see the package documentation).
func (c *Client) AddComment(ctx context.Context, name, body string) (casesync.Comment, error) {
	const op = "comments.create"
	if err := checkCaseName(op, name); err != nil {
		return casesync.Comment{}, err
	}
	if n := utf8.RuneCountInString(body); n > casesync.MaxGoogleCommentLen {
		return casesync.Comment{}, &casesync.APIError{
			Side: casesync.SideGoogle,
			Op:   op,
			Err:  &CommentTooLongError{Len: n, Max: casesync.MaxGoogleCommentLen},
		}
	}
	if strings.TrimSpace(body) == "" {
		return casesync.Comment{}, invalid(op, "the comment body is empty")
	}
	var got *cloudsupport.Comment
	err := c.call(ctx, op, onlyIfUnsent, nil, func(actx context.Context) error {
		cm, err := c.svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: body}).Context(actx).Do()
		got = cm
		return err
	})
	if err != nil {
		return casesync.Comment{}, err
	}
	m, err := convert(op, got, c.toComment)
	if err != nil {
		return casesync.Comment{}, err
	}
	// Written by this call, so by the connector whatever the creator says.
	m.ByConnector = true
	return m, nil
}

// ListAttachments returns all attachments of the case, oldest first (by
// create time, then name), each once.
func (c *Client) ListAttachments(ctx context.Context, name string) ([]casesync.Attachment, error) {
	const op = "attachments.list"
	if err := checkCaseName(op, name); err != nil {
		return nil, err
	}
	size := min(c.cfg.PageSize, maxAttachmentPage)
	byName := map[string]*cloudsupport.Attachment{}
	err := c.pages(ctx, op, func(actx context.Context, token string) (string, error) {
		call := c.svc.Cases.Attachments.List(name).PageSize(size).Context(actx)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			return "", err
		}
		for _, a := range resp.Attachments {
			if a != nil {
				byName[a.Name] = a
			}
		}
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(byName))
	for _, a := range byName {
		m, err := convert(op, a, c.toAttachment)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sortOldestFirst(out, func(m casesync.Attachment) (time.Time, string) { return m.CreateTime, m.ID })
	return out, nil
}

// DownloadAttachment streams the bytes of one attachment of the case. The
// caller closes the stream. attachmentID is the last segment of the
// attachment name (a full attachment name is accepted too).
func (c *Client) DownloadAttachment(ctx context.Context, caseName, attachmentID string) (io.ReadCloser, error) {
	const op = "media.download"
	if err := checkCaseName(op, caseName); err != nil {
		return nil, err
	}
	name := attachmentID
	if !strings.Contains(attachmentID, "/attachments/") {
		if !casesync.ValidID(attachmentID) {
			return nil, invalid(op, "the attachment id is malformed")
		}
		name = caseName + "/attachments/" + attachmentID
	} else if a, ok := strings.CutPrefix(attachmentID, caseName+"/attachments/"); !ok || !casesync.ValidID(a) {
		return nil, invalid(op, "the attachment name is malformed or belongs to another case")
	}
	var body io.ReadCloser
	err := c.call(ctx, op, idempotent, nil, func(context.Context) error {
		// The body must outlive this attempt, so the attempt's own context
		// (cancelled on return) is not used; the timeout covers the wait for
		// the response headers only.
		dctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(c.cfg.CallTimeout, cancel)
		res, err := c.svc.Media.Download(name).Context(dctx).Download()
		if !timer.Stop() && err == nil {
			res.Body.Close()
			err = context.DeadlineExceeded
		}
		if err != nil {
			cancel()
			return err
		}
		body = &downloadBody{rc: res.Body, cancel: cancel, ctx: ctx}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return body, nil
}

// downloadBody is a download stream; read failures come back as transient
// APIErrors, and Close releases the request.
type downloadBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	ctx    context.Context
}

func (d *downloadBody) Read(p []byte) (int, error) {
	n, err := d.rc.Read(p)
	if err != nil && err != io.EOF {
		return n, classify(d.ctx, "media.download", err).err
	}
	return n, err
}

func (d *downloadBody) Close() error {
	err := d.rc.Close()
	d.cancel()
	return err
}

// UploadAttachment streams r to the case as one attachment, in a single
// multipart request. It is retried after a transient failure only when the
// server certainly did not act on the request and r is also an io.Seeker,
// so it can be sent again from where it started.
func (c *Client) UploadAttachment(ctx context.Context, caseName, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = "media.upload"
	if err := checkCaseName(op, caseName); err != nil {
		return casesync.Attachment{}, err
	}
	if strings.TrimSpace(filename) == "" {
		return casesync.Attachment{}, invalid(op, "an attachment needs a file name")
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	policy := never
	var prepare beforeRetry
	seeker, ok := r.(io.Seeker)
	if ok {
		if start, err := seeker.Seek(0, io.SeekCurrent); err == nil {
			policy = onlyIfUnsent
			prepare = func() error {
				_, err := seeker.Seek(start, io.SeekStart)
				return err
			}
		}
	}
	req := &cloudsupport.CreateAttachmentRequest{Attachment: &cloudsupport.Attachment{Filename: filename}}
	var got *cloudsupport.Attachment
	err := c.call(ctx, op, policy, prepare, func(actx context.Context) error {
		// The client may still be reading the file part after the response
		// has arrived; the guard stops that before the next attempt rewinds
		// the reader or the caller gets it back.
		g := &guardedReader{r: r}
		defer g.retire()
		a, err := c.svc.Media.Upload(caseName, req).
			Media(g, googleapi.ChunkSize(0), googleapi.ContentType(mimeType)).
			Context(actx).Do()
		got = a
		return err
	})
	if err != nil {
		return casesync.Attachment{}, err
	}
	m, err := convert(op, got, c.toAttachment)
	if err != nil {
		return casesync.Attachment{}, err
	}
	m.ByConnector = true
	return m, nil
}

// errAttemptOver is what a guarded reader returns once its attempt is over.
var errAttemptOver = errors.New("csapi: upload attempt is over")

// guardedReader hands out the caller's reader for one upload attempt only.
type guardedReader struct {
	mu      sync.Mutex
	r       io.Reader
	retired bool
}

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retired {
		return 0, errAttemptOver
	}
	return g.r.Read(p)
}

// retire waits for a read in progress, then refuses further reads.
func (g *guardedReader) retire() {
	g.mu.Lock()
	g.retired = true
	g.mu.Unlock()
}

// pages calls fetch with each page token in turn, starting with "", until a
// page comes back without a next token. Each page is one retried call.
func (c *Client) pages(ctx context.Context, op string, fetch func(ctx context.Context, token string) (string, error)) error {
	seen := map[string]bool{}
	token := ""
	for n := 1; ; n++ {
		var next string
		err := c.call(ctx, op, idempotent, nil, func(actx context.Context) error {
			n, err := fetch(actx, token)
			next = n
			return err
		})
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if seen[next] {
			return &casesync.APIError{Side: casesync.SideGoogle, Op: op,
				Err: errors.New("the API returned a page token it had already returned")}
		}
		if n >= c.cfg.MaxPages {
			return &casesync.APIError{Side: casesync.SideGoogle, Op: op,
				Err: fmt.Errorf("listing stopped: it has more than %d pages", c.cfg.MaxPages)}
		}
		seen[next] = true
		token = next
	}
}

// checkCaseName refuses a malformed case name before it reaches a URL: names
// come from outside (messages, CRM fields) and must never add path segments.
func checkCaseName(op, name string) error {
	if !casesync.ValidGoogleCaseName(name) {
		return invalid(op, "the case name is malformed: want projects/P/cases/N or organizations/N/cases/N")
	}
	return nil
}

// InScope reports whether a case name lies under the configured parents:
// under an organization, its own cases and any project's (casebridge's
// rights on the organization decide what it can read); under projects, only
// those projects.
func (c *Client) InScope(name string) bool {
	parent := casesync.GoogleCaseParent(name)
	if parent == "" {
		return false
	}
	for _, p := range append([]string{c.cfg.Parent, c.cfg.CreateParent}, c.cfg.MoreParents...) {
		if parent == p {
			return true
		}
	}
	return strings.HasPrefix(c.cfg.Parent, "organizations/") && strings.HasPrefix(parent, "projects/")
}
