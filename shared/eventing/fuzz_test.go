package eventing

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
)

// Fuzz targets for what arrives from Pub/Sub: the push envelope of a
// CloudEvent and the case reference in a message body. Each runs on its
// seeds in the ordinary test command; scripts/fuzz.sh runs them for a given
// time.

// maxErrorLen bounds the error of a refused message: it names what is wrong
// and quotes at most a short prefix of an id, never the body.
const maxErrorLen = 400

func FuzzDecodeCaseRef(f *testing.F) {
	for _, s := range []string{
		`{"side":"google","id":"projects/p/cases/1"}`,
		`{"side":"company","id":"SUP-12","updateTime":"2026-01-02T03:04:05.123Z"}`,
		`{"mappingId":"m-1"}`,
		`{"side":"company","id":"42","mappingId":"m-1"}`,
		`{"side":"google","id":7}`,
		`{"side":"jira","id":"7"}`,
		`{"mappingId":"a/b"}`,
		`{"side":"company","id":"7 OR 1=1"}`,
		`{"side":"company","id":"1","updateTime":"` + strings.Repeat("x", 600) + `"}`,
		`{"side":"company","id":"` + strings.Repeat("\\u0000", 200) + `"}`,
		`{"SIDE":"company","Id":"1"}`,
		`[`, ``, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ref, err := DecodeCaseRef(body)
		if err != nil {
			if !IsPermanent(err) {
				t.Fatalf("DecodeCaseRef refused a body with a %T, want a PermanentError", err)
			}
			checkErrorText(t, err, body)
			return
		}
		if err := ref.Validate(); err != nil {
			t.Fatalf("DecodeCaseRef accepted %+v, which Validate refuses: %v", ref, err)
		}
		if ref.ID == "" && ref.MappingID == "" {
			t.Fatalf("DecodeCaseRef accepted a reference naming no case")
		}
		// What the engine publishes reads back the same.
		again, err := EncodeCaseRef(ref)
		if err != nil {
			t.Fatalf("EncodeCaseRef(%+v): %v", ref, err)
		}
		back, err := DecodeCaseRef(again)
		if err != nil {
			t.Fatalf("DecodeCaseRef(EncodeCaseRef(%+v)): %v", ref, err)
		}
		if diff := cmp.Diff(ref, back); diff != "" {
			t.Fatalf("the reference changed on a round trip (-first +second):\n%s", diff)
		}
		// The failure record's key of an accepted reference is a store key.
		key := FailureKey(FunctionSyncCase, &ref)
		if strings.Contains(key, "/") || len(key) > 1500 || !utf8.ValidString(key) {
			t.Fatalf("FailureKey(%+v) = %q is not a Firestore document id", ref, key)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"message":{"data":"eyJzaWRlIjoiZ29vZ2xlIn0=","attributes":{"a":"b"},"messageId":"1","publishTime":"2026-01-02T03:04:05Z"},"subscription":"projects/p/subscriptions/s"}`,
		`{"message":{"data":"not base64!"}}`,
		`{"message":{"messageId":12}}`,
		`{"message":{"attributes":{"k":1}}}`,
		`{"message":null}`,
		`"text"`, `{`, ``,
	} {
		f.Add([]byte(s), "event-1")
	}
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		e := event.New()
		e.SetID(id)
		e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		e.DataEncoded = data
		msg, err := Decode(e)
		if err != nil {
			if !IsPermanent(err) {
				t.Fatalf("Decode refused data with a %T, want a PermanentError", err)
			}
			checkErrorText(t, err, data)
			return
		}
		if msg.Message.MessageID == "" && e.ID() != "" {
			t.Fatalf("Decode left the message id empty though the event has id %q", e.ID())
		}
		if msg.Message.PublishTime.IsZero() {
			t.Fatalf("Decode left the publish time zero though the event has one")
		}
	})
}

func FuzzCut(f *testing.F) {
	f.Add("hello world", 5)
	f.Add("aéé", 4)
	f.Add(strings.Repeat("é", 100), 17)
	f.Add("\xff\xfe\xfd\xfc", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 4 || n > 1<<16 {
			return
		}
		got := cut(s, n)
		if len(got) > n {
			t.Fatalf("cut(%q, %d) = %q is %d bytes", s, n, got, len(got))
		}
		if len(s) <= n {
			if got != s {
				t.Fatalf("cut(%q, %d) = %q changed a short value", s, n, got)
			}
			return
		}
		kept, ok := strings.CutSuffix(got, "…")
		if !ok || !strings.HasPrefix(s, kept) {
			t.Fatalf("cut(%q, %d) = %q is not a prefix marked with …", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("cut(%q, %d) = %q split a character", s, n, got)
		}
	})
}

// checkErrorText fails when a refusal's error is long, not valid UTF-8, or
// quotes a long run of the input.
func checkErrorText(t *testing.T, err error, input []byte) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxErrorLen {
		t.Fatalf("the error is %d bytes long, want at most %d: %.200q…", len(msg), maxErrorLen, msg)
	}
	if !utf8.ValidString(msg) {
		t.Fatalf("the error %q is not valid UTF-8", msg)
	}
	const run = 100
	for i := 0; i+run <= len(input); i += run / 2 {
		if chunk := string(input[i : i+run]); strings.Contains(msg, chunk) {
			t.Fatalf("the error quotes %d bytes of the input: %q", run, chunk)
		}
	}
}
