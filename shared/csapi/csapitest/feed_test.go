package csapitest

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
	cloudsupportbeta "google.golang.org/api/cloudsupport/v2beta"
	"google.golang.org/api/option"
)

func newBetaClient(t *testing.T, s *Server) *cloudsupportbeta.Service {
	t.Helper()
	svc, err := cloudsupportbeta.NewService(context.Background(), option.WithEndpoint(s.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("building the official Cloud Support v2beta client: %v", err)
	}
	return svc
}

// readFeed reads a case's whole feed through the official client's Pages,
// pageSize items at a time, and reports how many pages it took.
func readFeed(t *testing.T, beta *cloudsupportbeta.Service, name, orderBy string, pageSize int64) ([]*cloudsupportbeta.FeedItem, int) {
	t.Helper()
	call := beta.Cases.ShowFeed(name).PageSize(pageSize)
	if orderBy != "" {
		call = call.OrderBy(orderBy)
	}
	var items []*cloudsupportbeta.FeedItem
	pages := 0
	err := call.Pages(context.Background(), func(r *cloudsupportbeta.ShowFeedResponse) error {
		pages++
		items = append(items, r.FeedItems...)
		return nil
	})
	if err != nil {
		t.Fatalf("ShowFeed(%s, orderBy %q): %v", name, orderBy, err)
	}
	return items, pages
}

// jsonOf is the JSON the official client would send for v, so that objects
// of v2 and v2beta compare field by field.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return string(b)
}

// feedView is one feed item as kind, object JSON and event time.
type feedView struct {
	Kind, Object, EventTime string
}

func viewFeed(t *testing.T, items []*cloudsupportbeta.FeedItem) []feedView {
	t.Helper()
	out := []feedView{}
	for _, it := range items {
		v := feedView{EventTime: it.EventTime}
		n := 0
		if it.Comment != nil {
			v.Kind, v.Object = "comment", jsonOf(t, it.Comment)
			n++
		}
		if it.Attachment != nil {
			v.Kind, v.Object = "attachment", jsonOf(t, it.Attachment)
			n++
		}
		if it.DeletedAttachment != nil {
			v.Kind, v.Object = "deletedAttachment", jsonOf(t, it.DeletedAttachment)
			n++
		}
		if it.EmailMessage != nil {
			v.Kind, v.Object = "emailMessage", jsonOf(t, it.EmailMessage)
			n++
		}
		if n != 1 {
			t.Errorf("a feed item carries %d objects, want exactly one: %s", n, jsonOf(t, it))
		}
		out = append(out, v)
	}
	return out
}

// feedCase builds a case with comments by the customer, an agent and the
// connector, files by the customer and the connector, a file deleted
// afterwards and an email reply, some of them at the same instant. It
// returns the case name, the deleted file's v2 object and the email's
// name.
func feedCase(t *testing.T, s *Server, svc *cloudsupport.Service, clk *fakeClock) (string, cloudsupport.Attachment, string) {
	t.Helper()
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	alice := Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"}
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	must(s.AddComment(name, "first", alice))
	must(s.AddAttachment(name, "same-instant.txt", "text/plain", []byte("a"), alice))
	clk.Advance(time.Minute)
	must(s.AddAgentComment(name, "from an agent"))
	doomed, err := s.AddAttachment(name, "doomed.txt", "text/plain", []byte("secret"), alice)
	must(doomed, err)
	var gone cloudsupport.Attachment
	for _, a := range s.Attachments(name) {
		if a.Name == doomed {
			gone = a
		}
	}
	clk.Advance(time.Minute)
	if _, err := svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: "from the connector"}).Do(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	email, err := s.AddEmailMessage(name, "Re: t", "replying by email", alice, []string{"support@google.com"}, []string{"bob@example.com"})
	must(email, err)
	clk.Advance(time.Minute)
	for i := range 4 {
		must(s.AddComment(name, "more "+strconv.Itoa(i), alice))
		must(s.AddAttachment(name, "more"+strconv.Itoa(i)+".log", "text/plain", []byte("log"), alice))
		clk.Advance(time.Second)
	}
	if err := s.DeleteAttachment(doomed); err != nil {
		t.Fatalf("DeleteAttachment: %v", err)
	}
	return name, gone, email
}

func TestShowFeedGivesTheV2ObjectsInCreationOrder(t *testing.T) {
	s, svc, clk := startSim(t)
	beta := newBetaClient(t, s)
	name, gone, email := feedCase(t, s, svc, clk)

	// What the v2 lists return, oldest first, and the email as the feed
	// must give it.
	comments, err := svc.Cases.Comments.List(name).PageSize(100).Do()
	if err != nil {
		t.Fatal(err)
	}
	files, err := svc.Cases.Attachments.List(name).PageSize(100).Do()
	if err != nil {
		t.Fatal(err)
	}
	var want []feedView
	for i := len(comments.Comments) - 1; i >= 0; i-- {
		c := comments.Comments[i]
		want = append(want, feedView{"comment", jsonOf(t, c), c.CreateTime})
	}
	for i := len(files.Attachments) - 1; i >= 0; i-- {
		a := files.Attachments[i]
		want = append(want, feedView{"attachment", jsonOf(t, a), a.CreateTime})
	}
	want = append(want, feedView{"deletedAttachment", jsonOf(t, gone), gone.CreateTime})
	emailAt := formatTime(newFakeClock().Now().Add(4 * time.Minute))
	want = append(want, feedView{"emailMessage", jsonOf(t, &cloudsupportbeta.EmailMessage{
		Name: email, Subject: "Re: t", BodyContent: &cloudsupportbeta.TextContent{PlainText: "replying by email"},
		Actor:                   &cloudsupportbeta.Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"},
		RecipientEmailAddresses: []string{"support@google.com"}, CcEmailAddresses: []string{"bob@example.com"}, CreateTime: emailAt,
	}), emailAt})
	// Creation order: by time, and in the order the items came at one
	// instant.
	order := map[string]int{}
	for i, n := range []string{"first", "same-instant.txt", "from an agent", "doomed.txt", "from the connector", "replying by email",
		"more 0", "more0.log", "more 1", "more1.log", "more 2", "more2.log", "more 3", "more3.log"} {
		order[n] = i
	}
	key := func(v feedView) int {
		for n, i := range order {
			if strings.Contains(v.Object, `"`+n+`"`) {
				return i
			}
		}
		t.Fatalf("feed item %s is none of the case's", v.Object)
		return 0
	}
	sorted := make([]feedView, len(want))
	for _, v := range want {
		sorted[key(v)] = v
	}
	if len(sorted) != len(order) {
		t.Fatalf("the case holds %d items, want %d", len(sorted), len(order))
	}

	t.Run("ascending by default, on every page", func(t *testing.T) {
		got, pages := readFeed(t, beta, name, "", 3)
		if diff := cmp.Diff(sorted, viewFeed(t, got)); diff != "" {
			t.Errorf("feed (-want +got):\n%s", diff)
		}
		if pages != 5 {
			t.Errorf("14 items took %d pages of 3, want 5", pages)
		}
	})
	for _, orderBy := range []string{"creation_time desc", "  CREATION_TIME   Desc "} {
		t.Run("newest first with orderBy "+strconv.Quote(orderBy), func(t *testing.T) {
			got, _ := readFeed(t, beta, name, orderBy, 4)
			rev := make([]feedView, 0, len(sorted))
			for i := len(sorted) - 1; i >= 0; i-- {
				rev = append(rev, sorted[i])
			}
			if diff := cmp.Diff(rev, viewFeed(t, got)); diff != "" {
				t.Errorf("feed (-want +got):\n%s", diff)
			}
		})
	}
	for _, orderBy := range []string{"creation_time", "Creation_Time ASC"} {
		t.Run("oldest first with orderBy "+strconv.Quote(orderBy), func(t *testing.T) {
			got, _ := readFeed(t, beta, name, orderBy, 100)
			if diff := cmp.Diff(sorted, viewFeed(t, got)); diff != "" {
				t.Errorf("feed (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the case name may use the project ID", func(t *testing.T) {
		alias := strings.Replace(name, testProjNum, testProject, 1)
		got, _ := readFeed(t, beta, alias, "", 100)
		if diff := cmp.Diff(sorted, viewFeed(t, got)); diff != "" {
			t.Errorf("feed (-want +got):\n%s", diff)
		}
	})
}

func TestADeletedAttachmentLeavesV2AndStaysInTheFeed(t *testing.T) {
	s, svc, clk := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	keep, err := s.AddAttachment(name, "keep.txt", "text/plain", []byte("k"), Actor{DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := s.AddAttachment(name, "doomed.txt", "text/plain", []byte("d"), Actor{DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if err := s.DeleteAttachment(doomed); err != nil {
		t.Fatalf("DeleteAttachment: %v", err)
	}

	list, err := svc.Cases.Attachments.List(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, a := range list.Attachments {
		listed = append(listed, a.Name)
	}
	_, getErr := svc.Cases.Attachments.Get(doomed).Do()
	_, dlErr := svc.Media.Download(doomed).Download()
	got := map[string]any{
		"attachments.list":        listed,
		"attachments.get":         statusOf(t, getErr),
		"media.download":          statusOf(t, dlErr),
		"case updated":            mustCaseUpdate(t, s, name),
		"deleting it again":       errStatus(s.DeleteAttachment(doomed)),
		"deleting a made-up name": errStatus(s.DeleteAttachment(name + "/attachments/0684M00000zzzzzAAA")),
	}
	want := map[string]any{
		"attachments.list":        []string{keep},
		"attachments.get":         apiStatus{404, "NOT_FOUND"},
		"media.download":          apiStatus{404, "NOT_FOUND"},
		"case updated":            formatTime(clk.Now()),
		"deleting it again":       apiStatus{404, "NOT_FOUND"},
		"deleting a made-up name": apiStatus{404, "NOT_FOUND"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the deletion (-want +got):\n%s", diff)
	}

	items, _ := readFeed(t, beta, name, "", 10)
	var kinds []string
	for _, v := range viewFeed(t, items) {
		kinds = append(kinds, v.Kind+" "+map[bool]string{true: "keep", false: "doomed"}[strings.Contains(v.Object, keep)])
	}
	if diff := cmp.Diff([]string{"attachment keep", "deletedAttachment doomed"}, kinds); diff != "" {
		t.Errorf("feed items (-want +got):\n%s", diff)
	}
}

func mustCaseUpdate(t *testing.T, s *Server, name string) string {
	t.Helper()
	c, ok := s.Case(name)
	if !ok {
		t.Fatalf("case %s is gone", name)
	}
	return c.UpdateTime
}

func errStatus(err error) apiStatus {
	if err == nil {
		return apiStatus{}
	}
	e, ok := err.(*APIError)
	if !ok {
		return apiStatus{Code: -1, Status: err.Error()}
	}
	return apiStatus{e.Code, e.Status}
}

func TestAnEmailReplyIsInTheFeedOnly(t *testing.T) {
	s, svc, clk := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	clk.Advance(time.Minute)
	email, err := s.AddEmailMessage(name, "Re: t", "by mail", Actor{DisplayName: "Alice", Email: "alice@example.com"}, nil, nil)
	if err != nil {
		t.Fatalf("AddEmailMessage: %v", err)
	}
	comments, err := svc.Cases.Comments.List(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	items, _ := readFeed(t, beta, name, "", 10)
	got := map[string]any{
		"v2 comments":  len(comments.Comments),
		"feed":         viewFeed(t, items),
		"case updated": mustCaseUpdate(t, s, name),
		"name":         strings.HasPrefix(email, name+"/emailMessages/"),
	}
	at := formatTime(clk.Now())
	want := map[string]any{
		"v2 comments": 0,
		"feed": []feedView{{"emailMessage", jsonOf(t, &cloudsupportbeta.EmailMessage{Name: email, Subject: "Re: t",
			BodyContent: &cloudsupportbeta.TextContent{PlainText: "by mail"}, Actor: &cloudsupportbeta.Actor{DisplayName: "Alice", Email: "alice@example.com"},
			CreateTime: at}), at}},
		"case updated": at,
		"name":         true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after an email reply (-want +got):\n%s", diff)
	}
	if _, err := s.AddEmailMessage(name, "Re: t", "  ", Actor{}, nil, nil); err == nil {
		t.Errorf("an email reply without a body was taken")
	}
}

func TestShowFeedPagesLikeTheV2Lists(t *testing.T) {
	s, _, _ := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	for i := range 105 {
		if _, err := s.AddComment(name, "c"+strconv.Itoa(i), Actor{DisplayName: "Alice"}); err != nil {
			t.Fatal(err)
		}
	}
	pageLen := func(size int64) int {
		call := beta.Cases.ShowFeed(name)
		if size > 0 {
			call = call.PageSize(size)
		}
		r, err := call.Do()
		if err != nil {
			t.Fatalf("ShowFeed(pageSize %d): %v", size, err)
		}
		return len(r.FeedItems)
	}
	got := map[string]int{"default": pageLen(0), "asked 7": pageLen(7), "asked 1000": pageLen(1000)}
	if diff := cmp.Diff(map[string]int{"default": 10, "asked 7": 7, "asked 1000": 100}, got); diff != "" {
		t.Errorf("page lengths (-want +got):\n%s", diff)
	}
	items, pages := readFeed(t, beta, name, "", 100)
	if len(items) != 105 || pages != 2 {
		t.Errorf("the whole feed is %d items in %d pages, want 105 in 2", len(items), pages)
	}

	first, err := beta.Cases.ShowFeed(name).PageSize(5).OrderBy("creation_time desc").Do()
	if err != nil {
		t.Fatal(err)
	}
	_, otherOrder := beta.Cases.ShowFeed(name).PageSize(5).PageToken(first.NextPageToken).Do()
	_, garbage := beta.Cases.ShowFeed(name).PageToken("not-a-token").Do()
	_, negative := beta.Cases.ShowFeed(name).PageSize(-1).Do()
	got2 := []apiStatus{statusOf(t, otherOrder), statusOf(t, garbage), statusOf(t, negative)}
	want2 := []apiStatus{{400, "INVALID_ARGUMENT"}, {400, "INVALID_ARGUMENT"}, {400, "INVALID_ARGUMENT"}}
	if diff := cmp.Diff(want2, got2); diff != "" {
		t.Errorf("a token of another order, a made-up token, a negative size (-want +got):\n%s", diff)
	}
}

func TestShowFeedRefusesWhatTheOtherMethodsRefuse(t *testing.T) {
	s, _, _ := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	feed := func(n, orderBy string) error {
		call := beta.Cases.ShowFeed(n)
		if orderBy != "" {
			call = call.OrderBy(orderBy)
		}
		_, err := call.Do()
		return err
	}
	tests := []struct {
		name string
		err  error
		want apiStatus
	}{
		{"an unknown case", feed(testProject+"/cases/99999999", ""), apiStatus{404, "NOT_FOUND"}},
		{"a case of another project", feed(otherProj+"/cases/"+lastSeg(name), ""), apiStatus{404, "NOT_FOUND"}},
		{"a project outside the organization", feed("projects/stranger/cases/"+lastSeg(name), ""), apiStatus{403, "PERMISSION_DENIED"}},
		{"another organization", feed("organizations/999/cases/"+lastSeg(name), ""), apiStatus{403, "PERMISSION_DENIED"}},
		{"ordering by another field", feed(name, "update_time desc"), apiStatus{400, "INVALID_ARGUMENT"}},
		{"an order that is neither asc nor desc", feed(name, "creation_time sideways"), apiStatus{400, "INVALID_ARGUMENT"}},
		{"an order with more words", feed(name, "creation_time desc, name"), apiStatus{400, "INVALID_ARGUMENT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, statusOf(t, tc.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the feed is v2beta only, and no other v2beta method is served", func(t *testing.T) {
		for _, path := range []string{"v2/" + name + ":showFeed", "v2beta/" + name + "/comments", "v2beta/" + name, "v2beta/" + name + ":showfeed"} {
			var env struct {
				Error struct{ Status string } `json:"error"`
			}
			code, _ := rawRequest(t, http.MethodGet, s.URL()+path, "", "", &env)
			if code != http.StatusNotFound || env.Error.Status != "NOT_FOUND" {
				t.Errorf("GET %s answered %d %s, want 404 NOT_FOUND", path, code, env.Error.Status)
			}
		}
		code, _ := rawRequest(t, http.MethodPost, s.URL()+"v2beta/"+name+":showFeed", "application/json", "{}", nil)
		if code != http.StatusNotFound {
			t.Errorf("POST to the feed answered %d, want 404", code)
		}
	})
}

func lastSeg(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func TestShowFeedIsCountedAndFaulted(t *testing.T) {
	s, _, _ := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	feed := func() error { _, err := beta.Cases.ShowFeed(name).Do(); return err }
	s.ResetCalls()
	s.InjectFault(Fault{Method: "cases.showFeed", Status: 429, Count: 1})
	s.InjectFault(Fault{Method: "comments.list", Status: 500})
	got := []apiStatus{statusOf(t, feed()), statusOf(t, feed())}
	s.SetDown(true)
	got = append(got, statusOf(t, feed()))
	s.SetDown(false)
	want := []apiStatus{{429, "RESOURCE_EXHAUSTED"}, {}, {503, "UNAVAILABLE"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"cases.showFeed": 3}, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestFeedHooksOverHTTP(t *testing.T) {
	s, _, _ := startSim(t)
	beta := newBetaClient(t, s)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	file, err := s.AddAttachment(name, "f.txt", "text/plain", []byte("f"), Actor{DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	var out nameResponse
	code, _ := rawRequest(t, http.MethodPost, s.URL()+"_sim/email-messages", "application/json",
		`{"case":"`+name+`","subject":"Re: t","body":"by mail","creator":{"displayName":"Alice","email":"alice@example.com"},"to":["support@google.com"],"cc":["bob@example.com"]}`, &out)
	if code != http.StatusOK || !strings.HasPrefix(out.Name, name+"/emailMessages/") {
		t.Fatalf("POST /_sim/email-messages answered %d %+v", code, out)
	}
	if code, _ := rawRequest(t, http.MethodPost, s.URL()+"_sim/delete-attachment", "application/json", `{"name":"`+file+`"}`, nil); code != http.StatusOK {
		t.Fatalf("POST /_sim/delete-attachment answered %d", code)
	}
	if code, _ := rawRequest(t, http.MethodPost, s.URL()+"_sim/delete-attachment", "application/json", `{"name":"`+file+`"}`, nil); code != http.StatusNotFound {
		t.Errorf("deleting the deleted attachment again answered %d, want 404", code)
	}
	items, _ := readFeed(t, beta, name, "", 10)
	var got []string
	for _, it := range items {
		switch {
		case it.DeletedAttachment != nil:
			got = append(got, "deleted "+it.DeletedAttachment.Name)
		case it.EmailMessage != nil:
			m := it.EmailMessage
			got = append(got, "email "+m.Name+" "+m.Subject+" "+m.BodyContent.PlainText+" "+m.Actor.Email+" "+strings.Join(m.RecipientEmailAddresses, ",")+" "+strings.Join(m.CcEmailAddresses, ","))
		default:
			got = append(got, "other "+jsonOf(t, it))
		}
	}
	want := []string{"deleted " + file, "email " + out.Name + " Re: t by mail alice@example.com support@google.com bob@example.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
}
