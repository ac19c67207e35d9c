package servicenowtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEncodedQueries(t *testing.T) {
	columns := map[string]bool{"a": true, "b": true, "c": true, "d": true}
	rows := []map[string]string{
		{"a": "1", "b": "1", "c": "", "d": "2026-01-01 10:00:00"},
		{"a": "1", "b": "0", "c": "x", "d": "2026-01-01 10:00:01"},
		{"a": "0", "b": "1", "c": "x", "d": "2026-01-01 09:59:59"},
		{"a": "1", "b": "0", "c": "", "d": "2026-01-01 10:00:02"},
	}
	tests := []struct {
		name  string
		query string
		want  []int
	}{
		{name: "^OR binds tighter than ^", query: "a=1^b=1^ORcISNOTEMPTY", want: []int{0, 1}},
		{name: "^NQ adds a second query", query: "a=0^NQb=1^a=1", want: []int{0, 2}},
		{name: "date-times compare in time order", query: "d>=2026-01-01 10:00:01", want: []int{1, 3}},
		{name: "IN matches any listed value", query: "cINx,y", want: []int{1, 2}},
		{name: "a condition on an unknown column is dropped", query: "zz=1^a=0", want: []int{2}},
		{name: "ISEMPTY matches empty values", query: "cISEMPTY^a=1", want: []int{0, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := parseQuery(tc.query, columns)
			var got []int
			for i, r := range rows {
				if q.matches(r) {
					got = append(got, i)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows matching %q (-want +got):\n%s", tc.query, diff)
			}
		})
	}
}

func call(t *testing.T, s *Server, method, path string, body []byte, contentType string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.opts.User, s.opts.Password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestTheTableAPI(t *testing.T) {
	s := NewServer(t, Options{MaxAttachmentBytes: 10})
	for range 5 {
		s.CreateRecord("abel.tuter", map[string]string{"u_gcp_sync": "true"})
	}
	id := s.CreateRecord("abel.tuter", nil)

	t.Run("a page carries the total count and a next link", func(t *testing.T) {
		resp, out := call(t, s, "GET", "/api/now/table/incident?sysparm_limit=2&sysparm_offset=2&sysparm_query="+url.QueryEscape("u_gcp_sync=true"), nil, "")
		if got := resp.Header.Get("X-Total-Count"); got != "5" {
			t.Errorf("X-Total-Count = %q, want 5", got)
		}
		link := resp.Header.Get("Link")
		for _, rel := range []string{`rel="first"`, `rel="prev"`, `rel="next"`, `rel="last"`} {
			if !strings.Contains(link, rel) {
				t.Errorf("Link %q lacks %s", link, rel)
			}
		}
		if n := len(out["result"].([]any)); n != 2 {
			t.Errorf("page holds %d rows, want 2", n)
		}
	})
	t.Run("priority follows impact and urgency", func(t *testing.T) {
		_, out := call(t, s, "PATCH", "/api/now/table/incident/"+id, []byte(`{"impact":"1","urgency":"2","priority":"5"}`), "application/json")
		if got := out["result"].(map[string]any)["priority"]; got != "2" {
			t.Errorf("priority = %v, want 2", got)
		}
	})
	t.Run("resolving without close code and notes is refused and changes nothing", func(t *testing.T) {
		resp, out := call(t, s, "PATCH", "/api/now/table/incident/"+id, []byte(`{"state":"6"}`), "application/json")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(mustJSON(out), "Data Policy Exception") {
			t.Errorf("status %d body %v, want 403 with a data policy exception", resp.StatusCode, out)
		}
		if rec, _ := s.Record(id); rec["state"] != "1" {
			t.Errorf("state = %q after the refused write, want 1", rec["state"])
		}
	})
	t.Run("an unknown record answers the platform's 404 body", func(t *testing.T) {
		resp, out := call(t, s, "GET", "/api/now/table/incident/nope", nil, "")
		want := map[string]any{"error": map[string]any{"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"}
		if diff := cmp.Diff(want, out); resp.StatusCode != 404 || diff != "" {
			t.Errorf("status %d (-want +got):\n%s", resp.StatusCode, diff)
		}
	})
	t.Run("an upload over the size limit stores nothing", func(t *testing.T) {
		resp, _ := call(t, s, "POST", "/api/now/attachment/file?table_name=incident&table_sys_id="+id+"&file_name=a.bin", make([]byte, 11), "application/octet-stream")
		if resp.StatusCode != http.StatusBadRequest || len(s.Attachments(id)) != 0 {
			t.Errorf("status %d with %d attachments, want 400 and none", resp.StatusCode, len(s.Attachments(id)))
		}
	})
	t.Run("wrong credentials answer 401", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.URL+"/api/now/table/incident", nil)
		req.SetBasicAuth(s.opts.User, "wrong")
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
}

func TestAJournalClosedByAnACLStillReadsThroughTheRecord(t *testing.T) {
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	s := NewServer(t, Options{Clock: func() time.Time { return at }})
	s.AddUser("abel.tuter", "Abel Tuter")
	id := s.CreateRecord("abel.tuter", nil)
	entry, _ := s.AddJournal(id, "comments", "abel.tuter", "First.")
	at = at.Add(time.Second)
	s.AddJournal(id, "comments", "casebridge.sync", "Second.\n\nTwo paragraphs.")
	s.AddJournal(id, "work_notes", "abel.tuter", "Internal.")
	s.RestrictJournalReads(true)

	t.Run("listing sys_journal_field answers no rows, but counts them", func(t *testing.T) {
		resp, out := call(t, s, "GET", "/api/now/table/sys_journal_field?sysparm_query="+url.QueryEscape("element_id="+id), nil, "")
		if resp.StatusCode != http.StatusOK || len(out["result"].([]any)) != 0 || resp.Header.Get("X-Total-Count") != "3" {
			t.Errorf("status %d result %v X-Total-Count %q, want 200, no rows and 3", resp.StatusCode, out["result"], resp.Header.Get("X-Total-Count"))
		}
	})
	t.Run("reading one entry answers 404", func(t *testing.T) {
		resp, _ := call(t, s, "GET", "/api/now/table/sys_journal_field/"+entry, nil, "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("the record's journal fields read as display values, newest first", func(t *testing.T) {
		_, out := call(t, s, "GET", "/api/now/table/incident/"+id+"?sysparm_fields=comments,work_notes&sysparm_display_value=true", nil, "")
		want := map[string]any{
			"comments": "2026-01-02 10:00:01 - Casebridge Sync (Additional comments)\nSecond.\n\nTwo paragraphs.\n\n" +
				"2026-01-02 10:00:00 - Abel Tuter (Additional comments)\nFirst.\n\n",
			"work_notes": "2026-01-02 10:00:01 - Abel Tuter (Work notes)\nInternal.\n\n",
		}
		if diff := cmp.Diff(want, out["result"]); diff != "" {
			t.Errorf("journal display values (-want +got):\n%s", diff)
		}
	})
}

func TestReadACLsApplyAfterTheQuery(t *testing.T) {
	s := NewServer(t, Options{})
	s.AddUser("abel.tuter", "Abel Tuter")
	var ids []string
	for i := range 7 {
		ids = append(ids, s.CreateRecord("abel.tuter", map[string]string{"short_description": "case " + string(rune('a'+i)), "description": "secret"}))
	}
	// Cases b, c and d are hidden: with pages of 2, the second page
	// (c and d) comes back empty.
	hidden := map[string]bool{ids[1]: true, ids[2]: true, ids[3]: true}
	s.RestrictRowReads("incident", func(row map[string]string) bool { return hidden[row["sys_id"]] })
	s.RestrictFieldReads("incident", "description", true)

	type page struct {
		Rows  []string
		Total string
		Next  bool
	}
	var got []page
	for offset := 0; offset < 8; offset += 2 {
		q := url.Values{"sysparm_query": {"ORDERBYsys_created_on"}, "sysparm_fields": {"short_description,description"},
			"sysparm_limit": {"2"}, "sysparm_offset": {strconv.Itoa(offset)}}
		resp, out := call(t, s, "GET", "/api/now/table/incident?"+q.Encode(), nil, "")
		p := page{Rows: []string{}, Total: resp.Header.Get("X-Total-Count"), Next: strings.Contains(resp.Header.Get("Link"), `rel="next"`)}
		for _, r := range out["result"].([]any) {
			row := r.(map[string]any)
			if _, ok := row["description"]; ok {
				t.Errorf("row %v holds the field the user cannot read", row)
			}
			p.Rows = append(p.Rows, row["short_description"].(string))
		}
		got = append(got, p)
	}
	want := []page{
		{Rows: []string{"case a"}, Total: "7", Next: true},
		{Rows: []string{}, Total: "7", Next: true},
		{Rows: []string{"case e", "case f"}, Total: "7", Next: true},
		{Rows: []string{"case g"}, Total: "7", Next: false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	t.Run("a hidden row read alone answers 404", func(t *testing.T) {
		resp, _ := call(t, s, "GET", "/api/now/table/incident/"+ids[2], nil, "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("a field the user cannot read is left out of a row read alone, as a display value too", func(t *testing.T) {
		s.RestrictFieldReads("incident", "work_notes", true)
		defer s.RestrictFieldReads("incident", "work_notes", false)
		_, out := call(t, s, "GET", "/api/now/table/incident/"+ids[0]+"?sysparm_fields=short_description,description,work_notes&sysparm_display_value=true", nil, "")
		if diff := cmp.Diff(map[string]any{"short_description": "case a"}, out["result"]); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
	})
}

func TestOnHoldAndTheStateColumns(t *testing.T) {
	s := NewServer(t, Options{})
	id := s.CreateRecord("abel.tuter", map[string]string{"short_description": "s"})
	path := "/api/now/table/incident/" + id + "?sysparm_fields=state,hold_reason,u_escalate_to_google,u_google_case_state"
	patch := func(body string) (*http.Response, map[string]any) {
		return call(t, s, "PATCH", path, []byte(body), "application/json")
	}
	if resp, out := patch(`{"state":"3"}`); resp.StatusCode != 403 || !strings.Contains(mustJSON(out), "On hold reason") {
		t.Errorf("On Hold without a reason: %d %v; want 403 naming On hold reason", resp.StatusCode, out)
	}
	if r, _ := s.Record(id); r["state"] != "1" {
		t.Errorf("the refused write changed the state to %q", r["state"])
	}
	if resp, out := patch(`{"state":"3","hold_reason":"4","u_escalate_to_google":"1","u_google_case_state":"NEW"}`); resp.StatusCode != 200 ||
		mustJSON(out["result"]) != `{"hold_reason":"4","state":"3","u_escalate_to_google":"true","u_google_case_state":"NEW"}` {
		t.Errorf("On Hold with a reason: %d %v", resp.StatusCode, out)
	}
	bare := NewServer(t, Options{WithoutStateColumns: true})
	id = bare.CreateRecord("abel.tuter", map[string]string{"short_description": "s"})
	resp, out := call(t, bare, "PATCH", "/api/now/table/incident/"+id+"?sysparm_fields=sys_id,u_google_case_state", []byte(`{"u_google_case_state":"NEW"}`), "application/json")
	if res, _ := out["result"].(map[string]any); resp.StatusCode != 200 || len(res) != 1 || res["sys_id"] != id {
		t.Errorf("a write to a column the table lacks: %d %v; want 200 with the column left out", resp.StatusCode, out)
	}
}
