package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/casesync/casesynctest"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/webhook"
)

const (
	G = casesync.SideGoogle
	C = casesync.SideCompany
)

func TestLowerBoundOfASmallTraceWorkedOutByHand(t *testing.T) {
	tr := Trace{Pairs: 3, Warmup: 1, Minutes: 2, Changes: []Change{
		{Minute: 0, Side: G, Pair: 0, Kind: KindComment, Token: "warm"}, // warm-up: not counted
		{Minute: 1, Side: G, Pair: 0, Kind: KindComment, Token: "a"},
		{Minute: 1, Side: G, Pair: 1, Kind: KindAttachment, Token: "b", Size: 10},
		{Minute: 1, Side: C, Pair: 0, Kind: KindComment, Token: "c"},
		{Minute: 1, Side: C, Pair: 2, Kind: KindPriority, Token: "d", Priority: casesync.P1},
		{Minute: 2, Side: G, Pair: 1, Kind: KindPriority, Token: "e", Priority: casesync.P2},
		{Minute: 2, Side: C, Pair: 2, Kind: KindAttachment, Token: "f", Size: 10},
	}}
	want := map[string]int64{
		// One search per side in each of the 2 measured minutes.
		"csapi cases.search": 2, "crm search": 2,
		// a: Google comment: get, list comments; a comment in the CRM.
		// b: Google file: get, list files, download; an upload to the CRM.
		// e: Google priority: get; a priority change in the CRM.
		"csapi cases.get": 3, "csapi comments.list": 1, "crm comments.add": 1,
		"csapi attachments.list": 1, "csapi media.download": 1, "crm attachments.upload": 1,
		"crm setPriority": 1,
		// c: CRM comment; d: CRM priority; f: CRM file.
		"crm get": 3, "crm comments.list": 1, "csapi comments.create": 1,
		"csapi cases.patch":    1,
		"crm attachments.list": 1, "crm attachments.download": 1, "csapi media.upload": 1,
	}
	got := LowerBound(tr, nil)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LowerBound =\n%v\nwant\n%v", got, want)
	}
	if n := total(got); n != 22 {
		t.Errorf("lower bound total = %d, want 22", n)
	}
}

func TestLowerBoundSearchesOnePageMorePerHundredChangedCases(t *testing.T) {
	tr := Trace{Pairs: 250, Minutes: 1}
	for i := 0; i < 150; i++ {
		tr.Changes = append(tr.Changes, Change{Side: G, Pair: i, Kind: KindPriority, Priority: casesync.P1})
	}
	got := LowerBound(tr, nil)
	if got["csapi cases.search"] != 2 || got["crm search"] != 1 {
		t.Errorf("150 Google cases changed in a minute: %d Google and %d CRM search pages, want 2 and 1", got["csapi cases.search"], got["crm search"])
	}
}

func TestSeedDesignOfOneCommentWorkedOutByHand(t *testing.T) {
	tr := Trace{Pairs: 1, Minutes: 1, Changes: []Change{{Side: G, Pair: 0, Kind: KindComment, Token: "a"}}}
	got := SeedDesign(tr)
	want := SeedCost{
		Calls: map[string]int64{
			// Each poll searches once; the Google poll finds the case, the
			// CRM poll finds nothing (its case changed an hour ago).
			"csapi cases.search": 1, "crm search": 1,
			// The one sync task: get the case, list comments and
			// attachments on both sides, copy the comment.
			"csapi cases.get": 1, "csapi comments.list": 1, "crm comments.list": 1, "crm comments.add": 1,
			"csapi attachments.list": 1, "crm attachments.list": 1,
		},
		// Google poll: Global, the found case's mapping, the open
		// mappings (1); CRM poll: Global, the open mappings; the task:
		// its mapping.
		Reads: 3 + 2 + 1,
		// Google poll: Global (its one mapping was found); CRM poll: the
		// mapping not found, and Global; the task: its mapping.
		Writes:   1 + 2 + 1,
		SyncRuns: 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SeedDesign =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSeedDesignSyncsAnUnchangedCaseAgainOnEveryPollOfItsWindow(t *testing.T) {
	tr := Trace{Pairs: 1, Minutes: 40, Changes: []Change{{Side: G, Pair: 0, Kind: KindComment, Token: "a"}}}
	got := SeedDesign(tr)
	// The Google case changed at 0:00 is found by the polls at 0:30 to
	// 30:30 (update_time > last poll - 30 min): 31 tasks. The copy written
	// to the CRM at 0:30 is found by the CRM polls at 1:30 to 5:30: 5 tasks.
	if got.SyncRuns != 36 || got.Calls["csapi cases.get"] != 31 || got.Calls["crm get"] != 5 {
		t.Errorf("sync tasks %d (Google case read %d times, CRM case %d times), want 36 (31 and 5)", got.SyncRuns, got.Calls["csapi cases.get"], got.Calls["crm get"])
	}
	if got.Calls["crm comments.add"] != 1 || got.Calls["csapi comments.create"] != 0 {
		t.Errorf("comments written: %d to the CRM and %d to Google, want 1 and 0", got.Calls["crm comments.add"], got.Calls["csapi comments.create"])
	}
}

func TestListPagesStopsAtTheFirstPageReachingPastTheCutoff(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	items := make([]seedItem, 120)
	for i := range items {
		items[i] = seedItem{at: at.Add(time.Duration(i) * time.Minute)}
	}
	for _, tc := range []struct {
		name   string
		items  []seedItem
		cutoff time.Time
		size   int
		want   int
	}{
		{"empty list", nil, at, 50, 1},
		{"all on one page", items[:30], at.Add(time.Hour), 50, 1},
		{"oldest of page one is old enough", items, at.Add(100 * time.Minute), 50, 1},
		{"needs a second page", items, at.Add(60 * time.Minute), 50, 2},
		{"reads to the end", items, at, 50, 3},
	} {
		if got := listPages(tc.items, tc.cutoff, tc.size); got != tc.want {
			t.Errorf("%s: %d pages, want %d", tc.name, got, tc.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	a := Generate(10, 0.05, 4, 6, 7)
	if b := Generate(10, 0.05, 4, 6, 7); !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed made two different traces")
	}
	if c := Generate(10, 0.05, 4, 6, 8); reflect.DeepEqual(a.Changes, c.Changes) {
		t.Errorf("two seeds made the same trace")
	}
	// 0.05 × 10 = half a change a minute per side: one every other minute.
	perSide := map[casesync.Side]int{}
	tokens := map[string]bool{}
	prio := map[int]casesync.Priority{}
	for _, c := range a.Changes {
		perSide[c.Side]++
		if tokens[c.Token] {
			t.Errorf("token %s used twice", c.Token)
		}
		tokens[c.Token] = true
		if c.Kind == KindPriority {
			old, ok := prio[c.Pair]
			if !ok {
				old = initialPriority
			}
			if c.Priority == old || c.Priority < casesync.P1 || c.Priority > casesync.P4 {
				t.Errorf("priority change %s from %s to %s", c.Token, old, c.Priority)
			}
			prio[c.Pair] = c.Priority
		}
	}
	if perSide[G] != 5 || perSide[C] != 5 {
		t.Errorf("%d Google and %d CRM changes in 10 minutes, want 5 and 5", perSide[G], perSide[C])
	}
	if n := a.MeasuredChanges(); n != 6 {
		t.Errorf("%d measured changes in minutes 4 to 9, want 6", n)
	}

	// The mix, over a long trace, and at most one priority change a minute
	// per pair.
	long := Generate(50, 0.2, 0, 200, 3)
	kinds := map[Kind]int{}
	type pm struct{ pair, minute int }
	prios := map[pm]int{}
	for _, c := range long.Changes {
		kinds[c.Kind]++
		if c.Kind == KindPriority {
			prios[pm{c.Pair, c.Minute}]++
		}
	}
	n := float64(len(long.Changes))
	if n != 4000 || float64(kinds[KindComment])/n < 0.77 || float64(kinds[KindAttachment])/n < 0.08 || float64(kinds[KindPriority])/n < 0.08 {
		t.Errorf("mix of %v changes: %v; want 4000 changes, about 80/10/10", n, kinds)
	}
	for k, v := range prios {
		if v > 1 {
			t.Errorf("pair %d got %d priority changes in minute %d", k.pair, v, k.minute)
		}
	}
}

// small is a short trace on the in-memory store.
func small() options {
	return options{cases: 5, rate: 0.4, minutes: 4, warmup: 2, seed: 11, store: "memory"}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestASmallRunCountsConsistently(t *testing.T) {
	res, err := runCost(ctxFor(t), small(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("exactly-once check failed: %v", res.problems)
	}
	tr := res.trace
	calls := res.cost.calls
	lower := res.lower
	if total(calls) < total(lower) {
		t.Errorf("casebridge made %d API calls, fewer than the lower bound %d", total(calls), total(lower))
	}
	if total(res.seed.Calls) < total(lower) {
		t.Errorf("the seed design made %d API calls, fewer than the lower bound %d", total(res.seed.Calls), total(lower))
	}
	// Each poll searches each side at least once.
	if calls["csapi cases.search"] < int64(tr.Minutes) || calls["crm search"] < int64(tr.Minutes) {
		t.Errorf("searches: %d on Google and %d in the CRM over %d minutes", calls["csapi cases.search"], calls["crm search"], tr.Minutes)
	}
	// Exactly one write to the other side per change: the writes counted at
	// the simulators' HTTP layer match the trace.
	writes := map[string]int64{}
	changed := map[[2]int]bool{} // minute, pair
	for _, c := range tr.Changes {
		if !tr.Measured(c.Minute) {
			continue
		}
		changed[[2]int{c.Minute, c.Pair}] = true
		dst := opsOf(other(c.Side))
		switch c.Kind {
		case KindComment:
			writes[dst.addComment]++
		case KindAttachment:
			writes[dst.upload]++
		case KindPriority:
			writes[dst.setPriority]++
		}
	}
	for _, o := range []ops{googleOps, crmOps} {
		for _, m := range []string{o.addComment, o.upload, o.setPriority} {
			if calls[m] != writes[m] {
				t.Errorf("%s: %d calls, want %d (one per change made on the other side)", m, calls[m], writes[m])
			}
		}
	}
	// Each minute drains, so every pair changed in a minute is reconciled
	// at least once in it.
	if res.cost.reconciliations() < int64(len(changed)) {
		t.Errorf("%d reconciliations for %d (minute, pair) changes", res.cost.reconciliations(), len(changed))
	}
	if res.hasStoreCounts || res.cost.reads != 0 || res.cost.writes != 0 {
		t.Errorf("the memory store reported document counts (%d reads, %d writes)", res.cost.reads, res.cost.writes)
	}
}

func TestTheCommandPrintsTheTableAndWritesTheJSON(t *testing.T) {
	opts := small()
	opts.jsonPath = filepath.Join(t.TempDir(), "bench.json")
	var out strings.Builder
	if code := run(ctxFor(t), opts, &out, io.Discard); code != 0 {
		t.Fatalf("exit code %d; output:\n%s", code, out.String())
	}
	for _, want := range []string{"exactly once: all", "API calls", "  csapi cases.search", "  crm search", "sync runs: reconciliations", "sync runs: messages skipped", "sync-case deliveries:", "lower bound", "seed design"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(opts.jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"api_calls_per_change", "lower_bound_api_calls_per_change", "seed_api_calls_per_change", "sync_runs_per_change", "api_calls_per_change.csapi.cases.search"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("JSON key %s = %v, want a positive number", k, got[k])
		}
	}
	for _, k := range []string{"firestore_reads_per_change", "firestore_writes_per_change", "latency_events_p95_ms", "latency_polling_p95_ms"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("JSON key %s = %v (present %v), want null on the memory store", k, v, ok)
		}
	}
}

func TestALostChangeFailsTheCheck(t *testing.T) {
	opts := small()
	tr := Generate(opts.cases, opts.rate, opts.warmup, opts.minutes, opts.seed)
	lost := tr.Changes[len(tr.Changes)-1]
	opts.afterSetup = func(w *world) {
		p := w.pairs[lost.Pair]
		// From the minute of the change on, Pub/Sub loses every message
		// about its pair.
		w.drop = func(r casesync.CaseRef) bool {
			if w.clock.Now().Before(w.base.Add(time.Duration(lost.Minute) * time.Minute)) {
				return false
			}
			return r.MappingID == p.mapping || (r.Side == G && casesync.CaseNumber(r.ID) == casesync.CaseNumber(p.google)) || (r.Side == C && r.ID == p.crm)
		}
	}
	res, err := runCost(ctxFor(t), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range res.problems {
		if strings.Contains(p, lost.Token) || (lost.Kind == KindPriority && strings.Contains(p, "priority")) {
			found = true
		}
	}
	if !found {
		t.Errorf("the %s %s change %s was never delivered, yet the check reported %v", lost.Side, lost.Kind, lost.Token, res.problems)
	}
	var out strings.Builder
	printTable(&out, res)
	if !strings.Contains(out.String(), "EXACTLY ONCE FAILED") {
		t.Errorf("the table does not say the check failed:\n%s", out.String())
	}
}

func TestADuplicateFailsTheCheck(t *testing.T) {
	opts := small()
	tr := Generate(opts.cases, opts.rate, opts.warmup, opts.minutes, opts.seed)
	var dup *Change
	for i := range tr.Changes {
		if c := tr.Changes[i]; c.Side == G && c.Kind == KindComment {
			dup = &c
			break
		}
	}
	if dup == nil {
		t.Fatal("the trace has no Google comment to copy twice")
	}
	opts.beforeCheck = func(w *world) {
		if _, err := w.crm.AddHumanComment(w.pairs[dup.Pair].crm, agentName, "[Google Comment 1 by Carol Customer]\n"+dup.Body(), true); err != nil {
			t.Fatal(err)
		}
	}
	res, err := runCost(ctxFor(t), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := "comment " + dup.Token + " (minute"
	if len(res.problems) != 1 || !strings.Contains(res.problems[0], want) || !strings.Contains(res.problems[0], "arrived 2 times") {
		t.Errorf("a second copy of %s in the CRM: problems %v, want one saying it arrived 2 times", dup.Token, res.problems)
	}
}

func TestARunOnTheFirestoreEmulatorCountsDocuments(t *testing.T) {
	opts := options{cases: 3, rate: 0.5, minutes: 2, warmup: 0, seed: 5, store: "firestore"}
	res, err := runCost(ctxFor(t), opts, io.Discard)
	if err != nil {
		t.Fatalf("%v (this test needs the Firestore emulator: gcloud components install cloud-firestore-emulator, and Java 17)", err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("exactly-once check failed: %v", res.problems)
	}
	// Every poll records its watermark, and every reconciliation reads its
	// mapping.
	if !res.hasStoreCounts || res.cost.writes < int64(2*opts.minutes) || res.cost.reads < res.cost.deliveries {
		t.Errorf("Firestore counted %d reads and %d writes for %d sync-case deliveries over %d minutes", res.cost.reads, res.cost.writes, res.cost.deliveries, opts.minutes)
	}
	if f := res.flat(); f["firestore_reads_per_change"] == nil || f["firestore_writes_per_change"] == nil {
		t.Errorf("the JSON has no Firestore counts: %v", f)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cases != 100 || o.rate != 0.02 || o.minutes != 60 || o.warmup != 30 || o.store != "firestore" || o.events || o.csapiFeed {
		t.Errorf("defaults = %+v", o)
	}
	if o, err := parseFlags([]string{"--events", "--csapi-feed"}, io.Discard); err != nil || !o.events || !o.csapiFeed {
		t.Errorf("parseFlags(--events --csapi-feed) = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--cases", "0"}, {"--cases", "20000"}, {"--rate", "0"}, {"--rate", "2"}, {"--minutes", "0"},
		{"--warmup", "-1"}, {"--store", "redis"}, {"--crm-page-size", "500"}, {"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", args)
		}
	}
}

func TestATraceWithNoMeasuredChangeIsRefused(t *testing.T) {
	_, err := runCost(ctxFor(t), options{cases: 1, rate: 0.01, minutes: 2, store: "memory"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no change") {
		t.Errorf("runCost = %v, want an error saying the trace makes no change", err)
	}
}

func TestAPersonsChangeComesAfterWhatCasebridgeLastDid(t *testing.T) {
	ctx := ctxFor(t)
	w, err := newWorld(ctx, worldConfig{store: casesynctest.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	if err := w.setup(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// The last minute's reconciliations ran past the start of minute 1.
	w.advanceTo(w.base.Add(time.Minute + 10*time.Second))
	last := w.clock.Now()
	ch := Change{Minute: 1, Side: G, Pair: 0, Kind: KindComment, Token: "after"}
	if err := w.minute(ctx, 1, []Change{ch}); err != nil {
		t.Fatal(err)
	}
	for _, c := range w.google.Comments(w.pairs[0].google) {
		if strings.Contains(c.Body, ch.Mark()) {
			at, err := time.Parse(time.RFC3339Nano, c.CreateTime)
			if err != nil {
				t.Fatal(err)
			}
			if !at.After(last) {
				t.Errorf("the person's comment is dated %s, not after casebridge's last action at %s", at, last)
			}
			return
		}
	}
	t.Fatalf("the comment was not made")
}

func TestLowerBoundCountsAOneCallListingAsTheListing(t *testing.T) {
	tr := Trace{Pairs: 2, Minutes: 1, Changes: []Change{
		{Side: G, Pair: 0, Kind: KindComment, Token: "a"},
		{Side: G, Pair: 1, Kind: KindAttachment, Token: "b", Size: 10},
		{Side: C, Pair: 0, Kind: KindComment, Token: "c"},
		{Side: C, Pair: 1, Kind: KindPriority, Token: "d", Priority: casesync.P1},
	}}
	got := LowerBound(tr, listings{G: true, C: true})
	want := map[string]int64{
		"csapi cases.search": 1, "crm search": 1,
		// a and b: one feed listing each, whatever the kind.
		"csapi cases.get": 2, "csapi cases.showFeed": 2, "csapi media.download": 1,
		"crm comments.add": 1, "crm attachments.upload": 1,
		// c: one conversation listing; d: no listing.
		"crm get": 2, "crm conversation.list": 1, "csapi comments.create": 1, "csapi cases.patch": 1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LowerBound with one-call listings =\n%v\nwant\n%v", got, want)
	}
	// One side only: the other lists by kind.
	got = LowerBound(tr, listings{C: true})
	if got["csapi comments.list"] != 1 || got["csapi attachments.list"] != 1 || got["csapi cases.showFeed"] != 0 || got["crm conversation.list"] != 1 {
		t.Errorf("LowerBound with the CRM's listing only = %v", got)
	}
}

// TestASmallRunWithEventsDeliversEachEventAndKeepsExactlyOnce plays a
// small trace with both push paths on and accounts for every event: each
// change on Google, a person's or casebridge's, is one support event; each
// change on a linked CRM ticket is one webhook, published for a person's
// and dropped for the sync user's. The events reconcile every change
// before the minute's polls, so the polls publish nothing.
func TestASmallRunWithEventsDeliversEachEventAndKeepsExactlyOnce(t *testing.T) {
	opts := small()
	opts.events = true
	res, err := runCost(ctxFor(t), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("exactly-once check failed with events on: %v", res.problems)
	}
	people := map[casesync.Side]int64{}
	for _, c := range res.trace.Changes {
		if res.trace.Measured(c.Minute) {
			people[c.Side]++
		}
	}
	calls, ev := res.cost.calls, res.cost.events
	googleWrites := calls["csapi comments.create"] + calls["csapi media.upload"] + calls["csapi cases.patch"]
	crmWrites := calls["crm comments.add"] + calls["crm attachments.upload"] + calls["crm setPriority"]
	if googleWrites == 0 || crmWrites == 0 {
		t.Fatalf("casebridge wrote %d times to Google and %d times to the CRM; the trace should make it write to both", googleWrites, crmWrites)
	}
	if want := people[G] + googleWrites; ev.supportEvents != want || ev.supportEventRefs != want {
		t.Errorf("%d support events handled, %d case-updated published from them; want %d each (%d changes by people, %d by casebridge)",
			ev.supportEvents, ev.supportEventRefs, want, people[G], googleWrites)
	}
	if ev.webhooks != people[C] || ev.ownWebhooks != crmWrites || ev.refusedWebhooks != 0 {
		t.Errorf("webhooks: %d published, %d of the sync user dropped, %d refused; want %d, %d and 0",
			ev.webhooks, ev.ownWebhooks, ev.refusedWebhooks, people[C], crmWrites)
	}
	if ev.pollTicks != 0 {
		t.Errorf("%d Google polls asked for, though every event names its case", ev.pollTicks)
	}
	if want := ev.supportEventRefs + ev.webhooks; res.cost.deliveries != want {
		t.Errorf("%d sync-case deliveries, want %d (one per event; the polls should find nothing left)", res.cost.deliveries, want)
	}
	if res.cost.skipped["the event names casebridge's own write"] == 0 {
		t.Errorf("no delivery was skipped as casebridge's own write coming back: %v", res.cost.skipped)
	}
	if res.cost.reconciliations()+res.cost.skips() != res.cost.deliveries {
		t.Errorf("%d reconciliations and %d skipped for %d deliveries", res.cost.reconciliations(), res.cost.skips(), res.cost.deliveries)
	}
	f := res.flat()
	if f["events"] != true || f["support_events"] != ev.supportEvents || f["crm_webhooks_published"] != ev.webhooks {
		t.Errorf("JSON: events %v, support_events %v, crm_webhooks_published %v", f["events"], f["support_events"], f["crm_webhooks_published"])
	}
	if f["sync_runs_per_change"] != res.perChange(res.cost.reconciliations()) {
		t.Errorf("JSON sync_runs_per_change = %v, want the reconciliations per change", f["sync_runs_per_change"])
	}
	var out strings.Builder
	printTable(&out, res)
	if !strings.Contains(out.String(), "events on") || !strings.Contains(out.String(), "support events handled") {
		t.Errorf("the table does not say events were on and what they did:\n%s", out.String())
	}
}

func TestTheWebhookReceiverPublishesOnlyAPersonsVerifiedChange(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	q := &queue{now: func() time.Time { return now }}
	p, err := newPushes(q, q.now)
	if err != nil {
		t.Fatal(err)
	}
	p.syncUser = crmsim.DefaultSyncUser
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	send := func(secret, body string, at time.Time) int {
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + body))
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(webhook.HeaderCasebridgeTimestamp, ts)
		req.Header.Set(webhook.HeaderCasebridgeSignature, "sha256="+hex.EncodeToString(m.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	other := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, secret, body string
		at                 time.Time
		status             int
	}{
		{"another secret", other, `{"case":"7","event":"comment","actor":"Dana"}`, now, http.StatusUnauthorized},
		{"ten minutes old by the simulated clock", p.secret, `{"case":"7","event":"comment","actor":"Dana"}`, now.Add(-10 * time.Minute), http.StatusUnauthorized},
		{"an invalid case id", p.secret, `{"case":"7/../8","event":"comment","actor":"Dana"}`, now, http.StatusBadRequest},
		{"the sync user's own change", p.secret, `{"case":"7","event":"comment","actor":"casebridge"}`, now, http.StatusNoContent},
	} {
		if got := send(tc.secret, tc.body, tc.at); got != tc.status {
			t.Errorf("%s: answered %d, want %d", tc.name, got, tc.status)
		}
	}
	if n := q.len(); n != 0 {
		t.Fatalf("%d messages published for webhooks that should publish none", n)
	}
	if got := send(p.secret, `{"case":"7","event":"comment","actor":"Dana"}`, now); got != http.StatusNoContent {
		t.Fatalf("a person's signed webhook answered %d, want 204", got)
	}
	m, ok := q.pop()
	if !ok || m.ref.Side != C || m.ref.ID != "7" || !m.ref.EventTime.Equal(now) {
		t.Errorf("published %+v (%v), want case-updated for CRM case 7 stamped %s", m.ref, ok, now)
	}
	if c := p.snapshot(); c.webhooks != 1 || c.ownWebhooks != 1 || c.refusedWebhooks != 3 {
		t.Errorf("counts %+v, want 1 published, 1 own and 3 refused", c)
	}
}

func TestTheCSAPIFeedListsGoogleCasesInOneCall(t *testing.T) {
	opts := small()
	opts.csapiFeed = true
	res, err := runCost(ctxFor(t), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.problems) > 0 {
		t.Fatalf("exactly-once check failed with the feed: %v", res.problems)
	}
	if res.cost.calls["csapi cases.showFeed"] == 0 {
		t.Errorf("no cases.showFeed call with --csapi-feed: %v", res.cost.calls)
	}
	if res.lower["csapi cases.showFeed"] == 0 || res.lower["csapi comments.list"] != 0 || res.lower["csapi attachments.list"] != 0 {
		t.Errorf("the lower bound does not list Google cases through the feed: %v", res.lower)
	}
	if res.lower["crm conversation.list"] == 0 {
		t.Errorf("the lower bound does not list CRM tickets through their conversation: %v", res.lower)
	}
}

// TestASupportEventIsReadAsGoogleEventsReadsIt hands support events to the
// world's publisher as the CSAPI simulator does: one naming an in-scope
// case's comment publishes case-updated with the comment as its item; one
// naming a case outside CSAPI_PARENT publishes nothing; one naming no case
// asks for a Google poll, which the drain runs; a publish to a topic that
// does not exist fails as Pub/Sub's would.
func TestASupportEventIsReadAsGoogleEventsReadsIt(t *testing.T) {
	ctx := ctxFor(t)
	w, err := newWorld(ctx, worldConfig{store: casesynctest.NewMemStore(), events: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	send := func(topic string, attrs map[string]string, data string) error {
		return w.pushes.PublishEvent(ctx, topic, csapitest.EventMessage{Attributes: attrs, Data: []byte(data)})
	}
	name := "projects/" + project + "/cases/123"
	if err := send(supportEventsTopic, map[string]string{csapitest.AttrResourceName: name + "/comments/9"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := send(supportEventsTopic, nil, `{"resourceName":"organizations/999/cases/5"}`); err != nil {
		t.Fatal(err)
	}
	if err := send(supportEventsTopic+"-other", nil, `{"resourceName":"`+name+`"}`); !errors.Is(err, csapitest.ErrTopicNotFound) {
		t.Errorf("a publish to another topic = %v, want ErrTopicNotFound", err)
	}
	m, ok := w.queue.pop()
	if !ok || m.ref.Side != G || m.ref.ID != name || m.ref.Item != "9" || !m.ref.EventTime.Equal(w.clock.Now()) {
		t.Fatalf("first message %+v (%v), want case-updated for %s with item 9 stamped %s", m.ref, ok, name, w.clock.Now())
	}
	if n := w.queue.len(); n != 0 {
		t.Fatalf("%d more messages; the case outside CSAPI_PARENT should publish none", n)
	}
	searches := w.google.Calls()["cases.search"]
	if err := send(supportEventsTopic, map[string]string{csapitest.AttrNotificationType: "SOMETHING"}, "no case here"); err != nil {
		t.Fatal(err)
	}
	if err := w.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.google.Calls()["cases.search"]; got != searches+1 {
		t.Errorf("a support event naming no case made %d Google searches, want 1", got-searches)
	}
	if c := w.pushes.snapshot(); c.supportEvents != 3 || c.supportEventRefs != 1 || c.pollTicks != 1 {
		t.Errorf("counts %+v, want 3 support events, 1 case-updated and 1 poll tick", c)
	}
}
