package zendesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// allComments lists every comment of the ticket, oldest first, the first
// (the ticket's description) included, with their authors' names. The
// listing is bounded by the pager: at most MaxPages pages, and no cursor
// twice.
func (c *Client) allComments(ctx context.Context, op, id string) ([]zComment, map[int64]string, error) {
	tid, err := ticketID(op, id)
	if err != nil {
		return nil, nil, err
	}
	q := url.Values{"page[size]": {strconv.Itoa(c.cfg.PageSize)}, "include": {"users"}, "sort_order": {"asc"}}
	pg := c.http.NewPager(op)
	var all []zComment
	for cursor := ""; ; {
		var resp commentPage
		if err := c.http.JSON(ctx, crmhttp.Request{Op: op, Path: "/api/v2/tickets/" + tid + "/comments.json", Query: q}, &resp); err != nil {
			return nil, nil, err
		}
		if err := pg.Page(cursor, len(resp.Comments), resp.Meta.HasMore); err != nil {
			return nil, nil, err
		}
		c.remember(resp.Users)
		all = append(all, resp.Comments...)
		if !resp.Meta.HasMore {
			break
		}
		if resp.Meta.AfterCursor == nil || *resp.Meta.AfterCursor == "" {
			return nil, nil, &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: true,
				Err: errors.New("Zendesk: a comment page said there were more but gave no cursor")}
		}
		cursor = *resp.Meta.AfterCursor
		q.Set("page[after]", cursor)
	}
	var authors []int64
	for _, cm := range all {
		authors = append(authors, cm.AuthorID)
	}
	names, err := c.userNames(ctx, authors)
	if err != nil {
		return nil, nil, err
	}
	return all, names, nil
}

// commentPage is one page of GET /tickets/{id}/comments.
type commentPage struct {
	Comments []zComment `json:"comments"`
	Users    []zUser    `json:"users"`
	Meta     struct {
		HasMore     bool    `json:"has_more"`
		AfterCursor *string `json:"after_cursor"`
	} `json:"meta"`
}

// firstComment reads the ticket's first comment alone (one page of one);
// ok is false when the ticket has none.
func (c *Client) firstComment(ctx context.Context, op, tid string) (zComment, bool, error) {
	q := url.Values{"page[size]": {"1"}, "sort_order": {"asc"}}
	var resp commentPage
	if err := c.http.JSON(ctx, crmhttp.Request{Op: op, Path: "/api/v2/tickets/" + tid + "/comments.json", Query: q}, &resp); err != nil {
		return zComment{}, false, err
	}
	if len(resp.Comments) == 0 {
		return zComment{}, false, nil
	}
	return resp.Comments[0], true, nil
}

// ListComments returns the ticket's comments, public replies and internal
// notes, oldest first. A public first comment is left out: it is the
// ticket's description (see GetCase). A private first comment is no
// description; it is listed as the internal note it is.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	const op = "comments.list"
	all, names, err := c.allComments(ctx, op, id)
	if err != nil {
		return nil, err
	}
	me, err := c.syncUser(ctx)
	if err != nil {
		return nil, err
	}
	return toComments(all, names, *me.ID), nil
}

// toComments converts a ticket's comments, listed oldest first, for
// ListComments: every comment but a public first one (the description).
func toComments(all []zComment, names map[int64]string, meID int64) []casesync.Comment {
	var out []casesync.Comment
	for i, cm := range all {
		if i == 0 && cm.Public {
			continue // the description
		}
		out = append(out, casesync.Comment{
			ID:          strconv.FormatInt(cm.ID, 10),
			Body:        cm.Body,
			AuthorName:  names[cm.AuthorID],
			ByConnector: cm.AuthorID == meID,
			Public:      cm.Public,
			CreateTime:  cm.CreatedAt.UTC(),
		})
	}
	return out
}

// ListItems returns what ListComments and ListAttachments return, from one
// listing of the ticket's comments: Zendesk gives every comment with its
// files (comments[].attachments), so the two lists cost the calls of one.
func (c *Client) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	const op = "comments.list"
	all, names, err := c.allComments(ctx, op, id)
	if err != nil {
		return nil, nil, err
	}
	me, err := c.syncUser(ctx)
	if err != nil {
		return nil, nil, err
	}
	return toComments(all, names, *me.ID), c.toAttachments(all, names, *me.ID), nil
}

// addComment adds a comment (with uploads) and returns it as the audit
// reports it.
func (c *Client) addComment(ctx context.Context, op, id string, nc newComment) (zComment, zUser, error) {
	me, err := c.syncUser(ctx)
	if err != nil {
		return zComment{}, zUser{}, err
	}
	var resp struct {
		Audit zAudit `json:"audit"`
	}
	if err := c.update(ctx, op, id, ticketUpdate{Comment: &nc}, crmhttp.IfRefused, &resp); err != nil {
		return zComment{}, zUser{}, err
	}
	for _, ev := range resp.Audit.Events {
		if ev.Type == "Comment" && ev.ID != 0 {
			if ev.CreatedAt.IsZero() {
				ev.CreatedAt = resp.Audit.CreatedAt
			}
			return ev, me, nil
		}
	}
	return zComment{}, zUser{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusOK,
		Err: errors.New("Zendesk: the update's audit holds no comment event")}
}

// AddComment adds a public reply or an internal note as the sync user.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	const op = "comments.add"
	tid, err := ticketID(op, id)
	if err != nil {
		return casesync.Comment{}, err
	}
	if err := crmhttp.CheckText(vendor, op, body); err != nil {
		return casesync.Comment{}, err
	}
	ev, me, err := c.addComment(ctx, op, tid, newComment{Body: body, Public: public})
	if err != nil {
		return casesync.Comment{}, err
	}
	return casesync.Comment{
		ID:          strconv.FormatInt(ev.ID, 10),
		Body:        body,
		AuthorName:  me.Name,
		ByConnector: true,
		Public:      public,
		CreateTime:  ev.CreatedAt.UTC(),
	}, nil
}

func (c *Client) toAttachment(a zAttachment, cm zComment, names map[int64]string, meID int64) casesync.Attachment {
	return casesync.Attachment{
		ID:          strconv.FormatInt(a.ID, 10),
		Filename:    a.FileName,
		MimeType:    a.ContentType,
		Size:        a.Size,
		AuthorName:  names[cm.AuthorID],
		ByConnector: cm.AuthorID == meID,
		// A file belongs to its comment: public only on a public reply (or a
		// public description). Zendesk keeps the files of internal notes on
		// those private comments; a comment that does not say it is public
		// reads as private.
		Public:     cm.Public,
		CreateTime: cm.CreatedAt.UTC(),
	}
}

// ListAttachments lists the files of every comment, the description's
// included, oldest first. A file is public only when its comment is.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	const op = "attachments.list"
	all, names, err := c.allComments(ctx, op, id)
	if err != nil {
		return nil, err
	}
	me, err := c.syncUser(ctx)
	if err != nil {
		return nil, err
	}
	return c.toAttachments(all, names, *me.ID), nil
}

// toAttachments converts the files of a ticket's comments, listed oldest
// first, for ListAttachments.
func (c *Client) toAttachments(all []zComment, names map[int64]string, meID int64) []casesync.Attachment {
	var out []casesync.Attachment
	for _, cm := range all {
		for _, a := range cm.Attachments {
			out = append(out, c.toAttachment(a, cm, names, meID))
		}
	}
	return out
}

// contentURL picks the address of a file on CRM_URL's host, the only host
// credentials are sent to: mapped_content_url when CRM_URL is the account's
// host-mapped domain, else content_url (on {subdomain}.zendesk.com). When
// neither is on it, the error says which CRM_URL would work.
func (c *Client) contentURL(op string, a zAttachment) (string, error) {
	for _, raw := range []string{a.MappedContentURL, a.ContentURL} {
		if u, err := url.Parse(raw); raw != "" && err == nil && u.Scheme == c.base.Scheme && u.Host == c.base.Host {
			return raw, nil
		}
	}
	account := "https://{subdomain}.zendesk.com"
	if u, err := url.Parse(a.ContentURL); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		account = u.Scheme + "://" + u.Host
	}
	return "", &casesync.APIError{Side: casesync.SideCompany, Op: op, Err: fmt.Errorf(
		"Zendesk: attachment %d is not served on CRM_URL's host %s, and credentials are sent nowhere else: set CRM_URL to the account's Zendesk address %s (https://{subdomain}.zendesk.com)",
		a.ID, c.base.Host, account)}
}

// DownloadAttachment streams a file of the ticket from its content URL on
// CRM_URL's host (see contentURL). At most MaxDownloadBytes are read: a
// file listed larger is refused before it is asked for, and one that turns
// out larger than listed fails with a permanent TooLarge error once the
// bound is passed.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	const op = "attachments.download"
	all, _, err := c.allComments(ctx, op, id)
	if err != nil {
		return nil, err
	}
	for _, cm := range all {
		for _, a := range cm.Attachments {
			if strconv.FormatInt(a.ID, 10) != attachmentID {
				continue
			}
			if limit := c.cfg.MaxDownloadBytes; limit > 0 && a.Size > limit {
				return nil, crmhttp.TooLarge(vendor, op, limit)
			}
			u, err := c.contentURL(op, a)
			if err != nil {
				return nil, err
			}
			return c.http.Download(ctx, crmhttp.Request{Op: op, URL: u, Header: http.Header{"Accept": {"*/*"}}})
		}
	}
	return nil, crmhttp.NotFoundError(vendor, op, fmt.Sprintf("attachment %s of ticket %s", casesync.Quote(attachmentID), casesync.Quote(id)))
}

// UploadAttachment streams r to Zendesk (POST /uploads) and attaches it to
// the ticket in an internal note naming the file. A file over the size
// limit is refused and nothing is attached.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = "uploads.create"
	if filename == "" || !utf8.ValidString(filename) {
		return casesync.Attachment{}, crmhttp.Invalid(vendor, op, "the file name is empty or not valid UTF-8")
	}
	t, err := c.getTicket(ctx, "tickets.get", id)
	if err != nil {
		return casesync.Attachment{}, err
	}
	if t.Status == "closed" {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusUnprocessableEntity,
			Err: &crmhttp.StatusError{Vendor: vendor, Status: http.StatusUnprocessableEntity, Detail: "ticket " + id + " is closed; Zendesk refuses updates to closed tickets"}}
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	var up struct {
		Upload struct {
			Token      string      `json:"token"`
			Attachment zAttachment `json:"attachment"`
		} `json:"upload"`
	}
	req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: "/api/v2/uploads.json",
		Query: url.Values{"filename": {filename}}, ContentType: mimeType, Mode: crmhttp.Never,
		Stream: crmhttp.LimitReader(r, c.cfg.MaxAttachmentBytes, vendor, op)}
	// A file over the limit ends in a permanent TooLarge error, whatever
	// Zendesk made of the part it got.
	if err := c.http.JSON(ctx, req, &up); err != nil {
		return casesync.Attachment{}, err
	}
	if up.Upload.Token == "" {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
			Err: errors.New("Zendesk: the upload gave no token")}
	}
	ev, me, err := c.addComment(ctx, "comments.add", strconv.FormatInt(t.ID, 10),
		newComment{Body: "Attached file: " + filename, Public: false, Uploads: []string{up.Upload.Token}})
	if err != nil {
		return casesync.Attachment{}, err
	}
	names := map[int64]string{*me.ID: me.Name}
	ev.AuthorID = *me.ID
	for _, a := range ev.Attachments {
		if a.ID == up.Upload.Attachment.ID || len(ev.Attachments) == 1 {
			return c.toAttachment(a, ev, names, *me.ID), nil
		}
	}
	a := up.Upload.Attachment
	return c.toAttachment(a, ev, names, *me.ID), nil
}
