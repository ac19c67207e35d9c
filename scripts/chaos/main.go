// Command chaos runs casebridge's chaos campaigns (shared/chaos): seeded,
// randomized work by people on both sides with faults injected at every
// layer, then a check of both simulators' state.
//
//	go run ./scripts/chaos --seeds 40 --ops 500            a campaign of 20,000 operations
//	go run ./scripts/chaos --seed 17 --ops 500             one seed again
//	go run ./scripts/chaos --seeds 3 --ops 300 --firestore on the Firestore emulator
//
// It prints each seed's report and the totals, writes the events of a failed
// seed to a file it names, and exits 1 if any seed lost, doubled or leaked
// anything, or took more than two polls to agree after the faults stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/casebridge/casebridge/shared/chaos"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/store"
)

func main() {
	seed := flag.Uint64("seed", 0, "run only this seed")
	seeds := flag.Int("seeds", 10, "how many seeds to run, from --first")
	first := flag.Uint64("first", 1, "the first seed of a campaign")
	ops := flag.Int("ops", 500, "operations by people per seed")
	rate := flag.Float64("fault-rate", 0.2, "chance that an API call fails (the other faults scale with it)")
	firestore := flag.Bool("firestore", false, "use the Firestore emulator (started here) instead of the in-memory store")
	flag.Parse()
	if *ops <= 0 || *seeds <= 0 || *rate < 0 || *rate > 1 {
		fmt.Fprintln(os.Stderr, "chaos: --ops and --seeds must be positive and --fault-rate between 0 and 1")
		os.Exit(2)
	}
	list := []uint64{}
	if *seed != 0 {
		list = append(list, *seed)
	} else {
		for i := range *seeds {
			list = append(list, *first+uint64(i))
		}
	}
	ctx := context.Background()
	if *firestore {
		em, err := emulators.StartFirestore(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos: start the Firestore emulator:", err)
			os.Exit(1)
		}
		defer em.Stop()
		os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
	}
	var total chaos.Report
	total.Faults = map[string]int{}
	failed, maxPolls := 0, 0
	for _, s := range list {
		opts := chaos.Options{Seed: s, Ops: *ops, FaultRate: *rate}
		if *firestore {
			st, err := store.New(ctx, fmt.Sprintf("chaos-%d-%d", os.Getpid(), s))
			if err != nil {
				fmt.Fprintln(os.Stderr, "chaos: Firestore store:", err)
				os.Exit(1)
			}
			opts.Store = st
			defer st.Close()
		}
		rep, err := chaos.Run(ctx, opts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaos: seed %d: %v\n", s, err)
			os.Exit(1)
		}
		fmt.Println(rep)
		total.Ops += rep.Ops
		total.SyncRuns += rep.SyncRuns
		total.DeadLettered += rep.DeadLettered
		total.Lost += rep.Lost
		total.Duplicated += rep.Duplicated
		total.Leaked += rep.Leaked
		for k, v := range rep.Faults {
			total.Faults[k] += v
		}
		maxPolls = max(maxPolls, rep.Polls)
		if !rep.OK() || rep.Polls > 2 {
			failed++
			f, err := os.CreateTemp("", fmt.Sprintf("chaos-seed-%d-*.log", s))
			if err == nil {
				_, _ = f.WriteString(strings.Join(rep.Trace, "\n") + "\n")
				f.Close()
				fmt.Printf("  events: %s\n  replay: %s\n", f.Name(), chaos.ReplayCommand(s, *ops, *firestore))
			}
		}
	}
	fmt.Printf("\n%d seeds, %d operations, %d faults injected, %d sync runs, %d dead-lettered; lost %d, duplicated %d, leaked %d; slowest convergence %d polls; %d seeds failed\n",
		len(list), total.Ops, total.FaultCount(), total.SyncRuns, total.DeadLettered, total.Lost, total.Duplicated, total.Leaked, maxPolls, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
