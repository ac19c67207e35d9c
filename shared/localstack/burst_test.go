package localstack

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestABurstDrainsExactlyOnceWithoutAPollStorm acts out a small burst on a
// stack polling every second (the setting): 20 new Google cases at
// once, then 10 comments on each side at once. Each phase must drain,
// every change must be on the other side exactly once, and sync-case may
// run at most MaxRunsPerChange times per change.
func TestABurstDrainsExactlyOnceWithoutAPollStorm(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	// Polling alone: the bound is the pollers' (issue 9). With support
	// events each Google change, and each of casebridge's own writes to
	// Google, also comes as a case-updated without an update time, which
	// no run can skip unread: TestABurstWithSupportEventsDrainsExactlyOnce
	// measures that path.
	st, err := Start(ctx, Options{PollEvery: time.Second, NoSupportEvents: true})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})

	res, err := st.RunBurst(ctx, Burst{Cases: 20, Comments: 10, DrainWithin: time.Minute, SettleWithin: 30 * time.Second,
		Progress: func(line string) { t.Log(line) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Phases) != 2 {
		t.Fatalf("%d phases measured, want 2: %v", len(res.Phases), res.Phases)
	}
	for _, p := range res.Phases {
		t.Run(p.Name+" drain exactly once at no more than 1.5 sync runs per change", func(t *testing.T) {
			t.Logf("measured: %s; runs with nothing to do: %s", p, countsString(p.Idle))
			if diff := cmp.Diff([]string(nil), p.Problems()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			var want []OutageItem
			for _, it := range p.Items {
				want = append(want, OutageItem{What: it.What, Count: 1})
			}
			if diff := cmp.Diff(want, p.Items); diff != "" {
				t.Errorf("what reached the other side (-want exactly once +got):\n%s", diff)
			}
		})
	}
}

func TestEachSyncCaseDeliveryIsCountedOnceByItsOutcome(t *testing.T) {
	line := func(fields map[string]any) LogLine {
		f := map[string]any{"function": "SyncCase", "eventId": "7"}
		for k, v := range fields {
			f[k] = v
		}
		return LogLine{Fields: f}
	}
	tests := []struct {
		name              string
		line              LogLine
		wantKind, wantWhy string
	}{
		{"a reconciliation that wrote something worked", line(map[string]any{"message": "case reconciled", "actions": []any{"mirrored CRM comment 1 to Google"}}), runWorked, ""},
		{"a reconciliation that wrote nothing had nothing to do", line(map[string]any{"message": "case reconciled", "actions": []any{}}), runIdle, "reconciled, no actions"},
		{"a run that needed no work had nothing to do, for its reason and side", line(map[string]any{"message": "case needed no work", "reason": "unchanged since its last reconciliation", "caseSide": "company"}), runIdle, "unchanged since its last reconciliation (company side)"},
		{"a transient failure is a failed delivery", line(map[string]any{"message": "transient failure: Pub/Sub will redeliver"}), runFailed, ""},
		{"an unexpected failure is a failed delivery", line(map[string]any{"message": "unexpected failure: Pub/Sub will redeliver, then dead-letter"}), runFailed, ""},
		{"an acknowledged permanent failure had nothing to do", line(map[string]any{"message": "permanent failure: message acknowledged without retry"}), runIdle, "permanent failure: message acknowledged without retry"},
		{"a line within a run is not a run", line(map[string]any{"message": "mapping dropped"}), "", ""},
		{"a poll's line is not a run", LogLine{Fields: map[string]any{"function": "PollGoogle", "eventId": "8", "message": "Google poll done"}}, "", ""},
		{"a plain line is not a run", LogLine{Raw: "Serving function: SyncCase"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, why := outcome(tt.line)
			if diff := cmp.Diff([]string{tt.wantKind, tt.wantWhy}, []string{kind, why}); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

func TestABurstPhaseNamesEachProblem(t *testing.T) {
	good := BurstPhase{Name: "2 new Google cases", Changes: 2, Drained: true, Settled: true, Runs: 3, Worked: 2,
		Idle: map[string]int{"x": 1}, Items: []OutageItem{{What: "a", Count: 1}, {What: "b", Count: 1}}}
	tests := []struct {
		name  string
		phase func(p *BurstPhase)
		want  []string
	}{
		{"a phase that drained exactly once at 1.5 runs per change has none", func(*BurstPhase) {}, nil},
		{"more than 1.5 runs per change is one", func(p *BurstPhase) { p.Runs = 4 }, []string{"2.00 sync runs per change, more than 1.5"}},
		{"a lost and a doubled change are two", func(p *BurstPhase) { p.Items = []OutageItem{{What: "a"}, {What: "b", Count: 2}} }, []string{"1 lost", "1 doubled"}},
		{"not draining is one", func(p *BurstPhase) { p.Drained = false }, []string{"did not drain (0 s)"}},
		{"a mapping left pending is one", func(p *BurstPhase) { p.Outstanding = map[string]int{"pending": 1} }, []string{"mappings left outstanding: pending 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.phase(&p)
			if diff := cmp.Diff(tt.want, p.Problems()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
