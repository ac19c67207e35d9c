package csapitest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
)

func TestCommentCreateEnforcesTheCharacterLimit(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	tests := []struct {
		name string
		body string
		want apiStatus
	}{
		{"exactly 12,800 two-byte characters are accepted", strings.Repeat("é", 12800), apiStatus{}},
		{"12,801 characters are rejected", strings.Repeat("a", 12801), apiStatus{400, "INVALID_ARGUMENT"}},
		{"an empty body is rejected", "", apiStatus{400, "INVALID_ARGUMENT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: tc.body}).Do()
			if diff := cmp.Diff(tc.want, statusOf(t, err)); diff != "" {
				t.Errorf("Create comment error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommentsListNewestFirstWithTheirAuthors(t *testing.T) {
	s, svc, clk := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")

	clk.Advance(time.Minute)
	mine, err := svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: "from the connector"}).Do()
	if err != nil {
		t.Fatalf("Create comment: %v", err)
	}
	clk.Advance(time.Minute)
	agentName, err := s.AddAgentComment(name, "from an agent")
	if err != nil {
		t.Fatalf("AddAgentComment: %v", err)
	}
	clk.Advance(time.Minute)
	customerName, err := s.AddComment(name, "from the customer", Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"})
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}

	resp, err := svc.Cases.Comments.List(name).Do()
	if err != nil {
		t.Fatalf("List comments: %v", err)
	}
	t0 := newFakeClock().Now()
	want := []*cloudsupport.Comment{
		{Name: customerName, Body: "from the customer", PlainTextBody: "from the customer", CreateTime: formatTime(t0.Add(3 * time.Minute)),
			Creator: &cloudsupport.Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"}},
		{Name: agentName, Body: "from an agent", PlainTextBody: "from an agent", CreateTime: formatTime(t0.Add(2 * time.Minute)),
			Creator: &cloudsupport.Actor{DisplayName: obfuscatedAgentNames[0], GoogleSupport: true}},
		{Name: mine.Name, Body: "from the connector", PlainTextBody: "from the connector", CreateTime: formatTime(t0.Add(time.Minute)),
			Creator: &cloudsupport.Actor{DisplayName: callerEmail, Email: callerEmail, Username: callerEmail}},
	}
	if diff := cmp.Diff(want, resp.Comments, cmpopts.IgnoreFields(cloudsupport.Comment{}, "ServerResponse")); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}

	t.Run("comment IDs are numeric", func(t *testing.T) {
		for _, c := range resp.Comments {
			id := c.Name[strings.LastIndex(c.Name, "/")+1:]
			if strings.Trim(id, "0123456789") != "" {
				t.Errorf("comment ID %q is not numeric", id)
			}
		}
	})
	t.Run("each comment bumps the case update time and an agent answer asks for action", func(t *testing.T) {
		c, err := svc.Cases.Get(name).Do()
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if diff := cmp.Diff([]string{formatTime(clk.Now()), "IN_PROGRESS_GOOGLE_SUPPORT"}, []string{c.UpdateTime, c.State}); diff != "" {
			t.Errorf("update time and state after the customer answered (-want +got):\n%s", diff)
		}
	})
	t.Run("a single comment can be read by name", func(t *testing.T) {
		c, err := svc.Cases.Comments.Get(agentName).Do()
		if err != nil {
			t.Fatalf("Get comment: %v", err)
		}
		if c.Body != "from an agent" {
			t.Errorf("Body = %q, want %q", c.Body, "from an agent")
		}
	})
	t.Run("comments of an unknown case are not found", func(t *testing.T) {
		_, err := svc.Cases.Comments.List(testProject + "/cases/99999999").Do()
		if diff := cmp.Diff(apiStatus{404, "NOT_FOUND"}, statusOf(t, err)); diff != "" {
			t.Errorf("List error (-want +got):\n%s", diff)
		}
	})
}

func TestCommentsPageNewestFirstWithTheDefaultPageSize(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	var want []string
	for i := 0; i < 23; i++ {
		n, err := s.AddAgentComment(name, "answer")
		if err != nil {
			t.Fatalf("AddAgentComment: %v", err)
		}
		want = append([]string{n}, want...)
	}
	var got []string
	var sizes []int
	err := svc.Cases.Comments.List(name).Pages(t.Context(), func(r *cloudsupport.ListCommentsResponse) error {
		sizes = append(sizes, len(r.Comments))
		for _, c := range r.Comments {
			got = append(got, c.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pages: %v", err)
	}
	if diff := cmp.Diff([]int{10, 10, 3}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comment order across pages (-want +got):\n%s", diff)
	}
}

func TestCommentsAreSafeUnderConcurrentWriters(t *testing.T) {
	s, svc, _ := startSim(t)
	name := mustCreate(t, s, testProject, "t", "d", "P3", "alice@example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := svc.Cases.Comments.Create(name, &cloudsupport.Comment{Body: "api"}).Do()
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.AddAgentComment(name, "hook")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent comment: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, c := range s.Comments(name) {
		seen[c.Name] = true
	}
	if len(seen) != 16 {
		t.Errorf("%d distinct comments stored, want 16", len(seen))
	}
}
