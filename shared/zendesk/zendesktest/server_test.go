package zendesktest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
	"github.com/google/go-cmp/cmp"
)

// call makes a raw request and returns the status, the Retry-After header
// and the decoded JSON body.
func call(t *testing.T, s *zendesktest.Server, method, path, auth string, body []byte) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header.Get("Retry-After"), out
}

func basic(o zendesktest.Options) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(o.Email+"/token:"+o.APIToken))
}

func TestTheSimulatorAnswersAsZendeskDocuments(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{MaxAttachmentBytes: 10, ExportExclusion: time.Minute})
	auth := basic(s.Options())
	open := s.CreateTicket(zendesktest.Ticket{Subject: "open", Description: "d"})
	closed := s.CreateTicket(zendesktest.Ticket{Subject: "closed", Description: "d"})
	if err := s.SetHumanStatus(closed, "closed"); err != nil {
		t.Fatal(err)
	}
	unassigned := s.CreateTicket(zendesktest.Ticket{Subject: "unassigned", Description: "d"})
	toAssign := s.CreateTicket(zendesktest.Ticket{Subject: "to assign", Description: "d"})
	tests := []struct {
		name       string
		method     string
		path, auth string
		body       string
		wantStatus int
		wantError  any // the body's "error", nil when none
	}{
		{name: "wrong credentials answer 401", method: "GET", path: "/api/v2/tickets/" + open + ".json", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("x/token:y")),
			wantStatus: 401, wantError: "Couldn't authenticate you"},
		{name: "no credentials on who-am-I answer the anonymous user", method: "GET", path: "/api/v2/users/me.json", wantStatus: 200},
		{name: "an unknown ticket is RecordNotFound", method: "GET", path: "/api/v2/tickets/987654321.json", auth: auth, wantStatus: 404, wantError: "RecordNotFound"},
		{name: "a comment on a closed ticket is RecordInvalid", method: "PUT", path: "/api/v2/tickets/" + closed + ".json", auth: auth,
			body: `{"ticket":{"comment":{"body":"late"}}}`, wantStatus: 422, wantError: "RecordInvalid"},
		{name: "the priority of a closed ticket may change", method: "PUT", path: "/api/v2/tickets/" + closed + ".json", auth: auth,
			body: `{"ticket":{"priority":"high"}}`, wantStatus: 200},
		{name: "an unknown priority is RecordInvalid", method: "PUT", path: "/api/v2/tickets/" + open + ".json", auth: auth,
			body: `{"ticket":{"priority":"critical"}}`, wantStatus: 422, wantError: "RecordInvalid"},
		{name: "a blank comment is RecordInvalid", method: "PUT", path: "/api/v2/tickets/" + open + ".json", auth: auth,
			body: `{"ticket":{"comment":{"body":"  "}}}`, wantStatus: 422, wantError: "RecordInvalid"},
		{name: "an upload over the limit answers 413", method: "POST", path: "/api/v2/uploads.json?filename=a.bin", auth: auth,
			body: "01234567890", wantStatus: 413, wantError: "FileTooLarge"},
		{name: "an export start_time inside the exclusion window answers 400", method: "GET",
			path: "/api/v2/incremental/tickets/cursor.json?start_time=" + itoa(time.Now().Unix()), auth: auth, wantStatus: 400, wantError: "InvalidValue"},
		{name: "comment pages hold at most 100", method: "GET", path: "/api/v2/tickets/" + open + "/comments.json?page[size]=101", auth: auth,
			wantStatus: 400, wantError: "InvalidPaginationParameter"},
		{name: "solving a ticket without an assignee is RecordInvalid", method: "PUT", path: "/api/v2/tickets/" + unassigned + ".json", auth: auth,
			body: `{"ticket":{"status":"solved"}}`, wantStatus: 422, wantError: "RecordInvalid"},
		{name: "solving a ticket with an assignee sent in the same update is accepted", method: "PUT", path: "/api/v2/tickets/" + toAssign + ".json", auth: auth,
			body: `{"ticket":{"status":"solved","assignee_id":` + itoa(s.SyncUserID()) + `}}`, wantStatus: 200},
		{name: "search pages past 1000 results answer 422", method: "GET", path: "/api/v2/search.json?query=type:ticket&page=11", auth: auth,
			wantStatus: 422, wantError: "InsufficientResourceError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			status, _, out := call(t, s, tc.method, tc.path, tc.auth, body)
			if diff := cmp.Diff([]any{tc.wantStatus, tc.wantError}, []any{status, out["error"]}); diff != "" {
				t.Errorf("[status, error] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInjectedFaultsAndTheMinuteLimit(t *testing.T) {
	t.Run("an injected 429 answers once with Retry-After", func(t *testing.T) {
		s := zendesktest.NewServer(t, zendesktest.Options{})
		s.InjectRateLimit(3 * time.Second)
		st1, ra, _ := call(t, s, "GET", "/api/v2/users/me.json", basic(s.Options()), nil)
		st2, _, _ := call(t, s, "GET", "/api/v2/users/me.json", basic(s.Options()), nil)
		if diff := cmp.Diff([]any{429, "3", 200}, []any{st1, ra, st2}); diff != "" {
			t.Errorf("[first, Retry-After, second] (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"GET /api/v2/users/me": 2}, s.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("requests past the minute's limit answer 429 until the minute ends", func(t *testing.T) {
		s := zendesktest.NewServer(t, zendesktest.Options{RequestsPerMinute: 2})
		var got []int
		for range 3 {
			st, _, _ := call(t, s, "GET", "/api/v2/users/me.json", basic(s.Options()), nil)
			got = append(got, st)
		}
		if diff := cmp.Diff([]int{200, 200, 429}, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
	t.Run("a down simulator answers 503", func(t *testing.T) {
		s := zendesktest.NewServer(t, zendesktest.Options{})
		s.SetDown(true)
		st, _, _ := call(t, s, "GET", "/api/v2/users/me.json", basic(s.Options()), nil)
		if st != 503 {
			t.Errorf("status %d, want 503", st)
		}
	})
}

func TestHumanActionsMoveTheUpdateTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	s := zendesktest.New(zendesktest.Options{Clock: func() time.Time { return now }})
	id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", Priority: "low"})
	steps := []struct {
		name     string
		act      func() error
		wantBump bool
	}{
		{"a human comment moves it", func() error { _, err := s.AddHumanComment(id, "Bob", "hi", true); return err }, true},
		{"a human attachment moves it", func() error { _, err := s.AddHumanAttachment(id, "Bob", "a.txt", "", []byte("x")); return err }, true},
		{"a new priority moves it", func() error { return s.SetHumanPriority(id, "high") }, true},
		{"the same priority does not", func() error { return s.SetHumanPriority(id, "high") }, false},
		{"solving moves it", func() error { return s.SetHumanStatus(id, "solved") }, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before, _ := s.TicketState(id)
			now = now.Add(time.Second)
			if err := st.act(); err != nil {
				t.Fatal(err)
			}
			after, _ := s.TicketState(id)
			if bumped := after.UpdatedAt.After(before.UpdatedAt); bumped != st.wantBump {
				t.Errorf("update time moved = %v, want %v", bumped, st.wantBump)
			}
		})
	}
	v, _ := s.TicketState(id)
	var authors []string
	for _, c := range v.Comments {
		authors = append(authors, c.Author)
	}
	if diff := cmp.Diff([]string{"Requester", "Bob", "Bob"}, authors); diff != "" {
		t.Errorf("comment authors, the description first (-want +got):\n%s", diff)
	}
	if !strings.Contains(v.Comments[2].Attachments[0].FileName, "a.txt") || v.Description != "d" {
		t.Errorf("ticket = %+v", v)
	}
}

func TestSolvingAnUnassignedTicket(t *testing.T) {
	tests := []struct {
		name       string
		autoAssign bool
		wantStatus int
		wantBody   string // the error body; "" when accepted
		wantState  []string
	}{
		{name: "without auto-assign on solve it is refused as Zendesk refuses it", wantStatus: 422,
			wantBody:  `{"error":"RecordInvalid","description":"Record validation errors","details":{"base":[{"description":"Assignee: is required when solving a ticket","error":null,"ticket_field_id":360000000003,"ticket_field_type":"FieldAssignee"}]}}`,
			wantState: []string{"new", ""}},
		{name: "with auto-assign on solve the solver becomes the assignee", autoAssign: true, wantStatus: 200,
			wantState: []string{"solved", "casebridge sync"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := zendesktest.NewServer(t, zendesktest.Options{AutoAssignOnSolve: tc.autoAssign})
			id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			req, _ := http.NewRequest("PUT", s.URL+"/api/v2/tickets/"+id+".json", strings.NewReader(`{"ticket":{"status":"solved"}}`))
			req.Header.Set("Authorization", basic(s.Options()))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := ""
			if resp.StatusCode != 200 {
				body = strings.TrimSpace(string(raw))
			}
			v, _ := s.TicketState(id)
			if diff := cmp.Diff([]any{tc.wantStatus, tc.wantBody, tc.wantState}, []any{resp.StatusCode, body, []string{v.Status, v.Assignee}}); diff != "" {
				t.Errorf("[status, body, [ticket status, assignee]] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAttachmentURLs(t *testing.T) {
	tests := []struct {
		name       string
		mappedHost string
		wantMapped func(s *zendesktest.Server) string // the mapped_content_url's scheme and host
	}{
		{name: "without host mapping mapped_content_url is content_url",
			wantMapped: func(s *zendesktest.Server) string { return s.URL }},
		{name: "with host mapping mapped_content_url is on the mapped host",
			mappedHost: "support.acme.test", wantMapped: func(*zendesktest.Server) string { return "http://support.acme.test" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := zendesktest.NewServer(t, zendesktest.Options{MappedHost: tc.mappedHost})
			id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			if _, err := s.AddHumanAttachment(id, "Bob", "a.txt", "text/plain", []byte("x")); err != nil {
				t.Fatal(err)
			}
			// Asked through the mapped host, content_url stays on the
			// account's Zendesk address.
			req, _ := http.NewRequest("GET", "http://support.acme.test/api/v2/tickets/"+id+"/comments.json", nil)
			req.Header.Set("Authorization", basic(s.Options()))
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Comments []struct {
					Attachments []struct {
						ContentURL       string `json:"content_url"`
						MappedContentURL string `json:"mapped_content_url"`
					} `json:"attachments"`
				} `json:"comments"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Comments) != 2 || len(out.Comments[1].Attachments) != 1 {
				t.Fatalf("comments = %+v, %v", out, err)
			}
			a := out.Comments[1].Attachments[0]
			got := []bool{strings.HasPrefix(a.ContentURL, s.URL+"/attachments/token/"), strings.HasPrefix(a.MappedContentURL, tc.wantMapped(s)+"/attachments/token/")}
			if diff := cmp.Diff([]bool{true, true}, got); diff != "" {
				t.Errorf("[content_url on the Zendesk address, mapped_content_url on %s] (-want +got):\n%s\n%+v", tc.wantMapped(s), diff, a)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestVisibilityOfDescriptionsAndFiles(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	auth := basic(s.Options())
	public := s.CreateTicket(zendesktest.Ticket{Subject: "public", Description: "for everyone"})
	private := s.CreateTicket(zendesktest.Ticket{Subject: "private", Description: "agents only", Private: true})
	madePrivate := s.CreateTicket(zendesktest.Ticket{Subject: "made private", Description: "said in public once"})
	v, _ := s.TicketState(madePrivate)
	if err := s.MakeCommentPrivate(madePrivate, v.Comments[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddHumanAttachment(public, "Bob", "reply.txt", "", []byte("r")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddHumanInternalAttachment(public, "Bob", "note.txt", "", []byte("n")); err != nil {
		t.Fatal(err)
	}

	type ticketView struct {
		Description string
		IsPublic    bool
	}
	var got []ticketView
	for _, id := range []string{public, private, madePrivate} {
		_, _, body := call(t, s, "GET", "/api/v2/tickets/"+id+".json", auth, nil)
		tk, _ := body["ticket"].(map[string]any)
		d, _ := tk["description"].(string)
		p, _ := tk["is_public"].(bool)
		got = append(got, ticketView{d, p})
	}
	// The description is the first comment's text whatever its visibility;
	// is_public says whether any comment is public.
	want := []ticketView{{"for everyone", true}, {"agents only", false}, {"said in public once", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tickets (-want +got):\n%s", diff)
	}

	_, _, body := call(t, s, "GET", "/api/v2/tickets/"+public+"/comments.json", auth, nil)
	files := map[string]bool{}
	comments, _ := body["comments"].([]any)
	for _, c := range comments {
		cm, _ := c.(map[string]any)
		atts, _ := cm["attachments"].([]any)
		for _, a := range atts {
			am, _ := a.(map[string]any)
			name, _ := am["file_name"].(string)
			files[name], _ = cm["public"].(bool)
		}
	}
	if diff := cmp.Diff(map[string]bool{"reply.txt": true, "note.txt": false}, files); diff != "" {
		t.Errorf("whether each file's comment is public (-want +got):\n%s", diff)
	}
}
