package freshdesk

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what the Freshdesk adapter reads from outside: ticket
// ids, Link headers, conversations (and the visibility of their files),
// escalation fields and error bodies. Each runs on its seeds in the
// ordinary test command; scripts/fuzz.sh runs them for a given time.

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
		if perr != nil || n <= 0 || strconv.FormatInt(n, 10) != got || got != id || !casesync.ValidID(got) {
			t.Fatalf("ticketID(%q) = %q, not the canonical positive number given", id, got)
		}
	})
}

// FuzzNextLink: the next page is only ever a URL given between angle
// brackets with rel="next".
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://acme.freshdesk.com/api/v2/tickets?page=2&per_page=100>; rel="next"`,
		`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"`,
		`<https://a/x>; rel=next`,
		`https://a/x; rel="next"`,
		`<https://a/x>; rel="nextish"`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got := nextLink([]string{header})
		if got == "" {
			return
		}
		if !strings.Contains(header, "<"+got+">") || !strings.Contains(strings.ToLower(header), "next") {
			t.Fatalf("nextLink(%q) = %q, not a bracketed URL of a next entry", header, got)
		}
		if len(header) > 4<<10 {
			t.Fatalf("nextLink read a header of %d bytes", len(header))
		}
	})
}

// FuzzConversation: a conversation and its files are public only when
// Freshdesk says "private": false; anything else reads as private.
func FuzzConversation(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"body_text":"b","private":false,"user_id":5,"attachments":[{"id":9,"name":"a.txt","size":3,"attachment_url":"https://s3.amazonaws.com/x"}],"created_at":"2026-01-02T03:04:05Z"}`,
		`{"id":2,"private":true,"attachments":[{"id":10}]}`,
		`{"id":3,"attachments":[{"id":11}]}`,
		`{"id":4,"private":"false","attachments":[{"id":12}]}`,
		`{"id":5,"private":null,"incoming":true,"attachments":[{"id":13}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cv fConversation
		if json.Unmarshal(data, &cv) != nil {
			return
		}
		var exact map[string]json.RawMessage
		if json.Unmarshal(data, &exact) != nil {
			return
		}
		canonical := true
		for k := range exact {
			if k != "private" && strings.EqualFold(k, "private") {
				canonical = false // encoding/json also takes "Private"; Freshdesk never writes it
			}
		}
		comments := toComments([]fConversation{cv}, nil, 0)
		files := toAttachments(fTicket{}, []fConversation{cv}, nil, 0)
		said := string(exact["private"]) == "false"
		if canonical && comments[0].Public != said {
			t.Fatalf("comment reads Public %v from %s", comments[0].Public, data)
		}
		for _, a := range files {
			if canonical && a.Public != said {
				t.Fatalf("a file reads Public %v from %s", a.Public, data)
			}
		}
	})
}

// FuzzEscalation: a reason or justification is kept only as valid UTF-8
// of at most casesync.MaxEscalationText bytes.
func FuzzEscalation(f *testing.F) {
	f.Add([]byte(`{"cf_escalate_to_google":true,"cf_google_escalation_reason":"Business impact","cf_google_escalation_justification":"down"}`))
	f.Add([]byte(`{"cf_escalate_to_google":"yes","cf_google_escalation_reason":12}`))
	f.Add([]byte(`{"cf_escalate_to_google":"no"}`))
	f.Add([]byte(`{"cf_escalate_to_google":true,"cf_google_escalation_reason":"\ud800"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fields map[string]any
		if json.Unmarshal(data, &fields) != nil {
			return
		}
		c := &Client{cfg: Config{EscalationField: DefaultEscalationField, EscalationReasonField: DefaultEscalationReasonField,
			EscalationJustificationField: DefaultEscalationJustificationField}}
		e := c.escalationOf(fTicket{CustomFields: fields})
		if !e.Requested && e != (casesync.EscalationRequest{}) {
			t.Fatalf("no request, yet %+v", e)
		}
		for _, s := range []string{e.Reason, e.Justification} {
			if len(s) > casesync.MaxEscalationText || !strings.EqualFold(s, strings.ToValidUTF8(s, "")) {
				t.Fatalf("kept %d bytes of text that is too long or not UTF-8", len(s))
			}
		}
	})
}

func FuzzErrorDetail(f *testing.F) {
	f.Add([]byte(`{"description":"Validation failed","errors":[{"field":"cf_google_case","message":"Has 300 characters, it can have maximum of 255 characters","code":"invalid_value"}]}`))
	f.Add([]byte(`{"code":"invalid_credentials","message":"You have to be logged in to perform this action."}`))
	f.Add([]byte(`{"code":"` + strings.Repeat("é", 100) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := errorDetail(400, body)
		var e struct {
			Errors []struct {
				Message string `json:"message"`
			} `json:"errors"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil {
			return
		}
		if len(d) > 64+12*(64+66) {
			t.Fatalf("errorDetail kept %d bytes", len(d))
		}
		for _, m := range append([]string{e.Message}, func() (ms []string) {
			for _, x := range e.Errors {
				ms = append(ms, x.Message)
			}
			return
		}()...) {
			if len(m) > 20 && strings.Contains(d, m) {
				t.Fatalf("errorDetail(%q) = %q keeps a message, which may quote values", body, d)
			}
		}
	})
}

// TestAttachmentURLsMustBeHTTPSWhenCRMURLIs checks what attachment_url an
// https account's adapter fetches: https only, no user in it.
func TestAttachmentURLsMustBeHTTPSWhenCRMURLIs(t *testing.T) {
	c, err := New(Config{BaseURL: "https://acme.freshdesk.com", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for raw, ok := range map[string]bool{
		"https://s3.amazonaws.com/cdn.freshdesk.com/data/a.txt?X-Amz-Signature=x": true,
		"http://s3.amazonaws.com/cdn.freshdesk.com/data/a.txt":                    false,
		"https://user:pw@s3.amazonaws.com/a.txt":                                  false,
		"file:///etc/passwd":                                                      false,
		"/relative/a.txt":                                                         false,
	} {
		_, err := c.fileURL("attachments.download", raw)
		if (err == nil) != ok {
			u, _ := url.Parse(raw)
			t.Errorf("fileURL(%v): error %v, want accepted %v", u, err, ok)
		}
	}
}
