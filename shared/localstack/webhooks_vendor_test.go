package localstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
)

// vendorPeople acts as a vendor's helpdesk agents in its simulator, through
// the simulator's own human actions, and reads the simulator's state.
type vendorPeople struct {
	// open opens a ticket flagged for sync and returns its id as the
	// adapter names it.
	open func(st *Stack, subject, description string) (string, error)
	// reply adds a public reply written by author.
	reply func(st *Stack, id, author, body string) error
	// googleCase is the ticket's Google-case field.
	googleCase func(st *Stack, id string) string
	// comments counts the ticket's comments holding text.
	comments func(st *Stack, id, text string) int
	// dropsOwnChanges: the vendor's webhooks tell CRMWebhook of the sync
	// user's own changes, which it drops; ServiceNow's business rule and
	// Freshdesk's automation rules leave them out themselves.
	dropsOwnChanges bool
}

var zendeskPeople = vendorPeople{
	open: func(st *Stack, subject, description string) (string, error) {
		return st.Zendesk.CreateTicket(zendesktest.Ticket{Subject: subject, Description: description,
			Priority: "high", SyncFlag: true, Requester: "ops@example.com", Agent: "Dana Agent"}), nil
	},
	reply: func(st *Stack, id, author, body string) error {
		_, err := st.Zendesk.AddHumanComment(id, author, body, true)
		return err
	},
	googleCase: func(st *Stack, id string) string {
		t, _ := st.Zendesk.TicketState(id)
		return t.GoogleCase
	},
	comments: func(st *Stack, id, text string) int {
		t, _ := st.Zendesk.TicketState(id)
		n := 0
		for _, c := range t.Comments {
			if strings.Contains(c.Body, text) {
				n++
			}
		}
		return n
	},
	dropsOwnChanges: true,
}

var jiraPeople = vendorPeople{
	open: func(st *Stack, subject, description string) (string, error) {
		return st.Jira.CreateIssue(jirasmtest.NewIssue{Summary: subject, Description: description,
			Priority: "High", SyncFlag: true, Reporter: "Ops Reporter"}), nil
	},
	reply: func(st *Stack, id, author, body string) error {
		_, err := st.Jira.AddComment(id, author, body, true)
		return err
	},
	googleCase: func(st *Stack, id string) string {
		is, _ := st.Jira.Issue(id)
		return is.GoogleCase
	},
	comments: func(st *Stack, id, text string) int {
		// Bodies are Atlassian Documents; the texts the test writes hold
		// nothing JSON escapes.
		is, _ := st.Jira.Issue(id)
		n := 0
		for _, c := range is.Comments {
			if strings.Contains(string(c.Body), text) {
				n++
			}
		}
		return n
	},
	dropsOwnChanges: true,
}

var serviceNowPeople = vendorPeople{
	open: func(st *Stack, subject, description string) (string, error) {
		o := st.ServiceNow.Options()
		by := st.ServiceNow.UserNameFor("Dana Agent")
		return st.ServiceNow.CreateRecord(by, map[string]string{"short_description": subject, "description": description,
			"impact": "1", "urgency": "2", o.SyncFlagField: "true"}), nil
	},
	reply: func(st *Stack, id, author, body string) error {
		return st.ServiceNow.UpdateRecord(id, st.ServiceNow.UserNameFor(author), map[string]string{"comments": body})
	},
	googleCase: func(st *Stack, id string) string {
		r, _ := st.ServiceNow.Record(id)
		return r[st.ServiceNow.Options().GoogleCaseField]
	},
	comments: func(st *Stack, id, text string) int {
		n := 0
		for _, e := range st.ServiceNow.Journal(id) {
			if strings.Contains(e["value"], text) {
				n++
			}
		}
		return n
	},
}

var freshdeskPeople = vendorPeople{
	open: func(st *Stack, subject, description string) (string, error) {
		return st.Freshdesk.CreateTicket(freshdesktest.Ticket{Subject: subject, Description: description,
			Priority: 3, SyncFlag: true, Requester: "ops@example.com"}), nil
	},
	reply: func(st *Stack, id, author, body string) error {
		_, err := st.Freshdesk.AddHumanComment(id, author, body, true)
		return err
	},
	googleCase: func(st *Stack, id string) string {
		t, _ := st.Freshdesk.TicketState(id)
		return t.GoogleCase
	},
	comments: func(st *Stack, id, text string) int {
		t, _ := st.Freshdesk.TicketState(id)
		n := 0
		for _, c := range t.Conversations {
			if strings.Contains(c.Body, text) {
				n++
			}
		}
		return n
	},
	// The automation rules leave out the sync agent's updates, and name
	// no performer.
	dropsOwnChanges: false,
}

var salesforcePeople = vendorPeople{
	open: func(st *Stack, subject, description string) (string, error) {
		return st.Salesforce.CreateCase(salesforcetest.Case{Subject: subject, Description: description,
			Priority: "High", SyncFlag: true, Author: "Dana Agent"}), nil
	},
	reply: func(st *Stack, id, author, body string) error {
		_, err := st.Salesforce.AddComment(id, author, body, true)
		return err
	},
	googleCase: func(st *Stack, id string) string {
		v, _ := st.Salesforce.View(id)
		g, _ := v.Fields[salesforcetest.GoogleCaseField].(string)
		return g
	},
	comments: func(st *Stack, id, text string) int {
		n := 0
		for _, c := range st.Salesforce.Comments(id) {
			if strings.Contains(c.Body, text) {
				n++
			}
		}
		return n
	},
	dropsOwnChanges: true,
}

// TestZendeskWebhooksAndSupportEventsCarryChangesBothWays: see
// testVendorEventsBothWays.
func TestZendeskWebhooksAndSupportEventsCarryChangesBothWays(t *testing.T) {
	testVendorEventsBothWays(t, CRMZendesk, zendeskPeople)
}

// TestJiraWebhooksAndSupportEventsCarryChangesBothWays: see
// testVendorEventsBothWays.
func TestJiraWebhooksAndSupportEventsCarryChangesBothWays(t *testing.T) {
	testVendorEventsBothWays(t, CRMJira, jiraPeople)
}

// TestServiceNowWebhooksAndSupportEventsCarryChangesBothWays: see
// testVendorEventsBothWays.
func TestServiceNowWebhooksAndSupportEventsCarryChangesBothWays(t *testing.T) {
	testVendorEventsBothWays(t, CRMServiceNow, serviceNowPeople)
}

// TestFreshdeskWebhooksAndSupportEventsCarryChangesBothWays: see
// testVendorEventsBothWays.
func TestFreshdeskWebhooksAndSupportEventsCarryChangesBothWays(t *testing.T) {
	testVendorEventsBothWays(t, CRMFreshdesk, freshdeskPeople)
}

// TestSalesforceWebhooksAndSupportEventsCarryChangesBothWays: see
// testVendorEventsBothWays.
func TestSalesforceWebhooksAndSupportEventsCarryChangesBothWays(t *testing.T) {
	testVendorEventsBothWays(t, CRMSalesforce, salesforcePeople)
}

// testVendorEventsBothWays runs a stack on a vendor's simulator with events
// on and polls an hour apart, so that a change arrives only by an event. A
// ticket a person flags for sync gets its Google case, and a public reply
// on it reaches Google once, carried by the webhook the stack registered
// through the simulator's own API (CRMWebhook logs that it published
// case-updated for the ticket); then a Google comment reaches the ticket
// once, carried by the CSAPI simulator's support events. With the webhook
// removed (SetCRMWebhooks false) a reply waits; registered again, the
// next reply brings both. No poll runs.
func testVendorEventsBothWays(t *testing.T, kind string, people vendorPeople) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	st, err := Start(ctx, Options{CRM: kind, PollEvery: time.Hour, DetectOutagesEvery: -1, CleanupEvery: -1})
	cancel()
	if err != nil {
		t.Fatalf("starting the local stack with CRM %s: %v", kind, err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})
	start := time.Now()
	if st.CRMKind() != kind || !st.CRMWebhooks() || st.Endpoints()[EndpointCRMWebhook] != st.Endpoints()[EndpointFunctions]+"/CRMWebhook" {
		t.Fatalf("CRMKind %q, CRMWebhooks %t, %s=%q; want %s with webhooks on, sent to %s/CRMWebhook", st.CRMKind(), st.CRMWebhooks(),
			EndpointCRMWebhook, st.Endpoints()[EndpointCRMWebhook], kind, st.Endpoints()[EndpointFunctions])
	}

	id, err := people.open(st, "Database failover stuck", "The replica never took over.")
	if err != nil {
		t.Fatal(err)
	}
	var caseName string
	took, ok := waitFor(20*time.Second, func() bool {
		caseName = people.googleCase(st, id)
		return caseName != ""
	})
	if !ok {
		t.Fatalf("%s ticket %s has no Google case %v after a person opened it; last lines of the functions process:%s", kind, id, took, tail(st))
	}
	t.Logf("the new %s ticket got its Google case in %v", kind, took.Round(time.Millisecond))

	// Nothing in flight may carry the reply but its webhook.
	settle(t, st)
	published := len(st.Logs(webhookLine(webhookPublishedMessage, id)))
	const reply = "We restarted the replica and the failover completed at 10:42."
	if err := people.reply(st, id, "Dana Agent", reply); err != nil {
		t.Fatal(err)
	}
	took, ok = waitFor(10*time.Second, func() bool { return googleComments(st, caseName, reply) > 0 })
	if !ok {
		t.Fatalf("the %s reply is not on Google case %s %v after it was made; last lines of the functions process:%s", kind, caseName, took, tail(st))
	}
	t.Logf("the %s reply reached Google in %v", kind, took.Round(time.Millisecond))

	// A Google comment, carried by a support event.
	settle(t, st)
	const answer = "Thanks, we see the replica healthy again."
	if _, err := st.CSAPI.AddComment(caseName, answer, csapitest.Actor{DisplayName: "Erin", Email: "erin@example.com", Username: "erin@example.com"}); err != nil {
		t.Fatal(err)
	}
	took, ok = waitFor(10*time.Second, func() bool { return people.comments(st, id, answer) > 0 })
	if !ok {
		t.Fatalf("the Google comment is not on %s ticket %s %v after it was made; last lines of the functions process:%s", kind, id, took, tail(st))
	}
	t.Logf("the Google comment reached %s in %v", kind, took.Round(time.Millisecond))

	// The administrator removes the webhook, then registers it again (with
	// the secret CRMWebhook holds): a reply made meanwhile sends nothing,
	// and comes with the next reply's webhook. (A redelivered message of
	// an earlier run may carry it sooner: only the webhooks are counted.)
	settle(t, st)
	if err := st.SetCRMWebhooks(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	removed := len(st.Logs(webhookLine(webhookPublishedMessage, id)))
	const missed = "Root cause: the health check timed out during the upgrade."
	if err := people.reply(st, id, "Dana Agent", missed); err != nil {
		t.Fatal(err)
	}
	if _, ok := waitFor(3*time.Second, func() bool { return len(st.Logs(webhookLine(webhookPublishedMessage, id))) > removed }); ok {
		t.Fatalf("CRMWebhook published case-updated for ticket %s though its webhook was removed", id)
	}
	if err := st.SetCRMWebhooks(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	const later = "Monitoring shows no errors since the restart."
	if err := people.reply(st, id, "Dana Agent", later); err != nil {
		t.Fatal(err)
	}
	took, ok = waitFor(10*time.Second, func() bool {
		return googleComments(st, caseName, later) > 0 && googleComments(st, caseName, missed) > 0
	})
	if !ok {
		t.Fatalf("the replies are not on Google %v after the webhook was registered again; last lines of the functions process:%s", took, tail(st))
	}
	t.Logf("with the webhook registered again, both replies reached Google in %v", took.Round(time.Millisecond))
	settle(t, st)
	if n := len(st.Logs(webhookLine(webhookPublishedMessage, id))); n <= removed {
		t.Fatalf("CRMWebhook published no case-updated for ticket %s after its webhook was registered again", id)
	}

	t.Run("each change arrived exactly once", func(t *testing.T) {
		linked := 0
		for _, c := range st.CSAPI.Cases() {
			for _, l := range strings.Split(c.Description, "\n") {
				if strings.TrimSpace(l) == casesync.LinkLine(id) {
					linked++
				}
			}
		}
		if linked != 1 {
			t.Errorf("%d Google cases carry the link line of ticket %s, want 1", linked, id)
		}
		for _, text := range []string{reply, missed, later} {
			if n := googleComments(st, caseName, text); n != 1 {
				t.Errorf("the reply %q is on Google %d times, want once", text, n)
			}
		}
		if n := people.comments(st, id, answer); n != 1 {
			t.Errorf("the Google comment is on ticket %s %d times, want once", id, n)
		}
	})

	t.Run("CRMWebhook carried the ticket's changes and nothing polled", func(t *testing.T) {
		if published < 1 {
			t.Errorf("CRMWebhook published no case-updated for ticket %s before the reply; its Google case came some other way", id)
		}
		if n := len(st.Logs(webhookLine(webhookPublishedMessage, id))); n <= published {
			t.Errorf("CRMWebhook published case-updated for ticket %s %d times after the reply, want more than the %d before", id, n, published)
		}
		if n := len(st.Logs(forwarded(caseName))); n < 1 {
			t.Errorf("GoogleEvents published no case-updated for %s; the Google comment came some other way", caseName)
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

	t.Run("CRMCalls counts casebridge's calls to the vendor", func(t *testing.T) {
		calls, err := st.CRMCalls(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		total := int64(0)
		for _, n := range calls {
			total += n
		}
		if total == 0 {
			t.Errorf("CRMCalls = %v, want the adapter's calls by operation", calls)
		}
	})

	t.Run("every webhook was verified and casebridge's own changes were dropped", func(t *testing.T) {
		if n := len(st.Logs(func(l LogLine) bool {
			return l.Str("function") == eventing.FunctionCRMWebhook && l.Message() == "webhook refused"
		})); n != 0 {
			t.Errorf("CRMWebhook refused %d webhooks; the secret CRMWebhook holds is not the one the simulator signs with, or the clocks differ", n)
		}
		own := len(st.Logs(webhookLine(webhookSyncUserMessage, id)))
		switch {
		case people.dropsOwnChanges && own < 1:
			t.Errorf("CRMWebhook dropped none of the sync user's changes to ticket %s; CASEBRIDGE_WEBHOOK_SYNC_USER is not the sync user as %s's webhooks name it?", id, kind)
		case !people.dropsOwnChanges && own != 0:
			t.Errorf("CRMWebhook dropped %d webhooks of the sync user's changes to ticket %s; the business rule is to leave them out", own, id)
		}
	})
}
