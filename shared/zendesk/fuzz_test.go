package zendesk

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what the Zendesk adapter reads: ticket ids from outside,
// comment pages (and the visibility of their files) and error bodies. Each
// runs on its seeds in the ordinary test command; scripts/fuzz.sh runs them
// for a given time.

func FuzzTicketID(f *testing.F) {
	for _, s := range []string{"42", "+42", "0042", "-1", "0", "1e3", "42/../1", "9223372036854775808", " 7", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := ticketID("tickets.get", id)
		if err != nil {
			if !casesync.IsNotFound(err) || len(err.Error()) > 300 {
				t.Fatalf("ticketID(%q) refused with %v, want a short not-found error", id, err)
			}
			return
		}
		n, perr := strconv.ParseInt(got, 10, 64)
		if perr != nil || n <= 0 || strconv.FormatInt(n, 10) != got || !casesync.ValidID(got) {
			t.Fatalf("ticketID(%q) = %q, not a canonical positive number", id, got)
		}
	})
}

// FuzzCommentPage: a file is public only when its comment says "public":
// true, as Zendesk writes it; a comment that does not say so is private.
func FuzzCommentPage(f *testing.F) {
	for _, s := range []string{
		`{"comments":[{"id":1,"type":"Comment","author_id":5,"body":"b","public":true,"attachments":[{"id":9,"file_name":"a.txt","content_url":"https://x.zendesk.com/a","size":3}],"created_at":"2026-01-02T03:04:05Z"}],"users":[{"id":5,"name":"Ann"}],"meta":{"has_more":false}}`,
		`{"comments":[{"id":2,"public":false,"attachments":[{"id":10}]}]}`,
		`{"comments":[{"id":3,"attachments":[{"id":11}]}]}`,
		`{"comments":[{"id":4,"public":"true","attachments":[{"id":12}]}]}`,
		`{"comments":[{"id":5,"public":null,"attachments":[{"id":13}]}],"meta":{"has_more":true,"after_cursor":""}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var page commentPage
		if json.Unmarshal(data, &page) != nil {
			return
		}
		var exact struct {
			Comments []map[string]json.RawMessage `json:"comments"`
		}
		if json.Unmarshal(data, &exact) != nil || len(exact.Comments) != len(page.Comments) {
			return
		}
		c := &Client{}
		for i, cm := range page.Comments {
			for _, a := range cm.Attachments {
				att := c.toAttachment(a, cm, nil, 0)
				if !casesync.ValidID(att.ID) && a.ID > 0 {
					t.Fatalf("attachment %d reads with the id %q", a.ID, att.ID)
				}
				if !att.Public {
					continue
				}
				if canonicalKeysOnly(exact.Comments[i]) && string(exact.Comments[i]["public"]) != "true" {
					t.Fatalf("a file of comment %s reads as public: %s", exact.Comments[i]["id"], data)
				}
			}
		}
	})
}

// canonicalKeysOnly reports whether an object spells "public" only as
// Zendesk does (encoding/json also takes "Public" for it; Zendesk never
// writes that).
func canonicalKeysOnly(obj map[string]json.RawMessage) bool {
	for k := range obj {
		if k != "public" && strings.EqualFold(k, "public") {
			return false
		}
	}
	return true
}

func FuzzErrorDetail(f *testing.F) {
	f.Add([]byte(`{"error":"RecordInvalid","description":"Record validation errors","details":{"subject":[{"description":"Subject: cannot be blank"}]}}`))
	f.Add([]byte(`{"error":{"title":"Forbidden","message":"You do not have access"}}`))
	f.Add([]byte(`{"error":"` + strings.Repeat("é", 100) + `"}`))
	f.Add([]byte(`{"details":{"a":1,"b":2}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := errorDetail(422, body)
		var e struct {
			Description string                     `json:"description"`
			Details     map[string]json.RawMessage `json:"details"`
		}
		if json.Unmarshal(body, &e) != nil {
			return
		}
		// The code is cut short, and then only the names of the fields at
		// fault follow; the description, which may quote values, is never
		// kept.
		code := d
		if len(e.Details) > 0 {
			i := strings.LastIndex(d, " (")
			if i < 0 {
				t.Fatalf("errorDetail(%q) = %q does not name the fields at fault", body, d)
			}
			code = d[:i]
		}
		if len(code) > 80 {
			t.Fatalf("errorDetail kept a code of %d bytes", len(code))
		}
	})
}
