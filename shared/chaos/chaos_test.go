package chaos_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/chaos"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/store"
)

var (
	seedsFlag = flag.Int("chaos.seeds", 5, "how many seeds the in-memory campaign runs")
	opsFlag   = flag.Int("chaos.ops", 500, "operations per seed")
)

func TestMain(m *testing.M) {
	flag.Parse()
	em, err := emulators.StartFirestore(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "the chaos suite needs the Firestore emulator:", err)
		os.Exit(1)
	}
	os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
	code := m.Run()
	if err := em.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the Firestore emulator:", err)
	}
	os.Exit(code)
}

// The test command's campaign: at least 2,000 operations over several
// seeds on the in-memory store.
func TestChaosInMemory(t *testing.T) {
	total, events, handedBack, eventOps := 0, 0, 0, 0
	for seed := uint64(1); seed <= uint64(*seedsFlag); seed++ {
		rep, err := chaos.Run(context.Background(), chaos.Options{Seed: seed, Ops: *opsFlag})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		total += rep.Ops
		for k, n := range rep.Events {
			if strings.HasPrefix(k, "published: ") {
				events += n
			}
		}
		handedBack += rep.HandedBack
		eventOps += rep.EventOps
		check(t, rep, false)
	}
	if total < 2000 && *seedsFlag == 5 && *opsFlag == 500 {
		t.Errorf("the campaign ran %d operations, want at least 2000", total)
	}
	// The events must have been exercised: sent, handed back while a run
	// held their case, and left alone to carry changes.
	if events == 0 || handedBack == 0 || eventOps == 0 {
		t.Errorf("the campaign published %d events, had %d handed back and made %d changes for events alone; want some of each", events, handedBack, eventOps)
	}
}

// A shorter campaign on the Firestore emulator, the store production uses.
func TestChaosOnFirestore(t *testing.T) {
	const ops = 150
	s, err := store.New(context.Background(), fmt.Sprintf("chaos-%d", os.Getpid()))
	if err != nil {
		t.Fatalf("Firestore store: %v", err)
	}
	defer s.Close()
	rep, err := chaos.Run(context.Background(), chaos.Options{Seed: 7, Ops: ops, Store: s})
	if err != nil {
		t.Fatal(err)
	}
	check(t, rep, true)
}

func check(t *testing.T, rep chaos.Report, firestore bool) {
	t.Helper()
	t.Log(rep)
	if rep.FaultCount() == 0 {
		t.Errorf("seed %d: no fault was injected", rep.Seed)
	}
	if !rep.OK() || rep.Polls > 2 {
		t.Errorf("want convergence within two polls after the faults stop, nothing lost, doubled or leaked:\n%s\nreplay with: %s\nevents: %s", rep, chaos.ReplayCommand(rep.Seed, rep.Ops, firestore), writeTrace(rep))
	}
}

// writeTrace saves a failed campaign's events to a file and returns its
// path.
func writeTrace(rep chaos.Report) string {
	f, err := os.CreateTemp("", "chaos-trace-*.log")
	if err != nil {
		return "not saved: " + err.Error()
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(rep.Trace, "\n") + "\n"); err != nil {
		return "not saved: " + err.Error()
	}
	return f.Name()
}
