package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// FuzzVerify feeds every kind's verifier bodies signed with the right
// secret (so the fuzzer reaches the parsing), and the same bodies with
// fuzzed headers (so it reaches the header checks). Whatever comes in, the
// verifier must not panic, must refuse with an *Error whose status is one
// of the receiver's and whose reason quotes nothing of the request, and may
// accept only case ids a CaseRef accepts. The ordinary test command runs
// the seeds; scripts/fuzz.sh searches further.
func FuzzVerify(f *testing.F) {
	for _, s := range []struct {
		body, sig, ts string
		skew          int64
	}{
		{`{"ticket_id":"35436","updated_at":"2026-12-06T06:31:20Z"}`, "", "", 0},
		{`{"type":"zen:event-type:ticket.created","id":"01H","subject":"zen:ticket:35436","detail":{"id":"35436","actor_id":"1"}}`, "", "", 60},
		{`{"timestamp":1796538687000,"webhookEvent":"jira:issue_updated","issue":{"key":"SUP-12"},"user":{"accountId":"x"}}`, "", "", 0},
		{`{"timestamp":1796538687000,"webhookEvent":"comment_created","issue":{"key":"SUP-12"},"comment":{"author":{"accountId":"y"}}}`, "", "", -60},
		{`{"table":"incident","sys_id":"5e1f0000000000000000000000000001","number":"INC0010001","updated_by":"alice.agent"}`, "", "", 0},
		{`{"ticket":42,"txn":1234,"type":"Correspond","creator":"alice"}`, "", "", 299},
		{`{"case":"7","event":"comment","actor":"alice"}`, "", "", -299},
		{`{"case":7.5}`, "", "", 0},
		{`{"ticket":"0042"}`, "", "", 0},
		{`{"case":"7"}{"case":"8"}`, "", "", 0},
		{`{"case":"` + strings.Repeat("9", 40) + `"}`, "", "", 0},
		{`{"issue":{"key":"A-1"},"timestamp":-9223372036854775808}`, "", "", 0},
		{"", "sha256=00", "1796538687", 0},
		{`{"case":"7"}`, "sha256=" + strings.Repeat("g", 64), "17965386870000000", 0},
		{`{"ticket_id":"1"}`, "=====", "2026-12-06T06:31:27+01:00", 0},
		{"\xff\xfe{}", "", "", 0},
		{`{"case_id":"5005g00000AbCdEAAV","object":"CaseComment","user_id":"0055g00000XyZ12AAF"}`, "", "", 120},
		{`{"case_id":"5005g00000AbCdE","object":"Case"}`, "", "", 0},
		{`{"case_id":"5005G00000ABCDE555","user_id":"5005g00000AbCdEAAV"}`, "", "", 0},
		{`{"ticket_id":"1234"}`, secret, "", 0},
		{`{"ticket_id":1234}`, " " + secret + "\t", "", 0},
		{`{"ticket_id":"{{ticket.id}}"}`, secret[:16], "", 0},
	} {
		f.Add([]byte(s.body), s.sig, s.ts, s.skew)
	}
	verifiers := map[string]*Verifier{}
	for _, k := range Kinds {
		v, err := New(k, []byte(secret), clock)
		if err != nil {
			f.Fatal(err)
		}
		verifiers[k] = v
	}
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string, skew int64) {
		at := now.Add(time.Duration(skew%1000) * time.Second)
		for kind, v := range verifiers {
			var signed map[string]string
			switch kind {
			case KindZendesk:
				signed = zendeskHeaders(secret, at, string(body))
			case KindJira:
				signed = jiraHeaders(secret, string(body))
			case KindFreshdesk:
				signed = map[string]string{HeaderWebhookSecret: secret}
			default:
				signed = casebridgeHeaders(secret, at, string(body))
			}
			fuzzed := map[string]string{
				HeaderZendeskSignature: sig, HeaderZendeskTimestamp: ts,
				HeaderHubSignature:        sig,
				HeaderCasebridgeSignature: sig, HeaderCasebridgeTimestamp: ts,
				HeaderWebhookSecret: sig,
			}
			for _, h := range []map[string]string{signed, fuzzed} {
				ev, err := v.Verify(request(http.MethodPost, string(body), h))
				check(t, kind, body, ev, err)
			}
		}
	})
}

// statuses are the answers the receiver's rules allow for a POST.
var statuses = map[int]bool{
	http.StatusRequestEntityTooLarge: true,
	http.StatusUnauthorized:          true,
	http.StatusBadRequest:            true,
}

func check(t *testing.T, kind string, body []byte, ev Event, err error) {
	t.Helper()
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("%s: refused with a %T, want *Error", kind, err)
		}
		if !statuses[e.Status] {
			t.Fatalf("%s: refused with status %d", kind, e.Status)
		}
		if len(body) >= 8 && strings.Contains(e.Error(), string(body)) {
			t.Fatalf("%s: the error quotes the body", kind)
		}
		if strings.Contains(e.Error(), secret) {
			t.Fatalf("%s: the error quotes the secret", kind)
		}
		return
	}
	if ev.Kind != kind || ev.Size != len(body) || len(ev.CaseIDs) != 1 {
		t.Fatalf("%s: accepted %+v", kind, ev)
	}
	for _, id := range ev.CaseIDs {
		if err := (casesync.CaseRef{Side: casesync.SideCompany, ID: id}).Validate(); err != nil {
			t.Fatalf("%s: accepted case id %q, which a CaseRef refuses: %v", kind, id, err)
		}
	}
	if ev.EventID != "" && !casesync.ValidID(ev.EventID) {
		t.Fatalf("%s: accepted event id %q", kind, ev.EventID)
	}
	if len(ev.Actor) > maxActorBytes || len(ev.Type) > 100 {
		t.Fatalf("%s: accepted an actor or type past its bound", kind)
	}
}
