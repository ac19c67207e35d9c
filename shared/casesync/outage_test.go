package casesync_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

func TestAnOutageIsReportedOnceAndItsEndOnce(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Outage", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("DetectOutages with everything in sync: %v", err)
	}

	w.crm.SetDown(true)
	w.clock.Advance(11 * time.Minute)
	if _, err := w.engine.PollGoogle(w.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.engine.PollCRM(w.ctx); err == nil {
		t.Fatal("PollCRM succeeded with the CRM down")
	}
	for i := 0; i < 2; i++ {
		rep, err := w.engine.DetectOutages(w.ctx)
		if !errors.Is(err, casesync.ErrOutage) {
			t.Fatalf("run %d: DetectOutages = %v, want ErrOutage", i+1, err)
		}
		if len(rep.OutOfSync) != 1 {
			t.Errorf("run %d: out of sync = %v, want the one mapping", i+1, rep.OutOfSync)
		}
	}
	if got := countWithPrefix(w.googleBodies(name), "This case has not synced properly in "); got != 1 {
		t.Errorf("outage comments on Google = %d, want 1", got)
	}
	if m := w.mapping(name); !m.OutageCommentSentToGoogle || m.OutageCommentSentToCompany {
		t.Errorf("flags = google %v, company %v; want true, false (the CRM was unreachable)", m.OutageCommentSentToGoogle, m.OutageCommentSentToCompany)
	}

	w.crm.SetDown(false)
	w.settle()
	rep, err := w.engine.DetectOutages(w.ctx)
	if err != nil {
		t.Fatalf("DetectOutages after recovery: %v", err)
	}
	if rep.Resumed != 1 {
		t.Errorf("resumed notices posted = %d, want 1", rep.Resumed)
	}
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatal(err)
	}
	gb := w.googleBodies(name)
	if got := countWithPrefix(gb, "Syncing has resumed."); got != 1 {
		t.Errorf("resumed comments on Google = %d, want 1", got)
	}
	for _, c := range w.crmComments(id) {
		if strings.HasPrefix(c.Body, "This case has not synced") || strings.HasPrefix(c.Body, "Syncing has resumed") {
			t.Errorf("the CRM got a notice although it never had the outage comment: %q", c.Body)
		}
	}
	// The notices are the connector's own: never mirrored.
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 0 {
		t.Errorf("%d notices were mirrored to the CRM", got)
	}
}

func TestAStalledPollerIsSeenWithoutPerMappingWrites(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Stall", "P0")
	w.settle()
	// The Google poller stops; nothing else happens.
	w.clock.Advance(9 * time.Minute)
	w.engine.PollCRM(w.ctx)
	if _, err := w.engine.DetectOutages(w.ctx); err != nil {
		t.Fatalf("after 9 minutes: %v, want in sync (P0 fresh tolerance is 10 min)", err)
	}
	w.clock.Advance(2 * time.Minute)
	w.engine.PollCRM(w.ctx)
	if _, err := w.engine.DetectOutages(w.ctx); !errors.Is(err, casesync.ErrOutage) {
		t.Fatalf("after 11 minutes: %v, want ErrOutage", err)
	}
	if !w.mapping(name).OutageCommentSentToCompany {
		t.Errorf("the CRM was not told")
	}
}

func TestAnUnchangedCaseCostsNothingButTheSearch(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) { testUnchangedCaseCost(t, sk) })
	}
}

func testUnchangedCaseCost(t *testing.T, sk storeKind) {
	w := newWorldOn(t, casesync.Config{}, sk)
	name := w.newGoogleCase("Cost", "P3")
	w.settle()
	w.settle()
	id := w.mapping(name).CompanyCaseID

	w.google.ResetCalls()
	w.crm.ResetCalls()
	for i := 0; i < 3; i++ { // within the polling windows: the case is found again each time
		w.tick()
		g, err := w.engine.PollGoogle(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.engine.PollCRM(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g.Published+c.Published != 0 || g.Found != 1 || c.Found != 1 {
			t.Errorf("idle poll %d: google %+v, crm %+v; want the case found and nothing published", i+1, g, c)
		}
	}
	if diff := cmp.Diff(map[string]int{"cases.search": 3}, w.google.Calls()); diff != "" {
		t.Errorf("Google calls for idle polls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"search": 3}, w.crm.Calls()); diff != "" {
		t.Errorf("CRM calls for idle polls (-want +got):\n%s", diff)
	}

	// One new Google comment: one reconciliation, lists fetched only where needed.
	if _, err := w.google.AddComment(name, "news", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.google.ResetCalls()
	w.crm.ResetCalls()
	w.tick()
	w.engine.PollGoogle(w.ctx)
	refs := w.queue.take()
	if len(refs) != 1 {
		t.Fatalf("published %d, want 1", len(refs))
	}
	if _, err := w.engine.SyncCase(w.ctx, refs[0]); err != nil {
		t.Fatal(err)
	}
	// The first pass mirrors the comment; the second reads both cases again
	// and lists the CRM side its own comment changed, so that no later poll
	// takes that change for news.
	wantG := map[string]int{"cases.search": 1, "cases.get": 2, "comments.list": 1, "attachments.list": 1}
	if diff := cmp.Diff(wantG, w.google.Calls()); diff != "" {
		t.Errorf("Google calls for one changed case (-want +got):\n%s", diff)
	}
	wantC := map[string]int{"get": 2, "comments.list": 2, "attachments.list": 1, "comments.add": 1}
	if diff := cmp.Diff(wantC, w.crm.Calls()); diff != "" {
		t.Errorf("CRM calls for one changed case (-want +got):\n%s", diff)
	}
	w.tick()
	g, err := w.engine.PollGoogle(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.engine.PollCRM(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Published+c.Published+g.Swept+c.Swept != 0 {
		t.Errorf("after the reconciliation: google poll %+v, crm poll %+v; want nothing asked for (no echo of casebridge's own comment)", g, c)
	}
	_ = id
}
