package casesync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

func (w *world) crmComments(id string) []casesync.Comment {
	w.t.Helper()
	cs, err := w.crm.ListComments(w.ctx, id)
	if err != nil {
		w.t.Fatalf("list CRM comments: %v", err)
	}
	return cs
}

func (w *world) googleBodies(name string) []string {
	var out []string
	for _, c := range w.google.Comments(name) {
		out = append(out, c.Body)
	}
	return out
}

func countWithPrefix(bodies []string, prefix string) int {
	n := 0
	for _, b := range bodies {
		if strings.HasPrefix(b, prefix) {
			n++
		}
	}
	return n
}

func bodiesOf(cs []casesync.Comment) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Body)
	}
	return out
}

func TestAGoogleCaseGetsOneCRMCaseAndTheLinkComment(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("VM will not boot", "P1")
	w.settle()
	w.settle()

	m := w.mapping(name)
	c, err := w.crm.GetCase(w.ctx, m.CompanyCaseID)
	if err != nil {
		t.Fatalf("CRM case: %v", err)
	}
	if c.GoogleCase != name || c.Subject != "VM will not boot" || c.Priority != "urgent" {
		t.Errorf("CRM case = %+v; want subject, Google case field and priority urgent (P1)", c)
	}
	if !strings.HasPrefix(c.Description, "CONTENT MIRRORED FROM GOOGLE SUPPORT:\n") {
		t.Errorf("CRM description %q lacks the mirrored-content prefix", c.Description)
	}
	if got := countWithPrefix(w.googleBodies(name), casesync.LinkLine(m.CompanyCaseID)); got != 1 {
		t.Errorf("link comments on the Google case = %d, want 1", got)
	}
	if n := len(w.crm.Tickets()); n != 1 {
		t.Errorf("CRM has %d tickets, want 1", n)
	}
}

func TestAFlaggedCRMCaseGetsOneGoogleCase(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Billing export empty", Description: "Since Monday.", Priority: "high", SyncFlag: true, Requester: "bob"})
	unflagged := w.crm.CreateTicket(crmsim.Ticket{Subject: "Printer", Description: "jammed", Priority: "low"})
	w.settle()
	w.settle()

	c, _ := w.crm.GetCase(w.ctx, id)
	if c.GoogleCase == "" {
		t.Fatalf("the flagged CRM case was not linked to a Google case")
	}
	g, ok := w.google.Case(c.GoogleCase)
	if !ok {
		t.Fatalf("Google case %s does not exist", c.GoogleCase)
	}
	if g.DisplayName != "Billing export empty" || g.Priority != "P2" || !g.TestCase {
		t.Errorf("Google case = %+v; want the subject, P2 and testCase", g)
	}
	if !strings.Contains(g.Description, casesync.LinkLine(id)) {
		t.Errorf("Google description lacks the link line")
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Errorf("Google has %d cases, want 1 (the unflagged CRM case %s must not sync)", n, unflagged)
	}
}

func TestExistingCounterpartsAreLinkedNotDuplicated(t *testing.T) {
	t.Run("a CRM case whose Google-case field names an existing Google case links to it", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		name := w.newGoogleCase("Existing", "P3")
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Existing", Description: "d", Priority: "normal", GoogleCase: name})
		w.settle()
		w.settle()
		if n := len(w.crm.Tickets()); n != 1 {
			t.Errorf("CRM has %d tickets, want 1", n)
		}
		if n := len(w.google.Cases()); n != 1 {
			t.Errorf("Google has %d cases, want 1", n)
		}
		if got := w.mapping(name).CompanyCaseID; got != id {
			t.Errorf("mapping links CRM case %q, want %q", got, id)
		}
	})
	t.Run("a Google case carrying the link comment for a flagged CRM case is linked to it", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Linked by hand", Description: "d", Priority: "normal", SyncFlag: true})
		// The Google case names the CRM case in a link comment, but the CRM
		// case's Google-case field is empty: both sides are picked up on their
		// own and must end as one mapping.
		name := w.newGoogleCase("Linked by hand", "P3")
		if _, err := w.google.AddComment(name, casesync.LinkLine(id), csapitest.Actor{DisplayName: "casebridge", Email: connectorEmail}); err != nil {
			t.Fatal(err)
		}
		w.settle()
		w.settle()
		if n := len(w.google.Cases()); n != 1 {
			t.Errorf("Google has %d cases, want 1", n)
		}
		if n := len(w.crm.Tickets()); n != 1 {
			t.Errorf("CRM has %d tickets, want 1", n)
		}
		c, _ := w.crm.GetCase(w.ctx, id)
		if c.GoogleCase != name {
			t.Errorf("CRM case links %q, want %q", c.GoogleCase, name)
		}
	})
}

func TestCommentsMirrorBothWaysOnceWithoutEcho(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Comments", "P2")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	if _, err := w.google.AddComment(name, "Customer detail from the console.", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	agentName, err := w.google.AddAgentComment(name, "Please send the serial console log.")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.crm.AddHumanComment(id, "Bob", "Here is what we see.", true); err != nil {
		t.Fatal(err)
	}
	if _, err := w.crm.AddHumanComment(id, "Bob", "Internal: customer is on a trial.", false); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.settle()

	crmBodies := bodiesOf(w.crmComments(id))
	if got := countWithPrefix(crmBodies, "[Google Comment "); got != 2 {
		t.Errorf("CRM has %d mirrored Google comments, want 2: %q", got, crmBodies)
	}
	agentID := agentName[strings.LastIndex(agentName, "/")+1:]
	agent := ""
	for _, b := range crmBodies {
		if strings.HasPrefix(b, "[Google Comment "+agentID+" by ") {
			agent = b
		}
	}
	if !strings.Contains(agent, "(Google Support)]") || !strings.HasSuffix(agent, "Please send the serial console log.") {
		t.Errorf("agent comment in the CRM = %q; want it attributed to Google Support with its text", agent)
	}
	gBodies := w.googleBodies(name)
	if got := countWithPrefix(gBodies, "[Company Comment "); got != 1 {
		t.Errorf("Google has %d mirrored CRM comments, want exactly 1 (the public one): %q", got, gBodies)
	}
	for _, b := range gBodies {
		if strings.Contains(b, "trial") {
			t.Errorf("an internal CRM note reached Google: %q", b)
		}
		if strings.HasPrefix(b, "[Google Comment ") {
			t.Errorf("a mirrored comment echoed back to Google: %q", b)
		}
	}
	for _, b := range crmBodies {
		if strings.HasPrefix(b, "[Company Comment ") {
			t.Errorf("a mirrored comment echoed back to the CRM: %q", b)
		}
	}
}

func TestALongCRMCommentIsSplitIntoNumberedParts(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Long", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	long := strings.Repeat("log line with details\n", 1500) // 33,000 characters
	if _, err := w.crm.AddHumanComment(id, "Bob", long, true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	var parts []string
	for _, b := range w.googleBodies(name) {
		if strings.HasPrefix(b, "[Company Comment ") {
			parts = append(parts, b)
		}
	}
	if len(parts) != 3 {
		t.Fatalf("got %d parts on Google, want 3", len(parts))
	}
	var joined strings.Builder
	for i := 1; i <= 3; i++ {
		found := false
		for _, p := range parts {
			if _, rest, ok := strings.Cut(p, " (part "+string(rune('0'+i))+"/3)\n\n"); ok {
				joined.WriteString(rest)
				found = true
			}
		}
		if !found {
			t.Fatalf("part %d/3 is missing", i)
		}
	}
	if joined.String() != long {
		t.Errorf("the parts joined do not give back the comment (%d vs %d characters)", joined.Len(), len(long))
	}
}

func TestAttachmentsCopyBothWaysBytesIntact(t *testing.T) {
	w := newWorld(t, casesync.Config{MaxAttachmentBytes: 1 << 20})
	name := w.newGoogleCase("Files", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	bin := []byte{0, 1, 2, 0, 255, 0, 'P', 'K', 3, 4, 0, 0}
	if _, err := w.google.AddAttachment(name, "dump.bin", "application/octet-stream", bin, csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	text := []byte("crm side log\x00with a NUL\n")
	if _, err := w.crm.AddHumanAttachment(id, "Bob", "crm.log", "text/plain", text); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{7}, 2<<20)
	if _, err := w.crm.AddHumanAttachment(id, "Bob", "huge.iso", "application/octet-stream", big); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.settle()

	catts, err := w.crm.ListAttachments(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(catts) != 3 {
		t.Errorf("CRM has %d attachments, want 3 (two of its own, one copied)", len(catts))
	}
	for _, a := range catts {
		if a.Filename != "dump.bin" {
			continue
		}
		rc, err := w.crm.DownloadAttachment(w.ctx, id, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, bin) {
			t.Errorf("dump.bin in the CRM = %v, want %v", got, bin)
		}
	}
	gatts := w.google.Attachments(name)
	if len(gatts) != 2 {
		t.Errorf("Google has %d attachments, want 2 (its own and crm.log; huge.iso is over the limit)", len(gatts))
	}
	for _, a := range gatts {
		if a.Filename == "crm.log" {
			data, _ := w.google.AttachmentData(a.Name)
			if !bytes.Equal(data, text) {
				t.Errorf("crm.log on Google = %q, want %q", data, text)
			}
		}
		if a.Filename == "huge.iso" {
			t.Errorf("huge.iso was copied although it is over the limit")
		}
	}
	notices := 0
	for _, b := range w.googleBodies(name) {
		if strings.HasPrefix(b, "[Company Attachment ") && strings.Contains(b, `"huge.iso"`) && strings.Contains(b, "limit") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("Google has %d notices about huge.iso, want 1", notices)
	}
}

func TestPriorityChangesCrossOver(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Priority", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID

	t.Run("a Google change reaches the CRM", func(t *testing.T) {
		if err := w.google.SetPriority(name, "P1"); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if c, _ := w.crm.GetCase(w.ctx, id); c.Priority != "urgent" {
			t.Errorf("CRM priority = %q, want urgent", c.Priority)
		}
	})
	t.Run("a CRM change reaches Google", func(t *testing.T) {
		if err := w.crm.SetHumanPriority(id, "low"); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if g, _ := w.google.Case(name); g.Priority != "P4" {
			t.Errorf("Google priority = %q, want P4", g.Priority)
		}
	})
	t.Run("when both change, the more urgent one wins", func(t *testing.T) {
		if err := w.crm.SetHumanPriority(id, "high"); err != nil { // P2
			t.Fatal(err)
		}
		if err := w.google.SetPriority(name, "P0"); err != nil {
			t.Fatal(err)
		}
		w.settle()
		g, _ := w.google.Case(name)
		c, _ := w.crm.GetCase(w.ctx, id)
		if g.Priority != "P0" || c.Priority != "critical" {
			t.Errorf("priorities = Google %q, CRM %q; want P0 and critical", g.Priority, c.Priority)
		}
	})
}

func TestACRMWithFewerPrioritiesDoesNotFlattenGooglesPriority(t *testing.T) {
	table, err := casesync.ParsePriorityTable("critical=P0,critical=P1,high=P2,normal=P3,low=P4")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, casesync.Config{Priorities: table})
	name := w.newGoogleCase("Shared priority value", "P1")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	check := func(t *testing.T, wantGoogle, wantCRM string) {
		t.Helper()
		g, _ := w.google.Case(name)
		c, _ := w.crm.GetCase(w.ctx, id)
		if g.Priority != wantGoogle || c.Priority != wantCRM {
			t.Errorf("priorities = Google %q, CRM %q; want %s and %s", g.Priority, c.Priority, wantGoogle, wantCRM)
		}
	}
	t.Run("a Google P1 is written as the shared value and stays P1", func(t *testing.T) {
		check(t, "P1", "critical")
		w.clock.Advance(time.Minute)
		w.settle()
		check(t, "P1", "critical")
	})
	t.Run("a CRM change still reaches Google", func(t *testing.T) {
		if err := w.crm.SetHumanPriority(id, "high"); err != nil {
			t.Fatal(err)
		}
		w.settle()
		check(t, "P2", "high")
	})
	t.Run("a Google P0 becomes the shared value and Google keeps P0", func(t *testing.T) {
		if err := w.google.SetPriority(name, "P0"); err != nil {
			t.Fatal(err)
		}
		w.settle()
		check(t, "P0", "critical")
	})
}

func TestClosingCarriesOverAndCleanupFollows(t *testing.T) {
	t.Run("closing the Google case closes the CRM case", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		name := w.newGoogleCase("Close me", "P3")
		w.settle()
		id := w.mapping(name).CompanyCaseID
		if err := w.google.CloseCase(name); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if c, _ := w.crm.GetCase(w.ctx, id); !c.Closed {
			t.Errorf("CRM case still open")
		}
		m := w.mapping(name)
		if m.ResolvedAt.IsZero() {
			t.Fatalf("mapping not resolved")
		}
		w.clock.Advance(29 * 24 * time.Hour)
		if n, err := w.engine.Cleanup(w.ctx); err != nil || n != 0 {
			t.Errorf("Cleanup after 29 days = %d, %v; want 0", n, err)
		}
		w.clock.Advance(2 * 24 * time.Hour)
		if n, err := w.engine.Cleanup(w.ctx); err != nil || n != 1 {
			t.Errorf("Cleanup after 31 days = %d, %v; want 1", n, err)
		}
		if n, err := w.engine.Cleanup(w.ctx); err != nil || n != 0 {
			t.Errorf("second Cleanup = %d, %v; want 0", n, err)
		}
	})
	t.Run("closing the CRM case closes the Google case", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Close from CRM", Description: "d", Priority: "normal", SyncFlag: true})
		w.settle()
		c, _ := w.crm.GetCase(w.ctx, id)
		if err := w.crm.HumanClose(id); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if g, _ := w.google.Case(c.GoogleCase); g.State != "CLOSED" {
			t.Errorf("Google case state = %q, want CLOSED", g.State)
		}
	})
}

func TestReopenPolicy(t *testing.T) {
	setup := func(t *testing.T, policy casesync.ReopenPolicy) (*world, string, string) {
		w := newWorld(t, casesync.Config{ReopenPolicy: policy})
		name := w.newGoogleCase("Reopen", "P3")
		w.settle()
		id := w.mapping(name).CompanyCaseID
		if err := w.crm.HumanClose(id); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if err := w.crm.HumanReopen(id); err != nil {
			t.Fatal(err)
		}
		w.settle()
		w.settle()
		return w, name, id
	}
	t.Run("by default the reopened CRM case is told once and stays open", func(t *testing.T) {
		w, name, id := setup(t, "")
		c, _ := w.crm.GetCase(w.ctx, id)
		if c.Closed {
			t.Errorf("casebridge closed the reopened CRM case again")
		}
		if got := countWithPrefix(bodiesOf(w.crmComments(id)), "This case was reopened, but its Google Cloud support case "+name); got != 1 {
			t.Errorf("reopen notices = %d, want 1", got)
		}
		if n := len(w.google.Cases()); n != 1 {
			t.Errorf("Google has %d cases, want 1", n)
		}
	})
	t.Run("with the new-case policy a new linked Google case is opened", func(t *testing.T) {
		w, name, id := setup(t, casesync.ReopenNewCase)
		c, _ := w.crm.GetCase(w.ctx, id)
		if c.GoogleCase == name || c.GoogleCase == "" {
			t.Fatalf("CRM case links %q; want a new Google case", c.GoogleCase)
		}
		if n := len(w.google.Cases()); n != 2 {
			t.Errorf("Google has %d cases, want 2", n)
		}
		if _, err := w.crm.AddHumanComment(id, "Bob", "It broke again.", true); err != nil {
			t.Fatal(err)
		}
		w.settle()
		if got := countWithPrefix(w.googleBodies(c.GoogleCase), "[Company Comment "); got != 1 {
			t.Errorf("the new Google case got %d mirrored comments, want 1", got)
		}
	})
}

func TestDuplicateDeliveriesRunConcurrentlyEndWithOneCopy(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) { testDuplicateDeliveries(t, sk) })
	}
}

func testDuplicateDeliveries(t *testing.T, sk storeKind) {
	w := newWorldOn(t, casesync.Config{}, sk)
	name := w.newGoogleCase("Twice", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.google.AddComment(name, "only once please", csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	g, _ := w.google.Case(name)
	upd, _ := time.Parse(time.RFC3339Nano, g.UpdateTime)
	ref := casesync.CaseRef{Side: casesync.SideGoogle, ID: name, UpdateTime: upd}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.engine.SyncCase(w.ctx, ref)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, casesync.ErrLeaseHeld) {
			t.Errorf("SyncCase: %v", err)
		}
	}
	// Redelivery of the ones that found the lease held.
	for range errs {
		if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
			t.Errorf("redelivered SyncCase: %v", err)
		}
	}
	w.settle()
	if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 1 {
		t.Errorf("CRM has %d copies, want 1", got)
	}
}

func TestACrashAfterTheSideEffectLeavesOneCopy(t *testing.T) {
	tests := []struct {
		name  string
		crm   string // CRM call that crashes after doing its work
		goog  string // Google call that crashes after doing its work
		setup func(w *world) (check func(t *testing.T))
	}{
		{
			name: "a Google comment mirrored to the CRM",
			crm:  "AddComment",
			setup: func(w *world) func(t *testing.T) {
				name := w.newGoogleCase("c", "P3")
				w.settle()
				id := w.mapping(name).CompanyCaseID
				w.google.AddComment(name, "hello", csapitest.Actor{DisplayName: "Alice", Email: customer})
				return func(t *testing.T) {
					if got := countWithPrefix(bodiesOf(w.crmComments(id)), "[Google Comment "); got != 1 {
						t.Errorf("CRM copies = %d, want 1", got)
					}
				}
			},
		},
		{
			name: "a CRM comment mirrored to Google",
			goog: "AddComment",
			setup: func(w *world) func(t *testing.T) {
				name := w.newGoogleCase("c", "P3")
				w.settle()
				id := w.mapping(name).CompanyCaseID
				w.crm.AddHumanComment(id, "Bob", "hi", true)
				return func(t *testing.T) {
					if got := countWithPrefix(w.googleBodies(name), "[Company Comment "); got != 1 {
						t.Errorf("Google copies = %d, want 1", got)
					}
				}
			},
		},
		{
			name: "a CRM case created for a Google case",
			crm:  "CreateCase",
			setup: func(w *world) func(t *testing.T) {
				w.newGoogleCase("c", "P3")
				return func(t *testing.T) {
					if n := len(w.crm.Tickets()); n != 1 {
						t.Errorf("CRM tickets = %d, want 1", n)
					}
				}
			},
		},
		{
			name: "a CRM case created for a Google case, with the CRM's search lagging",
			crm:  "CreateCase",
			setup: func(w *world) func(t *testing.T) {
				w.engine.CRM = laggingCRM{CRM: w.crm, lag: 7 * time.Second, now: w.clock.Now}
				w.newGoogleCase("c", "P3")
				return func(t *testing.T) {
					if n := len(w.crm.Tickets()); n != 1 {
						t.Errorf("CRM tickets = %d, want 1", n)
					}
				}
			},
		},
		{
			name: "a Google case created for a CRM case, with the search index lagging",
			goog: "CreateCase",
			setup: func(w *world) func(t *testing.T) {
				w.crm.CreateTicket(crmsim.Ticket{Subject: "c", Description: "d", Priority: "normal", SyncFlag: true})
				w.google.SetSearchLag(3 * time.Second)
				return func(t *testing.T) {
					if n := len(w.google.Cases()); n != 1 {
						t.Errorf("Google cases = %d, want 1", n)
					}
				}
			},
		},
		{
			name: "an attachment copied to Google",
			goog: "UploadAttachment",
			setup: func(w *world) func(t *testing.T) {
				name := w.newGoogleCase("c", "P3")
				w.settle()
				id := w.mapping(name).CompanyCaseID
				w.crm.AddHumanAttachment(id, "Bob", "a.bin", "application/octet-stream", []byte{0, 1, 0})
				return func(t *testing.T) {
					if n := len(w.google.Attachments(name)); n != 1 {
						t.Errorf("Google attachments = %d, want 1", n)
					}
					if as, _ := w.crm.ListAttachments(w.ctx, id); len(as) != 1 {
						t.Errorf("CRM attachments = %d, want 1 (no copy back)", len(as))
					}
				}
			},
		},
		{
			name: "an attachment copied to the CRM",
			crm:  "UploadAttachment",
			setup: func(w *world) func(t *testing.T) {
				name := w.newGoogleCase("c", "P3")
				w.settle()
				id := w.mapping(name).CompanyCaseID
				w.google.AddAttachment(name, "g.bin", "application/octet-stream", []byte{9, 0, 9}, csapitest.Actor{DisplayName: "Alice", Email: customer})
				return func(t *testing.T) {
					if as, _ := w.crm.ListAttachments(w.ctx, id); len(as) != 1 {
						t.Errorf("CRM attachments = %d, want 1", len(as))
					}
					if n := len(w.google.Attachments(name)); n != 1 {
						t.Errorf("Google attachments = %d, want 1 (no copy back)", n)
					}
				}
			},
		},
	}
	for _, sk := range storeKinds {
		for _, tt := range tests {
			t.Run(tt.name+", with the store "+sk.name, func(t *testing.T) {
				w := newWorldOn(t, casesync.Config{}, sk)
				check := tt.setup(w)
				crash := &crashAfter{}
				if tt.crm != "" {
					crash.op, crash.left = tt.crm, 1
					w.engine.CRM = crashingCRM{CRM: w.engine.CRM, crashAfter: crash}
				} else {
					crash.op, crash.left = tt.goog, 1
					w.engine.Google = crashingGoogle{Google: w.engine.Google, crashAfter: crash}
				}
				// Deliver like Pub/Sub: a failed event comes back.
				for round := 0; round < 20; round++ {
					w.tick()
					w.engine.PollGoogle(w.ctx)
					w.engine.PollCRM(w.ctx)
					refs := w.queue.take()
					retry := false
					for _, ref := range refs {
						if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
							if !casesync.IsTransient(err) {
								t.Fatalf("SyncCase: permanent error %v", err)
							}
							retry = true
							w.queue.PublishSyncRequested(w.ctx, ref)
						}
					}
					if !retry && len(refs) == 0 && crash.left == 0 {
						break
					}
				}
				if crash.left != 0 {
					t.Fatalf("the crash was never injected")
				}
				w.settle()
				check(t)
			})
		}
	}
}

func TestTwoCRMCasesClaimingOneGoogleCaseIsAPermanentConflict(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Claimed twice", "P3")
	w.settle()
	second := w.crm.CreateTicket(crmsim.Ticket{Subject: "Also mine", Description: "d", Priority: "normal", GoogleCase: name})
	_, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: second})
	var ce *casesync.ConflictError
	if !errors.As(err, &ce) || !casesync.IsPermanent(err) {
		t.Fatalf("SyncCase of a second CRM case naming %s = %v; want a permanent ConflictError", name, err)
	}
	if n := len(w.crm.Tickets()); n != 2 {
		t.Errorf("CRM has %d tickets, want the 2 people made", n)
	}
	if n := len(w.google.Cases()); n != 1 {
		t.Errorf("Google has %d cases, want 1", n)
	}
	// The status command shows the conflict.
	refusals, err := w.store.ListRefusals(w.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(refusals) != 1 || refusals[0].Kind != casesync.RefusedLinkConflict || refusals[0].CaseID != second {
		t.Errorf("refusals = %+v; want one link conflict for CRM case %s", refusals, second)
	}
}

func TestAPendingMarkLeftByClockSkewIsClearedByTheNextDelivery(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Skew", "P3")
	w.settle()
	m := w.mapping(name)
	g, _ := w.google.Case(name)
	upd, _ := time.Parse(time.RFC3339Nano, g.UpdateTime)
	// A poller whose clock runs ahead marked the change pending after the
	// reconciliation that covered it had started.
	if err := w.store.MarkPending(w.ctx, casesync.SideGoogle, []string{m.ID}, w.clock.Now().Add(time.Minute), w.clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	res, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name, UpdateTime: upd})
	if err != nil || res.Skipped == "" {
		t.Fatalf("SyncCase = %+v, %v; want it skipped as unchanged", res, err)
	}
	if p := w.mapping(name).Google.PendingSince; !p.IsZero() {
		t.Errorf("the pending mark %v survived a delivery of a change already reconciled", p)
	}
}

// refusingCRM refuses uploads over limit bytes with a 413, as a CRM whose
// own attachment limit is lower than casebridge's does.
type refusingCRM struct {
	casesync.CRM
	limit int64
}

func (c refusingCRM) UploadAttachment(ctx context.Context, id, filename, mime string, r io.Reader) (casesync.Attachment, error) {
	n, _ := io.Copy(io.Discard, r)
	if n > c.limit {
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: "attachments.upload", Status: 413, Err: errors.New("too large")}
	}
	return c.CRM.UploadAttachment(ctx, id, filename, mime, bytes.NewReader(make([]byte, n)))
}

func TestAFileTheCRMRefusesAsTooLargeGetsANoticeAndSyncGoesOn(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	w.engine.CRM = refusingCRM{CRM: w.crm, limit: 1000}
	name := w.newGoogleCase("Refused file", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if _, err := w.google.AddAttachment(name, "big.log", "text/plain", bytes.Repeat([]byte("x"), 5000), csapitest.Actor{DisplayName: "Alice", Email: customer}); err != nil {
		t.Fatal(err)
	}
	if err := w.google.SetPriority(name, "P1"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.settle()
	notices := 0
	for _, b := range bodiesOf(w.crmComments(id)) {
		if strings.HasPrefix(b, "[Google Attachment ") && strings.Contains(b, `"big.log"`) && strings.Contains(b, "refused it") {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("the CRM has %d notices about big.log, want 1", notices)
	}
	if c, _ := w.crm.GetCase(w.ctx, id); c.Priority != "urgent" {
		t.Errorf("CRM priority = %q, want urgent: a refused file must not hold the rest of the sync back", c.Priority)
	}
}

func TestAReopenedCRMCaseStaysOpenAfterItsMappingIsCleanedUp(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Reopened after cleanup", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	if err := w.crm.HumanClose(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if err := w.crm.HumanReopen(id); err != nil {
		t.Fatal(err)
	}
	w.settle()
	w.clock.Advance(31 * 24 * time.Hour)
	if n, err := w.engine.Cleanup(w.ctx); err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want the resolved mapping deleted", n, err)
	}
	if _, err := w.crm.AddHumanComment(id, "Bob", "still working on it", true); err != nil {
		t.Fatal(err)
	}
	// The ticket stays a candidate while it is in the polling window, so
	// deliver a few polls' events rather than wait for quiet.
	for range 3 {
		w.tick()
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			t.Fatal(err)
		}
		for _, ref := range w.queue.take() {
			if _, err := w.engine.SyncCase(w.ctx, ref); err != nil {
				t.Fatalf("SyncCase(%+v): %v", ref, err)
			}
		}
	}
	if c, _ := w.crm.GetCase(w.ctx, id); c.Closed {
		t.Errorf("casebridge closed the reopened CRM case to match its closed Google case")
	}
	if g, _ := w.google.Case(name); g.State != "CLOSED" {
		t.Errorf("Google case state = %s, want it left CLOSED", g.State)
	}
}

// failAfterLink fails the first mapping update after a new Google case was
// linked, as a crash or a Firestore error between two writes would.
type failAfterLink struct {
	casesync.Store
	armed, linked, fired bool
}

func (s *failAfterLink) LinkKey(ctx context.Context, id string, side casesync.Side, key string) (casesync.Mapping, error) {
	m, err := s.Store.LinkKey(ctx, id, side, key)
	if s.armed && side == casesync.SideGoogle && err == nil {
		s.linked = true
	}
	return m, err
}

func (s *failAfterLink) UpdateMapping(ctx context.Context, id string, fn func(*casesync.Mapping) error) (casesync.Mapping, error) {
	if s.linked && !s.fired {
		s.fired = true
		return casesync.Mapping{}, &casesync.TransientError{Err: errors.New("injected failure after the link")}
	}
	return s.Store.UpdateMapping(ctx, id, fn)
}

func TestAReopenedCaseMovedToANewGoogleCaseIsOpenEvenIfAWriteFailsAfterTheLink(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run("with the store "+sk.name, func(t *testing.T) {
			w := newWorldOn(t, casesync.Config{ReopenPolicy: casesync.ReopenNewCase}, sk)
			fs := &failAfterLink{Store: w.store}
			w.store, w.engine.Store = fs, fs
			name := w.newGoogleCase("Reopen with a new case", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			if err := w.crm.HumanClose(id); err != nil {
				t.Fatal(err)
			}
			w.settle()
			fs.armed = true
			if err := w.crm.HumanReopen(id); err != nil {
				t.Fatal(err)
			}
			w.tick()
			if _, err := w.engine.PollCRM(w.ctx); err != nil {
				t.Fatal(err)
			}
			for _, ref := range w.queue.take() {
				w.tick()
				w.engine.SyncCase(w.ctx, ref) // fails after the link
				w.tick()
				if _, err := w.engine.SyncCase(w.ctx, ref); err != nil { // Pub/Sub redelivers
					t.Fatalf("redelivery: %v", err)
				}
			}
			w.settle()
			if !fs.fired {
				t.Fatalf("the injected failure never happened")
			}
			c, _ := w.crm.GetCase(w.ctx, id)
			if c.GoogleCase == name || c.GoogleCase == "" {
				t.Fatalf("the CRM case names Google case %q, want a new one", c.GoogleCase)
			}
			if m := w.mapping(c.GoogleCase); m.Resolved() {
				t.Errorf("the mapping of the open new Google case is resolved (at %v): outage detection would skip it and cleanup would delete it", m.ResolvedAt)
			}
		})
	}
}
