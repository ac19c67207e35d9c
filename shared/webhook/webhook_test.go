package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The signatures in these tests are computed here from the vendors'
// documented schemes, never by the code under test; the golden values
// below were computed with openssl:
//
//	printf %s "$TS$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64   (Zendesk)
//	printf %s "$BODY" | openssl dgst -sha256 -hmac "$SECRET"                       (Jira)
//	printf %s "$TS.$BODY" | openssl dgst -sha256 -hmac "$SECRET"                   (casebridge's)

const secret = "casebridge-test-secret-0123456789"

// now is the verifier's clock in every test: 2026-12-06T06:31:27Z.
var now = time.Unix(1796538687, 0).UTC()

func clock() time.Time { return now }

func hmacSHA256(key string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// zendeskHeaders signs body as Zendesk does: base64 of the HMAC of the
// timestamp followed by the body, no separator.
func zendeskHeaders(key string, at time.Time, body string) map[string]string {
	ts := at.UTC().Format("2006-01-02T15:04:05Z")
	return map[string]string{
		HeaderZendeskTimestamp: ts,
		HeaderZendeskSignature: base64.StdEncoding.EncodeToString(hmacSHA256(key, ts, body)),
	}
}

// jiraHeaders signs body as Jira's admin webhooks do: "sha256=" and the
// lowercase hex HMAC of the body.
func jiraHeaders(key, body string) map[string]string {
	return map[string]string{HeaderHubSignature: "sha256=" + hex.EncodeToString(hmacSHA256(key, body))}
}

// casebridgeHeaders signs body with casebridge's own scheme: "sha256=" and
// the lowercase hex HMAC of "<unix seconds>.<body>".
func casebridgeHeaders(key string, at time.Time, body string) map[string]string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return map[string]string{
		HeaderCasebridgeTimestamp: ts,
		HeaderCasebridgeSignature: "sha256=" + hex.EncodeToString(hmacSHA256(key, ts, ".", body)),
	}
}

// jiraBody is a Jira issue event sent at.
func jiraBody(at time.Time, key string) string {
	return `{"timestamp":` + strconv.FormatInt(at.UnixMilli(), 10) + `,"webhookEvent":"jira:issue_updated","issue":{"id":"10002","key":"` + key + `"},"user":{"accountId":"5b10a2844c20165700ede21g"}}`
}

func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func request(method, body string, headers map[string]string) *http.Request {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return r
}

type want struct {
	status int    // 0: accepted
	reason string // a part of the refusal's reason
	event  Event  // when accepted (Kind and Size are checked apart)
}

type verifyCase struct {
	name    string
	method  string // POST when empty
	body    string
	headers map[string]string
	want    want
}

func runCases(t *testing.T, kind string, cases []verifyCase) {
	t.Helper()
	v, err := New(kind, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			ev, err := v.Verify(request(method, tc.body, tc.headers))
			if tc.want.status != 0 {
				e, ok := err.(*Error)
				if !ok {
					t.Fatalf("Verify = %+v, %v; want an *Error with status %d", ev, err, tc.want.status)
				}
				if e.Status != tc.want.status || !strings.Contains(e.Reason, tc.want.reason) {
					t.Fatalf("refused with %d %q, want %d with %q", e.Status, e.Reason, tc.want.status, tc.want.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ev.Kind != kind || ev.Size != len(tc.body) {
				t.Errorf("Kind, Size = %q, %d; want %q, %d", ev.Kind, ev.Size, kind, len(tc.body))
			}
			ev.Kind, ev.Size = "", 0
			if diff := cmp.Diff(tc.want.event, ev); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

var (
	unauthorized = func(reason string) want { return want{status: http.StatusUnauthorized, reason: reason} }
	badRequest   = func(reason string) want { return want{status: http.StatusBadRequest, reason: reason} }
	accepted     = func(e Event) want { return want{event: e} }
)

// oversized is a signed body one byte over the limit.
func oversized() string { return `{"pad":"` + strings.Repeat("x", MaxBodyBytes-9) + `"}` }

func TestGoldenSignaturesComputedWithOpenSSL(t *testing.T) {
	// The helpers above against values computed outside Go.
	z := zendeskHeaders(secret, now, `{"ticket_id":"35436","updated_at":"2026-12-06T06:31:20Z"}`)
	j := jiraHeaders(secret, jiraBody(now, "SUP-12"))
	c := casebridgeHeaders(secret, now, `{"table":"incident","sys_id":"5e1f0000000000000000000000000001","number":"INC0010001","updated_by":"alice.agent"}`)
	got := []string{z[HeaderZendeskSignature], j[HeaderHubSignature], c[HeaderCasebridgeSignature]}
	want := []string{
		"ZFXccYc1Lns11m7tF5UM/TFe72QXXv+yIv6Xr/pktiM=",
		"sha256=e123cef30b473f32006880e0949656671caa588fb9e6ff7ca28dd079a4ae753d",
		"sha256=b39f51860aa506b40db548a5b998d3f4abedad2a976d4af788a5a5109636d113",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("test signatures differ from openssl's (-openssl +test):\n%s", diff)
	}
}

func TestZendesk(t *testing.T) {
	trigger := `{"ticket_id":"35436","updated_at":"2026-12-06T06:31:20Z"}`
	event := `{"type":"zen:event-type:ticket.comment_added","account_id":88888888,"id":"01HNXXXXCTEXAMPLE","time":"2026-12-06T06:31:27Z","zendesk_event_version":"2022-11-06","subject":"zen:ticket:35436","detail":{"id":"35436","actor_id":"20978392","status":"OPEN"},"event":{"comment":{"id":"1"}}}`
	good := zendeskHeaders(secret, now, trigger)
	runCases(t, KindZendesk, []verifyCase{
		{name: "a trigger webhook names its ticket", body: trigger, headers: good,
			want: accepted(Event{CaseIDs: []string{"35436"}})},
		{name: "a trigger webhook may send the id as a number", body: `{"ticket_id":35436}`, headers: zendeskHeaders(secret, now, `{"ticket_id":35436}`),
			want: accepted(Event{CaseIDs: []string{"35436"}})},
		{name: "an event webhook names its ticket, event id and actor", body: event, headers: zendeskHeaders(secret, now, event),
			want: accepted(Event{CaseIDs: []string{"35436"}, EventID: "01HNXXXXCTEXAMPLE", Type: "zen:event-type:ticket.comment_added", Actor: "20978392"})},
		{name: "a signature under another secret", body: trigger, headers: zendeskHeaders("another-secret-0123456789", now, trigger),
			want: unauthorized("does not match")},
		{name: "a signature of another body", body: `{"ticket_id":"35437"}`, headers: good, want: unauthorized("does not match")},
		{name: "a signature of another timestamp", body: trigger,
			headers: with(good, HeaderZendeskTimestamp, now.Add(time.Second).Format(time.RFC3339)), want: unauthorized("does not match")},
		{name: "a signature that is not base64", body: trigger, headers: with(good, HeaderZendeskSignature, "not base64!"), want: unauthorized("does not match")},
		{name: "the hex form Zendesk does not send", body: trigger,
			headers: with(good, HeaderZendeskSignature, hex.EncodeToString(hmacSHA256(secret, good[HeaderZendeskTimestamp], trigger))), want: unauthorized("does not match")},
		{name: "no signature", body: trigger, headers: with(good, HeaderZendeskSignature, ""), want: unauthorized("missing")},
		{name: "no timestamp", body: trigger, headers: with(good, HeaderZendeskTimestamp, ""), want: unauthorized("missing")},
		{name: "signed six minutes ago", body: trigger, headers: zendeskHeaders(secret, now.Add(-6*time.Minute), trigger), want: unauthorized("stale")},
		{name: "signed six minutes ahead", body: trigger, headers: zendeskHeaders(secret, now.Add(6*time.Minute), trigger), want: unauthorized("stale")},
		{name: "signed four minutes ago", body: trigger, headers: zendeskHeaders(secret, now.Add(-4*time.Minute), trigger),
			want: accepted(Event{CaseIDs: []string{"35436"}})},
		{name: "a signed timestamp that is not ISO 8601", body: trigger, headers: func() map[string]string {
			return map[string]string{HeaderZendeskTimestamp: "1796538687", HeaderZendeskSignature: base64.StdEncoding.EncodeToString(hmacSHA256(secret, "1796538687", trigger))}
		}(), want: unauthorized("malformed")},
		{name: "a GET", method: http.MethodGet, body: "", headers: zendeskHeaders(secret, now, ""),
			want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: zendeskHeaders(secret, now, oversized()),
			want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "signed malformed JSON", body: `{"ticket_id":`, headers: zendeskHeaders(secret, now, `{"ticket_id":`), want: badRequest("JSON")},
		{name: "signed JSON that is not an object", body: `["35436"]`, headers: zendeskHeaders(secret, now, `["35436"]`), want: badRequest("JSON")},
		{name: "a trigger body without a ticket id", body: `{"updated_at":"x"}`, headers: zendeskHeaders(secret, now, `{"updated_at":"x"}`), want: badRequest("case id")},
		{name: "a ticket id that is not a number", body: `{"ticket_id":"35436/../1"}`, headers: zendeskHeaders(secret, now, `{"ticket_id":"35436/../1"}`), want: badRequest("case id")},
		{name: "a ticket id with a leading zero", body: `{"ticket_id":"035436"}`, headers: zendeskHeaders(secret, now, `{"ticket_id":"035436"}`), want: badRequest("case id")},
		{name: "a negative ticket id", body: `{"ticket_id":-1}`, headers: zendeskHeaders(secret, now, `{"ticket_id":-1}`), want: badRequest("JSON")},
		{name: "a user event names no ticket", body: `{"type":"zen:event-type:user.active_changed","subject":"zen:user:6596848315901","detail":{"id":"6596848315901"}}`,
			headers: zendeskHeaders(secret, now, `{"type":"zen:event-type:user.active_changed","subject":"zen:user:6596848315901","detail":{"id":"6596848315901"}}`), want: badRequest("case id")},
		{name: "an event whose detail names another ticket", body: `{"type":"zen:event-type:ticket.created","subject":"zen:ticket:1","detail":{"id":"2"}}`,
			headers: zendeskHeaders(secret, now, `{"type":"zen:event-type:ticket.created","subject":"zen:ticket:1","detail":{"id":"2"}}`), want: badRequest("case id")},
	})
}

func TestJira(t *testing.T) {
	body := jiraBody(now, "SUP-12")
	good := with(jiraHeaders(secret, body), HeaderAtlassianIdentifier, "9f1c5a9e-6b7a-4c8e-9d2f-123456789abc")
	comment := `{"timestamp":` + strconv.FormatInt(now.UnixMilli(), 10) + `,"webhookEvent":"comment_created","comment":{"id":"10000","author":{"accountId":"557058:abc"}},"issue":{"id":"10002","key":"SUP-12"}}`
	edited := `{"timestamp":` + strconv.FormatInt(now.UnixMilli(), 10) + `,"webhookEvent":"comment_updated","comment":{"id":"10000","author":{"accountId":"557058:abc"},"updateAuthor":{"accountId":"557058:def"}},"issue":{"id":"10002","key":"SUP-12"}}`
	runCases(t, KindJira, []verifyCase{
		{name: "an issue event names the issue key, the event id and the user", body: body, headers: good,
			want: accepted(Event{CaseIDs: []string{"SUP-12"}, EventID: "9f1c5a9e-6b7a-4c8e-9d2f-123456789abc", Type: "jira:issue_updated", Actor: "5b10a2844c20165700ede21g"})},
		{name: "a comment event names the comment's author", body: comment, headers: jiraHeaders(secret, comment),
			want: accepted(Event{CaseIDs: []string{"SUP-12"}, Type: "comment_created", Actor: "557058:abc"})},
		{name: "an edited comment names its editor", body: edited, headers: jiraHeaders(secret, edited),
			want: accepted(Event{CaseIDs: []string{"SUP-12"}, Type: "comment_updated", Actor: "557058:def"})},
		{name: "a malformed event identifier is left out", body: body, headers: with(good, HeaderAtlassianIdentifier, "a b"),
			want: accepted(Event{CaseIDs: []string{"SUP-12"}, Type: "jira:issue_updated", Actor: "5b10a2844c20165700ede21g"})},
		{name: "a signature under another secret", body: body, headers: jiraHeaders("another-secret-0123456789", body), want: unauthorized("does not match")},
		{name: "a signature of another body", body: jiraBody(now, "SUP-13"), headers: good, want: unauthorized("does not match")},
		{name: "the signature without its sha256= prefix", body: body, headers: with(good, HeaderHubSignature, strings.TrimPrefix(good[HeaderHubSignature], "sha256=")), want: unauthorized("does not match")},
		{name: "a sha1 signature", body: body, headers: with(good, HeaderHubSignature, "sha1=0123456789abcdef0123456789abcdef01234567"), want: unauthorized("does not match")},
		{name: "no signature", body: body, headers: with(good, HeaderHubSignature, ""), want: unauthorized("missing")},
		{name: "sent six minutes ago", body: jiraBody(now.Add(-6*time.Minute), "SUP-12"), headers: jiraHeaders(secret, jiraBody(now.Add(-6*time.Minute), "SUP-12")), want: unauthorized("stale")},
		{name: "sent six minutes ahead", body: jiraBody(now.Add(6*time.Minute), "SUP-12"), headers: jiraHeaders(secret, jiraBody(now.Add(6*time.Minute), "SUP-12")), want: unauthorized("stale")},
		{name: "a body without a timestamp", body: `{"issue":{"key":"SUP-12"}}`, headers: jiraHeaders(secret, `{"issue":{"key":"SUP-12"}}`), want: badRequest("timestamp")},
		{name: "a timestamp that is not an integer", body: `{"timestamp":1.5e12,"issue":{"key":"SUP-12"}}`, headers: jiraHeaders(secret, `{"timestamp":1.5e12,"issue":{"key":"SUP-12"}}`), want: unauthorized("malformed")},
		{name: "a PUT", method: http.MethodPut, body: body, headers: good, want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: jiraHeaders(secret, oversized()), want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "signed malformed JSON", body: `{"timestamp":`, headers: jiraHeaders(secret, `{"timestamp":`), want: badRequest("JSON")},
		{name: "no issue", body: strings.Replace(body, `"issue"`, `"project"`, 1), headers: jiraHeaders(secret, strings.Replace(body, `"issue"`, `"project"`, 1)), want: badRequest("case id")},
		{name: "an issue key in lower case", body: jiraBody(now, "sup-12"), headers: jiraHeaders(secret, jiraBody(now, "sup-12")), want: badRequest("case id")},
		{name: "an issue key with a path", body: jiraBody(now, "SUP-12/../1"), headers: jiraHeaders(secret, jiraBody(now, "SUP-12/../1")), want: badRequest("case id")},
		{name: "an issue key of 200 characters", body: jiraBody(now, strings.Repeat("A", 196)+"-123"), headers: jiraHeaders(secret, jiraBody(now, strings.Repeat("A", 196)+"-123")), want: badRequest("case id")},
	})
}

func TestServiceNow(t *testing.T) {
	body := `{"table":"incident","sys_id":"5e1f0000000000000000000000000001","number":"INC0010001","updated_by":"alice.agent"}`
	good := casebridgeHeaders(secret, now, body)
	signed := func(b string) map[string]string { return casebridgeHeaders(secret, now, b) }
	runCases(t, KindServiceNow, []verifyCase{
		{name: "the business rule's body names the record and its updater", body: body, headers: good,
			want: accepted(Event{CaseIDs: []string{"5e1f0000000000000000000000000001"}, Actor: "alice.agent"})},
		{name: "a signature under another secret", body: body, headers: casebridgeHeaders("another-secret-0123456789", now, body), want: unauthorized("does not match")},
		{name: "a signature without the dot", body: body, headers: with(good, HeaderCasebridgeSignature, "sha256="+hex.EncodeToString(hmacSHA256(secret, good[HeaderCasebridgeTimestamp], body))), want: unauthorized("does not match")},
		{name: "a signature of another timestamp", body: body, headers: with(good, HeaderCasebridgeTimestamp, "1796538688"), want: unauthorized("does not match")},
		{name: "a base64 signature", body: body, headers: with(good, HeaderCasebridgeSignature, base64.StdEncoding.EncodeToString(hmacSHA256(secret, good[HeaderCasebridgeTimestamp], ".", body))), want: unauthorized("does not match")},
		{name: "no signature", body: body, headers: with(good, HeaderCasebridgeSignature, ""), want: unauthorized("missing")},
		{name: "no timestamp", body: body, headers: with(good, HeaderCasebridgeTimestamp, ""), want: unauthorized("missing")},
		{name: "signed six minutes ago", body: body, headers: casebridgeHeaders(secret, now.Add(-6*time.Minute), body), want: unauthorized("stale")},
		{name: "signed six minutes ahead", body: body, headers: casebridgeHeaders(secret, now.Add(6*time.Minute), body), want: unauthorized("stale")},
		{name: "a signed timestamp in milliseconds", body: body, headers: func() map[string]string {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			return map[string]string{HeaderCasebridgeTimestamp: ts, HeaderCasebridgeSignature: "sha256=" + hex.EncodeToString(hmacSHA256(secret, ts, ".", body))}
		}(), want: unauthorized("malformed")},
		{name: "a signed timestamp that is not a number", body: body, headers: func() map[string]string {
			ts := "-1796538687"
			return map[string]string{HeaderCasebridgeTimestamp: ts, HeaderCasebridgeSignature: "sha256=" + hex.EncodeToString(hmacSHA256(secret, ts, ".", body))}
		}(), want: unauthorized("malformed")},
		{name: "a DELETE", method: http.MethodDelete, body: body, headers: good, want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: signed(oversized()), want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "signed malformed JSON", body: `{"table":"incident",`, headers: signed(`{"table":"incident",`), want: badRequest("JSON")},
		{name: "a sys_id of the wrong form", body: `{"table":"incident","sys_id":"INC0010001"}`, headers: signed(`{"table":"incident","sys_id":"INC0010001"}`), want: badRequest("case id")},
		{name: "a sys_id in upper case", body: `{"table":"incident","sys_id":"5E1F0000000000000000000000000001"}`, headers: signed(`{"table":"incident","sys_id":"5E1F0000000000000000000000000001"}`), want: badRequest("case id")},
		{name: "no table", body: `{"sys_id":"5e1f0000000000000000000000000001"}`, headers: signed(`{"sys_id":"5e1f0000000000000000000000000001"}`), want: badRequest("case id")},
		{name: "a table name with a path", body: `{"table":"../incident","sys_id":"5e1f0000000000000000000000000001"}`, headers: signed(`{"table":"../incident","sys_id":"5e1f0000000000000000000000000001"}`), want: badRequest("case id")},
		{name: "an updater with a control character is unknown", body: `{"table":"incident","sys_id":"5e1f0000000000000000000000000001","updated_by":"a\nb"}`, headers: signed(`{"table":"incident","sys_id":"5e1f0000000000000000000000000001","updated_by":"a\nb"}`),
			want: accepted(Event{CaseIDs: []string{"5e1f0000000000000000000000000001"}})},
	})
}

func TestRequestTracker(t *testing.T) {
	body := `{"ticket":42,"txn":1234,"type":"Correspond","creator":"alice"}`
	signed := func(b string) map[string]string { return casebridgeHeaders(secret, now, b) }
	runCases(t, KindRequestTracker, []verifyCase{
		{name: "the scrip's body names the ticket, transaction, type and creator", body: body, headers: signed(body),
			want: accepted(Event{CaseIDs: []string{"42"}, EventID: "1234", Type: "Correspond", Actor: "alice"})},
		{name: "ids sent as strings", body: `{"ticket":"42","txn":"1234","type":"Status","creator":"bob"}`, headers: signed(`{"ticket":"42","txn":"1234","type":"Status","creator":"bob"}`),
			want: accepted(Event{CaseIDs: []string{"42"}, EventID: "1234", Type: "Status", Actor: "bob"})},
		{name: "a signature under another secret", body: body, headers: casebridgeHeaders("another-secret-0123456789", now, body), want: unauthorized("does not match")},
		{name: "no signature", body: body, headers: with(signed(body), HeaderCasebridgeSignature, ""), want: unauthorized("missing")},
		{name: "signed six minutes ago", body: body, headers: casebridgeHeaders(secret, now.Add(-6*time.Minute), body), want: unauthorized("stale")},
		{name: "signed six minutes ahead", body: body, headers: casebridgeHeaders(secret, now.Add(6*time.Minute), body), want: unauthorized("stale")},
		{name: "a GET", method: http.MethodGet, body: body, headers: signed(body), want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: signed(oversized()), want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "signed malformed JSON", body: `{"ticket":42`, headers: signed(`{"ticket":42`), want: badRequest("JSON")},
		{name: "two JSON values", body: body + body, headers: signed(body + body), want: badRequest("JSON")},
		{name: "ticket zero", body: `{"ticket":0,"txn":1}`, headers: signed(`{"ticket":0,"txn":1}`), want: badRequest("case id")},
		{name: "a fractional ticket", body: `{"ticket":4.2,"txn":1}`, headers: signed(`{"ticket":4.2,"txn":1}`), want: badRequest("JSON")},
		{name: "a ticket that is not a number", body: `{"ticket":"42abc","txn":1}`, headers: signed(`{"ticket":"42abc","txn":1}`), want: badRequest("case id")},
		{name: "a ticket over 18 digits", body: `{"ticket":"1234567890123456789","txn":1}`, headers: signed(`{"ticket":"1234567890123456789","txn":1}`), want: badRequest("case id")},
	})
}

func TestSimulator(t *testing.T) {
	body := `{"case":"7","event":"comment","actor":"alice"}`
	signed := func(b string) map[string]string { return casebridgeHeaders(secret, now, b) }
	runCases(t, KindSimulator, []verifyCase{
		{name: "the simulator's body names the case, event and actor", body: body, headers: signed(body),
			want: accepted(Event{CaseIDs: []string{"7"}, Type: "comment", Actor: "alice"})},
		{name: "a signature under another secret", body: body, headers: casebridgeHeaders("another-secret-0123456789", now, body), want: unauthorized("does not match")},
		{name: "no timestamp", body: body, headers: with(signed(body), HeaderCasebridgeTimestamp, ""), want: unauthorized("missing")},
		{name: "signed six minutes ago", body: body, headers: casebridgeHeaders(secret, now.Add(-6*time.Minute), body), want: unauthorized("stale")},
		{name: "signed six minutes ahead", body: body, headers: casebridgeHeaders(secret, now.Add(6*time.Minute), body), want: unauthorized("stale")},
		{name: "a HEAD", method: http.MethodHead, body: "", headers: signed(""), want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: signed(oversized()), want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "an empty body", body: "", headers: signed(""), want: badRequest("JSON")},
		{name: "signed malformed JSON", body: `{"case":`, headers: signed(`{"case":`), want: badRequest("JSON")},
		{name: "no case", body: `{"event":"comment"}`, headers: signed(`{"event":"comment"}`), want: badRequest("case id")},
		{name: "a case id with a path", body: `{"case":"7/../8"}`, headers: signed(`{"case":"7/../8"}`), want: badRequest("case id")},
		{name: "an over-long actor is unknown", body: `{"case":"7","actor":"` + strings.Repeat("a", 300) + `"}`, headers: signed(`{"case":"7","actor":"` + strings.Repeat("a", 300) + `"}`),
			want: accepted(Event{CaseIDs: []string{"7"}})},
	})
}

// The Salesforce ids below are written out with the suffixes computed
// outside Go from Salesforce's documented rule (for each five characters
// of the 15-character id, a bit per capital letter, read as an index into
// A-Z0-5).
const (
	sfCase   = "5005g00000AbCdEAAV"
	sfUser   = "0055g00000XyZ12AAF"
	sfCase15 = "5005g00000AbCdE"
)

func TestSalesforce(t *testing.T) {
	body := `{"case_id":"` + sfCase + `","object":"CaseComment","user_id":"` + sfUser + `"}`
	signed := func(b string) map[string]string { return casebridgeHeaders(secret, now, b) }
	withCase := func(id string) string { return `{"case_id":"` + id + `","object":"Case","user_id":"` + sfUser + `"}` }
	runCases(t, KindSalesforce, []verifyCase{
		{name: "the Apex callout's body names the case, the object and the user", body: body, headers: signed(body),
			want: accepted(Event{CaseIDs: []string{sfCase}, Type: "CaseComment", Actor: sfUser})},
		{name: "a signature under another secret", body: body, headers: casebridgeHeaders("another-secret-0123456789", now, body), want: unauthorized("does not match")},
		{name: "a signature of another body", body: withCase(sfCase), headers: signed(body), want: unauthorized("does not match")},
		{name: "a base64 signature, as Crypto.generateMac gives it before it is put in hex", body: body,
			headers: with(signed(body), HeaderCasebridgeSignature, "sha256="+base64.StdEncoding.EncodeToString(hmacSHA256(secret, signed(body)[HeaderCasebridgeTimestamp], ".", body))), want: unauthorized("does not match")},
		{name: "no signature", body: body, headers: with(signed(body), HeaderCasebridgeSignature, ""), want: unauthorized("missing")},
		{name: "no timestamp", body: body, headers: with(signed(body), HeaderCasebridgeTimestamp, ""), want: unauthorized("missing")},
		{name: "signed six minutes ago", body: body, headers: casebridgeHeaders(secret, now.Add(-6*time.Minute), body), want: unauthorized("stale")},
		{name: "signed six minutes ahead", body: body, headers: casebridgeHeaders(secret, now.Add(6*time.Minute), body), want: unauthorized("stale")},
		{name: "signed four minutes ago", body: body, headers: casebridgeHeaders(secret, now.Add(-4*time.Minute), body),
			want: accepted(Event{CaseIDs: []string{sfCase}, Type: "CaseComment", Actor: sfUser})},
		{name: "a timestamp in milliseconds (DateTime.getTime() not divided)", body: body, headers: func() map[string]string {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			return map[string]string{HeaderCasebridgeTimestamp: ts, HeaderCasebridgeSignature: "sha256=" + hex.EncodeToString(hmacSHA256(secret, ts, ".", body))}
		}(), want: unauthorized("malformed")},
		{name: "a GET", method: http.MethodGet, body: body, headers: signed(body), want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: signed(oversized()), want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "signed malformed JSON", body: `{"case_id":`, headers: signed(`{"case_id":`), want: badRequest("JSON")},
		{name: "no case id", body: `{"object":"Case"}`, headers: signed(`{"object":"Case"}`), want: badRequest("case id")},
		{name: "the 15-character form is refused, not converted", body: withCase(sfCase15), headers: signed(withCase(sfCase15)), want: badRequest("case id")},
		{name: "an 18-character id whose suffix does not match its case", body: withCase("5005g00000AbCdeAAV"), headers: signed(withCase("5005g00000AbCdeAAV")), want: badRequest("case id")},
		{name: "an 18-character id in lower case", body: withCase(strings.ToLower(sfCase)), headers: signed(withCase(strings.ToLower(sfCase))), want: badRequest("case id")},
		{name: "a user id in the case id", body: withCase(sfUser), headers: signed(withCase(sfUser)), want: badRequest("case id")},
		{name: "a case id with a path", body: withCase("500/../00000AbCdEAAV"), headers: signed(withCase("500/../00000AbCdEAAV")), want: badRequest("case id")},
		{name: "a case id sent as a number", body: `{"case_id":5005}`, headers: signed(`{"case_id":5005}`), want: badRequest("JSON")},
		{name: "a malformed user id leaves the actor unknown", body: `{"case_id":"` + sfCase + `","object":"Case","user_id":"` + sfCase + `"}`,
			headers: signed(`{"case_id":"` + sfCase + `","object":"Case","user_id":"` + sfCase + `"}`), want: accepted(Event{CaseIDs: []string{sfCase}, Type: "Case"})},
		{name: "an object name that is no type is left out", body: `{"case_id":"` + sfCase + `","object":"a b"}`, headers: signed(`{"case_id":"` + sfCase + `","object":"a b"}`),
			want: accepted(Event{CaseIDs: []string{sfCase}})},
	})
}

func TestFreshdesk(t *testing.T) {
	body := `{"ticket_id":"1234"}`
	good := map[string]string{HeaderWebhookSecret: secret}
	runCases(t, KindFreshdesk, []verifyCase{
		{name: "the rule's body names the ticket", body: body, headers: good, want: accepted(Event{CaseIDs: []string{"1234"}})},
		{name: "the placeholder left unquoted gives a number", body: `{"ticket_id":1234}`, headers: good, want: accepted(Event{CaseIDs: []string{"1234"}})},
		{name: "spaces around the secret are ignored", body: body, headers: map[string]string{HeaderWebhookSecret: "  " + secret + " "}, want: accepted(Event{CaseIDs: []string{"1234"}})},
		{name: "another secret", body: body, headers: map[string]string{HeaderWebhookSecret: "another-secret-0123456789"}, want: unauthorized("does not match")},
		{name: "the secret with a byte more", body: body, headers: map[string]string{HeaderWebhookSecret: secret + "x"}, want: unauthorized("does not match")},
		{name: "the secret less its last byte", body: body, headers: map[string]string{HeaderWebhookSecret: secret[:len(secret)-1]}, want: unauthorized("does not match")},
		{name: "the secret in another case", body: body, headers: map[string]string{HeaderWebhookSecret: strings.ToUpper(secret)}, want: unauthorized("does not match")},
		{name: "the secret's HMAC instead of the secret", body: body, headers: map[string]string{HeaderWebhookSecret: hex.EncodeToString(hmacSHA256(secret, body))}, want: unauthorized("does not match")},
		{name: "an over-long secret header", body: body, headers: map[string]string{HeaderWebhookSecret: strings.Repeat("s", maxSecretHeaderBytes+1)}, want: unauthorized("does not match")},
		{name: "no secret header", body: body, headers: map[string]string{}, want: unauthorized("missing")},
		{name: "an empty secret header", body: body, headers: map[string]string{HeaderWebhookSecret: " "}, want: unauthorized("does not match")},
		{name: "the secret as Basic credentials instead", body: body, headers: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(secret+":X"))}, want: unauthorized("missing")},
		{name: "casebridge's signature instead of the secret", body: body, headers: casebridgeHeaders(secret, now, body), want: unauthorized("missing")},
		{name: "a PUT", method: http.MethodPut, body: body, headers: good, want: want{status: http.StatusMethodNotAllowed, reason: "POST"}},
		{name: "a body over the limit", body: oversized(), headers: good, want: want{status: http.StatusRequestEntityTooLarge, reason: "larger"}},
		{name: "malformed JSON", body: `{"ticket_id":`, headers: good, want: badRequest("JSON")},
		{name: "a placeholder Freshdesk did not fill", body: `{"ticket_id":"{{ticket.id}}"}`, headers: good, want: badRequest("case id")},
		{name: "an empty placeholder left unquoted", body: `{"ticket_id":}`, headers: good, want: badRequest("JSON")},
		{name: "no ticket id", body: `{"id":"1234"}`, headers: good, want: badRequest("case id")},
		{name: "ticket zero", body: `{"ticket_id":0}`, headers: good, want: badRequest("case id")},
		{name: "a ticket id with a leading zero", body: `{"ticket_id":"01234"}`, headers: good, want: badRequest("case id")},
		{name: "a ticket id over 18 digits", body: `{"ticket_id":"1234567890123456789"}`, headers: good, want: badRequest("case id")},
		{name: "a negative ticket id", body: `{"ticket_id":-1}`, headers: good, want: badRequest("JSON")},
		{name: "a ticket id with a path", body: `{"ticket_id":"12/../34"}`, headers: good, want: badRequest("case id")},
		{name: "two JSON values", body: body + body, headers: good, want: badRequest("JSON")},
	})
}

// TestTheFreshdeskSecretSentTwiceIsRefused checks that a second secret
// header, even a right one, is not taken.
func TestTheFreshdeskSecretSentTwiceIsRefused(t *testing.T) {
	v, err := New(KindFreshdesk, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"ticket_id":"1234"}`
	for _, pair := range [][2]string{{secret, "another-secret-0123456789"}, {"another-secret-0123456789", secret}, {secret, secret}} {
		r := request(http.MethodPost, body, map[string]string{HeaderWebhookSecret: pair[0]})
		r.Header.Add(HeaderWebhookSecret, pair[1])
		if _, err := v.Verify(r); Status(err) != http.StatusUnauthorized {
			t.Errorf("Verify with the secret headers %s and %s = %v, want 401", pair[0][:7], pair[1][:7], err)
		}
	}
}

// TestFreshdeskErrorsNeverQuoteTheSecretHeader checks that a wrong secret,
// which may be a near miss of the right one, is never quoted back.
func TestFreshdeskErrorsNeverQuoteTheSecretHeader(t *testing.T) {
	v, err := New(KindFreshdesk, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	for _, sent := range []string{secret[:len(secret)-1], "MARKER-7f3a-0123456789", strings.Repeat("m", maxSecretHeaderBytes+1)} {
		_, err := v.Verify(request(http.MethodPost, `{"ticket_id":"MARKER-7f3a"}`, map[string]string{HeaderWebhookSecret: sent}))
		if err == nil {
			t.Fatalf("Verify accepted a wrong secret")
		}
		if strings.Contains(err.Error(), "MARKER") || strings.Contains(err.Error(), secret[:20]) || strings.Contains(err.Error(), "mmmm") {
			t.Errorf("error %q quotes the request", err)
		}
	}
}

// TestContentLengthOverTheLimitIsRefusedUnread checks that a request
// announcing too large a body is refused before any of it is read.
func TestContentLengthOverTheLimitIsRefusedUnread(t *testing.T) {
	v, err := New(KindSimulator, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", failingReader{})
	r.ContentLength = MaxBodyBytes + 1
	if _, err := v.Verify(r); Status(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("Verify = %v, want 413", err)
	}
}

// TestABodyOfUnknownLengthIsCutAtTheLimit checks the bound on what is read
// when no Content-Length announces the size.
func TestABodyOfUnknownLengthIsCutAtTheLimit(t *testing.T) {
	v, err := New(KindSimulator, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	body := oversized()
	r := request(http.MethodPost, body, casebridgeHeaders(secret, now, body))
	r.ContentLength = -1
	r.Body = io.NopCloser(strings.NewReader(body))
	if _, err := v.Verify(r); Status(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("Verify = %v, want 413", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	panic("the body was read")
}

func TestASignatureSentTwiceIsRefused(t *testing.T) {
	v, err := New(KindJira, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	body := jiraBody(now, "SUP-12")
	r := request(http.MethodPost, body, jiraHeaders(secret, body))
	r.Header.Add(HeaderHubSignature, "sha256="+strings.Repeat("0", 64))
	if _, err := v.Verify(r); Status(err) != http.StatusUnauthorized {
		t.Fatalf("Verify = %v, want 401", err)
	}
}

func TestUpperCaseHexIsAccepted(t *testing.T) {
	// Hex digits are case-insensitive; the schemes send lower case.
	v, err := New(KindJira, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	body := jiraBody(now, "SUP-12")
	h := jiraHeaders(secret, body)
	h[HeaderHubSignature] = "sha256=" + strings.ToUpper(strings.TrimPrefix(h[HeaderHubSignature], "sha256="))
	if _, err := v.Verify(request(http.MethodPost, body, h)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestNewRefusesWhatCannotVerify(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		secret     []byte
	}{
		{"an unknown kind", "hubspot", []byte(secret)},
		{"an empty secret", KindJira, nil},
		{"a short secret", KindJira, []byte("fifteen-bytes!!")},
		{"an oversized secret", KindJira, []byte(strings.Repeat("s", MaxSecretBytes+1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, err := New(tc.kind, tc.secret, nil); err == nil {
				t.Fatalf("New = %v, nil; want an error", v)
			}
		})
	}
}

// TestTheSecretIsCopied checks that changing the caller's bytes later
// does not change what the verifier checks with.
func TestTheSecretIsCopied(t *testing.T) {
	b := []byte(secret)
	v, err := New(KindSimulator, b, clock)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	body := `{"case":"7"}`
	if _, err := v.Verify(request(http.MethodPost, body, casebridgeHeaders(secret, now, body))); err != nil {
		t.Fatalf("Verify after the caller changed its secret bytes: %v", err)
	}
}

func TestErrorsNeverQuoteTheRequest(t *testing.T) {
	// Every refusal's reason is a fixed text: nothing of the body, headers
	// or secret reaches a log line or an answer.
	v, err := New(KindServiceNow, []byte(secret), clock)
	if err != nil {
		t.Fatal(err)
	}
	marker := "MARKER-7f3a"
	bodies := []string{
		`{"table":"` + marker + `","sys_id":"` + marker + `"}`,
		marker,
		`{"table":"incident","sys_id":"5e1f0000000000000000000000000001","updated_by":"` + marker + `"`,
	}
	for _, b := range bodies {
		for _, h := range []map[string]string{
			casebridgeHeaders(secret, now, b),
			{HeaderCasebridgeTimestamp: marker, HeaderCasebridgeSignature: "sha256=" + marker},
		} {
			_, err := v.Verify(request(http.MethodPost, b, h))
			if err == nil {
				t.Fatalf("Verify accepted %q", b)
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the request", err)
			}
		}
	}
}
