package salesforcetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// runQuery runs soql as the sync user and returns the HTTP status, the
// records of the first batch and the error code, if any.
func runQuery(t *testing.T, s *Server, tok, soql string) (int, []map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/services/data/v66.0/query?q="+url.QueryEscape(soql), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var errs []sfErr
		_ = json.NewDecoder(resp.Body).Decode(&errs)
		if len(errs) != 1 {
			t.Fatalf("%q: HTTP %d with %d errors", soql, resp.StatusCode, len(errs))
		}
		return resp.StatusCode, nil, errs[0].ErrorCode
	}
	var page struct {
		Records []map[string]any `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, page.Records, ""
}

// A file query without an id filter returns the sync user's own files
// only, unless it has Query All Files; by id, or through the case's links,
// every file of a case it can see.
func TestFileQueriesWithoutAnIDReturnOnlyTheUsersOwnFiles(t *testing.T) {
	for _, all := range []bool{false, true} {
		s := NewServer(t, Options{QueryAllFiles: all})
		tok := signIn(t, s)
		id := s.CreateCase(Case{Subject: "s", SyncFlag: true})
		theirs, err := s.AddFile(id, "Human Agent", "a.txt", []byte("a"), "AllUsers")
		if err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		mine, e := s.newFileLocked(id, "b.txt", "b.txt", []byte("b"), s.syncUser, "AllUsers")
		s.mu.Unlock()
		if e != nil {
			t.Fatal(asError(e))
		}
		count := func(soql string) int {
			t.Helper()
			st, recs, code := runQuery(t, s, tok, soql)
			if st != http.StatusOK {
				t.Fatalf("%q: %d %s", soql, st, code)
			}
			return len(recs)
		}
		for _, obj := range []string{"ContentVersion", "ContentDocument"} {
			want := 1
			if all {
				want = 2
			}
			if n := count("SELECT Id FROM " + obj + " WHERE CreatedDate > 2000-01-01T00:00:00Z"); n != want {
				t.Errorf("Query All Files %v: %s without an id filter gave %d files, want %d", all, obj, n, want)
			}
		}
		if n := count("SELECT Id FROM ContentVersion WHERE Id IN ('" + theirs + "', '" + mine + "')"); n != 2 {
			t.Errorf("Query All Files %v: ContentVersion by id gave %d files, want both", all, n)
		}
		if n := count("SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '" + id + "'"); n != 2 {
			t.Errorf("Query All Files %v: the case's links gave %d files, want both", all, n)
		}
	}
}

// A semi-join names the records of another object by id: a
// ContentDocumentLink query may filter LinkedEntityId on the ids of the
// cases a sub-select gives. Sub-selects under OR, of a field that is no
// id, or with an ORDER BY are refused.
func TestSemiJoinsSelectByAnotherObjectsIDs(t *testing.T) {
	s := NewServer(t, Options{})
	tok := signIn(t, s)
	synced := s.CreateCase(Case{Subject: "s", SyncFlag: true})
	other := s.CreateCase(Case{Subject: "o"})
	for _, id := range []string{synced, other} {
		if _, err := s.AddFile(id, "Human Agent", "f.txt", []byte("x"), "AllUsers"); err != nil {
			t.Fatal(err)
		}
	}
	st, recs, code := runQuery(t, s, tok, "SELECT LinkedEntityId FROM ContentDocumentLink WHERE LinkedEntityId IN (SELECT Id FROM Case WHERE (Sync_with_Google__c = true OR Google_Case__c != null)) AND SystemModstamp > 2000-01-01T00:00:00Z")
	if st != http.StatusOK || len(recs) != 1 || recs[0]["LinkedEntityId"] != synced {
		t.Fatalf("semi-join: %d %s %v, want the synced case's one link", st, code, recs)
	}
	st, recs, code = runQuery(t, s, tok, "SELECT Id FROM Case WHERE Id NOT IN (SELECT ParentId FROM CaseComment) AND Sync_with_Google__c = true")
	if st != http.StatusOK || len(recs) != 1 {
		t.Errorf("anti-join: %d %s %d records, want the synced case", st, code, len(recs))
	}
	for _, soql := range []string{
		"SELECT Id FROM Case WHERE Id IN (SELECT ParentId FROM CaseComment) OR Subject = 'x'",
		"SELECT Id FROM Case WHERE Id IN (SELECT CommentBody FROM CaseComment)",
		"SELECT Id FROM Case WHERE Id IN (SELECT ParentId FROM CaseComment ORDER BY CreatedDate)",
		"SELECT Id FROM Case WHERE Subject IN (SELECT ParentId FROM CaseComment)",
		"SELECT Id FROM Case WHERE Id IN (SELECT ParentId FROM CaseComment WHERE ParentId IN (SELECT Id FROM Case))",
	} {
		if st, _, _ := runQuery(t, s, tok, soql); st != http.StatusBadRequest {
			t.Errorf("%q: HTTP %d, want it refused", soql, st)
		}
	}
}

// Salesforce keeps datetimes to the second: a record made at 12:00:00.750
// reads 12:00:00.000.
func TestDatetimesAreKeptToTheSecond(t *testing.T) {
	at := time.Date(2026, 3, 4, 12, 0, 0, 750_000_000, time.UTC)
	s := NewServer(t, Options{Clock: func() time.Time { return at }})
	tok := signIn(t, s)
	s.CreateCase(Case{Subject: "s"})
	_, recs, code := runQuery(t, s, tok, "SELECT CreatedDate, SystemModstamp FROM Case")
	if len(recs) != 1 || recs[0]["CreatedDate"] != "2026-03-04T12:00:00.000+0000" || recs[0]["SystemModstamp"] != "2026-03-04T12:00:00.000+0000" {
		t.Errorf("case stamps %v (%s), want 2026-03-04T12:00:00.000+0000", recs, code)
	}
}
