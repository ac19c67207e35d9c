package casesync_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// linkedWithMirroredReply returns a linked case whose CRM reply has been
// mirrored to Google, and the id of the comment casebridge wrote there.
func linkedWithMirroredReply(t *testing.T, w *world) (name, ownID string) {
	t.Helper()
	name = w.newGoogleCase("Events", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.crm.AddHumanComment(id, "Bob", "A public reply.", true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	for _, c := range w.google.Comments(name) {
		if strings.HasPrefix(c.Body, "[Company Comment ") {
			ownID = c.Name[strings.LastIndex(c.Name, "/")+1:]
		}
	}
	if ownID == "" {
		t.Fatal("the CRM reply was not mirrored to Google")
	}
	return name, ownID
}

func (w *world) apiCalls() int {
	n := 0
	for _, c := range w.google.Calls() {
		n += c
	}
	for _, c := range w.crm.Calls() {
		n += c
	}
	return n
}

func (w *world) resetCalls() {
	w.google.ResetCalls()
	w.crm.ResetCalls()
}

// TestAnEventNamingCasebridgesOwnCommentCostsNoAPICall: the event Google
// sends for the comment casebridge itself just wrote is recognised from the
// mapping alone.
func TestAnEventNamingCasebridgesOwnCommentCostsNoAPICall(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name, own := linkedWithMirroredReply(t, w)
	w.resetCalls()
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, Item: own})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || w.apiCalls() != 0 {
		t.Errorf("event for casebridge's own comment: %+v after %d API calls (%v %v); want it skipped without any", res, w.apiCalls(), w.google.Calls(), w.crm.Calls())
	}
}

// TestAnEventNamingAPersonsCommentIsReconciled: only casebridge's own items
// are recognised; an event naming anything else is reconciled, and the
// comment it names is mirrored.
func TestAnEventNamingAPersonsCommentIsReconciled(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name, _ := linkedWithMirroredReply(t, w)
	id := w.mapping(name).CompanyCaseID
	w.tick()
	cn, err := w.google.AddAgentComment(name, "An answer from Google.")
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, Item: cn[strings.LastIndex(cn, "/")+1:]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" {
		t.Fatalf("an event naming a person's comment was skipped: %s", res.Skipped)
	}
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 1 {
		t.Errorf("the CRM case has %d mirrored Google comments, want 1", got)
	}
}

// TestAnEventPublishedBeforeTheLastReadNeedsNoReconciliation: a message
// published before a completed reconciliation read the case (a late or
// repeated delivery) announces nothing that run did not see; one published
// after it is reconciled.
func TestAnEventPublishedBeforeTheLastReadNeedsNoReconciliation(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Late event", "P2")
	w.settle()
	read := w.mapping(name).Google.ReadAt
	if read.IsZero() {
		t.Fatal("the mapping does not record when the Google case was last read")
	}
	w.tick()
	w.resetCalls()
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, EventTime: read.Add(-10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == "" || w.apiCalls() != 0 {
		t.Errorf("an event published before the last read: %+v after %d API calls; want it skipped without any", res, w.apiCalls())
	}
	res, err = w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, EventTime: read})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != "" || w.apiCalls() == 0 {
		t.Errorf("an event published at the last read (within the clock margin): %+v after %d API calls; want it reconciled", res, w.apiCalls())
	}
}

// itemListingCRM is a CRM that can list comments and files in one call; it
// counts which listing calls the engine makes.
type itemListingCRM struct {
	casesync.CRM
	items, comments, attachments int
}

func (c *itemListingCRM) ListItems(ctx context.Context, id string) ([]casesync.Comment, []casesync.Attachment, error) {
	c.items++
	cs, err := c.CRM.ListComments(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	as, err := c.CRM.ListAttachments(ctx, id)
	return cs, as, err
}

func (c *itemListingCRM) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	c.comments++
	return c.CRM.ListComments(ctx, id)
}

func (c *itemListingCRM) ListAttachments(ctx context.Context, id string) ([]casesync.Attachment, error) {
	c.attachments++
	return c.CRM.ListAttachments(ctx, id)
}

// TestASideThatListsItemsInOneCallIsListedOnce: where the API returns a
// case's comments and files together, a pass lists the case once.
func TestASideThatListsItemsInOneCallIsListedOnce(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("One listing", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	crm := &itemListingCRM{CRM: w.engine.CRM}
	w.engine.CRM = crm
	if _, _, err := w.crm.AddHumanCommentWithFile(id, "Bob", "See the log.", true, "log.txt", "text/plain", []byte("log")); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if crm.items == 0 || crm.comments != 0 || crm.attachments != 0 {
		t.Errorf("the CRM was listed with %d item, %d comment and %d attachment calls; want item listings only", crm.items, crm.comments, crm.attachments)
	}
	if n := len(w.google.Attachments(name)); n != 1 {
		t.Errorf("Google has %d attachments, want the file", n)
	}
	if got := countWithPrefix(w.googleBodies(name), "[Company Comment "); got != 1 {
		t.Errorf("Google has %d mirrored CRM comments, want 1", got)
	}
}

// releaseCounter counts the separate lease releases.
type releaseCounter struct {
	casesync.Store
	releases int
}

func (s *releaseCounter) ReleaseLease(ctx context.Context, id, holder string) error {
	s.releases++
	return s.Store.ReleaseLease(ctx, id, holder)
}

// TestAReconciliationLetsItsLeaseGoInItsLastSave: a run's last save, done
// or failed, also lets the lease go; no separate write is needed.
func TestAReconciliationLetsItsLeaseGoInItsLastSave(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	counter := &releaseCounter{Store: w.store}
	w.engine.Store = counter
	name := w.newGoogleCase("Lease", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.crm.AddHumanComment(id, "Bob", "A reply.", true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	// A failed pass ends the run too.
	w.google.InjectFault(csapitest.Fault{Method: "comments.create", Status: 503, Count: 2})
	if _, err := w.crm.AddHumanComment(id, "Bob", "Another reply.", true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if counter.releases != 0 {
		t.Errorf("%d separate lease releases; want every run to let its lease go in its last save", counter.releases)
	}
	if m := w.mapping(name); m.LeaseHolder != "" {
		t.Errorf("the lease is still held by %q after the runs", m.LeaseHolder)
	}
	if got := countWithPrefix(w.googleBodies(name), "[Company Comment "); got != 2 {
		t.Errorf("Google has %d mirrored replies, want 2", got)
	}
}

// TestASideWhoseCommentsAloneAreNeededIsNotListedWhole: the CRM side that
// receives a Google comment is not listed before the write (every earlier
// write is recorded, so there is no earlier attempt's copy to find); only
// when it has changed, after the write, are both its lists needed, in one
// call.
func TestASideWhoseCommentsAloneAreNeededIsNotListedWhole(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Comments only", "P2")
	w.settle()
	crm := &itemListingCRM{CRM: w.engine.CRM}
	w.engine.CRM = crm
	if _, err := w.google.AddComment(name, "From Google.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	for _, ref := range w.queue.take() {
		if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if crm.comments != 0 || crm.items != 1 || crm.attachments != 0 {
		t.Errorf("the CRM was listed with %d comment, %d item and %d attachment calls; want one item listing after the write",
			crm.comments, crm.items, crm.attachments)
	}
}

// TestAnEventNamingAnItemWhileARunHoldsTheCaseIsRetriedLater: the event
// for casebridge's own write often arrives while the run that wrote it
// still holds the case; it is handed back for redelivery (a transient
// error) instead of making the holder look again, and once the run has
// recorded its write the redelivery costs no API call.
func TestAnEventNamingAnItemWhileARunHoldsTheCaseIsRetriedLater(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name, _ := linkedWithMirroredReply(t, w)
	m := w.mapping(name)
	if _, err := w.store.AcquireLease(w.ctx, m.ID, "the-writing-run", w.clock.Now(), w.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	w.resetCalls()
	// The run has written comment 9001 and not yet recorded it.
	ref := casesync.CaseRef{Side: casesync.SideGoogle, ID: name, Item: "9001"}
	_, err := w.engine.SyncCase(w.ctx, ref)
	if !casesync.IsTransient(err) {
		t.Fatalf("the event while the case is held: %v; want a transient error for redelivery", err)
	}
	if got := w.mapping(name); got.RerunRequested {
		t.Errorf("the event asked the holder to look again")
	}
	// The run records its write as it ends.
	if _, err := w.store.UpdateMapping(w.ctx, m.ID, func(x *casesync.Mapping) error {
		x.Google.OwnWrites = append(x.Google.OwnWrites, "9001")
		x.LeaseHolder, x.LeaseUntil = "", time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := w.engine.SyncCase(w.ctx, ref)
	if err != nil || res.Skipped == "" || w.apiCalls() != 0 {
		t.Errorf("the redelivery: %+v, %v after %d API calls; want it skipped without any", res, err, w.apiCalls())
	}
}

// TestALateOldMessageLeavesANewerPendingMark: a repeated or late message
// for a change already reconciled does not clear the pending mark a later
// poll set for a newer change; if that poll's own message is then lost,
// the sweep still asks for the mapping.
func TestALateOldMessageLeavesANewerPendingMark(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Late duplicate", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.google.AddComment(name, "First.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	first := w.queue.take()
	if len(first) != 1 {
		t.Fatalf("the first poll published %+v", first)
	}
	old := first[0]
	old.EventTime = w.clock.Now()
	if _, err := w.engine.SyncCase(w.ctx, old); err != nil {
		t.Fatal(err)
	}
	// A newer change; the poll marks it and its message is lost.
	w.tick()
	if _, err := w.google.AddComment(name, "Second.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if lost := w.queue.take(); len(lost) != 1 {
		t.Fatalf("the second poll published %+v", lost)
	}
	// The first message comes again.
	w.tick()
	if _, err := w.engine.SyncCase(w.ctx, old); err != nil {
		t.Fatal(err)
	}
	if m := w.mapping(name); m.Google.PendingSince.IsZero() || m.DueAt.IsZero() {
		t.Fatalf("the late first message cleared the second change's mark (pending %v, due %v)", m.Google.PendingSince, m.DueAt)
	}
	// The sweep asks again once it is due.
	w.clock.Advance(6 * time.Minute)
	w.settle()
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 2 {
		t.Errorf("the CRM case has %d mirrored comments, want 2", got)
	}
}
