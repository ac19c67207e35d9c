package localstack

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/store"
	"github.com/google/go-cmp/cmp"
)

// startStack starts a stack without the ticker (the tests publish ticks
// themselves) and stops it when the test ends.
func startStack(t *testing.T) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})
	return st
}

func byEvent(function, id string) func(LogLine) bool {
	return func(l LogLine) bool { return l.Str("function") == function && l.Str("eventId") == id }
}

func waitLogs(t *testing.T, st *Stack, what string, n int, d time.Duration, match func(LogLine) bool) []LogLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	lines, err := st.WaitForLogs(ctx, n, match)
	if err != nil {
		var b strings.Builder
		for _, l := range st.logs.tail(30) {
			b.WriteString("\n  " + l.Raw)
		}
		t.Fatalf("waiting %v for %s: saw %d of %d lines; last lines of the functions process:%s", d, what, len(lines), n, b.String())
	}
	return lines
}

func TestStackStartsAndStopsWithNothingLeftRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	eps := st.Endpoints()
	for _, k := range []string{EndpointCSAPI, EndpointCRM, EndpointFirestore, EndpointPubSub, EndpointFunctions} {
		if eps[k] == "" {
			t.Errorf("endpoint %s is empty", k)
		}
	}
	if _, err := st.FirestoreCounts(ctx); err != nil {
		t.Errorf("FirestoreCounts: %v", err)
	}
	addrs := map[string]string{}
	for _, k := range []string{EndpointCSAPI, EndpointCRM, EndpointFunctions} {
		addrs[k] = strings.TrimPrefix(eps[k], "http://")
	}
	addrs[EndpointFirestore] = eps[EndpointFirestore]
	addrs[EndpointPubSub] = eps[EndpointPubSub]
	pid := st.FunctionsPID()
	groups := []int{st.Firestore.PID(), st.PubSub.PID()}

	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := st.Stop(); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
	for _, g := range append(groups, pid) {
		if emulators.GroupAlive(g) {
			t.Errorf("process group %d is still alive after Stop", g)
		}
	}
	for k, addr := range addrs {
		host := strings.SplitN(addr, "/", 2)[0]
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s (%s) still accepts connections after Stop", k, host)
		}
	}
}

func TestPushDeliveryThroughTheStack(t *testing.T) {
	st := startStack(t)
	ctx := t.Context()

	t.Run("a tick published on the emulator reaches PollGoogle by push", func(t *testing.T) {
		id, err := st.PublishTick(ctx, eventing.FunctionPollGoogle)
		if err != nil {
			t.Fatal(err)
		}
		waitLogs(t, st, "PollGoogle to log the tick", 1, 30*time.Second, byEvent(eventing.FunctionPollGoogle, id))
	})

	t.Run("the Google poll records its heartbeat in Firestore", func(t *testing.T) {
		t.Setenv("FIRESTORE_EMULATOR_HOST", st.Firestore.Host)
		s, err := store.New(ctx, st.Project())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		id, err := st.PublishTick(ctx, eventing.FunctionPollGoogle)
		if err != nil {
			t.Fatal(err)
		}
		waitLogs(t, st, "PollGoogle to handle the tick", 1, 30*time.Second, byEvent(eventing.FunctionPollGoogle, id))
		ps, err := s.GetPollState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ps.GoogleHeartbeat.IsZero() {
			t.Errorf("poll state %+v has no Google heartbeat after a handled tick", ps)
		}
	})

	t.Run("a malformed case-updated message is logged and acked, not retried", func(t *testing.T) {
		id, err := st.Publish(ctx, eventing.TopicCaseUpdated, []byte("this is not a case reference"))
		if err != nil {
			t.Fatal(err)
		}
		lines := waitLogs(t, st, "SyncCase to reject the message", 1, 30*time.Second, byEvent(eventing.FunctionSyncCase, id))
		if diff := cmp.Diff("ERROR", lines[0].Severity()); diff != "" {
			t.Errorf("severity (-want +got):\n%s\nline: %s", diff, lines[0].Raw)
		}
		if strings.Contains(lines[0].Raw, "this is not a case reference") {
			t.Errorf("the log quotes the message body: %s", lines[0].Raw)
		}
		// The emulator redelivers a failed push the first time about a
		// second later, whatever the minimum backoff (later attempts follow
		// the backoff); three seconds without a second attempt means it
		// was acked.
		time.Sleep(3 * time.Second)
		if n := len(st.Logs(byEvent(eventing.FunctionSyncCase, id))); n != 1 {
			t.Errorf("SyncCase handled the malformed message %d times, want once", n)
		}
	})

	t.Run("a transient failure is redelivered", func(t *testing.T) {
		st.SetCRMDown(true)
		defer st.SetCRMDown(false)
		id, err := st.PublishTick(ctx, eventing.FunctionPollCRM)
		if err != nil {
			t.Fatal(err)
		}
		lines := waitLogs(t, st, "two attempts at the PollCRM tick", 2, 45*time.Second, byEvent(eventing.FunctionPollCRM, id))
		for _, l := range lines[:2] {
			if l.Severity() != "WARNING" {
				t.Errorf("attempt logged %s, want a WARNING for a transient failure: %s", l.Severity(), l.Raw)
			}
		}
	})

	t.Run("a CRM ticket flagged for sync gets a linked Google case through poll, case-updated and SyncCase", func(t *testing.T) {
		id := st.CRM.CreateTicket(crmsim.Ticket{Subject: "VM will not boot", Description: "since the upgrade", Priority: "high", SyncFlag: true})
		if _, err := st.PublishTick(ctx, eventing.FunctionPollCRM); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			tk, _ := st.CRM.Ticket(id)
			if tk.GoogleCase != "" && len(st.CSAPI.Cases()) == 1 {
				if diff := cmp.Diff(st.CSAPI.Cases()[0].Name, tk.GoogleCase); diff != "" {
					t.Errorf("the ticket links another case than the one created (-want +got):\n%s", diff)
				}
				break
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				for _, l := range st.logs.tail(30) {
					b.WriteString("\n  " + l.Raw)
				}
				t.Fatalf("after 60 s ticket %s links %q and CSAPI holds %d cases; last lines:%s", id, tk.GoogleCase, len(st.CSAPI.Cases()), b.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("the functions process reports its Firestore counts", func(t *testing.T) {
		c, err := st.FirestoreCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Reads+c.Writes == 0 {
			t.Errorf("FirestoreCounts = %+v after handled polls, want some operations", c)
		}
	})
}

func TestAdvanceMovesTheSharedClock(t *testing.T) {
	st := startStack(t)
	before := st.Clock.Now()
	if _, err := st.Advance(744 * time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st.Clock.Now().Sub(before) < 744*time.Hour {
		if time.Now().After(deadline) {
			t.Fatalf("the clock moved %v, want at least 744h", st.Clock.Now().Sub(before))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAMisconfiguredFunctionsProcessFailsTheStartNamingTheVariable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1,
		Env: map[string]string{"CSAPI_PARENT": ""}})
	if err == nil {
		st.Stop()
		t.Fatal("Start succeeded with CSAPI_PARENT unset")
	}
	var exited *FunctionsExitedError
	if !errors.As(err, &exited) {
		t.Fatalf("Start error = %v, want a *FunctionsExitedError", err)
	}
	var critical []string
	for _, l := range exited.Tail {
		if l.Severity() == "CRITICAL" {
			critical = append(critical, l.Str("error"))
		}
	}
	if len(critical) != 1 || !strings.Contains(critical[0], "CSAPI_PARENT is not set: set it to organizations/<number>") {
		t.Errorf("CRITICAL lines %q, want one naming CSAPI_PARENT and what to set it to", critical)
	}
}
