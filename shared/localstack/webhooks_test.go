package localstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/option"
)

// The messages CRMWebhook logs for a webhook it published, and for one of
// the sync user's own changes it dropped.
const (
	webhookPublishedMessage = "webhook verified, case-updated published"
	webhookSyncUserMessage  = "webhook of the sync user's own change acknowledged, not published"
)

// webhookLine matches CRMWebhook's line with message msg for CRM case id.
func webhookLine(msg, id string) func(LogLine) bool {
	return func(l LogLine) bool {
		return l.Str("function") == eventing.FunctionCRMWebhook && l.Message() == msg && l.Str("caseId") == id
	}
}

// ranFunction matches every line of function.
func ranFunction(function string) func(LogLine) bool {
	return func(l LogLine) bool { return l.Str("function") == function }
}

// googleComments counts the comments of a Google case holding text.
func googleComments(st *Stack, caseName, text string) int {
	n := 0
	for _, c := range st.CSAPI.Comments(caseName) {
		if strings.Contains(c.Body, text) {
			n++
		}
	}
	return n
}

// crmComments counts the comments of a CRM simulator ticket holding text.
func crmComments(st *Stack, id, text string) int {
	tk, _ := st.CRM.Ticket(id)
	n := 0
	for _, c := range tk.Comments {
		if strings.Contains(c.Body, text) {
			n++
		}
	}
	return n
}

// settle waits until the functions process has written nothing for two
// seconds: the runs, and the events of their own writes, are over, so
// that no run still in progress carries the next change.
func settle(t *testing.T, st *Stack) {
	t.Helper()
	n, since := len(st.Logs(nil)), time.Now()
	if _, ok := waitFor(30*time.Second, func() bool {
		if m := len(st.Logs(nil)); m != n {
			n, since = m, time.Now()
		}
		return time.Since(since) >= 2*time.Second
	}); !ok {
		t.Fatalf("the functions process did not fall quiet within 30 s; last lines:%s", tail(st))
	}
}

// startQuietStack starts a stack with events on (the default) whose
// ticker polls every hour, far longer than any test: a change arrives
// only by an event, or by a poll tick the test publishes itself.
func startQuietStack(t *testing.T) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{PollEvery: time.Hour, DetectOutagesEvery: -1, CleanupEvery: -1})
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

// TestEventsFromBothSidesAndThePollAsTheSafetyNet runs a stack with events
// on and polls an hour apart. A CRM ticket flagged for sync, then a public
// reply on it, reach Google within seconds, carried by the CRM
// simulator's webhooks through CRMWebhook (casebridge's own writes to the
// ticket are dropped there as the sync user's). Then a change whose event
// is missed on each side (the simulator's webhook turned off for one
// reply; the support event subscription deleted for one Google comment)
// does not arrive by itself, and arrives with the next poll of its side.
func TestEventsFromBothSidesAndThePollAsTheSafetyNet(t *testing.T) {
	st := startQuietStack(t)
	ctx := t.Context()
	start := time.Now()

	if !st.CRMWebhooks() || st.CRMWebhookURL() != st.Endpoints()[EndpointFunctions]+"/CRMWebhook" ||
		st.Endpoints()[EndpointCRMWebhook] != st.CRMWebhookURL() {
		t.Fatalf("CRMWebhooks %t, CRMWebhookURL %q, endpoint %s=%q; want webhooks on, sent to %s/CRMWebhook",
			st.CRMWebhooks(), st.CRMWebhookURL(), EndpointCRMWebhook, st.Endpoints()[EndpointCRMWebhook], st.Endpoints()[EndpointFunctions])
	}

	id := st.CRM.CreateTicket(crmsim.Ticket{Subject: "Database failover stuck", Description: "the replica never took over",
		Priority: "high", SyncFlag: true, Requester: "ops@example.com"})
	var caseName string
	took, ok := waitFor(20*time.Second, func() bool {
		tk, _ := st.CRM.Ticket(id)
		caseName = tk.GoogleCase
		return caseName != ""
	})
	if !ok {
		t.Fatalf("CRM ticket %s has no Google case %v after it was opened; last lines of the functions process:%s", id, took, tail(st))
	}
	t.Logf("the new CRM ticket got its Google case in %v", took.Round(time.Millisecond))

	// Nothing in flight may carry the reply but its webhook.
	settle(t, st)
	published := len(st.Logs(webhookLine(webhookPublishedMessage, id)))
	const reply = "We restarted the replica; the failover completed at 10:42."
	if _, err := st.CRM.AddHumanComment(id, "Dana Agent", reply, true); err != nil {
		t.Fatal(err)
	}
	took, ok = waitFor(10*time.Second, func() bool { return googleComments(st, caseName, reply) > 0 })
	if !ok {
		t.Fatalf("the CRM reply is not on Google case %s %v after it was made; last lines of the functions process:%s", caseName, took, tail(st))
	}
	t.Logf("the CRM reply reached Google in %v", took.Round(time.Millisecond))

	t.Run("CRMWebhook carried the changes and nothing polled", func(t *testing.T) {
		if published < 1 {
			t.Errorf("CRMWebhook published no case-updated for ticket %s before the reply; its Google case came some other way", id)
		}
		if n := len(st.Logs(webhookLine(webhookPublishedMessage, id))); n != published+1 {
			t.Errorf("CRMWebhook published case-updated for ticket %s %d times after the reply, want one more than the %d before", id, n, published)
		}
		for _, fn := range []string{eventing.FunctionPollCRM, eventing.FunctionPollGoogle} {
			if n := st.TicksBetween(fn, start, time.Now()); n != 0 {
				t.Errorf("the ticker published %d %s ticks, want none", n, fn)
			}
			if n := len(st.Logs(ranFunction(fn))); n != 0 {
				t.Errorf("%s ran (%d lines); the changes were to come by events alone", fn, n)
			}
		}
	})

	t.Run("casebridge's own changes to the ticket are dropped as the sync user's", func(t *testing.T) {
		// Setting the ticket's Google-case field, and mirroring casebridge's
		// own link comment if any: the simulator names the sync user.
		if n := len(st.Logs(webhookLine(webhookSyncUserMessage, id))); n < 1 {
			t.Errorf("CRMWebhook dropped none of the sync user's changes to ticket %s; CASEBRIDGE_WEBHOOK_SYNC_USER is not the simulator's sync user?", id)
		}
		if n := len(st.Logs(func(l LogLine) bool {
			return l.Str("function") == eventing.FunctionCRMWebhook && l.Message() == "webhook refused"
		})); n != 0 {
			t.Errorf("CRMWebhook refused %d webhooks; the stack's secret or clock is not shared with the simulator", n)
		}
	})

	t.Run("a CRM reply whose webhook is missed arrives with the next CRM poll", func(t *testing.T) {
		settle(t, st)
		if err := st.SetCRMWebhooks(ctx, false); err != nil {
			t.Fatal(err)
		}
		const missed = "Root cause: the health check timed out during the upgrade."
		if _, err := st.CRM.AddHumanComment(id, "Dana Agent", missed, true); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCRMWebhooks(ctx, true); err != nil {
			t.Fatal(err)
		}
		if _, ok := waitFor(3*time.Second, func() bool { return googleComments(st, caseName, missed) > 0 }); ok {
			t.Fatal("the reply reached Google though its webhook was never sent and nothing polled")
		}
		tick, err := st.PublishTick(ctx, eventing.FunctionPollCRM)
		if err != nil {
			t.Fatal(err)
		}
		took, ok := waitFor(30*time.Second, func() bool { return googleComments(st, caseName, missed) > 0 })
		if !ok {
			t.Fatalf("the reply is not on Google %v after a CRM poll; last lines:%s", took, tail(st))
		}
		t.Logf("the reply reached Google %v after the CRM poll tick", took.Round(time.Millisecond))
		waitLogs(t, st, "PollCRM to handle the tick", 1, 10*time.Second, byEvent(eventing.FunctionPollCRM, tick))
		if n := googleComments(st, caseName, missed); n != 1 {
			t.Errorf("the reply is on Google %d times, want once", n)
		}
	})

	t.Run("a Google comment whose support event is missed arrives with the next Google poll", func(t *testing.T) {
		svc, err := cloudsupport.NewService(ctx, option.WithEndpoint(st.CSAPI.URL()), option.WithoutAuthentication())
		if err != nil {
			t.Fatal(err)
		}
		subs := svc.Organizations.SupportEventSubscriptions
		settle(t, st)
		if _, err := subs.Delete(st.SupportEventSubscription()).Context(ctx).Do(); err != nil {
			t.Fatalf("deleting the support event subscription: %v", err)
		}
		const missed = "Thanks, we see the replica healthy again."
		_, cerr := st.CSAPI.AddComment(caseName, missed, csapitest.Actor{DisplayName: "Erin", Email: "erin@example.com", Username: "erin@example.com"})
		if _, err := subs.Undelete(st.SupportEventSubscription(), &cloudsupport.UndeleteSupportEventSubscriptionRequest{}).Context(ctx).Do(); err != nil {
			t.Fatalf("undeleting the support event subscription: %v", err)
		}
		if cerr != nil {
			t.Fatal(cerr)
		}
		if _, ok := waitFor(3*time.Second, func() bool { return crmComments(st, id, missed) > 0 }); ok {
			t.Fatal("the Google comment reached the CRM though no support event was published for it and nothing polled")
		}
		if _, err := st.PublishTick(ctx, eventing.FunctionPollGoogle); err != nil {
			t.Fatal(err)
		}
		took, ok := waitFor(30*time.Second, func() bool { return crmComments(st, id, missed) > 0 })
		if !ok {
			t.Fatalf("the Google comment is not on the CRM ticket %v after a Google poll; last lines:%s", took, tail(st))
		}
		t.Logf("the Google comment reached the CRM %v after the Google poll tick", took.Round(time.Millisecond))
		if n := crmComments(st, id, missed); n != 1 {
			t.Errorf("the comment is on the CRM ticket %d times, want once", n)
		}
	})
}
