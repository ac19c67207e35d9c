// Command chaos runs casebridge's chaos campaigns (shared/chaos): seeded,
// randomized work by people on both sides with faults injected at every
// layer, then a check of both simulators' state.
//
//	go run ./scripts/chaos --seeds 40 --ops 500            a campaign of 20,000 operations
//	go run ./scripts/chaos --seed 17 --ops 500             one seed again
//	go run ./scripts/chaos --seeds 3 --ops 300 --firestore on the Firestore emulator
//	go run ./scripts/chaos --events=false                  on polling alone
//
// Each seed decides which sides send events (Google's support events, the
// CRM's webhooks); after the faults, people make --event-ops more changes
// that events alone must carry. It prints each seed's report and the totals
// (faults and events by kind), writes the events of a failed seed to a file
// it names, and exits 1 if any seed lost, doubled or leaked anything, left a
// message it handed back unhandled, took more than two polls to agree after
// the faults stopped, or did not agree on events alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
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
	events := flag.Bool("events", true, "let the seed decide which sides send events (false: polling alone, and no phase of events alone)")
	eventOps := flag.Int("event-ops", 40, "changes made, after the system agreed, that events alone must carry (0: none)")
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
	total.Faults, total.Events = map[string]int{}, map[string]int{}
	failed, maxPolls, eventsAloneFailed := 0, 0, 0
	polls := map[int]int{}
	for _, s := range list {
		opts := chaos.Options{Seed: s, Ops: *ops, FaultRate: *rate, NoEvents: !*events, EventOps: *eventOps}
		if *eventOps == 0 {
			opts.EventOps = -1
		}
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
		total.HandedBack += rep.HandedBack
		total.HandedBackHandled += rep.HandedBackHandled
		total.HandedBackLost += rep.HandedBackLost
		total.EventOps += rep.EventOps
		if rep.EventOps > 0 && !rep.EventsAlone {
			eventsAloneFailed++
		}
		for k, v := range rep.Faults {
			total.Faults[k] += v
		}
		for k, v := range rep.Events {
			total.Events[k] += v
		}
		maxPolls = max(maxPolls, rep.Polls)
		polls[rep.Polls]++
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
	fmt.Printf("\nTotals over %d seeds:\n", len(list))
	for _, k := range sorted(total.Faults) {
		fmt.Printf("  %-72s %d\n", k, total.Faults[k])
	}
	for _, k := range sorted(total.Events) {
		fmt.Printf("  %-72s %d\n", k, total.Events[k])
	}
	fmt.Printf("  messages handed back %d, handled later %d, dead-lettered %d\n", total.HandedBack, total.HandedBackHandled, total.HandedBackLost)
	fmt.Printf("  changes carried by events alone %d, seeds where they were not %d\n", total.EventOps, eventsAloneFailed)
	fmt.Printf("  seeds by polls to converge after the faults stopped (0: never): %v\n", polls)
	fmt.Printf("\n%d seeds, %d operations, %d faults injected, %d sync runs, %d dead-lettered; lost %d, duplicated %d, leaked %d; slowest convergence %d polls; %d seeds failed\n",
		len(list), total.Ops, total.FaultCount(), total.SyncRuns, total.DeadLettered, total.Lost, total.Duplicated, total.Leaked, maxPolls, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// sorted returns a map's keys in order.
func sorted(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
