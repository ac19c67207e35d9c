package freshdesk_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// TestReviewGoogleFilesLandInAPrivateNote: the port's UploadAttachment
// says nothing of visibility, and the engine lets an operator keep
// Google's comments internal (GOOGLE_COMMENTS_PUBLIC=false). A Google file
// posted as a public note is shown to the ticket's requester in the portal
// whatever that setting says; the other adapters (Zendesk, RT, Jira
// Service Management) put casebridge's uploads where agents alone see
// them.
func TestReviewGoogleFilesLandInAPrivateNote(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	up, err := crm.UploadAttachment(ctx, id, "google-diagnostics.txt", "text/plain", bytes.NewReader([]byte("internal trace\n")))
	if err != nil {
		t.Fatalf("UploadAttachment: %v", err)
	}
	v, err := sim.TicketState(id)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range v.Conversations {
		for _, f := range c.Files {
			if f.ID == up.ID {
				found = true
				if !c.Private {
					t.Errorf("the Google file %s was posted in a public note (private false): the requester sees it", up.ID)
				}
			}
		}
	}
	if !found {
		t.Fatalf("the uploaded file %s is on no conversation", up.ID)
	}
	if up.Public {
		t.Errorf("UploadAttachment reports the file Public; want it kept from the requester")
	}
}

// TestReviewAnAttachmentURLOnTheMetadataServerIsNeverDialed: an
// attachment_url is fetched from whatever host it names. Nothing in the
// answer should make casebridge, running in Google Cloud, reach the
// metadata server (or another link-local address): the file's bytes would
// then be copied to the Google case.
func TestReviewAnAttachmentURLOnTheMetadataServerIsNeverDialed(t *testing.T) {
	for _, target := range []string{
		"http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
		"http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
	} {
		t.Run(target, func(t *testing.T) {
			var mu sync.Mutex
			var dialed []string
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, _ := net.SplitHostPort(addr)
				if host == "127.0.0.1" {
					return dialer.DialContext(ctx, network, addr)
				}
				mu.Lock()
				dialed = append(dialed, addr)
				mu.Unlock()
				return nil, errors.New("test transport: not dialed")
			}}
			t.Cleanup(transport.CloseIdleConnections)
			sim := intercepted(t, freshdesktest.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/conversations") {
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`[{"id":5,"body_text":"see file","private":false,"incoming":false,"user_id":0,"source":0,` +
					`"attachments":[{"id":77,"name":"token.json","content_type":"application/json","size":10,` +
					`"attachment_url":"` + target + `","created_at":"2026-01-01T00:00:00Z"}],"created_at":"2026-01-01T00:00:00Z"}]`))
				return true
			}, nil)
			crm := adapterFor(t, sim, func(c *freshdesk.Config) {
				c.HTTP = &http.Client{Transport: transport}
				c.MaxRetryWait = time.Millisecond
			})
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			rc, err := crm.DownloadAttachment(context.Background(), id, "77")
			if err == nil {
				rc.Close()
				t.Errorf("DownloadAttachment succeeded; want the address refused")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(dialed) > 0 {
				t.Errorf("the adapter dialed %v for an attachment_url on the metadata server", dialed)
			}
		})
	}
}

// TestReviewABacklogOverTheTicketListCapCompletesAcrossPolls: Freshdesk
// caps the ticket list per minute well below the account's limit (20 a
// minute on Growth, 100 on Pro: crm-apis.md, rate-limits.apis.io), and
// answers 429 with a Retry-After up to a minute, longer than crmhttp waits
// in process. The first poll reaches back MaxCaseAge (30 days). A backlog
// needing more list pages than the cap allows in a minute must still be
// read across successive polls; SearchUpdated starts again from since
// every run, so it never gets past the cap.
func TestReviewABacklogOverTheTicketListCapCompletesAcrossPolls(t *testing.T) {
	const listCap = 4 // list requests a "minute"; 16 tickets in pages of 2 need about 15
	var window atomic.Int64
	clk := &steppingClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	sim := intercepted(t, freshdesktest.Options{Clock: clk.Now}, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v2/tickets" || window.Add(1) <= listCap {
			return false
		}
		w.Header().Set("Retry-After", "55")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"code":"rate_limit_exceeded","message":"You have exceeded the limit of requests per minute"}`))
		return true
	}, nil)
	crm := adapterFor(t, sim, nil)
	since := clk.Now().Add(-time.Minute)
	want := map[string]bool{}
	for i := range 16 {
		clk.Advance(time.Second)
		want[sim.CreateTicket(freshdesktest.Ticket{Subject: "t" + strconv.Itoa(i), Description: "d", SyncFlag: true})] = true
	}
	clk.Advance(10 * time.Second)

	ctx := context.Background()
	got := map[string]bool{}
	done := false
	var cursor string
	var lastErr error
	for run := 1; run <= 8 && !done; run++ {
		window.Store(0) // a minute passes between polls
		if rs, ok := any(crm).(casesync.ResumableSearchCRM); ok {
			cases, next, err := rs.SearchUpdatedStep(ctx, since, cursor, time.Now().Add(casesync.PollReadBudget))
			if err != nil {
				lastErr = err
				continue
			}
			for _, c := range cases {
				got[c.ID] = true
			}
			cursor, done = next, next == ""
			continue
		}
		cases, err := crm.SearchUpdated(ctx, since)
		if err != nil {
			lastErr = err
			continue
		}
		for _, c := range cases {
			got[c.ID] = true
		}
		done = true
	}
	if !done {
		t.Fatalf("8 polls, a minute apart, never finished reading %d changed tickets under a cap of %d list requests a minute; last error: %v",
			len(want), listCap, lastErr)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("ticket %s was never returned", id)
		}
	}
}
