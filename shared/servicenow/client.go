package servicenow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

const vendor = "ServiceNow"

// dateTime is the layout of ServiceNow date-times on the wire. They are read
// and written in the API user's time zone, which must be UTC.
const dateTime = "2006-01-02 15:04:05"

// idChunk is how many sys_ids one sys_idIN query names.
const idChunk = 50

// Client is the ServiceNow adapter. It implements casesync.CRM.
type Client struct {
	cfg  Config
	http *crmhttp.Client

	mu    sync.Mutex
	me    *user             // the sync user, once looked up
	names map[string]string // user_name → display name
	// intents are comments posted or being posted whose journal entry
	// has not been seen yet, so that a retry looks before posting again.
	intents map[string]*intent
}

var _ casesync.CRM = (*Client)(nil)

// user is a sys_user record.
type user struct {
	UserName, Name, TimeZone string
}

// New returns a Client for cfg. It makes no network call.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hc := crmhttp.Config{
		Vendor:           vendor,
		BaseURL:          cfg.BaseURL + "/api/now",
		HTTP:             cfg.HTTP,
		RatePerSecond:    cfg.RatePerSecond,
		ErrorDetail:      errorDetail,
		MaxPages:         cfg.MaxPages,
		MaxDownloadBytes: cfg.MaxDownloadBytes,
		MaxAnswerBytes:   cfg.MaxAnswerBytes,
	}
	if cfg.OAuthToken != "" {
		token := cfg.OAuthToken
		hc.Authorize = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
		hc.CredentialVars = []string{EnvOAuthToken, EnvUser}
	} else {
		u, p := cfg.User, cfg.Password
		hc.Authorize = func(r *http.Request) { r.SetBasicAuth(u, p) }
		hc.CredentialVars = []string{EnvUser, EnvPassword}
	}
	return &Client{cfg: cfg, http: crmhttp.New(hc), names: map[string]string{}, intents: map[string]*intent{}}, nil
}

// errorDetail returns the platform's error message (e.g. "No Record found",
// "Rate limit exceeded"), and for a refused write the detail, which names
// fields, data policies or ACLs, never values.
func errorDetail(status int, body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Detail  any    `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := e.Error.Message
	if d, ok := e.Error.Detail.(string); ok && msg == "Operation Failed" {
		msg += ": " + d
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// Calls returns how many HTTP attempts each operation made.
func (c *Client) Calls() map[string]int64 { return c.http.Calls() }

// Check proves the URL and credentials work with one cheap call: it looks
// up the sync user, and checks that user works in UTC.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.lookupMe(ctx)
	return err
}

// record is a Table API row; with sysparm_display_value=false every value is
// a string (a reference may come as {"value":...}).
type record map[string]any

func (r record) get(k string) string {
	switch v := r[k].(type) {
	case string:
		return v
	case map[string]any:
		s, _ := v["value"].(string)
		return s
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (r record) time(k string) time.Time {
	t, err := time.ParseInLocation(dateTime, r.get(k), time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}

func formatTime(t time.Time) string { return t.UTC().Format(dateTime) }

// caseFields is sysparm_fields for case records.
func (c *Client) caseFields() string {
	fields := []string{"sys_id", "short_description", "description", "priority", "state",
		c.cfg.SyncFlagField, c.cfg.GoogleCaseField, "sys_created_on", "sys_updated_on"}
	if c.cfg.EscalationField != "" {
		for _, f := range []string{c.cfg.EscalationField, c.cfg.EscalationReasonField, c.cfg.EscalationJustificationField} {
			if f != "" {
				fields = append(fields, f)
			}
		}
	}
	return strings.Join(fields, ",")
}

// linkedQuery is the encoded condition "flagged or linked". ^OR binds
// tighter than ^, so "A^" + linkedQuery reads A AND (flagged OR linked).
func (c *Client) linkedQuery() string {
	return c.cfg.SyncFlagField + "=true^OR" + c.cfg.GoogleCaseField + "ISNOTEMPTY"
}

func (c *Client) tablePath(id string) string {
	p := "/table/" + c.cfg.Table
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}

// toCase maps a record; latestAttachment is the newest attachment's creation
// time (zero if none), which moves UpdateTime since an attachment does not
// update the record.
func (c *Client) toCase(r record, latestAttachment time.Time) casesync.CompanyCase {
	cc := casesync.CompanyCase{
		ID:          r.get("sys_id"),
		Subject:     r.get("short_description"),
		Description: r.get("description"),
		Priority:    r.get("priority"),
		Closed:      slices.Contains(c.cfg.ClosedStates, r.get("state")),
		SyncFlag:    r.get(c.cfg.SyncFlagField) == "true" || r.get(c.cfg.SyncFlagField) == "1",
		GoogleCase:  r.get(c.cfg.GoogleCaseField),
		CreateTime:  r.time("sys_created_on"),
		UpdateTime:  r.time("sys_updated_on"),
		Escalation:  c.escalation(r),
	}
	if latestAttachment.After(cc.UpdateTime) {
		cc.UpdateTime = latestAttachment
	}
	return cc
}

// getRecord reads one record of the case table.
func (c *Client) getRecord(ctx context.Context, op, id, fields string) (record, error) {
	r, _, err := c.getRecordAt(ctx, op, id, fields)
	return r, err
}

// getRecordAt is getRecord that also gives the answer's Date: the
// instance's own clock when it read the record (zero when unknown).
func (c *Client) getRecordAt(ctx context.Context, op, id, fields string) (record, time.Time, error) {
	if !validID(id) {
		return nil, time.Time{}, crmhttp.NotFoundError(vendor, op, "case "+casesync.Quote(id))
	}
	var out struct {
		Result record `json:"result"`
	}
	q := url.Values{"sysparm_fields": {fields}, "sysparm_display_value": {"false"}, "sysparm_exclude_reference_link": {"true"}}
	at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: op, Path: c.tablePath(id), Query: q}, &out)
	if err != nil {
		return nil, time.Time{}, err
	}
	return out.Result, at, nil
}

// latestAttachment returns when the case's newest attachment was created.
func (c *Client) latestAttachment(ctx context.Context, id string) (time.Time, error) {
	var out struct {
		Result []record `json:"result"`
	}
	q := url.Values{
		"sysparm_query":  {"table_name=" + c.cfg.Table + "^table_sys_id=" + id + "^ORDERBYDESCsys_created_on"},
		"sysparm_limit":  {"1"},
		"sysparm_fields": {"sys_created_on"},
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: "attachments.latest", Path: "/attachment", Query: q}, &out); err != nil {
		return time.Time{}, err
	}
	if len(out.Result) == 0 {
		return time.Time{}, nil
	}
	return out.Result[0].time("sys_created_on"), nil
}

// caseWithAttachments reads the attachment time for r and maps it. readAt
// is the Date of the answer that held r: the attachments are read after
// it, so a file attached since can only make the case look newer than its
// read, never older.
func (c *Client) caseWithAttachments(ctx context.Context, r record, readAt time.Time) (casesync.CompanyCase, error) {
	latest, err := c.latestAttachment(ctx, r.get("sys_id"))
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cc := c.toCase(r, latest)
	cc.ReadAt = readAt
	return cc, nil
}

// listed is what a listing's pages said besides their rows.
type listed struct {
	// matched is how many rows the query matched by the newest page's
	// X-Total-Count: rows read and rows an ACL hid alike.
	matched int
	// hidden says a page held fewer rows than its X-Total-Count called for:
	// an ACL hid some of them.
	hidden bool
	// counted is false when a page came without a usable X-Total-Count, so
	// that rows an ACL hid could go unnoticed.
	counted bool
}

// list reads every page of a Table or Attachment API listing. The Table
// API applies read ACLs after the query, its limit and its offset: a page
// may hold fewer rows than asked for, or none at all, while more follow,
// and X-Total-Count counts the hidden rows too. So a short or empty page
// does not mean the end: the Link header's rel="next" says whether another
// page follows and at which sysparm_offset (without a Link header, a full
// page means more). The path and query stay the adapter's own; only the
// offset is taken from the link. Every page goes through a crmhttp.Pager,
// so an endless, cycling or backward listing stops with a permanent paging
// error naming op; it allows empty pages, which an ACL makes, and an
// endless run of them stops at MaxPages. The answer tells
// whether an ACL hid rows, by comparing each page with its X-Total-Count.
func (c *Client) list(ctx context.Context, op, path string, q url.Values, each func(record)) (listed, error) {
	return c.listAt(ctx, op, path, q, func(r record, _ time.Time) { each(r) })
}

// listAt is list that also hands each row the Date of the page that held
// it: the instance's own clock when it read the row (zero when unknown).
func (c *Client) listAt(ctx context.Context, op, path string, q url.Values, each func(record, time.Time)) (listed, error) {
	q.Set("sysparm_limit", strconv.Itoa(c.cfg.PageSize))
	// Read ACLs can empty a page of any listing (the Attachment API too:
	// its rows are the records' files, which ACLs may hide), so empty pages
	// are allowed; an endless run of them stops at MaxPages.
	pg := c.http.NewPager(op).AllowEmptyPages()
	if strings.HasPrefix(path, "/table/") {
		q.Set("sysparm_display_value", "false")
		q.Set("sysparm_exclude_reference_link", "true")
	}
	st := listed{counted: true}
	for offset := 0; ; {
		q.Set("sysparm_offset", strconv.Itoa(offset))
		resp, err := c.http.Do(ctx, crmhttp.Request{Op: op, Path: path, Query: q})
		if err != nil {
			return st, err
		}
		var out struct {
			Result []record `json:"result"`
		}
		err = c.http.DecodeJSON(op, resp, &out)
		resp.Body.Close()
		if err != nil {
			return st, err
		}
		if total, err := strconv.Atoi(resp.Header.Get("X-Total-Count")); err != nil || total < 0 {
			st.counted = false
		} else {
			st.matched = total
			if len(out.Result) < min(c.cfg.PageSize, total-offset) {
				st.hidden = true
			}
		}
		next, more := offset+c.cfg.PageSize, len(out.Result) == c.cfg.PageSize
		if link := resp.Header.Get("Link"); link != "" {
			var ok bool
			next, more, ok = nextOffset(link)
			if !ok {
				return st, pagingError(op, pg.Pages()+1, "the next link holds no usable sysparm_offset")
			}
		}
		if err := pg.Page(strconv.Itoa(offset), len(out.Result), more); err != nil {
			return st, err
		}
		at := crmhttp.AnswerDate(resp.Header)
		for _, r := range out.Result {
			each(r, at)
		}
		if !more {
			return st, nil
		}
		if next <= offset {
			return st, pagingError(op, pg.Pages(), fmt.Sprintf("the next link goes back from offset %d to %d", offset, next))
		}
		offset = next
	}
}

// pagingError stops listing op for a reason of the adapter's own, as the
// crmhttp.Pager stops one.
func pagingError(op string, pages int, reason string) error {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op,
		Err: &crmhttp.PagingError{Vendor: vendor, Listing: op, Pages: pages, Reason: reason}}
}

// nextOffset reads a Link header: whether it names a rel="next" page and
// that page's sysparm_offset. ok is false when a next link has no offset
// that is a number.
func nextOffset(link string) (offset int, more, ok bool) {
	for _, part := range strings.Split(link, ",") {
		target, params, _ := strings.Cut(part, ";")
		if !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		target = strings.TrimSpace(target)
		u, err := url.Parse(strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">"))
		if err != nil {
			return 0, true, false
		}
		n, err := strconv.Atoi(u.Query().Get("sysparm_offset"))
		if err != nil || n < 0 {
			return 0, true, false
		}
		return n, true, true
	}
	return 0, false, true
}

// lookupMe returns the sync user, looking it up once ("who am I": the
// sys_user record whose user_name is the configured user).
func (c *Client) lookupMe(ctx context.Context) (user, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil {
		return *me, nil
	}
	const op = "users.me"
	var out struct {
		Result []record `json:"result"`
	}
	q := url.Values{
		"sysparm_query":  {"user_name=" + c.cfg.User},
		"sysparm_limit":  {"1"},
		"sysparm_fields": {"sys_id,user_name,name,time_zone,date_format"},
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: op, Path: "/table/sys_user", Query: q}, &out); err != nil {
		return user{}, err
	}
	if len(out.Result) == 0 {
		return user{}, crmhttp.Invalid(vendor, op, "the API user cannot read its own sys_user record: set %s to the user_name of the user the credentials belong to, and let it read sys_user", EnvUser)
	}
	u := user{UserName: out.Result[0].get("user_name"), Name: out.Result[0].get("name"), TimeZone: out.Result[0].get("time_zone")}
	if u.TimeZone != "" && !isUTC(u.TimeZone) {
		return user{}, crmhttp.Invalid(vendor, op, "the API user's time zone is %s; set it to UTC in its sys_user record, since the API reads and writes date-times in it", u.TimeZone)
	}
	// Journal fields read through the record come as display values, whose
	// headers carry date-times in the user's date format.
	if f := out.Result[0].get("date_format"); f != "" && f != "yyyy-MM-dd" {
		return user{}, crmhttp.Invalid(vendor, op, "the API user's date format is %s; clear it (the system default yyyy-MM-dd) in its sys_user record, since journal entries read through the record carry it", f)
	}
	if u.Name == "" {
		u.Name = u.UserName
	}
	c.mu.Lock()
	c.me = &u
	c.names[strings.ToLower(u.UserName)] = u.Name
	c.mu.Unlock()
	return u, nil
}

func isUTC(tz string) bool {
	switch strings.ToUpper(tz) {
	case "UTC", "GMT", "ETC/UTC", "ETC/GMT", "UNIVERSAL", "ZULU", "ETC/UNIVERSAL", "ETC/ZULU":
		return true
	}
	return false
}

// displayNames returns the display names of user_names, looking up the
// ones not yet cached with one sys_user query per chunk. A user_name with no
// readable sys_user record (e.g. "system") reads as itself.
func (c *Client) displayNames(ctx context.Context, userNames []string) (map[string]string, error) {
	c.mu.Lock()
	var missing []string
	for _, n := range userNames {
		if _, ok := c.names[strings.ToLower(n)]; !ok && n != "" && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	c.mu.Unlock()
	for len(missing) > 0 {
		chunk := missing[:min(idChunk, len(missing))]
		missing = missing[len(chunk):]
		var safe []string
		for _, n := range chunk {
			if validValue(n) {
				safe = append(safe, n)
			}
		}
		found := map[string]string{}
		if len(safe) > 0 {
			q := url.Values{"sysparm_query": {"user_nameIN" + strings.Join(safe, ",")}, "sysparm_fields": {"user_name,name"}}
			_, err := c.list(ctx, "users.list", "/table/sys_user", q, func(r record) {
				found[strings.ToLower(r.get("user_name"))] = r.get("name")
			})
			if err != nil {
				return nil, err
			}
		}
		c.mu.Lock()
		for _, n := range chunk {
			name := found[strings.ToLower(n)]
			if name == "" {
				name = n
			}
			c.names[strings.ToLower(n)] = name
		}
		c.mu.Unlock()
	}
	out := map[string]string{}
	c.mu.Lock()
	for _, n := range userNames {
		out[n] = c.names[strings.ToLower(n)]
	}
	c.mu.Unlock()
	return out, nil
}

// SearchUpdated returns the flagged or linked cases updated strictly after
// since. The platform compares whole seconds in the API user's time zone
// (UTC), so the query starts at since's second and the result is filtered
// exactly. Records are read in creation order, which updates cannot
// reorder, so offset paging neither skips nor repeats a record. Attachments
// created after since count as updates of their case, since the platform
// does not touch the record when a file is attached.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	if _, err := c.lookupMe(ctx); err != nil {
		return nil, err
	}
	from := formatTime(since.UTC().Truncate(time.Second))
	records := map[string]record{}
	readAt := map[string]time.Time{}
	var order []string
	add := func(r record, at time.Time) {
		id := r.get("sys_id")
		if _, dup := records[id]; !dup && id != "" {
			records[id] = r
			readAt[id] = at
			order = append(order, id)
		}
	}
	q := url.Values{
		"sysparm_query":  {"sys_updated_on>=" + from + "^" + c.linkedQuery() + "^ORDERBYsys_created_on^ORDERBYsys_id"},
		"sysparm_fields": {c.caseFields()},
	}
	if _, err := c.listAt(ctx, "records.search", c.tablePath(""), q, add); err != nil {
		return nil, err
	}

	attached := map[string]time.Time{}
	aq := url.Values{
		"sysparm_query":  {"table_name=" + c.cfg.Table + "^sys_created_on>=" + from + "^ORDERBYsys_created_on^ORDERBYsys_id"},
		"sysparm_fields": {"table_sys_id,sys_created_on"},
	}
	_, err := c.list(ctx, "attachments.search", "/attachment", aq, func(r record) {
		id, at := r.get("table_sys_id"), r.time("sys_created_on")
		if at.After(attached[id]) {
			attached[id] = at
		}
	})
	if err != nil {
		return nil, err
	}
	var more []string
	for id := range attached {
		if _, ok := records[id]; !ok && validID(id) {
			more = append(more, id)
		}
	}
	slices.Sort(more)
	for len(more) > 0 {
		chunk := more[:min(idChunk, len(more))]
		more = more[len(chunk):]
		q := url.Values{
			"sysparm_query":  {"sys_idIN" + strings.Join(chunk, ",") + "^" + c.linkedQuery() + "^ORDERBYsys_created_on"},
			"sysparm_fields": {c.caseFields()},
		}
		if _, err := c.listAt(ctx, "records.search", c.tablePath(""), q, add); err != nil {
			return nil, err
		}
	}

	var out []casesync.CompanyCase
	for _, id := range order {
		cc := c.toCase(records[id], attached[id])
		cc.ReadAt = readAt[id]
		if cc.UpdateTime.After(since) && (cc.SyncFlag || cc.GoogleCase != "") {
			out = append(out, cc)
		}
	}
	slices.SortStableFunc(out, func(a, b casesync.CompanyCase) int { return a.UpdateTime.Compare(b.UpdateTime) })
	return out, nil
}

// GetCase reads a case: GET /table/{table}/{sys_id}, plus its newest
// attachment's time.
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	r, at, err := c.getRecordAt(ctx, "records.get", id, c.caseFields())
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	return c.caseWithAttachments(ctx, r, at)
}

// FindByGoogleCase finds the case whose Google-case column holds name.
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	const op = "records.find"
	if !validValue(name) {
		return casesync.CompanyCase{}, false, crmhttp.Invalid(vendor, op, "a Google case name cannot be empty or hold ^ or ,")
	}
	var out struct {
		Result []record `json:"result"`
	}
	q := url.Values{
		"sysparm_query":                  {c.cfg.GoogleCaseField + "=" + name + "^ORDERBYsys_created_on"},
		"sysparm_limit":                  {"1"},
		"sysparm_fields":                 {c.caseFields()},
		"sysparm_display_value":          {"false"},
		"sysparm_exclude_reference_link": {"true"},
	}
	at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: op, Path: c.tablePath(""), Query: q}, &out)
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	if len(out.Result) == 0 || out.Result[0].get(c.cfg.GoogleCaseField) != name {
		return casesync.CompanyCase{}, false, nil
	}
	cc, err := c.caseWithAttachments(ctx, out.Result[0], at)
	return cc, err == nil, err
}

// CreateCase creates a record: POST /table/{table} with short_description,
// description, impact and urgency for the priority, and the Google case.
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	const op = "records.create"
	body := map[string]string{
		"short_description":   nc.Subject,
		"description":         nc.Description,
		c.cfg.GoogleCaseField: nc.GoogleCase,
	}
	if nc.Priority != "" {
		iu, err := c.priorityPair(op, nc.Priority)
		if err != nil {
			return casesync.CompanyCase{}, err
		}
		body["impact"], body["urgency"] = iu[0], iu[1]
	}
	var out struct {
		Result record `json:"result"`
	}
	q := url.Values{"sysparm_fields": {c.caseFields()}, "sysparm_display_value": {"false"}, "sysparm_exclude_reference_link": {"true"}}
	req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: c.tablePath(""), Query: q,
		Body: crmhttp.JSONBody(body), ContentType: "application/json", Mode: crmhttp.IfRefused}
	at, err := c.http.JSONAt(ctx, req, &out)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cc := c.toCase(out.Result, time.Time{})
	cc.ReadAt = at
	return cc, nil
}

func (c *Client) priorityPair(op, p string) ([2]string, error) {
	iu, ok := impactUrgency[p]
	if !ok || !slices.Contains(c.cfg.Priorities, p) {
		return iu, crmhttp.Invalid(vendor, op, "priority %q is not one of %s", p, strings.Join(c.cfg.Priorities, ", "))
	}
	return iu, nil
}

// patch updates a record: PATCH /table/{table}/{sys_id}.
func (c *Client) patch(ctx context.Context, op, id string, fields map[string]string, mode crmhttp.RetryMode) (record, error) {
	return c.patchReturning(ctx, op, id, fields, "sys_id,sys_updated_on", mode)
}

// patchReturning is patch answering with the record's columns named by
// sysparm, as the platform answers after the write.
func (c *Client) patchReturning(ctx context.Context, op, id string, fields map[string]string, sysparm string, mode crmhttp.RetryMode) (record, error) {
	if !validID(id) {
		return nil, crmhttp.NotFoundError(vendor, op, "case "+casesync.Quote(id))
	}
	var out struct {
		Result record `json:"result"`
	}
	q := url.Values{"sysparm_fields": {sysparm}, "sysparm_display_value": {"false"}, "sysparm_exclude_reference_link": {"true"}}
	req := crmhttp.Request{Op: op, Method: http.MethodPatch, Path: c.tablePath(id), Query: q,
		Body: crmhttp.JSONBody(fields), ContentType: "application/json", Mode: mode}
	if err := c.http.JSON(ctx, req, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}

// SetGoogleCase writes the Google-case column (idempotent).
func (c *Client) SetGoogleCase(ctx context.Context, id, name string) error {
	_, err := c.patch(ctx, "records.link", id, map[string]string{c.cfg.GoogleCaseField: name}, crmhttp.Safe)
	return err
}

// SetPriority sets the priority by writing the impact and urgency that the
// default priority lookup turns into it: 1=(1,1) 2=(1,2) 3=(2,2) 4=(2,3)
// 5=(3,3). An instance with other lookup rules needs its own pairs.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	const op = "records.priority"
	iu, err := c.priorityPair(op, priority)
	if err != nil {
		return err
	}
	_, err = c.patch(ctx, op, id, map[string]string{"impact": iu[0], "urgency": iu[1]}, crmhttp.Safe)
	return err
}

// CloseCase resolves the case (state, close_code, close_notes) unless its
// state already counts as closed: a Closed (7) incident is not moved back
// to Resolved (6).
func (c *Client) CloseCase(ctx context.Context, id string) error {
	r, err := c.getRecord(ctx, "records.get", id, "sys_id,state")
	if err != nil {
		return err
	}
	if slices.Contains(c.cfg.ClosedStates, r.get("state")) {
		return nil
	}
	_, err = c.patch(ctx, "records.close", id, map[string]string{
		"state": c.cfg.CloseState, "close_code": c.cfg.CloseCode, "close_notes": c.cfg.CloseNotes,
	}, crmhttp.Safe)
	return err
}

// attachmentFields is sysparm_fields for attachment metadata.
const attachmentFields = "sys_id,table_name,table_sys_id,file_name,content_type,size_bytes,sys_created_on,sys_created_by"

func (c *Client) toAttachment(r record, names map[string]string, me user) casesync.Attachment {
	size, _ := strconv.ParseInt(r.get("size_bytes"), 10, 64)
	by := r.get("sys_created_by")
	return casesync.Attachment{
		ID:          r.get("sys_id"),
		Filename:    r.get("file_name"),
		MimeType:    r.get("content_type"),
		Size:        size,
		AuthorName:  names[by],
		ByConnector: strings.EqualFold(by, me.UserName),
		CreateTime:  r.time("sys_created_on"),
	}
}

// ListAttachments lists the case's files: GET /attachment with
// table_name and table_sys_id, oldest first. When there are files, the
// case's work notes are read too, to tell which files belong to one (see
// internalFile).
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	if !validID(id) {
		return nil, crmhttp.NotFoundError(vendor, "attachments.list", "case "+casesync.Quote(id))
	}
	me, err := c.lookupMe(ctx)
	if err != nil {
		return nil, err
	}
	var rows []record
	q := url.Values{
		"sysparm_query":  {"table_name=" + c.cfg.Table + "^table_sys_id=" + id + "^ORDERBYsys_created_on"},
		"sysparm_fields": {attachmentFields},
	}
	if _, err := c.list(ctx, "attachments.list", "/attachment", q, func(r record) { rows = append(rows, r) }); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		// An unknown case has no attachments either: tell the two apart.
		if _, err := c.getRecord(ctx, "records.get", id, "sys_id"); err != nil {
			return nil, err
		}
		return []casesync.Attachment{}, nil
	}
	// Which files belong to a work note can be told only from all the
	// work notes. When they cannot all be read (an ACL hides rows of
	// sys_journal_field and the record's work_notes field, or a read is
	// refused or stopped for good), no file lists as public. A transient
	// error fails the call instead: the engine holds back a file listed
	// as not public for good, so a passing failure must not decide it.
	notes, known, err := c.readJournal(ctx, id, "work_notes", false, true, me)
	if err != nil {
		if casesync.IsTransient(err) {
			return nil, err
		}
		notes, known = nil, false
	}
	var authors []string
	for _, r := range rows {
		authors = append(authors, r.get("sys_created_by"))
	}
	names, err := c.displayNames(ctx, authors)
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Attachment, 0, len(rows))
	for _, r := range rows {
		a := c.toAttachment(r, names, me)
		a.Public = known && !internalFile(r, names[r.get("sys_created_by")], notes)
		out = append(out, a)
	}
	return out, nil
}

// noteFileWindow is how far apart in time a work note and a file by the
// same user may be for the note to claim the file.
const noteFileWindow = 2 * time.Minute

// internalFile reports whether a file belongs to a work note. ServiceNow
// keeps every file on the record (sys_attachment names only table_name and
// table_sys_id), and the portal's ticket page shows the record's files to
// the caller; a file "on a work note" is a file attached together with a
// work note that names it, as the Attachment Note activity writes one. So a
// file is internal when a work note names its sys_id, or when its uploader
// wrote a work note naming its file name within noteFileWindow of it. Every
// other file is on the record for the caller to see, and public.
func internalFile(r record, uploader string, notes []entry) bool {
	id, name, by, at := r.get("sys_id"), r.get("file_name"), r.get("sys_created_by"), r.time("sys_created_on")
	for _, n := range notes {
		if n.Element != "work_notes" {
			continue
		}
		if id != "" && strings.Contains(n.Value, id) {
			return true
		}
		sameUser := (n.UserName != "" && strings.EqualFold(n.UserName, by)) || (n.UserName == "" && n.Author == uploader)
		near := n.Created.Sub(at).Abs() <= noteFileWindow
		if sameUser && near && name != "" && strings.Contains(n.Value, name) {
			return true
		}
	}
	return false
}

// DownloadAttachment streams a file: GET /attachment/{sys_id} to check it
// belongs to the case, then GET /attachment/{sys_id}/file, never read into
// memory. Reading past MaxDownloadBytes fails with the permanent TooLarge
// error.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	const op = "attachments.download"
	if !validID(id) || !validID(attachmentID) {
		return nil, crmhttp.NotFoundError(vendor, op, "attachment "+casesync.Quote(attachmentID))
	}
	var meta struct {
		Result record `json:"result"`
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: "attachments.get", Path: "/attachment/" + attachmentID}, &meta); err != nil {
		return nil, err
	}
	if meta.Result.get("table_sys_id") != id || meta.Result.get("table_name") != c.cfg.Table {
		return nil, crmhttp.NotFoundError(vendor, op, "attachment "+attachmentID+" of case "+id)
	}
	// The bound is on the bytes read, whatever size_bytes or Content-Length
	// say.
	return c.http.Download(ctx, crmhttp.Request{Op: op, Path: "/attachment/" + attachmentID + "/file",
		Header: http.Header{"Accept": {"*/*"}}})
}

// UploadAttachment streams r to POST /attachment/file?table_name=&
// table_sys_id=&file_name= with the file's Content-Type. A body over
// MaxAttachmentBytes is cut off while streaming, which the instance never
// stores, and refused for good.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = "attachments.upload"
	if !validID(id) {
		return casesync.Attachment{}, crmhttp.NotFoundError(vendor, op, "case "+casesync.Quote(id))
	}
	if strings.TrimSpace(filename) == "" {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, op, "the file name is empty")
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	me, err := c.lookupMe(ctx)
	if err != nil {
		return casesync.Attachment{}, err
	}
	q := url.Values{"table_name": {c.cfg.Table}, "table_sys_id": {id}, "file_name": {filename}}
	resp, err := c.http.Do(ctx, crmhttp.Request{Op: op, Method: http.MethodPost, Path: "/attachment/file", Query: q,
		Stream: crmhttp.LimitReader(r, c.cfg.MaxAttachmentBytes, vendor, op), ContentType: mimeType, Mode: crmhttp.Never})
	if err != nil {
		// Over the limit, this is the permanent TooLarge error, whatever
		// the instance answered.
		return casesync.Attachment{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Result record `json:"result"`
	}
	if err := c.http.DecodeJSON(op, resp, &out); err != nil {
		if errors.Is(err, crmhttp.ErrAnswerTooLarge) {
			return casesync.Attachment{}, err
		}
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: resp.StatusCode,
			Err: fmt.Errorf("%s: the upload was stored but its answer is unreadable: %w", vendor, err)}
	}
	// A new file belongs to no work note: it is on the record, for the
	// caller to see.
	a := c.toAttachment(out.Result, map[string]string{me.UserName: me.Name}, me)
	a.Public = true
	return a, nil
}
