package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"google.golang.org/api/option"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// Identities of the simulated Google side.
const (
	organization   = "organizations/100"
	project        = "sandbox-project"
	connectorEmail = "casebridge@sandbox-project.iam.gserviceaccount.com"
	customerEmail  = "carol@customer.example"
	agentName      = "Dana Agent"
)

// The prefixes of the call counts of each side.
const (
	csapiPrefix = "csapi "
	crmPrefix   = "crm "
)

var customer = csapitest.Actor{DisplayName: "Carol Customer", Email: customerEmail}

// counted is a store that counts the documents it reads and writes
// (shared/store does).
type counted interface {
	Reads() int64
	Writes() int64
}

// pair is one linked pair of cases.
type pair struct {
	google  string // Google case name
	crm     string // CRM ticket id
	mapping string // mapping id
}

// world is casebridge's engine over the two simulators and a store, driven
// minute by minute on a clock it moves.
type world struct {
	clock  *clock.Manual
	google *csapitest.Server
	crm    *crmsim.CRM
	crmSrv *http.Server
	store  casesync.Store
	table  casesync.PriorityTable
	queue  *queue
	engine *casesync.Engine
	pairs  []pair
	// base is when minute 0 of the trace starts.
	base time.Time

	// pushes, with events on, are the support events and the CRM's
	// webhooks (events.go); webhookSrv serves the webhook receiver.
	pushes     *pushes
	webhookSrv *httptest.Server

	// deliveries counts the messages delivered to SyncCase; of them,
	// skipped those it answered with a reason and no action (the mapping
	// showed the change was already covered: no lease, no API call), by
	// reason. The rest are reconciliations.
	deliveries int64
	skipped    map[string]int64
	retried    int64
	dropped    int64
	// late is how far behind its nominal time the latest-running poll ran:
	// the reconciliations of one minute run one after another here, and
	// their waits move the clock.
	late time.Duration
	// drop, when set, makes the queue lose every message it reports true
	// for (tests use it to prove a lost change is caught).
	drop func(casesync.CaseRef) bool
}

// worldConfig is how to build a world.
type worldConfig struct {
	store casesync.Store
	// crmPageSize is the CRM search page size the adapter asks for; 0
	// is the adapter's default.
	crmPageSize int
	// events turns on the support events and the CRM's webhooks.
	events bool
	// csapiFeed builds the Google adapter with WithFeed (CSAPI_USE_FEED).
	csapiFeed bool
}

// start is when the simulated world begins.
var start = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

func newWorld(ctx context.Context, cfg worldConfig) (*world, error) {
	w := &world{clock: clock.NewManual(start), store: cfg.store, table: casesync.DefaultPriorityTable(), skipped: map[string]int64{}}
	w.queue = &queue{now: w.clock.Now}
	simOpts := csapitest.Options{Organization: organization, CallerEmail: connectorEmail, Clock: w.clock.Now}
	if cfg.events {
		p, err := newPushes(w.queue, w.clock.Now)
		if err != nil {
			return nil, err
		}
		w.pushes, simOpts.Events = p, p
	}
	w.google = csapitest.New(simOpts)
	if err := w.google.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the CSAPI simulator: %w", err)
	}
	g, err := csapi.New(ctx, csapi.Config{
		Parent: organization, CreateParent: "projects/" + project, ClassificationID: csapitest.DefaultClassifications()[0].ID,
		TestCase: true, ConnectorEmail: connectorEmail, CallTimeout: 30 * time.Second,
	}, option.WithEndpoint(w.google.URL()), option.WithoutAuthentication())
	if err != nil {
		w.close()
		return nil, fmt.Errorf("CSAPI adapter: %w", err)
	}
	w.crm = crmsim.New(crmsim.Options{Clock: w.clock.Now})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.close()
		return nil, fmt.Errorf("listen for the CRM simulator: %w", err)
	}
	w.crmSrv = &http.Server{Handler: w.crm.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = w.crmSrv.Serve(ln) }()
	crmURL := "http://" + ln.Addr().String()
	c := crmsim.NewClient(crmURL, &http.Client{Timeout: 30 * time.Second})
	c.PageSize = cfg.crmPageSize
	var google casesync.Google = g
	if cfg.csapiFeed {
		google = g.WithFeed()
	}
	// The production defaults: polling windows of 30 min (Google) and
	// 5 min (CRM), one-second CRM update times, the default priority table.
	w.engine = &casesync.Engine{Google: google, CRM: c, Store: w.store, Publisher: w.queue, Clock: w.clock, Config: casesync.Config{}}
	if cfg.events {
		if err := w.startPushes(ctx, crmURL, g.InScope); err != nil {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

func (w *world) close() {
	if w.google != nil {
		w.google.Close()
	}
	if w.crm != nil {
		// Webhooks are sent in the background; stop them first.
		_ = w.crm.SetWebhook(crmsim.Webhook{})
		w.crm.WaitWebhooks()
	}
	if w.crmSrv != nil {
		_ = w.crmSrv.Close()
	}
	if w.webhookSrv != nil {
		w.webhookSrv.Close()
	}
}

// queue stands in for Pub/Sub: what the engine, GoogleEvents and the
// webhook receiver publish waits here until a drain delivers it to
// SyncCase, oldest first.
type queue struct {
	// now is the engine's clock: every message is stamped with its time
	// at publish, which is what Pub/Sub's publish time gives the engine
	// (casesync.CaseRef.EventTime).
	now func() time.Time

	mu   sync.Mutex
	msgs []message
}

type message struct {
	ref      casesync.CaseRef
	attempts int
	// pollGoogle is a tick on tick-poll-google (GoogleEvents asks for a
	// poll): its delivery runs PollGoogle.
	pollGoogle bool
}

func (q *queue) PublishCaseUpdated(_ context.Context, refs []casesync.CaseRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	at := q.now()
	for _, r := range refs {
		r.EventTime = at
		q.msgs = append(q.msgs, message{ref: r})
	}
	return nil
}

func (q *queue) PublishSyncRequested(ctx context.Context, ref casesync.CaseRef) error {
	return q.PublishCaseUpdated(ctx, []casesync.CaseRef{ref})
}

func (q *queue) push(m message) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
}

func (q *queue) pop() (message, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return message{}, false
	}
	m := q.msgs[0]
	q.msgs = q.msgs[1:]
	return m, true
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// maxAttempts is how often a message is delivered before the run gives up
// on it (Terraform's sync-case subscriptions allow 10 deliveries).
const maxAttempts = 10

// advanceTo moves the clock to t if it is behind, and returns how far past
// t it already was.
func (w *world) advanceTo(t time.Time) time.Duration {
	now := w.clock.Now()
	if now.Before(t) {
		w.clock.Advance(t.Sub(now))
		return 0
	}
	return now.Sub(t)
}

// pollAndDrain runs PollGoogle and PollCRM once, then delivers every
// message to SyncCase until the queue is empty, messages published while
// draining included. It returns how many messages the polls published.
func (w *world) pollAndDrain(ctx context.Context) (int, error) {
	if _, err := w.engine.PollGoogle(ctx); err != nil {
		return 0, fmt.Errorf("PollGoogle: %w", err)
	}
	if _, err := w.engine.PollCRM(ctx); err != nil {
		return 0, fmt.Errorf("PollCRM: %w", err)
	}
	published := w.queue.len()
	return published, w.drain(ctx)
}

// settle waits until every support event and webhook of a change made so
// far has been handed over (each is sent in the background).
func (w *world) settle(ctx context.Context) error {
	if w.pushes == nil {
		return nil
	}
	w.crm.WaitWebhooks()
	return w.google.FlushEvents(ctx)
}

// drain delivers messages until the queue is empty and no event is on its
// way. A transient failure is delivered again, as Pub/Sub would; a
// permanent one, or a message failing maxAttempts times, ends the run:
// nothing fails on purpose here.
func (w *world) drain(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, ok := w.queue.pop()
		if !ok {
			if err := w.settle(ctx); err != nil {
				return err
			}
			if m, ok = w.queue.pop(); !ok {
				return nil
			}
		}
		if m.pollGoogle {
			if _, err := w.engine.PollGoogle(ctx); err != nil {
				return fmt.Errorf("PollGoogle asked for by a support event: %w", err)
			}
			continue
		}
		if w.drop != nil && w.drop(m.ref) {
			w.dropped++
			continue
		}
		w.deliveries++
		res, err := w.engine.SyncCase(ctx, m.ref)
		if err == nil {
			if res.Skipped != "" && len(res.Actions) == 0 {
				w.skipped[res.Skipped]++
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.attempts++
		if casesync.IsPermanent(err) || m.attempts >= maxAttempts {
			return fmt.Errorf("sync-case for %s failed after %d attempt(s): %w", describeRef(m.ref), m.attempts, err)
		}
		w.retried++
		w.queue.push(m)
	}
}

func describeRef(r casesync.CaseRef) string {
	if r.MappingID != "" {
		return "mapping " + r.MappingID
	}
	return fmt.Sprintf("%s case %s", r.Side, r.ID)
}

// maxSetupRounds bounds the poll rounds the set-up takes to link every pair.
const maxSetupRounds = 20

// setup opens k pairs, even ones as Google cases and odd ones as flagged
// CRM tickets, and lets casebridge link them all, then lets a quiet spell
// longer than the polling windows pass and polls once more, so that the
// trace's first minute starts with nothing of the set-up left to find.
func (w *world) setup(ctx context.Context, k int) error {
	p3, _ := w.table.Company(initialPriority)
	w.pairs = make([]pair, k)
	for i := range w.pairs {
		title := fmt.Sprintf("Bench case %d", i)
		if Origin(i) == casesync.SideGoogle {
			name, err := w.google.CreateCase("projects/"+project, title, "The instance is slow.", initialPriority.String(), customerEmail)
			if err != nil {
				return fmt.Errorf("open Google case %d: %w", i, err)
			}
			w.pairs[i].google = name
		} else {
			w.pairs[i].crm = w.crm.CreateTicket(crmsim.Ticket{Subject: title, Description: "The printer is slow.", Priority: p3, SyncFlag: true, Requester: "bob@customer.example"})
		}
	}
	settled := false
	for round := 0; round < maxSetupRounds && !settled; round++ {
		w.clock.Advance(time.Minute)
		n, err := w.pollAndDrain(ctx)
		if err != nil {
			return fmt.Errorf("set-up: %w", err)
		}
		settled = n == 0
	}
	if !settled {
		return fmt.Errorf("set-up: the %d pairs were still being linked after %d poll rounds", k, maxSetupRounds)
	}
	for i := range w.pairs {
		p := &w.pairs[i]
		m, _, err := w.store.ResolveMapping(ctx, p.google, p.crm, false, nil)
		if err != nil {
			return fmt.Errorf("set-up: the mapping of pair %d: %w", i, err)
		}
		if !m.Linked() {
			return fmt.Errorf("set-up: pair %d is not linked (mapping %s)", i, m.ID)
		}
		p.google, p.crm, p.mapping = m.GoogleCase, m.CompanyCaseID, m.ID
	}
	// The quiet poll runs at the poll time of the minute before minute 0.
	w.base = w.clock.Now().Add(w.engine.Config.WithDefaults().GooglePollingWindow + 10*time.Minute).Truncate(time.Minute)
	w.advanceTo(w.base.Add(-time.Minute + pollOffset))
	if _, err := w.pollAndDrain(ctx); err != nil {
		return fmt.Errorf("set-up: the quiet poll: %w", err)
	}
	return nil
}

// pollOffset is how long into a minute the pollers run: people's changes
// are made at the start of the minute.
const pollOffset = 30 * time.Second

// personGap is the time that passes before each change a person makes.
const personGap = time.Millisecond

// minute plays minute m of the trace: people make its changes; with events
// on, the messages of their support events and webhooks are delivered
// (they arrive within seconds); then both pollers run once and every
// message is delivered.
func (w *world) minute(ctx context.Context, m int, changes []Change) error {
	at := w.base.Add(time.Duration(m) * time.Minute)
	w.advanceTo(at)
	for _, c := range changes {
		// Time passes before a person's action, as it does between any
		// two writes in a real system: a change never shares the instant
		// of casebridge's last read or write of the case.
		w.clock.Advance(personGap)
		if err := w.apply(c); err != nil {
			return fmt.Errorf("minute %d: %s %s on pair %d: %w", m, c.Side, c.Kind, c.Pair, err)
		}
	}
	if w.pushes != nil {
		if err := w.drain(ctx); err != nil {
			return fmt.Errorf("minute %d: delivering events: %w", m, err)
		}
	}
	w.late = max(w.late, w.advanceTo(at.Add(pollOffset)))
	if _, err := w.pollAndDrain(ctx); err != nil {
		return fmt.Errorf("minute %d: %w", m, err)
	}
	return nil
}

// apply makes one change as a person would, in the simulator's own state.
func (w *world) apply(c Change) error {
	p := w.pairs[c.Pair]
	if c.Side == casesync.SideGoogle {
		var err error
		switch c.Kind {
		case KindComment:
			_, err = w.google.AddComment(p.google, c.Body(), customer)
		case KindAttachment:
			_, err = w.google.AddAttachment(p.google, c.Filename(), "application/octet-stream", c.FileData(), customer)
		case KindPriority:
			err = w.google.SetPriority(p.google, c.Priority.String())
		}
		return err
	}
	var err error
	switch c.Kind {
	case KindComment:
		_, err = w.crm.AddHumanComment(p.crm, agentName, c.Body(), true)
	case KindAttachment:
		_, err = w.crm.AddHumanAttachment(p.crm, agentName, c.Filename(), "application/octet-stream", c.FileData())
	case KindPriority:
		v, ok := w.table.Company(c.Priority)
		if !ok {
			return fmt.Errorf("no CRM value for %s", c.Priority)
		}
		err = w.crm.SetHumanPriority(p.crm, v)
	}
	return err
}

// counts is a snapshot of everything the benchmark counts.
type counts struct {
	calls  map[string]int64
	reads  int64
	writes int64
	// deliveries is the messages delivered to SyncCase; skipped, by
	// reason, those it answered without a reconciliation.
	deliveries int64
	skipped    map[string]int64
	events     eventCounts
}

// skips is how many deliveries were skipped, whatever the reason.
func (c counts) skips() int64 {
	var n int64
	for _, v := range c.skipped {
		n += v
	}
	return n
}

// reconciliations is how many deliveries took the case's lease and read
// it (or failed trying).
func (c counts) reconciliations() int64 { return c.deliveries - c.skips() }

func (w *world) snapshot() counts {
	c := counts{calls: map[string]int64{}, deliveries: w.deliveries, skipped: maps.Clone(w.skipped)}
	if w.pushes != nil {
		c.events = w.pushes.snapshot()
	}
	for m, n := range w.google.Calls() {
		c.calls[csapiPrefix+m] += int64(n)
	}
	for op, n := range w.crm.Calls() {
		c.calls[crmPrefix+op] += int64(n)
	}
	if s, ok := w.store.(counted); ok {
		c.reads, c.writes = s.Reads(), s.Writes()
	}
	return c
}

// since returns the counts made between before and c.
func (c counts) since(before counts) counts {
	out := counts{calls: map[string]int64{}, reads: c.reads - before.reads, writes: c.writes - before.writes,
		deliveries: c.deliveries - before.deliveries, skipped: map[string]int64{}, events: c.events.minus(before.events)}
	for m, n := range c.calls {
		if d := n - before.calls[m]; d != 0 {
			out.calls[m] = d
		}
	}
	for r, n := range c.skipped {
		if d := n - before.skipped[r]; d != 0 {
			out.skipped[r] = d
		}
	}
	return out
}
