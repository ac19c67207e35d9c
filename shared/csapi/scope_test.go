package csapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

func TestInScopeFollowsTheConfiguredParents(t *testing.T) {
	tests := []struct {
		name   string
		parent string
		more   []string
		cases  map[string]bool
	}{
		{"an organization covers its own cases and any project's", org, nil, map[string]bool{
			org + "/cases/1":                     true,
			"projects/sandbox-project/cases/1":   true,
			"projects/200/cases/1":               true,
			"organizations/999/cases/1":          false,
			"projects/p/cases/1/comments/2":      false,
			"projects/p/cases/1/../../x/cases/1": false,
			"projects/p/cases/":                  false,
			"":                                   false,
		}},
		{"an allowlist covers its projects only", "projects/shop-prod", []string{"projects/shop-staging"}, map[string]bool{
			"projects/shop-prod/cases/7":    true,
			"projects/shop-staging/cases/7": true,
			"projects/other/cases/7":        false,
			org + "/cases/7":                false,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Parent, cfg.CreateParent, cfg.MoreParents = tc.parent, tc.parent, tc.more
			c := newClient(t, "http://127.0.0.1:1", cfg)
			for name, want := range tc.cases {
				if got := c.InScope(name); got != want {
					t.Errorf("InScope(%q) = %v, want %v", name, got, want)
				}
			}
		})
	}
}

func TestAMalformedCaseNameNeverReachesTheAPI(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	ctx := context.Background()
	bad := []string{
		"projects/sandbox-project/cases/1/../../../v1/projects/x",
		"projects/sandbox-project/cases/1?alt=media",
		"projects/sandbox-project/cases/1%2F..",
		"projects/sandbox-project",
		"see case 123",
	}
	sim.ResetCalls()
	for _, name := range bad {
		calls := map[string]error{}
		_, calls["GetCase"] = c.GetCase(ctx, name)
		calls["SetPriority"] = c.SetPriority(ctx, name, casesync.P2)
		calls["CloseCase"] = c.CloseCase(ctx, name)
		_, calls["ListComments"] = c.ListComments(ctx, name)
		_, calls["AddComment"] = c.AddComment(ctx, name, "hello")
		_, calls["ListAttachments"] = c.ListAttachments(ctx, name)
		_, calls["DownloadAttachment"] = c.DownloadAttachment(ctx, name, "a1")
		_, calls["UploadAttachment"] = c.UploadAttachment(ctx, name, "f.txt", "text/plain", strings.NewReader("x"))
		for op, err := range calls {
			if ae := apiError(t, err); ae.Transient || !strings.Contains(ae.Error(), "malformed") {
				t.Errorf("%s(%q) = %v; want a permanent error saying the name is malformed", op, name, err)
			}
		}
	}
	good := "projects/sandbox-project/cases/1"
	if _, err := c.DownloadAttachment(ctx, good, "../../x"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("DownloadAttachment with attachment id ../../x = %v; want it refused as malformed", err)
	}
	if _, err := c.DownloadAttachment(ctx, good, "projects/other/cases/2/attachments/a1"); err == nil {
		t.Errorf("DownloadAttachment of another case's attachment name went ahead")
	}
	if n := len(sim.Calls()); n != 0 {
		t.Errorf("the API was called %d times (%v); a malformed name must be refused before any call", n, sim.Calls())
	}
}

func TestAnEndlessListingStops(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"cases":[{"name":"projects/p/cases/%d","createTime":"2026-01-01T00:00:00Z","updateTime":"2026-01-01T00:00:00Z"}],"nextPageToken":"t%d"}`, n, n)
	}))
	defer srv.Close()
	cfg := testConfig()
	cfg.MaxPages = 7
	c := newClient(t, srv.URL, cfg)
	_, err := c.SearchUpdated(context.Background(), time.Time{})
	if ae := apiError(t, err); ae.Transient || !strings.Contains(ae.Error(), "more than 7 pages") {
		t.Errorf("SearchUpdated against an endless listing = %v; want a permanent error saying it has more than 7 pages", err)
	}
	if n := served.Load(); n != 7 {
		t.Errorf("the server answered %d pages, want 7", n)
	}
}

func TestA25MiBDownloadStreamsWithFlatMemory(t *testing.T) {
	sim, _ := newSim(t)
	c := newClient(t, sim.URL(), testConfig())
	name := mustCase(t, sim, project, "Large file", "P3")
	data := make([]byte, 25<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	aid, err := sim.AddAttachment(name, "large.bin", "application/octet-stream", data, csapitest.Actor{DisplayName: "Alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	data = nil
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rc, err := c.DownloadAttachment(context.Background(), name, aid[strings.LastIndex(aid, "/")+1:])
	if err != nil {
		t.Fatalf("DownloadAttachment: %v", err)
	}
	n, err := io.CopyBuffer(io.Discard, rc, make([]byte, 32<<10))
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != 25<<20 {
		t.Fatalf("read %d bytes, err %v; want %d", n, err, 25<<20)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 25 MiB download allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 6<<20 {
		t.Errorf("a 25 MiB download allocated %d bytes; a streamed download stays under 6 MiB", alloc)
	}
}
