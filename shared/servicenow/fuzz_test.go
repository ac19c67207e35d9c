package servicenow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// Fuzz targets for what the ServiceNow adapter reads and builds: journal
// display values, Link headers, Table API records and encoded queries. Each
// runs on its seeds in the ordinary test command; scripts/fuzz.sh runs them
// for a given time.

func FuzzParseJournal(f *testing.F) {
	f.Add("work_notes", "2026-01-02 10:00:01 - Abel Tuter (Work notes)\nsecond\n\n2026-01-02 10:00:00 - Beth Anglin (Work notes)\nfirst\n\n")
	f.Add("comments", "2026-01-02 10:00:00 - A (Additional comments)\nhi\n\n2026-01-02 10:00:00 - B (x)\nnot a header here\n\n")
	f.Add("comments", "text before\n2026-01-02 10:00:00 - A (Additional comments)\n")
	f.Add("work_notes", "2026-13-45 99:99:99 - A (Work notes)\nbad date\n\n")
	f.Add("comments", "")
	f.Fuzz(func(t *testing.T, element, text string) {
		if element != "comments" && element != "work_notes" {
			return
		}
		entries := parseJournal(element, text)
		ids := map[string]bool{}
		total := 0
		for i, e := range entries {
			if e.Element != element {
				t.Fatalf("an entry of %s reads as %s", element, e.Element)
			}
			if !casesync.ValidID(e.ID) || ids[e.ID] {
				t.Fatalf("entry %d has the id %q, which the engine refuses or another entry has", i, e.ID)
			}
			ids[e.ID] = true
			if e.Created.IsZero() || e.Author == "" || strings.Contains(e.Author, "\n") {
				t.Fatalf("entry %d has no time or author: %+v", i, e)
			}
			if i > 0 && e.Created.Before(entries[i-1].Created) {
				t.Fatalf("entries are not oldest first")
			}
			if !strings.Contains(text, e.Value) {
				t.Fatalf("entry %d holds text the journal does not", i)
			}
			total += len(e.Value)
		}
		if total > len(text) {
			t.Fatalf("entries hold %d bytes of a %d-byte journal", total, len(text))
		}
	})
}

// FuzzJournalRoundTrip writes two entries as the platform shows a journal
// (newest first) and reads them back.
func FuzzJournalRoundTrip(f *testing.F) {
	f.Add("Abel Tuter", "first", "Beth Anglin", "second\nline", int64(0), int64(5))
	f.Add("A", "x\n\nmore", "A", "", int64(10), int64(10))
	f.Add("Ann (admin)", "a", "B", "b", int64(1), int64(2))
	f.Fuzz(func(t *testing.T, author1, value1, author2, value2 string, at1, at2 int64) {
		if at1 < 0 || at2 < at1 || at2 > 1<<30 {
			return
		}
		for _, a := range []string{author1, author2} {
			if a == "" || strings.ContainsAny(a, "()\n") || a != strings.TrimSpace(a) || strings.HasPrefix(a, "- ") {
				return
			}
		}
		for _, v := range []string{value1, value2} {
			if journalHeader.MatchString(v) || strings.HasSuffix(v, "\n") {
				return // text that looks like a header is split, by design
			}
		}
		base := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
		t1, t2 := base.Add(time.Duration(at1)*time.Second), base.Add(time.Duration(at2)*time.Second)
		text := fmt.Sprintf("%s - %s (Work notes)\n%s\n\n%s - %s (Work notes)\n%s\n\n",
			formatTime(t2), author2, value2, formatTime(t1), author1, value1)
		got := parseJournal("work_notes", text)
		if len(got) != 2 {
			t.Fatalf("%q reads as %d entries, want 2", text, len(got))
		}
		want := []entry{{Value: value1, Author: author1, Created: t1}, {Value: value2, Author: author2, Created: t2}}
		for i := range want {
			if got[i].Value != want[i].Value || got[i].Author != want[i].Author || !got[i].Created.Equal(want[i].Created) {
				t.Fatalf("entry %d reads as %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

func FuzzNextOffset(f *testing.F) {
	for _, s := range []string{
		`<https://x.service-now.com/api/now/table/t?sysparm_offset=100&sysparm_limit=100>;rel="next",<https://x/api/now/table/t?sysparm_offset=0>;rel="first"`,
		`<https://x/t?sysparm_offset=-5>;rel="next"`,
		`<https://x/t?sysparm_offset=abc>; rel="next"`,
		`<https://x/t?sysparm_offset=0>;rel="last"`,
		`<%zz>;rel="next"`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		offset, more, ok := nextOffset(link)
		if !ok && !more {
			t.Fatalf("nextOffset(%q) says the link is unusable and that no page follows", link)
		}
		if offset < 0 || (!more && offset != 0) {
			t.Fatalf("nextOffset(%q) = %d, %v, %v", link, offset, more, ok)
		}
		if n := int(uint16(len(link))); ok {
			again := fmt.Sprintf(`<https://x/api/now/table/t?sysparm_offset=%d>;rel="next"`, n)
			if o, m, k := nextOffset(again); o != n || !m || !k {
				t.Fatalf("nextOffset(%q) = %d, %v, %v", again, o, m, k)
			}
		}
	})
}

func FuzzRecordAndQuery(f *testing.F) {
	f.Add([]byte(`{"sys_id":"46d44a5fdb1e2300ac7a2d3e1b961947","short_description":"s","priority":"2","state":"7","u_sync":"true","u_google_case":"projects/p/cases/1","sys_created_on":"2026-01-02 10:00:00","sys_updated_on":"2026-01-02 11:00:00"}`), "projects/p/cases/1")
	f.Add([]byte(`{"sys_id":{"value":"abc","link":"https://x"},"priority":2,"u_sync":1,"sys_updated_on":"garbage"}`), "a^ORu_sync=true")
	f.Add([]byte(`{"sys_id":null,"u_google_case":["x"]}`), "x,y\nz")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		var r record
		if json.Unmarshal(data, &r) == nil {
			c := &Client{cfg: Config{Table: "sn_customerservice_case", SyncFlagField: "u_sync", GoogleCaseField: "u_google_case", ClosedStates: []string{"3", "7"}}}
			cc := c.toCase(r, time.Time{})
			if !cc.UpdateTime.IsZero() && cc.UpdateTime.Location() != time.UTC {
				t.Fatalf("UpdateTime %v is not UTC", cc.UpdateTime)
			}
			_ = internalFile(r, "Ann", []entry{{Element: "work_notes", Value: cc.Subject, Author: "Ann"}})
		}
		// A Google case name goes into an encoded query only when it cannot
		// add a condition: the query keeps exactly its own two parts.
		if !validValue(name) {
			return
		}
		q := "u_google_case=" + name + "^ORDERBYsys_created_on"
		if parts := strings.Split(q, "^"); len(parts) != 2 || strings.ContainsAny(name, "\r\n,") {
			t.Fatalf("the query for %q has %d conditions: %q", name, len(parts), q)
		}
		if validID(name) && strings.ContainsAny(name, "/?#%. ") {
			t.Fatalf("validID accepts %q, which is not safe in a path", name)
		}
	})
}

func FuzzErrorDetail(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"No Record found","detail":"Record doesn't exist"},"status":"failure"}`))
	f.Add([]byte(`{"error":{"message":"Operation Failed","detail":"Data Policy Exception: short_description is mandatory"}}`))
	f.Add([]byte(`{"error":{"message":"` + strings.Repeat("é", 150) + `"}}`))
	f.Add([]byte(`{"error":"text"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := errorDetail(400, body)
		if len(d) > 200+len("…") {
			t.Fatalf("errorDetail kept %d bytes", len(d))
		}
		if strings.ContainsAny(d, "\n\r\t") {
			t.Fatalf("errorDetail(%q) = %q spans lines", body, d)
		}
	})
}
