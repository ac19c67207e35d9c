package zendesktest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

func tagsOf(t *testing.T, body map[string]any) []string {
	t.Helper()
	raw, ok := body["tags"].([]any)
	if !ok {
		t.Fatalf("answer %v holds no tags", body)
	}
	out := []string{}
	for _, x := range raw {
		out = append(out, x.(string))
	}
	return out
}

// TestTagsAndSafeUpdatesAsZendeskDocuments: the tag endpoints set, add and
// remove tags, kept in lower case and split at spaces; a safe update with
// a stale updated_stamp is refused with 409; the tag endpoints do not
// change a closed ticket, whose tags a ticket update still changes.
func TestTagsAndSafeUpdatesAsZendeskDocuments(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	s := zendesktest.NewServer(t, zendesktest.Options{Clock: clk})
	auth := basic(s.Options())
	id := s.CreateTicket(zendesktest.Ticket{Subject: "tags", Description: "d"})
	path := "/api/v2/tickets/" + id + "/tags.json"
	steps := []struct {
		method, body string
		want         []string
	}{
		{"POST", `{"tags":["VIP","two words"]}`, []string{"vip", "two", "words"}},
		{"PUT", `{"tags":["vip","extra"]}`, []string{"vip", "two", "words", "extra"}},
		{"DELETE", `{"tags":["two","absent"]}`, []string{"vip", "words", "extra"}},
		{"GET", "", []string{"vip", "words", "extra"}},
	}
	for _, st := range steps {
		var body []byte
		if st.body != "" {
			body = []byte(st.body)
		}
		code, _, out := call(t, s, st.method, path, auth, body)
		if code != 200 || !slices.Equal(tagsOf(t, out), st.want) {
			t.Errorf("%s %s: %d %v, want 200 %v", st.method, st.body, code, out, st.want)
		}
	}
	stamp := now.Format(time.RFC3339)
	now = now.Add(time.Second)
	if err := s.AddHumanTags(id, "human"); err != nil {
		t.Fatal(err)
	}
	if code, _, out := call(t, s, "PUT", path, auth, []byte(`{"tags":["late"],"safe_update":true,"updated_stamp":"`+stamp+`"}`)); code != 409 || out["error"] != "UpdateConflict" {
		t.Errorf("a stale safe tag update answered %d %v, want 409 UpdateConflict", code, out)
	}
	if code, _, _ := call(t, s, "PUT", "/api/v2/tickets/"+id+".json", auth, []byte(`{"ticket":{"tags":["x"],"safe_update":"true","updated_stamp":"`+stamp+`"}}`)); code != 409 {
		t.Errorf("a stale safe ticket update answered %d, want 409", code)
	}
	fresh := now.Format(time.RFC3339)
	if code, _, _ := call(t, s, "PUT", "/api/v2/tickets/"+id+".json", auth, []byte(`{"ticket":{"tags":["x"],"safe_update":true,"updated_stamp":"`+fresh+`"}}`)); code != 200 {
		t.Errorf("a current safe ticket update answered %d, want 200", code)
	}
	if v, _ := s.TicketState(id); !slices.Equal(v.Tags, []string{"x"}) {
		t.Errorf("tags after the ticket update %v, want [x]", v.Tags)
	}

	if err := s.SetHumanStatus(id, "closed"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := call(t, s, "DELETE", path, auth, []byte(`{"tags":["x"]}`)); code != 422 {
		t.Errorf("removing a closed ticket's tag through the tag endpoint answered %d, want 422", code)
	}
	if code, _, _ := call(t, s, "PUT", "/api/v2/tickets/"+id+".json", auth, []byte(`{"ticket":{"tags":[]}}`)); code != 200 {
		t.Errorf("a closed ticket's tags through a ticket update answered %d, want 200", code)
	}
	if v, _ := s.TicketState(id); len(v.Tags) != 0 {
		t.Errorf("closed ticket tags %v, want none", v.Tags)
	}
}

// TestConfiguredCheckboxFieldsTakeOnlyBooleans: a checkbox field reads
// false when unset, takes a boolean, and refuses text.
func TestConfiguredCheckboxFieldsTakeOnlyBooleans(t *testing.T) {
	const box = 77
	s := zendesktest.NewServer(t, zendesktest.Options{Fields: []zendesktest.CustomField{{ID: box, Type: "checkbox"}}})
	auth := basic(s.Options())
	id := s.CreateTicket(zendesktest.Ticket{Subject: "box", Description: "d"})
	_, _, out := call(t, s, "GET", "/api/v2/tickets/"+id+".json", auth, nil)
	fields := out["ticket"].(map[string]any)["custom_fields"].([]any)
	found := false
	for _, f := range fields {
		m := f.(map[string]any)
		if m["id"] == float64(box) {
			found = m["value"] == false
		}
	}
	if !found {
		t.Errorf("custom_fields %v: want the checkbox listed as false", fields)
	}
	if code, _, _ := call(t, s, "PUT", "/api/v2/tickets/"+id+".json", auth, []byte(`{"ticket":{"custom_fields":[{"id":77,"value":"maybe"}]}}`)); code != 422 {
		t.Errorf("text in a checkbox answered %d, want 422", code)
	}
	if err := s.SetHumanFields(id, map[int64]any{box: true}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.TicketState(id); v.Fields[box] != true {
		t.Errorf("the box reads %v, want true", v.Fields[box])
	}
}
