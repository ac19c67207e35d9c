package eventing

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/google/go-cmp/cmp"
)

// FuzzReadSupportEvent feeds support events of any shape: whatever they
// hold, every case taken is a well-formed case name that the message
// really mentions, at most MaxSupportEventCases of them, each once, and
// the result does not depend on map order.
func FuzzReadSupportEvent(f *testing.F) {
	for _, s := range []struct{ key, val, data string }{
		{"resourceName", "projects/my-project/cases/43595344", `{"notificationType":"CASE_UPDATED"}`},
		{"resourceName", "projects/200/cases/1/comments/2", `{"resourceName":"projects/200/cases/1/comments/2"}`},
		{"notificationType", "COMMENT_CREATED", `{"a":[{"b":"organizations\/100\/cases\/7\/attachments\/x"}]}`},
		{"r", "//cloudsupport.googleapis.com/projects/example.com:p/cases/9", "case projects/p/cases/8 changed"},
		{"r", "projects/P/cases/1 projects/p/cases/123456789012345678901", "projects/../cases/1 xprojects/p/cases/2"},
		{"", "", strings.Repeat("projects/p/cases/1 ", 3) + "projects/p/cases/2 projects/p/cases/3 projects/p/cases/4 projects/p/cases/5 projects/p/cases/6 projects/p/cases/7 projects/p/cases/8 projects/p/cases/9 projects/p/cases/10 projects/p/cases/11"},
		{"k", "v", strings.Repeat(`{"a":`, 50) + `"projects\/p\/cases\/1"` + strings.Repeat(`}`, 50)},
		{"k", "\xff\xfe", "\x00projects/p/cases/1\x00"},
		{"k", "v", `"projects/p/cases/1"`},
		{"k", "v", `[`},
	} {
		f.Add(s.key, s.val, []byte(s.data))
	}
	f.Fuzz(func(t *testing.T, key, val string, data []byte) {
		msg := PubsubMessage{Attributes: map[string]string{key: val, "resourceName": val + "x"}, Data: data}
		ev := ReadSupportEvent(msg)

		if len(ev.Cases) > MaxSupportEventCases {
			t.Fatalf("%d cases taken, want at most %d", len(ev.Cases), MaxSupportEventCases)
		}
		if ev.MoreCases && len(ev.Cases) != MaxSupportEventCases {
			t.Fatalf("MoreCases with only %d cases taken", len(ev.Cases))
		}
		if ev.DataSkipped != (len(data) > MaxSupportEventData) || ev.DataBytes != len(data) {
			t.Fatalf("DataSkipped %v, DataBytes %d for %d bytes of data", ev.DataSkipped, ev.DataBytes, len(data))
		}
		wantKeys := []string{key, "resourceName"}
		slices.Sort(wantKeys)
		wantKeys = slices.Compact(wantKeys)
		if diff := cmp.Diff(wantKeys, ev.AttributeKeys); diff != "" {
			t.Fatalf("attribute keys (-want +got):\n%s", diff)
		}

		// Where a name may come from: an attribute value, the data, or a
		// string of the data decoded as JSON.
		sources := []string{}
		for _, v := range msg.Attributes {
			sources = append(sources, v)
		}
		if !ev.DataSkipped {
			sources = append(sources, string(data))
			dec := json.NewDecoder(bytes.NewReader(data))
			var v any
			if dec.Decode(&v) == nil {
				sources = append(sources, jsonStrings(v)...)
			}
		}
		seen := map[string]bool{}
		for _, name := range ev.Cases {
			if err := (casesync.CaseRef{Side: casesync.SideGoogle, ID: name}).Validate(); err != nil {
				t.Fatalf("took %q, which Validate refuses: %v", name, err)
			}
			if seen[name] {
				t.Fatalf("took %q twice", name)
			}
			seen[name] = true
			found := false
			for _, s := range sources {
				if strings.Contains(s, name) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("took %q, which the message does not mention", name)
			}
		}

		again := ReadSupportEvent(msg)
		if diff := cmp.Diff(ev, again); diff != "" {
			t.Fatalf("a second read differs (-first +second):\n%s", diff)
		}
	})
}

// jsonStrings returns every string value of a decoded JSON value.
func jsonStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, jsonStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range t {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}
