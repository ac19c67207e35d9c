package csapi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"

	"github.com/casebridge/casebridge/shared/casesync"
)

// convert maps one API object to the engine's type; a missing or malformed
// object is a permanent error of op.
func convert[T, U any](op string, v *T, f func(*T) (U, error)) (U, error) {
	var zero U
	if v == nil {
		return zero, &casesync.APIError{Side: casesync.SideGoogle, Op: op, Err: errors.New("the API returned no object")}
	}
	u, err := f(v)
	if err != nil {
		return zero, &casesync.APIError{Side: casesync.SideGoogle, Op: op, Err: err}
	}
	return u, nil
}

func (c *Client) toCase(cs *cloudsupport.Case) (casesync.GoogleCase, error) {
	created, err := parseTime("createTime", cs.CreateTime)
	if err != nil {
		return casesync.GoogleCase{}, err
	}
	updated, err := parseTime("updateTime", cs.UpdateTime)
	if err != nil {
		return casesync.GoogleCase{}, err
	}
	return casesync.GoogleCase{
		Name:        cs.Name,
		DisplayName: cs.DisplayName,
		Description: cs.Description,
		Priority:    casesync.ParsePriority(cs.Priority),
		State:       cs.State,
		CreateTime:  created,
		UpdateTime:  updated,
		ByConnector: cs.Creator != nil && c.isConnector(cs.Creator),
		Escalated:   cs.Escalated,
	}, nil
}

func (c *Client) toComment(cm *cloudsupport.Comment) (casesync.Comment, error) {
	created, err := parseTime("createTime", cm.CreateTime)
	if err != nil {
		return casesync.Comment{}, err
	}
	body := cm.Body
	if body == "" {
		body = cm.PlainTextBody
	}
	out := casesync.Comment{
		ID:         lastSegment(cm.Name),
		Body:       body,
		Public:     true,
		CreateTime: created,
	}
	if cm.Creator != nil {
		out.AuthorName = cm.Creator.DisplayName
		out.GoogleSupport = cm.Creator.GoogleSupport
		out.ByConnector = c.isConnector(cm.Creator)
	}
	return out, nil
}

func (c *Client) toAttachment(a *cloudsupport.Attachment) (casesync.Attachment, error) {
	created, err := parseTime("createTime", a.CreateTime)
	if err != nil {
		return casesync.Attachment{}, err
	}
	out := casesync.Attachment{
		ID:         lastSegment(a.Name),
		Filename:   a.Filename,
		MimeType:   a.MimeType,
		Size:       a.SizeBytes,
		Public:     true,
		CreateTime: created,
	}
	if a.Creator != nil {
		out.AuthorName = a.Creator.DisplayName
		out.ByConnector = c.isConnector(a.Creator)
	}
	return out, nil
}

// isConnector reports whether the actor is one of casebridge's own
// identities. Google agents never are, whatever their obfuscated details say.
func (c *Client) isConnector(a *cloudsupport.Actor) bool {
	if a.GoogleSupport {
		return false
	}
	email, user := strings.TrimSpace(a.Email), strings.TrimSpace(a.Username)
	is := func(own string) bool {
		return own != "" && (strings.EqualFold(email, own) || strings.EqualFold(user, own))
	}
	return is(c.cfg.ConnectorEmail) || slices.ContainsFunc(c.cfg.MoreConnectorEmails, is)
}

// parseTime reads an RFC 3339 API timestamp; an absent one is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("the API returned %s %s, which is not an RFC 3339 time", field, casesync.Quote(s))
	}
	return t, nil
}

// lastSegment returns what follows the last "/" of a resource name.
func lastSegment(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// sortOldestFirst orders items by create time, then by key.
func sortOldestFirst[T any](items []T, key func(T) (time.Time, string)) {
	slices.SortStableFunc(items, func(a, b T) int {
		ta, ka := key(a)
		tb, kb := key(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(ka, kb)
	})
}
