package crmsim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

const webhookSecret = "crmsim-webhook-secret-0123456789"

// receiver is casebridge's verifier behind a real HTTP server: it records
// what it accepts and how many requests it refused.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	events   []webhook.Event
	refused  int
	requests int
	// hold, when set, is waited on before answering.
	hold chan struct{}
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	t.Helper()
	v, err := webhook.New(webhook.KindSimulator, []byte(webhookSecret), now)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests++
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

func simEvent(id, event, actor string) webhook.Event {
	return webhook.Event{Kind: webhook.KindSimulator, CaseIDs: []string{id}, Type: event, Actor: actor}
}

// TestChangesOfSyncedTicketsAreSentAsVerifiedWebhooks sets the webhook
// through the simulator's control endpoint over HTTP and checks that each
// change of a ticket flagged for sync or linked reaches casebridge's
// verifier, which accepts it and names the ticket; other tickets send none.
func TestChangesOfSyncedTicketsAreSentAsVerifiedWebhooks(t *testing.T) {
	ctx := context.Background()
	crm := crmsim.New(crmsim.Options{})
	sim := httptest.NewServer(crm.Handler())
	t.Cleanup(sim.Close)
	rcv := newReceiver(t, nil)
	ctl := crmsim.NewControl(sim.URL, sim.Client())
	if err := ctl.SetWebhook(ctx, crmsim.Webhook{URL: rcv.srv.URL, Secret: webhookSecret}); err != nil {
		t.Fatal(err)
	}

	// One change at a time, so the webhooks arrive in order.
	step := func(f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		crm.WaitWebhooks()
	}
	var synced, other, linked string
	step(func() (err error) {
		other, err = ctl.CreateTicket(ctx, crmsim.Ticket{Subject: "not for Google"})
		return
	})
	step(func() (err error) {
		synced, err = ctl.CreateTicket(ctx, crmsim.Ticket{Subject: "s", SyncFlag: true, Requester: "carol"})
		return
	})
	step(func() error { _, err := ctl.AddHumanComment(ctx, synced, "alice", "hello", true); return err })
	step(func() error { _, err := ctl.AddHumanComment(ctx, other, "alice", "hello", true); return err })
	step(func() error { return ctl.SetHumanPriority(ctx, synced, "high") })
	step(func() error {
		_, err := ctl.AddHumanAttachment(ctx, synced, "bob", "a.txt", "text/plain", []byte("x"))
		return err
	})
	step(func() error { return ctl.HumanClose(ctx, synced) })
	step(func() error { return ctl.HumanReopen(ctx, synced) })
	// The connector's own writes name the sync user.
	client := crmsim.NewClient(sim.URL, sim.Client())
	step(func() error { _, err := client.AddComment(ctx, synced, "[Google Comment 1 by x]", true); return err })
	step(func() error {
		c, err := client.CreateCase(ctx, casesync.NewCompanyCase{Subject: "from Google", GoogleCase: "projects/p/cases/1"})
		linked = c.ID
		return err
	})
	// Writing the value a ticket already holds changes nothing: no webhook.
	step(func() error { return client.SetPriority(ctx, synced, "high") })

	events, refused := rcv.got()
	want := []webhook.Event{
		simEvent(synced, crmsim.EventCreated, "carol"),
		simEvent(synced, crmsim.EventComment, "alice"),
		simEvent(synced, crmsim.EventPriority, crmsim.HumanAgent),
		simEvent(synced, crmsim.EventAttachment, "bob"),
		simEvent(synced, crmsim.EventClosed, crmsim.HumanAgent),
		simEvent(synced, crmsim.EventReopened, crmsim.HumanAgent),
		simEvent(synced, crmsim.EventComment, crmsim.DefaultSyncUser),
		simEvent(linked, crmsim.EventCreated, crmsim.DefaultSyncUser),
	}
	if diff := cmp.Diff(want, events); diff != "" || refused != 0 {
		t.Errorf("verified webhooks (-want +got):\n%s\nrefused: %d", diff, refused)
	}

	// A zero Webhook stops them.
	if err := ctl.SetWebhook(ctx, crmsim.Webhook{}); err != nil {
		t.Fatal(err)
	}
	step(func() error { return ctl.SetHumanPriority(ctx, synced, "low") })
	if events, _ := rcv.got(); len(events) != len(want) {
		t.Errorf("after the webhook was cleared, %d more were sent", len(events)-len(want))
	}
}

// TestWebhooksAreDatedByTheSimulatorsClock checks that the timestamp is the
// simulator's: a receiver on the same moved clock accepts, one on the real
// clock refuses the webhook as stale.
func TestWebhooksAreDatedByTheSimulatorsClock(t *testing.T) {
	moved := func() time.Time { return time.Now().Add(48 * time.Hour) }
	crm := crmsim.New(crmsim.Options{Clock: moved})
	same, real := newReceiver(t, moved), newReceiver(t, nil)
	for _, rcv := range []*receiver{same, real} {
		if err := crm.SetWebhook(crmsim.Webhook{URL: rcv.srv.URL, Secret: webhookSecret}); err != nil {
			t.Fatal(err)
		}
		crm.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
		crm.WaitWebhooks()
	}
	if events, refused := same.got(); len(events) != 1 || refused != 0 {
		t.Errorf("the receiver on the simulator's clock accepted %d and refused %d, want 1 and 0", len(events), refused)
	}
	if events, refused := real.got(); len(events) != 0 || refused != 1 {
		t.Errorf("the receiver on the real clock accepted %d and refused %d, want 0 and 1", len(events), refused)
	}
}

// TestAWebhookNeverHoldsTheSimulatorUp checks that delivery runs outside
// the simulator's lock: while the receiver hangs, the simulator answers.
// A failed delivery is dropped, not retried.
func TestAWebhookNeverHoldsTheSimulatorUp(t *testing.T) {
	ctx := context.Background()
	crm := crmsim.New(crmsim.Options{})
	rcv := newReceiver(t, nil)
	rcv.hold = make(chan struct{})
	release := sync.OnceFunc(func() { close(rcv.hold) })
	t.Cleanup(release) // so a failure below does not leave the receiver hanging
	if err := crm.SetWebhook(crmsim.Webhook{URL: rcv.srv.URL, Secret: webhookSecret}); err != nil {
		t.Fatal(err)
	}
	id := crm.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	done := make(chan error, 1)
	go func() {
		_, err := crm.AddHumanComment(id, "alice", "while the receiver hangs", true)
		if err == nil {
			_, err = crm.GetCase(ctx, id)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the simulator did not answer while a webhook delivery hung")
	}
	release()
	crm.WaitWebhooks()
	if events, _ := rcv.got(); len(events) != 2 {
		t.Fatalf("got %d webhooks, want 2", len(events))
	}

	// A receiver that is down: the change succeeds and nothing is retried.
	var calls int
	var mu sync.Mutex
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	if err := crm.SetWebhook(crmsim.Webhook{URL: down.URL, Secret: webhookSecret}); err != nil {
		t.Fatal(err)
	}
	if _, err := crm.AddHumanComment(id, "alice", "receiver down", true); err != nil {
		t.Fatal(err)
	}
	crm.WaitWebhooks()
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("the receiver was called %d times, want 1 (no retry)", calls)
	}
}

func TestAWebhookSettingThatCannotWorkIsRefused(t *testing.T) {
	ctx := context.Background()
	sim := httptest.NewServer(crmsim.New(crmsim.Options{}).Handler())
	t.Cleanup(sim.Close)
	ctl := crmsim.NewControl(sim.URL, sim.Client())
	for _, w := range []crmsim.Webhook{
		{URL: "ftp://example.com/hook", Secret: webhookSecret},
		{URL: "http://127.0.0.1:1/hook", Secret: "short"},
		{URL: "", Secret: webhookSecret},
		{URL: "not a url", Secret: webhookSecret},
	} {
		var ae *casesync.APIError
		err := ctl.SetWebhook(ctx, w)
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("SetWebhook(%+v) = %v, want a 400", w, err)
		}
	}
}
