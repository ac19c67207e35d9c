package freshdesk

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// maxTextField is the length of a single-line text custom field.
const maxTextField = 255

// searchPageSize and searchMaxPages are the search API's fixed page size
// and its last page.
const (
	searchPageSize = 30
	searchMaxPages = 10
	// maxSearchQuery is the longest query the search takes.
	maxSearchQuery = 512
)

// checkbox reads a checkbox field's value.
func checkbox(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

// text reads a text field's value ("" for none or another type).
func text(v any) string {
	s, _ := v.(string)
	return s
}

func (c *Client) googleCaseOf(t fTicket) string { return text(t.CustomFields[c.cfg.GoogleCaseField]) }

// toCase converts a ticket, without its description (see withDescription).
func (c *Client) toCase(t fTicket) casesync.CompanyCase {
	cc := casesync.CompanyCase{
		ID:         strconv.FormatInt(t.ID, 10),
		Subject:    t.Subject,
		Closed:     slices.Contains(c.cfg.ClosedStatuses, t.Status),
		SyncFlag:   checkbox(t.CustomFields[c.cfg.SyncFlagField]),
		GoogleCase: c.googleCaseOf(t),
		CreateTime: t.CreatedAt.UTC(),
		UpdateTime: t.UpdatedAt.UTC(),
		Escalation: c.escalationOf(t),
		ReadAt:     t.readAt,
	}
	if t.Priority >= 1 && t.Priority <= 4 {
		cc.Priority = strconv.Itoa(t.Priority)
	}
	return cc
}

// withDescription converts a ticket read with its description: the
// ticket's first message, which the requester sees, kept on the ticket and
// never a conversation.
func (c *Client) withDescription(t fTicket) casesync.CompanyCase {
	cc := c.toCase(t)
	if t.DescriptionText != nil {
		cc.Description = *t.DescriptionText
	}
	return cc
}

// SearchUpdated returns every flagged or linked ticket updated strictly
// after since, from the ticket list ordered by update time (see the
// package documentation for how it pages). The cases carry no
// description: the list leaves it out unless asked for, at extra cost,
// and the engine reads a case with GetCase before it copies anything.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	cases, _, err := c.listUpdated(ctx, since, since.UTC().Truncate(time.Second), 1, time.Time{}, false)
	return cases, err
}

var _ casesync.ResumableSearchCRM = (*Client)(nil)

// maxCursorPage bounds the page a poll cursor may name: a burst of tickets
// changed within one second is read page by page from the same
// updated_since, and Freshdesk caps how deep the list pages anyway.
const maxCursorPage = 1000

// cursorForm is a poll cursor: "u", the updated_since to list from (Unix
// seconds), "p" and the page of that listing to read next.
var cursorForm = regexp.MustCompile(`^u([0-9]{1,11})p([0-9]{1,4})$`)

func formatCursor(start time.Time, page int) string {
	return "u" + strconv.FormatInt(start.Unix(), 10) + "p" + strconv.Itoa(page)
}

// parseCursor reads a poll cursor given with since. It must name a page
// of 1 to maxCursorPage and an updated_since no earlier than since (a
// listing never goes back) and not a day past the wall clock.
func parseCursor(cursor string, since time.Time) (time.Time, int, error) {
	if err := casesync.CheckPollCursor(cursor); err != nil {
		return time.Time{}, 0, err
	}
	m := cursorForm.FindStringSubmatch(cursor)
	if m == nil {
		return time.Time{}, 0, errors.New("not a Freshdesk ticket list position")
	}
	secs, err1 := strconv.ParseInt(m[1], 10, 64)
	page, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || page < 1 || page > maxCursorPage {
		return time.Time{}, 0, fmt.Errorf("a page outside 1..%d", maxCursorPage)
	}
	start := time.Unix(secs, 0).UTC()
	if start.Before(since.UTC().Truncate(time.Second)) || start.After(time.Now().Add(24*time.Hour)) {
		return time.Time{}, 0, errors.New("a position before the poll's since or in the future")
	}
	return start, page, nil
}

// SearchUpdatedStep implements casesync.ResumableSearchCRM: it reads the
// same list as SearchUpdated, from cursor (an updated_since and a page, as
// an earlier step with the same since answered) or from since, and stops
// after Config.MaxPages pages (crmhttp.DefaultMaxPages when unset), once
// stopAt has passed, or when Freshdesk answers 429 with a wait longer than
// MaxRetryWait after at least one page: Freshdesk caps the ticket list per
// minute well below the account's limit (20 a minute on Growth), so a
// backlog is read over several polls. It then answers what it read and
// where to go on from. A cursor that could not have come from it is
// reported as casesync.ErrPollCursorRefused.
func (c *Client) SearchUpdatedStep(ctx context.Context, since time.Time, cursor string, stopAt time.Time) ([]casesync.CompanyCase, string, error) {
	start, page := since.UTC().Truncate(time.Second), 1
	if cursor != "" {
		var err error
		if start, page, err = parseCursor(cursor, since); err != nil {
			return nil, "", &casesync.APIError{Side: casesync.SideCompany, Op: "tickets.list",
				Err: fmt.Errorf("%w: %w", casesync.ErrPollCursorRefused, err)}
		}
	}
	return c.listUpdated(ctx, since, start, page, stopAt, true)
}

// tooDeep is the error of a step that would stop deeper in a burst than a
// cursor may name.
func tooDeep(op string) error {
	return &casesync.APIError{Side: casesync.SideCompany, Op: op,
		Err: fmt.Errorf("Freshdesk: more than %d pages of tickets changed within one second", maxCursorPage)}
}

// listUpdated reads the ticket list from updated_since start, page page,
// and returns the flagged or linked tickets updated after since. Read
// whole (step false), a listing past the page bound is an error; read in a
// step, it stops there, at stopAt, or at a 429 Freshdesk asks to wait out
// longer than the client waits, and answers where to go on.
func (c *Client) listUpdated(ctx context.Context, since, start time.Time, page int, stopAt time.Time, step bool) ([]casesync.CompanyCase, string, error) {
	const op = "tickets.list"
	cursor := start
	found := map[int64]fTicket{}
	maxPages := c.cfg.MaxPages
	if maxPages <= 0 {
		maxPages = crmhttp.DefaultMaxPages
	}
	pg := c.http.NewPager(op)
	if step {
		pg = crmhttp.NewPager(vendor, op, maxPages+1)
	}
	next := ""
	for {
		q := url.Values{
			"updated_since": {cursor.Format(time.RFC3339)},
			"order_by":      {"updated_at"},
			"order_type":    {"asc"},
			"per_page":      {strconv.Itoa(c.cfg.PageSize)},
			"page":          {strconv.Itoa(page)},
		}
		var tickets []fTicket
		a, err := c.call(ctx, crmhttp.Request{Op: op, Path: "/api/v2/tickets", Query: q}, &tickets)
		var ae *casesync.APIError
		if err != nil && step && pg.Pages() > 0 && errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			// The list's cap for this minute is spent: hand on what was
			// read, and the next poll goes on from this page.
			next = formatCursor(cursor, page)
			if page > maxCursorPage {
				return nil, "", tooDeep(op)
			}
			break
		}
		if err != nil {
			return nil, "", err
		}
		more := a.next != ""
		if err := pg.Page(q.Get("updated_since")+"#"+q.Get("page"), len(tickets), more); err != nil {
			return nil, "", err
		}
		last := cursor
		for _, t := range tickets {
			if t.UpdatedAt.After(last) {
				last = t.UpdatedAt.UTC()
			}
			if old, seen := found[t.ID]; seen && old.UpdatedAt.After(t.UpdatedAt) {
				continue // an older copy, read again in an overlap
			}
			t.readAt = a.at
			found[t.ID] = t
		}
		if !more {
			break
		}
		// Start again from the last update time seen rather than asking for
		// a deeper page: Freshdesk caps how deep a list pages. A second
		// earlier, in case updated_since is exclusive; what is read twice is
		// kept once. A page whose tickets all changed within that second (a
		// burst larger than a page) cannot move the start: the next page of
		// the same start is read instead.
		if restart := last.Add(-time.Second); restart.After(cursor) {
			cursor, page = restart, 1
		} else {
			page++
		}
		if step && (pg.Pages() >= maxPages || !time.Now().Before(stopAt)) {
			if page > maxCursorPage {
				return nil, "", tooDeep(op)
			}
			next = formatCursor(cursor, page)
			break
		}
	}
	out := make([]casesync.CompanyCase, 0, len(found))
	for _, t := range found {
		if t.Deleted || !t.UpdatedAt.After(since) {
			continue
		}
		if !checkbox(t.CustomFields[c.cfg.SyncFlagField]) && c.googleCaseOf(t) == "" {
			continue
		}
		out = append(out, c.toCase(t))
	}
	slices.SortFunc(out, func(a, b casesync.CompanyCase) int {
		if d := a.UpdateTime.Compare(b.UpdateTime); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, next, nil
}

// getTicket reads one ticket with its description and the files it was
// opened with. A deleted ticket (in the trash) is not found.
func (c *Client) getTicket(ctx context.Context, op, id string) (fTicket, error) {
	tid, err := ticketID(op, id)
	if err != nil {
		return fTicket{}, err
	}
	var t fTicket
	a, err := c.call(ctx, crmhttp.Request{Op: op, Path: "/api/v2/tickets/" + tid}, &t)
	if err != nil {
		return fTicket{}, err
	}
	if t.Deleted || t.ID <= 0 {
		return fTicket{}, crmhttp.NotFoundError(vendor, op, "ticket "+tid)
	}
	t.readAt = a.at
	return t, nil
}

// GetCase reads one ticket and its description.
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	t, err := c.getTicket(ctx, "tickets.get", id)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	return c.withDescription(t), nil
}

// searchable reports whether a Google case name can be put in a search
// query as a quoted string: Freshdesk's query language has no escapes.
func searchable(name string) bool {
	if name == "" || len(name) > 300 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-_.:", r)) {
			return false
		}
	}
	return true
}

// FindByGoogleCase finds the ticket whose Google-case field holds name,
// through the search API (GET /search/tickets), then reads it. The search
// index lags (CreationLookupLag).
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	const op = "tickets.search"
	if !searchable(name) {
		// No Google case name holds such characters: nothing holds it.
		return casesync.CompanyCase{}, false, nil
	}
	query := `"` + c.cfg.GoogleCaseField + `:'` + name + `'"`
	if len(query) > maxSearchQuery {
		return casesync.CompanyCase{}, false, nil
	}
	var best int64
	pg := c.http.NewPager(op)
	for page := 1; page <= searchMaxPages; page++ {
		var resp struct {
			Results []fTicket `json:"results"`
			Total   int       `json:"total"`
		}
		q := url.Values{"query": {query}, "page": {strconv.Itoa(page)}}
		if _, err := c.call(ctx, crmhttp.Request{Op: op, Path: "/api/v2/search/tickets", Query: q}, &resp); err != nil {
			return casesync.CompanyCase{}, false, err
		}
		more := len(resp.Results) == searchPageSize && page*searchPageSize < resp.Total && page < searchMaxPages
		if err := pg.Page(q.Get("page"), len(resp.Results), more); err != nil {
			return casesync.CompanyCase{}, false, err
		}
		for _, t := range resp.Results {
			if c.googleCaseOf(t) == name && !t.Deleted && t.ID > 0 && (best == 0 || t.ID < best) {
				best = t.ID
			}
		}
		if !more {
			break
		}
	}
	if best == 0 {
		return casesync.CompanyCase{}, false, nil
	}
	// The index may be behind the ticket: what is returned is read fresh.
	t, err := c.getTicket(ctx, op, strconv.FormatInt(best, 10))
	if casesync.IsNotFound(err) {
		return casesync.CompanyCase{}, false, nil
	}
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	if c.googleCaseOf(t) != name {
		return casesync.CompanyCase{}, false, nil
	}
	return c.withDescription(t), true, nil
}

// htmlBody turns plain text into the HTML Freshdesk keeps a description or
// a conversation in: escaped, with line breaks.
func htmlBody(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// priorityNumber checks p against Freshdesk's priorities.
func priorityNumber(op, p string) (int, error) {
	if !slices.Contains(Priorities, p) {
		return 0, crmhttp.Invalid(vendor, op, "priority %q is not one of %s (1 Low, 2 Medium, 3 High, 4 Urgent)", p, strings.Join(Priorities, ", "))
	}
	n, _ := strconv.Atoi(p)
	return n, nil
}

func checkFieldText(op, what, s string) error {
	switch {
	case !utf8.ValidString(s):
		return crmhttp.Invalid(vendor, op, "the %s is not valid UTF-8", what)
	case utf8.RuneCountInString(s) > maxTextField:
		return crmhttp.Invalid(vendor, op, "the %s is longer than a text field holds (%d characters)", what, maxTextField)
	}
	return nil
}

// CreateCase opens a ticket linked to a Google case, with the sync agent
// as its requester: Freshdesk needs one, and its public notes send no
// email, so nobody is written to.
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	const op = "tickets.create"
	desc := nc.Description
	if strings.TrimSpace(desc) == "" {
		desc = nc.Subject // Freshdesk refuses a ticket without a description
	}
	if err := crmhttp.CheckText(vendor, op, desc); err != nil {
		return casesync.CompanyCase{}, err
	}
	if err := crmhttp.CheckText(vendor, op, nc.Subject); err != nil {
		return casesync.CompanyCase{}, err
	}
	if err := checkFieldText(op, "Google case name", nc.GoogleCase); err != nil {
		return casesync.CompanyCase{}, err
	}
	priority := 1
	if nc.Priority != "" {
		n, err := priorityNumber(op, nc.Priority)
		if err != nil {
			return casesync.CompanyCase{}, err
		}
		priority = n
	}
	me, err := c.syncAgent(ctx)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	if me.Contact.Email == "" {
		return casesync.CompanyCase{}, crmhttp.Invalid(vendor, op, "the sync agent (GET /agents/me) has no email address to be the ticket's requester")
	}
	in := map[string]any{
		"subject":     nc.Subject,
		"description": htmlBody(desc),
		"email":       me.Contact.Email,
		"priority":    priority,
		"status":      StatusOpen,
	}
	if nc.GoogleCase != "" {
		in["custom_fields"] = map[string]any{c.cfg.GoogleCaseField: nc.GoogleCase}
	}
	var t fTicket
	req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: "/api/v2/tickets", Body: crmhttp.JSONBody(in),
		ContentType: "application/json", Mode: crmhttp.IfRefused}
	a, err := c.call(ctx, req, &t)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	t.readAt = a.at
	cc := c.withDescription(t)
	if t.DescriptionText == nil {
		cc.Description = desc
	}
	return cc, nil
}

// update sends PUT /tickets/{id} with fields.
func (c *Client) update(ctx context.Context, op string, id int64, fields map[string]any) error {
	req := crmhttp.Request{Op: op, Method: http.MethodPut, Path: "/api/v2/tickets/" + strconv.FormatInt(id, 10),
		Body: crmhttp.JSONBody(fields), ContentType: "application/json", Mode: crmhttp.Safe}
	_, err := c.call(ctx, req, nil)
	return err
}

// SetGoogleCase writes the Google-case field unless it already holds name.
func (c *Client) SetGoogleCase(ctx context.Context, id, name string) error {
	const op = "tickets.update"
	if err := crmhttp.CheckText(vendor, op, name); err != nil {
		return err
	}
	if err := checkFieldText(op, "Google case name", name); err != nil {
		return err
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if c.googleCaseOf(t) == name {
		return nil
	}
	return c.update(ctx, op, t.ID, map[string]any{"custom_fields": map[string]any{c.cfg.GoogleCaseField: name}})
}

// SetPriority sets the ticket's priority unless it already has it.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	const op = "tickets.update"
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	n, err := priorityNumber(op, priority)
	if err != nil {
		return err
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if t.Priority == n {
		return nil
	}
	return c.update(ctx, op, t.ID, map[string]any{"priority": n})
}

// CloseCase sets the close status (default 5, Closed) unless the ticket's
// status already counts as closed.
func (c *Client) CloseCase(ctx context.Context, id string) error {
	const op = "tickets.update"
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		return nil
	}
	return c.update(ctx, op, t.ID, map[string]any{"status": c.cfg.CloseStatus})
}
