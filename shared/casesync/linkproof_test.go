package casesync_test

import (
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// Attempts to break the trust model (docs/trust.md) through text casebridge
// copies itself: a copied description or reply, a quoted marker, a long
// file name.

// roundsErr is rounds without stopping at the first failed reconciliation:
// it returns the errors, as the running system would log and ack them.
func (w *world) roundsErr(n int) []error {
	w.t.Helper()
	var errs []error
	for range n {
		w.tick()
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			w.t.Fatalf("PollGoogle: %v", err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			w.t.Fatalf("PollCRM: %v", err)
		}
		for _, ref := range w.queue.take() {
			w.tick()
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// A requester's ticket description is copied into the Google case casebridge
// creates, so casebridge's own (ByConnector) description then carries a link
// line the requester wrote. findLinkedGoogleCase accepts any such line.
func TestALinkLineInACRMDescriptionDoesNotCaptureAnotherTicket(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	// CRM ids are sequential: the attacker names the next ticket.
	a := w.crm.CreateTicket(crmsim.Ticket{Subject: "Attacker", Priority: "normal", SyncFlag: true,
		Description: "Please help.\n" + casesync.LinkLine("2")})
	if errs := w.roundsErr(3); len(errs) != 0 {
		t.Fatalf("syncing the attacker's ticket: %v", errs)
	}
	tkA, _ := w.crm.Ticket(a)
	if g, _ := w.google.Case(tkA.GoogleCase); strings.Count(g.Description, "This case is now syncing") > 1 {
		t.Logf("casebridge's own description of %s carries %d link lines", tkA.GoogleCase, strings.Count(g.Description, "This case is now syncing"))
	}
	b := w.crm.CreateTicket(crmsim.Ticket{Subject: "Victim", Description: "d", Priority: "normal", SyncFlag: true})
	if b != "2" {
		t.Fatalf("ticket id %s, want 2", b)
	}
	errs := w.roundsErr(3)
	tkB, _ := w.crm.Ticket(b)
	if len(errs) != 0 || tkB.GoogleCase == "" || tkB.GoogleCase == tkA.GoogleCase {
		t.Errorf("flagged ticket %s did not get a Google case of its own: field %q (attacker's case %s), errors %v",
			b, tkB.GoogleCase, tkA.GoogleCase, errs)
	}
}

// The same through a public reply: casebridge mirrors it into a Google comment
// under its own identity, and every line of that comment counts.
func TestALinkLineInAMirroredReplyDoesNotCaptureAnotherTicket(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Attacker's case", "P3")
	w.settle()
	a := w.mapping(name).CompanyCaseID
	if _, err := w.crm.AddHumanComment(a, "Mallory", "Thanks.\n"+casesync.LinkLine("2"), true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	victim := w.crm.CreateTicket(crmsim.Ticket{Subject: "Victim", Description: "d", Priority: "normal", SyncFlag: true})
	if victim != "2" {
		t.Fatalf("ticket id %s, want 2", victim)
	}
	errs := w.roundsErr(3)
	tk, _ := w.crm.Ticket(victim)
	if len(errs) != 0 || tk.GoogleCase == "" || tk.GoogleCase == name {
		t.Errorf("flagged ticket %s did not get a Google case of its own: field %q (attacker's case %s), errors %v",
			victim, tk.GoogleCase, name, errs)
	}
}

// casebridge creates a Google case from a ticket whose description names
// another ticket, then dies before recording the link. The Google poll picks
// the case up as Google-origin; linkedCompanyID takes the FIRST link line of
// casebridge's own description, which is the attacker's.
func TestACrashAfterCreateDoesNotLinkTheTicketAnAttackerNamed(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.engine.Google = crashingGoogle{w.engine.Google, &crashAfter{op: "CreateCase", left: 1}}
	a := w.crm.CreateTicket(crmsim.Ticket{Subject: "Attacker", Priority: "normal", SyncFlag: true,
		Description: "Please help.\n" + casesync.LinkLine("2")})
	w.roundsErr(1) // the create lands, the process "dies"
	secret := "Victim's confidential reply."
	b := w.crm.CreateTicket(crmsim.Ticket{Subject: "Victim", Description: "d", Priority: "normal", SyncFlag: true})
	if _, err := w.crm.AddHumanComment(b, "Bob", secret, true); err != nil {
		t.Fatal(err)
	}
	w.roundsErr(4)
	for _, g := range w.google.Cases() {
		if !strings.Contains(g.Description, casesync.LinkLine(a)) {
			continue // the victim's own case
		}
		if m := w.mapping(g.Name); m.CompanyCaseID == b {
			t.Errorf("the Google case created for ticket %s is linked to ticket %s, named only by the attacker", a, b)
		}
		for _, body := range w.googleBodies(g.Name) {
			if strings.Contains(body, secret) {
				t.Errorf("ticket %s's reply reached the Google case of ticket %s", b, a)
			}
		}
	}
}

// A requester names a public file with a very long name (RT and ServiceNow
// accept long names). Over MAX_ATTACHMENT_BYTES, casebridge posts a notice
// quoting the whole name; it is longer than a Google comment may be, so the
// reconciliation fails at the same step on every run and the case stops
// syncing (here: the priority change never reaches Google).
func TestALongFileNameDoesNotStopACaseSyncing(t *testing.T) {
	w := newWorld(t, casesync.Config{MaxAttachmentBytes: 4})
	name := w.newGoogleCase("Files", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.crm.AddHumanAttachment(id, "Mallory", strings.Repeat("a", 13000)+".txt", "text/plain", []byte("more than four")); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.SetHumanPriority(id, "critical"); err != nil {
		t.Fatal(err)
	}
	errs := w.roundsErr(3)
	if g, _ := w.google.Case(name); g.Priority != "P0" || len(errs) != 0 {
		t.Errorf("Google priority %s (want P0); errors: %.300v", g.Priority, errs)
	}
}

// Google Support often starts an answer by quoting the customer's comment,
// which casebridge posted with its marker line. connectorText takes any
// comment that starts with a marker for casebridge's own, whoever wrote it,
// so the answer never reaches the CRM.
func TestAGoogleAnswerQuotingAMirroredCommentReachesTheCRM(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Quote", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	answer := "[Company Comment 5 by Bob]\n\n> it is down\n\nRestart the instance; that fixes it."
	if _, err := w.google.AddComment(name, answer, csapitest.Actor{DisplayName: "Agent", GoogleSupport: true}); err != nil {
		t.Fatal(err)
	}
	w.settle()
	for _, c := range w.crmComments(id) {
		if strings.Contains(c.Body, "Restart the instance") {
			return
		}
	}
	t.Errorf("Google Support's answer, which starts with a quoted marker line, never reached CRM case %s", id)
}
