package main

// The --burst-campaign mode: many people at once on the running sandbox
// (localstack.Stack.RunBurst): new Google cases, then comments on both
// sides, each phase measured in time to drain and sync-case runs per
// change, with what was lost or doubled.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"

	"github.com/casebridge/casebridge/shared/localstack"
)

var (
	burstRequested bool
	burstCases     = flag.Int("cases", 200, "with --burst-campaign: the Google cases opened at once")
	burstComments  = flag.Int("comments", 100, "with --burst-campaign: the comments added at once on each side")
)

func init() {
	flag.BoolFunc("burst-campaign", "open --cases Google cases at once and wait until each has its CRM ticket, then add --comments "+
		"comments on each side at once and wait until each is on the other side; print, per phase, the time to drain, the sync-case "+
		"runs per change and those that had nothing to do, and what was lost or doubled; exit status 1 if anything was lost or "+
		"doubled, a phase did not drain, or a phase took more than 1.5 sync-case runs per change. Polls at the sandbox's --poll-every; "+
		"prints its own lines instead of the functions'", setBurst)
	registerMode(func() bool { return burstRequested }, runBurst)
}

func setBurst(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	burstRequested = on
	if !on {
		return nil
	}
	return followFunctionLines("burst-campaign", flagsGiven())
}

func runBurst(ctx context.Context, st *localstack.Stack, out io.Writer) error {
	if *burstCases <= 0 || *burstComments < 0 {
		return fmt.Errorf("--cases must be positive and --comments not negative (they are %d and %d)", *burstCases, *burstComments)
	}
	if st.CRM == nil {
		return errors.New("--burst-campaign acts on the CRM simulator: leave out --crm rt")
	}
	if st.PollEvery() <= 0 {
		return errors.New("--burst-campaign needs the sandbox's poll ticks: give --poll-every a positive duration")
	}
	say := func(format string, args ...any) { fmt.Fprintf(out, "burst: "+format+"\n", args...) }
	say("%d Google cases at once, then %d comments on each side at once; polls every %s", *burstCases, *burstComments, st.PollEvery())
	res, err := st.RunBurst(ctx, localstack.Burst{
		Cases:    *burstCases,
		Comments: *burstComments,
		Progress: func(line string) { say("%s", line) },
	})
	if err != nil {
		return err
	}
	return reportBurst(out, res)
}

// maxListed bounds the lost or doubled changes named one by one.
const maxListed = 20

// reportBurst prints what each phase did and the verdict; it fails if a
// phase has a problem.
func reportBurst(out io.Writer, res localstack.BurstResult) error {
	for _, p := range res.Phases {
		fmt.Fprintf(out, "\n%s\n", p.Name)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		drained := fmt.Sprintf("%.1f s", p.Took.Seconds())
		if !p.Drained {
			drained = "NOT drained (" + drained + ")"
		}
		fmt.Fprintf(tw, "  time to drain\t%s\n", drained)
		fmt.Fprintf(tw, "  sync-case runs\t%d (%d wrote something, %d failed and were redelivered)\n", p.Runs, p.Worked, p.Failed)
		fmt.Fprintf(tw, "  runs per change\t%.2f (%d runs / %d changes; at most %.1f)\n", p.RunsPerChange(), p.Runs, p.Changes, localstack.MaxRunsPerChange)
		fmt.Fprintf(tw, "  runs with nothing to do\t%d\n", p.IdleRuns())
		for _, why := range sortedKeys(p.Idle) {
			fmt.Fprintf(tw, "    %s\t%d\n", why, p.Idle[why])
		}
		fmt.Fprintf(tw, "  case-updated published by the pollers\t%d\n", p.Published)
		fmt.Fprintf(tw, "  lost / doubled\t%d / %d\n", len(p.Lost()), len(p.Doubled()))
		left := 0
		for _, n := range p.Outstanding {
			left += n
		}
		if left > 0 {
			fmt.Fprintf(tw, "  mappings left outstanding\t%v\n", p.Outstanding)
		}
		tw.Flush()
		for _, kind := range []struct {
			what  string
			items []string
		}{{"LOST", p.Lost()}, {"DOUBLED", p.Doubled()}} {
			for i, it := range kind.items {
				if i == maxListed {
					fmt.Fprintf(out, "  ... and %d more %s\n", len(kind.items)-maxListed, kind.what)
					break
				}
				fmt.Fprintf(out, "  %s %s\n", kind.what, it)
			}
		}
	}
	fmt.Fprintln(out)
	failed := 0
	for _, p := range res.Phases {
		if probs := p.Problems(); len(probs) > 0 {
			failed++
			fmt.Fprintf(out, "burst: %s FAILED: %v\n", p.Name, probs)
		}
	}
	if failed > 0 || len(res.Phases) == 0 {
		return fmt.Errorf("the burst did not drain exactly once at %.1f sync-case runs per change or fewer", localstack.MaxRunsPerChange)
	}
	fmt.Fprintf(out, "burst: both phases drained, nothing lost or doubled, at most %.1f sync-case runs per change\n", localstack.MaxRunsPerChange)
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
