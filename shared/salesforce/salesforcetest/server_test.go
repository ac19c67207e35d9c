package salesforcetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func signIn(t *testing.T, s *Server) string {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {s.opts.ClientID}, "client_secret": {s.opts.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return out.AccessToken
}

func TestQueriesOutsideTheSubsetAreRefusedAsSalesforceDoes(t *testing.T) {
	s := NewServer(t, Options{})
	tok := signIn(t, s)
	tests := []struct{ soql, code string }{
		{"SELECT Id FROM Case WHERE", "MALFORMED_QUERY"},
		{"SELECT Id FROM Case WHERE Subject = 'x", "MALFORMED_QUERY"},
		{"SELECT Id FROM Case WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Case WHERE SystemModstamp > 2026-01-01 00:00", "MALFORMED_QUERY"},
		{"SELECT Nope__c FROM Case", "INVALID_FIELD"},
		{"SELECT Id FROM Case; DELETE", "MALFORMED_QUERY"},
		{"SELECT Id FROM ContentDocumentLink", "MALFORMED_QUERY"},
		{"SELECT Id FROM Case WHERE Id = 'x'", "INVALID_QUERY_FILTER_OPERATOR"},
		{"SELECT Id FROM Case GROUP BY Id", "MALFORMED_QUERY"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/services/data/v66.0/query?q="+url.QueryEscape(tc.soql), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var errs []sfErr
		_ = json.NewDecoder(resp.Body).Decode(&errs)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(errs) != 1 || errs[0].ErrorCode != tc.code {
			t.Errorf("%q: HTTP %d %+v, want 400 %s", tc.soql, resp.StatusCode, errs, tc.code)
		}
	}
}

func TestQueriesPageAndSubqueriesNest(t *testing.T) {
	s := NewServer(t, Options{MaxBatchSize: 2})
	tok := signIn(t, s)
	for i := 0; i < 5; i++ {
		id := s.CreateCase(Case{Subject: "s", SyncFlag: i%2 == 0})
		if _, err := s.AddComment(id, "Ann", "hi", true); err != nil {
			t.Fatal(err)
		}
	}
	next := "/services/data/v66.0/query?q=" + url.QueryEscape("SELECT Id, CreatedBy.Name, (SELECT CommentBody FROM CaseComments) FROM Case WHERE Sync_with_Google__c = true ORDER BY CreatedDate DESC")
	n := 0
	for next != "" {
		req, _ := http.NewRequest(http.MethodGet, s.URL+next, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			TotalSize      int              `json:"totalSize"`
			Done           bool             `json:"done"`
			NextRecordsURL string           `json:"nextRecordsUrl"`
			Records        []map[string]any `json:"records"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if page.TotalSize != 3 || len(page.Records) > 2 {
			t.Fatalf("page: %+v", page)
		}
		for _, r := range page.Records {
			by, _ := r["CreatedBy"].(map[string]any)
			sub, _ := r["CaseComments"].(map[string]any)
			if by["Name"] != "Human Agent" || sub["totalSize"] != float64(1) {
				t.Errorf("record %v: want CreatedBy.Name nested and one comment in the subquery", r)
			}
		}
		n += len(page.Records)
		next = page.NextRecordsURL
		if page.Done != (next == "") || next != "" && !strings.HasPrefix(next, "/services/data/v66.0/query/01g") {
			t.Fatalf("done %v with next %q", page.Done, next)
		}
	}
	if n != 3 {
		t.Errorf("%d records over every batch, want 3", n)
	}
}
