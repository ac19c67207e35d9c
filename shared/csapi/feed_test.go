package csapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// feedCase builds a case whose feed takes many pages of two: comments by
// the customer, a Google agent and the connector, files by the customer
// and the connector, a file deleted afterwards and an email reply, some
// at one instant. It returns the case name and the deleted file's id.
func feedCase(t *testing.T, sim *csapitest.Server, clock *testClock, c *csapi.Client) (string, string) {
	t.Helper()
	ctx := context.Background()
	name := mustCase(t, sim, project, "feed", "P2")
	alice := csapitest.Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"}
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var doomed string
	for i := range 5 {
		clock.Advance(time.Minute)
		_, err := sim.AddComment(name, "from Alice "+strconv.Itoa(i), alice)
		check(err)
		_, err = sim.AddAgentComment(name, "from an agent "+strconv.Itoa(i))
		check(err)
		_, err = c.AddComment(ctx, name, "from the connector "+strconv.Itoa(i))
		check(err)
		a, err := sim.AddAttachment(name, "alice"+strconv.Itoa(i)+".log", "text/plain", []byte("log "+strconv.Itoa(i)), alice)
		check(err)
		if i == 2 {
			doomed = a
		}
		_, err = c.UploadAttachment(ctx, name, "mirror"+strconv.Itoa(i)+".bin", "application/octet-stream", bytes.NewReader([]byte{0, byte(i)}))
		check(err)
	}
	_, err := sim.AddEmailMessage(name, "Re: feed", "by mail", alice, nil, nil)
	check(err)
	clock.Advance(time.Minute)
	check(sim.DeleteAttachment(doomed))
	return name, lastSegment(doomed)
}

func TestListItemsGivesWhatTheTwoListingsGiveInOneListing(t *testing.T) {
	sim, clock := newSim(t)
	c := newClient(t, sim.URL(), testConfig()) // pages of 2
	f := c.WithFeed()
	name, deleted := feedCase(t, sim, clock, c)
	ctx := context.Background()

	sim.ResetCalls()
	wantComments, err := c.ListComments(ctx, name)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	wantFiles, err := c.ListAttachments(ctx, name)
	if err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	twoListings := sim.Calls()
	sim.ResetCalls()
	gotComments, gotFiles, err := f.ListItems(ctx, name)
	if err != nil {
		t.Fatalf("ListItems: %v", err)
	}
	oneListing := sim.Calls()

	// The lists hold what the case holds, so that equal lists are not
	// lists that both missed something.
	kinds := map[string]int{}
	for _, cm := range wantComments {
		switch {
		case cm.GoogleSupport:
			kinds["agent comments"]++
		case cm.ByConnector:
			kinds["connector comments"]++
		default:
			kinds["customer comments"]++
		}
	}
	for _, a := range wantFiles {
		if a.ByConnector {
			kinds["connector files"]++
		} else {
			kinds["customer files"]++
		}
		if a.ID == deleted {
			t.Errorf("ListAttachments lists the deleted file %s", deleted)
		}
	}
	if diff := cmp.Diff(map[string]int{"agent comments": 5, "connector comments": 5, "customer comments": 5, "connector files": 5, "customer files": 4}, kinds); diff != "" {
		t.Errorf("what the v2 listings hold (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff(wantComments, gotComments); diff != "" {
		t.Errorf("ListItems' comments differ from ListComments (-ListComments +ListItems):\n%s", diff)
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("ListItems' files differ from ListAttachments (-ListAttachments +ListItems):\n%s", diff)
	}
	// 15 comments in 8 pages and 9 files in 5; the feed's 26 items
	// (with the deleted file and the email) in 13.
	if diff := cmp.Diff(map[string]int{"comments.list": 8, "attachments.list": 5}, twoListings); diff != "" {
		t.Errorf("calls of the two listings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"cases.showFeed": 13}, oneListing); diff != "" {
		t.Errorf("calls of ListItems (-want +got):\n%s", diff)
	}
	if f.FeedOff() {
		t.Errorf("the feed is off after it worked")
	}
}

func TestTheFeedIsUsedOnlyWhenAskedFor(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	var plain casesync.Google = c
	if _, ok := plain.(casesync.ItemLister); ok {
		t.Errorf("a Client lists comments and files in one listing without WithFeed: the v2beta feed must be asked for")
	}
	var withFeed casesync.Google = c.WithFeed()
	if _, ok := withFeed.(casesync.ItemLister); !ok {
		t.Errorf("WithFeed's client does not implement casesync.ItemLister")
	}
}

func TestListItemsFallsBackOnV2WhenTheFeedIsNotThere(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest, http.StatusNotImplemented} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			sim, clock := newSim(t)
			c := newClient(t, sim.URL(), testConfig())
			f := c.WithFeed()
			name, _ := feedCase(t, sim, clock, c)
			ctx := context.Background()
			wantComments, err := c.ListComments(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			wantFiles, err := c.ListAttachments(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			sim.InjectFault(csapitest.Fault{Method: "cases.showFeed", Status: status})

			sim.ResetCalls()
			gotComments, gotFiles, err := f.ListItems(ctx, name)
			if err != nil {
				t.Fatalf("ListItems with the feed answering %d: %v", status, err)
			}
			first := sim.Calls()
			if diff := cmp.Diff(wantComments, gotComments); diff != "" {
				t.Errorf("comments (-ListComments +ListItems):\n%s", diff)
			}
			if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
				t.Errorf("files (-ListAttachments +ListItems):\n%s", diff)
			}
			sim.ResetCalls()
			if _, _, err := f.ListItems(ctx, name); err != nil {
				t.Fatalf("second ListItems: %v", err)
			}
			second := sim.Calls()
			want := []map[string]int{
				{"cases.showFeed": 1, "comments.list": 8, "attachments.list": 5},
				{"comments.list": 8, "attachments.list": 5},
			}
			if diff := cmp.Diff(want, []map[string]int{first, second}); diff != "" {
				t.Errorf("calls of two ListItems (-want +got):\n%s", diff)
			}
			if !f.FeedOff() {
				t.Errorf("the feed is still on after it failed where v2 worked")
			}
		})
	}
}

func TestListItemsKeepsTheFeedAndTheRetryRules(t *testing.T) {
	t.Run("a 429 is retried", func(t *testing.T) {
		sim, _ := newSim(t)
		f := newClient(t, sim.URL(), testConfig()).WithFeed()
		name := mustCase(t, sim, project, "t", "P3")
		sim.InjectFault(csapitest.Fault{Method: "cases.showFeed", Status: http.StatusTooManyRequests, Count: 1})
		sim.ResetCalls()
		if _, _, err := f.ListItems(context.Background(), name); err != nil {
			t.Fatalf("ListItems: %v", err)
		}
		if diff := cmp.Diff(map[string]int{"cases.showFeed": 2}, sim.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("an outage is a transient error, not a reason to leave the feed", func(t *testing.T) {
		sim, _ := newSim(t)
		f := newClient(t, sim.URL(), testConfig()).WithFeed()
		name := mustCase(t, sim, project, "t", "P3")
		sim.InjectFault(csapitest.Fault{Method: "cases.showFeed", Status: http.StatusServiceUnavailable})
		sim.ResetCalls()
		_, _, err := f.ListItems(context.Background(), name)
		ae := apiError(t, err)
		if diff := cmp.Diff([]any{"cases.showFeed", 503, true}, []any{ae.Op, ae.Status, ae.Transient}); diff != "" {
			t.Errorf("error %v (-want +got):\n%s", err, diff)
		}
		if diff := cmp.Diff(map[string]int{"cases.showFeed": 3}, sim.Calls()); diff != "" {
			t.Errorf("calls: three attempts of the feed, nothing else (-want +got):\n%s", diff)
		}
		if f.FeedOff() {
			t.Errorf("the feed is off after an outage")
		}
	})
	t.Run("an unknown case is not found, and the feed stays on", func(t *testing.T) {
		sim, _ := newSim(t)
		f := newClient(t, sim.URL(), testConfig()).WithFeed()
		_, _, err := f.ListItems(context.Background(), project+"/cases/99999999")
		if !casesync.IsNotFound(err) || casesync.IsTransient(err) {
			t.Errorf("ListItems of an unknown case = %v; want a permanent not-found error", err)
		}
		if f.FeedOff() {
			t.Errorf("the feed is off after a case was not found")
		}
	})
	t.Run("a malformed name never reaches the API", func(t *testing.T) {
		sim, _ := newSim(t)
		f := newClient(t, sim.URL(), testConfig()).WithFeed()
		sim.ResetCalls()
		for _, name := range []string{"projects/sandbox-project/cases/1:showFeed", "projects/sandbox-project/cases/1/../../x", "see case 1"} {
			_, _, err := f.ListItems(context.Background(), name)
			if ae := apiError(t, err); ae.Transient || !strings.Contains(ae.Error(), "malformed") {
				t.Errorf("ListItems(%q) = %v; want a permanent error saying the name is malformed", name, err)
			}
		}
		if n := len(sim.Calls()); n != 0 {
			t.Errorf("the API was called: %v", sim.Calls())
		}
	})
}

func TestListItemsReadsTheFeedOnTheWire(t *testing.T) {
	const caseName = "projects/200/cases/43595344"
	actor := map[string]any{"displayName": "Ann", "email": connector}
	comment := func(id, at string) map[string]any {
		return map[string]any{"eventTime": at, "comment": map[string]any{"name": caseName + "/comments/" + id, "body": "c" + id, "createTime": at, "creator": actor}}
	}
	file := func(kind, id, at string) map[string]any {
		return map[string]any{"eventTime": at, kind: map[string]any{"name": caseName + "/attachments/" + id, "filename": id + ".txt",
			"mimeType": "text/plain", "sizeBytes": "12", "createTime": at, "creator": actor}}
	}
	// The feed may keep a deleted file's upload and add its deletion, or
	// turn the one into the other; an email and an item of a kind this
	// package does not know are neither comments nor files.
	pages := map[string]map[string]any{
		"": {"feedItems": []any{comment("1", "2026-03-02T09:01:00Z"), file("attachment", "a1", "2026-03-02T09:01:00Z")}, "nextPageToken": "p2"},
		"p2": {"feedItems": []any{
			file("attachment", "gone", "2026-03-02T09:02:00Z"),
			map[string]any{"eventTime": "2026-03-02T09:03:00Z", "emailMessage": map[string]any{"name": caseName + "/emailMessages/1", "subject": "s", "bodyContent": map[string]any{"plainText": "mail"}}},
			map[string]any{"eventTime": "2026-03-02T09:03:30Z", "somethingNew": map[string]any{"name": caseName + "/things/1"}},
		}, "nextPageToken": "p3"},
		"p3": {"nextPageToken": "p4"},
		"p4": {"feedItems": []any{file("deletedAttachment", "gone", "2026-03-02T09:04:00Z"), comment("2", "2026-03-02T09:00:30.5Z"), comment("1", "2026-03-02T09:01:00Z")}},
	}
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, pages[r.URL.Query().Get("pageToken")])
	})
	cfg := testConfig()
	cfg.PageSize = 500 // asked for as attachment pages are: at most 100
	f := newClient(t, srv.URL, cfg).WithFeed()

	comments, files, err := f.ListItems(context.Background(), caseName)
	if err != nil {
		t.Fatalf("ListItems: %v", err)
	}
	at := func(s string) time.Time { return mustTime(t, s) }
	wantComments := []casesync.Comment{
		{ID: "2", Body: "c2", AuthorName: "Ann", ByConnector: true, Public: true, CreateTime: at("2026-03-02T09:00:30.5Z")},
		{ID: "1", Body: "c1", AuthorName: "Ann", ByConnector: true, Public: true, CreateTime: at("2026-03-02T09:01:00Z")},
	}
	wantFiles := []casesync.Attachment{
		{ID: "a1", Filename: "a1.txt", MimeType: "text/plain", Size: 12, AuthorName: "Ann", ByConnector: true, Public: true, CreateTime: at("2026-03-02T09:01:00Z")},
	}
	if diff := cmp.Diff(wantComments, comments); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var sent []recorded
	for _, r := range srv.requests() {
		sent = append(sent, recorded{Method: r.Method, Path: r.Path, Query: r.Query})
	}
	q := func(token string) map[string]string {
		m := map[string]string{"alt": "json", "prettyPrint": "false", "pageSize": "100"}
		if token != "" {
			m["pageToken"] = token
		}
		return m
	}
	path := "/v2beta/" + caseName + ":showFeed"
	want := []recorded{{"GET", path, q(""), "", ""}, {"GET", path, q("p2"), "", ""}, {"GET", path, q("p3"), "", ""}, {"GET", path, q("p4"), "", ""}}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestAFeedItemThatCannotBeReadIsNotTrusted(t *testing.T) {
	const caseName = "projects/200/cases/43595344"
	srv := newRecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ":showFeed"):
			writeJSON(w, map[string]any{"feedItems": []any{map[string]any{"comment": map[string]any{"name": caseName + "/comments/1", "body": "b", "createTime": "yesterday"}}}})
		case strings.HasSuffix(r.URL.Path, "/comments"):
			writeJSON(w, map[string]any{"comments": []any{map[string]any{"name": caseName + "/comments/1", "body": "b", "createTime": "2026-03-02T09:00:00Z"}}})
		default:
			writeJSON(w, map[string]any{})
		}
	})
	f := newClient(t, srv.URL, testConfig()).WithFeed()
	comments, files, err := f.ListItems(context.Background(), caseName)
	if err != nil {
		t.Fatalf("ListItems: %v", err)
	}
	want := []casesync.Comment{{ID: "1", Body: "b", Public: true, CreateTime: mustTime(t, "2026-03-02T09:00:00Z")}}
	if diff := cmp.Diff(want, comments); diff != "" || len(files) != 0 {
		t.Errorf("ListItems gave %v files and comments (-want +got):\n%s", files, diff)
	}
	if !f.FeedOff() {
		t.Errorf("the feed is still on after it answered what cannot be read")
	}
}
