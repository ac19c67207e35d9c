package csapi

import (
	"context"
	"sync/atomic"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	cloudsupportbeta "google.golang.org/api/cloudsupport/v2beta"

	"github.com/casebridge/casebridge/shared/casesync"
)

// FeedClient is a Client that also lists a case's comments and attachments
// in one listing (casesync.ItemLister), through the case feed of CSAPI
// v2beta, cases.showFeed. Everything else it does as the Client does, on
// v2. Client.WithFeed makes one.
//
// v2beta is a pre-GA surface: Google may change or withdraw it, and it has
// needed allowlisting before. So ListItems falls back on v2: when the feed
// fails for a reason retrying cannot fix (it is refused, missing, not
// implemented, or answers what cannot be read), ListItems makes the two v2
// listings instead; if they succeed, the feed is what failed, and this
// FeedClient stops asking for it. A transient failure (429, 500, 502, 503,
// 504, timeouts) is returned as it is, to be retried.
type FeedClient struct {
	*Client
	// off is set once the feed failed where the v2 listings worked.
	off atomic.Bool
}

var (
	_ casesync.Google     = (*FeedClient)(nil)
	_ casesync.ItemLister = (*FeedClient)(nil)
)

// WithFeed returns c as a FeedClient, which lists a case's comments and
// attachments in one listing of the v2beta case feed.
func (c *Client) WithFeed() *FeedClient {
	return &FeedClient{Client: c}
}

// ListItems returns what ListComments and ListAttachments return for the
// case: its comments and its attachments (deleted ones left out), each
// once, oldest first, read from the case feed page by page. Email replies,
// which only the feed shows, are left out as ListComments leaves them out.
func (f *FeedClient) ListItems(ctx context.Context, name string) ([]casesync.Comment, []casesync.Attachment, error) {
	const op = "cases.showFeed"
	if err := checkCaseName(op, name); err != nil {
		return nil, nil, err
	}
	if !f.off.Load() {
		cs, as, err := f.feed(ctx, op, name)
		if err == nil || casesync.IsTransient(err) {
			return cs, as, err
		}
		// Refused, unknown, not implemented or unreadable: the v2
		// listings tell whether the case or the feed is at fault.
		cs, as, v2err := f.listBoth(ctx, name)
		if v2err != nil {
			return nil, nil, v2err
		}
		f.off.Store(true)
		return cs, as, nil
	}
	return f.listBoth(ctx, name)
}

// FeedOff reports whether ListItems has stopped using the feed, after it
// failed where the v2 listings worked.
func (f *FeedClient) FeedOff() bool { return f.off.Load() }

// listBoth makes the two v2 listings.
func (f *FeedClient) listBoth(ctx context.Context, name string) ([]casesync.Comment, []casesync.Attachment, error) {
	cs, err := f.ListComments(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	as, err := f.ListAttachments(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return cs, as, nil
}

// feed reads the whole case feed. Pages are asked for as attachment pages
// are (at most 100 items), since the feed carries attachments; items are
// kept by name, the last copy seen winning, as the v2 listings keep them.
func (f *FeedClient) feed(ctx context.Context, op, name string) ([]casesync.Comment, []casesync.Attachment, error) {
	size := min(f.cfg.PageSize, maxAttachmentPage)
	comments := map[string]*cloudsupport.Comment{}
	files := map[string]*cloudsupport.Attachment{}
	deleted := map[string]bool{}
	err := f.pages(ctx, op, func(actx context.Context, token string) (string, error) {
		call := f.beta.Cases.ShowFeed(name).PageSize(size).Context(actx)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			return "", err
		}
		for _, it := range resp.FeedItems {
			switch {
			case it == nil:
			case it.Comment != nil:
				comments[it.Comment.Name] = commentFromBeta(it.Comment)
			case it.Attachment != nil:
				files[it.Attachment.Name] = attachmentFromBeta(it.Attachment)
			case it.DeletedAttachment != nil:
				// Whether a deleted file also keeps its "attachment" item
				// is not documented; either way it is not listed.
				deleted[it.DeletedAttachment.Name] = true
			}
			// Email messages, and kinds of item this package does not
			// know, are not comments or attachments of v2.
		}
		return resp.NextPageToken, nil
	})
	if err != nil {
		return nil, nil, err
	}
	cs := make([]casesync.Comment, 0, len(comments))
	for _, cm := range comments {
		m, err := convert(op, cm, f.toComment)
		if err != nil {
			return nil, nil, err
		}
		cs = append(cs, m)
	}
	as := make([]casesync.Attachment, 0, len(files))
	for n, a := range files {
		if deleted[n] {
			continue
		}
		m, err := convert(op, a, f.toAttachment)
		if err != nil {
			return nil, nil, err
		}
		as = append(as, m)
	}
	sortOldestFirst(cs, func(m casesync.Comment) (time.Time, string) { return m.CreateTime, m.ID })
	sortOldestFirst(as, func(m casesync.Attachment) (time.Time, string) { return m.CreateTime, m.ID })
	return cs, as, nil
}

// commentFromBeta and attachmentFromBeta give a v2beta object as its v2
// twin (the fields are the same), so that the v2 conversion applies.
func commentFromBeta(c *cloudsupportbeta.Comment) *cloudsupport.Comment {
	return &cloudsupport.Comment{
		Name:          c.Name,
		Body:          c.Body,
		PlainTextBody: c.PlainTextBody,
		CreateTime:    c.CreateTime,
		Creator:       actorFromBeta(c.Creator),
	}
}

func attachmentFromBeta(a *cloudsupportbeta.Attachment) *cloudsupport.Attachment {
	return &cloudsupport.Attachment{
		Name:       a.Name,
		Filename:   a.Filename,
		MimeType:   a.MimeType,
		SizeBytes:  a.SizeBytes,
		CreateTime: a.CreateTime,
		Creator:    actorFromBeta(a.Creator),
	}
}

func actorFromBeta(a *cloudsupportbeta.Actor) *cloudsupport.Actor {
	if a == nil {
		return nil
	}
	return &cloudsupport.Actor{DisplayName: a.DisplayName, Email: a.Email, Username: a.Username, GoogleSupport: a.GoogleSupport}
}
