package zendesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// exportStartMargin keeps the export's start_time older than Zendesk's
// one-minute exclusion window (a start_time inside it is refused), with
// room for clock skew.
const exportStartMargin = 2 * time.Minute

// SearchUpdated returns every flagged or linked ticket updated strictly
// after since, through the cursor-based incremental ticket export (see the
// package documentation for why not the Search API). The cases carry no
// description: the export's description field may be an internal note's
// text, and GetCase reads it with its visibility.
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	cases, _, err := c.export(ctx, since, "", time.Time{}, false)
	return cases, err
}

// SearchUpdatedStep implements casesync.ResumableSearchCRM: it reads the
// same export as SearchUpdated, from cursor (an after_cursor of an earlier
// step with the same since) or from since, and stops after Config.MaxPages
// pages (crmhttp.DefaultMaxPages when unset) or once stopAt has passed,
// answering the export's after_cursor to go on from. A cursor Zendesk
// refuses (400 or 422), or one that could not have come from it, is
// reported as casesync.ErrPollCursorRefused.
func (c *Client) SearchUpdatedStep(ctx context.Context, since time.Time, cursor string, stopAt time.Time) ([]casesync.CompanyCase, string, error) {
	return c.export(ctx, since, cursor, stopAt, true)
}

var _ casesync.ResumableSearchCRM = (*Client)(nil)

// export reads the incremental export from cursor, or from since when
// cursor is empty, and returns the flagged or linked tickets updated after
// since. Read whole (step false), a listing past the page bound is an
// error; read in a step, it stops there, or at stopAt, and answers where
// to go on.
func (c *Client) export(ctx context.Context, since time.Time, cursor string, stopAt time.Time, step bool) ([]casesync.CompanyCase, string, error) {
	const op = "tickets.export"
	size := strconv.Itoa(c.cfg.ExportPageSize)
	var q url.Values
	token := ""
	if cursor != "" {
		if err := casesync.CheckPollCursor(cursor); err != nil {
			return nil, "", &casesync.APIError{Side: casesync.SideCompany, Op: op,
				Err: fmt.Errorf("%w: %w", casesync.ErrPollCursorRefused, err)}
		}
		token = "cursor=" + cursor
		q = url.Values{"cursor": {cursor}, "per_page": {size}, "exclude_deleted": {"true"}}
	} else {
		// The export compares start_time with generated_timestamp, which is
		// never before updated_at, so every ticket updated after since is
		// included; the exact filter is applied here.
		start := since.Add(-time.Second).Unix()
		if latest := c.cfg.Now().Add(-exportStartMargin).Unix(); start > latest {
			start = latest
		}
		start = max(start, 0)
		token = "start_time=" + strconv.FormatInt(start, 10)
		q = url.Values{"start_time": {strconv.FormatInt(start, 10)}, "per_page": {size}, "exclude_deleted": {"true"}}
	}
	maxPages := c.cfg.MaxPages
	if maxPages <= 0 {
		maxPages = crmhttp.DefaultMaxPages
	}
	found := map[int64]zTicket{}
	// With exclude_deleted, a page of deleted tickets may come back empty
	// with more to follow: allowed, and bounded by the page limit. A step
	// stops at the bound itself, so its pager is given one page more.
	pg := c.http.NewPager(op).AllowEmptyPages()
	if step {
		pg = crmhttp.NewPager(vendor, op, maxPages+1).AllowEmptyPages()
	}
	// given: the request is the first, made with the cursor the step was
	// given (from the poll state, so from outside).
	given := cursor != ""
	next := ""
	for {
		var resp struct {
			Tickets     []zTicket `json:"tickets"`
			AfterCursor *string   `json:"after_cursor"`
			EndOfStream bool      `json:"end_of_stream"`
		}
		at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: op, Path: "/api/v2/incremental/tickets/cursor.json", Query: q}, &resp)
		var ae *casesync.APIError
		if err != nil && given && errors.As(err, &ae) &&
			(ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnprocessableEntity) {
			// Zendesk does not take the cursor the step was given.
			return nil, "", fmt.Errorf("%w (%w)", err, casesync.ErrPollCursorRefused)
		}
		given = false
		if err != nil {
			return nil, "", err
		}
		if err := pg.Page(token, len(resp.Tickets), !resp.EndOfStream); err != nil {
			return nil, "", err
		}
		for _, t := range resp.Tickets {
			if t.Status == "deleted" || !t.UpdatedAt.After(since) {
				continue
			}
			if !checkbox(t.field(c.cfg.SyncFlagFieldID)) && c.googleCaseOf(t) == "" {
				// A ticket seen again later in the stream may have lost its
				// flag: the later copy wins.
				delete(found, t.ID)
				continue
			}
			t.readAt = at
			found[t.ID] = t // a later copy of a ticket is newer
		}
		if resp.EndOfStream {
			break
		}
		if resp.AfterCursor == nil || *resp.AfterCursor == "" {
			return nil, "", &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: true,
				Err: errors.New("Zendesk: the incremental export gave no cursor to continue")}
		}
		after := *resp.AfterCursor
		if step && (pg.Pages() >= maxPages || !time.Now().Before(stopAt)) {
			if err := casesync.CheckPollCursor(after); err != nil {
				return nil, "", &casesync.APIError{Side: casesync.SideCompany, Op: op,
					Err: fmt.Errorf("Zendesk: the incremental export gave a cursor that cannot be kept: %w", err)}
			}
			next = after
			break
		}
		token = "cursor=" + after
		q = url.Values{"cursor": {after}, "per_page": {size}, "exclude_deleted": {"true"}}
	}
	out := make([]casesync.CompanyCase, 0, len(found))
	for _, t := range found {
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

func (c *Client) getTicket(ctx context.Context, op, id string) (zTicket, error) {
	tid, err := ticketID(op, id)
	if err != nil {
		return zTicket{}, err
	}
	var out struct {
		Ticket zTicket `json:"ticket"`
	}
	at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: op, Path: "/api/v2/tickets/" + tid + ".json"}, &out)
	out.Ticket.readAt = at
	return out.Ticket, err
}

// GetCase reads one ticket and its description (see withDescription).
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	const op = "tickets.get"
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	return c.withDescription(ctx, op, t)
}

// withDescription converts a ticket with its description, which is the
// text of its first comment only when that comment is public. Zendesk
// answers the first comment's text as the ticket's description whatever
// its visibility, and an agent may open a ticket with an internal note or
// make the first comment private later: then the ticket has no
// description, and the note stays in Zendesk (ListComments lists it as an
// internal note). A ticket whose is_public says no comment is public needs
// no further call; otherwise the first comment is read (one small call).
func (c *Client) withDescription(ctx context.Context, op string, t zTicket) (casesync.CompanyCase, error) {
	cc := c.toCase(t)
	if t.IsPublic != nil && !*t.IsPublic {
		return cc, nil
	}
	first, ok, err := c.firstComment(ctx, op, strconv.FormatInt(t.ID, 10))
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	if ok && first.Public {
		cc.Description = t.Description
	}
	return cc, nil
}

// FindByGoogleCase finds the ticket whose Google-case field holds name:
// first by external id (which CreateCase and SetGoogleCase set, and which
// Zendesk looks up without the search index's lag), then through the
// Search API for tickets linked by hand whose external id was taken.
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	if name == "" {
		return casesync.CompanyCase{}, false, nil
	}
	var listed struct {
		Tickets []zTicket `json:"tickets"`
	}
	req := crmhttp.Request{Op: "tickets.find", Path: "/api/v2/tickets.json", Query: url.Values{"external_id": {name}}}
	at, err := c.http.JSONAt(ctx, req, &listed)
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	for i := range listed.Tickets {
		listed.Tickets[i].readAt = at
	}
	if t, ok := c.pick(listed.Tickets, name); ok {
		cc, err := c.withDescription(ctx, "tickets.find", t)
		return cc, err == nil, err
	}
	query := `type:ticket custom_field_` + strconv.FormatInt(c.cfg.GoogleCaseFieldID, 10) + `:"` + strings.ReplaceAll(name, `"`, ``) + `"`
	q := url.Values{"query": {query}, "per_page": {strconv.Itoa(c.cfg.PageSize)}}
	var all []zTicket
	pg := c.http.NewPager("tickets.search")
	// The Search API answers at most 1000 results; a page past them is
	// refused, so the listing ends there.
	for page := 1; page <= 1000/c.cfg.PageSize; page++ {
		q.Set("page", strconv.Itoa(page))
		var resp struct {
			Results  []zTicket `json:"results"`
			NextPage *string   `json:"next_page"`
		}
		at, err := c.http.JSONAt(ctx, crmhttp.Request{Op: "tickets.search", Path: "/api/v2/search.json", Query: q}, &resp)
		if err != nil {
			return casesync.CompanyCase{}, false, err
		}
		for i := range resp.Results {
			resp.Results[i].readAt = at
		}
		if err := pg.Page(q.Get("page"), len(resp.Results), resp.NextPage != nil); err != nil {
			return casesync.CompanyCase{}, false, err
		}
		all = append(all, resp.Results...)
		if resp.NextPage == nil {
			break
		}
	}
	if t, ok := c.pick(all, name); ok {
		cc, err := c.withDescription(ctx, "tickets.search", t)
		return cc, err == nil, err
	}
	return casesync.CompanyCase{}, false, nil
}

// pick returns the oldest ticket whose Google-case field is exactly name.
func (c *Client) pick(ts []zTicket, name string) (zTicket, bool) {
	var best zTicket
	ok := false
	for _, t := range ts {
		if c.googleCaseOf(t) == name && t.Status != "deleted" && (!ok || t.ID < best.ID) {
			best, ok = t, true
		}
	}
	return best, ok
}

type ticketBody struct {
	Ticket ticketUpdate `json:"ticket"`
}

type ticketUpdate struct {
	Subject      string      `json:"subject,omitempty"`
	Comment      *newComment `json:"comment,omitempty"`
	Priority     string      `json:"priority,omitempty"`
	Status       string      `json:"status,omitempty"`
	AssigneeID   *int64      `json:"assignee_id,omitempty"`
	CustomFields []zField    `json:"custom_fields,omitempty"`
	ExternalID   *string     `json:"external_id,omitempty"`
	// Tags replaces every tag of the ticket: it is sent as a safe update
	// (SafeUpdate with the UpdatedStamp read), which Zendesk refuses with
	// 409 when the ticket changed since.
	Tags         *[]string `json:"tags,omitempty"`
	SafeUpdate   bool      `json:"safe_update,omitempty"`
	UpdatedStamp string    `json:"updated_stamp,omitempty"`
}

type newComment struct {
	Body    string   `json:"body"`
	Public  bool     `json:"public"`
	Uploads []string `json:"uploads,omitempty"`
}

// validPriority checks p against the configured values.
func (c *Client) validPriority(op, p string) error {
	if !slices.Contains(c.cfg.Priorities, p) {
		return crmhttp.Invalid(vendor, op, "priority %q is not one of %s", p, strings.Join(c.cfg.Priorities, ", "))
	}
	return nil
}

// CreateCase opens a ticket linked to a Google case: the Google-case field
// and the external id both hold its name. The description is the ticket's
// first comment, a public one.
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	const op = "tickets.create"
	desc := nc.Description
	if strings.TrimSpace(desc) == "" {
		desc = nc.Subject // Zendesk refuses a ticket without a description
	}
	if err := crmhttp.CheckText(vendor, op, desc); err != nil {
		return casesync.CompanyCase{}, err
	}
	if !utf8.ValidString(nc.Subject) || !utf8.ValidString(nc.GoogleCase) {
		return casesync.CompanyCase{}, crmhttp.Invalid(vendor, op, "the subject or the Google case name is not valid UTF-8")
	}
	if nc.Priority != "" {
		if err := c.validPriority(op, nc.Priority); err != nil {
			return casesync.CompanyCase{}, err
		}
	}
	in := ticketUpdate{Subject: nc.Subject, Comment: &newComment{Body: desc, Public: true}, Priority: nc.Priority}
	if nc.GoogleCase != "" {
		name := nc.GoogleCase
		in.CustomFields = []zField{{ID: c.cfg.GoogleCaseFieldID, Value: name}}
		in.ExternalID = &name
	}
	var out struct {
		Ticket zTicket `json:"ticket"`
	}
	req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: "/api/v2/tickets.json", Body: crmhttp.JSONBody(ticketBody{in}),
		ContentType: "application/json", Mode: crmhttp.IfRefused}
	at, err := c.http.JSONAt(ctx, req, &out)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	out.Ticket.readAt = at
	cc := c.toCase(out.Ticket)
	cc.Description = out.Ticket.Description // the public comment just sent
	return cc, nil
}

// update sends a ticket update.
func (c *Client) update(ctx context.Context, op, id string, in ticketUpdate, mode crmhttp.RetryMode, out any) error {
	req := crmhttp.Request{Op: op, Method: http.MethodPut, Path: "/api/v2/tickets/" + id + ".json", Body: crmhttp.JSONBody(ticketBody{in}),
		ContentType: "application/json", Mode: mode}
	return c.http.JSON(ctx, req, out)
}

// SetGoogleCase writes the Google-case field (and the external id, when it
// is free or held the previous link), unless it already holds name.
func (c *Client) SetGoogleCase(ctx context.Context, id, name string) error {
	const op = "tickets.update"
	if err := crmhttp.CheckText(vendor, op, name); err != nil {
		return err
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if c.googleCaseOf(t) == name {
		return nil
	}
	in := ticketUpdate{CustomFields: []zField{{ID: c.cfg.GoogleCaseFieldID, Value: name}}}
	if t.ExternalID == nil || *t.ExternalID == "" || *t.ExternalID == c.googleCaseOf(t) {
		in.ExternalID = &name
	}
	return c.update(ctx, op, strconv.FormatInt(t.ID, 10), in, crmhttp.Safe, nil)
}

// SetPriority sets the ticket's priority unless it already has it. Zendesk
// lets the priority of a closed ticket change.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	const op = "tickets.update"
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	if err := c.validPriority(op, priority); err != nil {
		return err
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if t.Priority != nil && *t.Priority == priority {
		return nil
	}
	return c.update(ctx, op, strconv.FormatInt(t.ID, 10), ticketUpdate{Priority: priority}, crmhttp.Safe, nil)
}

// CloseCase sets the close status unless the ticket already counts as
// closed. A closed ticket cannot be updated, so it is left alone.
//
// Zendesk refuses to solve a ticket without an assignee unless the account
// auto-assigns on solve, and tickets made by CreateCase have none: an
// unassigned ticket is assigned to the sync user in the same update.
func (c *Client) CloseCase(ctx context.Context, id string) error {
	const op = "tickets.update"
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	if slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		return nil
	}
	in := ticketUpdate{Status: c.cfg.CloseStatus}
	if t.AssigneeID == nil || *t.AssigneeID == 0 {
		me, err := c.syncUser(ctx)
		if err != nil {
			return err
		}
		in.AssigneeID = me.ID
	}
	err = c.update(ctx, op, strconv.FormatInt(t.ID, 10), in, crmhttp.Safe, nil)
	var ae *casesync.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		// Closed in the meantime (closed tickets refuse updates)?
		if t, gerr := c.getTicket(ctx, op, id); gerr == nil && slices.Contains(c.cfg.ClosedStatuses, t.Status) {
			return nil
		}
	}
	return err
}
