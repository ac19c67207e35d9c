package localstack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
)

// forwarded matches GoogleEvents' line saying it published case-updated
// for caseName.
func forwarded(caseName string) func(LogLine) bool {
	return func(l LogLine) bool {
		if l.Str("function") != eventing.FunctionGoogleEvents || !strings.HasPrefix(l.Message(), "case-updated published") {
			return false
		}
		cases, _ := l.Fields["cases"].([]any)
		return slices.Contains(cases, any(caseName))
	}
}

// waitFor polls cond every 100 ms until it holds or d passes, and returns
// how long it took and whether it held.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > d {
			return time.Since(start), false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(st *Stack) string {
	var b strings.Builder
	for _, l := range st.logs.tail(30) {
		b.WriteString("\n  " + l.Raw)
	}
	return b.String()
}

// linkedTicket returns the CRM ticket linked to a Google case.
func linkedTicket(st *Stack, caseName string) (crmsim.TicketState, bool) {
	for _, tk := range st.CRM.Tickets() {
		if tk.GoogleCase == caseName {
			return tk, true
		}
	}
	return crmsim.TicketState{}, false
}

// TestSupportEventsCarryGoogleChangesWithoutAPoll runs the stack with no
// poll ticks at all: a case created on the Google side, then a comment on
// it, reach the CRM simulator carried by the CSAPI simulator's support
// events through GoogleEvents, case-updated and SyncCase.
func TestSupportEventsCarryGoogleChangesWithoutAPoll(t *testing.T) {
	st := startStack(t)
	start := time.Now()

	subs := st.CSAPI.Subscriptions()
	if len(subs) != 1 || subs[0].Name != st.SupportEventSubscription() || subs[0].State != csapitest.SubscriptionWorking ||
		subs[0].PubSubTopic != "projects/"+st.Project()+"/topics/"+eventing.TopicSupportEvents {
		t.Fatalf("support event subscriptions %+v, want the stack's one (%q), WORKING, on the emulator's %s topic", subs, st.SupportEventSubscription(), eventing.TopicSupportEvents)
	}

	caseName, err := st.CSAPI.CreateCase("projects/sandbox-project", "VM will not boot", "since the upgrade", "P2", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	took, ok := waitFor(30*time.Second, func() bool { _, ok := linkedTicket(st, caseName); return ok })
	if !ok {
		t.Fatalf("no CRM ticket links %s after %v; last lines of the functions process:%s", caseName, took, tail(st))
	}
	t.Logf("the new Google case reached the CRM in %v", took.Round(time.Millisecond))

	const body = "The serial console shows a kernel panic after the upgrade."
	if _, err := st.CSAPI.AddComment(caseName, body, csapitest.Actor{DisplayName: "Alice", Email: "alice@example.com", Username: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	took, ok = waitFor(15*time.Second, func() bool {
		tk, _ := linkedTicket(st, caseName)
		for _, c := range tk.Comments {
			if strings.Contains(c.Body, body) {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("the Google comment is not on the CRM ticket after %v; last lines of the functions process:%s", took, tail(st))
	}
	t.Logf("the Google comment reached the CRM in %v", took.Round(time.Millisecond))

	t.Run("GoogleEvents carried the changes", func(t *testing.T) {
		// One for the case's creation, one for the comment, and those of
		// casebridge's own writes to the case (its link line).
		if n := len(st.Logs(forwarded(caseName))); n < 2 {
			t.Errorf("GoogleEvents published case-updated for %s %d times, want at least 2 (the creation and the comment)", caseName, n)
		}
	})

	t.Run("nothing polled Google", func(t *testing.T) {
		if n := st.TicksBetween(eventing.FunctionPollGoogle, start, time.Now()); n != 0 {
			t.Errorf("the ticker published %d Google poll ticks, want none", n)
		}
		polls := st.Logs(func(l LogLine) bool { return l.Str("function") == eventing.FunctionPollGoogle })
		if len(polls) != 0 {
			t.Errorf("PollGoogle ran %d times (first: %s); the changes were to come by event alone", len(polls), polls[0].Raw)
		}
	})

	t.Run("the subscription is still WORKING", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := st.CSAPI.FlushEvents(ctx); err != nil {
			t.Fatal(err)
		}
		if subs := st.CSAPI.Subscriptions(); subs[0].State != csapitest.SubscriptionWorking {
			t.Errorf("the subscription is %s (%s), want WORKING", subs[0].State, subs[0].FailureReason)
		}
	})
}

// TestWithSupportEventsOffGoogleChangesWaitForAPoll runs the stack with
// NoSupportEvents: no subscription exists, nothing is published, and a new
// Google case reaches the CRM only once PollGoogle runs; the CRM sends no
// webhooks either, and a flagged ticket waits for PollCRM.
func TestWithSupportEventsOffGoogleChangesWaitForAPoll(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1, NoSupportEvents: true})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})
	if st.SupportEventSubscription() != "" || len(st.CSAPI.Subscriptions()) != 0 {
		t.Fatalf("with NoSupportEvents the stack subscribed %q (%d subscriptions)", st.SupportEventSubscription(), len(st.CSAPI.Subscriptions()))
	}
	caseName, err := st.CSAPI.CreateCase("projects/sandbox-project", "Quota error", "on the API", "P3", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if _, ok := linkedTicket(st, caseName); ok {
		t.Fatal("the Google case reached the CRM without a poll or an event")
	}
	if n := len(st.Logs(func(l LogLine) bool { return l.Str("function") == eventing.FunctionGoogleEvents })); n != 0 {
		t.Errorf("GoogleEvents ran %d times with support events off", n)
	}
	if _, err := st.PublishTick(ctx, eventing.FunctionPollGoogle); err != nil {
		t.Fatal(err)
	}
	if took, ok := waitFor(30*time.Second, func() bool { _, ok := linkedTicket(st, caseName); return ok }); !ok {
		t.Fatalf("no CRM ticket links %s %v after a Google poll; last lines:%s", caseName, took, tail(st))
	}

	t.Run("the CRM sends no webhooks, and a flagged ticket waits for a CRM poll", func(t *testing.T) {
		if st.CRMWebhooks() || st.CRMWebhookURL() != "" || st.Endpoints()[EndpointCRMWebhook] != "" {
			t.Errorf("CRMWebhooks %t, CRMWebhookURL %q; want none with NoSupportEvents", st.CRMWebhooks(), st.CRMWebhookURL())
		}
		if err := st.SetCRMWebhooks(ctx, true); err == nil {
			t.Error("SetCRMWebhooks(true) succeeded on a stack started without webhooks")
		}
		id := st.CRM.CreateTicket(crmsim.Ticket{Subject: "Billing export empty", Description: "since Monday", Priority: "normal", SyncFlag: true})
		time.Sleep(3 * time.Second)
		if tk, _ := st.CRM.Ticket(id); tk.GoogleCase != "" {
			t.Fatalf("ticket %s got Google case %s without a CRM poll or a webhook", id, tk.GoogleCase)
		}
		if n := len(st.Logs(func(l LogLine) bool { return l.Str("function") == eventing.FunctionCRMWebhook })); n != 0 {
			t.Errorf("CRMWebhook logged %d lines with events off", n)
		}
		if _, err := st.PublishTick(ctx, eventing.FunctionPollCRM); err != nil {
			t.Fatal(err)
		}
		if took, ok := waitFor(30*time.Second, func() bool { tk, _ := st.CRM.Ticket(id); return tk.GoogleCase != "" }); !ok {
			t.Fatalf("ticket %s has no Google case %v after a CRM poll; last lines:%s", id, took, tail(st))
		}
	})
}

// TestABurstWithSupportEventsDrainsExactlyOnce acts out the burst of
// TestABurstDrainsExactlyOnceWithoutAPollStorm with support events on and
// polls every second, so that events and polls race for every change:
// each phase must drain and settle with every change on the other side
// exactly once and nothing left outstanding. The sync runs per change are
// logged, not bounded: the events' case-updated messages carry no update
// time, so a run for a change already synced cannot be skipped unread.
func TestABurstWithSupportEventsDrainsExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: time.Second})
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
		t.Run(p.Name+" drain exactly once with events and polls racing", func(t *testing.T) {
			t.Logf("measured: %s; %.2f sync runs per change; runs with nothing to do: %s", p, p.RunsPerChange(), countsString(p.Idle))
			var problems []string
			if !p.Drained {
				problems = append(problems, "did not drain")
			}
			if !p.Settled {
				problems = append(problems, "did not settle")
			}
			if n := len(p.Lost()); n > 0 {
				problems = append(problems, fmt.Sprintf("%d lost: %v", n, p.Lost()))
			}
			if n := len(p.Doubled()); n > 0 {
				problems = append(problems, fmt.Sprintf("%d doubled: %v", n, p.Doubled()))
			}
			if n := sum(p.Outstanding); n > 0 {
				problems = append(problems, "outstanding: "+countsString(p.Outstanding))
			}
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			forwarded := len(st.Logs(func(l LogLine) bool {
				return l.Str("function") == eventing.FunctionGoogleEvents && strings.HasPrefix(l.Message(), "case-updated published")
			}))
			if forwarded == 0 {
				t.Error("GoogleEvents forwarded nothing: the burst did not go through support events")
			}
		})
	}
}
