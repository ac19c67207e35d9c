package salesforce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// A Google comment short enough for one case comment whose text happens to
// end like a part label is still one comment: ListComments must return
// it, or casebridge loses track of what it wrote (its marker is gone).
func TestReviewAShortCommentEndingLikeAPartLabelIsListed(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	for _, tail := range []string{"\n\n(part 1 of 2)", "\n\n(part 2 of 2)", "\n\n(continued in the next comment: part 1 of 3)"} {
		id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
		body := "[Google Comment 3 by Carol]\n\nLogs follow in my next reply." + tail
		c, err := crm.AddComment(ctx, id, body, true)
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		list, err := crm.ListComments(ctx, id)
		if err != nil {
			t.Fatalf("ListComments: %v", err)
		}
		if len(list) != 1 || list[0].ID != c.ID || list[0].Body != body {
			t.Errorf("body ending %q: ListComments gave %d comments, want the one comment %s as posted", tail, len(list), c.ID)
		}
	}
}

// A case holding more files than one batch of its ContentDocumentLinks
// subquery must still list them: the subquery's nextRecordsUrl (or a
// direct ContentDocumentLink query on LinkedEntityId) reads the rest.
func TestReviewACaseWithMoreFilesThanOneBatchListsThemAll(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil) // batches of 7
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	for i := range 8 {
		if _, err := sim.AddFile(id, "Human Agent", fmt.Sprintf("log-%d.txt", i), []byte("x"), "AllUsers"); err != nil {
			t.Fatal(err)
		}
	}
	list, err := crm.ListAttachments(context.Background(), id)
	if err != nil || len(list) != 8 {
		t.Fatalf("ListAttachments: %d files, %v; want all 8", len(list), err)
	}
}

// Comments on cases that are neither flagged nor linked cost a poll
// nothing: the comment search names only synced parents, so that an
// org's other case traffic adds no queries.
func TestReviewCommentsOnUnsyncedCasesCostNoQueries(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{MaxBatchSize: 2000}, nil)
	since := time.Now().Add(-time.Minute)
	for i := range 401 {
		id := sim.CreateCase(salesforcetest.Case{Subject: fmt.Sprintf("other team's case %d", i)})
		if _, err := sim.AddComment(id, "Dana", "hello", true); err != nil {
			t.Fatal(err)
		}
	}
	before := sim.Calls()["GET /services/data/vXX.X/query"]
	if got := search(t, crm, since); len(got) != 0 {
		t.Fatalf("SearchUpdated gave %d cases, want none", len(got))
	}
	if n := sim.Calls()["GET /services/data/vXX.X/query"] - before; n > 3 {
		t.Errorf("a poll with no synced case changed made %d queries, want at most 3 (401 unsynced cases' comments added %d)", n, n-3)
	}
}

// Without the sync user's id from the token answer every comment
// casebridge wrote reads as a person's, and the engine copies its own
// comments back to Google. The sign-in must fail instead.
func TestReviewATokenAnswerWithoutTheUserIDIsRefused(t *testing.T) {
	sim := salesforcetest.New(salesforcetest.Options{MaxBatchSize: 2000})
	inner := sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/services/oauth2/token" {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Errorf("token answer: %v", err)
		}
		delete(m, "id")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(m)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(sim.CloseWebhooks)
	sim.URL = srv.URL
	crm := adapterFor(t, sim, nil)
	ctx := context.Background()
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	c, err := crm.AddComment(ctx, id, "[Google Comment 1 by Carol]\n\nhello", true)
	if err != nil {
		return // refused: what is wanted
	}
	list, err := crm.ListComments(ctx, id)
	if err != nil {
		return
	}
	for _, cm := range list {
		if cm.ID == c.ID && !cm.ByConnector {
			t.Errorf("with no user id in the token answer casebridge's own comment %s reads as a person's", c.ID)
		}
	}
}

// Salesforce documents that a query on ContentVersion without an id
// filter does not return a file the user reaches only through a record it
// is shared with ("Depending on how files are shared, queries on
// ContentDocument and ContentVersion without specifying an ID don't return
// all files a user has access to", Object Reference, ContentVersion). The
// simulator returns it, which makes the adapter's files.search look as if
// it finds people's new files.
func TestReviewTheSimulatorHidesRecordSharedFilesFromAContentVersionQuery(t *testing.T) {
	sim := salesforcetest.NewServer(t, salesforcetest.Options{})
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	vid, err := sim.AddFile(id, "Human Agent", "trace.log", []byte("x"), "AllUsers")
	if err != nil {
		t.Fatal(err)
	}
	o := sim.Options()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {o.ClientID}, "client_secret": {o.ClientSecret}}
	resp, err := http.Post(sim.URL+"/services/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	q := "SELECT Id, FirstPublishLocationId FROM ContentVersion WHERE SystemModstamp > 2000-01-01T00:00:00Z AND FirstPublishLocationId != null"
	req, _ := http.NewRequest(http.MethodGet, sim.URL+"/services/data/v66.0/query?q="+url.QueryEscape(q), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("query: %d %s", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte(vid[:15])) {
		t.Errorf("a ContentVersion query without an id filter returned %s, a file the sync user reaches only through the case", vid)
	}
}

// SetGoogleState "never closes or reopens the case" (casesync.CaseStateCRM):
// a person may close the Salesforce case after the engine read it open,
// and a mapped open status must not then reopen it.
func TestReviewAMappedStateDoesNotReopenAClosedCase(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	if err := sim.UpdateCase(id, "Human Agent", map[string]any{"Status": "Closed"}); err != nil {
		t.Fatal(err)
	}
	if err := crm.SetGoogleState(context.Background(), id, mappedState); err != nil {
		t.Fatalf("SetGoogleState: %v", err)
	}
	if v, _ := sim.View(id); !v.IsClosed || v.Status != "Closed" {
		t.Errorf("showing Google state %s set the closed case's status to %q (closed %v): it reopened it", mappedState, v.Status, v.IsClosed)
	}
}
