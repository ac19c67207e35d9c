package casesync

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for the forms casebridge checks outside values against (ids,
// case names, references, quoting), the markers it reads back from comments,
// and the priority table read from configuration. Each runs on its seeds in
// the ordinary test command; scripts/fuzz.sh runs them for a given time.

// maxQuotedOut is the most Quote may write: the quoted prefix, the marks
// and the length note.
const maxQuotedOut = 120

func FuzzValidGoogleCaseName(f *testing.F) {
	for _, s := range []string{
		"projects/my-project/cases/43595344",
		"projects/example.com:my-project/cases/1",
		"organizations/123/cases/43595344",
		"projects/123456789/cases/9",
		"projects/p/cases/1/comments/2",
		"projects/../cases/1",
		"projects/..:p/cases/1",
		"projects/a..b:p/cases/1",
		"projects/p/cases/../../x",
		"projects/p%2Fq/cases/1",
		"projects/p/cases/1\n",
		"organizations/-1/cases/1",
		"projects/:p/cases/1",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		parent := GoogleCaseParent(name)
		if !ValidGoogleCaseName(name) {
			if parent != "" {
				t.Fatalf("GoogleCaseParent(%q) = %q for a name ValidGoogleCaseName refuses", name, parent)
			}
			return
		}
		segs := strings.Split(name, "/")
		if len(segs) != 4 || (segs[0] != "projects" && segs[0] != "organizations") || segs[2] != "cases" {
			t.Fatalf("accepted name %q does not have the segments projects|organizations/X/cases/N", name)
		}
		if strings.Contains(name, "..") || segs[1] == "." {
			t.Fatalf("accepted name %q can climb a path", name)
		}
		if url.PathEscape(segs[1]) != segs[1] && strings.ReplaceAll(url.PathEscape(segs[1]), "%3A", ":") != segs[1] {
			t.Fatalf("accepted name %q has a parent id that needs escaping in a URL", name)
		}
		if _, err := strconv.ParseUint(segs[3], 10, 64); err != nil {
			t.Fatalf("accepted name %q has a case number that is not a number: %v", name, err)
		}
		if want := segs[0] + "/" + segs[1]; parent != want {
			t.Fatalf("GoogleCaseParent(%q) = %q, want %q", name, parent, want)
		}
		if got := CaseNumber(name); got != segs[3] {
			t.Fatalf("CaseNumber(%q) = %q, want %q", name, got, segs[3])
		}
	})
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{
		"42", "SUP-12", "0684M00000P3h1fQAB", "46d44a5fdb1e2300ac7a2d3e1b961947",
		"comments-20260102100000-0", "work_notes-20260102100000-0",
		".", "..", "a/b", "a?b", "a#b", "a%2Fb", "-x", "x\n", " x", strings.Repeat("9", MaxIDLen+1), "__x__", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ValidID(id) {
			return
		}
		switch {
		case id == "" || len(id) > MaxIDLen:
			t.Fatalf("ValidID accepted %q of %d bytes", id, len(id))
		case id == "." || id == ".." || strings.HasPrefix(id, "__"):
			t.Fatalf("ValidID accepted %q, which is no path segment or store key", id)
		case url.PathEscape(id) != strings.ReplaceAll(id, ":", "%3A") && url.PathEscape(id) != id:
			t.Fatalf("ValidID accepted %q, which needs escaping in a URL path", id)
		}
		for _, r := range id {
			if r > 0x7e || r <= ' ' || strings.ContainsRune(`/\?#%"'<>[]{}`, r) {
				t.Fatalf("ValidID accepted %q, which holds %q", id, r)
			}
		}
		// An id is safe in a marker line: it reads back whole.
		mk, ok := parseMarker(commentHeader(SideCompany, id, "Ann") + "\nbody")
		if !ok || mk.ID != id {
			t.Fatalf("a marker naming id %q reads back as %+v (ok %v)", id, mk, ok)
		}
	})
}

func FuzzCaseRefValidate(f *testing.F) {
	f.Add("google", "projects/p/cases/1", "")
	f.Add("company", "SUP-12", "")
	f.Add("", "", "m-1")
	f.Add("company", "42", "m-1")
	f.Add("google", "projects/p/cases/1/../../x", "")
	f.Add("compan\x00y", strings.Repeat("é", 200), strings.Repeat("\xff", 300))
	f.Add("company", "a\nb", "")
	f.Fuzz(func(t *testing.T, side, id, mappingID string) {
		ref := CaseRef{Side: Side(side), ID: id, MappingID: mappingID}
		err := ref.Validate()
		if err == nil {
			if mappingID != "" && !ValidID(mappingID) {
				t.Fatalf("Validate accepted the malformed mapping id %q", mappingID)
			}
			if id == "" && side == "" && mappingID != "" {
				return
			}
			switch ref.Side {
			case SideGoogle:
				if !ValidGoogleCaseName(id) {
					t.Fatalf("Validate accepted the malformed Google case name %q", id)
				}
			case SideCompany:
				if !ValidID(id) {
					t.Fatalf("Validate accepted the malformed CRM case id %q", id)
				}
			default:
				t.Fatalf("Validate accepted the side %q", side)
			}
			return
		}
		if _, ok := err.(*InputError); !ok {
			t.Fatalf("Validate gave a %T, want *InputError", err)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) {
			t.Fatalf("the error %q is not valid UTF-8", msg)
		}
		if len(msg) > 250 {
			t.Fatalf("the error is %d bytes long, want at most 250: %q", len(msg), msg)
		}
	})
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{
		"", "42", "projects/p/cases/1", "a\nb\x00c", strings.Repeat("x", 81),
		strings.Repeat("é", 60), strings.Repeat("\x00", 100), strings.Repeat("\xff", 100),
		strings.Repeat("\U000e0001", 40), "ab\xe2\x82",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if !utf8.ValidString(q) {
			t.Fatalf("Quote(%q) = %q, not valid UTF-8", s, q)
		}
		if len(q) > maxQuotedOut {
			t.Fatalf("Quote of %d bytes gave %d bytes, want at most %d: %q", len(s), len(q), maxQuotedOut, q)
		}
		if strings.ContainsAny(q, "\n\r\x00") {
			t.Fatalf("Quote(%q) = %q holds a line break or NUL", s, q)
		}
		quoted, err := strconv.QuotedPrefix(q)
		if err != nil {
			t.Fatalf("Quote(%q) = %q does not start with a Go string literal: %v", s, q, err)
		}
		got, _ := strconv.Unquote(quoted)
		note := q[len(quoted):]
		if note == "" {
			if got != s {
				t.Fatalf("Quote(%q) = %q reads back as %q", s, q, got)
			}
			return
		}
		if !strings.HasPrefix(s, got) {
			t.Fatalf("Quote(%q) = %q quotes %q, which does not start the value", s, q, got)
		}
		if want := "… (" + strconv.Itoa(len(s)) + " bytes)"; note != want {
			t.Fatalf("Quote(%q) ends %q, want %q", s, note, want)
		}
	})
}

func FuzzMarkers(f *testing.F) {
	f.Add(true, "123", "Jane Doe", "hello", 0, 0)
	f.Add(false, "42", "Bob", "x\ny", 2, 3)
	f.Add(false, "7", "Ann ] Lee\nx", "", 1, 1)
	f.Add(true, "0684M00000P3h1fQAB", "", "[Google Comment 1 by A]", 0, 0)
	f.Add(false, "a:b.c_d-e", strings.Repeat("ü", 200), "\n\n", 10, 12)
	f.Add(true, "1", "\xff\xfe", "body", 0, 0)
	f.Fuzz(func(t *testing.T, google bool, id, author, body string, part, parts int) {
		from := SideCompany
		if google {
			from = SideGoogle
		}
		name := oneLine(author)
		if name == "" || strings.ContainsAny(name, "\n\r]") || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxAuthorLen {
			t.Fatalf("oneLine(%q) = %q: want a non-empty valid line of at most %d characters without ']'", author, name, maxAuthorLen)
		}
		// Whatever a comment holds, reading it never fails, and a marker
		// read is of a known kind.
		if mk, ok := parseMarker(body); ok && mk.Kind != "Comment" && mk.Kind != "Attachment" {
			t.Fatalf("parseMarker(%q) gave the kind %q", body, mk.Kind)
		}
		connectorText(body)
		if !ValidID(id) {
			return
		}
		h := commentHeader(from, id, author)
		want := marker{From: from, Kind: "Comment", ID: id}
		if part > 0 && parts >= part && parts < 1000 {
			h += " (part " + strconv.Itoa(part) + "/" + strconv.Itoa(parts) + ")"
			want.Part, want.Parts = part, parts
		}
		for _, text := range []string{h, h + "\n" + body} {
			got, ok := parseMarker(text)
			if !ok || got != want {
				t.Fatalf("parseMarker(%q) = %+v (ok %v), want %+v", text, got, ok, want)
			}
			if own, _ := connectorText(text); !own {
				t.Fatalf("connectorText(%q) does not know its own comment", text)
			}
		}
		a, ok := parseMarker(attachmentHeader(from, id, author) + "\n" + body)
		if !ok || a != (marker{From: from, Kind: "Attachment", ID: id}) {
			t.Fatalf("the attachment header for %q reads back as %+v (ok %v)", id, a, ok)
		}
	})
}

func FuzzSplitComment(f *testing.F) {
	f.Add("hello world", 4)
	f.Add(strings.Repeat("word ", 50), 12)
	f.Add("a\nb\nc\nd", 2)
	f.Add(strings.Repeat("é", 30), 7)
	f.Add("\xff\xfe\xfd", 1)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		if limit < 1 || limit > 1<<16 {
			return
		}
		parts := splitComment(text, limit)
		if len(parts) == 0 {
			t.Fatalf("splitComment(%q, %d) gave no parts", text, limit)
		}
		var all strings.Builder
		for _, p := range parts {
			if n := utf8.RuneCountInString(p); n > limit {
				t.Fatalf("splitComment(%q, %d) gave a part of %d characters", text, limit, n)
			}
			all.WriteString(p)
		}
		want := text
		if len([]rune(text)) > limit {
			want = string([]rune(text)) // split text is text again, invalid bytes as U+FFFD
		}
		if all.String() != want {
			t.Fatalf("splitComment(%q, %d) parts join to %q", text, limit, all.String())
		}
	})
}

func FuzzParsePriorityTable(f *testing.F) {
	for _, s := range []string{
		"critical=P0,urgent=P1,high=P2,normal=P3,low=P4",
		"High=P0,High=P1,Normal=P2,Low=P3,Low=P4",
		" 1 - Critical = p0 , 2 - High=P1,3 - Moderate=P2,4 - Low=P3,5 - Planning=P4,,",
		"a=P0,A=P1,b=P2,c=P3,d=P4",
		"k=P2,k=P1,m=P1,m=P0,n=P3,o=P4",
		"x=P5", "=P0", "x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		table, err := ParsePriorityTable(s)
		if err != nil {
			// The error quotes the bad entry (the table is configuration,
			// not outside input), escaped: it grows at most linearly.
			if msg := err.Error(); len(msg) > 8*len(s)+200 || !utf8.ValidString(msg) {
				t.Fatalf("the error for a %d-byte table is %d bytes long (valid UTF-8: %v)", len(s), len(msg), utf8.ValidString(msg))
			}
			return
		}
		for p := P0; p <= P4; p++ {
			v, ok := table.Company(p)
			if !ok || v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, ",=") {
				t.Fatalf("table %q writes %q (ok %v) for %s", s, v, ok, p)
			}
			b := table.Bucket(p)
			if got, ok := table.Google(v); !ok || got != b {
				t.Fatalf("table %q: %s is written as %q, which reads as %s (ok %v), but its bucket is %s", s, p, v, got, ok, b)
			}
		}
		// Every CRM value reads as a priority that is written back as a
		// value reading the same: a value a person chose is never replaced
		// by one of another priority.
		for k, q := range table.ToGoogle {
			if b := table.Bucket(q); b != q {
				v, _ := table.Company(q)
				t.Fatalf("table %q: %q reads as %s, which is written as %q, which reads as %s", s, k, q, v, b)
			}
			if k != strings.ToLower(k) {
				t.Fatalf("table %q keeps the CRM value %q not lower-cased", s, k)
			}
		}
	})
}
