package freshdesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// conversations lists every conversation of the ticket (replies and
// notes; the description is not one), oldest first, following the link
// rel="next" of each page. The listing is bounded by the pager.
func (c *Client) conversations(ctx context.Context, op, id string) ([]fConversation, error) {
	tid, err := ticketID(op, id)
	if err != nil {
		return nil, err
	}
	pg := c.http.NewPager(op)
	req0 := crmhttp.Request{Op: op, Path: "/api/v2/tickets/" + tid + "/conversations",
		Query: url.Values{"per_page": {strconv.Itoa(c.cfg.PageSize)}}}
	req := req0
	var all []fConversation
	for token := ""; ; {
		var page []fConversation
		a, err := c.call(ctx, req, &page)
		if err != nil {
			return nil, err
		}
		if err := pg.Page(token, len(page), a.next != ""); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if a.next == "" {
			return all, nil
		}
		if err := c.sameListing(op, a.next, req0.Path); err != nil {
			return nil, err
		}
		token = a.next
		req = crmhttp.Request{Op: op, URL: a.next}
	}
}

// sameListing checks that a link rel="next" is a further page of the
// listing at path on CRM_URL: the same scheme, host and path, only the
// query differs. Anything else is not followed.
func (c *Client) sameListing(op, next, path string) error {
	u, err := url.Parse(next)
	if err == nil && u.User == nil && u.Scheme == c.base.Scheme && strings.EqualFold(u.Host, c.base.Host) &&
		u.Path == c.base.Path+path && u.Fragment == "" {
		return nil
	}
	return &casesync.APIError{Side: casesync.SideCompany, Op: op,
		Err: errors.New("Freshdesk: the next page's link is not a further page of the same listing; it is not followed")}
}

// authors returns the names of the conversations' authors.
func (c *Client) authors(ctx context.Context, all []fConversation) (map[int64]string, error) {
	ids := make([]int64, 0, len(all))
	for _, cv := range all {
		ids = append(ids, cv.UserID)
	}
	return c.userNames(ctx, ids)
}

// ListComments returns the ticket's conversations, public ones (replies
// and public notes) and private notes, oldest first.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	const op = "conversations.list"
	all, err := c.conversations(ctx, op, id)
	if err != nil {
		return nil, err
	}
	me, err := c.syncAgent(ctx)
	if err != nil {
		return nil, err
	}
	names, err := c.authors(ctx, all)
	if err != nil {
		return nil, err
	}
	return toComments(all, names, me.ID), nil
}

func toComments(all []fConversation, names map[int64]string, meID int64) []casesync.Comment {
	out := make([]casesync.Comment, 0, len(all))
	for _, cv := range all {
		out = append(out, casesync.Comment{
			ID:          strconv.FormatInt(cv.ID, 10),
			Body:        cv.BodyText,
			AuthorName:  names[cv.UserID],
			ByConnector: cv.UserID == meID,
			Public:      cv.public(),
			CreateTime:  cv.CreatedAt.UTC(),
		})
	}
	return out
}

// toAttachments lists the files the ticket was opened with (public: the
// requester sees the description), then those of each conversation,
// public only when the conversation is.
func toAttachments(t fTicket, all []fConversation, names map[int64]string, meID int64) []casesync.Attachment {
	var out []casesync.Attachment
	for _, a := range t.Attachments {
		out = append(out, toAttachment(a, true, "", false))
	}
	for _, cv := range all {
		for _, a := range cv.Attachments {
			out = append(out, toAttachment(a, cv.public(), names[cv.UserID], cv.UserID == meID))
		}
	}
	return out
}

func toAttachment(a fAttachment, public bool, author string, mine bool) casesync.Attachment {
	return casesync.Attachment{
		ID:          strconv.FormatInt(a.ID, 10),
		Filename:    a.Name,
		MimeType:    a.ContentType,
		Size:        a.Size,
		AuthorName:  author,
		ByConnector: mine,
		Public:      public,
		CreateTime:  a.CreatedAt.UTC(),
	}
}

// items reads what ListAttachments and ListItems need: the ticket (for
// the files it was opened with) and its conversations.
func (c *Client) items(ctx context.Context, op, id string) (fTicket, []fConversation, map[int64]string, int64, error) {
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return fTicket{}, nil, nil, 0, err
	}
	all, err := c.conversations(ctx, op, id)
	if err != nil {
		return fTicket{}, nil, nil, 0, err
	}
	me, err := c.syncAgent(ctx)
	if err != nil {
		return fTicket{}, nil, nil, 0, err
	}
	names, err := c.authors(ctx, all)
	if err != nil {
		return fTicket{}, nil, nil, 0, err
	}
	return t, all, names, me.ID, nil
}

// ListAttachments lists the ticket's own files and those of its
// conversations, oldest first.
func (c *Client) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	t, all, names, me, err := c.items(ctx, "attachments.list", id)
	if err != nil {
		return nil, err
	}
	return toAttachments(t, all, names, me), nil
}

// ListItems returns what ListComments and ListAttachments return from one
// reading of the ticket and its conversations, which carry their files:
// two listings instead of three.
func (c *Client) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	t, all, names, me, err := c.items(ctx, "conversations.list", id)
	if err != nil {
		return nil, nil, err
	}
	return toComments(all, names, me), toAttachments(t, all, names, me), nil
}

// addNote posts a note (POST /tickets/{id}/notes) and returns it.
func (c *Client) addNote(ctx context.Context, op, tid string, req crmhttp.Request) (fConversation, error) {
	req.Op, req.Method, req.Path = op, http.MethodPost, "/api/v2/tickets/"+tid+"/notes"
	var cv fConversation
	if _, err := c.call(ctx, req, &cv); err != nil {
		return fConversation{}, err
	}
	if cv.ID <= 0 {
		return fConversation{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
			Err: errors.New("Freshdesk: the new note has no id")}
	}
	return cv, nil
}

// AddComment adds a note as the sync agent: a public note (private false)
// for a public comment, which the requester sees and which sends no email
// (a reply would email the requester), or a private note.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	const op = "notes.create"
	tid, err := ticketID(op, id)
	if err != nil {
		return casesync.Comment{}, err
	}
	if err := crmhttp.CheckText(vendor, op, body); err != nil {
		return casesync.Comment{}, err
	}
	me, err := c.syncAgent(ctx)
	if err != nil {
		return casesync.Comment{}, err
	}
	in := map[string]any{"body": htmlBody(body), "private": !public}
	cv, err := c.addNote(ctx, op, tid, crmhttp.Request{Body: crmhttp.JSONBody(in), ContentType: "application/json", Mode: crmhttp.IfRefused})
	if err != nil {
		return casesync.Comment{}, err
	}
	return casesync.Comment{
		ID:          strconv.FormatInt(cv.ID, 10),
		Body:        body,
		AuthorName:  me.Contact.Name,
		ByConnector: true,
		Public:      public,
		CreateTime:  cv.CreatedAt.UTC(),
	}, nil
}

// findAttachment lists the ticket's files and returns the one asked for.
func (c *Client) findAttachment(ctx context.Context, op, id, attachmentID string) (fAttachment, error) {
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return fAttachment{}, err
	}
	all, err := c.conversations(ctx, op, id)
	if err != nil {
		return fAttachment{}, err
	}
	files := t.Attachments
	for _, cv := range all {
		files = append(files, cv.Attachments...)
	}
	for _, a := range files {
		if strconv.FormatInt(a.ID, 10) == attachmentID {
			return a, nil
		}
	}
	return fAttachment{}, crmhttp.NotFoundError(vendor, op, fmt.Sprintf("attachment %s of ticket %s", casesync.Quote(attachmentID), casesync.Quote(id)))
}

// fileURL checks an attachment_url before it is fetched: a web address
// with no user in it, over https (over http only when CRM_URL is http, as
// a local simulator is), on a host fileGuard.checkHost allows.
func (c *Client) fileURL(op string, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || u.Scheme == "http" && c.base.Scheme == "http") || len(raw) > 8<<10 {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: op,
			Err: errors.New("Freshdesk: the attachment's address is not an https URL; it is not fetched")}
	}
	if err := c.files.checkHost(u.Hostname()); err != nil {
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: op,
			Err: fmt.Errorf("Freshdesk: the attachment's address is not fetched: %w", err)}
	}
	return u, nil
}

// fetch downloads a pre-signed attachment URL without credentials: the
// URL carries its own signature, and the API key goes nowhere but CRM_URL.
func (c *Client) fetch(ctx context.Context, op string, u *url.URL) (io.ReadCloser, error) {
	files := crmhttp.New(crmhttp.Config{
		Vendor:           vendor,
		BaseURL:          u.Scheme + "://" + u.Host,
		HTTP:             c.filesHTTP,
		MinBackoff:       c.cfg.MinBackoff,
		MaxRetryWait:     c.cfg.MaxRetryWait,
		MaxDownloadBytes: c.cfg.MaxDownloadBytes,
	})
	rc, err := files.Download(ctx, crmhttp.Request{Op: op, URL: u.String(), Header: http.Header{"Accept": {"*/*"}}})
	c.mu.Lock()
	for k, v := range files.Calls() {
		c.fileCalls[k] += v
	}
	c.mu.Unlock()
	if errors.Is(err, errAddressRefused) {
		// The file's host resolved to, or redirected to, an address that is
		// never fetched from: asking again would not change it.
		return nil, &casesync.APIError{Side: casesync.SideCompany, Op: op,
			Err: fmt.Errorf("Freshdesk: the attachment's address is not fetched: %w", errAddressRefused)}
	}
	return rc, err
}

// DownloadAttachment streams a file of the ticket from its pre-signed
// attachment_url, without credentials. The URL expires: one that answers
// 403 is read again from a fresh listing and tried once more. At most
// MaxDownloadBytes are read: a file listed larger is refused before it is
// asked for, and one that turns out larger than listed fails with a
// permanent TooLarge error once the bound is passed.
func (c *Client) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	const op = "attachments.download"
	for attempt := 1; ; attempt++ {
		a, err := c.findAttachment(ctx, op, id, attachmentID)
		if err != nil {
			return nil, err
		}
		if limit := c.cfg.MaxDownloadBytes; limit > 0 && a.Size > limit {
			return nil, crmhttp.TooLarge(vendor, op, limit)
		}
		u, err := c.fileURL(op, a.AttachmentURL)
		if err != nil {
			return nil, err
		}
		rc, err := c.fetch(ctx, op, u)
		var ae *casesync.APIError
		if attempt == 1 && errors.As(err, &ae) && ae.Status == http.StatusForbidden {
			continue // expired: a fresh listing gives a fresh URL
		}
		return rc, err
	}
}

// cleanFilename refuses a file name Freshdesk could not show.
func cleanFilename(op, name string) error {
	if strings.TrimSpace(name) == "" || !utf8.ValidString(name) || len(name) > 255 ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) }) {
		return crmhttp.Invalid(vendor, op, "the file name is empty, too long, not valid UTF-8 or holds control characters")
	}
	return nil
}

// UploadAttachment streams r to the ticket as the file of a new private
// note naming it (multipart POST /tickets/{id}/notes, private true): agents
// see it and the requester does not, whatever GOOGLE_COMMENTS_PUBLIC says,
// as the other adapters keep their uploads; no email is sent. A file over
// the size limit (Freshdesk: 20 MB for the files of one request) is
// refused and nothing is posted.
func (c *Client) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	const op = "attachments.upload"
	tid, err := ticketID(op, id)
	if err != nil {
		return casesync.Attachment{}, err
	}
	if err := cleanFilename(op, filename); err != nil {
		return casesync.Attachment{}, err
	}
	if _, _, err := mime.ParseMediaType(mimeType); err != nil || len(mimeType) > 200 {
		mimeType = "application/octet-stream"
	}
	me, err := c.syncAgent(ctx)
	if err != nil {
		return casesync.Attachment{}, err
	}
	limited := crmhttp.LimitReader(r, c.cfg.MaxAttachmentBytes, vendor, op)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("body", htmlBody("Attached file: "+filename)); err != nil {
				return err
			}
			if err := mw.WriteField("private", "true"); err != nil {
				return err
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "attachments[]", "filename": filename}))
			h.Set("Content-Type", mimeType)
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, limited); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	cv, err := c.addNote(ctx, op, tid, crmhttp.Request{Stream: pr, Limited: limited, ContentType: mw.FormDataContentType(), Mode: crmhttp.Never})
	if err != nil {
		return casesync.Attachment{}, err
	}
	if len(cv.Attachments) != 1 {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
			Err: fmt.Errorf("Freshdesk: the new note %d holds %d files, not the one sent", cv.ID, len(cv.Attachments))}
	}
	a := cv.Attachments[0]
	if a.CreatedAt.IsZero() {
		a.CreatedAt = cv.CreatedAt
	}
	return toAttachment(a, cv.public(), me.Contact.Name, true), nil
}
