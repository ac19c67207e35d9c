package csapitest

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
)

func TestHTTPHooksDriveARunningSimulator(t *testing.T) {
	clk := newFakeClock()
	s := New(Options{Clock: clk.Now})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	svc := newClient(t, s)

	post := func(t *testing.T, path, body string) (int, map[string]any) {
		t.Helper()
		var out map[string]any
		code, _ := rawRequest(t, http.MethodPost, s.URL()+path, "application/json", body, &out)
		return code, out
	}
	mustName := func(t *testing.T, path, body string) string {
		t.Helper()
		code, out := post(t, path, body)
		name, _ := out["name"].(string)
		if code != http.StatusOK || name == "" {
			t.Fatalf("POST %s answered %d %v, want 200 with a name", path, code, out)
		}
		return name
	}

	caseName := mustName(t, "_sim/cases", `{"parent":"projects/sandbox-project","displayName":"From the console","description":"d","priority":"P2","creatorEmail":"alice@example.com"}`)
	mustName(t, "_sim/comments", `{"case":"`+caseName+`","body":"customer says hi","creator":{"displayName":"Alice","email":"alice@example.com","username":"alice@example.com"}}`)
	mustName(t, "_sim/agent-comments", `{"case":"`+caseName+`","body":"agent answers"}`)
	data := []byte{0, 1, 2, 0, 255}
	attName := mustName(t, "_sim/attachments", `{"case":"`+caseName+`","filename":"x.bin","mimeType":"application/octet-stream","data":"`+base64.StdEncoding.EncodeToString(data)+`","creator":{"displayName":"Alice"}}`)

	t.Run("attachment bytes can be read back over HTTP", func(t *testing.T) {
		resp, err := http.Get(s.URL() + "_sim/attachment-data?name=" + attName)
		if err != nil {
			t.Fatalf("GET attachment-data: %v", err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if diff := cmp.Diff(data, got); diff != "" {
			t.Errorf("attachment bytes (-want +got):\n%s", diff)
		}
	})
	t.Run("priority and close hooks change the case, and a second close fails", func(t *testing.T) {
		if code, out := post(t, "_sim/priority", `{"case":"`+caseName+`","priority":"P0"}`); code != http.StatusOK {
			t.Fatalf("priority hook answered %d %v", code, out)
		}
		if code, out := post(t, "_sim/close", `{"case":"`+caseName+`"}`); code != http.StatusOK {
			t.Fatalf("close hook answered %d %v", code, out)
		}
		code, out := post(t, "_sim/close", `{"case":"`+caseName+`"}`)
		status, _ := out["error"].(map[string]any)["status"].(string)
		if diff := cmp.Diff(apiStatus{400, "FAILED_PRECONDITION"}, apiStatus{code, status}); diff != "" {
			t.Errorf("second close (-want +got):\n%s", diff)
		}
	})
	t.Run("a fault injected over HTTP hits the API", func(t *testing.T) {
		post(t, "_sim/faults", `{"method":"cases.get","status":429,"retryAfter":"3s","count":1}`)
		_, err := svc.Cases.Get(caseName).Do()
		if diff := cmp.Diff(apiStatus{429, "RESOURCE_EXHAUSTED"}, statusOf(t, err)); diff != "" {
			t.Fatalf("get under fault (-want +got):\n%s", diff)
		}
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Header.Get("Retry-After") != "3" {
			t.Errorf("Retry-After = %q, want \"3\"", gerr.Header.Get("Retry-After"))
		}
		post(t, "_sim/faults", `{"status":500}`)
		rawRequest(t, http.MethodDelete, s.URL()+"_sim/faults", "", "", nil)
		if _, err := svc.Cases.Get(caseName).Do(); err != nil {
			t.Errorf("get after DELETE /_sim/faults: %v", err)
		}
	})
	t.Run("down and back up over HTTP", func(t *testing.T) {
		post(t, "_sim/down", `{"down":true}`)
		_, err := svc.Cases.Get(caseName).Do()
		post(t, "_sim/down", `{"down":false}`)
		_, errAfter := svc.Cases.Get(caseName).Do()
		if diff := cmp.Diff([]apiStatus{{503, "UNAVAILABLE"}, {}}, []apiStatus{statusOf(t, err), statusOf(t, errAfter)}); diff != "" {
			t.Errorf("statuses while down and after (-want +got):\n%s", diff)
		}
	})
	t.Run("search lag set over HTTP hides new cases from search", func(t *testing.T) {
		post(t, "_sim/search-lag", `{"lag":"1m"}`)
		lagged, err := svc.Cases.Search("organizations/100").Do()
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		post(t, "_sim/search-lag", `{"lag":0}`)
		current, err := svc.Cases.Search("organizations/100").Do()
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		if diff := cmp.Diff([]int{0, 1}, []int{len(lagged.Cases), len(current.Cases)}); diff != "" {
			t.Errorf("cases found with and without lag (-want +got):\n%s", diff)
		}
	})
	t.Run("calls are reported and reset over HTTP", func(t *testing.T) {
		var calls map[string]int
		rawRequest(t, http.MethodGet, s.URL()+"_sim/calls", "", "", &calls)
		if diff := cmp.Diff(map[string]int{"cases.get": 4, "cases.search": 2}, calls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		rawRequest(t, http.MethodDelete, s.URL()+"_sim/calls", "", "", nil)
		calls = nil
		rawRequest(t, http.MethodGet, s.URL()+"_sim/calls", "", "", &calls)
		if diff := cmp.Diff(map[string]int{}, calls); diff != "" {
			t.Errorf("calls after reset (-want +got):\n%s", diff)
		}
	})
	t.Run("state reports cases with comments and attachment metadata", func(t *testing.T) {
		var st State
		rawRequest(t, http.MethodGet, s.URL()+"_sim/state", "", "", &st)
		if len(st.Cases) != 1 {
			t.Fatalf("state holds %d cases, want 1", len(st.Cases))
		}
		c := st.Cases[0]
		got := []any{c.Case.Name, c.Case.State, c.Case.Priority, len(c.Comments), c.Comments[1].Creator.GoogleSupport, len(c.Attachments), c.Attachments[0].SizeBytes}
		want := []any{caseName, "CLOSED", "P0", 2, true, 1, int64(5)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
	})
	t.Run("unknown hooks and malformed bodies are rejected", func(t *testing.T) {
		codeUnknown, _ := post(t, "_sim/nope", `{}`)
		codeBad, _ := post(t, "_sim/cases", `{not json`)
		if diff := cmp.Diff([]int{404, 400}, []int{codeUnknown, codeBad}); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	})
}
