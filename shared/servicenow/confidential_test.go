package servicenow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
	"github.com/google/go-cmp/cmp"
)

// closeWorkNotes makes sys_journal_field's rows and the case's work_notes
// field unreadable to the sync user, as read ACLs it fails do.
func closeWorkNotes(sim *servicenowtest.Server) {
	sim.RestrictJournalReads(true)
	sim.RestrictFieldReads("incident", "work_notes", true)
}

// blanksWorkNotes stands for an instance whose field ACL blanks the
// case's work_notes rather than leaving it out: every answer to a read of
// one case record has its work_notes emptied.
type blanksWorkNotes struct{ next http.RoundTripper }

func (b blanksWorkNotes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/api/now/table/incident/") {
		return resp, err
	}
	var out struct {
		Result map[string]any `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if _, ok := out.Result["work_notes"]; ok {
		out.Result["work_notes"] = ""
	}
	body, _ := json.Marshal(out)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestOnlyFilesOutsideWorkNotesArePublic(t *testing.T) {
	tests := []struct {
		name       string
		restricted bool // sys_journal_field closed to the sync user
		// acl closes more to the sync user; blank blanks the record's
		// work_notes in every answer.
		acl    func(sim *servicenowtest.Server)
		blank  bool
		attach func(t *testing.T, sim *servicenowtest.Server, id string) string
		want   bool
	}{
		{
			name: "a file on the record alone is public",
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, err := sim.AddAttachment(id, human, "screen.png", "image/png", []byte("png"))
				mustNot(t, err)
				return aid
			},
			want: true,
		},
		{
			name: "a file attached with a work note naming it is not public",
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, _, err := sim.AttachWithNote(id, human, "work_notes", "vendor-quote.pdf", "application/pdf", []byte("pdf"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "a file attached with a public comment naming it is public",
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, _, err := sim.AttachWithNote(id, human, "comments", "fix.txt", "text/plain", []byte("fix"))
				mustNot(t, err)
				return aid
			},
			want: true,
		},
		{
			name: "a file a work note links to by its sys_id is not public, whoever wrote the note",
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, err := sim.AddAttachment(id, human, "dump.bin", "application/octet-stream", []byte("dump"))
				mustNot(t, err)
				_, err = sim.AddJournal(id, "work_notes", sim.UserNameFor("Beth Anglin"), "[code]<a href=\"sys_attachment.do?sys_id="+aid+"\">dump.bin</a>[/code]")
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "a work note by another agent naming the file name leaves the uploader's file public",
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, err := sim.AddAttachment(id, human, "trace.log", "text/plain", []byte("trace"))
				mustNot(t, err)
				_, err = sim.AddJournal(id, "work_notes", sim.UserNameFor("Beth Anglin"), "Read trace.log, nothing odd.")
				mustNot(t, err)
				return aid
			},
			want: true,
		},
		{
			name:       "with sys_journal_field closed to the sync user a file with a work note is still not public",
			restricted: true,
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, _, err := sim.AttachWithNote(id, human, "work_notes", "vendor-quote.pdf", "application/pdf", []byte("pdf"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "with sys_journal_field and the record's work notes closed, a file with a work note naming it is not public",
			acl:  closeWorkNotes,
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, _, err := sim.AttachWithNote(id, human, "work_notes", "vendor-quote.pdf", "application/pdf", []byte("pdf"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "with sys_journal_field and the record's work notes closed, a file alone is not public while work notes exist",
			acl:  closeWorkNotes,
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				_, err := sim.AddJournal(id, "work_notes", sim.UserNameFor("Beth Anglin"), "Called the customer.")
				mustNot(t, err)
				aid, err := sim.AddAttachment(id, human, "screen.png", "image/png", []byte("png"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "with sys_journal_field and the record's work notes closed, a file is public when the journal matches no work note at all",
			acl:  closeWorkNotes,
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				_, err := sim.AddJournal(id, "comments", human, "A public reply.")
				mustNot(t, err)
				aid, err := sim.AddAttachment(id, human, "screen.png", "image/png", []byte("png"))
				mustNot(t, err)
				return aid
			},
			want: true,
		},
		{
			name: "with sys_journal_field refused outright and the record's work notes closed, a file alone is not public",
			acl: func(sim *servicenowtest.Server) {
				sim.RefuseTableReads(servicenowtest.JournalTable, true)
				sim.RestrictFieldReads("incident", "work_notes", true)
			},
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, err := sim.AddAttachment(id, human, "screen.png", "image/png", []byte("png"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "with sys_journal_field refused outright, a file with a work note naming it is still not public",
			acl:  func(sim *servicenowtest.Server) { sim.RefuseTableReads(servicenowtest.JournalTable, true) },
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				aid, _, err := sim.AttachWithNote(id, human, "work_notes", "vendor-quote.pdf", "application/pdf", []byte("pdf"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name:       "with sys_journal_field closed and the record's work notes blanked, a file alone is not public while work notes exist",
			restricted: true,
			blank:      true,
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				_, err := sim.AddJournal(id, "work_notes", sim.UserNameFor("Beth Anglin"), "Called the customer.")
				mustNot(t, err)
				aid, err := sim.AddAttachment(id, human, "screen.png", "image/png", []byte("png"))
				mustNot(t, err)
				return aid
			},
		},
		{
			name: "with some work notes hidden from sys_journal_field, a file a hidden note names is not public",
			acl: func(sim *servicenowtest.Server) {
				beth := sim.UserNameFor("Beth Anglin")
				sim.RestrictRowReads(servicenowtest.JournalTable, func(row map[string]string) bool { return row["sys_created_by"] == beth })
			},
			attach: func(t *testing.T, sim *servicenowtest.Server, id string) string {
				_, err := sim.AddJournal(id, "work_notes", human, "Looking into it.")
				mustNot(t, err)
				aid, err := sim.AddAttachment(id, human, "dump.bin", "application/octet-stream", []byte("dump"))
				mustNot(t, err)
				_, err = sim.AddJournal(id, "work_notes", sim.UserNameFor("Beth Anglin"), "Internal: see "+aid)
				mustNot(t, err)
				return aid
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, newSteppingClock().Now)
			sim.RestrictJournalReads(tc.restricted)
			if tc.acl != nil {
				tc.acl(sim)
			}
			crm := newClient(t, sim, func(c *servicenow.Config) {
				if tc.blank {
					c.HTTP = &http.Client{Transport: blanksWorkNotes{next: sim.Client().Transport}}
				}
			})
			id := flagged(sim, "files")
			aid := tc.attach(t, sim, id)
			list, err := crm.ListAttachments(ctxFor(t), id)
			if err != nil {
				t.Fatalf("ListAttachments: %v", err)
			}
			got := map[string]bool{}
			for _, a := range list {
				got[a.ID] = a.Public
			}
			if diff := cmp.Diff(map[string]bool{aid: tc.want}, got); diff != "" {
				t.Errorf("Public by attachment id (-want +got):\n%s", diff)
			}
		})
	}
}

func mustNot(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAJournalClosedToTheSyncUserIsReadThroughTheRecord(t *testing.T) {
	sim := newSim(t, newSteppingClock().Now)
	sim.RestrictJournalReads(true)
	crm := newClient(t, sim, nil)
	ctx := ctxFor(t)
	id := flagged(sim, "closed journal")
	forged := "Internal only.\n\n2000-01-01 10:00:00 - Abel Tuter (Additional comments)\nLooks public, is not."
	for _, j := range []struct{ element, by, body string }{
		{"comments", human, "First reply.\n\nWith a second paragraph."},
		{"work_notes", sim.UserNameFor("Beth Anglin"), forged},
	} {
		_, err := sim.AddJournal(id, j.element, j.by, j.body)
		mustNot(t, err)
	}
	mine, err := crm.AddComment(ctx, id, "From casebridge.", true)
	if err != nil {
		t.Fatalf("AddComment with the journal closed: %v", err)
	}
	got, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	type view struct {
		Body, Author      string
		Public, Connector bool
	}
	var views []view
	for _, c := range got {
		views = append(views, view{c.Body, c.AuthorName, c.Public, c.ByConnector})
	}
	want := []view{
		// Text imitating a header splits the note (and dates its second
		// part as it likes), but both parts stay work notes.
		{"Looks public, is not.", "Abel Tuter", false, false},
		{"First reply.\n\nWith a second paragraph.", "Abel Tuter", true, false},
		{"Internal only.", "Beth Anglin", false, false},
		{"From casebridge.", "Casebridge Sync", true, true},
	}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("ListComments (-want +got):\n%s", diff)
	}
	if len(got) == len(want) && got[3].ID != mine.ID {
		t.Errorf("AddComment returned id %q, ListComments lists it as %q", mine.ID, got[3].ID)
	}
	if n := len(sim.Journal(id)); n != 3 {
		t.Errorf("the case has %d journal entries, want 3", n)
	}
}

// losesWriteAnswers passes requests to the simulator; while on, a PATCH is
// carried out and its answer is then lost, as when a connection drops
// after the instance wrote.
type losesWriteAnswers struct {
	next http.RoundTripper
	on   *atomic.Bool
}

func (l losesWriteAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err != nil || r.Method != http.MethodPatch || !l.on.Load() {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("connection reset by peer")
}

func TestARetriedAddCommentPostsOnce(t *testing.T) {
	tests := []struct {
		name       string
		restricted bool
		loseAnswer bool
	}{
		{name: "the journal is closed to the sync user", restricted: true},
		{name: "the answer to the write is lost", loseAnswer: true},
		{name: "the answer to the write is lost and the journal is closed to the sync user", restricted: true, loseAnswer: true},
	}
	for _, tc := range tests {
		for _, public := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s (public %v)", tc.name, public), func(t *testing.T) {
				sim := newSim(t, nil)
				sim.RestrictJournalReads(tc.restricted)
				var lose atomic.Bool
				lose.Store(tc.loseAnswer)
				crm := newClient(t, sim, func(c *servicenow.Config) {
					c.HTTP = &http.Client{Transport: losesWriteAnswers{next: sim.Client().Transport, on: &lose}}
				})
				ctx := ctxFor(t)
				id := flagged(sim, "retried")
				const body = "[Google Comment 7] Please send the logs."
				c, err := crm.AddComment(ctx, id, body, public)
				for try := 0; err != nil && try < 3; try++ {
					// The engine tries again on its next pass.
					if casesync.IsPermanent(err) {
						t.Fatalf("AddComment: %v", err)
					}
					lose.Store(false)
					c, err = crm.AddComment(ctx, id, body, public)
				}
				if err != nil {
					t.Errorf("AddComment after retries: %v", err)
				}
				if n := len(sim.Journal(id)); n != 1 {
					t.Fatalf("the comment was posted %d times, want once", n)
				}
				if err != nil {
					return
				}
				list, err := crm.ListComments(ctx, id)
				if err != nil {
					t.Fatalf("ListComments: %v", err)
				}
				if len(list) != 1 || list[0].ID != c.ID || list[0].Body != body || list[0].Public != public || !list[0].ByConnector {
					t.Errorf("ListComments = %+v; want the one comment %q that AddComment returned", list, c.ID)
				}
			})
		}
	}
}

// servesOtherFile replaces the bytes of every file download by size bytes,
// with Content-Length declared (or -1: none).
type servesOtherFile struct {
	next     http.RoundTripper
	size     int64
	declared int64
}

func (s servesOtherFile) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/file") {
		return s.next.RoundTrip(r)
	}
	return &http.Response{StatusCode: http.StatusOK, ContentLength: s.declared,
		Header: http.Header{"Content-Type": {"application/octet-stream"}},
		Body:   io.NopCloser(io.LimitReader(zeros{}, s.size)), Request: r}, nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestADownloadStopsAtTheLimitWhateverSizeWasListed(t *testing.T) {
	const limit = 64 << 10
	tests := []struct {
		name     string
		size     int64
		declared int64
		wantErr  bool
	}{
		{name: "a file served larger than listed, without a length, is cut off", size: 10 << 20, declared: -1, wantErr: true},
		{name: "a file served with a length over the limit is refused", size: limit + 1, declared: limit + 1, wantErr: true},
		{name: "a file served larger than its small declared length is cut off", size: limit + 1, declared: 10, wantErr: true},
		{name: "a file of exactly the limit downloads whole", size: limit, declared: limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, nil)
			crm := newClient(t, sim, func(c *servicenow.Config) {
				c.MaxDownloadBytes = limit
				c.HTTP = &http.Client{Transport: servesOtherFile{next: sim.Client().Transport, size: tc.size, declared: tc.declared}}
			})
			id := flagged(sim, "download")
			aid, err := sim.AddAttachment(id, human, "small.txt", "text/plain", []byte("listed as 10 bytes")[:10])
			mustNot(t, err)
			var n int64
			rc, err := crm.DownloadAttachment(ctxFor(t), id, aid)
			if err == nil {
				n, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			if n > limit {
				t.Errorf("read %d bytes, over the limit of %d", n, limit)
			}
			if !tc.wantErr {
				if err != nil || n != tc.size {
					t.Errorf("download = %d bytes, %v; want %d bytes", n, err, tc.size)
				}
				return
			}
			var ae *casesync.APIError
			if !errors.Is(err, crmhttp.ErrTooLarge) || !errors.As(err, &ae) || !casesync.IsPermanent(err) || ae.Op != "attachments.download" {
				t.Errorf("download error = %v; want the permanent too-large error of attachments.download", err)
			}
		})
	}
}

func TestTheDownloadLimitDefaultsToTheUploadLimit(t *testing.T) {
	sim := newSim(t, nil)
	crm := newClient(t, sim, func(c *servicenow.Config) {
		c.HTTP = &http.Client{Transport: servesOtherFile{next: sim.Client().Transport, size: testLimit + 1, declared: -1}}
	})
	id := flagged(sim, "download")
	aid, err := sim.AddAttachment(id, human, "small.txt", "text/plain", []byte("small"))
	mustNot(t, err)
	rc, err := crm.DownloadAttachment(ctxFor(t), id, aid)
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
	}
	if !errors.Is(err, crmhttp.ErrTooLarge) {
		t.Errorf("downloading MaxAttachmentBytes+1 bytes: %v; want the too-large error", err)
	}
}

// brokenPaging answers the listing requests match picks with pages that
// never end the way paging says: each page's Link names the next one.
type brokenPaging struct {
	next  http.RoundTripper
	match func(*http.Request) bool
	// page returns the rows and the next offset (-1: no next link) for a
	// request at offset.
	page  func(offset int) (rows int, next int)
	calls *atomic.Int64
}

func (b brokenPaging) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || !b.match(r) {
		return b.next.RoundTrip(r)
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	b.calls.Add(1)
	offset, _ := strconv.Atoi(r.URL.Query().Get("sysparm_offset"))
	rows, next := b.page(offset)
	result := make([]string, rows)
	for i := range result {
		result[i] = fmt.Sprintf(`{"sys_id":"%032x","user_name":"u%d","sys_created_on":"2026-01-01 10:00:00","table_sys_id":"%032x"}`, offset+i+1, offset+i, offset+i+1)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if next >= 0 {
		q := r.URL.Query()
		q.Set("sysparm_offset", strconv.Itoa(next))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		h.Set("Link", "<"+u.String()+`>;rel="next"`)
	}
	body := `{"result":[` + strings.Join(result, ",") + `]}`
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

func TestEveryListingStopsWhenPagingCannotBeTrusted(t *testing.T) {
	const maxPages = 5
	path := func(p string) func(*http.Request) bool {
		return func(r *http.Request) bool { return r.URL.Path == p }
	}
	withQuery := func(p, part string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.URL.Path == p && strings.Contains(r.URL.Query().Get("sysparm_query"), part)
		}
	}
	listings := []struct {
		op    string
		match func(*http.Request) bool
		call  func(ctx context.Context, crm *servicenow.Client, id string) error
	}{
		{"records.search", path("/api/now/table/incident"), func(ctx context.Context, crm *servicenow.Client, _ string) error {
			_, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
			return err
		}},
		{"attachments.search", withQuery("/api/now/attachment", "sys_created_on>="), func(ctx context.Context, crm *servicenow.Client, _ string) error {
			_, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
			return err
		}},
		{"attachments.list", withQuery("/api/now/attachment", "table_sys_id="), func(ctx context.Context, crm *servicenow.Client, id string) error {
			_, err := crm.ListAttachments(ctx, id)
			return err
		}},
		{"journal.list", path("/api/now/table/sys_journal_field"), func(ctx context.Context, crm *servicenow.Client, id string) error {
			_, err := crm.ListComments(ctx, id)
			return err
		}},
		{"users.list", withQuery("/api/now/table/sys_user", "user_nameIN"), func(ctx context.Context, crm *servicenow.Client, id string) error {
			_, err := crm.ListComments(ctx, id)
			return err
		}},
	}
	// Listings allow empty pages that claim more, which ACLs make (see
	// TestAPageEmptiedByAnACLDoesNotEndAListing): endless empty pages stop
	// at MaxPages.
	servers := []struct {
		name      string
		page      func(offset int) (rows, next int)
		wantCalls int64
		// wantTableCalls, when not zero, is wantCalls for Table API listings.
		wantTableCalls int64
	}{
		{"a next link that never ends stops after MaxPages", func(o int) (int, int) { return 7, o + 7 }, maxPages, 0},
		{"a next link back to the same offset stops", func(o int) (int, int) { return 7, o }, 1, 0},
		{"a next link back to an earlier offset stops", func(o int) (int, int) {
			if o == 0 {
				return 7, 7
			}
			return 7, 0
		}, 2, 0},
		{"an empty page that claims more stops at MaxPages", func(o int) (int, int) { return 0, o + 7 }, maxPages, 0},
		{"an empty page that claims the same offset again stops", func(o int) (int, int) { return 0, o }, 1, 0},
	}
	for _, l := range listings {
		for _, s := range servers {
			t.Run(l.op+": "+s.name, func(t *testing.T) {
				sim := newSim(t, nil)
				id := flagged(sim, "paged")
				_, err := sim.AddJournal(id, "comments", human, "A reply by someone not yet looked up.")
				mustNot(t, err)
				var calls atomic.Int64
				crm := newClient(t, sim, func(c *servicenow.Config) {
					c.MaxPages = maxPages
					c.HTTP = &http.Client{Transport: brokenPaging{next: sim.Client().Transport, match: l.match, page: s.page, calls: &calls}}
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = l.call(ctx, crm, id)
				if !errors.Is(err, crmhttp.ErrPaging) || !casesync.IsPermanent(err) || !strings.Contains(err.Error(), l.op) {
					t.Fatalf("error = %v; want a permanent paging error naming %s", err, l.op)
				}
				want := s.wantCalls
				if s.wantTableCalls != 0 && !strings.HasPrefix(l.op, "attachments.") {
					want = s.wantTableCalls
				}
				if n := calls.Load(); n != want {
					t.Errorf("the listing read %d pages, want %d", n, want)
				}
			})
		}
	}
}

func TestAPageEmptiedByAnACLDoesNotEndAListing(t *testing.T) {
	// The Table API applies read ACLs after picking a page, so with pages of
	// 7 (newClient's PageSize), 7 hidden rows first make an empty first page
	// whose Link still names the next one.
	t.Run("a search finds the cases beyond a page of cases the sync user may not read", func(t *testing.T) {
		clock := newSteppingClock()
		sim := newSim(t, clock.Now)
		crm := newClient(t, sim, nil)
		since := clock.Now()
		hidden := map[string]bool{}
		for range 7 {
			hidden[flagged(sim, "another team's case")] = true
		}
		var want []string
		for range 3 {
			want = append(want, flagged(sim, "ours"))
		}
		sim.RestrictRowReads("incident", func(row map[string]string) bool { return hidden[row["sys_id"]] })
		got, err := crm.SearchUpdated(ctxFor(t), since)
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("cases found (-want +got):\n%s", diff)
		}
	})
	t.Run("a case's comments are listed beyond a page of entries the sync user may not read", func(t *testing.T) {
		sim := newSim(t, newSteppingClock().Now)
		crm := newClient(t, sim, nil)
		id := flagged(sim, "journal")
		beth := sim.UserNameFor("Beth Anglin")
		for range 7 {
			_, err := sim.AddJournal(id, "work_notes", beth, "Restricted note.")
			mustNot(t, err)
		}
		for _, body := range []string{"First reply.", "Second reply."} {
			_, err := sim.AddJournal(id, "comments", human, body)
			mustNot(t, err)
		}
		sim.RestrictRowReads(servicenowtest.JournalTable, func(row map[string]string) bool { return row["sys_created_by"] == beth })
		got, err := crm.ListComments(ctxFor(t), id)
		if err != nil {
			t.Fatalf("ListComments: %v", err)
		}
		var bodies []string
		for _, c := range got {
			bodies = append(bodies, c.Body)
		}
		if diff := cmp.Diff([]string{"First reply.", "Second reply."}, bodies); diff != "" {
			t.Errorf("comments listed (-want +got):\n%s", diff)
		}
	})
}

func TestAnAnswerOverTheBoundFailsTheListingForGood(t *testing.T) {
	const bound = 4 << 10
	sim := newSim(t, nil)
	crm := newClient(t, sim, func(c *servicenow.Config) { c.MaxAnswerBytes = bound })
	since := time.Now().Add(-time.Hour)
	for range 7 {
		sim.CreateRecord(human, map[string]string{"short_description": "long", "description": strings.Repeat("d", 1<<10), "u_gcp_sync": "true"})
	}
	_, err := crm.SearchUpdated(ctxFor(t), since)
	var ae *casesync.APIError
	if !errors.Is(err, crmhttp.ErrAnswerTooLarge) || !casesync.IsPermanent(err) || !errors.As(err, &ae) || ae.Op != "records.search" {
		t.Errorf("SearchUpdated over a page of %d bytes = %v; want the permanent answer-too-large error of records.search", 7<<10, err)
	}
}
