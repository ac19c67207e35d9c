package crmhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// dateForms are the three forms of an HTTP date a recipient must accept
// (RFC 9110 section 5.6.7, formerly RFC 7231 section 7.1.1.1), each as it
// is written: the preferred IMF-fixdate, then the obsolete RFC 850 and
// asctime forms. Every one is in GMT.
var dateForms = []string{
	http.TimeFormat,                  // Sun, 06 Nov 1994 08:49:37 GMT
	"Monday, 02-Jan-06 15:04:05 GMT", // Sunday, 06-Nov-94 08:49:37 GMT
	"Mon Jan _2 15:04:05 2006",       // Sun Nov  6 08:49:37 1994
}

// maxDateLen bounds the Date header read: the longest valid form (RFC 850
// with "Wednesday") is 37 characters.
const maxDateLen = 40

// AnswerDate returns the time an answer's Date header gives: the server's
// own clock when it made the answer, to the second, in UTC. It is zero when
// the header is missing, repeated with different values, or not exactly an
// HTTP date in one of its three forms (a weekday that does not match the
// date, a zone other than GMT, a fraction of a second or stray text all
// count as not a date). The header is the server's word: a bad one is
// never an error, only unknown.
func AnswerDate(h http.Header) time.Time {
	vs := h.Values("Date")
	if len(vs) == 0 {
		return time.Time{}
	}
	for _, v := range vs {
		if len(v) > maxDateLen {
			return time.Time{}
		}
	}
	s := strings.TrimSpace(vs[0])
	for _, v := range vs[1:] {
		if strings.TrimSpace(v) != s {
			return time.Time{}
		}
	}
	if s == "" {
		return time.Time{}
	}
	for _, form := range dateForms {
		t, err := time.Parse(form, s)
		// Parsing alone lets through a wrong weekday and a fraction of a
		// second; writing the time back in the same form must give the
		// header as it came.
		if err == nil && t.UTC().Format(form) == s {
			return t.UTC()
		}
	}
	return time.Time{}
}

// JSONAt is JSON that also returns the CRM's own clock when it answered:
// AnswerDate of the answer that was decoded (the last attempt's, after any
// retries), zero when that answer gave no usable Date. A missing or bad
// Date never fails the call.
func (c *Client) JSONAt(ctx context.Context, req Request, out any) (time.Time, error) {
	resp, err := c.Do(ctx, req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	at := AnswerDate(resp.Header)
	if out == nil {
		// The answer is not used: it is drained, as far as the bound, only
		// so that the connection may be used again.
		_, _ = io.Copy(io.Discard, c.boundAnswer(req.Op, resp))
		return at, nil
	}
	if err := c.DecodeJSON(req.Op, resp, out); err != nil {
		return time.Time{}, err
	}
	return at, nil
}
