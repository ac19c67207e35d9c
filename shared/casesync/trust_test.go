package casesync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// These tests cover the trust model (docs/trust.md): casebridge links and
// copies only on proof it wrote itself, or on a CRM field inside its scope.

func TestALinkLineCountsOnlyWhenCasebridgeWroteIt(t *testing.T) {
	attacker := csapitest.Actor{DisplayName: "Mallory", Email: "mallory@example.com"}
	tests := []struct {
		name    string
		flagged bool
		// plant puts the link line for ticket id on a new Google case and
		// returns the case's name.
		plant func(w *world, id string) string
	}{
		{"a customer's comment naming an unflagged ticket", false, func(w *world, id string) string {
			name := w.newGoogleCase("Innocent title", "P3")
			if _, err := w.google.AddComment(name, "Please note:\n"+casesync.LinkLine(id), attacker); err != nil {
				w.t.Fatal(err)
			}
			return name
		}},
		{"a customer's comment naming a flagged ticket", true, func(w *world, id string) string {
			name := w.newGoogleCase("Innocent title", "P3")
			if _, err := w.google.AddComment(name, casesync.LinkLine(id), attacker); err != nil {
				w.t.Fatal(err)
			}
			return name
		}},
		{"a description a customer wrote naming a flagged ticket", true, func(w *world, id string) string {
			name, err := w.google.CreateCase(project, "Innocent title", "Details.\n\n"+casesync.LinkLine(id), "P3", attacker.Email)
			if err != nil {
				w.t.Fatal(err)
			}
			return name
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name+" links nothing and copies nothing between them", func(t *testing.T) {
			w := newWorld(t, casesync.Config{})
			secret := "Confidential reply for the real requester."
			id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Payroll outage", Description: "d", Priority: "normal", SyncFlag: tc.flagged})
			if _, err := w.crm.AddHumanComment(id, "Bob", secret, true); err != nil {
				t.Fatal(err)
			}
			planted := tc.plant(w, id)
			if _, err := w.google.AddComment(planted, "Attacker's question for ticket "+id, attacker); err != nil {
				t.Fatal(err)
			}
			w.settle()
			w.settle()

			if got := w.mapping(planted).CompanyCaseID; got == id {
				t.Fatalf("the planted Google case was linked to CRM case %s", id)
			}
			for _, b := range w.googleBodies(planted) {
				if strings.Contains(b, secret) {
					t.Errorf("the CRM case's reply reached the planted Google case")
				}
			}
			for _, c := range w.crmComments(id) {
				if strings.Contains(c.Body, "Attacker's question") {
					t.Errorf("the planted case's comment reached CRM case %s", id)
				}
			}
			tk, _ := w.crm.Ticket(id)
			if tk.GoogleCase == planted {
				t.Errorf("CRM case %s names the planted Google case in its field", id)
			}
			if tc.flagged && tk.GoogleCase == "" {
				t.Errorf("the flagged CRM case got no Google case of its own")
			}
		})
	}
}

func TestALinkLineNamingATicketThatNoLongerAsksToSyncIsRefused(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Not for Google", Description: "d", Priority: "normal"})
	name := w.newGoogleCase("Case", "P3")
	// casebridge's own identity wrote the line (an earlier link), but the
	// ticket has since been unflagged and its field cleared.
	if _, err := w.google.AddComment(name, casesync.LinkLine(id), csapitest.Actor{DisplayName: "casebridge", Email: connectorEmail}); err != nil {
		t.Fatal(err)
	}
	_, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideGoogle, ID: name})
	var re *casesync.RefusedError
	if !errors.As(err, &re) || !casesync.IsPermanent(err) {
		t.Fatalf("SyncCase = %v; want a permanent refusal", err)
	}
	if tk, _ := w.crm.Ticket(id); len(tk.Comments) != 0 || tk.GoogleCase != "" {
		t.Errorf("the unflagged CRM case was written to: %d comments, Google case field %q", len(tk.Comments), tk.GoogleCase)
	}
	if n := len(w.crm.Tickets()); n != 1 {
		t.Errorf("CRM has %d tickets, want 1: a refused link creates no other case", n)
	}
	refusals, err := w.store.ListRefusals(w.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(refusals) != 1 || refusals[0].Kind != casesync.RefusedLinkedCaseNotFlagged || refusals[0].CaseID != name || refusals[0].Count != 1 {
		t.Errorf("refusals = %+v; want one %s for %s", refusals, casesync.RefusedLinkedCaseNotFlagged, name)
	}
}

func TestAGoogleCaseFieldIsHonouredOnlyWhenWellFormedInScopeAndReadable(t *testing.T) {
	tests := []struct {
		name  string
		value string
		kind  casesync.RefusalKind
	}{
		{"a name with extra path segments", "projects/sandbox-project/cases/1/../../../v1/x", casesync.RefusedFieldMalformed},
		{"a name with a query", "projects/sandbox-project/cases/1?alt=media", casesync.RefusedFieldMalformed},
		{"free text", "see case 123", casesync.RefusedFieldMalformed},
		{"a case of another organization", "organizations/999/cases/12345678", casesync.RefusedFieldOutOfScope},
		{"a case that does not exist", "projects/sandbox-project/cases/99999999", casesync.RefusedFieldUnreadable},
	}
	for _, tc := range tests {
		t.Run(tc.name+" gets one internal note and nothing reaches Google", func(t *testing.T) {
			for _, sk := range storeKinds {
				t.Run(sk.name, func(t *testing.T) {
					w := newWorldOn(t, casesync.Config{}, sk)
					id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Linked by hand", Description: "d", Priority: "normal", SyncFlag: true, GoogleCase: tc.value})
					if _, err := w.crm.AddHumanComment(id, "Bob", "A public reply.", true); err != nil {
						t.Fatal(err)
					}
					// The refused case is polled again while its change is
					// inside the polling window; each delivery is refused.
					w.rounds(4)

					if n := len(w.google.Cases()); n != 0 {
						t.Errorf("Google has %d cases, want none", n)
					}
					var notes []casesync.Comment
					for _, c := range w.crmComments(id) {
						if c.ByConnector {
							notes = append(notes, c)
						}
					}
					if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "Google case field") {
						t.Fatalf("the connector's comments on the CRM case: %+v; want one internal note about the field", notes)
					}
					refusals, err := w.store.ListRefusals(w.ctx, 10)
					if err != nil {
						t.Fatal(err)
					}
					if len(refusals) != 1 || refusals[0].Kind != tc.kind || refusals[0].CaseID != id || refusals[0].Count < 2 {
						t.Errorf("refusals = %+v; want one %s for CRM case %s, counted at least twice", refusals, tc.kind, id)
					}
				})
			}
		})
	}
	t.Run("a well-formed, readable case in scope is linked", func(t *testing.T) {
		w := newWorld(t, casesync.Config{})
		name := w.newGoogleCase("Existing", "P3")
		id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Existing", Description: "d", Priority: "normal", GoogleCase: name})
		w.settle()
		if got := w.mapping(name).CompanyCaseID; got != id {
			t.Errorf("mapping links CRM case %q, want %q", got, id)
		}
		if refusals, _ := w.store.ListRefusals(w.ctx, 10); len(refusals) != 0 {
			t.Errorf("refusals = %+v; want none", refusals)
		}
	})
}

func TestAHugeCRMReplyIsCappedAtMaxSplitParts(t *testing.T) {
	for _, limit := range []int{0, 3} {
		want := limit
		if want == 0 {
			want = 10 // the default
		}
		t.Run(fmt.Sprintf("MaxSplitParts %d posts %d parts", limit, want), func(t *testing.T) {
			w := newWorld(t, casesync.Config{MaxSplitParts: limit})
			name := w.newGoogleCase("Huge", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			var b strings.Builder
			for i := 0; b.Len() < 4_000_000; i++ {
				fmt.Fprintf(&b, "line %07d of a very long log pasted into a reply\n", i)
			}
			huge := b.String()[:4_000_000] // a 4 MB reply
			if _, err := w.crm.AddHumanComment(id, strings.Repeat("Bob ", 500), huge, true); err != nil {
				t.Fatal(err)
			}
			w.settle()
			var parts []string
			for _, body := range w.googleBodies(name) {
				if strings.HasPrefix(body, "[Company Comment ") {
					parts = append(parts, body)
				}
			}
			if len(parts) != want {
				t.Fatalf("got %d parts on Google, want %d", len(parts), want)
			}
			var joined strings.Builder
			for i, p := range parts {
				if n := utf8.RuneCountInString(p); n > casesync.MaxGoogleCommentLen {
					t.Errorf("part %d has %d characters, over Google's %d", i+1, n, casesync.MaxGoogleCommentLen)
				}
				label := fmt.Sprintf(" (part %d/%d)\n\n", i+1, want)
				_, rest, ok := strings.Cut(p, label)
				if !ok {
					t.Fatalf("part %d lacks the label %q", i+1, label)
				}
				if i < want-1 {
					joined.WriteString(rest)
				} else if !strings.Contains(rest, "Read it whole on the CRM case") {
					t.Errorf("the last part does not say the rest is in the CRM case")
				}
			}
			if !strings.HasPrefix(huge, joined.String()) {
				t.Errorf("the parts before the last are not the reply's beginning")
			}
			w.settle()
			if n := countWithPrefix(w.googleBodies(name), "[Company Comment "); n != want {
				t.Errorf("after another pass Google has %d parts, want %d", n, want)
			}
		})
	}
}

// rounds polls both sides and delivers what they publish n times, without
// waiting for the system to go quiet; a failed reconciliation fails the test.
func (w *world) rounds(n int) {
	w.t.Helper()
	if errs := w.roundsErr(n); len(errs) > 0 {
		w.t.Fatalf("reconciliations failed: %v", errs)
	}
}

// oddIDs is a CRM whose listings carry an item with a malformed id.
type oddIDs struct{ casesync.CRM }

func (c oddIDs) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	cs, err := c.CRM.ListComments(ctx, id)
	if err != nil || len(cs) == 0 {
		return cs, err
	}
	bad := cs[len(cs)-1]
	bad.ID = "7] by x\n" + strings.Repeat("9", 300)
	bad.Body = "smuggled"
	return append(cs, bad), nil
}

func TestAnItemWithAMalformedIDIsLeftAlone(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Odd ids", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	w.engine.CRM = oddIDs{w.engine.CRM}
	if _, err := w.crm.AddHumanComment(id, "Bob", "A normal reply.", true); err != nil {
		t.Fatal(err)
	}
	w.settle()
	bodies := w.googleBodies(name)
	if n := countWithPrefix(bodies, "[Company Comment "); n != 1 {
		t.Errorf("Google has %d mirrored CRM comments, want 1 (the well-formed one)", n)
	}
	for _, b := range bodies {
		if strings.Contains(b, "smuggled") {
			t.Errorf("the item with a malformed id reached Google")
		}
	}
}

func TestFilesOfInternalNotesFollowTheInternalNotesSwitch(t *testing.T) {
	for _, syncInternal := range []bool{false, true} {
		t.Run(fmt.Sprintf("SYNC_INTERNAL_NOTES=%v", syncInternal), func(t *testing.T) {
			w := newWorld(t, casesync.Config{SyncInternalNotes: syncInternal})
			name := w.newGoogleCase("Files", "P3")
			w.settle()
			id := w.mapping(name).CompanyCaseID
			if _, _, err := w.crm.AddHumanCommentWithFile(id, "Bob", "Internal: the customer's contract.", false, "contract.pdf", "application/pdf", []byte("%PDF secret")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := w.crm.AddHumanCommentWithFile(id, "Bob", "Here is the fix.", true, "fix.txt", "text/plain", []byte("do this")); err != nil {
				t.Fatal(err)
			}
			w.settle()
			got := map[string]bool{}
			for _, a := range w.google.Attachments(name) {
				got[a.Filename] = true
			}
			want := map[string]bool{"fix.txt": true}
			if syncInternal {
				want["contract.pdf"] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("files on Google (-want +got):\n%s", diff)
			}
		})
	}
}

// oddSearch is a CRM whose search also returns a case with a malformed id.
type oddSearch struct{ casesync.CRM }

func (c oddSearch) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	cs, err := c.CRM.SearchUpdated(ctx, since)
	return append(cs, casesync.CompanyCase{ID: "../../" + strings.Repeat("x", 3000), SyncFlag: true, UpdateTime: time.Now()}), err
}

func TestAPollLeavesOutACaseWithAMalformedID(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Good", Description: "d", Priority: "normal", SyncFlag: true})
	w.engine.CRM = oddSearch{w.engine.CRM}
	res, err := w.engine.PollCRM(w.ctx)
	if err != nil {
		t.Fatalf("PollCRM: %v", err)
	}
	refs := w.queue.take()
	if len(refs) != 1 || refs[0].ID != id || res.Published != 1 {
		t.Errorf("published %d refs (result says %d); want only CRM case %s", len(refs), res.Published, id)
	}
	if _, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: "../x"}); !casesync.IsPermanent(err) {
		t.Errorf("SyncCase of a malformed id = %v; want a permanent error", err)
	}
}

// overLimitDownloads is a CRM whose downloads fail part-way with the
// adapter's permanent "too large" error, as when a file is served larger
// than listed.
type overLimitDownloads struct{ casesync.CRM }

func (c overLimitDownloads) DownloadAttachment(ctx context.Context, id, attachmentID string) (io.ReadCloser, error) {
	rc, err := c.CRM.DownloadAttachment(ctx, id, attachmentID)
	if err != nil {
		return nil, err
	}
	tooLarge := &casesync.APIError{Side: casesync.SideCompany, Op: "attachments.download", Status: 413, Err: errors.New("over the download limit")}
	return io.NopCloser(io.MultiReader(io.LimitReader(rc, 3), &failingReader{err: tooLarge})), nil
}

type failingReader struct{ err error }

func (f *failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestAFileServedLargerThanTheAdapterAllowsGetsANoticeAndSyncGoesOn(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Files", "P3")
	w.settle()
	id := w.mapping(name).CompanyCaseID
	w.engine.CRM = overLimitDownloads{w.engine.CRM}
	if _, err := w.crm.AddHumanAttachment(id, "Bob", "dump.bin", "application/octet-stream", []byte("listed small")); err != nil {
		t.Fatal(err)
	}
	if err := w.crm.SetHumanPriority(id, "critical"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if n := len(w.google.Attachments(name)); n != 0 {
		t.Errorf("Google has %d attachments, want none", n)
	}
	if n := countWithPrefix(w.googleBodies(name), "[Company Attachment "); n != 1 {
		t.Errorf("Google has %d notices about the file, want 1", n)
	}
	if g, _ := w.google.Case(name); g.Priority != "P0" {
		t.Errorf("Google priority %s; the priority change after the file must still sync", g.Priority)
	}
}

func TestCheckingAGoogleCaseFieldReadsTheCaseOnce(t *testing.T) {
	w := newWorld(t, casesync.Config{})
	name := w.newGoogleCase("Existing", "P3")
	id := w.crm.CreateTicket(crmsim.Ticket{Subject: "Existing", Description: "d", Priority: "normal", GoogleCase: name})
	w.google.ResetCalls()
	if _, err := w.engine.SyncCase(w.ctx, casesync.CaseRef{Side: casesync.SideCompany, ID: id}); err != nil {
		t.Fatalf("SyncCase: %v", err)
	}
	// Once, for the field check, shared with the first pass; the second
	// pass reads again only the CRM case the first wrote to.
	if n := w.google.Calls()["cases.get"]; n != 1 {
		t.Errorf("the reconciliation read the Google case %d times, want 1", n)
	}
}
