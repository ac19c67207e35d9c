package chaos

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

// linkedGoogleCase makes a world with one Google case a person opened,
// linked by casebridge to a CRM case, with the faults off: it returns the
// world, the Google case, the ticket and the id of the link comment
// casebridge wrote on the Google case.
func linkedGoogleCase(t *testing.T) (w *world, name, ticket, linkComment string) {
	t.Helper()
	ctx := context.Background()
	w, err := newWorld(ctx, Options{Seed: 1, Ops: 1, NoEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	name, err = w.google.CreateCase("projects/"+project, "Case", "It fails.", "P2", customerEmail)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine(w.newRun(w.dice, "")).SyncCase(ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range w.crm.Tickets() {
		if tk.GoogleCase == name {
			ticket = tk.ID
		}
	}
	for _, c := range w.google.Comments(name) {
		if c.Creator != nil && c.Creator.Email == connectorEmail {
			linkComment = lastSegment(c.Name)
		}
	}
	if ticket == "" || linkComment == "" {
		t.Fatalf("the Google case was not linked (ticket %q, link comment %q)", ticket, linkComment)
	}
	if f := w.check(); !f.ok() {
		t.Fatalf("the linked pair does not check out: %v", f.Problems)
	}
	return w, name, ticket, linkComment
}

// TestCheckFindsAnEcho: casebridge's own comment copied back to the other
// side (as the event of its own write taken for news would) is found, and
// counted as a duplicate.
func TestCheckFindsAnEcho(t *testing.T) {
	w, _, ticket, own := linkedGoogleCase(t)
	if _, err := w.cAPI.AddComment(context.Background(), ticket, "[Google Comment "+own+" by casebridge]\n\nThis case is now syncing.", true); err != nil {
		t.Fatal(err)
	}
	f := w.check()
	if f.Duplicated == 0 || len(f.Problems) == 0 || !strings.HasPrefix(f.Problems[0], "echo: ") {
		t.Errorf("an echo of casebridge's own Google comment: duplicated %d, problems %q; want an echo found", f.Duplicated, f.Problems)
	}
}

// TestCheckWriteFindsASecondCopy: a write of a copy casebridge already
// wrote there is reported with what started the run.
func TestCheckWriteFindsASecondCopy(t *testing.T) {
	w, name, ticket, _ := linkedGoogleCase(t)
	ctx := context.Background()
	id, err := w.crm.AddHumanComment(ticket, "Bob Agent", "A reply.", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine(w.newRun(w.dice, kindPoll)).SyncCase(ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: ticket}); err != nil {
		t.Fatal(err)
	}
	if len(w.problems) != 0 {
		t.Fatalf("mirroring the reply once: %q", w.problems)
	}
	var mirrored string
	for _, c := range w.google.Comments(name) {
		if strings.HasPrefix(c.Body, "[Company Comment "+id+" by ") {
			mirrored = c.Body
		}
	}
	if mirrored == "" {
		t.Fatal("the reply was not mirrored")
	}
	g := w.engine(w.newRun(w.dice, kindPerson)).Google
	if _, err := g.AddComment(ctx, name, mirrored); err != nil {
		t.Fatal(err)
	}
	if len(w.problems) != 1 || !strings.Contains(w.problems[0], "a run of "+kindPerson+" wrote a second copy") {
		t.Errorf("a second copy written by a run of an event: problems %q; want it reported", w.problems)
	}
}

// TestACopyLeftByACrashIsFoundAfterARunThatTookTheCRMCaseAsSeen is the
// chaos campaign's duplicate (found with seed 20 of a campaign of 20 seeds
// of 500 operations), step by step: a worker mirrors a CRM reply to Google
// and dies before recording it; the next reconciliation, asked for by a
// Google-side message, takes the CRM case as last seen (it does not read
// it, so it neither sees the reply nor looks for its copy) and, completing,
// marks every write of the mapping recorded; the reconciliation after it
// sees the reply, trusts that mark and mirrors the reply a second time.
func TestACopyLeftByACrashIsFoundAfterARunThatTookTheCRMCaseAsSeen(t *testing.T) {
	w, name, ticket, _ := linkedGoogleCase(t)
	ctx := context.Background()
	sync := func(r *run, ref casesync.CaseRef) casesync.SyncResult {
		t.Helper()
		ref.EventTime = w.clock.Now()
		res, err := w.engine(r).SyncCase(ctx, ref)
		if err != nil && !r.dead.Load() {
			t.Fatalf("sync %s %s: %v", ref.Side, ref.ID, err)
		}
		return res
	}
	w.clock.Advance(5 * time.Second)
	if _, err := w.crm.AddHumanComment(ticket, "Bob Agent", "A reply.", true); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Second)

	// The worker that mirrors the reply dies right after the write.
	crashed := w.newRun(w.dice, kindPerson)
	crashed.dieAfter = "comments.create"
	sync(crashed, casesync.CaseRef{Side: casesync.SideCompany, ID: ticket})
	if !crashed.dead.Load() {
		t.Fatal("the worker did not get to the write it was to die after")
	}
	// Its lease runs out; a Google-side message is reconciled.
	w.clock.Advance(w.cfg.LeaseDuration + time.Second)
	res := sync(w.newRun(w.dice, kindPerson), casesync.CaseRef{Side: casesync.SideGoogle, ID: name})
	t.Logf("the run after the crash: %+v", res)
	// Then the CRM-side message.
	w.clock.Advance(5 * time.Second)
	res = sync(w.newRun(w.dice, kindPerson), casesync.CaseRef{Side: casesync.SideCompany, ID: ticket})
	t.Logf("the run after that: %+v", res)

	if f := w.check(); !f.ok() || len(w.problems) > 0 {
		t.Errorf("after a crash between a write and its record: %q %q", f.Problems, w.problems)
	}
}

// TestAMergeThatFailsHalfwayLeavesNoSecondGoogleCase is the campaign's
// duplicate Google case (seed 33 of a campaign of 40 seeds of 500
// operations), step by step. casebridge creates the Google case of a
// flagged ticket and dies before recording it; Google's event for that new
// case gets a mapping of its own, which waits for the ticket's mapping to
// merge into it. The ticket's mapping, retried, finds the case it created,
// and merges: it deletes itself, then gives its ticket to the other
// mapping. If that second step fails, the ticket has no mapping left, and
// the next message for it makes a new one, which looks for the Google case
// by search only: while Google's index lags, it creates a second case.
func TestAMergeThatFailsHalfwayLeavesNoSecondGoogleCase(t *testing.T) {
	ctx := context.Background()
	w, err := newWorld(ctx, Options{Seed: 1, Ops: 1, NoEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	ticket := w.crm.CreateTicket(crmsim.Ticket{Subject: "Ticket", Description: "It fails.", Priority: "normal", SyncFlag: true, Requester: "bob@customer.example"})
	w.people.tickets[ticket] = true
	// Google's search index lags a minute behind.
	w.google.SetSearchLag(time.Minute)
	sync := func(r *run, ref casesync.CaseRef) {
		t.Helper()
		ref.EventTime = w.clock.Now()
		res, err := w.engine(r).SyncCase(ctx, ref)
		t.Logf("sync %s %s: %+v, error %v", ref.Side, ref.ID, res, err)
	}
	crm := casesync.CaseRef{Side: casesync.SideCompany, ID: ticket}

	// casebridge creates the ticket's Google case and dies.
	creator := w.newRun(w.dice, kindPoll)
	creator.dieAfter = "cases.create"
	sync(creator, crm)
	var created string
	for _, c := range w.google.Cases() {
		created = c.Name
	}
	if !creator.dead.Load() || created == "" {
		t.Fatal("the worker did not create the Google case it was to die after")
	}
	// Google's event for the new case.
	sync(w.newRun(w.dice, kindOwn), casesync.CaseRef{Side: casesync.SideGoogle, ID: created})
	// The lease runs out; the ticket's mapping is retried, and the second
	// step of its merge fails.
	w.clock.Advance(w.cfg.LeaseDuration + time.Second)
	merger := w.newRun(w.dice, kindCommand)
	merger.failStore, merger.failStoreN = "LinkKey", 2
	sync(merger, crm)
	// Messages for both cases go on being delivered.
	for range 3 {
		w.clock.Advance(10 * time.Second)
		sync(w.newRun(w.dice, kindPoll), crm)
		sync(w.newRun(w.dice, kindPoll), casesync.CaseRef{Side: casesync.SideGoogle, ID: created})
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Errorf("the ticket has %d Google cases, want 1", n)
	}
}
