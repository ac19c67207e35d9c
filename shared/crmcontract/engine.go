package crmcontract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"google.golang.org/api/option"
)

// EngineHarness is what RunEngine needs of a CRM beyond Harness.
type EngineHarness interface {
	Harness
	// PriorityMap is the CRM's priority table in casesync.ParsePriorityTable
	// syntax (the adapter's DefaultPriorityMap).
	PriorityMap() string
	// Calls returns the adapter's API calls so far, per operation.
	Calls() map[string]int64
}

// The identities of the simulated Google side.
const (
	engineOrg        = "organizations/100"
	engineProject    = "projects/sandbox-project"
	engineConnector  = "casebridge@sandbox-project.iam.gserviceaccount.com"
	engineClassifier = "100H41Q3DTMN0TBKCKD0SGRVNR"
	engineCustomer   = "carol@example.com"
)

// offsetClock is the real time plus an offset the suite moves forward to
// simulate an outage that lasts; a real CRM keeps real time.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// refQueue stands in for Pub/Sub.
type refQueue struct {
	mu   sync.Mutex
	refs []casesync.CaseRef
}

func (q *refQueue) PublishCaseUpdated(_ context.Context, refs []casesync.CaseRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refs = append(q.refs, refs...)
	return nil
}

func (q *refQueue) PublishSyncRequested(_ context.Context, ref casesync.CaseRef) error {
	return q.PublishCaseUpdated(context.Background(), []casesync.CaseRef{ref})
}

func (q *refQueue) take() []casesync.CaseRef {
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.refs
	q.refs = nil
	return r
}

// engineWorld is the sync engine over the CSAPI simulator and the CRM under
// test, with an in-memory store.
type engineWorld struct {
	t      *testing.T
	h      EngineHarness
	crm    casesync.CRM
	clock  *offsetClock
	sim    *csapitest.Server
	google casesync.Google
	store  *casesynctest.MemStore
	queue  *refQueue
	engine *casesync.Engine
	table  casesync.PriorityTable
	// polls counts the CRM polls settle made and pollCalls their CRM
	// calls, so a case's own cost can be told apart from the polls'.
	polls     int
	pollCalls map[string]int64
	// syncs counts the reconciliations settle ran.
	syncs int
}

func newEngineWorld(t *testing.T, h EngineHarness) *engineWorld {
	t.Helper()
	ctx := ctxFor(t)
	table, err := casesync.ParsePriorityTable(h.PriorityMap())
	if err != nil {
		t.Fatalf("the harness's priority map %q: %v", h.PriorityMap(), err)
	}
	clk := &offsetClock{}
	sim := csapitest.NewServer(t, csapitest.Options{Organization: engineOrg, CallerEmail: engineConnector, Clock: clk.Now})
	g, err := csapi.New(ctx, csapi.Config{
		Parent: engineOrg, CreateParent: engineProject, ClassificationID: engineClassifier, TestCase: true,
		ConnectorEmail: engineConnector, MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}, option.WithEndpoint(sim.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("csapi.New: %v", err)
	}
	cfg := casesync.Config{
		Priorities: table,
		// A short window: the CRM may hold other tests' flagged tickets,
		// which this suite must not pick up.
		CompanyPollingWindow: 2 * time.Second,
		GooglePollingWindow:  2 * time.Second,
	}
	if limit := h.MaxAttachmentBytes(); limit > 0 {
		cfg.MaxAttachmentBytes = limit
	}
	w := &engineWorld{t: t, h: h, crm: h.CRM(), clock: clk, sim: sim, google: g,
		store: casesynctest.NewMemStore(), queue: &refQueue{}, table: table, pollCalls: map[string]int64{}}
	w.engine = &casesync.Engine{Google: g, CRM: w.crm, Store: w.store, Publisher: w.queue, Clock: clk, Config: cfg}
	// Start polling from now, past the window, so earlier tickets stay out.
	now := clk.Now()
	for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		if err := w.store.RecordPoll(ctx, side, now, now); err != nil {
			t.Fatalf("RecordPoll: %v", err)
		}
	}
	time.Sleep(cfg.CompanyPollingWindow + 1100*time.Millisecond)
	return w
}

// settle polls both sides and reconciles every published case until a
// round publishes nothing, as the running system would.
func (w *engineWorld) settle(t *testing.T) {
	t.Helper()
	ctx := ctxFor(t)
	for round := 0; round < 25; round++ {
		if _, err := w.engine.PollGoogle(ctx); err != nil {
			t.Fatalf("PollGoogle: %v", err)
		}
		before := w.h.Calls()
		if _, err := w.engine.PollCRM(ctx); err != nil {
			t.Fatalf("PollCRM: %v", err)
		}
		w.polls++
		for op, n := range callsSince(before, w.h.Calls()) {
			w.pollCalls[op] += n
		}
		refs := w.queue.take()
		if len(refs) == 0 {
			return
		}
		for _, ref := range refs {
			if _, err := w.engine.SyncCase(ctx, ref); err != nil {
				t.Fatalf("SyncCase(%+v): %v", ref, err)
			}
			w.syncs++
		}
		// Update times may be second-granular: let a change made in this
		// round be told apart from the next.
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("the system did not settle in 25 rounds")
}

func (w *engineWorld) mappingOf(t *testing.T, googleCase, companyID string) casesync.Mapping {
	t.Helper()
	m, _, err := w.store.ResolveMapping(ctxFor(t), googleCase, companyID, false, nil)
	if err != nil {
		t.Fatalf("mapping of (%q, %q): %v", googleCase, companyID, err)
	}
	return m
}

func (w *engineWorld) newGoogleCase(t *testing.T, title, priority string) string {
	t.Helper()
	name, err := w.sim.CreateCase(engineProject, title, "Something is broken.", priority, engineCustomer)
	if err != nil {
		t.Fatalf("creating a Google case: %v", err)
	}
	return name
}

func (w *engineWorld) crmComments(t *testing.T, id string) []casesync.Comment {
	t.Helper()
	cs, err := w.crm.ListComments(ctxFor(t), id)
	if err != nil {
		t.Fatalf("ListComments(%s): %v", id, err)
	}
	return cs
}

// googleBodies returns the comment bodies of every Google case.
func (w *engineWorld) googleBodies() []string {
	var out []string
	for _, c := range w.sim.Cases() {
		out = append(out, c.Description)
		for _, cm := range w.sim.Comments(c.Name) {
			out = append(out, cm.Body)
		}
	}
	return out
}

func countContaining(bodies []string, s string) int {
	n := 0
	for _, b := range bodies {
		if strings.Contains(b, s) {
			n++
		}
	}
	return n
}

func commentBodies(cs []casesync.Comment) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return out
}

// callsSince returns the calls made since before, per operation.
func callsSince(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}

func formatCalls(calls map[string]int64) string {
	var total int64
	var parts []string
	for op, n := range calls {
		total += n
		parts = append(parts, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// RunEngine runs casebridge's sync engine end to end against the CRM under
// test and the CSAPI simulator: creation both ways, linking, comments both
// ways with their authors, internal notes kept in the CRM, attachments with
// binary content, priority both ways, close both ways, no echo, outage
// comments. It logs what one changed case costs in CRM calls, on lines
// starting "cost:".
// engineSuiteTimeout bounds the whole engine suite against one helpdesk.
const engineSuiteTimeout = 15 * time.Minute

func RunEngine(t *testing.T, newHarness func(t *testing.T) EngineHarness) {
	w := newEngineWorld(t, newHarness(t))
	h := w.h
	// One context for every step: a real helpdesk on a loaded machine
	// takes minutes for the whole suite, so its bound is wide.
	ctx, cancel := context.WithTimeout(context.Background(), engineSuiteTimeout)
	t.Cleanup(cancel)
	var googleFirst, crmFirst string // a Google case and a CRM ticket made first
	var googleFirstID, crmFirstName string

	t.Run("a new Google case becomes one linked CRM case with its priority", func(t *testing.T) {
		googleFirst = w.newGoogleCase(t, "Engine: disk latency", "P2")
		w.settle(t)
		m := w.mappingOf(t, googleFirst, "")
		googleFirstID = m.CompanyCaseID
		if googleFirstID == "" {
			t.Fatalf("the Google case got no CRM case")
		}
		c := mustGet(t, w.crm, googleFirstID)
		wantP, _ := w.table.Company(casesync.P2)
		if c.GoogleCase != googleFirst || c.Subject != "Engine: disk latency" || c.Priority != wantP || c.Closed {
			t.Errorf("CRM case = %+v; want subject %q, Google case %q, priority %q, open", fields(c), "Engine: disk latency", googleFirst, wantP)
		}
		if !strings.Contains(c.Description, "Something is broken.") {
			t.Errorf("the CRM case's description does not carry the Google description")
		}
	})

	t.Run("a flagged CRM ticket becomes one Google case, linked both ways", func(t *testing.T) {
		p3, _ := w.table.Company(casesync.P3)
		crmFirst = h.CreateTicket(t, "Engine: printer on fire", "It is on fire.", p3, true)
		w.settle(t)
		m := w.mappingOf(t, "", crmFirst)
		crmFirstName = m.GoogleCase
		if crmFirstName == "" {
			t.Fatalf("the CRM ticket got no Google case")
		}
		g, ok := w.sim.Case(crmFirstName)
		if !ok || !strings.Contains(g.DisplayName, "Engine: printer on fire") || !strings.Contains(g.Description, "It is on fire.") {
			t.Errorf("Google case %q: found %v, display name %q; want the ticket's subject and description", crmFirstName, ok, g.DisplayName)
		}
		if got := w.table.Bucket(casesync.ParsePriority(g.Priority)); got != w.table.Bucket(casesync.P3) {
			t.Errorf("Google priority %s, want one the CRM's %q maps to", g.Priority, p3)
		}
		if got := mustGet(t, w.crm, crmFirst).GoogleCase; got != crmFirstName {
			t.Errorf("the ticket's Google case field = %q, want %q", got, crmFirstName)
		}
	})

	t.Run("a ticket naming a Google case in its field is linked, not duplicated", func(t *testing.T) {
		name := w.newGoogleCase(t, "Engine: linked by hand", "P3")
		p, _ := w.table.Company(casesync.P3)
		id := h.CreateTicket(t, "Engine: the same problem, opened in the CRM", "d", p, false)
		if err := w.crm.SetGoogleCase(ctx, id, name); err != nil {
			t.Fatalf("SetGoogleCase: %v", err)
		}
		casesBefore := len(w.sim.Cases())
		w.settle(t)
		if m := w.mappingOf(t, name, ""); m.CompanyCaseID != id {
			t.Errorf("the Google case is mapped to CRM case %q, want the hand-linked %q", m.CompanyCaseID, id)
		}
		if c, ok, err := w.crm.FindByGoogleCase(ctx, name); err != nil || !ok || c.ID != id {
			t.Errorf("FindByGoogleCase = (%q, %v, %v), want only %q", c.ID, ok, err, id)
		}
		if n := len(w.sim.Cases()); n != casesBefore {
			t.Errorf("Google has %d cases after linking, want %d (no new one)", n, casesBefore)
		}
	})

	t.Run("Google comments reach the CRM once, attributed, as public replies", func(t *testing.T) {
		customerText := fmt.Sprintf("Customer update %d: still slow.", time.Now().UnixNano())
		agentText := fmt.Sprintf("Agent question %d: which zone?", time.Now().UnixNano())
		if _, err := w.sim.AddComment(googleFirst, customerText, csapitest.Actor{DisplayName: "Carol Customer", Email: engineCustomer}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.sim.AddAgentComment(googleFirst, agentText); err != nil {
			t.Fatal(err)
		}
		w.settle(t)
		cs := w.crmComments(t, googleFirstID)
		for _, want := range []struct{ text, author string }{{customerText, "Carol Customer"}, {agentText, "Google Support"}} {
			var found []casesync.Comment
			for _, c := range cs {
				if strings.Contains(c.Body, want.text) {
					found = append(found, c)
				}
			}
			if len(found) != 1 {
				t.Errorf("the CRM has %d copies of a Google comment, want 1", len(found))
				continue
			}
			c := found[0]
			if !c.ByConnector || !c.Public || !strings.HasPrefix(c.Body, "[Google Comment ") || !strings.Contains(strings.SplitN(c.Body, "\n", 2)[0], want.author) {
				t.Errorf("mirrored comment: by connector %v, public %v, first line %q; want by the connector, public, naming %q",
					c.ByConnector, c.Public, strings.SplitN(c.Body, "\n", 2)[0], want.author)
			}
		}
	})

	internalText := fmt.Sprintf("Internal: the customer's contract lapses %d.", time.Now().UnixNano())
	t.Run("a public CRM reply reaches Google once, attributed; an internal note never leaves the CRM", func(t *testing.T) {
		publicText := fmt.Sprintf("Public reply %d: we are on it.", time.Now().UnixNano())
		h.AddHumanComment(t, googleFirstID, "Dana Agent", publicText, true)
		h.AddHumanComment(t, googleFirstID, "Erin Agent", internalText, false)
		w.settle(t)
		var mirrored []string
		for _, cm := range w.sim.Comments(googleFirst) {
			if strings.Contains(cm.Body, publicText) {
				mirrored = append(mirrored, cm.Body)
			}
		}
		if len(mirrored) != 1 {
			t.Fatalf("Google has %d copies of the public reply, want 1", len(mirrored))
		}
		if first := strings.SplitN(mirrored[0], "\n", 2)[0]; !strings.HasPrefix(first, "[Company Comment ") || !strings.Contains(first, "Dana Agent") {
			t.Errorf("the mirrored reply's first line is %q; want a Company Comment marker naming Dana Agent", first)
		}
		if n := countContaining(w.googleBodies(), internalText); n != 0 {
			t.Errorf("the internal note reached Google %d times; internal notes must never leave the CRM", n)
		}
	})

	t.Run("a file on an internal note never leaves the CRM", func(t *testing.T) {
		name := fmt.Sprintf("internal-%d.txt", time.Now().UnixNano())
		h.AddHumanInternalAttachment(t, googleFirstID, name, "text/plain", []byte("agents only\n"))
		w.settle(t)
		glist, err := w.google.ListAttachments(ctx, googleFirst)
		if err != nil {
			t.Fatalf("Google ListAttachments: %v", err)
		}
		for _, a := range glist {
			if a.Filename == name {
				t.Errorf("the file of an internal note reached Google as attachment %s; internal files must stay in the CRM", a.ID)
			}
		}
		if n := countContaining(w.googleBodies(), name); n != 0 {
			t.Errorf("%d Google comments name the internal file; nothing about it may leave the CRM", n)
		}
	})

	t.Run("attachments cross both ways byte for byte, once", func(t *testing.T) {
		fromGoogle := binaryData(70_000)
		fromCRM := append([]byte("crm log\x00\xff\xfe"), binaryData(3000)...)
		if _, err := w.sim.AddAttachment(googleFirst, "trace.bin", "application/octet-stream", fromGoogle, csapitest.Actor{DisplayName: "Carol Customer", Email: engineCustomer}); err != nil {
			t.Fatal(err)
		}
		h.AddHumanAttachment(t, googleFirstID, "crm.log", "text/plain", fromCRM)
		w.settle(t)
		w.settle(t) // a second pass must copy nothing again

		list, err := w.crm.ListAttachments(ctx, googleFirstID)
		if err != nil {
			t.Fatalf("CRM ListAttachments: %v", err)
		}
		var copies []casesync.Attachment
		for _, a := range list {
			if a.Filename == "trace.bin" {
				copies = append(copies, a)
			}
		}
		if len(copies) != 1 {
			t.Fatalf("the CRM has %d copies of trace.bin, want 1", len(copies))
		}
		if got := download(t, w.crm, googleFirstID, copies[0].ID); !bytes.Equal(got, fromGoogle) {
			t.Errorf("trace.bin in the CRM: %d bytes that differ from the %d on Google", len(got), len(fromGoogle))
		}

		glist, err := w.google.ListAttachments(ctx, googleFirst)
		if err != nil {
			t.Fatalf("Google ListAttachments: %v", err)
		}
		var gcopies []casesync.Attachment
		for _, a := range glist {
			if a.Filename == "crm.log" {
				gcopies = append(gcopies, a)
			}
		}
		if len(gcopies) != 1 {
			t.Fatalf("Google has %d copies of crm.log, want 1", len(gcopies))
		}
		rc, err := w.google.DownloadAttachment(ctx, googleFirst, gcopies[0].ID)
		if err != nil {
			t.Fatalf("Google DownloadAttachment: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, fromCRM) {
			t.Errorf("crm.log on Google: %d bytes (%v) that differ from the %d in the CRM", len(got), err, len(fromCRM))
		}
	})

	t.Run("priority changes cross both ways", func(t *testing.T) {
		if err := w.sim.SetPriority(googleFirst, "P1"); err != nil {
			t.Fatal(err)
		}
		w.settle(t)
		wantCRM, _ := w.table.Company(casesync.P1)
		if got := mustGet(t, w.crm, googleFirstID).Priority; got != wantCRM {
			t.Errorf("after Google's P1 the CRM priority is %q, want %q", got, wantCRM)
		}
		low, _ := w.table.Company(casesync.P4)
		if err := w.crm.SetPriority(ctx, googleFirstID, low); err != nil { // as a human would
			t.Fatal(err)
		}
		w.settle(t)
		g, _ := w.sim.Case(googleFirst)
		if want, _ := w.table.Google(low); casesync.ParsePriority(g.Priority) != want {
			t.Errorf("after the CRM's %q the Google priority is %s, want %s", low, g.Priority, want)
		}
	})

	t.Run("nothing the connector wrote comes back, and a quiet pass changes nothing", func(t *testing.T) {
		gBefore := len(w.sim.Comments(googleFirst))
		cBefore := len(w.crmComments(t, googleFirstID))
		w.settle(t)
		if n := len(w.sim.Comments(googleFirst)); n != gBefore {
			t.Errorf("Google comments went from %d to %d on a quiet pass", gBefore, n)
		}
		if n := len(w.crmComments(t, googleFirstID)); n != cBefore {
			t.Errorf("CRM comments went from %d to %d on a quiet pass", cBefore, n)
		}
		for _, b := range commentBodies(w.crmComments(t, googleFirstID)) {
			if strings.HasPrefix(b, "[Google Comment ") && strings.Contains(b, "[Company Comment ") {
				t.Errorf("a CRM comment mirrors a mirrored comment back (an echo)")
			}
		}
	})

	runEngineState(t, w)

	t.Run("what one changed case costs", func(t *testing.T) {
		before := h.Calls()
		if _, err := w.engine.PollCRM(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("cost: idle CRM poll: %s CRM calls", formatCalls(callsSince(before, h.Calls())))
		w.settle(t)

		// measure reports the CRM calls of one change: the reconciliation
		// that carries it over, then the follow-up passes its own writes
		// cause, with the polls' calls apart.
		measure := func(what string, change func()) {
			change()
			time.Sleep(300 * time.Millisecond)
			before := h.Calls()
			if _, err := w.engine.PollGoogle(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := w.engine.PollCRM(ctx); err != nil {
				t.Fatal(err)
			}
			afterPolls := h.Calls()
			refs := w.queue.take()
			for _, ref := range refs {
				if _, err := w.engine.SyncCase(ctx, ref); err != nil {
					t.Fatalf("SyncCase(%+v): %v", ref, err)
				}
			}
			work := callsSince(afterPolls, h.Calls())
			before2, polls, syncs, pollsBefore := h.Calls(), w.polls, w.syncs, maps.Clone(w.pollCalls)
			w.settle(t)
			rest := callsSince(before2, h.Calls())
			for op, n := range callsSince(pollsBefore, w.pollCalls) {
				if rest[op] -= n; rest[op] == 0 {
					delete(rest, op)
				}
			}
			t.Logf("cost: %s: %s CRM calls in the %d reconciliation(s) that carried it over, after one CRM poll of %s; then %s in %d follow-up pass(es) over %d more CRM polls",
				what, formatCalls(work), len(refs), formatCalls(callsSince(before, afterPolls)), formatCalls(rest), w.syncs-syncs, w.polls-polls)
		}
		measure("a Google comment mirrored to the CRM", func() {
			if _, err := w.sim.AddComment(googleFirst, "One more detail.", csapitest.Actor{DisplayName: "Carol Customer", Email: engineCustomer}); err != nil {
				t.Fatal(err)
			}
		})
		measure("a public CRM reply mirrored to Google", func() {
			h.AddHumanComment(t, googleFirstID, "Dana Agent", "One more answer.", true)
		})
	})

	t.Run("closing crosses both ways", func(t *testing.T) {
		if err := w.sim.CloseCase(googleFirst); err != nil {
			t.Fatal(err)
		}
		if err := w.crm.CloseCase(ctx, crmFirst); err != nil { // as a human would
			t.Fatal(err)
		}
		w.settle(t)
		if !mustGet(t, w.crm, googleFirstID).Closed {
			t.Errorf("the CRM case of the closed Google case is still open")
		}
		if g, _ := w.sim.Case(crmFirstName); g.State != "CLOSED" {
			t.Errorf("the Google case of the closed CRM case is %s, want CLOSED", g.State)
		}
	})

	t.Run("an outage is reported on the CRM case once, and its end once", func(t *testing.T) {
		name := w.newGoogleCase(t, "Engine: outage watch", "P2")
		w.settle(t)
		id := w.mappingOf(t, name, "").CompanyCaseID
		if id == "" {
			t.Fatalf("the Google case got no CRM case")
		}
		w.sim.SetDown(true)
		w.clock.Advance(11 * time.Minute)
		if _, err := w.engine.PollGoogle(ctx); err == nil {
			t.Fatalf("PollGoogle succeeded with CSAPI down")
		}
		if _, err := w.engine.PollCRM(ctx); err != nil {
			t.Fatalf("PollCRM: %v", err)
		}
		for i := 1; i <= 2; i++ {
			if _, err := w.engine.DetectOutages(ctx); !errors.Is(err, casesync.ErrOutage) {
				t.Fatalf("DetectOutages run %d = %v, want ErrOutage", i, err)
			}
		}
		notices := func() (outage, resumed int) {
			for _, c := range w.crmComments(t, id) {
				switch {
				case strings.HasPrefix(c.Body, "This case has not synced properly in "):
					outage++
				case c.Body == "Syncing has resumed.":
					resumed++
				}
			}
			return
		}
		if o, r := notices(); o != 1 || r != 0 {
			t.Errorf("during the outage the CRM case has %d outage and %d resumed notices, want 1 and 0", o, r)
		}
		w.sim.SetDown(false)
		w.settle(t)
		if _, err := w.engine.DetectOutages(ctx); err != nil {
			t.Fatalf("DetectOutages after recovery: %v", err)
		}
		if _, err := w.engine.DetectOutages(ctx); err != nil {
			t.Fatalf("DetectOutages run again: %v", err)
		}
		if o, r := notices(); o != 1 || r != 1 {
			t.Errorf("after recovery the CRM case has %d outage and %d resumed notices, want 1 and 1", o, r)
		}
		if ids := idsOf(w.crmComments(t, id)); len(ids) != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
			t.Errorf("comment ids repeat: %v", ids)
		}
	})
}

func idsOf(cs []casesync.Comment) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
