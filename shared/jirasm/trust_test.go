package jirasm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/google/go-cmp/cmp"
)

// adapterFor makes an adapter for a test's own server.
func adapterFor(t *testing.T, baseURL string, edit func(*jirasm.Config)) *jirasm.Client {
	t.Helper()
	cfg := jirasm.Config{
		BaseURL: baseURL, Email: "sync@example.com", APIToken: "sync-api-token", ProjectKey: "SUP",
		SyncFlagField: "customfield_10051", GoogleCaseField: "customfield_10050",
		PageSize: 2, SearchLag: -1, HTTP: &http.Client{Timeout: 30 * time.Second},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := jirasm.New(cfg)
	if err != nil {
		t.Fatalf("jirasm.New: %v", err)
	}
	return c
}

// postComment adds a comment through the simulator's API as the sync user,
// with the properties given as JSON, and returns its id.
func postComment(t *testing.T, sim *jirasmtest.Server, key, properties string) string {
	t.Helper()
	body := `{"body":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"x"}]}]},"properties":` + properties + `}`
	req, err := http.NewRequest(http.MethodPost, sim.URL+"/rest/api/3/issue/"+key+"/comment", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(sim.Email(), sim.APIToken())
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("posting a comment with properties %s: status %d, %v", properties, resp.StatusCode, err)
	}
	return out.ID
}

func TestACommentIsPublicOnlyWhenItsServiceDeskPropertySaysSoPlainly(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "visibility", SyncFlag: true})
	tests := []struct {
		name       string
		properties string
		wantPublic bool
	}{
		{"no property is a public reply", `[]`, true},
		{"internal false is a public reply", `[{"key":"sd.public.comment","value":{"internal":false}}]`, true},
		{"internal true is an internal note", `[{"key":"sd.public.comment","value":{"internal":true}}]`, false},
		{"internal as a string is unclear, so internal", `[{"key":"sd.public.comment","value":{"internal":"false"}}]`, false},
		{"a value without internal is unclear, so internal", `[{"key":"sd.public.comment","value":{}}]`, false},
		{"a bare string value is unclear, so internal", `[{"key":"sd.public.comment","value":"public"}]`, false},
		{"an array value is unclear, so internal", `[{"key":"sd.public.comment","value":[false]}]`, false},
		{"internal null is unclear, so internal", `[{"key":"sd.public.comment","value":{"internal":null}}]`, false},
	}
	var ids []string
	for _, tc := range tests {
		ids = append(ids, postComment(t, sim, key, tc.properties))
	}
	list, err := c.ListComments(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, cm := range list {
		got[cm.ID] = cm.Public
	}
	// Listed with the files, the comments read the same.
	items, _, err := c.ListItems(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list, items); diff != "" {
		t.Errorf("ListItems' comments differ from ListComments (-ListComments +ListItems):\n%s", diff)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			public, ok := got[ids[i]]
			if !ok || public != tc.wantPublic {
				t.Errorf("comment %s reads as public=%t (listed: %t), want %t", ids[i], public, ok, tc.wantPublic)
			}
		})
	}
}

func TestACommentNeitherThePropertyNorJiraCallsPublicIsInternal(t *testing.T) {
	sim := jirasmtest.NewServer(t, jirasmtest.Options{})
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
	id := postComment(t, sim, key, `[]`)
	// A proxy drops Jira's own reading (jsdPublic), as a project that is not
	// a service project, or a cut-down answer, would leave it out.
	c := adapterFor(t, rewriting(t, sim, http.MethodGet, "/comment", func(page map[string]any) {
		if cs, ok := page["comments"].([]any); ok {
			for _, cm := range cs {
				if m, ok := cm.(map[string]any); ok {
					delete(m, "jsdPublic")
				}
			}
		}
	}), nil)
	list, err := c.ListComments(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range list {
		if cm.ID == id && cm.Public {
			t.Errorf("comment %s, with no property and no jsdPublic, reads as public; unclear is internal", id)
		}
	}
}

// rewriting puts a proxy in front of the simulator that passes the answer
// to requests matching method and path suffix through edit.
func rewriting(t *testing.T, sim *jirasmtest.Server, method, suffix string, edit func(map[string]any)) string {
	t.Helper()
	target, err := url.Parse(sim.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != method || !strings.HasSuffix(resp.Request.URL.Path, suffix) {
			return nil
		}
		var v map[string]any
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if json.Unmarshal(data, &v) == nil {
			edit(v)
			data, _ = json.Marshal(v)
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		resp.ContentLength = int64(len(data))
		resp.Header.Set("Content-Length", strconv.Itoa(len(data)))
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAnAddedCommentWhoseVisibilityDiffersFromWhatWasAskedFailsLoudly(t *testing.T) {
	tests := []struct {
		name    string
		public  bool
		edit    func(map[string]any)
		wantErr bool
	}{
		{"an internal note Jira stored as public is a permanent error", false, func(v map[string]any) { v["jsdPublic"] = true }, true},
		{"a public reply Jira stored as internal is a permanent error", true, func(v map[string]any) { v["jsdPublic"] = false }, true},
		{"an internal note Jira stored as asked is fine", false, func(map[string]any) {}, false},
		{"an answer without jsdPublic is taken as stored as asked", false, func(v map[string]any) { delete(v, "jsdPublic") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := jirasmtest.NewServer(t, jirasmtest.Options{})
			key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "s", SyncFlag: true})
			c := adapterFor(t, rewriting(t, sim, http.MethodPost, "/comment", tc.edit), nil)
			const secret = "the customer's secret text"
			got, err := c.AddComment(ctx(t), key, secret, tc.public)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("AddComment: %v", err)
				}
				if got.Public != tc.public {
					t.Errorf("AddComment reports public=%t, want %t", got.Public, tc.public)
				}
				return
			}
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Transient || !casesync.IsPermanent(err) {
				t.Fatalf("AddComment error %v; want a permanent *casesync.APIError", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "visibility differs from what was asked") || strings.Contains(msg, secret) {
				t.Errorf("error %q: want it to say the visibility differs from what was asked, without the comment's text", msg)
			}
		})
	}
}

func TestAFileIsPublicOnlyWhenAPublicReplyShowsIt(t *testing.T) {
	sim, c := newSite(t, jirasmtest.Options{}, nil)
	key := sim.CreateIssue(jirasmtest.NewIssue{Summary: "files", SyncFlag: true})
	type file struct {
		Name   string
		Public bool
	}
	want := map[string]file{}
	add := func(name string, public bool, hc *jirasmtest.HumanComment) {
		t.Helper()
		var aid string
		var err error
		if hc == nil {
			aid, err = sim.AddAttachment(key, "Alice Agent", name, "text/plain", []byte(name))
		} else {
			_, aid, err = sim.AddHumanFileComment(key, *hc, name, "text/plain", []byte(name))
		}
		if err != nil {
			t.Fatal(err)
		}
		want[aid] = file{name, public}
	}
	add("reply.txt", true, &jirasmtest.HumanComment{Author: "Alice Agent", Body: "here", Public: true})
	add("reply-file-only.txt", true, &jirasmtest.HumanComment{Author: "Alice Agent", Public: true})
	add("note.txt", false, &jirasmtest.HumanComment{Author: "Bob Agent", Body: "agents only", Public: false})
	add("role.txt", false, &jirasmtest.HumanComment{Author: "Bob Agent", Body: "admins", Public: true, RestrictToRole: "Administrators"})
	add("issue-itself.txt", false, nil)
	up, err := c.UploadAttachment(ctx(t), key, "connector.txt", "text/plain", strings.NewReader("mine"))
	if err != nil {
		t.Fatal(err)
	}
	want[up.ID] = file{"connector.txt", false}
	// A file named by an internal note and by a public reply is shown to
	// the customer by the reply.
	shared, err := sim.AddAttachment(key, "Alice Agent", "both.txt", "text/plain", []byte("both"))
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := sim.Issue(key)
	var mediaID string
	for _, a := range snap.Attachments {
		if a.ID == shared {
			mediaID = a.MediaID
		}
	}
	doc := json.RawMessage(`{"type":"doc","version":1,"content":[{"type":"mediaGroup","content":[{"type":"media","attrs":{"id":"` + mediaID + `","type":"file","collection":""}}]}]}`)
	for _, public := range []bool{false, true} {
		if _, err := sim.AddHumanComment(key, jirasmtest.HumanComment{Author: "Alice Agent", BodyADF: doc, Public: public}); err != nil {
			t.Fatal(err)
		}
	}
	want[shared] = file{"both.txt", true}

	sim.ResetRequests()
	for round := range 2 {
		list, err := c.ListAttachments(ctx(t), key)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]file{}
		for _, a := range list {
			got[a.ID] = file{a.Filename, a.Public}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listing %d: files by id (-want +got):\n%s", round+1, diff)
		}
	}
	// Listed with the comments, the files read the same.
	_, items, err := c.ListItems(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]file{}
	for _, a := range items {
		got[a.ID] = file{a.Filename, a.Public}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListItems: files by id (-want +got):\n%s", diff)
	}
	// Each human's file is looked up on the media host once; the
	// connector's own upload never.
	if got, want := sim.Requests()["GET /rest/api/3/attachment/content/{id}"], 6; got != want {
		t.Errorf("three listings asked for %d media ids, want %d (once per human file)", got, want)
	}
}

func TestADownloadIsBoundedByTheBytesReadNotTheSizeListed(t *testing.T) {
	const limit = 1 << 20
	const served = 3 << 20
	var mediaBytes atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/api/3/myself", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"accountId":"sync-account-id","timeZone":"UTC"}`)
	})
	mux.HandleFunc("GET /rest/api/3/issue/SUP-1", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"10001","key":"SUP-1","fields":{"description":null,"attachment":[
			{"id":"10100","filename":"small.log","size":10,"mimeType":"text/plain","created":"2026-03-01T10:00:00.000+0000",
			 "author":{"accountId":"human-1","displayName":"Alice"}}]}}`)
	})
	mux.HandleFunc("GET /rest/api/3/issue/SUP-1/comment", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"startAt":0,"maxResults":2,"total":0,"comments":[]}`)
	})
	mux.HandleFunc("GET /rest/api/3/attachment/content/10100", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/file/0f8fad5b-d9cb-469f-a165-70867728950e/binary", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /file/{id}/binary", func(w http.ResponseWriter, r *http.Request) {
		// Streamed without a length: only reading tells how big it is.
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for sent := 0; sent < served; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			mediaBytes.Add(int64(len(chunk)))
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := adapterFor(t, srv.URL, func(cfg *jirasm.Config) { cfg.MaxDownloadBytes = limit })

	list, err := c.ListAttachments(ctx(t), "SUP-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Size != 10 {
		t.Fatalf("listing %+v; want the one file listed at 10 bytes", list)
	}
	rc, err := c.DownloadAttachment(ctx(t), "SUP-1", "10100")
	if err != nil {
		t.Fatalf("DownloadAttachment: %v", err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, crmhttp.ErrTooLarge) || !casesync.IsPermanent(err) {
		t.Errorf("reading a %d-byte file listed at 10 bytes with a %d-byte bound: %d bytes, error %v; want a permanent ErrTooLarge", served, limit, n, err)
	}
	if n > limit {
		t.Errorf("the download handed on %d bytes, more than the %d-byte bound", n, limit)
	}
}

// endless answers a paged listing that never ends well, after its first
// answers to myself. It gives up (answering a last page) after giveUp
// requests, so that an unbounded client ends instead of hanging.
type endless struct {
	name string
	// page answers request n (from 0) of the listing; start is the startAt
	// or the page token asked for.
	page func(n int, start string) any
}

const giveUp = 60

func TestEveryListingStopsOnPagingItCannotTrust(t *testing.T) {
	issue := func(n int) map[string]any {
		return map[string]any{"id": strconv.Itoa(20000 + n), "key": fmt.Sprintf("SUP-%d", n+1),
			"fields": map[string]any{"updated": "2026-03-01T10:00:00.000+0000", "created": "2026-03-01T10:00:00.000+0000",
				"customfield_10051": true, "customfield_10050": "projects/p/cases/1"}}
	}
	comment := func(n int) map[string]any {
		return map[string]any{"id": strconv.Itoa(30000 + n), "jsdPublic": true, "created": "2026-03-01T10:00:00.000+0000",
			"body": map[string]any{"type": "doc", "version": 1, "content": []any{}}, "author": map[string]any{"accountId": "human-1"}}
	}
	searches := []endless{
		{"a search with a new page token forever", func(n int, _ string) any {
			return map[string]any{"issues": []any{issue(n)}, "nextPageToken": fmt.Sprintf("token-%d", n), "isLast": false}
		}},
		{"a search whose page tokens go round in a cycle", func(n int, _ string) any {
			return map[string]any{"issues": []any{issue(n)}, "nextPageToken": fmt.Sprintf("token-%d", n%3), "isLast": false}
		}},
		{"a search whose page names itself as the next", func(n int, _ string) any {
			return map[string]any{"issues": []any{issue(n)}, "nextPageToken": "same", "isLast": false}
		}},
		{"a search with an empty page that names a next one", func(n int, _ string) any {
			return map[string]any{"issues": []any{}, "nextPageToken": fmt.Sprintf("token-%d", n), "isLast": false}
		}},
	}
	commentLists := []endless{
		{"comments whose total grows with every page", func(n int, start string) any {
			s, _ := strconv.Atoi(start)
			return map[string]any{"startAt": s, "total": s + 2, "comments": []any{comment(n)}}
		}},
		{"comments that answer the same page whatever is asked", func(n int, _ string) any {
			return map[string]any{"startAt": 0, "total": 100000, "comments": []any{comment(0), comment(1)}}
		}},
		{"comments with an empty page while the total says more", func(n int, start string) any {
			s, _ := strconv.Atoi(start)
			if n == 0 {
				return map[string]any{"startAt": s, "total": 5, "comments": []any{comment(0)}}
			}
			return map[string]any{"startAt": s, "total": 5, "comments": []any{}}
		}},
	}
	type listing struct {
		name, op string
		call     func(c *jirasm.Client) error
		servers  []endless
	}
	listings := []listing{
		{"SearchUpdated", jirasm.OpSearch, func(c *jirasm.Client) error {
			_, err := c.SearchUpdated(ctx(t), time.Time{})
			return err
		}, searches},
		{"FindByGoogleCase", jirasm.OpSearch, func(c *jirasm.Client) error {
			_, _, err := c.FindByGoogleCase(ctx(t), "projects/p/cases/1")
			return err
		}, searches},
		{"ListComments", jirasm.OpListComments, func(c *jirasm.Client) error {
			_, err := c.ListComments(ctx(t), "SUP-1")
			return err
		}, commentLists},
		{"ListAttachments", jirasm.OpListComments, func(c *jirasm.Client) error {
			_, err := c.ListAttachments(ctx(t), "SUP-1")
			return err
		}, commentLists},
		{"ListItems", jirasm.OpListComments, func(c *jirasm.Client) error {
			_, _, err := c.ListItems(ctx(t), "SUP-1")
			return err
		}, commentLists},
	}
	const maxPages = 5
	for _, l := range listings {
		for _, e := range l.servers {
			t.Run(l.name+" stops on "+e.name, func(t *testing.T) {
				var requests atomic.Int64
				page := func(w http.ResponseWriter, start string) {
					n := int(requests.Add(1)) - 1
					w.Header().Set("Content-Type", "application/json")
					if n >= giveUp {
						io.WriteString(w, `{"issues":[],"isLast":true,"startAt":0,"total":0,"comments":[]}`)
						return
					}
					json.NewEncoder(w).Encode(e.page(n, start))
				}
				mux := http.NewServeMux()
				mux.HandleFunc("GET /rest/api/3/myself", func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, `{"accountId":"sync-account-id","timeZone":"UTC"}`)
				})
				mux.HandleFunc("POST /rest/api/3/search/jql", func(w http.ResponseWriter, r *http.Request) {
					var body struct {
						NextPageToken string `json:"nextPageToken"`
					}
					json.NewDecoder(r.Body).Decode(&body)
					page(w, body.NextPageToken)
				})
				mux.HandleFunc("GET /rest/api/3/issue/SUP-1/comment", func(w http.ResponseWriter, r *http.Request) {
					page(w, r.URL.Query().Get("startAt"))
				})
				mux.HandleFunc("GET /rest/api/3/issue/SUP-1", func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, `{"id":"10001","key":"SUP-1","fields":{"description":null,"attachment":[
						{"id":"10100","filename":"a.log","size":1,"mimeType":"text/plain","created":"2026-03-01T10:00:00.000+0000",
						 "author":{"accountId":"human-1","displayName":"Alice"}}]}}`)
				})
				srv := httptest.NewServer(mux)
				t.Cleanup(srv.Close)
				c := adapterFor(t, srv.URL, func(cfg *jirasm.Config) { cfg.MaxPages = maxPages })

				err := l.call(c)
				var pe *crmhttp.PagingError
				if !errors.Is(err, crmhttp.ErrPaging) || !errors.As(err, &pe) || !casesync.IsPermanent(err) {
					t.Fatalf("%s after %d requests: error %v; want a permanent paging error", l.name, requests.Load(), err)
				}
				if pe.Listing != l.op {
					t.Errorf("the paging error names listing %q, want %q", pe.Listing, l.op)
				}
				if got := requests.Load(); got > maxPages {
					t.Errorf("the listing made %d page requests; MaxPages is %d", got, maxPages)
				}
			})
		}
	}
}
