package jirasm_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/google/go-cmp/cmp"
)

// commentView is what these tests compare of a comment.
type commentView struct {
	Body, Author        string
	Public, ByConnector bool
}

func views(cs []casesync.Comment) []commentView {
	out := []commentView{}
	for _, c := range cs {
		out = append(out, commentView{Body: c.Body, Author: c.AuthorName, Public: c.Public, ByConnector: c.ByConnector})
	}
	return out
}

func TestCommentsGoThroughThePlatformAPIOnIssuesWithoutARequestType(t *testing.T) {
	// The default configuration sets no request type, so the issues the
	// adapter creates have none: the service desk comment API would refuse
	// them with 404.
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	cc, err := c.CreateCase(ctx(t), casesync.NewCompanyCase{Subject: "s", GoogleCase: "projects/p/cases/1"})
	if err != nil {
		t.Fatal(err)
	}
	key := cc.ID
	rich := `{"type":"doc","version":1,"content":[
		{"type":"paragraph","content":[{"type":"text","text":"see "},{"type":"mention","attrs":{"id":"x","text":"@Bob"}}]},
		{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"one"}]}]}]}]}`
	humans := []jirasmtest.HumanComment{
		{Author: "Alice Agent", Body: "Public reply.", Public: true},
		{Author: "Bob Agent", Body: "Internal note.\nSecond line.", Public: false},
		{Author: "Carol Agent", Body: "For administrators only.", Public: true, RestrictToRole: "Administrators"},
		{Author: "Dan Agent", BodyADF: json.RawMessage(rich), Public: true},
	}
	for _, h := range humans {
		if _, err := sim.AddHumanComment(key, h); err != nil {
			t.Fatal(err)
		}
	}
	connector := []struct {
		body   string
		public bool
	}{
		{"[Google Comment 1 by Eve] one line", true},
		{"lines\nand\n\nparagraphs\n\n\nafter two blank lines", true},
		{"\nleading and trailing newlines\n", false},
		{"ünïcödé — 日本語 * _ {code}", false},
	}
	sim.ResetRequests()
	for _, cm := range connector {
		got, err := c.AddComment(ctx(t), key, cm.body, cm.public)
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		if got.ID == "" || got.Body != cm.body || got.Public != cm.public || !got.ByConnector {
			t.Errorf("AddComment gave %+v", got)
		}
	}
	got, err := c.ListComments(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	want := []commentView{
		{Body: "Public reply.", Author: "Alice Agent", Public: true},
		{Body: "Internal note.\nSecond line.", Author: "Bob Agent"},
		{Body: "For administrators only.", Author: "Carol Agent"},
		{Body: "see @Bob\n\n- one", Author: "Dan Agent", Public: true},
	}
	for _, cm := range connector {
		want = append(want, commentView{Body: cm.body, Author: "casebridge sync", Public: cm.public, ByConnector: true})
	}
	t.Run("every comment reads back exactly, internal notes and restricted comments as not public", func(t *testing.T) {
		if diff := cmp.Diff(want, views(got)); diff != "" {
			t.Errorf("ListComments (-want +got):\n%s", diff)
		}
	})
	t.Run("the connector's internal notes carry the service desk's internal property", func(t *testing.T) {
		is, _ := sim.Issue(key)
		var public []bool
		for _, cm := range is.Comments[len(humans):] {
			public = append(public, cm.Public)
			if !json.Valid(cm.Body) {
				t.Errorf("stored body is not a document: %s", cm.Body)
			}
		}
		if diff := cmp.Diff([]bool{true, true, false, false}, public); diff != "" {
			t.Errorf("stored visibility (-want +got):\n%s", diff)
		}
	})
	t.Run("each add is one POST and the list one GET a page, on the platform API only", func(t *testing.T) {
		wantRequests := map[string]int{
			"GET /rest/api/3/myself":                        1, // the sync user, looked up once
			"POST /rest/api/3/issue/{issueIdOrKey}/comment": 4,
			"GET /rest/api/3/issue/{issueIdOrKey}/comment":  2, // 8 comments, 7 a page
		}
		if diff := cmp.Diff(wantRequests, sim.Requests()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

// lagClock is a time the test moves on.
type lagClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *lagClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *lagClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTheAdapterDeclaresHowLongSearchMayMissANewIssue(t *testing.T) {
	tests := []struct {
		name      string
		configure time.Duration
		want      time.Duration
	}{
		{name: "unset, it is five minutes", configure: 0, want: 5 * time.Minute},
		{name: "configured, it is the value set", configure: 90 * time.Second, want: 90 * time.Second},
		{name: "negative, there is none", configure: -1, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c := newSite(t, jirasmtest.Options{}, func(cfg *jirasm.Config) { cfg.SearchLag = tc.configure })
			// The engine's optional capability (casesync.CreationLookupLag).
			var lagger interface{ CreationLookupLag() time.Duration } = c
			if got := lagger.CreationLookupLag(); got != tc.want {
				t.Errorf("CreationLookupLag() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestARetriedCreationCannotFindItsIssueUntilSearchCatchesUp(t *testing.T) {
	clk := &lagClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	const lag = 2 * time.Minute
	_, c := newSite(t, jirasmtest.Options{SearchLag: lag, Clock: clk.Now}, func(cfg *jirasm.Config) { cfg.SearchLag = lag })
	const name = "projects/p/cases/42"
	created, err := c.CreateCase(ctx(t), casesync.NewCompanyCase{Subject: "s", GoogleCase: name})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		after     time.Duration
		wantFound bool
	}{
		{name: "just after the creation the search misses the issue", after: 0, wantFound: false},
		{name: "a moment before the declared lag it may still miss it", after: lag - time.Second, wantFound: false},
		{name: "once the declared lag has passed the search finds it", after: time.Second, wantFound: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.after)
			got, found, err := c.FindByGoogleCase(ctx(t), name)
			if err != nil {
				t.Fatal(err)
			}
			if found != st.wantFound || (found && got.ID != created.ID) {
				t.Errorf("FindByGoogleCase = %s, %v; want found %v (issue %s)", got.ID, found, st.wantFound, created.ID)
			}
		})
	}
	if got := c.CreationLookupLag(); got < lag {
		t.Errorf("CreationLookupLag() = %v, shorter than the search's lag %v", got, lag)
	}
}
