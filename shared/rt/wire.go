package rt

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"
)

// REST2's JSON shapes, as far as the adapter reads them.

// collection is one page of a REST2 collection. total and pages are null
// for users who are not superusers, and records the user may not see are
// removed after the page is cut: paging stops on an empty page.
type collection[T any] struct {
	Count   int `json:"count"`
	PerPage int `json:"per_page"`
	Page    int `json:"page"`
	Items   []T `json:"items"`
}

// ref is a reference to another record; for users id is the login.
type ref struct {
	ID       idString `json:"id"`
	Type     string   `json:"type"`
	Name     string   `json:"Name"`
	RealName string   `json:"RealName"`
}

// idString reads an id REST2 gives as a JSON number or string.
type idString string

func (s *idString) UnmarshalJSON(b []byte) error {
	var obj struct {
		ID idString `json:"id"`
	}
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		// A reference to another record, e.g. an attachment's TransactionId.
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*s = obj.ID
		return nil
	}
	var v any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		*s = idString(v)
	case json.Number:
		*s = idString(v.String())
	case nil:
		*s = ""
	default:
		return fmt.Errorf("id %s is neither a string nor a number", b)
	}
	return nil
}

func (s idString) String() string { return string(s) }

type customFieldValue struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

type ticket struct {
	ID           json.Number        `json:"id"`
	Subject      string             `json:"Subject"`
	Status       string             `json:"Status"`
	Priority     json.RawMessage    `json:"Priority"`
	Created      string             `json:"Created"`
	LastUpdated  string             `json:"LastUpdated"`
	CustomFields []customFieldValue `json:"CustomFields"`
	// readAt is the Date of the answer that held the ticket: RT's own clock
	// then. It is not in the JSON.
	readAt time.Time
}

func (t ticket) customField(name string) string {
	for _, cf := range t.CustomFields {
		if strings.EqualFold(cf.Name, name) && len(cf.Values) > 0 {
			return cf.Values[0]
		}
	}
	return ""
}

type transaction struct {
	ID idString `json:"id"`
	// Type is the transaction's type (Create, Comment, Correspond, …).
	// Kind takes REST2's "type":"transaction", which would otherwise land
	// in Type: encoding/json matches keys case-insensitively.
	Type    string `json:"Type"`
	Kind    string `json:"type"`
	Created string `json:"Created"`
	Creator ref    `json:"Creator"`
}

type attachment struct {
	ID            idString `json:"id"`
	TransactionID idString `json:"TransactionId"`
	Filename      string   `json:"Filename"`
	ContentType   string   `json:"ContentType"`
	ContentLength idString `json:"ContentLength"`
	Created       string   `json:"Created"`
	Creator       ref      `json:"Creator"`
	Headers       string   `json:"Headers"`
	// Content is raw text in a collection and base64 from /attachment/{id}.
	Content string `json:"Content"`
}

// The ids of collection items, which bound a listing's pages (see listAll).
func (t ticket) itemID() string      { return t.ID.String() }
func (t transaction) itemID() string { return t.ID.String() }
func (a attachment) itemID() string  { return a.ID.String() }

type user struct {
	ID       idString `json:"id"`
	Name     string   `json:"Name"`
	RealName string   `json:"RealName"`
}

type errorBody struct {
	Message string `json:"message"`
}

// parseTime reads REST2's "2026-11-21T02:44:49Z"; RT's "not set" date
// (1970-01-01) and garbage read as zero.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

var (
	htmlBreaks = regexp.MustCompile(`(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>`)
	htmlTags   = regexp.MustCompile(`(?s)<[^>]*>`)
	blankLines = regexp.MustCompile(`\n{3,}`)
)

// htmlToText turns the HTML body of a message written in RT's rich-text
// editor into plain text: line breaks kept, tags dropped, entities decoded.
func htmlToText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", " ")
	s = htmlBreaks.ReplaceAllString(s, "$0\n")
	s = htmlTags.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// originalEncoding returns the X-RT-Original-Encoding RT records on a text
// part it converted to UTF-8 on storage, lower-cased; "" when none.
func originalEncoding(headers string) string {
	return strings.ToLower(header(headers, "X-RT-Original-Encoding"))
}

// header returns the value of the named header among RT's stored headers.
func header(headers, name string) string {
	for _, line := range strings.Split(headers, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// transcoded reports whether RT converted a text part from another
// encoding to UTF-8 on storage (it does so for text/plain and text/html
// files, guessing the encoding when none is declared).
func transcoded(enc string) bool {
	switch enc {
	case "", "utf-8", "utf8", "utf-8-strict", "us-ascii", "ascii":
		return false
	}
	return true
}
