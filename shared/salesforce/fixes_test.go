package salesforce_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// A file its owner made private on records is internal whatever its
// link's visibility says.
func TestAFilePrivateOnRecordsIsNotPublic(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	vid, err := sim.AddFile(id, "Human Agent", "private.txt", []byte("x"), "AllUsers")
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SetFilePrivateOnRecords(vid, true); err != nil {
		t.Fatal(err)
	}
	list, err := crm.ListAttachments(context.Background(), id)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListAttachments: %d files, %v", len(list), err)
	}
	if list[0].Public {
		t.Errorf("a file private on records reads as public")
	}
}

// Comments whose own text ends like a part label read back as written:
// one that fits with the "(part 1 of 1)" label, one too long to take the
// label in a single comment, and one whose text is that very label.
func TestCommentsEndingLikeAPartLabelReadBackWhole(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	tail := "\n\n(part 1 of 2)"
	for _, body := range []string{
		"[Google Comment 4 by Carol]\n\nsee below\n\n(part 1 of 1)",
		strings.Repeat("a", salesforce.MaxCommentBytes-len(tail)-2) + tail,
	} {
		id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
		c, err := crm.AddComment(ctx, id, body, false)
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		list, err := crm.ListComments(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != c.ID || list[0].Body != body || !list[0].ByConnector {
			t.Errorf("a %d-byte comment ending %q: %d comments listed, want it whole", len(body), body[len(body)-15:], len(list))
		}
		for _, stored := range sim.Comments(id) {
			if len(stored.Body) > salesforce.MaxCommentBytes {
				t.Errorf("a case comment of %d bytes was posted", len(stored.Body))
			}
		}
	}
}

// A token answer whose id names no user fails the sign-in for good: the
// error is permanent and no call is made with the token.
func TestATokenAnswerWithoutAUserIDIsAPermanentError(t *testing.T) {
	for _, idURL := range []any{nil, "", "https://login.salesforce.com/id/00DSim000000001AAA/", "https://login.salesforce.com/id/00DSim000000001AAA/00DSim000000001AAA"} {
		sim := salesforcetest.New(salesforcetest.Options{})
		inner := sim.Handler()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/services/oauth2/token" {
				inner.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			var m map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &m)
			m["id"] = idURL
			if idURL == nil {
				delete(m, "id")
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(m)
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(sim.CloseWebhooks)
		sim.URL = srv.URL
		crm := adapterFor(t, sim, nil)
		id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
		_, err := crm.GetCase(context.Background(), id)
		if err == nil || casesync.IsTransient(err) {
			t.Errorf("id %v: GetCase gave %v, want a permanent error", idURL, err)
		}
		if n := sim.Calls()["GET /services/data/vXX.X/query"]; n != 0 {
			t.Errorf("id %v: %d queries made with the token", idURL, n)
		}
	}
}

// Files added to cases that are neither flagged nor linked cost a poll
// nothing either.
func TestFilesOnUnsyncedCasesCostNoQueries(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{MaxBatchSize: 2000}, nil)
	for i := range 250 {
		id := sim.CreateCase(salesforcetest.Case{Subject: "other"})
		if _, err := sim.AddFile(id, "Dana", "f.txt", []byte{byte(i)}, "AllUsers"); err != nil {
			t.Fatal(err)
		}
	}
	if got := search(t, crm, time.Now().Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("SearchUpdated gave %d cases, want none", len(got))
	}
	if n := sim.Calls()["GET /services/data/vXX.X/query"]; n > 3 {
		t.Errorf("a poll with no synced case made %d queries, want at most 3", n)
	}
}
