package csapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

const (
	org       = "organizations/100"
	project   = "projects/sandbox-project"
	connector = "casebridge@sandbox-project.iam.gserviceaccount.com"
)

// testClock is a simulator clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// newSim starts a simulator with a hand-moved clock.
func newSim(t *testing.T) (*csapitest.Server, *testClock) {
	t.Helper()
	clock := newTestClock()
	sim := csapitest.NewServer(t, csapitest.Options{
		Organization: org,
		Projects:     map[string]string{"sandbox-project": "200"},
		CallerEmail:  connector,
		Clock:        clock.Now,
	})
	return sim, clock
}

// testConfig is a configuration with small pages and fast retries.
func testConfig() csapi.Config {
	return csapi.Config{
		Parent:           org,
		CreateParent:     project,
		ClassificationID: csapitest.DefaultClassifications()[0].ID,
		TestCase:         true,
		TimeZone:         "Europe/Paris",
		ConnectorEmail:   connector,
		PageSize:         2,
		MaxAttempts:      3,
		MinBackoff:       time.Millisecond,
		MaxBackoff:       5 * time.Millisecond,
		CallTimeout:      5 * time.Second,
	}
}

func newClient(t *testing.T, baseURL string, cfg csapi.Config) *csapi.Client {
	t.Helper()
	c, err := csapi.New(context.Background(), cfg,
		option.WithEndpoint(baseURL), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("csapi.New: %v", err)
	}
	return c
}

// mustCase creates a case through the simulator's console hook.
func mustCase(t *testing.T, sim *csapitest.Server, parent, title, priority string) string {
	t.Helper()
	name, err := sim.CreateCase(parent, title, "description of "+title, priority, "customer@example.com")
	if err != nil {
		t.Fatalf("simulator CreateCase: %v", err)
	}
	return name
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return tm
}

func apiError(t *testing.T, err error) *casesync.APIError {
	t.Helper()
	var ae *casesync.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a *casesync.APIError", err, err)
	}
	return ae
}

func caseNames(cs []casesync.GoogleCase) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestNewChecksTheConfig(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*csapi.Config)
		wantErr bool
	}{
		{"a complete config is accepted", func(*csapi.Config) {}, false},
		{"a project parent is accepted", func(c *csapi.Config) { c.Parent = "projects/p" }, false},
		{"zero tuning values take their defaults", func(c *csapi.Config) {
			c.PageSize, c.MaxAttempts, c.MinBackoff, c.MaxBackoff, c.CallTimeout = 0, 0, 0, 0, 0
		}, false},
		{"a missing parent is refused", func(c *csapi.Config) { c.Parent = "" }, true},
		{"a parent of another kind is refused", func(c *csapi.Config) { c.Parent = "folders/1" }, true},
		{"a case name as parent is refused", func(c *csapi.Config) { c.Parent = "projects/p/cases/1" }, true},
		{"a malformed create parent is refused", func(c *csapi.Config) { c.CreateParent = "sandbox" }, true},
		{"a missing classification is refused", func(c *csapi.Config) { c.ClassificationID = " " }, true},
		{"a negative page size is refused", func(c *csapi.Config) { c.PageSize = -1 }, true},
		{"negative attempts are refused", func(c *csapi.Config) { c.MaxAttempts = -1 }, true},
		{"a minimum backoff above the maximum is refused", func(c *csapi.Config) {
			c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond
		}, true},
		{"a negative call timeout is refused", func(c *csapi.Config) { c.CallTimeout = -time.Second }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.mutate(&cfg)
			_, err := csapi.New(context.Background(), cfg,
				option.WithEndpoint("http://127.0.0.1:1/"), option.WithoutAuthentication())
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("New error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestSearchUpdatedFollowsEveryPageAndKeepsTheNamesTheAPIReturns(t *testing.T) {
	sim, clock := newSim(t)
	parents := []string{project, "projects/200", org, project, project}
	var names []string
	var times []time.Time
	for i, p := range parents {
		times = append(times, clock.Advance(time.Minute))
		names = append(names, mustCase(t, sim, p, "case "+string(rune('A'+i)), "P3"))
	}
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()

	t.Run("a zero time returns every case of the organization and its projects", func(t *testing.T) {
		got, err := c.SearchUpdated(ctx, time.Time{})
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		if diff := cmp.Diff(names, caseNames(got), sortStrings); diff != "" {
			t.Errorf("cases (-want +got):\n%s", diff)
		}
	})

	t.Run("only cases updated after the time are returned, across pages", func(t *testing.T) {
		before := sim.Calls()["cases.search"]
		// A time in another zone and with a fraction of a second.
		since := times[1].Add(30*time.Second + 250*time.Millisecond).In(time.FixedZone("EST", -5*3600))
		got, err := c.SearchUpdated(ctx, since)
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		if diff := cmp.Diff(names[2:], caseNames(got), sortStrings); diff != "" {
			t.Errorf("cases (-want +got):\n%s", diff)
		}
		if got, want := sim.Calls()["cases.search"]-before, 2; got != want {
			t.Errorf("search calls = %d, want %d (3 cases in pages of 2)", got, want)
		}
	})

	t.Run("each case is mapped from what the API returned", func(t *testing.T) {
		got, err := c.SearchUpdated(ctx, times[3].Add(-time.Second))
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		var want []casesync.GoogleCase
		for _, n := range names[3:] {
			cs, ok := sim.Case(n)
			if !ok {
				t.Fatalf("simulator lost case %s", n)
			}
			want = append(want, casesync.GoogleCase{
				Name: cs.Name, DisplayName: cs.DisplayName, Description: cs.Description,
				Priority: casesync.P3, State: cs.State,
				CreateTime: mustTime(t, cs.CreateTime), UpdateTime: mustTime(t, cs.UpdateTime),
			})
		}
		if diff := cmp.Diff(want, got, sortCases); diff != "" {
			t.Errorf("cases (-want +got):\n%s", diff)
		}
	})
}

var (
	sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })
	sortCases   = cmpopts.SortSlices(func(a, b casesync.GoogleCase) bool { return a.Name < b.Name })
)

func TestSearchTextFindsAQuotedPhrase(t *testing.T) {
	sim, clock := newSim(t)
	clock.Advance(time.Minute)
	quoted, err := sim.CreateCase(project, `Error "disk full" on vm-1`, "the VM stopped", "P2", "customer@example.com")
	if err != nil {
		t.Fatal(err)
	}
	plain := mustCase(t, sim, project, "Linked case", "P2")
	if _, err := sim.AddComment(plain, "This case is now syncing with Company Case: 42", csapitest.Actor{Email: connector, Username: connector}); err != nil {
		t.Fatal(err)
	}
	mustCase(t, sim, project, "Unrelated", "P2")
	c := newClient(t, sim.URL(), testConfig())

	tests := []struct {
		name   string
		phrase string
		want   []string
	}{
		{"a phrase in a comment finds its case", "now syncing with Company Case: 42", []string{plain}},
		{"a phrase holding quotes is escaped", `Error "disk full"`, []string{quoted}},
		{"a phrase found nowhere finds nothing", "no such words", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.SearchText(context.Background(), tt.phrase)
			if err != nil {
				t.Fatalf("SearchText: %v", err)
			}
			if diff := cmp.Diff(tt.want, caseNames(got)); diff != "" {
				t.Errorf("cases (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("an empty phrase is refused before any call", func(t *testing.T) {
		before := sim.Calls()["cases.search"]
		_, err := c.SearchText(context.Background(), "  ")
		if ae := apiError(t, err); ae.Transient {
			t.Errorf("error %v is transient, want permanent", err)
		}
		if got := sim.Calls()["cases.search"] - before; got != 0 {
			t.Errorf("search calls = %d, want 0", got)
		}
	})
}

func TestCaseLifecycle(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()

	created, err := c.CreateCase(ctx, casesync.NewGoogleCase{
		DisplayName: "Database unreachable", Description: "Since 09:00 UTC", Priority: casesync.P2,
	})
	if err != nil {
		t.Fatalf("CreateCase: %v", err)
	}

	t.Run("a created case carries the configured classification, test flag and time zone", func(t *testing.T) {
		cs, ok := sim.Case(created.Name)
		if !ok {
			t.Fatalf("simulator has no case %s", created.Name)
		}
		type stored struct {
			DisplayName, Description, Priority, Classification, TimeZone, State string
			TestCase                                                            bool
		}
		got := stored{cs.DisplayName, cs.Description, cs.Priority, "", cs.TimeZone, cs.State, cs.TestCase}
		if cs.Classification != nil {
			got.Classification = cs.Classification.Id
		}
		want := stored{"Database unreachable", "Since 09:00 UTC", "P2", testConfig().ClassificationID, "Europe/Paris", "NEW", true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored case (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(created.Name, "projects/") {
			t.Errorf("created case name %q is not under a project", created.Name)
		}
	})

	t.Run("get returns what create returned", func(t *testing.T) {
		got, err := c.GetCase(ctx, created.Name)
		if err != nil {
			t.Fatalf("GetCase: %v", err)
		}
		if diff := cmp.Diff(created, got); diff != "" {
			t.Errorf("case (-want +got):\n%s", diff)
		}
	})

	t.Run("set priority changes the priority and nothing else", func(t *testing.T) {
		before, _ := sim.Case(created.Name)
		if err := c.SetPriority(ctx, created.Name, casesync.P1); err != nil {
			t.Fatalf("SetPriority: %v", err)
		}
		after, _ := sim.Case(created.Name)
		if diff := cmp.Diff([]string{"P1", before.DisplayName, before.Description},
			[]string{after.Priority, after.DisplayName, after.Description}); diff != "" {
			t.Errorf("case after patch (-want +got):\n%s", diff)
		}
	})

	t.Run("closing twice succeeds both times", func(t *testing.T) {
		for i := range 2 {
			if err := c.CloseCase(ctx, created.Name); err != nil {
				t.Fatalf("CloseCase #%d: %v", i+1, err)
			}
		}
		got, err := c.GetCase(ctx, created.Name)
		if err != nil {
			t.Fatalf("GetCase: %v", err)
		}
		if !got.Closed() {
			t.Errorf("state = %s, want CLOSED", got.State)
		}
	})

	t.Run("closing a case closed in the console succeeds", func(t *testing.T) {
		name := mustCase(t, sim, project, "closed by the customer", "P4")
		if err := sim.CloseCase(name); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseCase(ctx, name); err != nil {
			t.Errorf("CloseCase: %v", err)
		}
	})

	t.Run("an invalid priority is refused before any call", func(t *testing.T) {
		before := sim.Calls()
		err := c.SetPriority(ctx, created.Name, casesync.PriorityUnspecified)
		if ae := apiError(t, err); ae.Transient {
			t.Errorf("error %v is transient, want permanent", err)
		}
		_, err = c.CreateCase(ctx, casesync.NewGoogleCase{DisplayName: "x", Description: "y", Priority: casesync.Priority(9)})
		if ae := apiError(t, err); ae.Transient {
			t.Errorf("error %v is transient, want permanent", err)
		}
		if diff := cmp.Diff(before, sim.Calls()); diff != "" {
			t.Errorf("calls changed (-before +after):\n%s", diff)
		}
	})
}

func TestCommentsAreListedOldestFirstWithTheirAuthors(t *testing.T) {
	sim, clock := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()
	name := mustCase(t, sim, project, "comments", "P3")

	clock.Advance(time.Minute)
	customer, err := sim.AddComment(name, "from the customer", csapitest.Actor{DisplayName: "Ann Customer", Email: "ann@example.com", Username: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	agent, err := sim.AddAgentComment(name, "from Google")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	mine, err := c.AddComment(ctx, name, "[Company Comment 7 by Bob] hello")
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	clock.Advance(time.Minute)
	// Written as the connector through another route: recognised by username.
	other, err := sim.AddComment(name, "by the connector", csapitest.Actor{DisplayName: "casebridge", Username: connector})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	last, err := sim.AddComment(name, "same author, later", csapitest.Actor{DisplayName: "Ann Customer", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	before := sim.Calls()["comments.list"]
	got, err := c.ListComments(ctx, name)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	if calls := sim.Calls()["comments.list"] - before; calls != 3 {
		t.Errorf("comments.list calls = %d, want 3 (5 comments in pages of 2)", calls)
	}

	stored := map[string]time.Time{}
	agentName := ""
	for _, cm := range sim.Comments(name) {
		stored[lastSegment(cm.Name)] = mustTime(t, cm.CreateTime)
		if cm.Creator != nil && cm.Creator.GoogleSupport {
			agentName = cm.Creator.DisplayName
		}
	}
	id := lastSegment
	want := []casesync.Comment{
		{ID: id(customer), Body: "from the customer", AuthorName: "Ann Customer", Public: true},
		{ID: id(agent), Body: "from Google", AuthorName: agentName, GoogleSupport: true, Public: true},
		{ID: mine.ID, Body: "[Company Comment 7 by Bob] hello", AuthorName: connector, ByConnector: true, Public: true},
		{ID: id(other), Body: "by the connector", AuthorName: "casebridge", ByConnector: true, Public: true},
		{ID: id(last), Body: "same author, later", AuthorName: "Ann Customer", Public: true},
	}
	for i := range want {
		want[i].CreateTime = stored[want[i].ID]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[2], mine); diff != "" {
		t.Errorf("AddComment result (-want +got):\n%s", diff)
	}
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func TestCommentLength(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()
	name := mustCase(t, sim, project, "long comments", "P3")

	t.Run("a body of 13,000 characters is refused before any call", func(t *testing.T) {
		_, err := c.AddComment(ctx, name, strings.Repeat("é", 13000))
		ae := apiError(t, err)
		var tooLong *csapi.CommentTooLongError
		if !errors.As(err, &tooLong) {
			t.Fatalf("error %v does not wrap *csapi.CommentTooLongError", err)
		}
		if diff := cmp.Diff(csapi.CommentTooLongError{Len: 13000, Max: 12800}, *tooLong); diff != "" {
			t.Errorf("error (-want +got):\n%s", diff)
		}
		if ae.Transient || casesync.IsTransient(err) {
			t.Errorf("error %v is transient, want permanent", err)
		}
		if got := sim.Calls()["comments.create"]; got != 0 {
			t.Errorf("comments.create calls = %d, want 0", got)
		}
	})

	t.Run("a body of exactly 12,800 multi-byte characters is posted", func(t *testing.T) {
		body := strings.Repeat("é", casesync.MaxGoogleCommentLen)
		got, err := c.AddComment(ctx, name, body)
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		if got.Body != body {
			t.Errorf("posted body has %d bytes, want %d", len(got.Body), len(body))
		}
	})
}

// binaryData returns n bytes holding every byte value, NULs included.
func binaryData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestAttachmentsRoundTripByteExact(t *testing.T) {
	sim, clock := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()
	name := mustCase(t, sim, project, "attachments", "P3")

	clock.Advance(time.Minute)
	customerData := []byte("customer log\x00line 2\n")
	customerAtt, err := sim.AddAttachment(name, "log.txt", "text/plain", customerData, csapitest.Actor{DisplayName: "Ann Customer", Email: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	small := []byte{0, 0, 1, 0, 255, 0}
	// A reader that is not an io.Seeker, as a stream from the CRM is.
	up1, err := c.UploadAttachment(ctx, name, "nul.bin", "application/octet-stream", io.MultiReader(bytes.NewReader(small)))
	if err != nil {
		t.Fatalf("UploadAttachment (small): %v", err)
	}
	clock.Advance(time.Minute)
	big := binaryData(3<<20 + 17)
	up2, err := c.UploadAttachment(ctx, name, "dump.bin", "application/x-core", bytes.NewReader(big))
	if err != nil {
		t.Fatalf("UploadAttachment (big): %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := sim.AddAttachment(name, "agent.txt", "text/plain", []byte("x"), csapitest.Actor{DisplayName: "Support", GoogleSupport: true}); err != nil {
		t.Fatal(err)
	}

	if calls := sim.Calls()["media.upload"]; calls != 2 {
		t.Errorf("media.upload calls = %d, want 2 (one request per file)", calls)
	}

	t.Run("uploads report the connector as author and the size sent", func(t *testing.T) {
		type view struct {
			Filename, MimeType string
			Size               int64
			ByConnector        bool
		}
		got := []view{{up1.Filename, up1.MimeType, up1.Size, up1.ByConnector}, {up2.Filename, up2.MimeType, up2.Size, up2.ByConnector}}
		want := []view{{"nul.bin", "application/octet-stream", int64(len(small)), true}, {"dump.bin", "application/x-core", int64(len(big)), true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("uploads (-want +got):\n%s", diff)
		}
	})

	t.Run("the list is oldest first, across pages, with authors and sizes", func(t *testing.T) {
		got, err := c.ListAttachments(ctx, name)
		if err != nil {
			t.Fatalf("ListAttachments: %v", err)
		}
		type view struct {
			ID, Filename, AuthorName string
			Size                     int64
			ByConnector              bool
		}
		var gotView []view
		for _, a := range got {
			gotView = append(gotView, view{a.ID, a.Filename, a.AuthorName, a.Size, a.ByConnector})
		}
		want := []view{
			{lastSegment(customerAtt), "log.txt", "Ann Customer", int64(len(customerData)), false},
			{up1.ID, "nul.bin", connector, int64(len(small)), true},
			{up2.ID, "dump.bin", connector, int64(len(big)), true},
			{gotView[len(gotView)-1].ID, "agent.txt", "Support", 1, false},
		}
		if diff := cmp.Diff(want, gotView); diff != "" {
			t.Errorf("attachments (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name string
		id   string
		want []byte
	}{
		{"a small file with NUL bytes comes back byte for byte", up1.ID, small},
		{"a 3 MiB binary file comes back byte for byte", up2.ID, big},
		{"a file attached in the console comes back byte for byte", lastSegment(customerAtt), customerData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := c.DownloadAttachment(ctx, name, tt.id)
			if err != nil {
				t.Fatalf("DownloadAttachment: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("reading the download: %v", err)
			}
			if !bytes.Equal(tt.want, got) {
				t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(got), len(tt.want))
			}
			stored, ok := sim.AttachmentData(name + "/attachments/" + tt.id)
			if !ok || !bytes.Equal(tt.want, stored) {
				t.Errorf("simulator stored %d bytes that differ from the %d uploaded (found: %v)", len(stored), len(tt.want), ok)
			}
		})
	}

	t.Run("a download of an unknown attachment is not found", func(t *testing.T) {
		_, err := c.DownloadAttachment(ctx, name, "0684M00000NOSUCHAB")
		if !casesync.IsNotFound(err) {
			t.Errorf("error %v does not satisfy casesync.IsNotFound", err)
		}
	})
}

func TestAnAllowlistOfProjectsSearchesEachAndOnlyThem(t *testing.T) {
	clock := newTestClock()
	sim := csapitest.NewServer(t, csapitest.Options{
		Organization: org,
		Projects:     map[string]string{"alpha": "201", "beta": "202", "gamma": "203"},
		CallerEmail:  connector,
		Clock:        clock.Now,
	})
	var want []string
	for _, p := range []string{"alpha", "beta", "gamma", "alpha"} {
		clock.Advance(time.Minute)
		name := mustCase(t, sim, "projects/"+p, "case in "+p, "P3")
		if p != "gamma" {
			want = append(want, name)
		}
	}
	cfg := testConfig()
	cfg.Parent, cfg.MoreParents, cfg.CreateParent = "projects/alpha", []string{"projects/beta"}, "projects/alpha"
	c := newClient(t, sim.URL(), cfg)
	before := sim.Calls()["cases.search"]
	got, err := c.SearchUpdated(context.Background(), time.Time{})
	if err != nil {
		t.Fatalf("SearchUpdated: %v", err)
	}
	if diff := cmp.Diff(want, caseNames(got), sortStrings); diff != "" {
		t.Errorf("cases of the allowlisted projects (-want +got):\n%s", diff)
	}
	if n := sim.Calls()["cases.search"] - before; n != 2 {
		t.Errorf("search calls = %d, want 2 (one page for each allowlisted project)", n)
	}
}
