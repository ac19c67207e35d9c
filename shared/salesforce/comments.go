package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// MaxCommentBytes is CaseComment.CommentBody's limit: 4,000 bytes.
const MaxCommentBytes = 4000

// partRoom is what one part's text may take: the limit less the widest
// part label and a margin for characters Salesforce stores HTML-encoded.
const partRoom = MaxCommentBytes - 200

// A comment longer than one CaseComment is posted in parts, each ending
// in a label line: "(continued in the next comment: part i of n)" on all
// but the last, "(part n of n)" on the last. A comment that fits in one
// but whose own text ends like a label is posted with the label
// "(part 1 of 1)", so that reading it back strips that label only.
var (
	partLabelRE = regexp.MustCompile(`\n\n\((?:continued in the next comment: )?part ([0-9]{1,2}) of ([0-9]{1,2})\)$`)
)

func partLabel(i, n int) string {
	if i < n {
		return fmt.Sprintf("\n\n(continued in the next comment: part %d of %d)", i, n)
	}
	return fmt.Sprintf("\n\n(part %d of %d)", i, n)
}

// storedBytes is how many bytes Salesforce counts for s: its UTF-8 bytes,
// with the characters it may keep HTML-encoded counted encoded.
func storedBytes(s string) int {
	n := len(s)
	for _, r := range s {
		switch r {
		case '<', '>':
			n += 3
		case '&':
			n += 4
		case '"', '\'':
			n += 5
		}
	}
	return n
}

// splitBody splits body into parts of at most partRoom stored bytes,
// preferring to break after a newline or a space. Nothing is lost:
// concatenating the parts gives body back. A body that fits in one
// comment is one part, unless it ends like a part label and has no room
// left for the label "(part 1 of 1)" it is then posted with.
func splitBody(body string) []string {
	n := storedBytes(body)
	if n <= MaxCommentBytes && (!partLabelRE.MatchString(body) || n+len(partLabel(1, 1)) <= MaxCommentBytes) {
		return []string{body}
	}
	var parts []string
	for body != "" {
		end, size, lastBreak := 0, 0, -1
		for i, r := range body {
			w := storedBytes(string(r))
			if size+w > partRoom {
				break
			}
			size += w
			end = i + utf8.RuneLen(r)
			if r == '\n' || r == ' ' {
				lastBreak = end
			}
		}
		if end < len(body) && lastBreak > end*3/4 {
			end = lastBreak
		}
		parts = append(parts, body[:end])
		body = body[end:]
	}
	return parts
}

// caseComment is a CaseComment row.
type caseComment struct {
	ID, Body, AuthorID, AuthorName string
	Public                         bool
	Created                        record
}

// listComments reads every comment of the case, oldest first.
func (c *Client) listComments(ctx context.Context, op, id string) ([]casesync.Comment, error) {
	cid, err := caseID(op, id)
	if err != nil {
		return nil, err
	}
	// A case with no comments and an unknown case answer alike: the case
	// is read too, in the same call, through a subquery.
	soql := "SELECT Id, (SELECT Id, CommentBody, IsPublished, CreatedById, CreatedBy.Name, CreatedDate FROM CaseComments ORDER BY CreatedDate, Id) FROM Case WHERE Id = " + soqlString(cid)
	var rows []record
	found := false
	_, err = c.query(ctx, op, soql, func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		found = true
		rows = append(rows, r.subquery("CaseComments")...)
		if sub := r.child("CaseComments"); sub != nil && !sub.boolean("done") {
			// A subquery holds its first batch only; a case with more
			// comments than one batch is read again comment by comment.
			return errMoreComments
		}
		return nil
	})
	if errors.Is(err, errMoreComments) {
		return c.listCommentsDirect(ctx, op, cid)
	}
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, crmhttp.NotFoundError(vendor, op, "case "+cid)
	}
	return c.toComments(rows), nil
}

var errMoreComments = errors.New("the case has more comments than a subquery holds")

// listCommentsDirect lists the comments of a case with many, from the
// CaseComment object, following every batch.
func (c *Client) listCommentsDirect(ctx context.Context, op, cid string) ([]casesync.Comment, error) {
	var rows []record
	soql := "SELECT Id, CommentBody, IsPublished, CreatedById, CreatedBy.Name, CreatedDate FROM CaseComment WHERE ParentId = " + soqlString(cid) + " ORDER BY CreatedDate, Id"
	_, err := c.query(ctx, op, soql, func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.toComments(rows), nil
}

// toComments converts comment rows, listed oldest first. The parts of a
// long comment casebridge posted are joined back into the one comment
// they are, with the first part's id; a long comment whose parts are not
// all there (a run that stopped midway) is left out, so that the engine
// writes it again (AddComment then posts only the missing parts).
func (c *Client) toComments(rows []record) []casesync.Comment {
	me := c.syncUserID()
	var out []casesync.Comment
	var group *casesync.Comment
	next, total := 0, 0
	for _, r := range rows {
		id := r.str("Id")
		if !idRE.MatchString(id) {
			continue
		}
		author := r.str("CreatedById")
		cm := casesync.Comment{
			ID:          to18(id),
			Body:        r.str("CommentBody"),
			AuthorName:  r.child("CreatedBy").str("Name"),
			ByConnector: me != "" && validID(author, "005") && to18(author) == me,
			Public:      r.boolean("IsPublished"),
			CreateTime:  r.time("CreatedDate"),
		}
		if cm.ByConnector {
			if m := partLabelRE.FindStringSubmatchIndex(cm.Body); m != nil {
				i, _ := strconv.Atoi(cm.Body[m[2]:m[3]])
				n, _ := strconv.Atoi(cm.Body[m[4]:m[5]])
				text := cm.Body[:m[0]]
				switch {
				case i == 1 && n == 1:
					cm.Body = text
					out = append(out, cm)
				case i == 1 && n > 1:
					g := cm
					g.Body = text
					group, next, total = &g, 2, n
				case group != nil && i == next && n == total && cm.Public == group.Public:
					group.Body += text
					next++
					if next > total {
						out = append(out, *group)
						group = nil
					}
				}
				continue
			}
		}
		out = append(out, cm)
	}
	return out
}

// ListComments returns the case's comments, public and internal, oldest
// first.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	return c.listComments(ctx, "comments.list", id)
}

// syncUserID is the sync user's 18-character id ("" before the first
// token).
func (c *Client) syncUserID() string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.userID
}

// AddComment adds a case comment as the sync user: published (the
// customer sees it in the portal) when public, internal otherwise. A body
// over 4,000 bytes is posted in parts, each a case comment ending in a
// label line, and the first part's id is returned; parts already on the
// case from an earlier try that stopped midway are not posted again.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	const op = "comments.add"
	cid, err := caseID(op, id)
	if err != nil {
		return casesync.Comment{}, err
	}
	if err := crmhttp.CheckText(vendor, op, body); err != nil {
		return casesync.Comment{}, err
	}
	parts := splitBody(body)
	if len(parts) > 99 {
		return casesync.Comment{}, crmhttp.Invalid(vendor, op, "the comment would take %d case comments", len(parts))
	}
	bodies := parts
	var have map[string]string // part body -> id of a copy on the case
	if len(parts) == 1 && partLabelRE.MatchString(body) {
		// Its text ends like a label: the label "(part 1 of 1)" says where
		// the text ends.
		bodies = []string{body + partLabel(1, 1)}
	}
	if len(parts) > 1 {
		bodies = make([]string, len(parts))
		for i, p := range parts {
			bodies[i] = p + partLabel(i+1, len(parts))
		}
		if have, err = c.ownParts(ctx, op, cid); err != nil {
			return casesync.Comment{}, err
		}
	}
	var first casesync.Comment
	for i, b := range bodies {
		if pid, ok := have[b]; ok {
			if i == 0 {
				first = casesync.Comment{ID: pid}
			}
			continue
		}
		var res saveResult
		var at time.Time
		err := c.call(ctx, func() error {
			req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: c.api + "/sobjects/CaseComment",
				Body:        crmhttp.JSONBody(map[string]any{"ParentId": cid, "CommentBody": b, "IsPublished": public}),
				ContentType: "application/json", Mode: crmhttp.IfRefused}
			var err error
			at, err = c.http.JSONAt(ctx, req, &res)
			return err
		})
		if err != nil {
			return casesync.Comment{}, err
		}
		if !idRE.MatchString(res.ID) {
			return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
				Err: errors.New("Salesforce: the insert answered no comment id")}
		}
		if i == 0 {
			first = casesync.Comment{ID: to18(res.ID), CreateTime: at}
		}
	}
	first.Body, first.ByConnector, first.Public = body, true, public
	return first, nil
}

// ownParts lists the parts of long comments casebridge already posted on
// the case, by body.
func (c *Client) ownParts(ctx context.Context, op, cid string) (map[string]string, error) {
	if err := c.ensureToken(ctx); err != nil {
		return nil, err
	}
	me := c.syncUserID()
	out := map[string]string{}
	soql := "SELECT Id, CommentBody, CreatedById FROM CaseComment WHERE ParentId = " + soqlString(cid) + " ORDER BY CreatedDate, Id"
	_, err := c.query(ctx, op, soql, func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		body, author := r.str("CommentBody"), r.str("CreatedById")
		if me != "" && validID(author, "005") && to18(author) == me && partLabelRE.MatchString(body) && idRE.MatchString(r.str("Id")) {
			if _, dup := out[body]; !dup {
				out[body] = to18(r.str("Id"))
			}
		}
		return nil
	})
	return out, err
}
