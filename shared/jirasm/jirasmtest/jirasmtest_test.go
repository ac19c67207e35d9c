package jirasmtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/google/go-cmp/cmp"
)

// call makes one request as the sync user (or with a wrong token) and
// returns the status and body.
func call(t *testing.T, sim *jirasmtest.Server, method, path, body string, header http.Header, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, sim.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.SetBasicAuth(sim.Email(), token)
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheSimulatorAnswersLikeJira(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
	jql := func(q string) string { return "/rest/api/3/search/jql?jql=" + url.QueryEscape(q) }
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		token                    string
		wantStatus               int
		wantIn                   string
	}{
		{name: "a wrong token gets the plain-text 401", method: "GET", path: "/rest/api/3/myself", token: "nope",
			wantStatus: 401, wantIn: "Client must be authenticated"},
		{name: "who am I gives the account id and time zone", method: "GET", path: "/rest/api/3/myself",
			wantStatus: 200, wantIn: `"accountId":"sync-account-id"`},
		{name: "a search without fields gives ids only", method: "GET", path: jql("project = SUP"),
			wantStatus: 200, wantIn: `"issues":[{"id":"10001"}]`},
		{name: "a JQL date in a bad format is a 400", method: "GET", path: jql(`updated >= "yesterday"`),
			wantStatus: 400, wantIn: "Date value 'yesterday'"},
		{name: "an unknown field is a 400", method: "GET", path: jql(`cf[99] is EMPTY`),
			wantStatus: 400, wantIn: "Field 'customfield_99' does not exist"},
		{name: "equality on the text field is a 400", method: "GET", path: jql(`cf[10050] = "x"`),
			wantStatus: 400, wantIn: "The operator '=' is not supported"},
		{name: "an upload without the XSRF header is refused", method: "POST", path: "/rest/api/3/issue/" + key + "/attachments",
			wantStatus: 403, wantIn: "XSRF check failed"},
		{name: "a plain-text description is refused: it must be ADF", method: "POST", path: "/rest/api/3/issue",
			body:       `{"fields":{"project":{"key":"SUP"},"issuetype":{"name":"Task"},"summary":"s","description":"plain"}}`,
			wantStatus: 400, wantIn: `"description":"Operation value must be an Atlassian Document`},
		{name: "an unknown issue is a 404 with Jira's body", method: "GET", path: "/rest/api/3/issue/987654321",
			wantStatus: 404, wantIn: `"errorMessages":["Issue does not exist or you do not have permission to see it."]`},
		{name: "comments of an unknown issue are a 404 with Jira's body", method: "GET", path: "/rest/api/3/issue/SUP-999/comment",
			wantStatus: 404, wantIn: `"errorMessages":["Issue does not exist or you do not have permission to see it."]`},
		{name: "a plain-text comment body is refused: it must be ADF", method: "POST", path: "/rest/api/3/issue/" + key + "/comment",
			body: `{"body":"plain"}`, wantStatus: 400, wantIn: `"comment":"Operation value must be an Atlassian Document`},
		{name: "an empty comment document is refused", method: "POST", path: "/rest/api/3/issue/" + key + "/comment",
			body: `{"body":{"type":"doc","version":1,"content":[]}}`, wantStatus: 400, wantIn: `"comment":"Comment body can not be empty!"`},
		{name: "a comment with the internal property is stored and answered with its id", method: "POST", path: "/rest/api/3/issue/" + key + "/comment",
			body:       `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"note"}]}]},"properties":[{"key":"sd.public.comment","value":{"internal":true}}]}`,
			wantStatus: 201, wantIn: `"jsdPublic":false`},
		{name: "comment properties come back only when expanded", method: "GET", path: "/rest/api/3/issue/" + key + "/comment?expand=properties",
			wantStatus: 200, wantIn: `"properties":[{"key":"sd.public.comment","value":{"internal":true}}]`},
		{name: "comments page with startAt, maxResults and total", method: "GET", path: "/rest/api/3/issue/" + key + "/comment?startAt=1&maxResults=1",
			wantStatus: 200, wantIn: `"comments":[],"maxResults":1,"startAt":1,"total":1`},
		{name: "an unknown comment order is a 400", method: "GET", path: "/rest/api/3/issue/" + key + "/comment?orderBy=author",
			wantStatus: 400, wantIn: "Invalid orderBy value"},
		{name: "the service desk comment API is not served", method: "GET", path: "/rest/servicedeskapi/request/" + key + "/comment",
			wantStatus: 404, wantIn: "No API endpoint matches"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = sim.APIToken()
			}
			status, body := call(t, sim, tc.method, tc.path, tc.body, tc.header, token)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantIn) {
				t.Errorf("answer %d %s; want %d containing %s", status, body, tc.wantStatus, tc.wantIn)
			}
		})
	}
}

func TestSearchPagesByToken(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	var want []string
	for range 5 {
		want = append(want, sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true}))
	}
	var got []string
	token := ""
	for pages := 0; pages < 10; pages++ {
		body, _ := json.Marshal(map[string]any{"jql": `project = SUP AND cf[10051] = "Yes" ORDER BY updated ASC`, "fields": []string{"summary"}, "maxResults": 2, "nextPageToken": token})
		status, answer := call(t, sim, "POST", "/rest/api/3/search/jql", string(body), http.Header{"Content-Type": {"application/json"}}, sim.APIToken())
		if status != 200 {
			t.Fatalf("search answered %d %s", status, answer)
		}
		var page struct {
			Issues        []struct{ Key string }
			NextPageToken string
			IsLast        bool
		}
		json.Unmarshal([]byte(answer), &page)
		for _, is := range page.Issues {
			got = append(got, is.Key)
		}
		if page.IsLast {
			break
		}
		token = page.NextPageToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys over every page (-want +got):\n%s", diff)
	}
}

// clock is a time the test moves on.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestSearchLagsBehindWrites(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	sim := jirasmtest.NewServer(t, jirasmtest.Options{SearchLag: time.Minute, Clock: clk.Now})
	search := func(t *testing.T, jql string) []string {
		t.Helper()
		status, answer := call(t, sim, "GET", "/rest/api/3/search/jql?fields=summary&jql="+url.QueryEscape(jql), "", nil, sim.APIToken())
		if status != 200 {
			t.Fatalf("search answered %d %s", status, answer)
		}
		var page struct{ Issues []struct{ Key string } }
		json.Unmarshal([]byte(answer), &page)
		keys := []string{}
		for _, is := range page.Issues {
			keys = append(keys, is.Key)
		}
		return keys
	}
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", GoogleCase: "projects/p/cases/1"})
	linked := `cf[10050] ~ "\"projects/p/cases/1\""`
	steps := []struct {
		name    string
		act     func()
		jql     string
		want    []string
		wantKey bool
	}{
		{name: "a new issue is missing from search at once", jql: linked, want: []string{}},
		{name: "but a read by key sees it", wantKey: true},
		{name: "a minute later search finds it", act: func() { clk.Advance(time.Minute) }, jql: linked, want: []string{key}},
		{name: "a change is not seen by search at once: the old version still matches", act: func() {
			status, answer := call(t, sim, "PUT", "/rest/api/3/issue/"+key, `{"fields":{"customfield_10050":"projects/p/cases/2"}}`,
				http.Header{"Content-Type": {"application/json"}}, sim.APIToken())
			if status != 204 {
				t.Fatalf("edit answered %d %s", status, answer)
			}
		}, jql: linked, want: []string{key}},
		{name: "once the lag has passed search sees the change", act: func() { clk.Advance(time.Minute) }, jql: linked, want: []string{}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.act != nil {
				st.act()
			}
			if st.wantKey {
				if status, _ := call(t, sim, "GET", "/rest/api/3/issue/"+key, "", nil, sim.APIToken()); status != 200 {
					t.Errorf("GET issue answered %d", status)
				}
				return
			}
			if diff := cmp.Diff(st.want, search(t, st.jql)); diff != "" {
				t.Errorf("search results (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAFileInACommentIsAnIssueAttachmentTheCommentNamesByMediaID(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	cid, aid, err := sim.AddHumanFileComment(key, jirasmtest.HumanComment{Author: "Bob Agent", Body: "see", Public: false},
		"trace.txt", "text/plain", []byte("trace"))
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := sim.Issue(key)
	if len(snap.Attachments) != 1 || snap.Attachments[0].ID != aid || snap.Attachments[0].MediaID == "" {
		t.Fatalf("attachments %+v; want the one file %s with a media id", snap.Attachments, aid)
	}
	mediaID := snap.Attachments[0].MediaID
	t.Run("the internal note holds a media node naming the file's media id", func(t *testing.T) {
		if len(snap.Comments) != 1 || snap.Comments[0].ID != cid || snap.Comments[0].Public {
			t.Fatalf("comments %+v; want the one internal note %s", snap.Comments, cid)
		}
		if body := string(snap.Comments[0].Body); !strings.Contains(body, `"type":"mediaGroup"`) || !strings.Contains(body, `"id":"`+mediaID+`"`) {
			t.Errorf("the note's document %s does not name media id %s", body, mediaID)
		}
	})
	t.Run("the content redirect names the media id, not the attachment id", func(t *testing.T) {
		req, err := http.NewRequest("GET", sim.URL+"/rest/api/3/attachment/content/"+aid, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(sim.Email(), sim.APIToken())
		client := *sim.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, sim.MediaURL+"/file/"+mediaID+"/binary?") {
			t.Errorf("answer %d to %q; want 303 to the media host's /file/%s/binary", resp.StatusCode, loc, mediaID)
		}
	})
}

func TestLabelsCustomFieldsAndStatusesAnswerLikeJira(t *testing.T) {
	fields := map[string]jirasmtest.CustomField{
		"customfield_10060": {Name: "Google case state", Type: jirasmtest.FieldText},
		"customfield_10062": {Name: "Escalation reason", Type: jirasmtest.FieldSelect, Options: []string{"Business impact"}},
		"customfield_10063": {Name: "Escalation justification", Type: jirasmtest.FieldParagraph},
	}
	sim := jirasmtest.NewServer(t, jirasmtest.Options{CustomFields: fields})
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	edit := "/rest/api/3/issue/" + key
	doc := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"why"}]}]}`
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantIn                   string
	}{
		{name: "labels are set through fields", method: "PUT", path: edit, body: `{"fields":{"labels":["a","b"]}}`, wantStatus: 204},
		{name: "a label with a space is refused", method: "PUT", path: edit, body: `{"fields":{"labels":["a b"]}}`,
			wantStatus: 400, wantIn: `"labels":"The label 'a b' contains spaces which is invalid."`},
		{name: "update adds and removes labels", method: "PUT", path: edit, body: `{"update":{"labels":[{"add":"c"},{"remove":"a"}]}}`, wantStatus: 204},
		{name: "the labels read back in order", method: "GET", path: edit + "?fields=labels", wantStatus: 200, wantIn: `"labels":["b","c"]`},
		{name: "removing an absent label is fine", method: "PUT", path: edit, body: `{"update":{"labels":[{"remove":"zzz"}]}}`, wantStatus: 204},
		{name: "a field in both fields and update is refused", method: "PUT", path: edit,
			body: `{"fields":{"labels":[]},"update":{"labels":[{"add":"x"}]}}`, wantStatus: 400, wantIn: `"labels":`},
		{name: "a text field takes a string", method: "PUT", path: edit, body: `{"fields":{"customfield_10060":"ACTION_REQUIRED"}}`, wantStatus: 204},
		{name: "a text field refuses more than 255 characters", method: "PUT", path: edit,
			body: `{"fields":{"customfield_10060":"` + strings.Repeat("x", 256) + `"}}`, wantStatus: 400, wantIn: "255 characters"},
		{name: "a select list takes one of its options", method: "PUT", path: edit, body: `{"fields":{"customfield_10062":{"value":"Business impact"}}}`, wantStatus: 204},
		{name: "a select list refuses another value", method: "PUT", path: edit, body: `{"fields":{"customfield_10062":{"value":"Urgent"}}}`,
			wantStatus: 400, wantIn: `"customfield_10062":`},
		{name: "a paragraph field refuses plain text in v3", method: "PUT", path: edit, body: `{"fields":{"customfield_10063":"why"}}`,
			wantStatus: 400, wantIn: "Atlassian Document"},
		{name: "a paragraph field takes a document", method: "PUT", path: edit, body: `{"fields":{"customfield_10063":` + doc + `}}`, wantStatus: 204},
		{name: "custom fields read back as the API gives them", method: "GET", path: edit + "?fields=customfield_10060,customfield_10062",
			wantStatus: 200, wantIn: `"customfield_10060":"ACTION_REQUIRED","customfield_10062":{"id":"10100","self":`},
		{name: "a field the site lacks is refused", method: "PUT", path: edit, body: `{"fields":{"customfield_10099":"x"}}`,
			wantStatus: 400, wantIn: "It is not on the appropriate screen, or unknown."},
		{name: "transitions name their target status and its category", method: "GET", path: edit + "/transitions",
			wantStatus: 200, wantIn: `"name":"Respond to customer","to":{"id":"10003","name":"Waiting for customer","statusCategory":{"id":4,"key":"indeterminate"`},
		{name: "an unknown issue's edit is a 404", method: "PUT", path: "/rest/api/3/issue/SUP-404", body: `{"update":{"labels":[{"remove":"x"}]}}`,
			wantStatus: 404},
	}
	for _, tc := range tests {
		status, body := call(t, sim, tc.method, tc.path, tc.body, http.Header{"Content-Type": {"application/json"}}, sim.APIToken())
		if status != tc.wantStatus || !strings.Contains(body, tc.wantIn) {
			t.Errorf("%s: %d %s; want %d with %s", tc.name, status, body, tc.wantStatus, tc.wantIn)
		}
	}
	is, _ := sim.Issue(key)
	if !cmp.Equal(is.Labels, []string{"b", "c"}) || string(is.Custom["customfield_10063"]) != doc {
		t.Errorf("labels %q, justification %s", is.Labels, is.Custom["customfield_10063"])
	}
}

func TestAnEditThatChangesNothingLeavesTheIssueAlone(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{CustomFields: map[string]jirasmtest.CustomField{
		"customfield_10060": {Name: "Google case state", Type: jirasmtest.FieldText}}})
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	for _, body := range []string{`{"fields":{"customfield_10060":"NEW"}}`, `{"update":{"labels":[{"add":"x"}]}}`} {
		if status, b := call(t, sim, "PUT", "/rest/api/3/issue/"+key, body, http.Header{"Content-Type": {"application/json"}}, sim.APIToken()); status != 204 {
			t.Fatalf("%s: %d %s", body, status, b)
		}
		before, _ := sim.Issue(key)
		time.Sleep(2 * time.Millisecond)
		if status, b := call(t, sim, "PUT", "/rest/api/3/issue/"+key, body, http.Header{"Content-Type": {"application/json"}}, sim.APIToken()); status != 204 {
			t.Fatalf("%s again: %d %s", body, status, b)
		}
		if after, _ := sim.Issue(key); !after.Updated.Equal(before.Updated) {
			t.Errorf("%s a second time moved the updated time", body)
		}
	}
}
