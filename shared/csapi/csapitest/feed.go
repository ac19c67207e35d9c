package csapitest

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	cloudsupportbeta "google.golang.org/api/cloudsupport/v2beta"
)

// The v2beta case feed, cases.showFeed:
//
//	GET /v2beta/{projects|organizations}/{id}/cases/{number}:showFeed?orderBy=&pageSize=&pageToken=
//
// answers {"feedItems":[{"eventTime", and one of "comment", "attachment",
// "deletedAttachment", "emailMessage"}], "nextPageToken"}. Comments and
// attachments are the very objects the v2 list methods return. What the
// reference leaves open, the simulator decides as follows:
//
//   - eventTime is the item's create time. A deleted attachment keeps its
//     place in the feed and turns from "attachment" into
//     "deletedAttachment" (v2's attachments.list and attachments.get no
//     longer show it, and it cannot be downloaded).
//   - Email replies to the case appear in the feed only, never as v2
//     comments.
//   - Paging is that of the v2 lists: 10 items by default, at most 100,
//     opaque tokens bound to the case and the order.
//
// The rest of v2beta is not simulated: it answers 404 like an unknown URL.

// parseBetaRoute maps a request under /v2beta/ to cases.showFeed, the one
// v2beta method the simulator serves.
func parseBetaRoute(httpMethod, rest string) (route, bool) {
	segs := strings.Split(rest, "/")
	if httpMethod != http.MethodGet || len(segs) != 4 || segs[2] != "cases" ||
		(segs[0] != "projects" && segs[0] != "organizations") {
		return route{}, false
	}
	i := strings.LastIndex(segs[3], ":")
	if i < 0 || segs[3][i+1:] != "showFeed" {
		return route{}, false
	}
	rt := route{method: "cases.showFeed", kind: segs[0], id: segs[1], number: segs[3][:i]}
	if rt.id == "" || rt.number == "" {
		return route{}, false
	}
	return rt, true
}

// feedItem is one FeedItem on the wire. Exactly one of the objects is set.
type feedItem struct {
	Comment           *cloudsupport.Comment          `json:"comment,omitempty"`
	Attachment        *cloudsupport.Attachment       `json:"attachment,omitempty"`
	EmailMessage      *cloudsupportbeta.EmailMessage `json:"emailMessage,omitempty"`
	DeletedAttachment *cloudsupport.Attachment       `json:"deletedAttachment,omitempty"`
	EventTime         string                         `json:"eventTime,omitempty"`
}

// showFeedResponse is ShowFeedResponse on the wire.
type showFeedResponse struct {
	FeedItems     []*feedItem `json:"feedItems,omitempty"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
}

// parseFeedOrder reads orderBy: empty, or creation_time optionally followed
// by asc or desc, in any letter case, with any spacing. It returns whether
// the order is descending and the order's normal form.
func parseFeedOrder(orderBy string) (bool, string, *APIError) {
	f := strings.Fields(strings.ToLower(orderBy))
	switch {
	case len(f) == 0:
		return false, "creation_time asc", nil
	case f[0] != "creation_time" || len(f) > 2:
		return false, "", errInvalid("Invalid order_by %q: the only valid field is creation_time, followed by asc or desc.", orderBy)
	case len(f) == 1 || f[1] == "asc":
		return false, "creation_time asc", nil
	case f[1] == "desc":
		return true, "creation_time desc", nil
	}
	return false, "", errInvalid("Invalid order_by %q: the only valid field is creation_time, followed by asc or desc.", orderBy)
}

func (s *Server) showFeed(r *http.Request, rt route) (any, *APIError) {
	q := r.URL.Query()
	desc, order, apiErr := parseFeedOrder(firstParam(q, "orderBy", "order_by"))
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCaseParts(rt.kind, rt.id, rt.number)
	if apiErr != nil {
		return nil, apiErr
	}
	items := feedLocked(rec)
	if desc {
		slices.Reverse(items)
	}
	start, end, next, apiErr := page(q, len(items), "cases.showFeed", rec.c.Name, order)
	if apiErr != nil {
		return nil, apiErr
	}
	out := &showFeedResponse{NextPageToken: next}
	for _, it := range items[start:end] {
		out.FeedItems = append(out.FeedItems, it.item)
	}
	return out, nil
}

// orderedItem is a feed item with its place in the feed.
type orderedItem struct {
	at   time.Time
	seq  int64
	item *feedItem
}

// feedLocked returns the case's feed, oldest first, as copies; the caller
// holds s.mu.
func feedLocked(rec *caseRecord) []orderedItem {
	out := make([]orderedItem, 0, len(rec.comments)+len(rec.attachments)+len(rec.deleted)+len(rec.emails))
	for _, c := range rec.comments {
		cm := copyComment(c.c)
		out = append(out, orderedItem{c.at, c.seq, &feedItem{Comment: &cm, EventTime: formatTime(c.at)}})
	}
	for _, a := range rec.attachments {
		at := copyAttachment(a.a)
		out = append(out, orderedItem{a.at, a.seq, &feedItem{Attachment: &at, EventTime: formatTime(a.at)}})
	}
	for _, a := range rec.deleted {
		at := copyAttachment(a.a)
		out = append(out, orderedItem{a.at, a.seq, &feedItem{DeletedAttachment: &at, EventTime: formatTime(a.at)}})
	}
	for _, e := range rec.emails {
		m := copyEmail(e.m)
		out = append(out, orderedItem{e.at, e.seq, &feedItem{EmailMessage: &m, EventTime: formatTime(e.at)}})
	}
	slices.SortFunc(out, func(a, b orderedItem) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return out
}

func copyEmail(m cloudsupportbeta.EmailMessage) cloudsupportbeta.EmailMessage {
	out := m
	if m.Actor != nil {
		a := *m.Actor
		out.Actor = &a
	}
	if m.BodyContent != nil {
		b := *m.BodyContent
		out.BodyContent = &b
	}
	out.RecipientEmailAddresses = slices.Clone(m.RecipientEmailAddresses)
	out.CcEmailAddresses = slices.Clone(m.CcEmailAddresses)
	return out
}

// AddEmailMessage records an email reply the case received from from, sent
// to to with cc in copy, and bumps the case. Only the v2beta feed shows it
// (as emailMessage); the v2 comment methods do not. It returns the email
// message's name.
func (s *Server) AddEmailMessage(caseName, subject, body string, from Actor, to, cc []string) (string, error) {
	if strings.TrimSpace(body) == "" {
		return "", errInvalid("An email message needs a body.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCase(caseName)
	if apiErr != nil {
		return "", apiErr
	}
	now := s.now()
	id := strconv.FormatInt(s.nextEmail, 10)
	s.nextEmail++
	m := cloudsupportbeta.EmailMessage{
		Name:                    rec.c.Name + "/emailMessages/" + id,
		Subject:                 subject,
		BodyContent:             &cloudsupportbeta.TextContent{PlainText: body},
		Actor:                   &cloudsupportbeta.Actor{DisplayName: from.DisplayName, Email: from.Email, Username: from.Username, GoogleSupport: from.GoogleSupport},
		RecipientEmailAddresses: slices.Clone(to),
		CcEmailAddresses:        slices.Clone(cc),
		CreateTime:              formatTime(now),
	}
	s.nextItem++
	rec.emails = append(rec.emails, &emailRecord{at: now, seq: s.nextItem, m: m})
	s.touch(rec, now)
	return m.Name, nil
}

// DeleteAttachment removes an attachment from its case, as Google Support
// does when asked to. The v2 methods no longer show it (attachments.list,
// attachments.get and media.download answer as if it never existed); the
// v2beta feed shows it as deletedAttachment. The case is bumped.
func (s *Server) DeleteAttachment(attachmentName string) error {
	parts := strings.Split(attachmentName, "/")
	if len(parts) != 6 || parts[2] != "cases" || parts[4] != "attachments" {
		return errNotFound("Requested entity was not found.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, apiErr := s.lookupCaseParts(parts[0], parts[1], parts[3])
	if apiErr != nil {
		return apiErr
	}
	for i, a := range rec.attachments {
		if strings.HasSuffix(a.a.Name, "/attachments/"+parts[5]) {
			rec.attachments = slices.Delete(rec.attachments, i, i+1)
			rec.deleted = append(rec.deleted, a)
			s.touch(rec, s.now())
			return nil
		}
	}
	return errNotFound("Requested entity was not found.")
}
