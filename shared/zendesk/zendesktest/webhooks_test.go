package zendesktest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// request is a webhook request as the endpoint received it.
type request struct {
	Method string
	Header http.Header
	Body   []byte
}

// endpoint is a webhook endpoint on a local port that records what it
// receives and answers status(n) to the n-th request (from 0).
type endpoint struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	status func(n int) int
	// during, when set, runs while a request is being answered.
	during func()
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{status: func(int) int { return http.StatusOK }}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.got)
		e.got = append(e.got, request{Method: r.Method, Header: r.Header.Clone(), Body: body})
		status, during := e.status(n), e.during
		e.mu.Unlock()
		if during != nil {
			during()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) requests() []request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]request(nil), e.got...)
}

// zendeskSignature computes Zendesk's documented signature independently
// of the simulator: base64(HMAC-SHA256(secret, timestamp + body)).
func zendeskSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + string(body)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// api makes a request to the simulator as the sync user and decodes the
// JSON answer.
func api(t *testing.T, s *zendesktest.Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basic(s.Options()))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// createWebhook creates a webhook through the API and returns its id and
// signing secret (read back through the API too).
func createWebhook(t *testing.T, s *zendesktest.Server, endpointURL, status string, subscriptions ...string) (id, secret string) {
	t.Helper()
	subs, _ := json.Marshal(subscriptions)
	st, out := api(t, s, "POST", "/api/v2/webhooks", `{"webhook":{"name":"casebridge","status":"`+status+`","endpoint":"`+endpointURL+
		`","http_method":"POST","request_format":"json","subscriptions":`+string(subs)+`}}`)
	hook, _ := out["webhook"].(map[string]any)
	id, _ = hook["id"].(string)
	if st != http.StatusCreated || id == "" {
		t.Fatalf("creating a webhook answered %d %v", st, out)
	}
	st, out = api(t, s, "GET", "/api/v2/webhooks/"+id+"/signing_secret", "")
	ss, _ := out["signing_secret"].(map[string]any)
	secret, _ = ss["secret"].(string)
	if st != http.StatusOK || secret == "" || ss["algorithm"] != "SHA256" {
		t.Fatalf("reading the signing secret answered %d %v", st, out)
	}
	return id, secret
}

var allTicketEvents = []string{
	"zen:event-type:ticket.created",
	"zen:event-type:ticket.comment_added",
	"zen:event-type:ticket.status_changed",
	"zen:event-type:ticket.priority_changed",
	"zen:event-type:ticket.tags_changed",
	"zen:event-type:ticket.custom_field_changed",
}

// event is what a test reads of an event payload.
type event struct {
	Type     string
	Subject  string
	DetailID string
	Event    map[string]any
}

func decodeEvent(t *testing.T, body []byte) event {
	t.Helper()
	var p struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
		ID      string `json:"id"`
		Time    string `json:"time"`
		Version string `json:"zendesk_event_version"`
		Account int64  `json:"account_id"`
		Detail  struct {
			ID string `json:"id"`
		} `json:"detail"`
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("the payload is not JSON: %v", err)
	}
	if p.ID == "" || p.Version == "" || p.Account == 0 {
		t.Errorf("payload lacks id, zendesk_event_version or account_id: %s", body)
	}
	if _, err := time.Parse(time.RFC3339Nano, p.Time); err != nil {
		t.Errorf("payload time %q: %v", p.Time, err)
	}
	delete(p.Event, "meta")
	return event{Type: p.Type, Subject: p.Subject, DetailID: p.Detail.ID, Event: p.Event}
}

func TestEveryTicketChangeIsSentSignedToTheSubscribedWebhook(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	ep := newEndpoint(t)
	hookID, secret := createWebhook(t, s, ep.URL, "active", allTicketEvents...)

	id := s.CreateTicket(zendesktest.Ticket{Subject: "printer on fire", Description: "d", Priority: "low"})
	if _, err := s.AddHumanComment(id, "Bob Agent", "we are on it", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHumanPriority(id, "urgent"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHumanStatus(id, "pending"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHumanTags(id, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHumanSyncFlag(id, true); err != nil {
		t.Fatal(err)
	}
	s.WaitWebhooks()

	got := map[string]event{}
	for _, r := range ep.requests() {
		ts := r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
		if when, err := time.Parse("2006-01-02T15:04:05Z", ts); err != nil || time.Since(when).Abs() > time.Minute {
			t.Errorf("timestamp %q is not a current ISO 8601 UTC time (%v)", ts, err)
		}
		if sig, want := r.Header.Get("X-Zendesk-Webhook-Signature"), zendeskSignature(secret, ts, r.Body); sig != want {
			t.Errorf("signature %q, want %q", sig, want)
		}
		if r.Method != "POST" || r.Header.Get("X-Zendesk-Webhook-Id") != hookID || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("request %s with headers %v", r.Method, r.Header)
		}
		ev := decodeEvent(t, r.Body)
		got[ev.Type] = ev
	}
	subject := "zen:ticket:" + id
	want := map[string]event{
		"zen:event-type:ticket.created": {Type: "zen:event-type:ticket.created", Subject: subject, DetailID: id, Event: map[string]any{}},
		"zen:event-type:ticket.comment_added": {Type: "zen:event-type:ticket.comment_added", Subject: subject, DetailID: id, Event: map[string]any{
			"comment": map[string]any{"body": "we are on it", "is_public": true, "author": map[string]any{"is_staff": true, "name": "Bob Agent"}}}},
		"zen:event-type:ticket.priority_changed": {Type: "zen:event-type:ticket.priority_changed", Subject: subject, DetailID: id,
			Event: map[string]any{"current": "URGENT", "previous": "LOW"}},
		"zen:event-type:ticket.status_changed": {Type: "zen:event-type:ticket.status_changed", Subject: subject, DetailID: id,
			Event: map[string]any{"current": "PENDING", "previous": "NEW"}},
		"zen:event-type:ticket.tags_changed": {Type: "zen:event-type:ticket.tags_changed", Subject: subject, DetailID: id,
			Event: map[string]any{"tags_added": []any{"vip"}, "tags_removed": []any{}}},
		"zen:event-type:ticket.custom_field_changed": {Type: "zen:event-type:ticket.custom_field_changed", Subject: subject, DetailID: id,
			Event: map[string]any{"current": map[string]any{"value": true}, "previous": map[string]any{"value": false},
				"custom_field": map[string]any{"id": "360000000001", "title": "Sync with Google", "type": "checkbox"}}},
	}
	// Ids of comments and authors are the simulator's to choose.
	if c, ok := got["zen:event-type:ticket.comment_added"].Event["comment"].(map[string]any); ok {
		if c["id"] == nil || c["id"] == "" {
			t.Errorf("the comment has no id: %v", c)
		}
		delete(c, "id")
		if a, ok := c["author"].(map[string]any); ok {
			delete(a, "id")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events by type (-want +got):\n%s", diff)
	}
	if n := len(ep.requests()); n != len(want) {
		t.Errorf("%d requests, want one per change (%d)", n, len(want))
	}
}

func TestOnlyActiveWebhooksSubscribedToAnEventReceiveIt(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	comments, inactive, trigger := newEndpoint(t), newEndpoint(t), newEndpoint(t)
	createWebhook(t, s, comments.URL, "active", "zen:event-type:ticket.comment_added")
	createWebhook(t, s, inactive.URL, "inactive", allTicketEvents...)
	createWebhook(t, s, trigger.URL, "active", "conditional_ticket_events")

	id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	if err := s.SetHumanPriority(id, "high"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddHumanComment(id, "Bob Agent", "internal", false); err != nil {
		t.Fatal(err)
	}
	s.WaitWebhooks()
	var types []string
	for _, r := range comments.requests() {
		types = append(types, decodeEvent(t, r.Body).Type)
	}
	got := []any{types, len(inactive.requests()), len(trigger.requests())}
	want := []any{[]string{"zen:event-type:ticket.comment_added"}, 0, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[types the comment webhook got, requests to the inactive one, to the trigger one] (-want +got):\n%s", diff)
	}
}

func TestChangesThroughTheAPIAreSentToo(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	ep := newEndpoint(t)
	_, secret := createWebhook(t, s, ep.URL, "active", allTicketEvents...)
	id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	s.WaitWebhooks()
	before := len(ep.requests())
	if st, out := api(t, s, "PUT", "/api/v2/tickets/"+id+".json", `{"ticket":{"comment":{"body":"[Google Comment 1 by x]","public":true}}}`); st != 200 {
		t.Fatalf("commenting through the API answered %d %v", st, out)
	}
	s.WaitWebhooks()
	reqs := ep.requests()[before:]
	if len(reqs) != 1 {
		t.Fatalf("%d requests after one API comment, want 1", len(reqs))
	}
	r := reqs[0]
	ts := r.Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
	var p struct {
		Detail struct {
			ID      string `json:"id"`
			ActorID string `json:"actor_id"`
		} `json:"detail"`
	}
	_ = json.Unmarshal(r.Body, &p)
	got := []any{r.Header.Get("X-Zendesk-Webhook-Signature") == zendeskSignature(secret, ts, r.Body), p.Detail.ID, p.Detail.ActorID}
	want := []any{true, id, itoa(s.SyncUserID())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[signature valid, ticket, actor] (-want +got):\n%s", diff)
	}
}

func TestWebhookRequestsAreSentOutsideTheSimulatorsLock(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	ep := newEndpoint(t)
	createWebhook(t, s, ep.URL, "active", "zen:event-type:ticket.comment_added")
	id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	read := make(chan error, 1)
	// The endpoint reads the ticket back while answering, as a receiver
	// that syncs at once would; under the lock this would never return.
	ep.during = func() {
		_, err := s.TicketState(id)
		read <- err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.AddHumanComment(id, "Bob Agent", "hi", true); err != nil {
			t.Error(err)
		}
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("reading the ticket during the delivery: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the endpoint could not read the simulator while a webhook was being delivered")
	}
	<-done
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		want     int // requests made
	}{
		{"a 409 is retried until accepted", []int{409, 200}, 2},
		{"a 409 is retried three times at most", []int{409, 409, 409, 409, 409}, 4},
		{"a 500 is not retried", []int{500, 200}, 1},
		{"a 429 without Retry-After is not retried", []int{429, 200}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := zendesktest.NewServer(t, zendesktest.Options{})
			ep := newEndpoint(t)
			ep.status = func(n int) int { return tc.statuses[min(n, len(tc.statuses)-1)] }
			createWebhook(t, s, ep.URL, "active", "zen:event-type:ticket.created")
			s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			s.WaitWebhooks()
			reqs := ep.requests()
			invocations := map[string]bool{}
			bodies := map[string]bool{}
			for _, r := range reqs {
				invocations[r.Header.Get("X-Zendesk-Webhook-Invocation-Id")] = true
				bodies[string(r.Body)] = true
			}
			if diff := cmp.Diff([]int{tc.want, 1, 1}, []int{len(reqs), len(invocations), len(bodies)}); diff != "" {
				t.Errorf("[requests, invocation ids, bodies] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheWebhooksAPI(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	ep := newEndpoint(t)
	id, secret := createWebhook(t, s, ep.URL, "active", "zen:event-type:ticket.created")
	other, _ := createWebhook(t, s, ep.URL, "inactive", "conditional_ticket_events")

	t.Run("show answers the webhook without its secret", func(t *testing.T) {
		st, out := api(t, s, "GET", "/api/v2/webhooks/"+id, "")
		hook, _ := out["webhook"].(map[string]any)
		got := []any{st, hook["id"], hook["endpoint"], hook["status"], hook["http_method"], strings.Contains(mustJSON(out), secret)}
		if diff := cmp.Diff([]any{200, id, ep.URL, "active", "POST", false}, got); diff != "" {
			t.Errorf("[status, id, endpoint, status, method, secret shown] (-want +got):\n%s", diff)
		}
	})
	t.Run("list answers every webhook and filters by status", func(t *testing.T) {
		var got [][]any
		for _, q := range []string{"", "?filter[status]=inactive", "?page[size]=1"} {
			st, out := api(t, s, "GET", "/api/v2/webhooks"+q, "")
			list, _ := out["webhooks"].([]any)
			meta, _ := out["meta"].(map[string]any)
			var ids []any
			for _, h := range list {
				ids = append(ids, h.(map[string]any)["id"])
			}
			got = append(got, []any{st, len(ids), meta["has_more"]})
			if q == "?filter[status]=inactive" && (len(ids) != 1 || ids[0] != other) {
				t.Errorf("inactive webhooks = %v, want [%s]", ids, other)
			}
		}
		want := [][]any{{200, 2, false}, {200, 1, false}, {200, 1, true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("[status, webhooks, has_more] per query (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid webhooks are refused", func(t *testing.T) {
		bodies := []string{
			`{"webhook":{"name":"x","status":"active","endpoint":"ftp://example.test","http_method":"POST","request_format":"json","subscriptions":["zen:event-type:ticket.created"]}}`,
			`{"webhook":{"name":"x","status":"active","endpoint":"http://example.test","http_method":"GET","request_format":"json","subscriptions":["zen:event-type:ticket.created"]}}`,
			`{"webhook":{"name":"x","status":"paused","endpoint":"http://example.test","http_method":"POST","request_format":"json","subscriptions":["zen:event-type:ticket.created"]}}`,
			`{"webhook":{"name":"x","status":"active","endpoint":"http://example.test","http_method":"POST","request_format":"json","subscriptions":["conditional_ticket_events","zen:event-type:ticket.created"]}}`,
			`{"webhook":{"status":"active","endpoint":"http://example.test","http_method":"POST","request_format":"json","subscriptions":["zen:event-type:ticket.created"]}}`,
			`{"webhook":{"name":"x","status":"active","endpoint":"http://example.test","http_method":"POST","request_format":"json","subscriptions":["zen:event-type:ticket.created"],"custom_headers":{"X-A":"b\r\nX-Evil: 1"}}}`,
			`not json`,
		}
		for _, b := range bodies {
			if st, out := api(t, s, "POST", "/api/v2/webhooks", b); st != 400 || out["errors"] == nil {
				t.Errorf("creating %s answered %d %v, want 400 with errors", b, st, out)
			}
		}
	})
	t.Run("resetting the secret signs the next requests with the new one", func(t *testing.T) {
		st, out := api(t, s, "POST", "/api/v2/webhooks/"+id+"/signing_secret", "")
		ss, _ := out["signing_secret"].(map[string]any)
		fresh, _ := ss["secret"].(string)
		if st != 201 || fresh == "" || fresh == secret {
			t.Fatalf("reset answered %d %v", st, out)
		}
		before := len(ep.requests())
		s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
		s.WaitWebhooks()
		reqs := ep.requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		ts := reqs[0].Header.Get("X-Zendesk-Webhook-Signature-Timestamp")
		sig := reqs[0].Header.Get("X-Zendesk-Webhook-Signature")
		if got := []bool{sig == zendeskSignature(fresh, ts, reqs[0].Body), sig == zendeskSignature(secret, ts, reqs[0].Body)}; !cmp.Equal(got, []bool{true, false}) {
			t.Errorf("[valid with the new secret, valid with the old] = %v", got)
		}
	})
	t.Run("delete removes the webhook and stops its requests", func(t *testing.T) {
		if st, _ := api(t, s, "DELETE", "/api/v2/webhooks/"+id, ""); st != 204 {
			t.Fatalf("delete answered %d", st)
		}
		before := len(ep.requests())
		s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
		s.WaitWebhooks()
		st1, _ := api(t, s, "GET", "/api/v2/webhooks/"+id, "")
		st2, _ := api(t, s, "DELETE", "/api/v2/webhooks/"+id, "")
		if diff := cmp.Diff([]int{404, 404, 0}, []int{st1, st2, len(ep.requests()) - before}); diff != "" {
			t.Errorf("[show, delete again, requests after] (-want +got):\n%s", diff)
		}
	})
}

func mustJSON(v any) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.String()
}

// TestTheReceiversVerifierAcceptsWhatTheSimulatorSends runs the requests
// the simulator sends through casebridge's webhook verifier, as the
// CRMWebhook function does.
func TestTheReceiversVerifierAcceptsWhatTheSimulatorSends(t *testing.T) {
	s := zendesktest.NewServer(t, zendesktest.Options{})
	ep := newEndpoint(t)
	_, secret := createWebhook(t, s, ep.URL, "active", allTicketEvents...)
	v, err := webhook.New(webhook.KindZendesk, []byte(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := s.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	if st, out := api(t, s, "PUT", "/api/v2/tickets/"+id+".json", `{"ticket":{"comment":{"body":"from Google"}}}`); st != 200 {
		t.Fatalf("commenting through the API answered %d %v", st, out)
	}
	s.WaitWebhooks()
	reqs := ep.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (created, comment added)", len(reqs))
	}
	var got []webhook.Event
	for _, r := range reqs {
		req := httptest.NewRequest(r.Method, "/", bytes.NewReader(r.Body))
		req.Header = r.Header
		ev, err := v.Verify(req)
		if err != nil {
			t.Fatalf("the verifier refused the simulator's request: %v", err)
		}
		if ev.EventID == "" {
			t.Errorf("event %+v has no id", ev)
		}
		ev.EventID, ev.Actor, ev.Size = "", "", 0
		got = append(got, ev)
		// The same request with one byte of the body changed is refused.
		tampered := bytes.Clone(r.Body)
		tampered[len(tampered)/2] ^= 1
		req = httptest.NewRequest(r.Method, "/", bytes.NewReader(tampered))
		req.Header = r.Header
		if _, err := v.Verify(req); webhook.Status(err) != http.StatusUnauthorized {
			t.Errorf("a tampered body: %v, want 401", err)
		}
	}
	want := []webhook.Event{
		{Kind: webhook.KindZendesk, CaseIDs: []string{id}, Type: "zen:event-type:ticket.created"},
		{Kind: webhook.KindZendesk, CaseIDs: []string{id}, Type: "zen:event-type:ticket.comment_added"},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b webhook.Event) bool { return a.Type < b.Type })); diff != "" {
		t.Errorf("verified events (-want +got):\n%s", diff)
	}
}
