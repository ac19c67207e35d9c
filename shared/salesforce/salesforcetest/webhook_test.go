package salesforcetest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

const apexSecret = "salesforce-apex-secret-0123456789"

// receiver is casebridge's verifier behind a real HTTP server, on the
// clock now.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	events  []webhook.Event
	refused []int
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	t.Helper()
	v, err := webhook.New(webhook.KindSalesforce, []byte(apexSecret), now)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ev, err := v.Verify(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.refused = append(r.refused, webhook.Status(err))
			http.Error(w, err.Error(), webhook.Status(err))
			return
		}
		ev.Size, ev.Kind = 0, ""
		r.events = append(r.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// take returns what the receiver took and refused since the last call,
// once the simulator's webhooks so far are answered.
func (r *receiver) take(sim *salesforcetest.Server) ([]webhook.Event, []int) {
	sim.WaitWebhooks()
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, ref := r.events, r.refused
	r.events, r.refused = nil, nil
	return ev, ref
}

func putApex(t *testing.T, sim *salesforcetest.Server, a salesforcetest.WebhookApex) int {
	t.Helper()
	b, _ := json.Marshal(a)
	req, _ := http.NewRequest(http.MethodPut, sim.URL+salesforcetest.SimWebhookPath, bytes.NewReader(b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTheApexSendsSignedWebhooksOfFlaggedOrLinkedCases(t *testing.T) {
	var mu sync.Mutex
	simNow := time.Now()
	sim := salesforcetest.NewServer(t, salesforcetest.Options{Clock: func() time.Time { mu.Lock(); defer mu.Unlock(); return simNow }})
	rcv := newReceiver(t, time.Now)
	if st := putApex(t, sim, salesforcetest.WebhookApex{URL: rcv.srv.URL, Secret: apexSecret}); st != http.StatusNoContent {
		t.Fatalf("PUT %s = %d, want 204", salesforcetest.SimWebhookPath, st)
	}
	check := func(what string, want ...webhook.Event) {
		t.Helper()
		got, refused := rcv.take(sim)
		if len(refused) != 0 || !cmp.Equal(want, got) {
			t.Errorf("%s: the receiver took %+v and refused %v, want %+v and none refused", what, got, refused, want)
		}
	}

	flagged := sim.CreateCase(salesforcetest.Case{Subject: "s", Description: "d", SyncFlag: true, Author: "Dana Agent"})
	dana := userID(t, sim, "Dana Agent")
	plain := sim.CreateCase(salesforcetest.Case{Subject: "s", Description: "d", Author: "Dana Agent"})
	check("a flagged case and a plain one created", webhook.Event{CaseIDs: []string{flagged}, Type: "Case", Actor: dana})

	if _, err := sim.AddComment(flagged, "Dana Agent", "a public comment", true); err != nil {
		t.Fatal(err)
	}
	check("a comment", webhook.Event{CaseIDs: []string{flagged}, Type: "CaseComment", Actor: dana})
	if _, err := sim.AddFile(flagged, "Dana Agent", "log.txt", []byte("x"), "AllUsers"); err != nil {
		t.Fatal(err)
	}
	check("a file", webhook.Event{CaseIDs: []string{flagged}, Type: "ContentDocumentLink", Actor: dana})
	if _, err := sim.AddComment(plain, "Dana Agent", "a comment", true); err != nil {
		t.Fatal(err)
	}
	check("a comment on a case neither flagged nor linked")

	// The sync user links the plain case through the API: sent, naming the
	// sync user, whom the receiver drops by CASEBRIDGE_WEBHOOK_SYNC_USER.
	tok := token(t, sim)
	body, _ := json.Marshal(map[string]any{salesforcetest.GoogleCaseField: "projects/p/cases/1"})
	req, _ := http.NewRequest(http.MethodPatch, sim.URL+"/services/data/v66.0/sobjects/Case/"+plain, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	check("the sync user's link", webhook.Event{CaseIDs: []string{plain}, Type: "Case", Actor: sim.SyncUserID()})

	// Signed by the org's clock: six minutes behind the receiver's, the
	// webhook is stale.
	mu.Lock()
	simNow = time.Now().Add(-6 * time.Minute)
	mu.Unlock()
	if err := sim.UpdateCase(flagged, "Dana Agent", map[string]any{"Priority": "High"}); err != nil {
		t.Fatal(err)
	}
	if got, refused := rcv.take(sim); len(got) != 0 || !cmp.Equal([]int{http.StatusUnauthorized}, refused) {
		t.Errorf("a webhook signed six minutes ago: the receiver took %+v and refused %v, want one 401", got, refused)
	}
	mu.Lock()
	simNow = time.Now()
	mu.Unlock()

	// Another secret in the org's setting: refused.
	if st := putApex(t, sim, salesforcetest.WebhookApex{URL: rcv.srv.URL, Secret: "another-secret-0123456789"}); st != http.StatusNoContent {
		t.Fatalf("PUT = %d", st)
	}
	if err := sim.UpdateCase(flagged, "Dana Agent", map[string]any{"Priority": "Low"}); err != nil {
		t.Fatal(err)
	}
	if got, refused := rcv.take(sim); len(got) != 0 || !cmp.Equal([]int{http.StatusUnauthorized}, refused) {
		t.Errorf("another secret: the receiver took %+v and refused %v, want one 401", got, refused)
	}

	// Removed: nothing is sent.
	if st := putApex(t, sim, salesforcetest.WebhookApex{}); st != http.StatusNoContent {
		t.Fatalf("PUT {} = %d", st)
	}
	if _, err := sim.AddComment(flagged, "Dana Agent", "again", true); err != nil {
		t.Fatal(err)
	}
	check("a comment with the Apex removed")

	for name, a := range map[string]salesforcetest.WebhookApex{
		"a short secret":     {URL: rcv.srv.URL, Secret: "short"},
		"no URL":             {Secret: apexSecret},
		"a URL of no scheme": {URL: "127.0.0.1/x", Secret: apexSecret},
		"an ftp URL":         {URL: "ftp://127.0.0.1/x", Secret: apexSecret},
	} {
		if st := putApex(t, sim, a); st != http.StatusBadRequest {
			t.Errorf("PUT %s = %d, want 400", name, st)
		}
	}
}

// userID is the id of the user called name, by a SOQL query on User.
func userID(t *testing.T, sim *salesforcetest.Server, name string) string {
	t.Helper()
	tok := token(t, sim)
	q := url.Values{"q": {"SELECT Id FROM User WHERE Name = '" + name + "'"}}
	req, _ := http.NewRequest(http.MethodGet, sim.URL+"/services/data/v66.0/query?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Records []struct{ Id string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Records) != 1 {
		t.Fatalf("no user %s: %d %v", name, resp.StatusCode, err)
	}
	return out.Records[0].Id
}

func token(t *testing.T, sim *salesforcetest.Server) string {
	t.Helper()
	o := sim.Options()
	resp, err := http.PostForm(sim.URL+"/services/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {o.ClientID}, "client_secret": {o.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return out.AccessToken
}
