package jirasm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the sync user's IANA time zone must load on any host

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// The operations the adapter makes, as errors and Calls name them.
const (
	OpMyself              = "myself"
	OpSearch              = "issues.search"
	OpGet                 = "issues.get"
	OpCreate              = "issues.create"
	OpEdit                = "issues.edit"
	OpListTransitions     = "transitions.list"
	OpTransition          = "transitions.do"
	OpListComments        = "comments.list"
	OpAddComment          = "comments.add"
	OpListAttachments     = "attachments.list"
	OpDownloadAttachment  = "attachments.download"
	OpAttachmentMedia     = "attachments.media"
	OpUploadAttachment    = "attachments.upload"
	defaultUploadBuffered = 8 << 20
)

// Client is the Jira Service Management adapter. It implements
// casesync.CRM and is safe for concurrent use.
type Client struct {
	cfg        Config
	http       *crmhttp.Client
	priorities map[string]string // lower-case name → configured name
	closed     map[string]bool   // lower-case status names counted as closed

	// UploadBufferBytes: files up to this size are sent from memory (and
	// tried again after a 429); larger ones are streamed once. Default 8 MiB.
	UploadBufferBytes int64

	mu sync.Mutex
	me *myself
	// media remembers each attachment's media host id (see mediaID).
	media map[string]string
}

// myself is the sync user, looked up once.
type myself struct {
	AccountID string `json:"accountId"`
	TimeZone  string `json:"timeZone"`
	loc       *time.Location
	// zoneKnown is false when the time zone could not be loaded; searches
	// then reach back a day more to be safe.
	zoneKnown bool
}

var _ casesync.CRM = (*Client)(nil)
var _ casesync.CreationLookupLag = (*Client)(nil)
var _ casesync.ItemLister = (*Client)(nil)

// New returns a Client for cfg. It makes no call.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, priorities: map[string]string{}, closed: map[string]bool{}, UploadBufferBytes: defaultUploadBuffered,
		media: map[string]string{}}
	for _, p := range cfg.Priorities {
		c.priorities[strings.ToLower(p)] = p
	}
	for _, s := range cfg.ClosedStatuses {
		c.closed[strings.ToLower(s)] = true
	}
	c.http = crmhttp.New(crmhttp.Config{
		Vendor:  vendor,
		BaseURL: cfg.BaseURL,
		HTTP:    cfg.HTTP,
		Authorize: func(r *http.Request) {
			r.SetBasicAuth(cfg.Email, cfg.APIToken)
		},
		CredentialVars:   []string{EnvEmail, EnvAPIToken},
		RatePerSecond:    cfg.RatePerSecond,
		ErrorDetail:      errorDetail,
		MaxPages:         cfg.MaxPages,
		MaxDownloadBytes: cfg.MaxDownloadBytes,
	})
	return c, nil
}

// CreationLookupLag is how long after its creation an issue may still be
// missing from FindByGoogleCase: JQL search is not read-after-write, so the
// engine waits this long after a creation that may have happened before
// creating again.
func (c *Client) CreationLookupLag() time.Duration { return c.cfg.searchLag() }

// Calls returns how many attempts each operation has made.
func (c *Client) Calls() map[string]int64 { return c.http.Calls() }

// Check proves the site URL and credentials work with one cheap call.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.lookupMyself(ctx)
	return err
}

// errorDetail gives Jira's error message and the names of the fields it
// refused, never their values, from the platform API's body
// {"errorMessages":[…],"errors":{field:…}}.
func errorDetail(status int, body []byte) string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var parts []string
	if len(e.ErrorMessages) > 0 {
		parts = append(parts, clip(e.ErrorMessages[0], 200))
	}
	if len(e.Errors) > 0 {
		fields := make([]string, 0, len(e.Errors))
		for f := range e.Errors {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		parts = append(parts, "refused fields: "+strings.Join(fields, ", "))
	}
	return strings.Join(parts, "; ")
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// lookupMyself asks who the sync user is and caches the answer.
func (c *Client) lookupMyself(ctx context.Context) (*myself, error) {
	var me myself
	if err := c.http.JSON(ctx, crmhttp.Request{Op: OpMyself, Path: "/rest/api/3/myself", Mode: crmhttp.Safe}, &me); err != nil {
		return nil, err
	}
	if me.AccountID == "" {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: OpMyself, Transient: true,
			Err: fmt.Errorf("%s: the who-am-I answer has no accountId", vendor)}
	}
	me.loc, me.zoneKnown = time.UTC, false
	if me.TimeZone != "" {
		if loc, err := time.LoadLocation(me.TimeZone); err == nil {
			me.loc, me.zoneKnown = loc, true
		}
	}
	c.mu.Lock()
	c.me = &me
	c.mu.Unlock()
	return &me, nil
}

// whoAmI returns the cached sync user, looking it up the first time.
func (c *Client) whoAmI(ctx context.Context) (*myself, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil {
		return me, nil
	}
	return c.lookupMyself(ctx)
}

// issuePath is the platform API path of an issue.
func issuePath(id string, rest ...string) string {
	return "/rest/api/3/issue/" + url.PathEscape(id) + strings.Join(rest, "")
}

// caseFields are the fields a CompanyCase is read from.
func (c *Client) caseFields() []string {
	fields := []string{"summary", "description", "priority", "status", "created", "updated", c.cfg.SyncFlagField, c.cfg.GoogleCaseField}
	if c.cfg.EscalationLabel != "" {
		fields = append(fields, "labels")
	}
	for _, f := range []string{c.cfg.EscalationField, c.cfg.EscalationReasonField, c.cfg.EscalationJustificationField} {
		if f != "" && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return fields
}

// issueJSON is an issue as the platform API gives it.
type issueJSON struct {
	ID     string                     `json:"id"`
	Key    string                     `json:"key"`
	Fields map[string]json.RawMessage `json:"fields"`
	// readAt is the Date of the answer that held the issue: Jira's own
	// clock then. It is not in the JSON.
	readAt time.Time
}

// jiraTime reads Jira's timestamps, e.g. "2026-03-01T10:00:05.123+0100".
func jiraTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func (c *Client) toCase(is issueJSON) casesync.CompanyCase {
	f := is.Fields
	var summary string
	_ = json.Unmarshal(f["summary"], &summary)
	var prio struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(f["priority"], &prio)
	var gc string
	_ = json.Unmarshal(f[c.cfg.GoogleCaseField], &gc)
	return casesync.CompanyCase{
		ID:          is.Key,
		Subject:     summary,
		Description: adfToText(f["description"]),
		Priority:    prio.Name,
		Closed:      c.isClosed(f["status"]),
		SyncFlag:    c.flagged(f[c.cfg.SyncFlagField]),
		GoogleCase:  gc,
		CreateTime:  jiraTime(f["created"]),
		UpdateTime:  jiraTime(f["updated"]),
		Escalation:  c.escalation(f),
		ReadAt:      is.readAt,
	}
}

// isClosed: the status is in the Done category, or a configured one.
func (c *Client) isClosed(raw json.RawMessage) bool {
	var st struct {
		Name     string `json:"name"`
		Category struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return false
	}
	return st.Category.Key == "done" || c.closed[strings.ToLower(st.Name)]
}

// flagged reads the sync flag: a checkbox (array of options), a select
// (one option), or a boolean-like value.
func (c *Client) flagged(raw json.RawMessage) bool {
	type option struct {
		Value string `json:"value"`
	}
	var opts []option
	if json.Unmarshal(raw, &opts) == nil {
		for _, o := range opts {
			if strings.EqualFold(o.Value, c.cfg.SyncFlagValue) {
				return true
			}
		}
		return false
	}
	var one option
	if json.Unmarshal(raw, &one) == nil && one.Value != "" {
		return strings.EqualFold(one.Value, c.cfg.SyncFlagValue)
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(s, c.cfg.SyncFlagValue)
	}
	return false
}

// GetCase reads one issue.
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	if err := checkID(OpGet, id); err != nil {
		return casesync.CompanyCase{}, err
	}
	var is issueJSON
	at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: OpGet, Path: issuePath(id),
		Query: url.Values{"fields": {strings.Join(c.caseFields(), ",")}}, Mode: crmhttp.Safe}, &is)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	is.readAt = at
	return c.toCase(is), nil
}

// checkID refuses an id that cannot name an issue, as not found.
func checkID(op, id string) error {
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, "/?#") {
		return crmhttp.NotFoundError(vendor, op, "issue "+casesync.Quote(id))
	}
	return nil
}

// jqlString quotes a JQL string value.
func jqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// cf names a custom field in JQL: customfield_10050 → cf[10050].
func cf(field string) string {
	return "cf[" + strings.TrimPrefix(field, "customfield_") + "]"
}

// jqlSince renders the lower bound of a search. JQL dates are read in the
// sync user's time zone at minute granularity: the bound is moved a minute
// earlier and truncated, an hour more around a daylight-saving change
// (where a local time is ambiguous), and a day more when the zone is
// unknown. Results are filtered exactly afterwards.
func jqlSince(since time.Time, me *myself) string {
	t := since.Add(-time.Minute)
	_, before := t.Add(-2 * time.Hour).In(me.loc).Zone()
	_, now := t.In(me.loc).Zone()
	_, after := t.Add(2 * time.Hour).In(me.loc).Zone()
	if before != now || now != after {
		t = t.Add(-time.Hour)
	}
	if !me.zoneKnown {
		t = t.Add(-26 * time.Hour)
	}
	return t.In(me.loc).Format("2006-01-02 15:04")
}

// search runs a JQL query over every page. The listing is bounded: it
// stops with crmhttp.ErrPaging past MaxPages, on a page token seen before,
// or on an empty page that names a next one.
func (c *Client) search(ctx context.Context, jql string) ([]issueJSON, error) {
	var out []issueJSON
	pager := c.http.NewPager(OpSearch)
	token := ""
	for {
		body := map[string]any{"jql": jql, "fields": c.caseFields(), "maxResults": c.cfg.PageSize}
		if token != "" {
			body["nextPageToken"] = token
		}
		var page struct {
			Issues        []issueJSON `json:"issues"`
			NextPageToken string      `json:"nextPageToken"`
			IsLast        *bool       `json:"isLast"`
		}
		at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: OpSearch, Method: http.MethodPost, Path: "/rest/api/3/search/jql",
			Body: crmhttp.JSONBody(body), ContentType: "application/json", Mode: crmhttp.Safe}, &page)
		if err != nil {
			return nil, err
		}
		for i := range page.Issues {
			page.Issues[i].readAt = at
		}
		out = append(out, page.Issues...)
		more := page.NextPageToken != "" && (page.IsLast == nil || !*page.IsLast)
		if err := pager.Page(token, len(page.Issues), more); err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// SearchUpdated returns the flagged or linked issues of the project
// updated strictly after since.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	me, err := c.whoAmI(ctx)
	if err != nil {
		return nil, err
	}
	clauses := []string{"project = " + jqlString(c.cfg.ProjectKey)}
	if !since.IsZero() {
		clauses = append(clauses, "updated >= "+jqlString(jqlSince(since, me)))
	}
	clauses = append(clauses, fmt.Sprintf("(%s = %s OR %s is not EMPTY)",
		cf(c.cfg.SyncFlagField), jqlString(c.cfg.SyncFlagValue), cf(c.cfg.GoogleCaseField)))
	issues, err := c.search(ctx, strings.Join(clauses, " AND ")+" ORDER BY updated ASC")
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	var out []casesync.CompanyCase
	for _, is := range issues {
		cc := c.toCase(is)
		if !cc.UpdateTime.After(since) || (!cc.SyncFlag && cc.GoogleCase == "") {
			continue
		}
		if i, ok := index[cc.ID]; ok {
			// The issue moved between pages while we read: keep the newer.
			if cc.UpdateTime.After(out[i].UpdateTime) {
				out[i] = cc
			}
			continue
		}
		index[cc.ID] = len(out)
		out = append(out, cc)
	}
	return out, nil
}

// FindByGoogleCase finds the issue whose Google-case field holds name. The
// field is text, which JQL searches by phrase; the match is made exact
// here. With several, the oldest wins. JQL search is eventually consistent:
// an issue created or changed up to CreationLookupLag ago may be missed.
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	if strings.TrimSpace(name) == "" {
		return casesync.CompanyCase{}, false, nil
	}
	jql := fmt.Sprintf("project = %s AND %s ~ %s ORDER BY created ASC",
		jqlString(c.cfg.ProjectKey), cf(c.cfg.GoogleCaseField), jqlString(`"`+name+`"`))
	issues, err := c.search(ctx, jql)
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	var best casesync.CompanyCase
	found := false
	for _, is := range issues {
		cc := c.toCase(is)
		if cc.GoogleCase != name {
			continue
		}
		if !found || cc.CreateTime.Before(best.CreateTime) {
			best, found = cc, true
		}
	}
	return best, found, nil
}

// priority returns the configured spelling of a priority value.
func (c *Client) priority(op, p string) (string, error) {
	v, ok := c.priorities[strings.ToLower(strings.TrimSpace(p))]
	if !ok {
		return "", crmhttp.Invalid(vendor, op, "priority %q is not one of %s (set %s)", p, strings.Join(c.cfg.Priorities, ", "), EnvPriorities)
	}
	return v, nil
}

// summary makes a Google case's title a valid Jira summary: one line of at
// most 255 characters.
func summary(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 255 {
		s = string(r[:254]) + "…"
	}
	if s == "" {
		s = "(no subject)"
	}
	return s
}

// CreateCase creates an issue with its Google case set, then reads it back.
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	fields := map[string]any{
		"project":   map[string]string{"key": c.cfg.ProjectKey},
		"issuetype": c.cfg.issueTypeJSON(),
		"summary":   summary(nc.Subject),
	}
	if doc := textToADF(nc.Description); doc != nil {
		fields["description"] = doc
	}
	if nc.Priority != "" {
		p, err := c.priority(OpCreate, nc.Priority)
		if err != nil {
			return casesync.CompanyCase{}, err
		}
		fields["priority"] = map[string]string{"name": p}
	}
	if nc.GoogleCase != "" {
		fields[c.cfg.GoogleCaseField] = nc.GoogleCase
	}
	if c.cfg.RequestTypeField != "" {
		fields[c.cfg.RequestTypeField] = c.cfg.RequestTypeID
	}
	var created struct {
		Key string `json:"key"`
	}
	err := c.http.JSON(ctx, crmhttp.Request{Op: OpCreate, Method: http.MethodPost, Path: "/rest/api/3/issue",
		Body: crmhttp.JSONBody(map[string]any{"fields": fields}), ContentType: "application/json", Mode: crmhttp.IfRefused}, &created)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	if created.Key == "" {
		return casesync.CompanyCase{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpCreate,
			Err: fmt.Errorf("%s: the created issue's key is missing from the answer", vendor)}
	}
	got, err := c.GetCase(ctx, created.Key)
	if err != nil {
		// The issue exists: report what was written rather than make the
		// engine create it again.
		now := time.Now()
		return casesync.CompanyCase{ID: created.Key, Subject: summary(nc.Subject), Description: nc.Description,
			Priority: fieldString(fields["priority"]), GoogleCase: nc.GoogleCase, CreateTime: now, UpdateTime: now}, nil
	}
	return got, nil
}

func fieldString(v any) string {
	if m, ok := v.(map[string]string); ok {
		return m["name"]
	}
	return ""
}

// edit sets fields of an issue (idempotent).
func (c *Client) edit(ctx context.Context, id string, fields map[string]any) error {
	if err := checkID(OpEdit, id); err != nil {
		return err
	}
	return c.http.JSON(ctx, crmhttp.Request{Op: OpEdit, Method: http.MethodPut, Path: issuePath(id),
		Body: crmhttp.JSONBody(map[string]any{"fields": fields}), ContentType: "application/json", Mode: crmhttp.Safe}, nil)
}

// SetGoogleCase writes the Google-case field.
func (c *Client) SetGoogleCase(ctx context.Context, id, googleCaseName string) error {
	return c.edit(ctx, id, map[string]any{c.cfg.GoogleCaseField: googleCaseName})
}

// SetPriority sets the issue's priority by name.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	p, err := c.priority(OpEdit, priority)
	if err != nil {
		return err
	}
	return c.edit(ctx, id, map[string]any{"priority": map[string]string{"name": p}})
}

// CloseCase moves the issue along the close transition, unless it is
// already closed.
func (c *Client) CloseCase(ctx context.Context, id string) error {
	if err := checkID(OpGet, id); err != nil {
		return err
	}
	var is issueJSON
	err := c.http.JSON(ctx, crmhttp.Request{Op: OpGet, Path: issuePath(id), Query: url.Values{"fields": {"status"}}, Mode: crmhttp.Safe}, &is)
	if err != nil {
		return err
	}
	if c.isClosed(is.Fields["status"]) {
		return nil
	}
	var list struct {
		Transitions []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"transitions"`
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: OpListTransitions, Path: issuePath(id, "/transitions"), Mode: crmhttp.Safe}, &list); err != nil {
		return err
	}
	var names []string
	for _, t := range list.Transitions {
		if !strings.EqualFold(strings.TrimSpace(t.Name), c.cfg.CloseTransition) {
			names = append(names, strconv.Quote(t.Name))
			continue
		}
		body := map[string]any{"transition": map[string]string{"id": t.ID}}
		if c.cfg.CloseResolution != "" {
			body["fields"] = map[string]any{"resolution": map[string]string{"name": c.cfg.CloseResolution}}
		}
		return c.http.JSON(ctx, crmhttp.Request{Op: OpTransition, Method: http.MethodPost, Path: issuePath(id, "/transitions"),
			Body: crmhttp.JSONBody(body), ContentType: "application/json", Mode: crmhttp.IfRefused}, nil)
	}
	return crmhttp.Invalid(vendor, OpTransition, "issue %s has no transition named %q (set %s to one of: %s)",
		id, c.cfg.CloseTransition, EnvCloseTransition, strings.Join(names, ", "))
}

// internalProperty is the comment property Jira Service Management reads
// to keep a comment agent-only: {"internal": true} makes it an internal
// note. Comments written without it are public replies.
const internalProperty = "sd.public.comment"

// commentJSON is a comment as the platform API gives it (with
// expand=properties).
type commentJSON struct {
	ID     string          `json:"id"`
	Body   json.RawMessage `json:"body"`
	Author struct {
		AccountID   string `json:"accountId"`
		DisplayName string `json:"displayName"`
	} `json:"author"`
	Created json.RawMessage `json:"created"`
	// JSDPublic is Jira's own reading of the property, when it gives one.
	JSDPublic *bool `json:"jsdPublic"`
	// Visibility restricts the comment to a role or group.
	Visibility *struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"visibility"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// public reports whether customers see the comment. It fails closed: a
// comment is public only when something says so and nothing says
// otherwise. Jira's own reading (jsdPublic) must not say internal; the
// service desk property, when present, must read {"internal": false}
// exactly (any other value, or one that cannot be read, is internal), and
// when it is absent jsdPublic must say true; and the comment must not be
// restricted to a role or group (such a comment must not leave the
// helpdesk either).
func (cj commentJSON) public() bool {
	if cj.JSDPublic != nil && !*cj.JSDPublic {
		return false
	}
	if cj.Visibility != nil && (cj.Visibility.Type != "" || cj.Visibility.Value != "") {
		return false
	}
	said := false // the service desk property said public
	for _, p := range cj.Properties {
		if p.Key != internalProperty {
			continue
		}
		// The value is read by exact key, as Jira reads it: encoding/json
		// would also take "Internal" or "INTERNAL" into a struct field, so
		// {"internal":true,"Internal":false} would read as public.
		var v map[string]json.RawMessage
		if json.Unmarshal(p.Value, &v) != nil || strings.TrimSpace(string(v["internal"])) != "false" {
			return false
		}
		said = true
	}
	// Without the property, only Jira's own word makes a comment public: a
	// comment that neither says is unclear, and unclear is internal.
	return said || (cj.JSDPublic != nil && *cj.JSDPublic)
}

func (c *Client) toComment(cj commentJSON, me *myself) casesync.Comment {
	return casesync.Comment{
		ID:          cj.ID,
		Body:        adfToText(cj.Body),
		AuthorName:  cj.Author.DisplayName,
		ByConnector: cj.Author.AccountID != "" && cj.Author.AccountID == me.AccountID,
		Public:      cj.public(),
		CreateTime:  jiraTime(cj.Created),
	}
}

// ListComments returns every public reply and internal note, oldest first,
// through the platform API, which (unlike the service desk API) serves
// issues without a request type. Jira does not list the description as a
// comment.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	if err := checkID(OpListComments, id); err != nil {
		return nil, err
	}
	me, err := c.whoAmI(ctx)
	if err != nil {
		return nil, err
	}
	list, err := c.listComments(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.toComments(list, me), nil
}

// toComments converts an issue's comments for ListComments, oldest first.
func (c *Client) toComments(list []commentJSON, me *myself) []casesync.Comment {
	out := make([]casesync.Comment, 0, len(list))
	for _, cj := range list {
		out = append(out, c.toComment(cj, me))
	}
	slices.SortStableFunc(out, func(a, b casesync.Comment) int { return a.CreateTime.Compare(b.CreateTime) })
	return out
}

// ListItems returns what ListComments and ListAttachments return, reading
// the issue's comments once: ListAttachments needs them too, to tell which
// files a public reply shows. It reads the issue's attachment and
// description fields and every page of its comments with their
// properties.
//
// It does not take the comments from the issue's own comment field (GET
// issue with fields=comment,attachment), which would make it one call: that
// field gives no comment properties (only the comment endpoints take
// expand=properties), so it cannot tell internal notes as ListComments
// does, and Jira caps how many comments it holds.
func (c *Client) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	if err := checkID(OpListComments, id); err != nil {
		return nil, nil, err
	}
	me, err := c.whoAmI(ctx)
	if err != nil {
		return nil, nil, err
	}
	list, err := c.listComments(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	atts, err := c.attachments(ctx, id, me, func(context.Context) ([]commentJSON, error) { return list, nil })
	if err != nil {
		return nil, nil, err
	}
	return c.toComments(list, me), atts, nil
}

// listComments reads every comment of an issue with its properties, page
// by page (startAt/total). The listing is bounded: it stops with
// crmhttp.ErrPaging past MaxPages or on an empty page while the total
// says more follow.
func (c *Client) listComments(ctx context.Context, id string) ([]commentJSON, error) {
	var out []commentJSON
	seen := map[string]bool{}
	pager := c.http.NewPager(OpListComments)
	for start := 0; ; {
		var page struct {
			StartAt  int           `json:"startAt"`
			Total    int           `json:"total"`
			Comments []commentJSON `json:"comments"`
		}
		q := url.Values{"startAt": {strconv.Itoa(start)}, "maxResults": {strconv.Itoa(c.cfg.PageSize)},
			"orderBy": {"created"}, "expand": {"properties"}}
		if err := c.http.JSON(ctx, crmhttp.Request{Op: OpListComments, Path: issuePath(id, "/comment"), Query: q, Mode: crmhttp.Safe}, &page); err != nil {
			return nil, err
		}
		for _, cj := range page.Comments {
			// A comment added while we page may shift one onto the next page.
			if seen[cj.ID] {
				continue
			}
			seen[cj.ID] = true
			out = append(out, cj)
		}
		next := start + len(page.Comments)
		more := next < page.Total
		if err := pager.Page(strconv.Itoa(start), len(page.Comments), more); err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		start = next
	}
}

// AddComment adds a public reply or an internal note as the sync user. The
// body is sent as an Atlassian Document that reads back as written; every
// comment carries the service desk's internal property saying which it is.
// When Jira's answer gives its own reading of the visibility (jsdPublic)
// and it differs from what was asked, the call fails for good: the comment
// is stored, but not as asked, and a human must look at it.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if err := crmhttp.CheckText(vendor, OpAddComment, body); err != nil {
		return casesync.Comment{}, err
	}
	if err := checkID(OpAddComment, id); err != nil {
		return casesync.Comment{}, err
	}
	me, err := c.whoAmI(ctx)
	if err != nil {
		return casesync.Comment{}, err
	}
	in := map[string]any{
		"body": textToADF(body),
		"properties": []any{map[string]any{
			"key": internalProperty, "value": map[string]bool{"internal": !public},
		}},
	}
	var cj commentJSON
	err = c.http.JSON(ctx, crmhttp.Request{Op: OpAddComment, Method: http.MethodPost, Path: issuePath(id, "/comment"),
		Body: crmhttp.JSONBody(in), ContentType: "application/json", Mode: crmhttp.IfRefused}, &cj)
	if err != nil {
		return casesync.Comment{}, err
	}
	if cj.ID == "" {
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpAddComment,
			Err: fmt.Errorf("%s: the added comment's id is missing from the answer", vendor)}
	}
	if cj.JSDPublic != nil && *cj.JSDPublic != public {
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpAddComment,
			Err: fmt.Errorf("%s: comment %s on issue %s was stored with jsdPublic %t, but %s was asked: the comment's visibility differs from what was asked (check that the project is a service project and that nothing rewrites the %q property)",
				vendor, cj.ID, id, *cj.JSDPublic, visibilityName(public), internalProperty)}
	}
	got := c.toComment(cj, me)
	// The answer carries no properties: with jsdPublic agreeing, or absent,
	// what was sent is what was stored.
	got.Public = public
	if len(cj.Body) == 0 {
		got.Body = body
	}
	if got.CreateTime.IsZero() {
		got.CreateTime = time.Now()
	}
	return got, nil
}

func visibilityName(public bool) string {
	if public {
		return "a public reply"
	}
	return "an internal note"
}

// attachmentJSON is an attachment as the platform API gives it.
type attachmentJSON struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Author   struct {
		AccountID   string `json:"accountId"`
		DisplayName string `json:"displayName"`
	} `json:"author"`
	Created  json.RawMessage `json:"created"`
	Size     int64           `json:"size"`
	MimeType string          `json:"mimeType"`
}

func (c *Client) toAttachment(a attachmentJSON, me *myself) casesync.Attachment {
	return casesync.Attachment{
		ID:          a.ID,
		Filename:    a.Filename,
		MimeType:    a.MimeType,
		Size:        a.Size,
		AuthorName:  a.Author.DisplayName,
		ByConnector: a.Author.AccountID != "" && a.Author.AccountID == me.AccountID,
		CreateTime:  jiraTime(a.Created),
	}
}

// ListAttachments lists the files of the issue's attachment field, oldest
// first, each marked Public only when it can be shown that customers see
// it.
//
// Jira keeps every file as an attachment of the issue, whether it was put
// in a comment or attached to the issue directly; a file put in a comment
// or the description is named there by a media node carrying the file's
// id on Atlassian's media host, which is not the attachment's numeric id.
// The media id is learnt from where GET /rest/api/3/attachment/content/{id}
// redirects to (…/file/{media id}/binary) and kept, as attachments never
// change. A file is public when a public reply or the description names
// it; a file only internal notes name, a file no comment names (attached
// to the issue directly, which Jira Service Management shows to agents
// only) and a file whose media id cannot be learnt are not.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	if err := checkID(OpListAttachments, id); err != nil {
		return nil, err
	}
	me, err := c.whoAmI(ctx)
	if err != nil {
		return nil, err
	}
	return c.attachments(ctx, id, me, func(ctx context.Context) ([]commentJSON, error) { return c.listComments(ctx, id) })
}

// attachments lists the issue's files for ListAttachments; comments gives
// the issue's comments, asked for only when a file may be public.
func (c *Client) attachments(ctx context.Context, id string, me *myself, comments func(context.Context) ([]commentJSON, error)) ([]casesync.Attachment, error) {
	var is struct {
		Fields struct {
			Attachment  []attachmentJSON `json:"attachment"`
			Description json.RawMessage  `json:"description"`
		} `json:"fields"`
	}
	err := c.http.JSON(ctx, crmhttp.Request{Op: OpListAttachments, Path: issuePath(id), Query: url.Values{"fields": {"attachment,description"}}, Mode: crmhttp.Safe}, &is)
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(is.Fields.Attachment))
	for _, a := range is.Fields.Attachment {
		out = append(out, c.toAttachment(a, me))
	}
	if err := c.markPublic(ctx, is.Fields.Description, out, comments); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b casesync.Attachment) int { return a.CreateTime.Compare(b.CreateTime) })
	return out, nil
}

// markPublic sets Public on the files a public reply or the description
// names. casebridge's own uploads, attached to the issue directly, stay
// not public and cost no call; the comments are asked for only when
// another file is there.
func (c *Client) markPublic(ctx context.Context, description json.RawMessage, atts []casesync.Attachment, comments func(context.Context) ([]commentJSON, error)) error {
	others := 0
	for _, a := range atts {
		if !a.ByConnector {
			others++
		}
	}
	if others == 0 {
		return nil
	}
	shown := map[string]bool{}
	mediaIDs(adfNodeOf(description), shown)
	list, err := comments(ctx)
	if err != nil {
		return err
	}
	for _, cj := range list {
		if cj.public() {
			mediaIDs(adfNodeOf(cj.Body), shown)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	for i := range atts {
		if atts[i].ByConnector {
			continue
		}
		mid, err := c.mediaID(ctx, atts[i].ID)
		if err != nil {
			return err
		}
		atts[i].Public = mid != "" && shown[mid]
	}
	return nil
}

// adfNodeOf reads a document; anything unreadable is an empty one.
func adfNodeOf(raw json.RawMessage) adfNode {
	var n adfNode
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &n)
	}
	return n
}

// mediaIDs adds the media ids of the files a document names to into.
func mediaIDs(n adfNode, into map[string]bool) {
	if n.Type == "media" || n.Type == "mediaInline" {
		if id := attr(n, "id"); id != "" && attr(n, "type") != "link" && attr(n, "type") != "external" {
			into[id] = true
		}
	}
	for _, child := range n.Content {
		mediaIDs(child, into)
	}
}

// maxMediaIDs bounds the remembered media ids; past it the memory starts
// afresh.
const maxMediaIDs = 50_000

// mediaID returns the attachment's id on the media host, "" when Jira
// does not redirect to one. Only the answer's headers are read.
func (c *Client) mediaID(ctx context.Context, attachmentID string) (string, error) {
	c.mu.Lock()
	mid, ok := c.media[attachmentID]
	c.mu.Unlock()
	if ok {
		return mid, nil
	}
	if _, err := strconv.ParseUint(attachmentID, 10, 64); err != nil {
		return "", nil
	}
	resp, err := c.http.Do(ctx, crmhttp.Request{Op: OpAttachmentMedia, Path: "/rest/api/3/attachment/content/" + attachmentID,
		Header: http.Header{"Accept": {"*/*"}}, Mode: crmhttp.Safe})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	mid = mediaIDFromURL(resp.Request.URL)
	c.mu.Lock()
	if len(c.media) >= maxMediaIDs {
		c.media = map[string]string{}
	}
	c.media[attachmentID] = mid
	c.mu.Unlock()
	return mid, nil
}

// mediaIDFromURL reads the media id from a media host URL, …/file/{id}/…;
// "" for any other URL (a file served by the site itself).
func mediaIDFromURL(u *url.URL) string {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "file" && validMediaID(parts[i+1]) {
			return parts[i+1]
		}
	}
	return ""
}

// validMediaID accepts the UUIDs the media host names files by.
func validMediaID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", r):
			return false
		}
	}
	return true
}

// DownloadAttachment streams an attachment's bytes. Jira answers with a
// redirect to its media host, which the HTTP client follows (without the
// site's credentials). Attachment ids are unique across the site, so the
// issue id is not needed to fetch one. The bytes read are bounded by
// MaxDownloadBytes, whatever size was listed or declared: past it the read
// fails for good.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	if _, err := strconv.ParseUint(attachmentID, 10, 64); err != nil {
		return nil, crmhttp.NotFoundError(vendor, OpDownloadAttachment, "attachment "+casesync.Quote(attachmentID))
	}
	if err := checkID(OpDownloadAttachment, id); err != nil {
		return nil, err
	}
	return c.http.Download(ctx, crmhttp.Request{Op: OpDownloadAttachment, Path: "/rest/api/3/attachment/content/" + attachmentID,
		Header: http.Header{"Accept": {"*/*"}}, Mode: crmhttp.Safe})
}

// UploadAttachment attaches a file to the issue as the sync user. A file
// over MaxAttachmentBytes is refused for good and nothing is stored.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	if strings.TrimSpace(filename) == "" {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, OpUploadAttachment, "the file has no name")
	}
	if err := checkID(OpUploadAttachment, id); err != nil {
		return casesync.Attachment{}, err
	}
	me, err := c.whoAmI(ctx)
	if err != nil {
		return casesync.Attachment{}, err
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	limit := c.cfg.MaxAttachmentBytes
	// Read what fits in memory; a file that ends within it is sent from
	// memory, so that a 429 can be answered by sending it again.
	head := c.UploadBufferBytes
	if limit > 0 && limit < head {
		head = limit
	}
	buf, err := io.ReadAll(io.LimitReader(r, head+1))
	if err != nil {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, OpUploadAttachment, "reading the file to upload: %v", err)
	}
	if limit > 0 && int64(len(buf)) > limit {
		return casesync.Attachment{}, crmhttp.TooLarge(vendor, OpUploadAttachment, limit)
	}
	req := crmhttp.Request{Op: OpUploadAttachment, Method: http.MethodPost, Path: issuePath(id, "/attachments"),
		Header: http.Header{"X-Atlassian-Token": {"no-check"}}}
	if int64(len(buf)) <= head {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		if err := writePart(mw, filename, mimeType, bytes.NewReader(buf)); err != nil {
			return casesync.Attachment{}, crmhttp.Invalid(vendor, OpUploadAttachment, "building the upload: %v", err)
		}
		req.Body, req.ContentType, req.Mode = body.Bytes(), mw.FormDataContentType(), crmhttp.IfRefused
	} else {
		src := io.MultiReader(bytes.NewReader(buf), r)
		limited := crmhttp.LimitReader(src, limit, vendor, OpUploadAttachment)
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			pw.CloseWithError(writePart(mw, filename, mimeType, limited))
		}()
		defer pr.Close()
		// The limited reader sits behind the pipe: Limited tells the HTTP
		// client to check it once the call is over.
		req.Stream, req.Limited, req.ContentType, req.Mode = pr, limited, mw.FormDataContentType(), crmhttp.Never
	}
	var created []attachmentJSON
	if err := c.http.JSON(ctx, req, &created); err != nil {
		return casesync.Attachment{}, err
	}
	if len(created) == 0 {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpUploadAttachment,
			Err: fmt.Errorf("%s: the upload's answer lists no attachment", vendor)}
	}
	return c.toAttachment(created[0], me), nil
}

// writePart writes the multipart body of one file under the name "file"
// and closes the writer.
func writePart(mw *multipart.Writer, filename, mimeType string, r io.Reader) error {
	h := textproto.MIMEHeader{}
	escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+escape.Replace(filename)+`"`)
	h.Set("Content-Type", mimeType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, r); err != nil {
		return err
	}
	return mw.Close()
}
