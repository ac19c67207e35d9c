package main

// Events on (--events): both simulators push, as in the sandbox. The CSAPI
// simulator publishes a support event on every case change once the
// organization has a support event subscription, which the world creates
// through the simulator's API; each event is handed at once to what the
// GoogleEvents function does (eventing.ReadSupportEvent, then
// eventing.SupportEventForwarder), which publishes case-updated into the
// world's queue. The CRM simulator sends a signed webhook on every change
// of a flagged or linked ticket to a receiver on 127.0.0.1 that does what
// the CRMWebhook function does: verify it (shared/webhook), drop the sync
// user's own changes, publish case-updated into the queue. Polling goes on
// every minute, as in production.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/webhook"
)

// supportEventsTopic is the topic the world's support event subscription
// names, as Terraform's does.
const supportEventsTopic = "projects/" + project + "/topics/" + eventing.TopicSupportEvents

// eventCounts counts what the push paths did.
type eventCounts struct {
	// supportEvents is the support events GoogleEvents handled;
	// supportEventRefs the case-updated messages they published.
	supportEvents, supportEventRefs int64
	// pollTicks is the Google polls support events asked for (one naming
	// no case, too many or unreadable data).
	pollTicks int64
	// webhooks is the webhooks verified and published; ownWebhooks those
	// of the sync user's own changes, acknowledged and not published;
	// refusedWebhooks those refused (a bad signature, a stale timestamp, a
	// malformed body).
	webhooks, ownWebhooks, refusedWebhooks int64
}

func (c eventCounts) minus(b eventCounts) eventCounts {
	return eventCounts{
		supportEvents: c.supportEvents - b.supportEvents, supportEventRefs: c.supportEventRefs - b.supportEventRefs,
		pollTicks: c.pollTicks - b.pollTicks, webhooks: c.webhooks - b.webhooks,
		ownWebhooks: c.ownWebhooks - b.ownWebhooks, refusedWebhooks: c.refusedWebhooks - b.refusedWebhooks,
	}
}

// pushes is the world's push paths: the support events publisher given to
// the CSAPI simulator, and the CRM webhook receiver.
type pushes struct {
	queue   *queue
	forward eventing.SupportEventForwarder
	// topic is the only topic that exists: a publish to another fails as
	// Pub/Sub's would.
	topic    string
	verifier *webhook.Verifier
	secret   string // the webhook secret, which the CRM simulator signs with
	syncUser string
	log      *slog.Logger

	mu     sync.Mutex
	counts eventCounts
}

var _ csapitest.EventPublisher = (*pushes)(nil)

func (p *pushes) add(f func(*eventCounts)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.counts)
}

func (p *pushes) snapshot() eventCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// PublishEvent is Pub/Sub's delivery of one support event to GoogleEvents,
// which handles it at once: the case-updated messages it publishes are
// stamped with the clock's time now, as Pub/Sub stamps them.
func (p *pushes) PublishEvent(ctx context.Context, topic string, msg csapitest.EventMessage) error {
	if topic != p.topic {
		return fmt.Errorf("publishing to %s: %w", topic, csapitest.ErrTopicNotFound)
	}
	ev := eventing.ReadSupportEvent(eventing.PubsubMessage{Data: msg.Data, Attributes: msg.Attributes})
	p.add(func(c *eventCounts) { c.supportEvents++ })
	return p.forward.Forward(ctx, p.log, ev)
}

// refCounter counts the case-updated messages GoogleEvents publishes.
type refCounter struct{ p *pushes }

func (r refCounter) PublishCaseUpdated(ctx context.Context, refs []casesync.CaseRef) error {
	r.p.add(func(c *eventCounts) { c.supportEventRefs += int64(len(refs)) })
	return r.p.queue.PublishCaseUpdated(ctx, refs)
}

// pollTicker is the tick-poll-google topic: a tick waits in the queue and
// runs PollGoogle when the queue delivers it.
type pollTicker struct{ p *pushes }

func (t pollTicker) PublishTick(context.Context) (string, error) {
	t.p.add(func(c *eventCounts) { c.pollTicks++ })
	t.p.queue.push(message{pollGoogle: true})
	return "tick", nil
}

// ServeHTTP is the CRM webhook receiver, as functions/crmwebhook answers:
// a webhook refused by the verifier gets its status; the sync user's own
// change is acknowledged and not published; any other is published as
// case-updated for the case it names and answered 204. It logs nothing:
// the counts say what it did.
func (p *pushes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := p.verifier.Verify(r)
	if err != nil {
		p.add(func(c *eventCounts) { c.refusedWebhooks++ })
		http.Error(w, "webhook refused", webhook.Status(err))
		return
	}
	if ev.Actor != "" && strings.EqualFold(ev.Actor, p.syncUser) {
		p.add(func(c *eventCounts) { c.ownWebhooks++ })
		w.WriteHeader(http.StatusNoContent)
		return
	}
	refs := make([]casesync.CaseRef, 0, len(ev.CaseIDs))
	for _, id := range ev.CaseIDs {
		refs = append(refs, casesync.CaseRef{Side: casesync.SideCompany, ID: id})
	}
	if err := p.queue.PublishCaseUpdated(r.Context(), refs); err != nil {
		http.Error(w, "the change could not be queued; retry later", http.StatusServiceUnavailable)
		return
	}
	p.add(func(c *eventCounts) { c.webhooks++ })
	w.WriteHeader(http.StatusNoContent)
}

// newPushes makes the push paths onto q, with now the world's clock (the
// receiver checks webhook timestamps against it). The CSAPI simulator is
// then built with the result as its Events; startPushes completes them.
func newPushes(q *queue, now func() time.Time) (*pushes, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("making the webhook secret: %w", err)
	}
	hexSecret := hex.EncodeToString(secret)
	v, err := webhook.New(webhook.KindSimulator, []byte(hexSecret), now)
	if err != nil {
		return nil, err
	}
	p := &pushes{queue: q, topic: supportEventsTopic, verifier: v, secret: hexSecret,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p.forward = eventing.SupportEventForwarder{Cases: refCounter{p}, PollGoogle: pollTicker{p}}
	return p, nil
}

// startPushes turns both push paths on as the sandbox does: the support
// event subscription is created through the CSAPI simulator's API with the
// official client, and the CRM simulator's webhook is set through its
// control endpoint, pointing at the receiver served here. inScope is the
// Google adapter's InScope, as GoogleEvents uses it.
func (w *world) startPushes(ctx context.Context, crmURL string, inScope func(string) bool) error {
	w.pushes.forward.InScope = inScope
	w.pushes.syncUser = w.crm.SyncUser()
	svc, err := cloudsupport.NewService(ctx, option.WithEndpoint(w.google.URL()), option.WithoutAuthentication())
	if err != nil {
		return fmt.Errorf("building the Cloud Support client: %w", err)
	}
	if _, err := svc.Organizations.SupportEventSubscriptions.Create(organization,
		&cloudsupport.SupportEventSubscription{PubSubTopic: supportEventsTopic}).Context(ctx).Do(); err != nil {
		return fmt.Errorf("creating the support event subscription: %w", err)
	}
	w.webhookSrv = httptest.NewServer(w.pushes)
	if err := crmsim.NewControl(crmURL, nil).SetWebhook(ctx, crmsim.Webhook{URL: w.webhookSrv.URL, Secret: w.pushes.secret}); err != nil {
		return fmt.Errorf("setting the CRM simulator's webhook: %w", err)
	}
	return nil
}
