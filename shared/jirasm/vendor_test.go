package jirasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/google/go-cmp/cmp"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestRefusedCredentialsNameTheVariablesAndNeverTheToken(t *testing.T) {
	const wrongToken = "wrong-token-value-123"
	_, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.APIToken = wrongToken })
	tests := []struct {
		name string
		call func() error
	}{
		{"the startup check", func() error { return c.Check(ctx(t)) }},
		{"getting an issue", func() error { _, err := c.GetCase(ctx(t), "SUP-1"); return err }},
		{"searching", func() error { _, err := c.SearchUpdated(ctx(t), time.Now()); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name+" says which variables to check", func(t *testing.T) {
			err := tc.call()
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Transient {
				t.Fatalf("error = %v, want a permanent 401 APIError", err)
			}
			msg := err.Error()
			for _, v := range []string{jirasm.EnvEmail, jirasm.EnvAPIToken} {
				if !strings.Contains(msg, v) {
					t.Errorf("error %q does not name %s", msg, v)
				}
			}
			if strings.Contains(msg, wrongToken) {
				t.Errorf("error %q holds the token", msg)
			}
		})
	}
}

func TestTheRemovedSearchEndpointAnswers410(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method+" /rest/api/3/search is gone with Atlassian's message", func(t *testing.T) {
			req, _ := http.NewRequest(method, sim.URL+"/rest/api/3/search?jql=project%3DSUP", strings.NewReader(`{"jql":"project = SUP"}`))
			req.SetBasicAuth(sim.Email(), sim.APIToken())
			resp, err := sim.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct{ ErrorMessages []string }
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusGone || len(body.ErrorMessages) != 1 || !strings.Contains(body.ErrorMessages[0], "/rest/api/3/search/jql") {
				t.Errorf("answer %d %v; want 410 pointing at /rest/api/3/search/jql", resp.StatusCode, body.ErrorMessages)
			}
		})
	}
}

func TestSearchAndCommentsFollowEveryPage(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.PageSize = 3 })
	before := time.Now().Add(-time.Minute)
	var want []string
	for i := range 10 {
		want = append(want, sim.CreateIssue(jirasmtest.NewIssue{Summary: fmt.Sprintf("paged %d", i), SyncFlag: true}))
	}
	sim.CreateIssue(jirasmtest.NewIssue{Summary: "not flagged"})
	sim.ResetRequests()
	found, err := c.SearchUpdated(ctx(t), before)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cc := range found {
		got = append(got, cc.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("search results, oldest update first (-want +got):\n%s", diff)
	}
	key := want[0]
	var bodies []string
	for i := range 8 {
		b := fmt.Sprintf("comment %d", i)
		bodies = append(bodies, b)
		if _, err := sim.AddComment(key, "Alice Agent", b, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := c.ListComments(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	var gotBodies []string
	for _, cm := range cs {
		gotBodies = append(gotBodies, cm.Body)
	}
	if diff := cmp.Diff(bodies, gotBodies); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	wantRequests := map[string]int{
		"POST /rest/api/3/search/jql":                  4, // 10 issues, 3 a page
		"GET /rest/api/3/myself":                       1,
		"GET /rest/api/3/issue/{issueIdOrKey}/comment": 3, // 8 comments, 3 a page
	}
	if diff := cmp.Diff(wantRequests, sim.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestSearchReadsJQLDatesInTheSyncUsersTimeZone(t *testing.T) {
	// A clock the test sets: changes land at known instants.
	var now time.Time
	clock := func() time.Time { return now }
	for _, zone := range []string{"Australia/Sydney", "America/Los_Angeles", "UTC"} {
		t.Run("in "+zone+" a change seconds after since is found and one at since is not", func(t *testing.T) {
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatalf("loading %s: %v", zone, err)
			}
			sim, c := newSite(t, jirasmtest.Options{TimeZone: loc, Clock: clock}, nil)
			now = time.Date(2026, 3, 1, 10, 0, 30, 250e6, time.UTC)
			key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
			for _, tc := range []struct {
				since time.Time
				want  int
			}{
				{now.Add(-20 * time.Second), 1},
				{now.Add(-time.Millisecond), 1},
				{now, 0},
			} {
				found, err := c.SearchUpdated(ctx(t), tc.since)
				if err != nil {
					t.Fatal(err)
				}
				if len(found) != tc.want {
					t.Errorf("SearchUpdated(%v) found %d issues, want %d (issue %s updated %v)", tc.since, len(found), tc.want, key, now)
				}
			}
		})
	}
}

func TestARateLimitIsWaitedOutAsRetryAfterSays(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	sim.InjectFault(jirasmtest.Fault{Match: "GET /rest/api/3/issue/{issueIdOrKey}", Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	start := time.Now()
	if _, err := c.GetCase(ctx(t), key); err != nil {
		t.Fatalf("GetCase after a 429: %v", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("the retry came after %v, want Retry-After's 1s", waited)
	}
	if diff := cmp.Diff(map[string]int64{jirasm.OpGet: 2}, c.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestTheClientSideLimiterSpacesCalls(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.RatePerSecond = 20 })
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	start := time.Now()
	for range 30 {
		if _, err := c.GetCase(ctx(t), key); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 20 goes at once, the next ten at 20 a second.
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("30 calls at 20/s took %v, want at least 0.5s", took)
	}
}

func TestPriorities(t *testing.T) {
	table, err := casesync.ParsePriorityTable(jirasm.DefaultPriorityMap)
	if err != nil {
		t.Fatalf("DefaultPriorityMap: %v", err)
	}
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", Priority: "Low"})
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{name: "a value in another case is written as Jira spells it", value: "highest", want: "Highest"},
		{name: "every default priority reads back as itself", value: "Lowest", want: "Lowest"},
		{name: "an unknown value is refused before any call", value: "Urgent", want: "Lowest", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := c.Calls()[jirasm.OpEdit]
			err := c.SetPriority(ctx(t), key, tc.value)
			if (err != nil) != tc.wantErr || (tc.wantErr && !casesync.IsPermanent(err)) {
				t.Fatalf("SetPriority(%q) = %v, want error %v (permanent)", tc.value, err, tc.wantErr)
			}
			if tc.wantErr && c.Calls()[jirasm.OpEdit] != before {
				t.Errorf("a refused value still made a call")
			}
			got, err := c.GetCase(ctx(t), key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Priority != tc.want {
				t.Errorf("priority = %q, want %q", got.Priority, tc.want)
			}
		})
	}
	t.Run("every Google priority maps to a Jira default priority and back", func(t *testing.T) {
		for p := casesync.P0; p <= casesync.P4; p++ {
			v, _ := table.Company(p)
			back, ok := table.Google(v)
			if !ok || back != p {
				t.Errorf("%s → %q → %v (ok %v)", p, v, back, ok)
			}
		}
	})
}

func TestClosing(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*jirasm.Config)
		prepare    func(sim *jirasmtest.Server, key string)
		wantClosed bool
		wantStatus string
		wantErr    string
		wantPosts  int
	}{
		{name: "an open issue is resolved by the configured transition",
			wantClosed: true, wantStatus: jirasmtest.StatusResolved, wantPosts: 1},
		{name: "an issue in progress is resolved too",
			prepare:    func(sim *jirasmtest.Server, key string) { sim.Transition(key, jirasmtest.TransitionProgress) },
			wantClosed: true, wantStatus: jirasmtest.StatusResolved, wantPosts: 1},
		{name: "a resolved issue is left alone",
			prepare:    func(sim *jirasmtest.Server, key string) { sim.Transition(key, jirasmtest.TransitionResolve) },
			wantClosed: true, wantStatus: jirasmtest.StatusResolved},
		{name: "a transition name the workflow lacks is a permanent error naming the variable",
			edit:       func(cfg *jirasm.Config) { cfg.CloseTransition = "Close issue" },
			wantStatus: jirasmtest.StatusWaiting, wantErr: jirasm.EnvCloseTransition},
		{name: "a status listed as closed counts as closed without a call",
			// The site's state mapping names In Progress, which may not
			// count as closed: this site maps no state.
			edit:       func(cfg *jirasm.Config) { cfg.ClosedStatuses, cfg.StateStatuses = []string{"in progress"}, nil },
			prepare:    func(sim *jirasmtest.Server, key string) { sim.Transition(key, jirasmtest.TransitionProgress) },
			wantClosed: true, wantStatus: jirasmtest.StatusInProgress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := newSite(t, jirasmtest.Options{}, tc.edit)
			key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
			if tc.prepare != nil {
				tc.prepare(sim, key)
			}
			sim.ResetRequests()
			err := c.CloseCase(ctx(t), key)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("CloseCase: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !casesync.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CloseCase = %v, want a permanent error naming %s", err, tc.wantErr)
			}
			got, _ := c.GetCase(ctx(t), key)
			is, _ := sim.Issue(key)
			if got.Closed != tc.wantClosed || is.Status != tc.wantStatus {
				t.Errorf("closed %v, status %q; want %v, %q", got.Closed, is.Status, tc.wantClosed, tc.wantStatus)
			}
			if n := sim.Requests()["POST /rest/api/3/issue/{issueIdOrKey}/transitions"]; n != tc.wantPosts {
				t.Errorf("%d transitions posted, want %d", n, tc.wantPosts)
			}
		})
	}
}

func TestDescriptionsAreADFThatReadsBackAsWritten(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	tests := []struct{ name, text string }{
		{"one line", "Disk is slow."},
		{"lines and paragraphs", "First line\nsecond line\n\nA new paragraph.\n\n\nAfter two blank lines.\n"},
		{"non-ASCII and blank edges", "\nÜber — ünïcödé 日本語\n"},
		{"no description", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := c.CreateCase(ctx(t), casesync.NewCompanyCase{Subject: "s", Description: tc.text, GoogleCase: "projects/p/cases/1"})
			if err != nil {
				t.Fatal(err)
			}
			if cc.Description != tc.text {
				t.Errorf("description = %q, want %q", cc.Description, tc.text)
			}
			is, _ := sim.Issue(cc.ID)
			if tc.text != "" && !json.Valid(is.Description) {
				t.Errorf("stored description is not JSON: %s", is.Description)
			}
		})
	}
	t.Run("a human's rich description reads as text", func(t *testing.T) {
		adf := `{"type":"doc","version":1,"content":[
			{"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Steps"}]},
			{"type":"bulletList","content":[
				{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"boot"}]}]},
				{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"mention","attrs":{"id":"x","text":"@Bob"}}]}]}]},
			{"type":"codeBlock","content":[{"type":"text","text":"panic: oops\nexit 2"}]},
			{"type":"paragraph","content":[{"type":"text","text":"bold","marks":[{"type":"strong"}]},{"type":"hardBreak"},{"type":"inlineCard","attrs":{"url":"https://example.com"}}]}]}`
		key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "rich", DescriptionADF: json.RawMessage(adf)})
		got, err := c.GetCase(ctx(t), key)
		if err != nil {
			t.Fatal(err)
		}
		want := "Steps\n\n- boot\n- see @Bob\n\npanic: oops\nexit 2\n\nbold\nhttps://example.com"
		if diff := cmp.Diff(want, got.Description); diff != "" {
			t.Errorf("description (-want +got):\n%s", diff)
		}
	})
	t.Run("a long multi-line subject becomes a one-line summary of 255 characters", func(t *testing.T) {
		cc, err := c.CreateCase(ctx(t), casesync.NewCompanyCase{Subject: "line one\nline two " + strings.Repeat("x", 300), GoogleCase: "projects/p/cases/2"})
		if err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(cc.Subject)); n != 255 || strings.Contains(cc.Subject, "\n") || !strings.HasPrefix(cc.Subject, "line one line two") {
			t.Errorf("summary %q (%d characters); want one line of 255", cc.Subject[:30], n)
		}
	})
}

func TestAttachmentsStreamAndStayWithinTheLimit(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	c.UploadBufferBytes = 1 << 10 // stream anything over 1 KiB
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s"})
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, 20_000)
	t.Run("a file larger than the buffer is streamed intact", func(t *testing.T) {
		a, err := c.UploadAttachment(ctx(t), key, `we"ird name.bin`, "application/x-test", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if a.Filename != `we"ird name.bin` || a.MimeType != "application/x-test" || a.Size != int64(len(data)) || !a.ByConnector {
			t.Errorf("uploaded %+v", a)
		}
		rc, err := c.DownloadAttachment(ctx(t), key, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, data) {
			t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(got), len(data))
		}
	})
	t.Run("a streamed file over the limit is refused for good and stores nothing", func(t *testing.T) {
		_, err := c.UploadAttachment(ctx(t), key, "big.bin", "", io.LimitReader(zeros{}, testLimit*4))
		if !casesync.IsPermanent(err) {
			t.Fatalf("UploadAttachment = %v, want a permanent error", err)
		}
		if is, _ := sim.Issue(key); len(is.Attachments) != 1 {
			t.Errorf("the issue has %d attachments, want only the first", len(is.Attachments))
		}
	})
	t.Run("a 429 on a buffered upload is retried, once stored", func(t *testing.T) {
		sim.InjectFault(jirasmtest.Fault{Match: "POST /rest/api/3/issue/{issueIdOrKey}/attachments", Status: http.StatusTooManyRequests, RetryAfter: time.Second})
		if _, err := c.UploadAttachment(ctx(t), key, "small.txt", "text/plain", strings.NewReader("hello")); err != nil {
			t.Fatal(err)
		}
		if is, _ := sim.Issue(key); len(is.Attachments) != 2 {
			t.Errorf("the issue has %d attachments, want 2", len(is.Attachments))
		}
	})
}

// zeros is an endless stream of NUL bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		jirasm.EnvEmail: "sync@example.com", jirasm.EnvAPIToken: "secret-token", jirasm.EnvProjectKey: "SUP",
		jirasm.EnvSyncFlagField: "customfield_10051", jirasm.EnvGoogleCaseField: "10050",
	}
	with := func(extra map[string]string) func(string) string {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return func(k string) string { return env[k] }
	}
	tests := []struct {
		name         string
		getenv       func(string) string
		baseURL      string
		wantVars     []string
		wantSettings func(c jirasm.Config) bool
	}{
		{name: "a full environment gives defaults for the rest", getenv: with(nil), baseURL: "https://x.atlassian.net",
			wantSettings: func(c jirasm.Config) bool {
				return c.GoogleCaseField == "customfield_10050" && c.IssueType == jirasm.DefaultIssueType && c.SearchLag == 5*time.Minute &&
					c.CloseTransition == "Resolve this issue" && c.PageSize == 50 && c.RatePerSecond == 5 &&
					c.SyncFlagValue == "Yes" && len(c.Priorities) == 5 && c.MaxAttachmentBytes == 100<<20
			}},
		{name: "an empty environment names every required variable", getenv: func(string) string { return "" },
			wantVars: []string{jirasm.EnvEmail, jirasm.EnvAPIToken, jirasm.EnvProjectKey, jirasm.EnvSyncFlagField, jirasm.EnvGoogleCaseField, "CRM_URL"}},
		{name: "bad values are named", baseURL: "https://x.atlassian.net",
			getenv: with(map[string]string{jirasm.EnvSyncFlagField: "Sync flag", jirasm.EnvPageSize: "500",
				jirasm.EnvRateLimit: "-1", jirasm.EnvRequestTypeField: "customfield_10010", jirasm.EnvSearchLag: "soon"}),
			wantVars: []string{jirasm.EnvRateLimit, jirasm.EnvSearchLag, jirasm.EnvSyncFlagField, jirasm.EnvRequestTypeID, jirasm.EnvPageSize}},
		{name: "a search lag is read as a duration", baseURL: "https://x.atlassian.net",
			getenv:       with(map[string]string{jirasm.EnvSearchLag: "90s"}),
			wantSettings: func(c jirasm.Config) bool { return c.SearchLag == 90*time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := jirasm.ConfigFromEnv(tc.getenv, tc.baseURL)
			var vars []string
			for _, p := range problems {
				vars = append(vars, p.Var)
				if strings.Contains(p.Message, "secret-token") {
					t.Errorf("problem %q holds the token", p.Message)
				}
			}
			if diff := cmp.Diff(tc.wantVars, vars); diff != "" {
				t.Errorf("problems %v (-want +got):\n%s", problems, diff)
			}
			if tc.wantSettings != nil && !tc.wantSettings(cfg) {
				t.Errorf("settings %+v", cfg)
			}
			if len(problems) == 0 {
				if _, err := jirasm.New(cfg); err != nil {
					t.Errorf("New with the config read: %v", err)
				}
			}
		})
	}
}
