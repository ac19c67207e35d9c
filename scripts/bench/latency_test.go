package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/localstack"
)

func durations(secs ...float64) []time.Duration {
	out := make([]time.Duration, len(secs))
	for i, s := range secs {
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

func TestPercentileIsTheNearestRankWorkedOutByHand(t *testing.T) {
	twenty := make([]time.Duration, 20)
	for i := range twenty {
		twenty[i] = time.Duration(i+1) * time.Second
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		// ceil(0.50 × 20) = 10th, ceil(0.95 × 20) = 19th (not the 20th:
		// 0.95 × 20 is not rounded up past 19 by floating point).
		{"p50 of 1..20 s", twenty, 50, 10 * time.Second},
		{"p95 of 1..20 s", twenty, 95, 19 * time.Second},
		{"p100 of 1..20 s", twenty, 100, 20 * time.Second},
		// ceil(0.5 × 5) = 3rd; ceil(0.95 × 5) = 5th.
		{"p50 of five", durations(1, 2, 3, 4, 5), 50, 3 * time.Second},
		{"p95 of five", durations(1, 2, 3, 4, 5), 95, 5 * time.Second},
		{"p50 of one", durations(7), 50, 7 * time.Second},
		{"p95 of one", durations(7), 95, 7 * time.Second},
		// 40 values: p95 is the 38th.
		{"p95 of 40", func() []time.Duration {
			v := make([]time.Duration, 40)
			for i := range v {
				v[i] = time.Duration(i+1) * time.Millisecond
			}
			return v
		}(), 95, 38 * time.Millisecond},
	} {
		got, ok := percentile(tc.sorted, tc.p)
		if !ok || got != tc.want {
			t.Errorf("%s: percentile = %v, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
	if _, ok := percentile(nil, 95); ok {
		t.Error("the percentile of nothing was given")
	}
}

func TestThePlanAlternatesDirectionsOverEveryPairAndThePeriod(t *testing.T) {
	const n, pairs = 20, 6
	spread := time.Minute
	ps := planProbes("on", n, pairs, spread)
	if len(ps) != 2*n {
		t.Fatalf("%d changes planned, want %d", len(ps), 2*n)
	}
	perDir := map[direction]int{}
	pairsOf := map[direction]map[int]bool{googleToCRM: {}, crmToGoogle: {}}
	tokens := map[string]bool{}
	for i, p := range ps {
		perDir[p.dir]++
		pairsOf[p.dir][p.pair] = true
		if tokens[p.token] {
			t.Errorf("token %s planned twice", p.token)
		}
		tokens[p.token] = true
		if !strings.Contains(p.body(), p.token) {
			t.Errorf("the body %q does not carry its token %s", p.body(), p.token)
		}
		if i > 0 {
			if p.dir == ps[i-1].dir {
				t.Errorf("changes %d and %d go the same way", i-1, i)
			}
			// Evenly spaced: 1.5 s apart.
			if gap := p.at - ps[i-1].at; gap != spread/time.Duration(2*n) {
				t.Errorf("change %d comes %v after the previous one, want %v", i, gap, spread/time.Duration(2*n))
			}
		}
		if p.at < 0 || p.at >= spread {
			t.Errorf("change %d is due at %v, outside the spread of %v", i, p.at, spread)
		}
	}
	if perDir[googleToCRM] != n || perDir[crmToGoogle] != n {
		t.Errorf("%v changes per direction, want %d each", perDir, n)
	}
	// Each direction has its own half of the pairs, and goes round all of
	// them.
	for d, set := range pairsOf {
		if len(set) != pairs/2 {
			t.Errorf("%s changes reach %d pairs, want %d", d, len(set), pairs/2)
		}
	}
	for pair := range pairsOf[googleToCRM] {
		if pairsOf[crmToGoogle][pair] {
			t.Errorf("pair %d gets changes from both sides", pair)
		}
	}
	// An odd number of pairs: the CRM side gets the extra one.
	odd := map[direction]map[int]bool{googleToCRM: {}, crmToGoogle: {}}
	for _, p := range planProbes("on", n, 5, spread) {
		odd[p.dir][p.pair] = true
	}
	if len(odd[googleToCRM]) != 2 || len(odd[crmToGoogle]) != 3 || odd[crmToGoogle][0] || odd[crmToGoogle][1] {
		t.Errorf("5 pairs: Google changes on %v, CRM changes on %v; want pairs 0-1 and 2-4", odd[googleToCRM], odd[crmToGoogle])
	}
	if other := planProbes("off", n, pairs, spread); tokens[other[0].token] {
		t.Errorf("the two modes share the token %s", other[0].token)
	}
}

func TestEachArrivalIsPairedWithItsOwnChange(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	ps := planProbes("on", 11, 2, time.Minute)
	g1, c1, g10 := ps[2], ps[3], ps[20] // Google change 1, CRM change 1, Google change 10
	if g1.dir != googleToCRM || c1.dir != crmToGoogle || g10.dir != googleToCRM || g1.pair != 0 || c1.pair != 1 || g10.pair != 0 {
		t.Fatalf("unexpected plan: %+v %+v %+v", g1, c1, g10)
	}
	for _, p := range []*probe{g1, c1, g10} {
		p.made = t0
	}
	mirrored := func(p *probe) string { return "[Google Comment 7 by Carol Customer]\n" + p.body() }

	// Look 1: Google change 10 is on its CRM ticket; change 1 and the CRM
	// reply are only on their own sides.
	l := look{
		google: [][]string{{g1.body(), g10.body()}, {}},
		crm:    [][]string{{mirrored(g10)}, {c1.body()}},
	}
	if n := observe(ps, l, t0.Add(2*time.Second)); n != 1 {
		t.Errorf("first look: %d arrivals, want 1", n)
	}
	if d, ok := g10.latency(); !ok || d != 2*time.Second {
		t.Errorf("Google change 10: latency %v, %v; want 2s", d, ok)
	}
	for _, p := range []*probe{g1, c1} {
		if _, ok := p.latency(); ok {
			t.Errorf("%s arrived while it was only on its own side", p.token)
		}
	}

	// Look 2: the CRM reply reaches Google; change 10 is seen again, and
	// keeps its first arrival time.
	l.google[1] = append(l.google[1], "[Company Comment 4 by Dana Agent]\n"+c1.body())
	observe(ps, l, t0.Add(5*time.Second))
	if d, _ := c1.latency(); d != 5*time.Second {
		t.Errorf("CRM reply 1: latency %v, want 5s", d)
	}
	if d, _ := g10.latency(); d != 2*time.Second {
		t.Errorf("Google change 10 moved its arrival: latency %v, want 2s", d)
	}

	// A change not made yet is not matched, even if its text is there.
	unmade := ps[4]
	l.crm[unmade.pair] = append(l.crm[unmade.pair], unmade.body())
	observe(ps, l, t0.Add(6*time.Second))
	if !unmade.arrived.IsZero() {
		t.Errorf("%s arrived before it was made", unmade.token)
	}

	// Look 3: a second copy of change 10; the final tally counts copies on
	// both sides.
	l.crm[0] = append(l.crm[0], mirrored(g10))
	observe(ps, l, t0.Add(7*time.Second))
	tally(ps, l)
	if g10.copies != 2 || g10.own != 1 || c1.copies != 1 || c1.own != 1 || g1.copies != 0 {
		t.Errorf("copies: change 10 %d (own %d), reply 1 %d (own %d), change 1 %d; want 2 (1), 1 (1), 0",
			g10.copies, g10.own, c1.copies, c1.own, g1.copies)
	}
}

func TestDoneWaitsForEveryChangeToArriveOrBeLost(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	ps := planProbes("on", 1, 2, time.Second)
	lostAfter := time.Minute
	if done(ps, t0, lostAfter) {
		t.Error("done before any change was made")
	}
	ps[0].made, ps[1].made = t0, t0
	ps[0].arrived = t0.Add(time.Second)
	if done(ps, t0.Add(30*time.Second), lostAfter) {
		t.Error("done while a change could still arrive")
	}
	if !done(ps, t0.Add(61*time.Second), lostAfter) {
		t.Error("not done once the missing change waited past lostAfter")
	}
}

// run is a latencyRun with given latencies in seconds (negative: lost).
func runWith(events bool, g2c, c2g []float64) *latencyRun {
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	m := &latencyRun{events: events}
	add := func(d direction, secs []float64) {
		for i, s := range secs {
			p := &probe{dir: d, pair: 0, token: d.key() + string(rune('a'+i)), made: t0, copies: 1, own: 1}
			if s >= 0 {
				p.arrived = t0.Add(time.Duration(s * float64(time.Second)))
			} else {
				p.copies = 0
			}
			m.probes = append(m.probes, p)
		}
	}
	add(googleToCRM, g2c)
	add(crmToGoogle, c2g)
	return m
}

func TestSummariesLeaveLostChangesOutOfThePercentiles(t *testing.T) {
	m := runWith(true, []float64{1, 2, 3, 4, -1}, []float64{10, 20})
	g := m.of(googleToCRM)
	if g.made != 5 || g.arrived != 4 || g.lost != 1 || g.p50 != 2*time.Second || g.p95 != 4*time.Second || g.max != 4*time.Second {
		t.Errorf("Google → CRM: %+v; want 5 made, 4 arrived, 1 lost, p50 2s, p95 4s, max 4s", g)
	}
	all := m.overall()
	// 1, 2, 3, 4, 10, 20: p50 is the 3rd, p95 the 6th.
	if all.arrived != 6 || all.lost != 1 || all.p50 != 3*time.Second || all.p95 != 20*time.Second {
		t.Errorf("overall: %+v; want 6 arrived, 1 lost, p50 3s, p95 20s", all)
	}
	ps := m.problems()
	if len(ps) != 1 || !strings.Contains(ps[0], "never arrived") {
		t.Errorf("problems %q, want one change that never arrived", ps)
	}
	m.probes[0].copies = 2
	m.probes[1].own = 2
	ps = m.problems()
	if len(ps) != 3 || !strings.Contains(strings.Join(ps, "\n"), "arrived 2 times") || !strings.Contains(strings.Join(ps, "\n"), "2 times on its own side") {
		t.Errorf("problems %q, want the lost one, a double and an echo", ps)
	}
}

func TestTheLatencyTableAndJSON(t *testing.T) {
	o := latencyOptions{pollEvery: time.Minute, changes: 2, pairs: 2, target: 5 * time.Second, modes: "both"}
	res := &latencyResult{opts: o, runs: []*latencyRun{
		runWith(true, []float64{0.5, 1.5}, []float64{1, 2}),
		runWith(false, []float64{30, 50}, []float64{20, 58}),
	}, wall: 4 * time.Minute}
	res.runs[0].googleEvents = 4

	var out strings.Builder
	printLatency(&out, res)
	for _, want := range []string{"events on: support events forwarded 4; the stack's CRM sends no webhooks", "events off (polling only)",
		"Google comment → CRM", "CRM reply → Google", "overall", "target: events on, p95 of every change within 5s: met", "exactly once:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
	f := res.flat()
	for k, want := range map[string]float64{
		"latency_events_p95_ms":                2000,
		"latency_events_p50_ms":                1000,
		"latency_polling_p95_ms":               58000,
		"latency_polling_p50_ms":               30000,
		"latency_events_google_to_crm_p95_ms":  1500,
		"latency_polling_crm_to_google_p50_ms": 20000,
		"latency_polling_google_to_crm_max_ms": 50000,
	} {
		if got, ok := f[k].(float64); !ok || got != want {
			t.Errorf("JSON %s = %v, want %v", k, f[k], want)
		}
	}
	if f["latency_target_met"] != true || f["latency_problems"] != 0 {
		t.Errorf("JSON target met %v, problems %v", f["latency_target_met"], f["latency_problems"])
	}

	// Over the target, the table and JSON say so and the command would
	// exit 1 (runLatency checks targetMet).
	res.runs[0] = runWith(true, []float64{0.5, 1.5}, []float64{1, 30})
	if met, checked := res.targetMet(); met || !checked {
		t.Errorf("targetMet = %v, %v with a 30 s change; want false, true", met, checked)
	}
	out.Reset()
	printLatency(&out, res)
	if !strings.Contains(out.String(), "NOT MET") {
		t.Errorf("the table does not say the target was missed:\n%s", out.String())
	}

	// A mode not run leaves its keys null.
	res.runs = res.runs[:1]
	f = res.flat()
	if v, ok := f["latency_polling_p95_ms"]; !ok || v != nil {
		t.Errorf("latency_polling_p95_ms = %v (present %v) without an events-off run, want null", v, ok)
	}
}

func TestTheFunctionsLogCountsEventsAndWebhooks(t *testing.T) {
	line := func(fn, msg string) localstack.LogLine {
		return localstack.LogLine{Fields: map[string]any{"function": fn, "message": msg}}
	}
	f := &funcLog{}
	now := time.Now()
	for _, l := range []localstack.LogLine{
		line(eventing.FunctionGoogleEvents, "support event received"),
		line(eventing.FunctionGoogleEvents, "case-updated published for the cases the support event names"),
		line(eventing.FunctionCRMWebhook, "webhook verified, case-updated published"),
		line(eventing.FunctionCRMWebhook, "webhook verified, case-updated published"),
		line(eventing.FunctionCRMWebhook, "webhook of the sync user's own change acknowledged, not published"),
		line(eventing.FunctionCRMWebhook, "webhook refused"),
		line(eventing.FunctionPollCRM, "webhook verified, case-updated published"),
		{Raw: "a plain line"},
	} {
		f.add(l, now)
	}
	if got := f.snapshot(); got != (funcCounts{googleEvents: 1, crmWebhooks: 2, webhooksRefused: 1}) {
		t.Errorf("counts %+v, want 1 support event forwarded, 2 webhooks published, 1 refused", got)
	}
	if !f.lastSync.IsZero() {
		t.Error("a line of another function counted as SyncCase's")
	}
	f.add(line(eventing.FunctionSyncCase, "case reconciled"), now)
	if !f.lastSync.Equal(now) {
		t.Error("SyncCase's line was not noted")
	}
}

func TestLatencyFlags(t *testing.T) {
	o, err := parseFlags([]string{"--latency"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	l := o.lat
	if !o.latency || l.pollEvery != time.Minute || l.changes != 20 || l.pairs != 10 || l.spread() != time.Minute ||
		l.target != 5*time.Second || !slices.Equal(l.eventModes(), []bool{true, false}) {
		t.Errorf("latency defaults = %+v", l)
	}
	if l.lostAfter() != 2*time.Minute+30*time.Second {
		t.Errorf("lostAfter = %v", l.lostAfter())
	}
	for _, args := range [][]string{
		{"--latency-changes", "0"}, {"--latency-changes", "501"}, {"--latency-pairs", "1"}, {"--latency-pairs", "101"},
		{"--poll-every", "100ms"}, {"--poll-every", "11m"}, {"--latency-spread", "-1s"}, {"--latency-spread", "31m"},
		{"--latency-target", "-1s"}, {"--latency-events", "sometimes"}, {"extra"},
	} {
		if _, err := parseFlags(append([]string{"--latency"}, args...), io.Discard); err == nil {
			t.Errorf("parseFlags(--latency %q) accepted it", args)
		}
	}
	if o, err := parseFlags([]string{"--latency", "--latency-events", "off", "--latency-spread", "90s"}, io.Discard); err != nil ||
		!slices.Equal(o.lat.eventModes(), []bool{false}) || o.lat.spread() != 90*time.Second {
		t.Errorf("--latency-events off --latency-spread 90s: %+v, %v", o.lat, err)
	}
}

// TestTheLatencyModeOnARealStack runs the command's latency mode on two
// real local stacks (events on, then off) with a few changes and polls
// every 2 s: every change arrives once, support events carry Google's
// changes only with events on, and the JSON has every latency.
func TestTheLatencyModeOnARealStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "latency.json")
	opts := options{latency: true, jsonPath: path,
		lat: latencyOptions{pollEvery: 2 * time.Second, changes: 2, pairs: 2, spreadOver: 2 * time.Second, target: 0, modes: "both"}}
	var out, progress strings.Builder
	if code := run(ctx, opts, &out, &progress); code != 0 {
		t.Fatalf("exit code %d (this test starts the local stack: it needs the Firestore and Pub/Sub emulators and Java 17); output:\n%s\n%s", code, out.String(), progress.String())
	}
	t.Logf("\n%s", out.String())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"events", "polling"} {
		for _, d := range []string{"", "_google_to_crm", "_crm_to_google"} {
			for _, p := range []string{"p50", "p95"} {
				k := "latency_" + mode + d + "_" + p + "_ms"
				if v, ok := got[k].(float64); !ok || v <= 0 {
					t.Errorf("JSON %s = %v, want a positive number", k, got[k])
				}
			}
		}
		if got["latency_"+mode+"_arrived"] != float64(4) || got["latency_"+mode+"_lost"] != float64(0) {
			t.Errorf("%s: %v arrived and %v lost, want 4 and 0", mode, got["latency_"+mode+"_arrived"], got["latency_"+mode+"_lost"])
		}
	}
	if v, _ := got["latency_events_support_events_forwarded"].(float64); v < 2 {
		t.Errorf("events on: GoogleEvents forwarded %v support events, want at least the 2 Google comments'", v)
	}
	if v := got["latency_polling_support_events_forwarded"]; v != float64(0) {
		t.Errorf("events off: GoogleEvents forwarded %v support events, want 0", v)
	}
	// CRM replies come by webhook when the stack has the CRM send them.
	if got["latency_events_crm_webhooks_on"] == true {
		if v, _ := got["latency_events_crm_webhooks_published"].(float64); v < 2 {
			t.Errorf("events on: CRMWebhook published %v webhooks, want at least the 2 CRM replies'", v)
		}
	} else {
		t.Log("the local stack sends no CRM webhooks: CRM replies went by polling with events on too")
	}
	if got["latency_polling_crm_webhooks_on"] != false || got["latency_polling_crm_webhooks_published"] != float64(0) {
		t.Errorf("events off: CRM webhooks on %v, published %v; want false and 0", got["latency_polling_crm_webhooks_on"], got["latency_polling_crm_webhooks_published"])
	}
	if got["latency_problems"] != float64(0) {
		t.Errorf("%v problems:\n%s", got["latency_problems"], out.String())
	}
}
