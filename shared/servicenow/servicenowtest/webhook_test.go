package servicenowtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

const ruleSecret = "servicenow-rule-secret-0123456789"

// receiver is casebridge's verifier behind a real HTTP server.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	events  []webhook.Event
	refused int
	hold    chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	v, err := webhook.New(webhook.KindServiceNow, []byte(ruleSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			<-hold
		}
		ev, err := v.Verify(req)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.refused++
			http.Error(w, err.Error(), webhook.Status(err))
			return
		}
		ev.Size = 0
		r.events = append(r.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() ([]webhook.Event, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Event(nil), r.events...), r.refused
}

// setRule installs the rule through the simulator's control endpoint, as
// the admin setup it stands for, and returns the status.
func setRule(t *testing.T, sim *servicenowtest.Server, rule servicenowtest.WebhookRule) int {
	t.Helper()
	b, _ := json.Marshal(rule)
	req, err := http.NewRequest(http.MethodPut, sim.URL+servicenowtest.SimWebhookPath, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func snEvent(sysID, by string) webhook.Event {
	return webhook.Event{Kind: webhook.KindServiceNow, CaseIDs: []string{sysID}, Actor: by}
}

// TestTheBusinessRuleSendsVerifiedWebhooks checks the rule end to end:
// changes of records flagged for sync or linked, by anyone but the
// integration user, reach casebridge's verifier over HTTP, which accepts
// them and names the record's sys_id.
func TestTheBusinessRuleSendsVerifiedWebhooks(t *testing.T) {
	ctx := context.Background()
	sim := servicenowtest.NewServer(t, servicenowtest.Options{})
	rcv := newReceiver(t)
	o := sim.Options()
	if status := setRule(t, sim, servicenowtest.WebhookRule{URL: rcv.srv.URL, Secret: ruleSecret, Table: o.Table, ExcludedUser: o.User}); status != http.StatusNoContent {
		t.Fatalf("setting the rule answered %d, want 204", status)
	}
	crm, err := servicenow.New(servicenow.Config{BaseURL: sim.URL, User: o.User, Password: o.Password, HTTP: sim.Client()})
	if err != nil {
		t.Fatal(err)
	}
	abel := sim.UserNameFor("Abel Tuter")

	// One change at a time, so the webhooks arrive in order.
	step := func(f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		sim.WaitWebhooks()
	}
	var flagged, plain, linked string
	step(func() error {
		plain = sim.CreateRecord(abel, map[string]string{"short_description": "not for Google"})
		return nil
	})
	step(func() error {
		flagged = sim.CreateRecord(abel, map[string]string{"short_description": "s", o.SyncFlagField: "true"})
		return nil
	})
	step(func() error { _, err := sim.AddJournal(flagged, "comments", abel, "hello"); return err })
	step(func() error { _, err := sim.AddJournal(plain, "comments", abel, "not synced"); return err })
	// An attachment alone does not update the record: no rule runs.
	step(func() error {
		_, err := sim.AddAttachment(flagged, abel, "a.txt", "text/plain", []byte("x"))
		return err
	})
	// Flagging a record for sync is an update that meets the condition.
	step(func() error { return sim.UpdateRecord(plain, abel, map[string]string{o.SyncFlagField: "true"}) })
	// The integration user's own writes are left out by the condition.
	step(func() error { _, err := crm.AddComment(ctx, flagged, "[Google Comment 1 by x]", true); return err })
	step(func() error {
		c, err := crm.CreateCase(ctx, casesync.NewCompanyCase{Subject: "from Google", GoogleCase: "projects/p/cases/1"})
		linked = c.ID
		return err
	})
	step(func() error { return sim.UpdateRecord(linked, abel, map[string]string{"urgency": "1"}) })
	// A write that changes nothing updates nothing.
	step(func() error { return sim.UpdateRecord(linked, abel, map[string]string{"urgency": "1"}) })

	events, refused := rcv.got()
	want := []webhook.Event{
		snEvent(flagged, abel),
		snEvent(flagged, abel),
		snEvent(plain, abel),
		snEvent(linked, abel),
	}
	if diff := cmp.Diff(want, events); diff != "" || refused != 0 {
		t.Errorf("verified webhooks (-want +got):\n%s\nrefused: %d", diff, refused)
	}

	// Removing the rule stops them.
	if status := setRule(t, sim, servicenowtest.WebhookRule{}); status != http.StatusNoContent {
		t.Fatalf("removing the rule answered %d", status)
	}
	step(func() error { _, err := sim.AddJournal(flagged, "comments", abel, "after"); return err })
	if events, _ := rcv.got(); len(events) != len(want) {
		t.Errorf("after the rule was removed, %d more webhooks were sent", len(events)-len(want))
	}
}

func TestARuleOnAnotherTableNeverRuns(t *testing.T) {
	sim := servicenowtest.NewServer(t, servicenowtest.Options{})
	rcv := newReceiver(t)
	if err := sim.SetWebhookRule(servicenowtest.WebhookRule{URL: rcv.srv.URL, Secret: ruleSecret, Table: "sn_customerservice_case"}); err != nil {
		t.Fatal(err)
	}
	sim.CreateRecord("abel.tuter", map[string]string{"u_gcp_sync": "true"})
	sim.WaitWebhooks()
	if events, refused := rcv.got(); len(events)+refused != 0 {
		t.Errorf("a rule on another table sent %d webhooks", len(events)+refused)
	}
}

// TestTheRuleNeverHoldsTheInstanceUp checks that delivery runs outside the
// instance's lock, and that a failed delivery is not retried.
func TestTheRuleNeverHoldsTheInstanceUp(t *testing.T) {
	sim := servicenowtest.NewServer(t, servicenowtest.Options{})
	rcv := newReceiver(t)
	rcv.hold = make(chan struct{})
	release := sync.OnceFunc(func() { close(rcv.hold) })
	t.Cleanup(release) // so a failure below does not leave the receiver hanging
	if err := sim.SetWebhookRule(servicenowtest.WebhookRule{URL: rcv.srv.URL, Secret: ruleSecret, Table: "incident"}); err != nil {
		t.Fatal(err)
	}
	id := sim.CreateRecord("abel.tuter", map[string]string{"u_gcp_sync": "true"})
	done := make(chan error, 1)
	go func() {
		_, err := sim.AddJournal(id, "comments", "abel.tuter", "while the receiver hangs")
		if err == nil {
			_, ok := sim.Record(id)
			if !ok {
				err = context.Canceled
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the instance did not answer while a webhook delivery hung")
	}
	release()
	sim.WaitWebhooks()
	if events, _ := rcv.got(); len(events) != 2 {
		t.Fatalf("got %d webhooks, want 2", len(events))
	}

	var mu sync.Mutex
	calls := 0
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	if err := sim.SetWebhookRule(servicenowtest.WebhookRule{URL: down.URL, Secret: ruleSecret, Table: "incident"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddJournal(id, "comments", "abel.tuter", "receiver down"); err != nil {
		t.Fatal(err)
	}
	sim.WaitWebhooks()
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("the receiver was called %d times, want 1 (REST messages are not retried)", calls)
	}
}

func TestARuleThatCannotWorkIsRefused(t *testing.T) {
	sim := servicenowtest.NewServer(t, servicenowtest.Options{})
	for _, r := range []servicenowtest.WebhookRule{
		{URL: "ftp://example.com", Secret: ruleSecret, Table: "incident"},
		{URL: "http://127.0.0.1:1/", Secret: "short", Table: "incident"},
		{URL: "http://127.0.0.1:1/", Secret: ruleSecret, Table: "Incident; drop"},
		{URL: "", Secret: ruleSecret, Table: "incident"},
	} {
		if status := setRule(t, sim, r); status != http.StatusBadRequest {
			t.Errorf("setting %+v answered %d, want 400", r, status)
		}
	}
}
