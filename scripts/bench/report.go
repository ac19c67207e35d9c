package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
)

// perChange is n divided by the measured changes.
func (r *result) perChange(n int64) float64 {
	return float64(n) / float64(r.trace.MeasuredChanges())
}

func total(calls map[string]int64) int64 {
	var n int64
	for _, v := range calls {
		n += v
	}
	return n
}

// methods is every method counted by any of the three, CSAPI's first.
func (r *result) methods() []string {
	seen := map[string]bool{}
	for _, m := range []map[string]int64{r.cost.calls, r.lower, r.seed.Calls} {
		for k, v := range m {
			if v != 0 {
				seen[k] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		ga, gb := strings.HasPrefix(a, csapiPrefix), strings.HasPrefix(b, csapiPrefix)
		if ga != gb {
			if ga {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// mix describes the measured changes by side and kind.
func (r *result) mix() string {
	type key struct {
		side casesync.Side
		kind Kind
	}
	n := map[key]int{}
	for _, c := range r.trace.Changes {
		if r.trace.Measured(c.Minute) {
			n[key{c.Side, c.Kind}]++
		}
	}
	var parts []string
	for _, s := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		name := "Google"
		if s == casesync.SideCompany {
			name = "CRM"
		}
		parts = append(parts, fmt.Sprintf("%s %d comments, %d attachments, %d priorities", name,
			n[key{s, KindComment}], n[key{s, KindAttachment}], n[key{s, KindPriority}]))
	}
	return strings.Join(parts, "; ")
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func printTable(out io.Writer, r *result) {
	o := r.opts
	fmt.Fprintf(out, "casebridge cost benchmark: %d pairs, %g changes a minute per side per pair, %d minutes measured after %d of warm-up, seed %d, %s store, events %s, CSAPI case feed %s\n",
		o.cases, o.rate, o.minutes, o.warmup, o.seed, o.store, onOff(o.events), onOff(o.csapiFeed))
	fmt.Fprintf(out, "changes measured: %d (%s)\n", r.trace.MeasuredChanges(), r.mix())
	if len(r.problems) == 0 {
		fmt.Fprintf(out, "exactly once: all %d changes of the trace are on the other side once, with the same bytes and priorities\n", len(r.trace.Changes))
	} else {
		fmt.Fprintf(out, "EXACTLY ONCE FAILED: %d problems\n", len(r.problems))
		for i, p := range r.problems {
			if i == 20 {
				fmt.Fprintf(out, "  ... and %d more\n", len(r.problems)-20)
				break
			}
			fmt.Fprintln(out, "  "+p)
		}
	}
	fmt.Fprintln(out)

	names := []string{"API calls", "Firestore reads", "Firestore writes", "sync runs: reconciliations", "sync runs: messages skipped"}
	for _, m := range r.methods() {
		names = append(names, "  "+m)
	}
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	fmt.Fprintf(out, "%-*s  %11s  %11s  %11s  %13s  %10s\n", width, "per change", "casebridge", "lower bound", "seed design", "÷ lower bound", "÷ seed")
	row := func(name string, cb, lb, seed float64, hasCB, hasLB bool) {
		cell := func(v float64, ok bool) string {
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.2f", v)
		}
		rl, rs := "-", "-"
		if hasCB && hasLB {
			rl = ratio(cb, lb)
		}
		if hasCB {
			rs = ratio(cb, seed)
		}
		fmt.Fprintf(out, "%-*s  %11s  %11s  %11.2f  %13s  %10s\n", width, name, cell(cb, hasCB), cell(lb, hasLB), seed, rl, rs)
	}
	row("API calls", r.perChange(total(r.cost.calls)), r.perChange(total(r.lower)), r.perChange(total(r.seed.Calls)), true, true)
	for _, m := range r.methods() {
		row("  "+m, r.perChange(r.cost.calls[m]), r.perChange(r.lower[m]), r.perChange(r.seed.Calls[m]), true, true)
	}
	row("Firestore reads", r.perChange(r.cost.reads), 0, r.perChange(r.seed.Reads), r.hasStoreCounts, false)
	row("Firestore writes", r.perChange(r.cost.writes), 0, r.perChange(r.seed.Writes), r.hasStoreCounts, false)
	row("sync runs: reconciliations", r.perChange(r.cost.reconciliations()), 0, r.perChange(r.seed.SyncRuns), true, false)
	row("sync runs: messages skipped", r.perChange(r.cost.skips()), 0, 0, true, false)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "sync-case deliveries: %d, of which %d reconciliations and %d skipped without one%s\n",
		r.cost.deliveries, r.cost.reconciliations(), r.cost.skips(), skipReasons(r.cost.skipped))
	if o.events {
		e := r.cost.events
		fmt.Fprintf(out, "events: %d support events handled (%d case-updated published, %d Google polls asked for); %d CRM webhooks published, %d of the sync user's own changes dropped, %d refused\n",
			e.supportEvents, e.supportEventRefs, e.pollTicks, e.webhooks, e.ownWebhooks, e.refusedWebhooks)
	}
	if !r.hasStoreCounts {
		fmt.Fprintln(out, "Firestore reads and writes are counted on the Firestore store only (--store firestore).")
	}
	fmt.Fprintln(out, "lower bound: one search a poll per side (a page per 100 changed cases); per change, read the source case, list its items of the kind (in one call where the adapter lists comments and files together: cases.showFeed, conversation.list), download a file, one write to the other side.")
	fmt.Fprintln(out, "seed design: Google's connector guide modelled on the same trace (scripts/bench/seedmodel.go).")
	if r.retried > 0 {
		fmt.Fprintf(out, "deliveries retried after a transient failure: %d\n", r.retried)
	}
	if r.late > 0 {
		fmt.Fprintf(out, "simulated time: polls ran up to %s after their minute's poll time (each minute's reconciliations run one after another here, and their waits for the CRM's clock move the clock)\n", r.late.Round(time.Second))
	}
	fmt.Fprintf(out, "wall time: %s (set-up %s, warm-up %s, measured %s)\n", r.wall.total.Round(time.Millisecond),
		r.wall.setup.Round(time.Millisecond), r.wall.warmup.Round(time.Millisecond), r.wall.measured.Round(time.Millisecond))
}

// flat returns the results as flat JSON keys. Keys of one method are the
// total's key followed by the side and the method, e.g.
// "api_calls_per_change.csapi.cases.get".
func (r *result) flat() map[string]any {
	o := r.opts
	cb := r.perChange(total(r.cost.calls))
	lb := r.perChange(total(r.lower))
	sd := r.perChange(total(r.seed.Calls))
	out := map[string]any{
		"cases":                            o.cases,
		"rate":                             o.rate,
		"minutes":                          o.minutes,
		"warmup_minutes":                   o.warmup,
		"seed":                             o.seed,
		"store":                            o.store,
		"changes_measured":                 r.trace.MeasuredChanges(),
		"exactly_once_ok":                  len(r.problems) == 0,
		"exactly_once_problems":            len(r.problems),
		"api_calls_per_change":             cb,
		"lower_bound_api_calls_per_change": lb,
		"seed_api_calls_per_change":        sd,
		"api_calls_vs_lower_bound":         cb / lb,
		"api_calls_vs_seed":                cb / sd,
		"firestore_reads_per_change":       nil,
		"firestore_writes_per_change":      nil,
		"seed_firestore_reads_per_change":  r.perChange(r.seed.Reads),
		"seed_firestore_writes_per_change": r.perChange(r.seed.Writes),
		"events":                           o.events,
		"csapi_feed":                       o.csapiFeed,
		"sync_runs_per_change":             r.perChange(r.cost.reconciliations()),
		"skipped_messages_per_change":      r.perChange(r.cost.skips()),
		"sync_case_deliveries_per_change":  r.perChange(r.cost.deliveries),
		"seed_sync_runs_per_change":        r.perChange(r.seed.SyncRuns),
		"sync_runs_vs_seed":                r.perChange(r.cost.reconciliations()) / r.perChange(r.seed.SyncRuns),
		"support_events":                   nil,
		"support_event_case_updates":       nil,
		"support_event_poll_ticks":         nil,
		"crm_webhooks_published":           nil,
		"crm_webhooks_own_dropped":         nil,
		"crm_webhooks_refused":             nil,
		"retried_deliveries":               r.retried,
		"poll_late_max_seconds":            r.late.Seconds(),
		"wall_seconds":                     r.wall.total.Seconds(),
		"wall_measured_seconds":            r.wall.measured.Seconds(),
		"latency_events_p95_ms":            nil,
		"latency_polling_p95_ms":           nil,
	}
	if o.events {
		e := r.cost.events
		out["support_events"], out["support_event_case_updates"], out["support_event_poll_ticks"] = e.supportEvents, e.supportEventRefs, e.pollTicks
		out["crm_webhooks_published"], out["crm_webhooks_own_dropped"], out["crm_webhooks_refused"] = e.webhooks, e.ownWebhooks, e.refusedWebhooks
	}
	if r.hasStoreCounts {
		out["firestore_reads_per_change"] = r.perChange(r.cost.reads)
		out["firestore_writes_per_change"] = r.perChange(r.cost.writes)
	}
	for _, m := range r.methods() {
		k := strings.Replace(m, " ", ".", 1)
		out["api_calls_per_change."+k] = r.perChange(r.cost.calls[m])
		out["lower_bound_api_calls_per_change."+k] = r.perChange(r.lower[m])
		out["seed_api_calls_per_change."+k] = r.perChange(r.seed.Calls[m])
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// skipReasons lists the reasons of the skipped deliveries, most frequent
// first, as ": reason n, reason n".
func skipReasons(by map[string]int64) string {
	reasons := slices.Collect(maps.Keys(by))
	slices.SortFunc(reasons, func(a, b string) int {
		if by[a] != by[b] {
			return cmp.Compare(by[b], by[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range reasons {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func writeJSON(path string, r *result) error { return writeFlat(path, r.flat()) }

// writeFlat writes flat keys to path as indented JSON.
func writeFlat(path string, flat map[string]any) error {
	b, err := json.MarshalIndent(flat, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
