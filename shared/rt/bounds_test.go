package rt_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/rt"
)

// rest2Server answers REST2 as RT 5 shapes it, for the records the
// adapter's listings read: the sync user, ticket 1, and collections
// (/tickets, /ticket/1/history, /ticket/1/attachments,
// /transaction/{id}/attachments). How the collections page is up to
// collection, given the page number asked for; listings counts their calls.
type rest2Server struct {
	collection func(page int) (answeredPage int, ids []int)
	listings   atomic.Int64
}

func (s *rest2Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/REST/2.0")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case strings.HasPrefix(p, "/user/"):
		fmt.Fprint(w, `{"id":"gcp-sync","Name":"gcp-sync","RealName":"Sync User"}`)
	case p == "/ticket/1":
		fmt.Fprint(w, `{"id":1,"Subject":"s","Status":"open","Priority":"0","Created":"2026-01-01T00:00:00Z","LastUpdated":"2026-01-01T00:00:00Z","CustomFields":[]}`)
	case p == "/tickets" || p == "/ticket/1/history" || p == "/ticket/1/attachments" || strings.HasPrefix(p, "/transaction/"):
		s.listings.Add(1)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		answered, ids := s.collection(page)
		if perPage == 1 && len(ids) > 1 {
			ids = ids[:1] // the description's single Create transaction
		}
		items := []map[string]any{}
		for _, id := range ids {
			// One record that reads as a ticket, a transaction and a part:
			// the adapter reads each collection with its own fields.
			items = append(items, map[string]any{
				"type": "transaction", "id": id, "_url": fmt.Sprintf("http://%s/REST/2.0/transaction/%d", r.Host, id),
				"Type": "Create", "Created": "2026-01-01T00:00:00Z", "LastUpdated": "2026-01-01T00:00:00Z",
				"Creator":       map[string]any{"type": "user", "id": "human-alice", "Name": "human-alice", "RealName": "Alice"},
				"TransactionId": map[string]any{"type": "transaction", "id": id},
				"ContentType":   "text/plain", "Content": "text", "Subject": "s", "Status": "open", "Priority": "0",
				"CustomFields": []any{map[string]any{"name": "GCP Sync", "values": []string{"yes"}}},
			})
		}
		json.NewEncoder(w).Encode(map[string]any{
			"count": len(items), "per_page": perPage, "page": answered, "total": nil, "pages": nil, "items": items,
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found"}`)
	}
}

func serverClient(t *testing.T, h http.Handler, edit func(*rt.Config)) *rt.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := rt.Config{BaseURL: srv.URL, Token: "1-28-secret", PageSize: 10}
	if edit != nil {
		edit(&cfg)
	}
	c, err := rt.New(cfg)
	if err != nil {
		t.Fatalf("rt.New: %v", err)
	}
	return c
}

func TestEveryListingStopsOnAnEndlessOrRepeatingServer(t *testing.T) {
	const maxPages = 5
	servers := []struct {
		name string
		// collection answers page (the page asked for).
		collection func(page int) (int, []int)
	}{
		{"a server with a new page forever", func(page int) (int, []int) { return page, []int{page*10 + 1, page*10 + 2} }},
		{"a server that answers its first page again", func(int) (int, []int) { return 1, []int{11, 12} }},
		{"a server that numbers its pages on but repeats their records", func(page int) (int, []int) { return page, []int{11, 12} }},
	}
	listings := []struct {
		name    string
		listing string
		call    func(context.Context, *rt.Client) error
	}{
		{"the ticket search", rt.OpSearch, func(ctx context.Context, c *rt.Client) error {
			_, err := c.SearchUpdated(ctx, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		}},
		{"the search by Google case", rt.OpSearch, func(ctx context.Context, c *rt.Client) error {
			_, _, err := c.FindByGoogleCase(ctx, "projects/1/cases/2")
			return err
		}},
		{"a ticket's history", rt.OpHistory, func(ctx context.Context, c *rt.Client) error {
			_, err := c.ListComments(ctx, "1")
			return err
		}},
		{"a ticket's history read for its comments and files in one go", rt.OpHistory, func(ctx context.Context, c *rt.Client) error {
			_, _, err := c.ListItems(ctx, "1")
			return err
		}},
		{"a ticket's parts", rt.OpAttachments, func(ctx context.Context, c *rt.Client) error {
			_, err := c.ListAttachments(ctx, "1")
			return err
		}},
		{"a ticket's parts before a download", rt.OpAttachments, func(ctx context.Context, c *rt.Client) error {
			_, err := c.DownloadAttachment(ctx, "1", "7")
			return err
		}},
		{"a transaction's parts", rt.OpTransaction, func(ctx context.Context, c *rt.Client) error {
			_, err := c.GetCase(ctx, "1")
			return err
		}},
	}
	for _, srv := range servers {
		for _, l := range listings {
			t.Run(l.name+" stops on "+srv.name+", naming the listing", func(t *testing.T) {
				s := &rest2Server{collection: srv.collection}
				c := serverClient(t, s, func(c *rt.Config) { c.MaxPages = maxPages })
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err := l.call(ctx, c)
				if !errors.Is(err, crmhttp.ErrPaging) {
					t.Fatalf("error = %v, want a paging error (crmhttp.ErrPaging)", err)
				}
				var ae *casesync.APIError
				if !errors.As(err, &ae) || ae.Transient {
					t.Errorf("error = %#v, want a permanent APIError", err)
				}
				if !strings.Contains(err.Error(), "listing "+l.listing+" ") {
					t.Errorf("error %q does not name the listing %s", err, l.listing)
				}
				// The history listing of ListAttachments, the ticket's parts
				// before a transaction's, and the one listing that failed:
				// each is bounded by maxPages.
				if n := s.listings.Load(); n > 2*maxPages {
					t.Errorf("the server answered %d listing calls; %d pages at most per listing were allowed", n, maxPages)
				}
			})
		}
	}
	t.Run("a listing that ends with an empty page after short ones is read whole", func(t *testing.T) {
		// RT hides records after cutting a page, so short pages go on.
		s := &rest2Server{collection: func(page int) (int, []int) {
			if page > 3 {
				return page, nil
			}
			return page, []int{page*10 + 1}
		}}
		c := serverClient(t, s, func(c *rt.Config) { c.MaxPages = maxPages })
		got, err := c.SearchUpdated(context.Background(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		if len(got) != 3 {
			t.Errorf("SearchUpdated found %d tickets, want 3", len(got))
		}
	})
}

// lyingFileServer lists attachment 7 of ticket 1 as a 10-byte file and
// serves it, in GET /attachment/7's shape (base64 in JSON, a line break
// per 76 characters), as served bytes; declared says whether the answer
// gives its length (otherwise it is chunked). It never holds the file:
// one base64 line is written over and over.
type lyingFileServer struct {
	served   int64
	declared bool
	// listed is the size the listing gives; 0 means 10.
	listed    int64
	downloads atomic.Int64
}

func (s *lyingFileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch r.URL.Path {
	case "/REST/2.0/ticket/1/attachments":
		if r.URL.Query().Get("page") != "1" {
			fmt.Fprint(w, `{"count":0,"page":2,"per_page":100,"total":null,"pages":null,"items":[]}`)
			return
		}
		fmt.Fprint(w, `{"count":1,"page":1,"per_page":100,"total":null,"pages":null,"items":[`+
			`{"type":"attachment","id":7,"TransactionId":{"type":"transaction","id":5},"Filename":"small.bin",`+
			`"ContentType":"application/octet-stream","ContentLength":"`+strconv.FormatInt(cmp.Or(s.listed, 10), 10)+`","Created":"2026-01-01T00:00:00Z",`+
			`"Creator":{"type":"user","id":"human-alice","Name":"human-alice"},"Headers":""}]}`)
	case "/REST/2.0/attachment/7":
		s.downloads.Add(1)
		line := base64.StdEncoding.EncodeToString(make([]byte, 57)) + `\n`
		lines := s.served / 57
		head := `{"id":7,"Filename":"small.bin","ContentType":"application/octet-stream","Content":"`
		tail := `"}`
		if s.declared {
			w.Header().Set("Content-Length", strconv.FormatInt(int64(len(head)+len(tail))+lines*int64(len(line)), 10))
		}
		io.WriteString(w, head)
		for range lines {
			if _, err := io.WriteString(w, line); err != nil {
				return // the client stopped reading
			}
		}
		io.WriteString(w, tail)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found"}`)
	}
}

func TestADownloadServedLargerThanListedStopsAtTheLimitWithFlatMemory(t *testing.T) {
	const limit = 1 << 20
	const served = 48 << 20
	const allocBudget = 6 << 20
	tests := []struct {
		name     string
		declared bool
	}{
		{"a 10-byte file served as 48 MiB in a chunked answer", false},
		{"a 10-byte file served as 48 MiB in an answer that declares its length", true},
	}
	for _, tc := range tests {
		t.Run(tc.name+" fails as too large", func(t *testing.T) {
			c := serverClient(t, &lyingFileServer{served: served, declared: tc.declared}, func(c *rt.Config) { c.MaxDownloadBytes = limit })
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var n int64
			rc, err := c.DownloadAttachment(context.Background(), "1", "7")
			if err == nil {
				n, err = io.CopyBuffer(io.Discard, rc, make([]byte, 32<<10))
				rc.Close()
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, crmhttp.ErrTooLarge) {
				t.Fatalf("download error = %v, want the TooLarge error", err)
			}
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Transient || ae.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("error = %#v, want a permanent 413 APIError", err)
			}
			if n > limit {
				t.Errorf("%d bytes were handed on; the limit is %d", n, limit)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("the refused download allocated %.1f MiB", float64(alloc)/(1<<20))
			if alloc > allocBudget {
				t.Errorf("the refused download allocated %d bytes; a streamed one stays under %d", alloc, allocBudget)
			}
		})
	}
}

func TestAFileListedLargerThanTheLimitIsRefusedBeforeItsDownload(t *testing.T) {
	const limit = 1 << 20
	srv := &lyingFileServer{served: 2 << 20, listed: 2 << 20, declared: true}
	c := serverClient(t, srv, func(c *rt.Config) { c.MaxDownloadBytes = limit })
	_, err := c.DownloadAttachment(context.Background(), "1", "7")
	if !errors.Is(err, crmhttp.ErrTooLarge) {
		t.Fatalf("DownloadAttachment error = %v, want the TooLarge error", err)
	}
	if n := srv.downloads.Load(); n != 0 {
		t.Errorf("the file was asked for %d times; its listed size is over the limit", n)
	}
}
