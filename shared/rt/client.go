package rt

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

const vendor = "Request Tracker"

// Operation names, as errors and Calls give them.
const (
	OpSearch        = "tickets.search"
	OpGet           = "ticket.get"
	OpCreate        = "ticket.create"
	OpUpdate        = "ticket.update"
	OpHistory       = "ticket.history"
	OpAttachments   = "ticket.attachments"
	OpComment       = "ticket.comment"
	OpCorrespond    = "ticket.correspond"
	OpTransaction   = "transaction.attachments"
	OpGetAttachment = "attachment.get"
	OpWhoAmI        = "user.get"
)

// Client is the Request Tracker 5 adapter: it implements casesync.CRM over
// REST2, as the configured sync user.
type Client struct {
	cfg  Config
	http *crmhttp.Client

	mu   sync.Mutex
	me   *user             // the sync user, once looked up
	desc map[string]string // ticket id -> description (the Create transaction's text never changes)
}

var _ casesync.CRM = (*Client)(nil)
var _ casesync.ItemLister = (*Client)(nil)

// New returns a Client for cfg. It makes no network call.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if !strings.HasSuffix(base, "/REST/2.0") {
		base += "/REST/2.0"
	}
	hc := crmhttp.Config{
		Vendor:        vendor,
		BaseURL:       base,
		HTTP:          cfg.HTTP,
		RatePerSecond: cfg.RatePerSecond,
		ErrorDetail:   errorDetail,
		MaxPages:      cfg.MaxPages,
		// The answer carries the file in base64 inside JSON; the file's own
		// bytes are bounded as they are decoded (see openContent).
		MaxDownloadBytes: wireLimit(cfg.MaxDownloadBytes),
	}
	if cfg.Token != "" {
		token := cfg.Token
		hc.Authorize = func(r *http.Request) { r.Header.Set("Authorization", "token "+token) }
		hc.CredentialVars = []string{EnvToken}
	} else {
		u, p := cfg.User, cfg.Password
		hc.Authorize = func(r *http.Request) { r.SetBasicAuth(u, p) }
		hc.CredentialVars = []string{EnvUser, EnvPassword}
	}
	return &Client{cfg: cfg, http: crmhttp.New(hc), desc: map[string]string{}}, nil
}

// errorDetail gives REST2's short error message ("NotFound", "Permission
// Denied"), cut short: RT's messages name no case text, but the length is
// capped all the same.
func errorDetail(_ int, body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if len(e.Message) > 80 {
		return e.Message[:80]
	}
	return e.Message
}

// Calls returns the calls made so far per operation, retries included.
func (c *Client) Calls() map[string]int64 { return c.http.Calls() }

// Check proves the URL and credentials work: it reads the sync user's own
// record.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.whoAmI(ctx, true)
	return err
}

// whoAmI returns the sync user, looked up once (RT 5.0 has no "current
// user" endpoint: the user is named by RT_USER or by the token's user id).
func (c *Client) whoAmI(ctx context.Context, fresh bool) (user, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil && !fresh {
		return *me, nil
	}
	name := c.cfg.User
	if c.cfg.Token != "" {
		if id, ok := tokenUserID(c.cfg.Token); ok {
			name = id
		}
	}
	var u user
	if err := c.http.JSON(ctx, crmhttp.Request{Op: OpWhoAmI, Path: "/user/" + url.PathEscape(name)}, &u); err != nil {
		return user{}, err
	}
	if u.Name == "" {
		return user{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpWhoAmI, Status: http.StatusForbidden,
			Err: fmt.Errorf("%s: the sync user's own record came back without its name: check that %s belong to the sync user",
				vendor, strings.Join(c.credentialVars(), " and "))}
	}
	c.mu.Lock()
	c.me = &u
	c.mu.Unlock()
	return u, nil
}

func (c *Client) credentialVars() []string {
	if c.cfg.Token != "" {
		return []string{EnvToken}
	}
	return []string{EnvUser, EnvPassword}
}

// validID refuses an id that cannot be a ticket or attachment number.
func validID(op, what, id string) error {
	if n, err := strconv.ParseUint(id, 10, 63); err != nil || n == 0 {
		return crmhttp.NotFoundError(vendor, op, what+" "+casesync.Quote(id))
	}
	return nil
}

func ticketPath(id string) string { return "/ticket/" + id }

// getTicket reads one ticket.
func (c *Client) getTicket(ctx context.Context, id string) (ticket, error) {
	if err := validID(OpGet, "ticket", id); err != nil {
		return ticket{}, err
	}
	var t ticket
	at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: OpGet, Path: ticketPath(id)}, &t)
	t.readAt = at
	return t, err
}

// ensureTicket returns a not-found error when the ticket does not exist.
// REST2 answers an empty list, or 400 "Permission Denied", for sub-resources
// of a missing ticket; this tells the two apart.
func (c *Client) ensureTicket(ctx context.Context, id string) error {
	_, err := c.getTicket(ctx, id)
	return err
}

// toCase maps a ticket; description is filled by the caller.
func (c *Client) toCase(t ticket) casesync.CompanyCase {
	return casesync.CompanyCase{
		ID:         t.ID.String(),
		Subject:    t.Subject,
		Priority:   c.priorityName(t.Priority),
		Closed:     slices.Contains(c.cfg.ClosedStatuses, t.Status),
		SyncFlag:   strings.EqualFold(t.customField(c.cfg.SyncFlagField), c.cfg.SyncFlagValue),
		GoogleCase: t.customField(c.cfg.GoogleCaseField),
		CreateTime: parseTime(t.Created),
		UpdateTime: parseTime(t.LastUpdated),
		Escalation: c.escalation(t),
		ReadAt:     t.readAt,
	}
}

// priorityName reads RT's priority: a number (what REST2 returns) maps to
// the name with the largest value not above it, as RT displays it; a name
// stored as such (REST2 stores a name given at creation literally) is
// matched by name.
func (c *Client) priorityName(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil {
		for _, p := range c.cfg.Priorities {
			if strings.EqualFold(p.Name, s) {
				return p.Name
			}
		}
		return s
	}
	name := c.cfg.Priorities[0].Name
	for _, p := range c.cfg.Priorities {
		if p.Value <= n {
			name = p.Name
		}
	}
	return name
}

// priorityValue maps a configured name to RT's number.
func (c *Client) priorityValue(op, name string) (int, error) {
	for _, p := range c.cfg.Priorities {
		if strings.EqualFold(p.Name, name) {
			return p.Value, nil
		}
	}
	return 0, crmhttp.Invalid(vendor, op, "priority %q is not one of %s", name, strings.Join(c.cfg.PriorityNames(), ", "))
}

// ticketFields are the fields a search asks for.
const ticketFields = "Subject,Status,Priority,Created,LastUpdated,CustomFields"

// search runs a TicketSQL query, following every page, in id order (stable
// while tickets change during the paging), within the bounds of a pager.
func (c *Client) search(ctx context.Context, query string) ([]ticket, error) {
	var out []ticket
	seen := map[string]bool{}
	pg := c.http.NewPager(OpSearch)
	for page := 1; ; page++ {
		q := url.Values{
			"query": {query}, "fields": {ticketFields}, "orderby": {"id"},
			"per_page": {strconv.Itoa(c.cfg.PageSize)}, "page": {strconv.Itoa(page)},
		}
		var res collection[ticket]
		at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: OpSearch, Path: "/tickets", Query: q}, &res)
		if err != nil {
			return nil, err
		}
		if err := pg.Page(pageToken(res.Items), len(res.Items), len(res.Items) > 0); err != nil {
			return nil, err
		}
		for _, t := range res.Items {
			if id := t.ID.String(); !seen[id] {
				seen[id] = true
				t.readAt = at
				out = append(out, t)
			}
		}
		// RT drops the records the user may not see after cutting the
		// page, so a short page is not the last: only an empty one is.
		if len(res.Items) == 0 {
			return out, nil
		}
	}
}

// searchFrom is the lower bound of a search for changes after since, as
// TicketSQL text. RT parses a search date as wall time in the sync user's
// zone and drops the time of day from ISO forms ("…T…Z"), so the bound is
// written "2006-01-02 15:04:05" in that zone; when the zone is unknown it
// is written as UTC less 14 hours, which is at or before since whatever the
// zone. A second earlier covers the truncation to whole seconds.
func searchFrom(since time.Time, zone *time.Location) string {
	from := since.Add(-time.Second)
	if zone == nil {
		from = from.UTC().Add(-14 * time.Hour)
	} else {
		// An hour more covers a daylight-saving change between the two.
		from = from.In(zone).Add(-time.Hour)
	}
	if from.Year() < 1971 {
		from = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return from.Format("2006-01-02 15:04:05")
}

// sqlString quotes s for TicketSQL.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func cfName(name string) string { return "'CF.{" + name + "}'" }

// SearchUpdated returns the flagged or linked tickets updated strictly after
// since. RT's dates are whole seconds: the query asks for LastUpdated at or
// after since's second, and the results are filtered exactly here. The
// sync user's rights decide which queues are searched. Descriptions are
// left empty (GetCase reads them).
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	query := fmt.Sprintf("(%s = %s OR %s IS NOT NULL) AND LastUpdated >= '%s'",
		cfName(c.cfg.SyncFlagField), sqlString(c.cfg.SyncFlagValue), cfName(c.cfg.GoogleCaseField),
		searchFrom(since, c.cfg.TimeZone))
	ts, err := c.search(ctx, query)
	if err != nil {
		return nil, err
	}
	var out []casesync.CompanyCase
	for _, t := range ts {
		cc := c.toCase(t)
		if cc.UpdateTime.After(since) && (cc.SyncFlag || cc.GoogleCase != "") {
			out = append(out, cc)
		}
	}
	return out, nil
}

// GetCase reads a ticket and its description (the text of its Create
// transaction, read once per ticket and kept: it never changes).
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	t, err := c.getTicket(ctx, id)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cc := c.toCase(t)
	cc.Description, err = c.description(ctx, cc.ID)
	return cc, err
}

func (c *Client) description(ctx context.Context, id string) (string, error) {
	c.mu.Lock()
	d, ok := c.desc[id]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	q := url.Values{"query": {`[{"field":"Type","value":"Create"}]`}, "fields": {"Type"}, "orderby": {"id"}, "per_page": {"1"}}
	var txns collection[transaction]
	if err := c.http.JSON(ctx, crmhttp.Request{Op: OpHistory, Path: ticketPath(id) + "/history", Query: q}, &txns); err != nil {
		return "", err
	}
	if len(txns.Items) > 0 {
		bodies, err := c.bodies(ctx, "/transaction/"+txns.Items[0].ID.String()+"/attachments", OpTransaction)
		if err != nil {
			return "", err
		}
		d = bodies[txns.Items[0].ID.String()]
	}
	c.remember(id, d)
	return d, nil
}

func (c *Client) remember(id, description string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.desc) >= 10000 {
		clear(c.desc)
	}
	c.desc[id] = description
}

// bodies returns the text body of each transaction among the attachments at
// p (a ticket's or a transaction's): its text/plain part without a file
// name, else its text/html part as text. RT stores every MIME part as an
// attachment; file parts have a file name.
func (c *Client) bodies(ctx context.Context, p, op string) (map[string]string, error) {
	query := `[{"field":"ContentType","operator":"LIKE","value":"text/"},{"field":"Filename","operator":"IS","value":"NULL"}]`
	parts, err := listAll[attachment](ctx, c, op, p, url.Values{"query": {query}, "fields": {"TransactionId,ContentType,Filename,Content"}})
	if err != nil {
		return nil, err
	}
	plain, htmlText := map[string]string{}, map[string]string{}
	for _, a := range parts {
		if a.Filename != "" {
			continue
		}
		txn := a.TransactionID.String()
		ct := strings.ToLower(strings.TrimSpace(strings.SplitN(a.ContentType, ";", 2)[0]))
		switch ct {
		case "text/plain":
			if _, ok := plain[txn]; !ok {
				plain[txn] = a.Content
			}
		case "text/html":
			if _, ok := htmlText[txn]; !ok {
				htmlText[txn] = htmlToText(a.Content)
			}
		}
	}
	for txn, s := range htmlText {
		if _, ok := plain[txn]; !ok {
			plain[txn] = s
		}
	}
	return plain, nil
}

// listAll reads every page of a REST2 collection in id order, within the
// bounds of a pager named op.
func listAll[T item](ctx context.Context, c *Client, op, p string, q url.Values) ([]T, error) {
	var out []T
	pg := c.http.NewPager(op)
	for page := 1; ; page++ {
		qq := url.Values{"orderby": {"id"}, "per_page": {strconv.Itoa(MaxPageSize)}, "page": {strconv.Itoa(page)}}
		for k, v := range q {
			qq[k] = v
		}
		var res collection[T]
		if err := c.http.JSON(ctx, crmhttp.Request{Op: op, Path: p, Query: qq}, &res); err != nil {
			return nil, err
		}
		if err := pg.Page(pageToken(res.Items), len(res.Items), len(res.Items) > 0); err != nil {
			return nil, err
		}
		// A short page is not the last (RT hides records the user may not
		// see, such as outgoing mail, after cutting the page): only an
		// empty one is.
		if len(res.Items) == 0 {
			return out, nil
		}
		out = append(out, res.Items...)
	}
}

// item is a record of a REST2 collection.
type item interface{ itemID() string }

// pageToken names a page by the ids it holds, for the pager: RT pages by
// number, which the adapter counts itself, so a server that answers the
// same records again (ignoring the page asked for) is known by them. Read
// in id order, two pages of a real RT never hold the same records. Every
// non-empty page claims more: RT's last page is the first empty one.
func pageToken[T item](items []T) string {
	h := sha256.New()
	for _, it := range items {
		io.WriteString(h, it.itemID())
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FindByGoogleCase returns the ticket whose Google-case field holds name
// (the oldest, should there be several).
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	if name == "" {
		return casesync.CompanyCase{}, false, nil
	}
	ts, err := c.search(ctx, fmt.Sprintf("%s = %s", cfName(c.cfg.GoogleCaseField), sqlString(name)))
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	for _, t := range ts {
		if t.customField(c.cfg.GoogleCaseField) != name {
			continue // TicketSQL compares case-insensitively
		}
		cc := c.toCase(t)
		cc.Description, err = c.description(ctx, cc.ID)
		return cc, err == nil, err
	}
	return casesync.CompanyCase{}, false, nil
}

// CreateCase opens a ticket in the configured queue as the sync user, with
// its Google case in the Google-case field. The priority is written as RT's
// number (REST2 would store a name given at creation literally).
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	body := map[string]any{"Queue": c.cfg.Queue, "Subject": nc.Subject}
	if nc.Description != "" {
		if !utf8.ValidString(nc.Description) {
			return casesync.CompanyCase{}, crmhttp.Invalid(vendor, OpCreate, "the description is not valid UTF-8")
		}
		body["Content"], body["ContentType"] = nc.Description, "text/plain"
	}
	if nc.Priority != "" {
		n, err := c.priorityValue(OpCreate, nc.Priority)
		if err != nil {
			return casesync.CompanyCase{}, err
		}
		body["Priority"] = n
	}
	if nc.GoogleCase != "" {
		body["CustomFields"] = map[string]any{c.cfg.GoogleCaseField: nc.GoogleCase}
	}
	var created struct {
		ID idString `json:"id"`
	}
	err := c.http.JSON(ctx, crmhttp.Request{Op: OpCreate, Method: http.MethodPost, Path: "/ticket",
		ContentType: "application/json", Body: crmhttp.JSONBody(body), Mode: crmhttp.IfRefused}, &created)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	id := created.ID.String()
	if validID(OpCreate, "ticket", id) != nil {
		return casesync.CompanyCase{}, &casesync.APIError{Side: casesync.SideCompany, Op: OpCreate,
			Err: fmt.Errorf("%s: the created ticket's id %q is not a number", vendor, id)}
	}
	c.remember(id, nc.Description)
	return c.GetCase(ctx, id)
}

// update PUTs fields to a ticket. REST2 answers 200 with a list of
// messages even when a change was refused, so the caller re-reads what
// matters.
func (c *Client) update(ctx context.Context, id string, fields map[string]any) error {
	if err := validID(OpUpdate, "ticket", id); err != nil {
		return err
	}
	return c.http.JSON(ctx, crmhttp.Request{Op: OpUpdate, Method: http.MethodPut, Path: ticketPath(id),
		ContentType: "application/json", Body: crmhttp.JSONBody(fields)}, nil)
}

// SetGoogleCase writes the Google-case field (idempotent: writing the same
// value records nothing).
func (c *Client) SetGoogleCase(ctx context.Context, id, name string) error {
	if err := c.update(ctx, id, map[string]any{"CustomFields": map[string]any{c.cfg.GoogleCaseField: name}}); err != nil {
		return err
	}
	return nil
}

// SetPriority sets one of the configured priority names, written as RT's
// number. An unknown name is refused before any call: REST2 would store it
// as priority 0.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	n, err := c.priorityValue(OpUpdate, priority)
	if err != nil {
		return err
	}
	return c.update(ctx, id, map[string]any{"Priority": n})
}

// CloseCase sets the close status unless the ticket already has one of the
// closed statuses.
func (c *Client) CloseCase(ctx context.Context, id string) error {
	t, err := c.getTicket(ctx, id)
	if err != nil {
		return err
	}
	if slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		return nil
	}
	if err := c.update(ctx, id, map[string]any{"Status": c.cfg.CloseStatus}); err != nil {
		return err
	}
	if t, err = c.getTicket(ctx, id); err != nil {
		return err
	}
	if !slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		return &casesync.APIError{Side: casesync.SideCompany, Op: OpUpdate, Status: http.StatusForbidden,
			Err: fmt.Errorf("%s: ticket %s stayed %q after setting status %q: the sync user may lack ModifyTicket, or the lifecycle forbids the change",
				vendor, id, t.Status, c.cfg.CloseStatus)}
	}
	return nil
}

// ListComments returns the ticket's replies (public) and comments
// (internal), oldest first. The Create transaction (the description) is not
// among them, nor a comment without text (one that only carries files, as
// the adapter's own uploads do: ListAttachments lists the files).
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	if err := validID(OpHistory, "ticket", id); err != nil {
		return nil, err
	}
	me, err := c.whoAmI(ctx, false)
	if err != nil {
		return nil, err
	}
	txns, err := c.history(ctx, id, "Comment", "Correspond")
	if err != nil {
		return nil, err
	}
	if len(txns) == 0 {
		// A missing ticket has an empty history too.
		return nil, c.ensureTicket(ctx, id)
	}
	return c.comments(ctx, id, txns, me)
}

// history lists the ticket's transactions of the given types, oldest
// first, with their creators' names.
func (c *Client) history(ctx context.Context, id string, types ...string) ([]transaction, error) {
	var query []map[string]string
	for _, t := range types {
		query = append(query, map[string]string{"field": "Type", "value": t})
	}
	q, err := json.Marshal(query)
	if err != nil {
		return nil, err
	}
	return listAll[transaction](ctx, c, OpHistory, ticketPath(id)+"/history", url.Values{
		"query":           {string(q)},
		"fields":          {"Type,Created,Creator"},
		"fields[Creator]": {"Name,RealName"},
	})
}

// comments turns the ticket's transactions into its comments for
// ListComments: the replies and comments among txns that have a text body,
// which it reads. It reads nothing when none of txns is one.
func (c *Client) comments(ctx context.Context, id string, txns []transaction, me user) ([]casesync.Comment, error) {
	if !slices.ContainsFunc(txns, func(t transaction) bool { return t.Type == "Comment" || t.Type == "Correspond" }) {
		return nil, nil
	}
	bodies, err := c.bodies(ctx, ticketPath(id)+"/attachments", OpAttachments)
	if err != nil {
		return nil, err
	}
	var out []casesync.Comment
	for _, t := range txns {
		if t.Type != "Comment" && t.Type != "Correspond" {
			continue
		}
		body := bodies[t.ID.String()]
		if strings.TrimSpace(body) == "" {
			continue
		}
		out = append(out, casesync.Comment{
			ID:          t.ID.String(),
			Body:        body,
			AuthorName:  displayName(t.Creator),
			ByConnector: t.Creator.Name == me.Name || t.Creator.ID.String() == me.Name,
			Public:      t.Type == "Correspond",
			CreateTime:  parseTime(t.Created),
		})
	}
	return out, nil
}

// ListItems returns what ListComments and ListAttachments return, reading
// the ticket's history once: ListComments needs its replies and comments,
// ListAttachments its creation and replies (to tell which files are
// public), so one listing of the three types serves both. The text bodies
// and the file parts stay two listings: REST2 gives a part's content to
// every part of a listing or to none, and file contents are not to be read
// to list them.
func (c *Client) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	if err := validID(OpHistory, "ticket", id); err != nil {
		return nil, nil, err
	}
	me, err := c.whoAmI(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	txns, err := c.history(ctx, id, "Create", "Comment", "Correspond")
	if err != nil {
		return nil, nil, err
	}
	if len(txns) == 0 {
		// Every ticket has its creation: a missing one has an empty history.
		return nil, nil, c.ensureTicket(ctx, id)
	}
	comments, err := c.comments(ctx, id, txns, me)
	if err != nil {
		return nil, nil, err
	}
	parts, err := c.ticketParts(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	files, err := c.files(ctx, parts, publicOf(txns), me)
	if err != nil {
		return nil, nil, err
	}
	return comments, files, nil
}

func displayName(r ref) string {
	if r.RealName != "" {
		return r.RealName
	}
	if r.Name != "" {
		return r.Name
	}
	return r.ID.String()
}

// AddComment adds a public reply (RT "correspond") or an internal comment.
// RT reopens a resolved ticket on any reply; a public reply to a closed
// ticket therefore carries the ticket's status, so the ticket ends closed
// (RT records the reopen and the close again).
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	op := OpComment
	if public {
		op = OpCorrespond
	}
	if err := crmhttp.CheckText(vendor, op, body); err != nil {
		return casesync.Comment{}, err
	}
	if err := validID(op, "ticket", id); err != nil {
		return casesync.Comment{}, err
	}
	me, err := c.whoAmI(ctx, false)
	if err != nil {
		return casesync.Comment{}, err
	}
	fields := map[string]any{"Content": body, "ContentType": "text/plain"}
	kind := "/comment"
	if public {
		kind = "/correspond"
		t, err := c.getTicket(ctx, id)
		if err != nil {
			return casesync.Comment{}, err
		}
		if slices.Contains(c.cfg.ClosedStatuses, t.Status) {
			fields["Status"] = t.Status
		}
	}
	txn, err := c.post(ctx, op, id, kind, fields)
	if err != nil {
		return casesync.Comment{}, err
	}
	return casesync.Comment{ID: txn, Body: body, AuthorName: displayName(ref{Name: me.Name, RealName: me.RealName}),
		ByConnector: true, Public: public, CreateTime: time.Now().UTC().Truncate(time.Second)}, nil
}

// post adds a comment or reply and returns its transaction id, read from
// the answer's Location. RT answers 400 "Permission Denied" for a missing
// ticket: that case is told apart by reading the ticket.
func (c *Client) post(ctx context.Context, op, id, kind string, fields map[string]any) (string, error) {
	resp, err := c.http.Do(ctx, crmhttp.Request{Op: op, Method: http.MethodPost, Path: ticketPath(id) + kind,
		ContentType: "application/json", Body: crmhttp.JSONBody(fields), Mode: crmhttp.IfRefused})
	if err != nil {
		var ae *casesync.APIError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			if gerr := c.ensureTicket(ctx, id); casesync.IsNotFound(gerr) {
				return "", gerr
			}
		}
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	loc := resp.Header.Get("Location")
	txn := path.Base(loc)
	if !strings.Contains(loc, "/transaction/") || validID(op, "transaction", txn) != nil {
		return "", &casesync.APIError{Side: casesync.SideCompany, Op: op,
			Err: fmt.Errorf("%s: the answer names no transaction (Location %q)", vendor, loc)}
	}
	return txn, nil
}

// partFields are the fields read of a ticket's MIME parts, with the
// creator's names.
func partFields() url.Values {
	return url.Values{
		"fields":          {"TransactionId,Filename,ContentType,ContentLength,Created,Creator,Headers"},
		"fields[Creator]": {"Name,RealName"},
	}
}

// ticketParts lists every MIME part of an existing ticket, without content.
// It asks for no query on purpose: REST2 applies a query to all of RT's
// attachments when the ticket is missing or hidden, but lists nothing
// without one.
func (c *Client) ticketParts(ctx context.Context, id string) ([]attachment, error) {
	parts, err := listAll[attachment](ctx, c, OpAttachments, ticketPath(id)+"/attachments", partFields())
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		// A missing ticket lists no parts either.
		if err := c.ensureTicket(ctx, id); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// toAttachment maps a file part; public says whether its transaction is
// seen by everyone on the ticket.
func (c *Client) toAttachment(a attachment, me user, public bool) casesync.Attachment {
	size, _ := strconv.ParseInt(a.ContentLength.String(), 10, 64)
	return casesync.Attachment{
		ID:          a.ID.String(),
		Filename:    a.Filename,
		MimeType:    mimeType(a),
		Size:        size,
		AuthorName:  displayName(a.Creator),
		ByConnector: a.Creator.Name == me.Name || a.Creator.ID.String() == me.Name,
		Public:      public,
		CreateTime:  parseTime(a.Created),
	}
}

// publicTransactions returns the ids of the ticket's transactions whose
// files everyone on the ticket sees: its creation and its public replies
// (Correspond). RT keeps a file on the transaction of the message it came
// with, so the files of internal comments (Comment), and of any other
// transaction, are not among them. (REST2 cannot give a part's transaction
// type with the part: fields[TransactionId] does not expand.)
func (c *Client) publicTransactions(ctx context.Context, id string) (map[string]bool, error) {
	txns, err := c.history(ctx, id, "Create", "Correspond")
	if err != nil {
		return nil, err
	}
	return publicOf(txns), nil
}

// publicOf returns the ids of the creation and the public replies among
// txns.
func publicOf(txns []transaction) map[string]bool {
	public := map[string]bool{}
	for _, t := range txns {
		if t.Type == "Create" || t.Type == "Correspond" {
			public[t.ID.String()] = true
		}
	}
	return public
}

// ListAttachments lists the ticket's files, oldest first: the MIME parts
// with a file name (RT lists every part, message bodies included). A file
// is public when its transaction is the ticket's creation or a public reply;
// a file of an internal comment, or of a transaction of unknown type, is
// not.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	if err := validID(OpAttachments, "ticket", id); err != nil {
		return nil, err
	}
	me, err := c.whoAmI(ctx, false)
	if err != nil {
		return nil, err
	}
	parts, err := c.ticketParts(ctx, id)
	if err != nil {
		return nil, err
	}
	var public map[string]bool
	if slices.ContainsFunc(parts, func(a attachment) bool { return a.Filename != "" }) {
		if public, err = c.publicTransactions(ctx, id); err != nil {
			return nil, err
		}
	}
	return c.files(ctx, parts, public, me)
}

// files turns the ticket's MIME parts into its files for ListAttachments;
// public holds the ids of the transactions whose files are public.
func (c *Client) files(ctx context.Context, parts []attachment, public map[string]bool, me user) ([]casesync.Attachment, error) {
	var out []casesync.Attachment
	for _, a := range parts {
		if a.Filename == "" {
			continue
		}
		att := c.toAttachment(a, me, public[a.TransactionID.String()])
		if transcoded(originalEncoding(a.Headers)) {
			// RT converted the text file to UTF-8: its size as uploaded is
			// known only from its content.
			var err error
			if att.Size, err = c.uploadedSize(ctx, a); err != nil {
				return nil, err
			}
		}
		out = append(out, att)
	}
	return out, nil
}

// uploadedSize counts the bytes of a text file RT converted to UTF-8 as
// they were uploaded, streaming them. A file over MaxDownloadBytes counts
// as one byte more than that (it will not be downloaded), and one that
// cannot be converted back as its size in RT.
func (c *Client) uploadedSize(ctx context.Context, part attachment) (int64, error) {
	rc, err := c.openContent(ctx, part)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var buf [8 << 10]byte
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf[:])
	switch {
	case errors.Is(err, crmhttp.ErrTooLarge):
		return c.cfg.MaxDownloadBytes + 1, nil
	case errors.Is(err, errNotRestorable):
		size, _ := strconv.ParseInt(part.ContentLength.String(), 10, 64)
		return size, nil
	}
	return n, err
}

// DownloadAttachment returns a file of the ticket as a stream. It first
// checks that the attachment is a file of this ticket (RT answers 500 for
// an unknown attachment id), then streams it (see openContent): REST2 gives
// the content in base64 inside JSON. Reading more than MaxDownloadBytes
// fails with the permanent TooLarge error, whatever size RT listed.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	if err := validID(OpAttachments, "ticket", id); err != nil {
		return nil, err
	}
	if err := validID(OpGetAttachment, "attachment", attachmentID); err != nil {
		return nil, err
	}
	parts, err := c.ticketParts(ctx, id)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(parts, func(a attachment) bool { return a.ID.String() == attachmentID && a.Filename != "" })
	if i < 0 {
		return nil, crmhttp.NotFoundError(vendor, OpGetAttachment, "attachment "+attachmentID+" of ticket "+id)
	}
	part := parts[i]
	if size, err := strconv.ParseInt(part.ContentLength.String(), 10, 64); err == nil && size > c.cfg.MaxDownloadBytes &&
		!transcoded(originalEncoding(part.Headers)) {
		return nil, crmhttp.TooLarge(vendor, OpGetAttachment, c.cfg.MaxDownloadBytes)
	}
	return c.openContent(ctx, part)
}

// UploadAttachment adds the file as an internal comment of the sync user
// that carries only the file (no text, so ListComments does not list it).
// A text file's encoding is declared (see declaredType) so RT keeps it
// recoverably.
// The file is read whole, up to MaxAttachmentBytes, before anything is
// sent: a larger one is refused and nothing is stored.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = OpComment
	if err := validID(op, "ticket", id); err != nil {
		return casesync.Attachment{}, err
	}
	if filename == "" {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, op, "the file has no name")
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	data, err := crmhttp.ReadAllLimited(r, c.cfg.MaxAttachmentBytes, vendor, op)
	if err != nil {
		return casesync.Attachment{}, err
	}
	me, err := c.whoAmI(ctx, false)
	if err != nil {
		return casesync.Attachment{}, err
	}
	txn, err := c.post(ctx, op, id, "/comment", map[string]any{"Attachments": []map[string]string{{
		"FileName": filename, "FileType": declaredType(mimeType, data), "FileContent": base64.StdEncoding.EncodeToString(data),
	}}})
	if err != nil {
		return casesync.Attachment{}, err
	}
	parts, err := listAll[attachment](ctx, c, OpTransaction, "/transaction/"+txn+"/attachments", partFields())
	if err != nil {
		return casesync.Attachment{}, err
	}
	for _, a := range parts {
		if a.Filename == filename {
			return c.toAttachment(a, me, false), nil // an internal comment
		}
	}
	return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op,
		Err: fmt.Errorf("%s: transaction %s holds no file named as uploaded", vendor, txn)}
}

// mimeType is the part's type as uploaded: RT relabels a text file it
// cannot decode as application/octet-stream, keeping the original type in
// X-RT-Original-Content-Type.
func mimeType(a attachment) string {
	t := a.ContentType
	if orig := header(a.Headers, "X-RT-Original-Content-Type"); orig != "" {
		t = orig
	}
	return strings.TrimSpace(strings.SplitN(t, ";", 2)[0])
}

// declaredType is the type an upload is sent with. RT converts text/plain
// and text/html files to UTF-8, guessing the encoding when none is
// declared, and a wrong guess (e.g. UTF-16 for binary bytes) garbles the
// file for good. So a text file is declared UTF-8 when it is, and
// ISO-8859-1 otherwise: every byte string is valid ISO-8859-1, and the
// adapter converts such a file back on download.
func declaredType(mimeType string, data []byte) string {
	base := strings.ToLower(strings.TrimSpace(strings.SplitN(mimeType, ";", 2)[0]))
	if base != "text/plain" && base != "text/html" {
		return mimeType
	}
	if utf8.Valid(data) {
		return base + "; charset=utf-8"
	}
	return base + "; charset=iso-8859-1"
}
