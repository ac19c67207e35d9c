package main

import (
	"github.com/casebridge/casebridge/shared/ops/opstest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/casebridge/casebridge/shared/store"
)

var unreachables = []struct {
	name string
	addr func(*testing.T) string
	hint string
}{
	{"a closed port", opstest.ClosedAddr, "nothing accepts connections there"},
	{"a listener that accepts and never answers", opstest.SilentAddr, "it accepts connections but did not answer"},
}

// testTimeout is the --timeout the tests give; slack is how much longer a
// command may take (the check of the address, and a loaded machine).
const (
	testTimeout = 2 * time.Second
	slack       = 3 * time.Second
)

// checkUnreachable checks that a command failed in time with exactly one
// line naming service at addr.
func checkUnreachable(t *testing.T, cmd string, code int, took time.Duration, stderr, service, envVar, addr, hint string) {
	t.Helper()
	if code != exitFailure {
		t.Errorf("exit code %d, want %d", code, exitFailure)
	}
	if took > testTimeout+slack {
		t.Errorf("took %v with --timeout %v", took, testTimeout)
	}
	want := "^operator " + cmd + ": could not reach " + regexp.QuoteMeta(service) + " at " + regexp.QuoteMeta(addr) +
		` \(` + envVar + `\) within 2s: .*` + regexp.QuoteMeta(hint) + `.*\n$`
	if !regexp.MustCompile(want).MatchString(stderr) {
		t.Errorf("stderr is %q, want one line matching %q", stderr, want)
	}
}

func TestCommandsFailInTimeNamingAFirestoreTheyCannotReach(t *testing.T) {
	for _, u := range unreachables {
		for _, args := range [][]string{
			{"status"},
			{"status", "--json"},
			{"resync", "--mapping", "some-mapping"},
		} {
			t.Run(strings.Join(args, " ")+" against "+u.name+" fails naming Firestore and its address, and reports nothing", func(t *testing.T) {
				addr := u.addr(t)
				t.Setenv("FIRESTORE_EMULATOR_HOST", addr)
				t.Setenv("PUBSUB_EMULATOR_HOST", opstest.ClosedAddr(t))
				t.Setenv("GOOGLE_CLOUD_PROJECT", project)
				t.Setenv("CASEBRIDGE_CLOCK_FILE", "")
				start := time.Now()
				code, out, errOut := runCmd(t, append(args, "--timeout", testTimeout.String())...)
				checkUnreachable(t, args[0], code, time.Since(start), errOut, ops.ServiceFirestore, "FIRESTORE_EMULATOR_HOST", addr, u.hint)
				if out != "" {
					t.Errorf("stdout is %q, want nothing: nothing was read", out)
				}
			})
		}
	}
}

func TestCommandsFailInTimeNamingAPubSubTheyCannotReach(t *testing.T) {
	fs := emulators.StartFirestoreForTest(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", fs.Host)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	t.Setenv("CASEBRIDGE_CLOCK_FILE", "")
	st, err := store.New(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now().UTC()
	for _, side := range []casesync.Side{casesync.SideGoogle, casesync.SideCompany} {
		if err := st.RecordPoll(t.Context(), side, now, now); err != nil {
			t.Fatal(err)
		}
	}

	for _, u := range unreachables {
		t.Run("status against "+u.name+" shows what Firestore holds, the dead letters as unknown, and fails naming Pub/Sub", func(t *testing.T) {
			addr := u.addr(t)
			t.Setenv("PUBSUB_EMULATOR_HOST", addr)
			start := time.Now()
			code, out, errOut := runCmd(t, "status", "--timeout", testTimeout.String())
			checkUnreachable(t, "status", code, time.Since(start), errOut, ops.ServicePubSub, "PUBSUB_EMULATOR_HOST", addr, u.hint)
			if !strings.Contains(out, "out of sync: none") {
				t.Errorf("stdout lacks what Firestore holds:\n%s", out)
			}
			if counted := regexp.MustCompile(`dead-letter\s+\d`).FindString(out); counted != "" {
				t.Errorf("stdout counts a dead-letter subscription (%q) that could not be read:\n%s", counted, out)
			}
		})
		for _, args := range [][]string{
			{"resync", "--google-case", "projects/p/cases/1"},
			{"resync", "--crm-case", "101"},
		} {
			t.Run(strings.Join(args, " ")+" against "+u.name+" fails naming Pub/Sub and its address", func(t *testing.T) {
				addr := u.addr(t)
				t.Setenv("PUBSUB_EMULATOR_HOST", addr)
				start := time.Now()
				code, out, errOut := runCmd(t, append(args, "--timeout", testTimeout.String())...)
				checkUnreachable(t, "resync", code, time.Since(start), errOut, ops.ServicePubSub, "PUBSUB_EMULATOR_HOST", addr, u.hint)
				if out != "" {
					t.Errorf("stdout is %q, want nothing: nothing was published", out)
				}
			})
		}
	}
}
