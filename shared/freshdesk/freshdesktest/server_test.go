package freshdesktest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/google/go-cmp/cmp"
)

// call makes one request with the API key (key "" sends none) and returns
// the status, headers and body.
func call(t *testing.T, s *freshdesktest.Server, method, path, key string, body any) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.SetBasicAuth(key, "X")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func TestTheSimulatorAnswersAsFreshdeskDocumentsIt(t *testing.T) {
	s := freshdesktest.NewServer(t, freshdesktest.Options{})
	key := s.Options().APIKey
	id := s.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})

	t.Run("a wrong API key answers 401 invalid_credentials", func(t *testing.T) {
		st, _, body := call(t, s, http.MethodGet, "/api/v2/agents/me", "wrong", nil)
		if st != 401 || !strings.Contains(string(body), `"code":"invalid_credentials"`) {
			t.Errorf("%d %s", st, body)
		}
	})
	t.Run("custom fields are checked by name and type", func(t *testing.T) {
		st, _, body := call(t, s, http.MethodPut, "/api/v2/tickets/"+id, key, map[string]any{"custom_fields": map[string]any{
			"cf_unknown": "x", freshdesktest.FieldSyncFlag: "yes", freshdesktest.FieldGoogleCase: strings.Repeat("a", 256)}})
		var v struct {
			Description string
			Errors      []struct{ Field, Code string }
		}
		_ = json.Unmarshal(body, &v)
		want := []struct{ Field, Code string }{{"cf_google_case", "invalid_value"}, {"cf_sync_with_google", "datatype_mismatch"}, {"cf_unknown", "invalid_field"}}
		if st != 400 || v.Description != "Validation failed" || !cmp.Equal(want, v.Errors) {
			t.Errorf("%d %s", st, body)
		}
	})
	t.Run("a priority out of 1 to 4 is refused", func(t *testing.T) {
		st, _, body := call(t, s, http.MethodPut, "/api/v2/tickets/"+id, key, map[string]any{"priority": 5})
		if st != 400 || !strings.Contains(string(body), `"code":"invalid_value"`) {
			t.Errorf("%d %s", st, body)
		}
	})
	t.Run("an unknown ticket answers 404", func(t *testing.T) {
		if st, _, _ := call(t, s, http.MethodGet, "/api/v2/tickets/999999", key, nil); st != 404 {
			t.Errorf("status %d", st)
		}
	})
	t.Run("the list pages with a Link to the next page", func(t *testing.T) {
		s.CreateTicket(freshdesktest.Ticket{Subject: "s2", Description: "d"})
		st, h, _ := call(t, s, http.MethodGet, "/api/v2/tickets?per_page=1&updated_since=2000-01-01T00:00:00Z", key, nil)
		if st != 200 || !strings.Contains(h.Get("Link"), `page=2`) || !strings.HasSuffix(h.Get("Link"), `rel="next"`) {
			t.Errorf("%d Link %q", st, h.Get("Link"))
		}
		if h.Get("Date") == "" {
			t.Errorf("no Date header")
		}
	})
	t.Run("updated_at and the description are of second granularity and the description is no conversation", func(t *testing.T) {
		_, _, body := call(t, s, http.MethodGet, "/api/v2/tickets/"+id, key, nil)
		var raw map[string]any
		_ = json.Unmarshal(body, &raw)
		updated, _ := raw["updated_at"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05Z", updated); err != nil || raw["description_text"] != "d" {
			t.Errorf("updated_at %q, description_text %v", updated, raw["description_text"])
		}
		_, _, convs := call(t, s, http.MethodGet, "/api/v2/tickets/"+id+"/conversations", key, nil)
		if strings.TrimSpace(string(convs)) != "[]" {
			t.Errorf("conversations %s, want none", convs)
		}
	})
}

func TestAttachmentURLsArePreSignedAndExpire(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := freshdesktest.NewServer(t, freshdesktest.Options{Clock: clock, URLLifetime: time.Minute})
	id := s.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	if _, err := s.AddHumanAttachment(id, "Alice Agent", "a.txt", "text/plain", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	_, _, body := call(t, s, http.MethodGet, "/api/v2/tickets/"+id+"/conversations", s.Options().APIKey, nil)
	var convs []struct {
		Attachments []struct {
			AttachmentURL string `json:"attachment_url"`
		}
	}
	if err := json.Unmarshal(body, &convs); err != nil || len(convs) != 1 || len(convs[0].Attachments) != 1 {
		t.Fatalf("%s", body)
	}
	u := convs[0].Attachments[0].AttachmentURL
	if strings.HasPrefix(u, s.URL) {
		t.Errorf("the file %s is on the API's host", u)
	}
	get := func(auth bool) int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if auth {
			req.SetBasicAuth(s.Options().APIKey, "X")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(false); st != 200 {
		t.Errorf("a fresh URL: %d", st)
	}
	if st := get(true); st != 400 {
		t.Errorf("a fresh URL with an Authorization header: %d, want 400", st)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if st := get(false); st != 403 {
		t.Errorf("an expired URL: %d, want 403", st)
	}
}
