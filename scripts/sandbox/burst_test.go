package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/google/go-cmp/cmp"
)

func TestReportBurst(t *testing.T) {
	phase := func(name string, changes, runs int) localstack.BurstPhase {
		return localstack.BurstPhase{Name: name, Changes: changes, Drained: true, Settled: true, Took: 9 * time.Second,
			Runs: runs, Worked: changes, Idle: map[string]int{"unchanged since its last reconciliation (company side)": runs - changes},
			Items: []localstack.OutageItem{{What: "a", Count: 1}}}
	}
	good := localstack.BurstResult{Phases: []localstack.BurstPhase{phase("2 new Google cases", 2, 3), phase("1 comments on each side", 2, 2)}}
	with := func(f func(r *localstack.BurstResult)) localstack.BurstResult {
		r := localstack.BurstResult{Phases: append([]localstack.BurstPhase(nil), good.Phases...)}
		f(&r)
		return r
	}
	tests := []struct {
		name    string
		res     localstack.BurstResult
		wantErr bool
		want    string
	}{
		{"phases that drained exactly once at no more than 1.5 runs per change pass", good, false, "1.50 (3 runs / 2 changes; at most 1.5)"},
		{"a phase over 1.5 runs per change fails", with(func(r *localstack.BurstResult) { r.Phases[1].Runs = 4 }), true, "2.00 sync runs per change"},
		{"a phase that lost a change fails", with(func(r *localstack.BurstResult) { r.Phases[0].Items = []localstack.OutageItem{{What: "a"}} }), true, "LOST a: 0"},
		{"a phase that doubled a change fails", with(func(r *localstack.BurstResult) { r.Phases[1].Items = []localstack.OutageItem{{What: "a", Count: 2}} }), true, "DOUBLED a: 2"},
		{"a phase that did not drain fails", with(func(r *localstack.BurstResult) { r.Phases = r.Phases[:1]; r.Phases[0].Drained = false }), true, "NOT drained"},
		{"no phase at all fails", localstack.BurstResult{}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := reportBurst(&out, tt.res)
			if diff := cmp.Diff(tt.wantErr, err != nil); diff != "" {
				t.Errorf("failed (-want +got):\n%s\n%s", diff, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("the report does not say %q:\n%s", tt.want, out.String())
			}
		})
	}
}
