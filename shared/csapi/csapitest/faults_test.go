package csapitest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/googleapi"
)

func TestInjectedFaultsAnswerWithGoogleErrors(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	search := func() error { _, err := svc.Cases.Search(testOrg).Do(); return err }
	get := func() error { _, err := svc.Cases.Get(name).Do(); return err }
	comments := func() error { _, err := svc.Cases.Comments.List(name).Do(); return err }

	t.Run("a 429 fault answers RESOURCE_EXHAUSTED with Retry-After, then clears after its count", func(t *testing.T) {
		s.InjectFault(Fault{Method: "cases.search", Status: 429, RetryAfter: 1500 * time.Millisecond, Count: 1})
		err := search()
		if diff := cmp.Diff(apiStatus{429, "RESOURCE_EXHAUSTED"}, statusOf(t, err)); diff != "" {
			t.Fatalf("first search (-want +got):\n%s", diff)
		}
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q, want \"2\" (1.5 s rounded up)", gerr.Header.Get("Retry-After"))
		}
		if err := search(); err != nil {
			t.Errorf("second search after the fault was used up: %v", err)
		}
	})
	t.Run("a fault for any method hits the next calls whatever they are", func(t *testing.T) {
		s.InjectFault(Fault{Status: 500, Count: 2})
		got := []apiStatus{statusOf(t, get()), statusOf(t, comments()), statusOf(t, get())}
		want := []apiStatus{{500, "INTERNAL"}, {500, "INTERNAL"}, {}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses of three calls (-want +got):\n%s", diff)
		}
	})
	t.Run("a fault for one method leaves the others alone and lasts until cleared", func(t *testing.T) {
		s.InjectFault(Fault{Method: "comments.list", Status: 503})
		got := []apiStatus{statusOf(t, get()), statusOf(t, comments()), statusOf(t, comments())}
		s.ClearFaults()
		got = append(got, statusOf(t, comments()))
		want := []apiStatus{{}, {503, "UNAVAILABLE"}, {503, "UNAVAILABLE"}, {}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
	t.Run("a latency fault delays a call that then succeeds", func(t *testing.T) {
		s.InjectFault(Fault{Method: "cases.get", Latency: 150 * time.Millisecond, Count: 1})
		start := time.Now()
		err := get()
		if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
			t.Errorf("delayed call took %v, want at least 150ms", elapsed)
		}
		if err != nil {
			t.Errorf("delayed call failed: %v", err)
		}
	})
	t.Run("a service that is down answers 503 to everything until it is back", func(t *testing.T) {
		s.SetDown(true)
		got := []apiStatus{statusOf(t, get()), statusOf(t, search())}
		s.SetDown(false)
		got = append(got, statusOf(t, get()))
		want := []apiStatus{{503, "UNAVAILABLE"}, {503, "UNAVAILABLE"}, {}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
}

func TestSearchLagHidesRecentChangesFromSearchOnly(t *testing.T) {
	s, svc, clk := startSim(t)
	s.SetSearchLag(time.Minute)
	created, err := svc.Cases.Create(testProject, &cloudsupport.Case{DisplayName: "t", Description: "d", Priority: "P3", Classification: &cloudsupport.CaseClassification{Id: computeID}}).Do()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	searchNames := func(q string) []string {
		t.Helper()
		resp, err := svc.Cases.Search(testOrg).Query(q).Do()
		if err != nil {
			t.Fatalf("Search(%q): %v", q, err)
		}
		return names(resp.Cases)
	}

	if diff := cmp.Diff([]string{}, searchNames("")); diff != "" {
		t.Errorf("search right after create (-want +got):\n%s", diff)
	}
	if _, err := svc.Cases.Get(created.Name).Do(); err != nil {
		t.Errorf("get right after create: %v", err)
	}
	list, err := svc.Cases.List(testProject).Do()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff([]string{created.Name}, names(list.Cases)); diff != "" {
		t.Errorf("list right after create (-want +got):\n%s", diff)
	}

	clk.Advance(61 * time.Second)
	if diff := cmp.Diff([]string{created.Name}, searchNames("")); diff != "" {
		t.Errorf("search after the lag (-want +got):\n%s", diff)
	}

	if err := s.SetPriority(created.Name, "P1"); err != nil {
		t.Fatalf("SetPriority: %v", err)
	}
	if _, err := s.AddAgentComment(created.Name, "please send logs"); err != nil {
		t.Fatalf("AddAgentComment: %v", err)
	}
	stale, err := svc.Cases.Search(testOrg).Do()
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if diff := cmp.Diff([]string{"P3"}, []string{stale.Cases[0].Priority}); diff != "" {
		t.Errorf("priority seen by search inside the lag (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, searchNames(`"send logs"`)); diff != "" {
		t.Errorf("full-text search for a new comment inside the lag (-want +got):\n%s", diff)
	}
	clk.Advance(61 * time.Second)
	if diff := cmp.Diff([]string{created.Name}, searchNames(`priority=P1 AND "send logs"`)); diff != "" {
		t.Errorf("search after the lag (-want +got):\n%s", diff)
	}
}

func TestCallsCountAPICallsByMethodButNotTestHooks(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	if _, err := s.AddAgentComment(name, "hi"); err != nil {
		t.Fatalf("AddAgentComment: %v", err)
	}
	s.ResetCalls()
	s.InjectFault(Fault{Method: "cases.get", Status: 500, Count: 1})
	_, _ = svc.Cases.Get(name).Do()
	_, _ = svc.Cases.Get(name).Do()
	_, _ = svc.Cases.Search(testOrg).Do()
	_, _ = svc.Cases.List(testProject).Do()
	_, _ = svc.Cases.Comments.List(name).Do()
	_, _ = svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: "x"}).Do()
	_, _ = svc.Cases.Attachments.List(name).Do()
	a, err := svc.Media.Upload(name, &cloudsupport.CreateAttachmentRequest{Attachment: &cloudsupport.Attachment{Filename: "f.txt"}}).
		Media(bytes.NewReader([]byte("x")), googleapi.ChunkSize(0), googleapi.ContentType("text/plain")).Do()
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	_ = download(t, svc, a.Name)
	_, _ = svc.Cases.Patch(name, &cloudsupport.Case{Priority: "P2"}).UpdateMask("priority").Do()
	_, _ = svc.Cases.Close(name, &cloudsupport.CloseCaseRequest{}).Do()
	_, _ = svc.Cases.Create(testProject, &cloudsupport.Case{}).Do()
	_, _ = s.AddAgentComment(name, "hook calls are not counted")
	want := map[string]int{
		"cases.get": 2, "cases.search": 1, "cases.list": 1, "cases.patch": 1, "cases.close": 1, "cases.create": 1,
		"comments.list": 1, "comments.create": 1, "attachments.list": 1, "media.upload": 1, "media.download": 1,
	}
	if diff := cmp.Diff(want, s.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
