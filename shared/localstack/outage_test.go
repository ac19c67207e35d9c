package localstack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/google/go-cmp/cmp"
)

// outagePollEvery is the stack's poll tick in the outage test, as in the
// sandbox's --outage-campaign. The catch-up after an outage (the first
// poll's sweep, then the reconciliations it asks for) takes 2 to 5 s of
// work on the emulators; a shorter tick would count the machine's speed in
// polls.
const outagePollEvery = 5 * time.Second

func TestTheStackRunsProductionsRetryAndDeadLetterPolicy(t *testing.T) {
	st := startStack(t)
	t.Run("a stack started without overrides, as the sandbox starts it, has eventing.Topology's subscriptions", func(t *testing.T) {
		if diff := cmp.Diff(eventing.Topology(""), st.Topology()); diff != "" {
			t.Errorf("the stack's subscriptions differ from production's (-production +stack):\n%s", diff)
		}
	})
	t.Run("only the overrides a test asks for replace production's values", func(t *testing.T) {
		opts := Options{MaxDeliveryAttempts: 5}
		want := eventing.Topology("")
		for i := range want {
			want[i].MaxDeliveryAttempts = 5
		}
		if diff := cmp.Diff(want, opts.topology()); diff != "" {
			t.Errorf("subscriptions with only MaxDeliveryAttempts overridden (-want +got):\n%s", diff)
		}
	})
}

// TestTheStackHealsAfterASimulatorOutage takes each simulator down for
// 30 s while people keep working on both sides, on production's retry and
// dead-letter policy: once it is back, everything made meanwhile (and
// right after) reaches the other side within two polls, exactly once,
// without anyone acting, and every message that failed meanwhile is
// handled, or has its work done all the same while it waits out Pub/Sub's
// backoff (which may reach 10 minutes) or is dead-lettered, without doing
// anything twice.
func TestTheStackHealsAfterASimulatorOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: outagePollEvery})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})

	for _, target := range []OutageTarget{OutageCRM, OutageCSAPI} {
		t.Run(fmt.Sprintf("after the %s simulator is down for 30 s everything made meanwhile syncs within two polls, each exactly once", target), func(t *testing.T) {
			res, err := st.RunOutage(ctx, Outage{
				Target:      target,
				Down:        30 * time.Second,
				DrainWithin: 4 * time.Minute,
				Progress:    func(line string) { t.Log(line) },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("measured: %s", res)
			for _, it := range res.Items {
				t.Logf("  %-80s %d, %.1f s after recovery", it.What, it.Count, it.Arrived.Seconds())
			}
			if !res.Converged || res.Polls > 2 {
				t.Errorf("converged %t, %.1f s after recovery within %d poll ticks of %s; want within 2", res.Converged, res.Took.Seconds(), res.Polls, res.PollEvery)
			}
			if !res.Drained {
				t.Errorf("some of the %d sync-case messages that failed during the outage were neither handled nor their work done: %s; dead-lettered meanwhile: %d",
					res.FailedMessages, strings.Join(res.Undrained, "; "), res.DeadLettered)
			}
			if res.Settled != res.DeadLettered {
				t.Errorf("%d of the %d messages dead-lettered during the outage are not settled: their mappings did not heal", res.DeadLettered-res.Settled, res.DeadLettered)
			}
			var want []OutageItem
			for _, it := range res.Items {
				want = append(want, OutageItem{What: it.What, Count: 1, Arrived: it.Arrived})
			}
			if diff := cmp.Diff(want, res.Items); diff != "" {
				t.Errorf("what reached the other side (-want exactly once +got):\n%s", diff)
			}
			if len(res.Items) != 8 {
				t.Errorf("%d items counted, want 8", len(res.Items))
			}
		})
	}
}
