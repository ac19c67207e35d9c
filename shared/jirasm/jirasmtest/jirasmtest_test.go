package jirasmtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
		{name: "comments of an unknown issue are a 404 with the service desk's body", method: "GET", path: "/rest/servicedeskapi/request/SUP-999/comment",
			wantStatus: 404, wantIn: `"i18nKey":"sd.request.error.notfound"`},
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
