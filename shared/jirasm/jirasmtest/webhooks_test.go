package jirasmtest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// request is a webhook request as the endpoint received it.
type request struct {
	Header http.Header
	Body   []byte
}

// endpoint is a webhook endpoint on a local port that records what it
// receives and answers status(n) to the n-th request (from 0).
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	status func(n int) int
	during func()
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{status: func(int) int { return http.StatusOK }}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.got)
		e.got = append(e.got, request{Header: r.Header.Clone(), Body: body})
		status, during := e.status(n), e.during
		e.mu.Unlock()
		if during != nil {
			during()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) requests() []request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]request(nil), e.got...)
}

// hubSignature computes the X-Hub-Signature Atlassian documents for admin
// webhooks with a secret, independently of the simulator.
func hubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// register creates an admin webhook through the REST API and returns its
// id.
func register(t *testing.T, sim *jirasmtest.Server, body string) string {
	t.Helper()
	st, out := call(t, sim, "POST", "/rest/webhooks/1.0/webhook", body, http.Header{"Content-Type": {"application/json"}}, sim.APIToken())
	var hook struct {
		Self string `json:"self"`
	}
	if st != http.StatusCreated || json.Unmarshal([]byte(out), &hook) != nil || hook.Self == "" {
		t.Fatalf("registering a webhook answered %d %s", st, out)
	}
	return hook.Self[strings.LastIndex(hook.Self, "/")+1:]
}

// payload is what a test reads of a webhook body.
type payload struct {
	Timestamp int64  `json:"timestamp"`
	Event     string `json:"webhookEvent"`
	TypeName  string `json:"issue_event_type_name"`
	Issue     struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"issue"`
	User *struct {
		AccountID string `json:"accountId"`
	} `json:"user"`
	Comment *struct {
		Author struct {
			AccountID   string `json:"accountId"`
			DisplayName string `json:"displayName"`
		} `json:"author"`
	} `json:"comment"`
	Changelog *struct {
		Items []struct {
			Field      string `json:"field"`
			FromString any    `json:"fromString"`
			ToString   any    `json:"toString"`
		} `json:"items"`
	} `json:"changelog"`
}

func TestIssueChangesAreSentSignedToTheRegisteredWebhook(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	ep := newEndpoint(t)
	const secret = "It's a Secret to Everybody"
	register(t, sim, `{"name":"casebridge","url":"`+ep.URL+`","events":["jira:issue_created","jira:issue_updated","comment_created"],`+
		`"filters":{"issue-related-events-section":"project = SUP"},"excludeBody":false,"secret":"`+secret+`"}`)

	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "printer on fire", Reporter: "Carol"})
	if _, err := sim.AddComment(key, "Alice", "we are on it", true); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetPriority(key, "Highest"); err != nil {
		t.Fatal(err)
	}
	if err := sim.Transition(key, jirasmtest.TransitionResolve); err != nil {
		t.Fatal(err)
	}
	sim.WaitWebhooks()

	type seen struct {
		Event, TypeName, Key, Changes string
	}
	var got []seen
	ids := map[string]bool{}
	for _, r := range ep.requests() {
		if sig, want := r.Header.Get("X-Hub-Signature"), hubSignature(secret, r.Body); sig != want {
			t.Errorf("X-Hub-Signature %q, want %q", sig, want)
		}
		ids[r.Header.Get("X-Atlassian-Webhook-Identifier")] = true
		var p payload
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		if d := time.Since(time.UnixMilli(p.Timestamp)).Abs(); d > time.Minute {
			t.Errorf("timestamp %d is %v from now", p.Timestamp, d)
		}
		is, _ := sim.Issue(key)
		if p.Issue.ID != is.ID {
			t.Errorf("issue id %q, want %q", p.Issue.ID, is.ID)
		}
		var changes []string
		if p.Changelog != nil {
			for _, it := range p.Changelog.Items {
				changes = append(changes, it.Field)
			}
		}
		got = append(got, seen{p.Event, p.TypeName, p.Issue.Key, strings.Join(changes, ",")})
	}
	want := []seen{
		{"jira:issue_created", "issue_created", key, ""},
		{"jira:issue_updated", "issue_commented", key, ""},
		{"comment_created", "", key, ""},
		{"jira:issue_updated", "issue_updated", key, "priority"},
		{"jira:issue_updated", "issue_generic", key, "status,resolution"},
	}
	less := func(a, b seen) bool { return a.Event+a.TypeName+a.Changes < b.Event+b.TypeName+b.Changes }
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("webhook requests (-want +got):\n%s", diff)
	}
	if len(ids) != len(want) || ids[""] {
		t.Errorf("identifiers %v: want one per request", ids)
	}
}

func TestTheCommentAuthorAndTheActorAreNamed(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	ep := newEndpoint(t)
	register(t, sim, `{"name":"c","url":"`+ep.URL+`","events":["comment_created"],"secret":"s"}`)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	if st, out := call(t, sim, "POST", "/rest/api/3/issue/"+key+"/comment",
		`{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"from Google"}]}]}}`,
		http.Header{"Content-Type": {"application/json"}}, sim.APIToken()); st != 201 {
		t.Fatalf("commenting as the sync user answered %d %s", st, out)
	}
	if _, err := sim.AddComment(key, "Alice", "from a human", false); err != nil {
		t.Fatal(err)
	}
	sim.WaitWebhooks()
	var authors []string
	for _, r := range ep.requests() {
		var p payload
		if err := json.Unmarshal(r.Body, &p); err != nil || p.Comment == nil {
			t.Fatalf("body %s: %v", r.Body, err)
		}
		authors = append(authors, p.Comment.Author.DisplayName+"="+strconv.FormatBool(p.Comment.Author.AccountID == sim.SyncAccountID()))
	}
	if diff := cmp.Diff([]string{"Alice=false", "casebridge sync=true"}, authors, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("comment authors (name=is the sync user) (-want +got):\n%s", diff)
	}
}

func TestWebhooksGetOnlyTheEventsAndIssuesTheyAskFor(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	created, other, flagged, bare := newEndpoint(t), newEndpoint(t), newEndpoint(t), newEndpoint(t)
	register(t, sim, `{"name":"created","url":"`+created.URL+`","events":["jira:issue_created"]}`)
	register(t, sim, `{"name":"other project","url":"`+other.URL+`","events":["jira:issue_created","jira:issue_updated"],"filters":{"issue-related-events-section":"project = OTHER"}}`)
	register(t, sim, `{"name":"flagged","url":"`+flagged.URL+`","events":["jira:issue_created"],"filters":{"issue-related-events-section":"project = SUP AND cf[10051] = Yes"}}`)
	register(t, sim, `{"name":"no body","url":"`+bare.URL+`","events":["jira:issue_created"],"excludeBody":true}`)

	sim.CreateIssue(jirasmtest.NewIssue{Summary: "not flagged"})
	sim.CreateIssue(jirasmtest.NewIssue{Summary: "flagged", SyncFlag: true})
	sim.WaitWebhooks()
	bodies := 0
	for _, r := range bare.requests() {
		bodies += len(r.Body)
		if r.Header.Get("X-Hub-Signature") != "" {
			t.Errorf("a webhook without a secret sent X-Hub-Signature %q", r.Header.Get("X-Hub-Signature"))
		}
	}
	got := []int{len(created.requests()), len(other.requests()), len(flagged.requests()), len(bare.requests()), bodies}
	if diff := cmp.Diff([]int{2, 0, 1, 2, 0}, got); diff != "" {
		t.Errorf("[created, other project, flagged only, without body, body bytes] (-want +got):\n%s", diff)
	}
}

func TestWebhookRequestsAreSentOutsideTheSimulatorsLock(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	ep := newEndpoint(t)
	register(t, sim, `{"name":"c","url":"`+ep.URL+`","events":["comment_created"]}`)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	read := make(chan bool, 1)
	ep.during = func() {
		_, ok := sim.Issue(key)
		read <- ok
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := sim.AddComment(key, "Alice", "hi", true); err != nil {
			t.Error(err)
		}
	}()
	select {
	case ok := <-read:
		if !ok {
			t.Error("the endpoint could not find the issue")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the endpoint could not read the simulator while a webhook was being delivered")
	}
	<-done
}

func TestWebhookRetriesKeepTheIdentifier(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		want     []string // X-Atlassian-Webhook-Retry of each request
	}{
		{"a 503 is retried until accepted", []int{503, 200}, []string{"", "1"}},
		{"a 429 is retried three times at most", []int{429}, []string{"", "1", "2", "3"}},
		{"a 400 is not retried", []int{400, 200}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := jirasmtest.NewServer(t, jirasmtest.Options{})
			ep := newEndpoint(t)
			ep.status = func(n int) int { return tc.statuses[min(n, len(tc.statuses)-1)] }
			register(t, sim, `{"name":"c","url":"`+ep.URL+`","events":["jira:issue_created"],"secret":"s"}`)
			sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
			sim.WaitWebhooks()
			var retries []string
			ids := map[string]bool{}
			for _, r := range ep.requests() {
				retries = append(retries, r.Header.Get("X-Atlassian-Webhook-Retry"))
				ids[r.Header.Get("X-Atlassian-Webhook-Identifier")] = true
			}
			if diff := cmp.Diff([]any{tc.want, 1}, []any{retries, len(ids)}); diff != "" {
				t.Errorf("[retry headers, identifiers] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheAdminWebhooksAPI(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	ep := newEndpoint(t)
	id := register(t, sim, `{"name":"casebridge","url":"`+ep.URL+`","events":["jira:issue_updated"],"secret":"hidden-secret"}`)
	hdr := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantIn                   string
	}{
		{name: "get answers the webhook", method: "GET", path: "/rest/webhooks/1.0/webhook/" + id, wantStatus: 200, wantIn: `"name":"casebridge"`},
		{name: "list answers an array", method: "GET", path: "/rest/webhooks/1.0/webhook", wantStatus: 200, wantIn: `[{"enabled":true`},
		{name: "an unknown webhook is a 404", method: "GET", path: "/rest/webhooks/1.0/webhook/999", wantStatus: 404},
		{name: "an unknown event is a 400", method: "POST", path: "/rest/webhooks/1.0/webhook",
			body: `{"name":"x","url":"http://example.test","events":["jira:everything"]}`, wantStatus: 400, wantIn: "Unknown event"},
		{name: "a URL that is not http is a 400", method: "POST", path: "/rest/webhooks/1.0/webhook",
			body: `{"name":"x","url":"file:///etc/passwd","events":["jira:issue_updated"]}`, wantStatus: 400, wantIn: `"url"`},
		{name: "an invalid JQL filter is a 400", method: "POST", path: "/rest/webhooks/1.0/webhook",
			body:       `{"name":"x","url":"http://example.test","events":["jira:issue_updated"],"filters":{"issue-related-events-section":"project = = SUP"}}`,
			wantStatus: 400, wantIn: `"filters"`},
		{name: "delete removes it", method: "DELETE", path: "/rest/webhooks/1.0/webhook/" + id, wantStatus: 204},
		{name: "it is gone after", method: "GET", path: "/rest/webhooks/1.0/webhook/" + id, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, out := call(t, sim, tc.method, tc.path, tc.body, hdr, sim.APIToken())
			if st != tc.wantStatus || !strings.Contains(out, tc.wantIn) || strings.Contains(out, "hidden-secret") {
				t.Errorf("%s %s answered %d %s; want %d containing %q and never the secret", tc.method, tc.path, st, out, tc.wantStatus, tc.wantIn)
			}
		})
	}
	t.Run("a deleted webhook is not sent", func(t *testing.T) {
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
		if err := sim.SetPriority(key, "High"); err != nil {
			t.Fatal(err)
		}
		sim.WaitWebhooks()
		if n := len(ep.requests()); n != 0 {
			t.Errorf("%d requests after the webhook was deleted", n)
		}
	})
	t.Run("the webhooks API needs credentials", func(t *testing.T) {
		if st, _ := call(t, sim, "GET", "/rest/webhooks/1.0/webhook", "", nil, "wrong"); st != 401 {
			t.Errorf("status %d, want 401", st)
		}
	})
}

// TestTheReceiversVerifierAcceptsWhatTheSimulatorSends runs the requests
// the simulator sends through casebridge's webhook verifier, as the
// CRMWebhook function does.
func TestTheReceiversVerifierAcceptsWhatTheSimulatorSends(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	ep := newEndpoint(t)
	const secret = "a secret of the site's admin"
	register(t, sim, `{"name":"casebridge","url":"`+ep.URL+`","events":["jira:issue_created","comment_created"],"secret":"`+secret+`"}`)
	v, err := webhook.New(webhook.KindJira, []byte(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", Reporter: "Carol"})
	if _, err := sim.AddComment(key, "Alice", "hi", true); err != nil {
		t.Fatal(err)
	}
	sim.WaitWebhooks()
	reqs := ep.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	var got []webhook.Event
	for _, r := range reqs {
		req := httptest.NewRequest("POST", "/", strings.NewReader(string(r.Body)))
		req.Header = r.Header
		ev, err := v.Verify(req)
		if err != nil {
			t.Fatalf("the verifier refused the simulator's request: %v", err)
		}
		if ev.EventID != r.Header.Get("X-Atlassian-Webhook-Identifier") || ev.Actor == "" || ev.Actor == sim.SyncAccountID() {
			t.Errorf("event %+v: want the request's identifier and the human as actor", ev)
		}
		ev.EventID, ev.Actor, ev.Size = "", "", 0
		got = append(got, ev)
	}
	want := []webhook.Event{
		{Kind: webhook.KindJira, CaseIDs: []string{key}, Type: "comment_created"},
		{Kind: webhook.KindJira, CaseIDs: []string{key}, Type: "jira:issue_created"},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b webhook.Event) bool { return a.Type < b.Type })); diff != "" {
		t.Errorf("verified events (-want +got):\n%s", diff)
	}
}
