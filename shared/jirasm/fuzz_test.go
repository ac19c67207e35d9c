package jirasm

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for what the Jira Service Management adapter reads and
// writes: Atlassian documents (ADF), comment visibility, JQL string values
// and timestamps. Each runs on its seeds in the ordinary test command;
// scripts/fuzz.sh runs them for a given time.

func FuzzADFRoundTrip(f *testing.F) {
	for _, s := range []string{"hello", "a\nb", "a\n\nb", "a\n\n\nb", "\n", "\n\n", "x\r\ny", "tab\there", "<b>&amp;</b>", "é😀", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return // JSON carries only UTF-8
		}
		doc := textToADF(text)
		if text == "" {
			if doc != nil {
				t.Fatalf("textToADF(\"\") = %+v, want no document", doc)
			}
			return
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("marshal the document of %q: %v", text, err)
		}
		want := strings.ReplaceAll(text, "\r\n", "\n")
		if got := adfToText(raw); got != want {
			t.Fatalf("text %q went to ADF %s and back as %q", text, raw, got)
		}
	})
}

func FuzzADFToText(f *testing.F) {
	for _, s := range []string{
		`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi"},{"type":"hardBreak"},{"type":"mention","attrs":{"text":"@Ann"}}]}]}`,
		`{"type":"doc","content":[{"type":"orderedList","attrs":{"order":1e300},"content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]}]}]}`,
		`{"type":"doc","content":[{"type":"blockquote","content":[{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"blockquote","content":[{"type":"paragraph","content":[{"type":"text","text":"a"},{"type":"hardBreak"},{"type":"text","text":"b"}]}]}]}]}]}]}`,
		`{"type":"doc","content":[{"type":"table","content":[{"type":"tableRow","content":[{"type":"tableCell","content":[{"type":"paragraph","content":[{"type":"text","text":"c"}]}]}]}]}]}`,
		`{"type":"doc","content":[{"type":"panel","content":[{"type":"rule"},{"type":"mediaSingle","content":[{"type":"media","attrs":{"id":"x"}}]}]}]}`,
		`"a v2 plain string"`, `null`, `42`, `{"content":7}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := adfToText(raw)
		if utf8.Valid(raw) && !utf8.ValidString(got) {
			t.Fatalf("adfToText gave invalid UTF-8 from a valid document")
		}
		// Nested lists and quotes indent each line, so the text may grow
		// with depth; it stays within a bound of the document's size.
		if len(got) > 16*len(raw)+64 {
			t.Fatalf("adfToText of %d bytes gave %d bytes", len(raw), len(got))
		}
		shown := map[string]bool{}
		mediaIDs(adfNodeOf(raw), shown)
	})
}

// FuzzCommentVisibility: a comment reads as public only when every sign
// Jira gives, read exactly as Jira writes it, says so. Anything unclear is
// internal.
func FuzzCommentVisibility(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","jsdPublic":true}`,
		`{"id":"2","jsdPublic":false}`,
		`{"id":"3","properties":[{"key":"sd.public.comment","value":{"internal":true}}]}`,
		`{"id":"4","properties":[{"key":"sd.public.comment","value":{"internal":false}}]}`,
		`{"id":"5","properties":[{"key":"sd.public.comment","value":{"internal":"false"}}]}`,
		`{"id":"6","visibility":{"type":"role","value":"Administrators"}}`,
		`{"id":"7","properties":[{"key":"other","value":{"internal":true}}]}`,
		`{"id":"8"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cj commentJSON
		if json.Unmarshal(data, &cj) != nil || !cj.public() {
			return
		}
		// Read the same answer by exact key, as Jira does.
		var exact struct {
			JSDPublic  json.RawMessage `json:"jsdPublic"`
			Visibility json.RawMessage `json:"visibility"`
			Properties []map[string]json.RawMessage
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(data, &top) != nil {
			return
		}
		if v, ok := top["jsdPublic"]; ok && string(v) == "false" {
			t.Fatalf("a comment with jsdPublic false reads as public: %s", data)
		}
		if json.Unmarshal(top["properties"], &exact.Properties) != nil {
			return
		}
		for _, p := range exact.Properties {
			var key string
			if json.Unmarshal(p["key"], &key) != nil || key != internalProperty {
				continue
			}
			var value map[string]json.RawMessage
			if json.Unmarshal(p["value"], &value) != nil || string(value["internal"]) != "false" {
				t.Fatalf("a comment whose %s property is %s reads as public", internalProperty, p["value"])
			}
		}
	})
}

func FuzzJQLString(f *testing.F) {
	for _, s := range []string{"projects/p/cases/1", `a"b`, `a\b`, `\"`, `" OR project = X OR "`, "a\nb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := jqlString(s)
		// Read the value back as JQL reads a quoted string: a backslash
		// takes the next character as it is; an unescaped quote ends it.
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("jqlString(%q) = %s is not quoted", s, q)
		}
		var b strings.Builder
		body := q[1 : len(q)-1]
		for i := 0; i < len(body); i++ {
			switch body[i] {
			case '\\':
				i++
				if i == len(body) {
					t.Fatalf("jqlString(%q) = %s ends inside an escape", s, q)
				}
				b.WriteByte(body[i])
			case '"':
				t.Fatalf("jqlString(%q) = %s ends early: the rest is JQL", s, q)
			default:
				b.WriteByte(body[i])
			}
		}
		if b.String() != s {
			t.Fatalf("jqlString(%q) = %s reads back as %q", s, q, b.String())
		}
	})
}

func FuzzJiraTime(f *testing.F) {
	for _, s := range []string{`"2026-03-01T10:00:05.123+0100"`, `"2026-03-01T10:00:05+0100"`, `"2026-03-01T10:00:05Z"`, `"soon"`, `12`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := jiraTime(raw)
		if got.IsZero() {
			return
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			t.Fatalf("jiraTime(%s) = %v from something that is not a JSON string", raw, got)
		}
	})
}
