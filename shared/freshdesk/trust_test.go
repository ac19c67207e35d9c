package freshdesk_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// intercepted serves the simulator's API and its file host behind
// handlers that may answer a request themselves (returning true), as a
// Freshdesk answering out of its documented bounds would.
func intercepted(t *testing.T, opts freshdesktest.Options, api, files func(w http.ResponseWriter, r *http.Request) bool) *freshdesktest.Server {
	t.Helper()
	var sim *freshdesktest.Server
	wrap := func(intercept func(w http.ResponseWriter, r *http.Request) bool, h func() http.Handler) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if intercept == nil || !intercept(w, r) {
				h().ServeHTTP(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	filesSrv := wrap(files, func() http.Handler { return sim.FilesHandler() })
	opts.FilesURL = filesSrv.URL
	sim = freshdesktest.New(opts)
	sim.URL = wrap(api, func() http.Handler { return sim.Handler() }).URL
	return sim
}

func TestTheAPIKeyNeverReachesTheFileHost(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	sim := intercepted(t, freshdesktest.Options{}, nil, func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		return false
	})
	crm := adapterFor(t, sim, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	aid, err := sim.AddHumanAttachment(id, "Alice Agent", "f.txt", "text/plain", []byte("x\n"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := crm.DownloadAttachment(context.Background(), id, aid)
	if err != nil {
		t.Fatalf("DownloadAttachment: %v", err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "x\n" {
		t.Errorf("downloaded %q", data)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "" {
		t.Errorf("the file host got Authorization headers %q; want one request without any", seen)
	}
}

func TestANextPageOnAnotherHostIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(other.Close)
	sim := intercepted(t, freshdesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/conversations") {
			w.Header().Set("Link", "<"+other.URL+"/api/v2/tickets/1/conversations?page=2>; rel=\"next\"")
		}
		return false
	}, nil)
	crm := adapterFor(t, sim, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	if _, err := sim.AddHumanComment(id, "Alice Agent", "hello", true); err != nil {
		t.Fatal(err)
	}
	_, err := crm.ListComments(context.Background(), id)
	if err == nil || !casesync.IsPermanent(err) {
		t.Errorf("ListComments = %v; want a permanent error", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("%d requests went to the other host", n)
	}
}

func TestEndlessOrCyclingConversationPagesStop(t *testing.T) {
	const maxPages = 5
	for _, tc := range []struct {
		name string
		next func(base string, n int64) string
	}{
		{"a next link that never ends stops at the page bound", func(base string, n int64) string {
			return base + "/api/v2/tickets/1/conversations?page=" + strconv.FormatInt(n+1, 10)
		}},
		{"a next link that repeats stops at the repeat", func(base string, _ int64) string {
			return base + "/api/v2/tickets/1/conversations?page=2"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages atomic.Int64
			var sim *freshdesktest.Server
			sim = intercepted(t, freshdesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/conversations") {
					return false
				}
				n := pages.Add(1)
				w.Header().Set("Link", "<"+tc.next(sim.URL, n)+">; rel=\"next\"")
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`[{"id":` + strconv.FormatInt(n, 10) + `,"body_text":"x","private":false,"user_id":1,"created_at":"2026-01-01T00:00:00Z"}]`))
				return true
			}, nil)
			crm := adapterFor(t, sim, func(c *freshdesk.Config) { c.MaxPages = maxPages })
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			_, _, err := crm.ListItems(context.Background(), id)
			if !errors.Is(err, crmhttp.ErrPaging) || !casesync.IsPermanent(err) {
				t.Fatalf("ListItems = %v; want a permanent paging error", err)
			}
			if n := pages.Load(); n > maxPages {
				t.Errorf("read %d pages, more than the bound of %d", n, maxPages)
			}
		})
	}
}

func TestEscalationTextOverTheLimitIsDropped(t *testing.T) {
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	long := strings.Repeat("x", casesync.MaxEscalationText+1)
	if err := sim.SetHumanFields(id, map[string]any{freshdesktest.FieldEscalate: true,
		freshdesktest.FieldEscalationReason: "Business impact", freshdesktest.FieldEscalationJustification: long}); err != nil {
		t.Fatal(err)
	}
	c, err := crm.GetCase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := casesync.EscalationRequest{Requested: true, Reason: "Business impact"}
	if c.Escalation != want {
		t.Errorf("Escalation = %+v, want %+v (the over-long justification dropped)", c.Escalation, want)
	}
}

func TestDownloadsAreBoundedByTheBytesRead(t *testing.T) {
	const limit = 64 << 10
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter)
	}{
		{"a file listed small but served larger without a length fails once the bound is passed", func(w http.ResponseWriter) {
			for range 4 * limit / (8 << 10) {
				if _, err := w.Write(bytes.Repeat([]byte("x"), 8<<10)); err != nil {
					return
				}
			}
		}},
		{"a file declaring a length over the bound is refused before it is read", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(4*limit))
			_, _ = w.Write(bytes.Repeat([]byte("x"), 4*limit))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := intercepted(t, freshdesktest.Options{}, nil, func(w http.ResponseWriter, r *http.Request) bool {
				tc.serve(w)
				return true
			})
			crm := adapterFor(t, sim, func(c *freshdesk.Config) { c.MaxDownloadBytes = limit })
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			aid, err := sim.AddHumanAttachment(id, "Alice Agent", "f.bin", "", []byte("small\n"))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			rc, err := crm.DownloadAttachment(context.Background(), id, aid)
			if err == nil {
				n, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if !errors.Is(err, crmhttp.ErrTooLarge) || casesync.IsTransient(err) || n > limit {
				t.Errorf("%d bytes, error %v; want at most %d and a permanent TooLarge error", n, err, limit)
			}
		})
	}
	t.Run("a file listed over the bound is not asked for", func(t *testing.T) {
		var asks atomic.Int64
		sim := intercepted(t, freshdesktest.Options{}, nil, func(http.ResponseWriter, *http.Request) bool { asks.Add(1); return false })
		crm := adapterFor(t, sim, func(c *freshdesk.Config) { c.MaxDownloadBytes = 10 })
		id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
		aid, _ := sim.AddHumanAttachment(id, "Alice Agent", "f.bin", "", []byte("eleven byte"))
		_, err := crm.DownloadAttachment(context.Background(), id, aid)
		if !errors.Is(err, crmhttp.ErrTooLarge) || asks.Load() != 0 {
			t.Errorf("error %v after %d file requests; want TooLarge and none", err, asks.Load())
		}
	})
}

func TestTheTicketsOwnFilesArePublicAndPrivateNotesFilesAreNot(t *testing.T) {
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d",
		Files: []freshdesktest.File{{Name: "opening.log", ContentType: "text/plain", Data: []byte("log\n")}}})
	internal, err := sim.AddHumanInternalAttachment(id, "Alice Agent", "secret.txt", "text/plain", []byte("agents only\n"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sim.TicketState(id)
	list, err := crm.ListAttachments(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range list {
		got[a.ID] = a.Public
	}
	if len(got) != 2 || !got[v.Files[0].ID] || got[internal] {
		t.Errorf("Public by file id = %v; want the ticket's own file %s public and the note's %s not", got, v.Files[0].ID, internal)
	}
}

func TestAClosedStatusInTheMappingIsRefusedByNew(t *testing.T) {
	_, err := freshdesk.New(freshdesk.Config{BaseURL: "https://acme.freshdesk.com", APIKey: "k",
		StateStatuses: map[string]int{"SOLUTION_PROVIDED": freshdesk.StatusResolved}})
	if err == nil {
		t.Errorf("New accepted a state mapped to Resolved, which counts as closed")
	}
}
