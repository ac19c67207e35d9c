package zendesk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
	"github.com/google/go-cmp/cmp"
)

// secretNote is the text of internal notes in these tests; it must never
// come out of the adapter as a case description.
const secretNote = "internal: the customer's contract is under review"

func TestAPrivateFirstCommentIsNeverTheDescription(t *testing.T) {
	ctx := context.Background()
	const googleCase = "projects/p/cases/77"
	tests := []struct {
		name string
		// setup makes the ticket and returns its id.
		setup    func(t *testing.T, sim *zendesktest.Server) string
		wantDesc string
		// wantFirstListed: ListComments lists the first comment (as an
		// internal note) rather than keeping it as the description.
		wantFirstListed bool
	}{
		{name: "a ticket opened with a public comment has it as its description",
			setup: func(t *testing.T, sim *zendesktest.Server) string {
				return sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "The printer is on fire.", SyncFlag: true, GoogleCase: googleCase})
			},
			wantDesc: "The printer is on fire."},
		{name: "a ticket opened with an internal note has no description",
			setup: func(t *testing.T, sim *zendesktest.Server) string {
				return sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: secretNote, Private: true, SyncFlag: true, GoogleCase: googleCase})
			},
			wantFirstListed: true},
		{name: "a ticket opened with an internal note and answered in public still has no description",
			setup: func(t *testing.T, sim *zendesktest.Server) string {
				id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: secretNote, Private: true, SyncFlag: true, GoogleCase: googleCase})
				if _, err := sim.AddHumanComment(id, "Alice Agent", "We are looking into it.", true); err != nil {
					t.Fatal(err)
				}
				return id
			},
			wantFirstListed: true},
		{name: "a ticket whose first comment was made private later has no description",
			setup: func(t *testing.T, sim *zendesktest.Server) string {
				id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: secretNote, SyncFlag: true, GoogleCase: googleCase})
				st, err := sim.TicketState(id)
				if err != nil {
					t.Fatal(err)
				}
				if err := sim.MakeCommentPrivate(id, st.Comments[0].ID); err != nil {
					t.Fatal(err)
				}
				return id
			},
			wantFirstListed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, zendesktest.Options{}, nil)
			id := tc.setup(t, sim)
			// Zendesk answers the first comment's text as the description
			// whatever its visibility; the simulator must too, or this test
			// proves nothing.
			var raw struct {
				Ticket struct {
					Description string `json:"description"`
				} `json:"ticket"`
			}
			getJSON(t, sim, "/api/v2/tickets/"+id+".json", &raw)
			st, _ := sim.TicketState(id)
			if raw.Ticket.Description != st.Comments[0].Body {
				t.Fatalf("the simulator's description is %q, not the first comment's text", raw.Ticket.Description)
			}

			got, err := crm.GetCase(ctx, id)
			if err != nil {
				t.Fatalf("GetCase: %v", err)
			}
			found, ok, err := crm.FindByGoogleCase(ctx, googleCase)
			if err != nil || !ok {
				t.Fatalf("FindByGoogleCase = %v, %v", ok, err)
			}
			searched, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
			if err != nil || len(searched) != 1 {
				t.Fatalf("SearchUpdated = %d cases, %v; want 1", len(searched), err)
			}
			descs := []string{got.Description, found.Description, searched[0].Description}
			want := []string{tc.wantDesc, tc.wantDesc, ""} // search results carry no description
			if diff := cmp.Diff(want, descs); diff != "" {
				t.Errorf("[GetCase, FindByGoogleCase, SearchUpdated] descriptions (-want +got):\n%s", diff)
			}

			comments, err := crm.ListComments(ctx, id)
			if err != nil {
				t.Fatalf("ListComments: %v", err)
			}
			firstListed := false
			for _, c := range comments {
				if c.ID == st.Comments[0].ID {
					firstListed = true
					if c.Public {
						t.Errorf("the first comment is listed as public; it is private")
					}
				}
			}
			if firstListed != tc.wantFirstListed {
				t.Errorf("first comment listed = %v, want %v", firstListed, tc.wantFirstListed)
			}
			// Listed with the files, the comments keep the same rule.
			items, _, err := crm.ListItems(ctx, id)
			if err != nil {
				t.Fatalf("ListItems: %v", err)
			}
			if diff := cmp.Diff(comments, items); diff != "" {
				t.Errorf("ListItems' comments differ from ListComments (-ListComments +ListItems):\n%s", diff)
			}
		})
	}
}

// getJSON reads a simulator path as the sync user.
func getJSON(t *testing.T, sim *zendesktest.Server, path string, out any) {
	t.Helper()
	o := sim.Options()
	req, err := http.NewRequest(http.MethodGet, sim.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(o.Email+"/token", o.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// misbehaving serves the simulator behind a handler that may answer a
// request itself (intercept returns true), as a Zendesk answering out of
// its documented bounds would.
func misbehaving(t *testing.T, opts zendesktest.Options, intercept func(w http.ResponseWriter, r *http.Request) bool) *zendesktest.Server {
	t.Helper()
	sim := zendesktest.New(opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			sim.Handler().ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	sim.URL = srv.URL
	return sim
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func TestEndlessOrCyclingListingsStop(t *testing.T) {
	ctx := context.Background()
	const maxPages = 5
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	// next names the cursor of the page after page n: always new (endless),
	// always the same (cycling), or no page at all but a claim of more.
	type pager func(n int64) (cursor string, items int)
	endless := func(n int64) (string, int) { return "c" + strconv.FormatInt(n, 10), 1 }
	cycling := func(int64) (string, int) { return "same", 1 }
	empty := func(n int64) (string, int) { return "c" + strconv.FormatInt(n, 10), 0 }
	commentsPage := func(next pager) func(w http.ResponseWriter, r *http.Request, n int64) {
		return func(w http.ResponseWriter, r *http.Request, n int64) {
			cur, items := next(n)
			list := []map[string]any{}
			for i := range items {
				list = append(list, map[string]any{"id": n*10 + int64(i), "type": "Comment", "author_id": 1, "body": "x", "public": true, "created_at": ts})
			}
			writeJSONBody(w, map[string]any{"comments": list, "users": []any{},
				"meta": map[string]any{"has_more": true, "after_cursor": cur}})
		}
	}
	exportPage := func(next pager) func(w http.ResponseWriter, r *http.Request, n int64) {
		return func(w http.ResponseWriter, r *http.Request, n int64) {
			cur, items := next(n)
			list := []map[string]any{}
			for range items {
				list = append(list, map[string]any{"id": n, "status": "open", "created_at": ts, "updated_at": ts, "custom_fields": []any{}})
			}
			writeJSONBody(w, map[string]any{"tickets": list, "after_cursor": cur, "end_of_stream": false})
		}
	}
	searchPage := func(next pager) func(w http.ResponseWriter, r *http.Request, n int64) {
		return func(w http.ResponseWriter, r *http.Request, n int64) {
			_, items := next(n)
			list := []map[string]any{}
			for range items {
				list = append(list, map[string]any{"id": n, "status": "open", "created_at": ts, "updated_at": ts, "custom_fields": []any{}})
			}
			writeJSONBody(w, map[string]any{"results": list, "next_page": "https://acme.zendesk.com/api/v2/search.json?page=" + strconv.FormatInt(n+1, 10)})
		}
	}
	tests := []struct {
		name    string
		path    string // the listing's path, answered by page
		page    func(w http.ResponseWriter, r *http.Request, n int64)
		call    func(crm *zendesk.Client, id string) error
		listing string
	}{
		{name: "comments whose cursor never ends stop at the page bound", path: "/comments",
			page: commentsPage(endless), listing: "comments.list",
			call: func(crm *zendesk.Client, id string) error { _, err := crm.ListComments(ctx, id); return err }},
		{name: "comments whose cursor repeats stop at the repeat", path: "/comments",
			page: commentsPage(cycling), listing: "attachments.list",
			call: func(crm *zendesk.Client, id string) error { _, err := crm.ListAttachments(ctx, id); return err }},
		{name: "comments and files listed in one go stop at the page bound", path: "/comments",
			page: commentsPage(endless), listing: "comments.list",
			call: func(crm *zendesk.Client, id string) error { _, _, err := crm.ListItems(ctx, id); return err }},
		{name: "an empty comment page that claims more stops the listing", path: "/comments",
			page: commentsPage(empty), listing: "attachments.download",
			call: func(crm *zendesk.Client, id string) error { _, err := crm.DownloadAttachment(ctx, id, "1"); return err }},
		{name: "an incremental export whose after_cursor never ends stops at the page bound", path: "/incremental/tickets/cursor",
			page: exportPage(endless), listing: "tickets.export",
			call: func(crm *zendesk.Client, _ string) error {
				_, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
				return err
			}},
		{name: "an incremental export whose after_cursor repeats stops at the repeat", path: "/incremental/tickets/cursor",
			page: exportPage(cycling), listing: "tickets.export",
			call: func(crm *zendesk.Client, _ string) error {
				_, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
				return err
			}},
		{name: "a search whose next_page never ends stops at the page bound", path: "/search",
			page: searchPage(endless), listing: "tickets.search",
			call: func(crm *zendesk.Client, _ string) error {
				_, _, err := crm.FindByGoogleCase(ctx, "projects/p/cases/1")
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pages atomic.Int64
			sim := misbehaving(t, zendesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(strings.TrimSuffix(r.URL.Path, ".json"), tc.path) {
					return false
				}
				tc.page(w, r, pages.Add(1))
				return true
			})
			crm := adapterFor(t, sim, func(c *zendesk.Config) { c.MaxPages = maxPages })
			id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
			done := make(chan error, 1)
			go func() { done <- tc.call(crm, id) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("the listing did not stop within 20 s (%d pages read)", pages.Load())
			}
			if !errors.Is(err, crmhttp.ErrPaging) {
				t.Fatalf("error %v; want one that is crmhttp.ErrPaging", err)
			}
			var pe *crmhttp.PagingError
			if !errors.As(err, &pe) || pe.Listing != tc.listing || !strings.Contains(err.Error(), tc.listing) {
				t.Errorf("error %v; want it to name the listing %s", err, tc.listing)
			}
			if !casesync.IsPermanent(err) {
				t.Errorf("error %v is not permanent; reading the same listing again would not end either", err)
			}
			if n := pages.Load(); n > maxPages {
				t.Errorf("read %d pages, more than the bound of %d", n, maxPages)
			}
		})
	}
}

func TestDownloadsAreBoundedByTheBytesRead(t *testing.T) {
	ctx := context.Background()
	const limit = 64 << 10
	listed := []byte("small file\n") // what the ticket lists: 11 bytes
	tests := []struct {
		name string
		// serve answers the file's download; nil leaves it to the simulator.
		serve     func(w http.ResponseWriter)
		listed    []byte // the file attached; default listed
		wantBytes int64  // bytes handed on: all of them, or at most this many before the error
		wantErr   bool
		wantAsks  int64 // requests for the file's content
	}{
		{name: "a file served as listed downloads whole",
			wantBytes: int64(len(listed)), wantAsks: 1},
		{name: "a file listed small but served larger without a length fails once the bound is passed",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "application/octet-stream")
				chunk := bytes.Repeat([]byte("x"), 8<<10)
				for range (4 * limit) / len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			wantBytes: limit, wantErr: true, wantAsks: 1},
		{name: "a file listed small but declaring a length over the bound is refused before it is read",
			serve: func(w http.ResponseWriter) {
				w.Header().Set("Content-Length", strconv.Itoa(4*limit))
				_, _ = w.Write(bytes.Repeat([]byte("x"), 4*limit))
			},
			wantBytes: 0, wantErr: true, wantAsks: 1},
		{name: "a file listed over the bound is not asked for",
			listed: bytes.Repeat([]byte("y"), limit+1), wantBytes: 0, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asks atomic.Int64
			sim := misbehaving(t, zendesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/attachments/token/") {
					return false
				}
				asks.Add(1)
				if tc.serve == nil {
					return false
				}
				tc.serve(w)
				return true
			})
			crm := adapterFor(t, sim, func(c *zendesk.Config) { c.MaxDownloadBytes = limit })
			id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			data := listed
			if tc.listed != nil {
				data = tc.listed
			}
			aid, err := sim.AddHumanAttachment(id, "Alice Agent", "f.bin", "application/octet-stream", data)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			rc, err := crm.DownloadAttachment(ctx, id, aid)
			if err == nil {
				n, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if tc.wantErr {
				var ae *casesync.APIError
				if !errors.Is(err, crmhttp.ErrTooLarge) || !errors.As(err, &ae) || ae.Transient {
					t.Errorf("error %v; want a permanent TooLarge error", err)
				}
			} else if err != nil {
				t.Errorf("DownloadAttachment: %v", err)
			}
			if tc.wantErr && n > tc.wantBytes || !tc.wantErr && n != tc.wantBytes {
				t.Errorf("%d bytes handed on; want %d (at most, when the download fails)", n, tc.wantBytes)
			}
			if got := asks.Load(); got != tc.wantAsks {
				t.Errorf("%d requests for the file's content, want %d", got, tc.wantAsks)
			}
		})
	}
}

func TestTheDownloadBoundDefaultsToTheAttachmentLimit(t *testing.T) {
	// MaxDownloadBytes unset: a file the attachment limit would refuse is
	// not downloaded either.
	sim, crm := newAdapter(t, zendesktest.Options{MaxAttachmentBytes: 1000}, nil)
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	aid, err := sim.AddHumanAttachment(id, "Alice Agent", "f.bin", "", bytes.Repeat([]byte("z"), 1000))
	if err != nil {
		t.Fatal(err)
	}
	small := adapterFor(t, sim, func(c *zendesk.Config) { c.MaxAttachmentBytes = 999 })
	_, err = small.DownloadAttachment(context.Background(), id, aid)
	if !errors.Is(err, crmhttp.ErrTooLarge) {
		t.Errorf("a 1000-byte file with a 999-byte attachment limit and no download bound: error %v, want TooLarge", err)
	}
	if _, err := crm.DownloadAttachment(context.Background(), id, aid); err != nil {
		t.Errorf("a 1000-byte file with a 1000-byte limit: %v", err)
	}
}
