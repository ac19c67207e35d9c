// Package crmcontract is the contract suite every CRM adapter of casebridge
// must pass: the simulator, Request Tracker, Zendesk, Jira Service
// Management, ServiceNow, Freshdesk and Salesforce alike. It drives the adapter through the
// casesync.CRM port and acts as the helpdesk's human agents through a
// Harness the adapter's tests provide.
//
// The suite only looks at the tickets it creates, so it can run against a
// shared helpdesk instance that already holds other tickets. Google case
// names it writes are unique per run.
package crmcontract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/google/go-cmp/cmp"
)

// Harness lets the suite act as a human in the CRM under test.
type Harness interface {
	// CRM is the adapter under test, acting as the connector's sync user.
	CRM() casesync.CRM
	// CreateTicket opens a ticket as a human agent (no Google case set) and
	// returns its id.
	CreateTicket(t *testing.T, subject, description, priority string, syncFlag bool) string
	// AddHumanComment adds a public reply or internal note written by the
	// named human (not the sync user) and returns the comment's id as the
	// adapter's ListComments reports it.
	AddHumanComment(t *testing.T, id, author, body string, public bool) string
	// AddHumanAttachment attaches a file as a human (not the sync user), on a
	// public reply or the ticket itself, so the requester sees it, and
	// returns the attachment's id as ListAttachments reports it.
	AddHumanAttachment(t *testing.T, id, filename, mimeType string, data []byte) string
	// AddHumanInternalAttachment attaches a file to an internal note written
	// by a human, the way the helpdesk's agents keep a file from the
	// requester, and returns the attachment's id as ListAttachments reports
	// it.
	AddHumanInternalAttachment(t *testing.T, id, filename, mimeType string, data []byte) string
	// PriorityValues returns at least two valid priority values.
	PriorityValues() []string
	// InjectRateLimit makes the next call answer 429 with Retry-After once;
	// it returns false if the backend cannot.
	InjectRateLimit(t *testing.T) (ok bool)
	// MaxAttachmentBytes is the largest upload the CRM accepts; 0 if it
	// enforces no limit.
	MaxAttachmentBytes() int64
}

// CallCounter is implemented by a harness that can tell the adapter's API
// calls so far, per operation. The suite then also checks that an adapter's
// ListItems costs fewer calls than ListComments and ListAttachments
// together, and logs both.
type CallCounter interface {
	Calls() map[string]int64
}

// searchVisibleWithin is how long a change may take to show in search
// results: real helpdesks index with some lag.
const searchVisibleWithin = 30 * time.Second

// unknownID is a case id no helpdesk under test holds.
const unknownID = "987654321"

var runSeq atomic.Int64

// googleCaseName returns a Google case name no other test or run uses.
func googleCaseName() string {
	return fmt.Sprintf("projects/casebridge-contract/cases/%d%03d", time.Now().UnixNano(), runSeq.Add(1)%1000)
}

// Run runs the contract suite. newHarness is called once per subtest and
// may return a fresh CRM or one shared with other subtests.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Run("a case created by the connector reads back with its Google case", func(t *testing.T) {
		testCreateThenGet(t, newHarness(t))
	})
	t.Run("a case is found by its Google case and an unlinked name finds nothing", func(t *testing.T) {
		testFindByGoogleCase(t, newHarness(t))
	})
	t.Run("setting the Google case links a human's ticket and is idempotent", func(t *testing.T) {
		testSetGoogleCase(t, newHarness(t))
	})
	t.Run("every read that returns a case dates it by the CRM's clock when it answered", func(t *testing.T) {
		testReadAt(t, newHarness)
	})
	t.Run("search returns flagged and linked cases updated strictly after since", func(t *testing.T) {
		testSearchWindow(t, newHarness(t))
	})
	t.Run("search follows every page of many cases", func(t *testing.T) {
		testSearchMany(t, newHarness(t))
	})
	t.Run("search sees a comment as an update", func(t *testing.T) {
		testSearchSeesComment(t, newHarness(t))
	})
	t.Run("priority takes every valid value and refuses an unknown one", func(t *testing.T) {
		testPriority(t, newHarness(t))
	})
	t.Run("closing twice is fine and the case reads back closed", func(t *testing.T) {
		testCloseTwice(t, newHarness(t))
	})
	t.Run("comments list public replies and internal notes oldest first with their authors", func(t *testing.T) {
		testComments(t, newHarness(t))
	})
	t.Run("attachments upload list and download byte for byte", func(t *testing.T) {
		testAttachments(t, newHarness(t))
	})
	t.Run("a file on an internal note lists as not public and a file on a public reply as public", func(t *testing.T) {
		testAttachmentVisibility(t, newHarness(t))
	})
	// Only an adapter that lists both in one call has this to prove; the
	// others are listed with ListComments and ListAttachments.
	if h := newHarness(t); isItemLister(h.CRM()) {
		t.Run("listing comments and files in one go gives what the two listings give, for fewer calls", func(t *testing.T) {
			testListItems(t, h)
		})
	}
	t.Run("a 25 MiB file downloads as a stream with flat memory", func(t *testing.T) {
		testDownloadStreams(t, newHarness(t))
	})
	t.Run("a rate-limited call succeeds when tried again", func(t *testing.T) {
		testRateLimit(t, newHarness(t))
	})
	t.Run("every operation on an unknown case reports not found", func(t *testing.T) {
		testUnknownCase(t, newHarness(t))
	})
	t.Run("an attachment over the size limit is refused for good", func(t *testing.T) {
		testOversizedAttachment(t, newHarness(t))
	})
	t.Run("a comment body that is not UTF-8 is refused for good", func(t *testing.T) {
		testInvalidUTF8Comment(t, newHarness(t))
	})
	runState(t, newHarness)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantPermanent fails unless err is a permanent *casesync.APIError of the
// company side.
func wantPermanent(t *testing.T, what string, err error) {
	t.Helper()
	var ae *casesync.APIError
	switch {
	case err == nil:
		t.Errorf("%s: no error, want a permanent APIError", what)
	case !errors.As(err, &ae):
		t.Errorf("%s: error %v (%T), want a *casesync.APIError", what, err, err)
	case ae.Transient || casesync.IsTransient(err):
		t.Errorf("%s: error %v is transient, want permanent", what, err)
	case ae.Side != casesync.SideCompany:
		t.Errorf("%s: error side %q, want %q", what, ae.Side, casesync.SideCompany)
	}
}

// caseFields is what the suite compares of a case.
type caseFields struct {
	Subject, Description, Priority, GoogleCase string
	Closed                                     bool
}

func fields(c casesync.CompanyCase) caseFields {
	return caseFields{Subject: c.Subject, Description: c.Description, Priority: c.Priority, GoogleCase: c.GoogleCase, Closed: c.Closed}
}

func mustGet(t *testing.T, crm casesync.CRM, id string) casesync.CompanyCase {
	t.Helper()
	c, err := crm.GetCase(ctxFor(t), id)
	if err != nil {
		t.Fatalf("GetCase(%s): %v", id, err)
	}
	return c
}

func mustCreate(t *testing.T, crm casesync.CRM, nc casesync.NewCompanyCase) casesync.CompanyCase {
	t.Helper()
	c, err := crm.CreateCase(ctxFor(t), nc)
	if err != nil {
		t.Fatalf("CreateCase: %v", err)
	}
	if c.ID == "" {
		t.Fatalf("CreateCase returned a case without an id")
	}
	return c
}

func testCreateThenGet(t *testing.T, h Harness) {
	crm := h.CRM()
	p := h.PriorityValues()[0]
	in := casesync.NewCompanyCase{
		Subject:     "Contract: VM will not boot",
		Description: "The instance stops at the boot loader.\nSecond line — with non-ASCII text.",
		Priority:    p,
		GoogleCase:  googleCaseName(),
	}
	created := mustCreate(t, crm, in)
	want := caseFields{Subject: in.Subject, Description: in.Description, Priority: p, GoogleCase: in.GoogleCase}
	if diff := cmp.Diff(want, fields(created)); diff != "" {
		t.Errorf("CreateCase result (-want +got):\n%s", diff)
	}
	got := mustGet(t, crm, created.ID)
	if got.ID != created.ID {
		t.Errorf("GetCase id = %q, want %q", got.ID, created.ID)
	}
	if diff := cmp.Diff(want, fields(got)); diff != "" {
		t.Errorf("GetCase after create (-want +got):\n%s", diff)
	}
	if got.UpdateTime.IsZero() || got.CreateTime.IsZero() {
		t.Errorf("GetCase times: create %v, update %v; want both set", got.CreateTime, got.UpdateTime)
	}
	if got.UpdateTime.Before(got.CreateTime) {
		t.Errorf("update time %v is before create time %v", got.UpdateTime, got.CreateTime)
	}
}

func testFindByGoogleCase(t *testing.T, h Harness) {
	crm := h.CRM()
	name := googleCaseName()
	created := mustCreate(t, crm, casesync.NewCompanyCase{Subject: "Contract: find me", Description: "d", Priority: h.PriorityValues()[0], GoogleCase: name})
	tests := []struct {
		name   string
		lookup string
		wantOK bool
		wantID string
	}{
		{name: "the linked Google case finds its case", lookup: name, wantOK: true, wantID: created.ID},
		{name: "a Google case linked to nothing finds nothing", lookup: googleCaseName(), wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok, err := crm.FindByGoogleCase(ctxFor(t), tc.lookup)
			if err != nil {
				t.Fatalf("FindByGoogleCase: %v", err)
			}
			if ok != tc.wantOK || c.ID != tc.wantID {
				t.Errorf("FindByGoogleCase = (%q, %v), want (%q, %v)", c.ID, ok, tc.wantID, tc.wantOK)
			}
			if ok && c.GoogleCase != tc.lookup {
				t.Errorf("found case's GoogleCase = %q, want %q", c.GoogleCase, tc.lookup)
			}
		})
	}
}

func testSetGoogleCase(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: linked by the connector", "d", h.PriorityValues()[0], true)
	name := googleCaseName()
	for i := 1; i <= 2; i++ {
		if err := crm.SetGoogleCase(ctx, id, name); err != nil {
			t.Fatalf("SetGoogleCase (call %d): %v", i, err)
		}
	}
	if got := mustGet(t, crm, id).GoogleCase; got != name {
		t.Errorf("GoogleCase after SetGoogleCase = %q, want %q", got, name)
	}
	c, ok, err := crm.FindByGoogleCase(ctx, name)
	if err != nil || !ok || c.ID != id {
		t.Errorf("FindByGoogleCase after SetGoogleCase = (%q, %v, %v), want (%q, true, nil)", c.ID, ok, err, id)
	}
}

// readAtSlack is how far a case's ReadAt may be from the test's own clock
// around the read: the helpdesks under test run on this machine, and an
// HTTP Date is cut to the second.
const readAtSlack = 5 * time.Second

// checkReadAt checks the ReadAt of a case that a read made between before
// and after returned: set, near the test's clock, and not before the
// case's own update time (less a second, as a Date and an update time may
// be cut to the second differently).
func checkReadAt(t *testing.T, what string, c casesync.CompanyCase, before, after time.Time) {
	t.Helper()
	switch {
	case c.ReadAt.IsZero():
		t.Errorf("%s: ReadAt is zero, want the CRM's clock when it answered (the answer's Date)", what)
	case c.ReadAt.Before(before.Add(-readAtSlack)) || c.ReadAt.After(after.Add(readAtSlack)):
		t.Errorf("%s: ReadAt %v, want within %v of the test's clock around the read [%v, %v]",
			what, c.ReadAt, readAtSlack, before, after)
	case c.ReadAt.Before(c.UpdateTime.Add(-time.Second)):
		t.Errorf("%s: ReadAt %v is more than a second before the case's update time %v", what, c.ReadAt, c.UpdateTime)
	}
}

// timedRead is a read that returns a case, with the test's clock around
// the call that returned it.
type timedRead struct {
	c             casesync.CompanyCase
	before, after time.Time
}

// eventually repeats read until it returns a case, within
// searchVisibleWithin (a helpdesk's search may lag behind its changes).
func eventually(t *testing.T, what string, read func() (casesync.CompanyCase, bool)) timedRead {
	t.Helper()
	deadline := time.Now().Add(searchVisibleWithin)
	for {
		before := time.Now()
		c, ok := read()
		after := time.Now()
		if ok {
			return timedRead{c, before, after}
		}
		if after.After(deadline) {
			t.Fatalf("%s found nothing over %v", what, searchVisibleWithin)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testReadAt checks the ReadAt of every read that returns a case. Each
// read gets a harness of its own, so that a simulator whose clock moves at
// every reading is still near the test's clock.
func testReadAt(t *testing.T, newHarness func(t *testing.T) Harness) {
	reads := []struct {
		name string
		read func(t *testing.T, h Harness) timedRead
	}{
		{name: "GetCase of a human's ticket", read: func(t *testing.T, h Harness) timedRead {
			id := h.CreateTicket(t, "Contract: read at", "d", h.PriorityValues()[0], true)
			before := time.Now()
			c := mustGet(t, h.CRM(), id)
			return timedRead{c, before, time.Now()}
		}},
		{name: "CreateCase", read: func(t *testing.T, h Harness) timedRead {
			before := time.Now()
			c := mustCreate(t, h.CRM(), casesync.NewCompanyCase{Subject: "Contract: read at", Description: "d",
				Priority: h.PriorityValues()[0], GoogleCase: googleCaseName()})
			return timedRead{c, before, time.Now()}
		}},
		{name: "GetCase of the connector's case", read: func(t *testing.T, h Harness) timedRead {
			created := mustCreate(t, h.CRM(), casesync.NewCompanyCase{Subject: "Contract: read at", Description: "d",
				Priority: h.PriorityValues()[0], GoogleCase: googleCaseName()})
			before := time.Now()
			c := mustGet(t, h.CRM(), created.ID)
			return timedRead{c, before, time.Now()}
		}},
		{name: "FindByGoogleCase", read: func(t *testing.T, h Harness) timedRead {
			name := googleCaseName()
			mustCreate(t, h.CRM(), casesync.NewCompanyCase{Subject: "Contract: read at", Description: "d",
				Priority: h.PriorityValues()[0], GoogleCase: name})
			return eventually(t, "FindByGoogleCase", func() (casesync.CompanyCase, bool) {
				c, ok, err := h.CRM().FindByGoogleCase(ctxFor(t), name)
				if err != nil {
					t.Fatalf("FindByGoogleCase: %v", err)
				}
				return c, ok
			})
		}},
		{name: "SearchUpdated", read: func(t *testing.T, h Harness) timedRead {
			since := time.Now().Add(-time.Minute)
			id := h.CreateTicket(t, "Contract: read at", "d", h.PriorityValues()[0], true)
			return eventually(t, "SearchUpdated", func() (casesync.CompanyCase, bool) {
				cs, err := h.CRM().SearchUpdated(ctxFor(t), since)
				if err != nil {
					t.Fatalf("SearchUpdated: %v", err)
				}
				for _, c := range cs {
					if c.ID == id {
						return c, true
					}
				}
				return casesync.CompanyCase{}, false
			})
		}},
	}
	for _, r := range reads {
		t.Run(r.name+" dates the case near the test's clock and not before its update", func(t *testing.T) {
			got := r.read(t, newHarness(t))
			checkReadAt(t, r.name, got.c, got.before, got.after)
		})
	}
	t.Run("GetCase two seconds after the last change dates the case after its update", func(t *testing.T) {
		h := newHarness(t)
		id := h.CreateTicket(t, "Contract: read later", "d", h.PriorityValues()[0], true)
		// The update time is the CRM's clock at the change and ReadAt its
		// clock at the read: two seconds on, ReadAt is past the update
		// time even cut to the second, unless it is not the read's time.
		time.Sleep(2 * time.Second)
		before := time.Now()
		c := mustGet(t, h.CRM(), id)
		checkReadAt(t, "GetCase", c, before, time.Now())
		if !c.ReadAt.After(c.UpdateTime) {
			t.Errorf("GetCase two seconds after the last change: ReadAt %v is not after the update time %v", c.ReadAt, c.UpdateTime)
		}
	})
}

// searchIDs returns the ids SearchUpdated(since) returns among those in
// mine, failing on duplicates.
func searchIDs(t *testing.T, crm casesync.CRM, since time.Time, mine []string) []string {
	t.Helper()
	cs, err := crm.SearchUpdated(ctxFor(t), since)
	if err != nil {
		t.Fatalf("SearchUpdated(%v): %v", since, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range cs {
		if seen[c.ID] {
			t.Errorf("SearchUpdated returned case %s twice", c.ID)
		}
		seen[c.ID] = true
		if slices.Contains(mine, c.ID) {
			out = append(out, c.ID)
		}
		if !c.UpdateTime.After(since) {
			t.Errorf("SearchUpdated(%v) returned case %s updated at %v, not after since", since, c.ID, c.UpdateTime)
		}
	}
	slices.Sort(out)
	return out
}

// eventuallySearch polls SearchUpdated until the cases of mine it returns
// are want, allowing for search index lag.
func eventuallySearch(t *testing.T, crm casesync.CRM, since time.Time, mine, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(searchVisibleWithin)
	for {
		got := searchIDs(t, crm, since, mine)
		diff := cmp.Diff(want, got)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("SearchUpdated(%v) over %v, among this test's cases (-want +got):\n%s", since, searchVisibleWithin, diff)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testSearchWindow(t *testing.T, h Harness) {
	crm := h.CRM()
	p := h.PriorityValues()[0]
	flagged := h.CreateTicket(t, "Contract: flagged", "d", p, true)
	unflagged := h.CreateTicket(t, "Contract: not flagged", "d", p, false)
	linked := mustCreate(t, crm, casesync.NewCompanyCase{Subject: "Contract: linked", Description: "d", Priority: p, GoogleCase: googleCaseName()}).ID
	mine := []string{flagged, unflagged, linked}

	var latest time.Time
	for _, id := range mine {
		if u := mustGet(t, crm, id).UpdateTime; u.After(latest) {
			latest = u
		}
	}
	t.Run("a since before the changes includes the flagged and the linked case, not the unflagged one", func(t *testing.T) {
		eventuallySearch(t, crm, latest.Add(-time.Hour), mine, []string{flagged, linked})
	})
	t.Run("a since equal to the last update time excludes the case updated then", func(t *testing.T) {
		for _, id := range searchIDs(t, crm, latest, mine) {
			if u := mustGet(t, crm, id).UpdateTime; !u.After(latest) {
				t.Errorf("case %s (updated %v) returned for since %v", id, u, latest)
			}
		}
	})
	t.Run("a since in the future excludes every case", func(t *testing.T) {
		if diff := cmp.Diff([]string(nil), searchIDs(t, crm, time.Now().Add(time.Hour), mine)); diff != "" {
			t.Errorf("SearchUpdated(now+1h) among this test's cases (-want +got):\n%s", diff)
		}
	})
	t.Run("linking an unflagged case brings it into the results", func(t *testing.T) {
		if err := crm.SetGoogleCase(ctxFor(t), unflagged, googleCaseName()); err != nil {
			t.Fatalf("SetGoogleCase: %v", err)
		}
		eventuallySearch(t, crm, latest.Add(-time.Hour), mine, mine)
	})
}

func testSearchMany(t *testing.T, h Harness) {
	crm := h.CRM()
	p := h.PriorityValues()[0]
	const n = 25
	var mine []string
	earliest := time.Now().Add(time.Hour)
	for i := range n {
		id := h.CreateTicket(t, fmt.Sprintf("Contract: bulk %d", i), "d", p, true)
		mine = append(mine, id)
		if i == 0 {
			earliest = mustGet(t, crm, id).UpdateTime
		}
	}
	eventuallySearch(t, crm, earliest.Add(-time.Second), mine, mine)
}

func testSearchSeesComment(t *testing.T, h Harness) {
	crm := h.CRM()
	id := h.CreateTicket(t, "Contract: commented later", "d", h.PriorityValues()[0], true)
	before := mustGet(t, crm, id).UpdateTime
	// Update times may be coarse (whole seconds, minutes): wait until the
	// comment can carry a later one.
	deadline := time.Now().Add(searchVisibleWithin)
	for {
		h.AddHumanComment(t, id, "Contract Human", "A later reply.", true)
		if mustGet(t, crm, id).UpdateTime.After(before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the case's update time stayed %v after comments over %v", before, searchVisibleWithin)
		}
		time.Sleep(200 * time.Millisecond)
	}
	eventuallySearch(t, crm, before, []string{id}, []string{id})
}

func testPriority(t *testing.T, h Harness) {
	crm := h.CRM()
	values := h.PriorityValues()
	if len(values) < 2 {
		t.Fatalf("the harness gives %d priority values, want at least 2", len(values))
	}
	id := h.CreateTicket(t, "Contract: priorities", "d", values[0], true)
	type step struct{ name, value string }
	var steps []step
	for _, p := range values[1:] {
		steps = append(steps, step{"setting " + p + " reads back " + p, p})
	}
	steps = append(steps,
		step{"setting " + values[0] + " back reads back " + values[0], values[0]},
		step{"setting " + values[0] + " again is fine", values[0]})
	for _, st := range steps {
		p := st.value
		t.Run(st.name, func(t *testing.T) {
			if err := crm.SetPriority(ctxFor(t), id, p); err != nil {
				t.Fatalf("SetPriority(%q): %v", p, err)
			}
			if got := mustGet(t, crm, id).Priority; got != p {
				t.Errorf("priority = %q, want %q", got, p)
			}
		})
	}
	t.Run("an unknown value is refused and changes nothing", func(t *testing.T) {
		err := crm.SetPriority(ctxFor(t), id, "no-such-priority-value")
		wantPermanent(t, "SetPriority(unknown)", err)
		if got := mustGet(t, crm, id).Priority; got != values[0] {
			t.Errorf("priority after the refused value = %q, want %q", got, values[0])
		}
	})
}

func testCloseTwice(t *testing.T, h Harness) {
	crm := h.CRM()
	id := h.CreateTicket(t, "Contract: close me", "d", h.PriorityValues()[0], true)
	if mustGet(t, crm, id).Closed {
		t.Fatalf("a new ticket reads back closed")
	}
	for i := 1; i <= 2; i++ {
		if err := crm.CloseCase(ctxFor(t), id); err != nil {
			t.Fatalf("CloseCase (call %d): %v", i, err)
		}
		if !mustGet(t, crm, id).Closed {
			t.Errorf("after CloseCase call %d the case is not closed", i)
		}
	}
}

// commentView is what the suite compares of a comment.
type commentView struct {
	Body        string
	Author      string // "" for the connector's own, whose name is the CRM's
	ByConnector bool
	Public      bool
}

func testComments(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: comments", "d", h.PriorityValues()[0], true)

	ids := map[string]bool{}
	note := func(commentID string) {
		if commentID == "" {
			t.Errorf("a comment was added without an id")
		}
		if ids[commentID] {
			t.Errorf("comment id %q given twice", commentID)
		}
		ids[commentID] = true
	}
	note(h.AddHumanComment(t, id, "Alice Agent", "Public reply from Alice.", true))
	note(h.AddHumanComment(t, id, "Bob Agent", "Internal note from Bob.\nWith a second line.", false))
	pub, err := crm.AddComment(ctx, id, "[Google Comment 1 by Carol] Public from the connector — ünïcödé.", true)
	if err != nil {
		t.Fatalf("AddComment(public): %v", err)
	}
	note(pub.ID)
	internal, err := crm.AddComment(ctx, id, "Internal note from the connector.", false)
	if err != nil {
		t.Fatalf("AddComment(internal): %v", err)
	}
	note(internal.ID)
	if !pub.ByConnector || !pub.Public || internal.Public || !internal.ByConnector {
		t.Errorf("AddComment results: public %+v, internal %+v; want ByConnector on both and Public only on the first", pub, internal)
	}

	got, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	var views []commentView
	var last time.Time
	for _, c := range got {
		if !ids[c.ID] {
			continue // e.g. a helpdesk that lists the description as a first comment
		}
		v := commentView{Body: c.Body, ByConnector: c.ByConnector, Public: c.Public}
		if !c.ByConnector {
			v.Author = c.AuthorName
		} else if c.AuthorName == "" {
			t.Errorf("comment %s by the connector has no author name", c.ID)
		}
		views = append(views, v)
		if c.CreateTime.IsZero() || c.CreateTime.Before(last) {
			t.Errorf("comment %s created %v, after one created %v: want set and oldest first", c.ID, c.CreateTime, last)
		}
		last = c.CreateTime
	}
	want := []commentView{
		{Body: "Public reply from Alice.", Author: "Alice Agent", Public: true},
		{Body: "Internal note from Bob.\nWith a second line.", Author: "Bob Agent", Public: false},
		{Body: "[Google Comment 1 by Carol] Public from the connector — ünïcödé.", ByConnector: true, Public: true},
		{Body: "Internal note from the connector.", ByConnector: true, Public: false},
	}
	if diff := cmp.Diff(want, views); diff != "" {
		t.Errorf("ListComments, oldest first (-want +got):\n%s", diff)
	}
}

// binaryData returns n bytes holding every byte value, NULs among them.
func binaryData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func download(t *testing.T, crm casesync.CRM, id, attachmentID string) []byte {
	t.Helper()
	rc, err := crm.DownloadAttachment(ctxFor(t), id, attachmentID)
	if err != nil {
		t.Fatalf("DownloadAttachment(%s): %v", attachmentID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading attachment %s: %v", attachmentID, err)
	}
	return data
}

// attachmentView is what the suite compares of an attachment.
type attachmentView struct {
	Filename    string
	MimeType    string
	Size        int64
	ByConnector bool
	Public      bool
}

func testAttachments(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: attachments", "d", h.PriorityValues()[0], true)

	mine := binaryData(70_000)
	theirs := append([]byte("human log\x00with NUL bytes\x00\n"), binaryData(1000)...)
	up, err := crm.UploadAttachment(ctx, id, "dump.bin", "application/octet-stream", bytes.NewReader(mine))
	if err != nil {
		t.Fatalf("UploadAttachment: %v", err)
	}
	if up.ID == "" || up.Size != int64(len(mine)) || !up.ByConnector {
		t.Errorf("UploadAttachment result = %+v; want an id, size %d and ByConnector", up, len(mine))
	}
	humanID := h.AddHumanAttachment(t, id, "human.log", "text/plain", theirs)
	if humanID == "" || humanID == up.ID {
		t.Fatalf("human attachment id %q; want one of its own (the connector's is %q)", humanID, up.ID)
	}

	list, err := crm.ListAttachments(ctx, id)
	if err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	got := map[string]attachmentView{}
	for _, a := range list {
		// The visibility of the connector's own upload is the adapter's
		// choice (some helpdesks keep files only on internal notes).
		got[a.ID] = attachmentView{Filename: a.Filename, MimeType: a.MimeType, Size: a.Size, ByConnector: a.ByConnector, Public: a.Public && !a.ByConnector}
	}
	want := map[string]attachmentView{
		up.ID:   {Filename: "dump.bin", MimeType: "application/octet-stream", Size: int64(len(mine)), ByConnector: true},
		humanID: {Filename: "human.log", MimeType: "text/plain", Size: int64(len(theirs)), Public: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListAttachments by id (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		id   string
		want []byte
	}{
		{name: "the connector's upload comes back byte for byte", id: up.ID, want: mine},
		{name: "a human's attachment comes back byte for byte", id: humanID, want: theirs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if data := download(t, crm, id, tc.id); !bytes.Equal(data, tc.want) {
				t.Errorf("downloaded %d bytes that differ from the %d uploaded", len(data), len(tc.want))
			}
		})
	}
}

func testAttachmentVisibility(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: attachment visibility", "d", h.PriorityValues()[0], true)
	public := h.AddHumanAttachment(t, id, "public.txt", "text/plain", []byte("for the requester\n"))
	internal := h.AddHumanInternalAttachment(t, id, "internal.txt", "text/plain", []byte("agents only\n"))
	if internal == "" || internal == public {
		t.Fatalf("internal attachment id %q; want one of its own (the public one is %q)", internal, public)
	}
	list, err := crm.ListAttachments(ctx, id)
	if err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	got := map[string]bool{}
	for _, a := range list {
		got[a.ID] = a.Public
	}
	want := map[string]bool{public: true, internal: false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Public of each attachment by id (-want +got):\n%s", diff)
	}
	// The file itself is still there for the agents: only its visibility
	// keeps it from being copied.
	if data := download(t, crm, id, internal); string(data) != "agents only\n" {
		t.Errorf("the internal file downloads as %q", data)
	}
}

// testListItems holds an adapter that implements casesync.ItemLister to
// its promise: on a case with public replies and internal notes by a human
// and by the connector, and files on a public reply, on an internal note
// and uploaded by the connector, ListItems returns exactly what
// ListComments and ListAttachments return, and (when the harness counts
// calls) costs fewer calls than the two together.
// isItemLister reports whether crm lists comments and files in one call.
func isItemLister(crm casesync.CRM) bool {
	_, ok := crm.(casesync.ItemLister)
	return ok
}

func testListItems(t *testing.T, h Harness) {
	crm := h.CRM()
	lister := crm.(casesync.ItemLister)
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: comments and files in one listing", "d", h.PriorityValues()[0], true)
	commentIDs := []string{
		h.AddHumanComment(t, id, "Alice Agent", "Public reply from Alice.", true),
		h.AddHumanComment(t, id, "Bob Agent", "Internal note from Bob.", false),
	}
	for _, public := range []bool{true, false} {
		c, err := crm.AddComment(ctx, id, fmt.Sprintf("From the connector, public %v.", public), public)
		if err != nil {
			t.Fatalf("AddComment(public %v): %v", public, err)
		}
		commentIDs = append(commentIDs, c.ID)
	}
	publicFile := h.AddHumanAttachment(t, id, "public.txt", "text/plain", []byte("for the requester\n"))
	internalFile := h.AddHumanInternalAttachment(t, id, "internal.txt", "text/plain", []byte("agents only\n"))
	up, err := crm.UploadAttachment(ctx, id, "upload.bin", "application/octet-stream", bytes.NewReader(binaryData(1000)))
	if err != nil {
		t.Fatalf("UploadAttachment: %v", err)
	}

	// A first round fills what the adapter keeps between calls (user names,
	// the sync user, file ids), so that the two ways are measured alike.
	if _, err := crm.ListComments(ctx, id); err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	if _, err := crm.ListAttachments(ctx, id); err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	if _, _, err := lister.ListItems(ctx, id); err != nil {
		t.Fatalf("ListItems: %v", err)
	}

	counter, counts := h.(CallCounter)
	calls := func() map[string]int64 {
		if counts {
			return counter.Calls()
		}
		return nil
	}
	before := calls()
	wantComments, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	wantFiles, err := crm.ListAttachments(ctx, id)
	if err != nil {
		t.Fatalf("ListAttachments: %v", err)
	}
	between := calls()
	gotComments, gotFiles, err := lister.ListItems(ctx, id)
	if err != nil {
		t.Fatalf("ListItems: %v", err)
	}
	after := calls()

	// The case holds what was added, each kind of it, so that equal lists
	// are not lists that both missed something.
	for _, cid := range commentIDs {
		if !slices.ContainsFunc(wantComments, func(c casesync.Comment) bool { return c.ID == cid }) {
			t.Errorf("ListComments lacks comment %s", cid)
		}
	}
	public := map[string]bool{}
	for _, a := range wantFiles {
		public[a.ID] = a.Public
	}
	for aid, want := range map[string]bool{publicFile: true, internalFile: false} {
		if got, ok := public[aid]; !ok || got != want {
			t.Errorf("ListAttachments: file %s listed %v with Public %v, want listed with Public %v", aid, ok, got, want)
		}
	}
	if _, ok := public[up.ID]; !ok {
		t.Errorf("ListAttachments lacks the connector's upload %s", up.ID)
	}

	if diff := cmp.Diff(wantComments, gotComments); diff != "" {
		t.Errorf("ListItems' comments differ from ListComments (-ListComments +ListItems):\n%s", diff)
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("ListItems' files differ from ListAttachments (-ListAttachments +ListItems):\n%s", diff)
	}

	if !counts {
		t.Logf("the harness does not count calls: what ListItems saves is not measured")
		return
	}
	two, one := callsSince(before, between), callsSince(between, after)
	t.Logf("cost: ListComments + ListAttachments: %s calls; ListItems: %s calls", formatCalls(two), formatCalls(one))
	if total(one) >= total(two) {
		t.Errorf("ListItems made %d calls, ListComments and ListAttachments %d together: an adapter implements casesync.ItemLister only when one listing costs fewer calls",
			total(one), total(two))
	}
}

// total adds up calls per operation.
func total(calls map[string]int64) int64 {
	var n int64
	for _, c := range calls {
		n += c
	}
	return n
}

// downloadAllocBudget is how much a 25 MiB download may allocate in all, in
// the adapter and any in-process simulator together: a streamed copy needs a
// few buffers, a download read into memory needs the whole file at least.
const downloadAllocBudget = 6 << 20

func testDownloadStreams(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	size := int64(25 << 20)
	if limit := h.MaxAttachmentBytes(); limit > 0 && limit < size {
		size = limit
	}
	id := h.CreateTicket(t, "Contract: large download", "d", h.PriorityValues()[0], true)
	data := binaryData(int(size))
	aid := h.AddHumanAttachment(t, id, "large.bin", "application/octet-stream", data)
	data = nil

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rc, err := crm.DownloadAttachment(ctx, id, aid)
	if err != nil {
		t.Fatalf("DownloadAttachment: %v", err)
	}
	n, err := io.CopyBuffer(io.Discard, rc, make([]byte, 32<<10))
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("reading the download: %v", err)
	}
	if n != size {
		t.Errorf("downloaded %d bytes, want %d", n, size)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d MiB download allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > downloadAllocBudget {
		t.Errorf("a %d-byte download allocated %d bytes; a streamed download stays under %d", size, alloc, downloadAllocBudget)
	}
}

func testRateLimit(t *testing.T, h Harness) {
	crm := h.CRM()
	id := h.CreateTicket(t, "Contract: rate limited", "d", h.PriorityValues()[0], true)
	injected := h.InjectRateLimit(t)
	c, err := crm.GetCase(ctxFor(t), id)
	if err != nil {
		// The adapter may hand the 429 back rather than wait itself: then it
		// must say it is transient, a 429, and how long to wait.
		var ae *casesync.APIError
		if !injected || !errors.As(err, &ae) || !ae.Transient || ae.Status != 429 || ae.RetryAfter <= 0 {
			t.Fatalf("GetCase after a 429 (injected: %v): %v; want success, or a transient 429 APIError with RetryAfter", injected, err)
		}
		c, err = crm.GetCase(ctxFor(t), id)
		if err != nil {
			t.Fatalf("GetCase tried again after the 429: %v", err)
		}
	}
	if c.ID != id || c.Subject != "Contract: rate limited" {
		t.Errorf("GetCase = (%q, %q), want (%q, %q)", c.ID, c.Subject, id, "Contract: rate limited")
	}
}

func testUnknownCase(t *testing.T, h Harness) {
	crm := h.CRM()
	known := h.CreateTicket(t, "Contract: known", "d", h.PriorityValues()[0], true)
	p := h.PriorityValues()[0]
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"getting it", func(ctx context.Context) error { _, err := crm.GetCase(ctx, unknownID); return err }},
		{"setting its Google case", func(ctx context.Context) error { return crm.SetGoogleCase(ctx, unknownID, googleCaseName()) }},
		{"setting its priority", func(ctx context.Context) error { return crm.SetPriority(ctx, unknownID, p) }},
		{"closing it", func(ctx context.Context) error { return crm.CloseCase(ctx, unknownID) }},
		{"listing its comments", func(ctx context.Context) error { _, err := crm.ListComments(ctx, unknownID); return err }},
		{"commenting on it", func(ctx context.Context) error {
			_, err := crm.AddComment(ctx, unknownID, "hello", false)
			return err
		}},
		{"listing its attachments", func(ctx context.Context) error { _, err := crm.ListAttachments(ctx, unknownID); return err }},
		{"uploading to it", func(ctx context.Context) error {
			_, err := crm.UploadAttachment(ctx, unknownID, "a.txt", "text/plain", bytes.NewReader([]byte("x")))
			return err
		}},
		{"downloading from it", func(ctx context.Context) error {
			rc, err := crm.DownloadAttachment(ctx, unknownID, "1")
			if err == nil {
				rc.Close()
			}
			return err
		}},
		{"downloading an unknown attachment of a known case", func(ctx context.Context) error {
			rc, err := crm.DownloadAttachment(ctx, known, unknownID)
			if err == nil {
				rc.Close()
			}
			return err
		}},
	}
	if l, ok := crm.(casesync.ItemLister); ok {
		tests = append(tests, struct {
			name string
			call func(ctx context.Context) error
		}{"listing its comments and files in one go", func(ctx context.Context) error { _, _, err := l.ListItems(ctx, unknownID); return err }})
	}
	for _, tc := range tests {
		t.Run(tc.name+" is not found", func(t *testing.T) {
			err := tc.call(ctxFor(t))
			if !casesync.IsNotFound(err) {
				t.Errorf("error %v, want one casesync.IsNotFound recognises", err)
			}
			wantPermanent(t, tc.name, err)
		})
	}
}

// sizedReader yields n bytes without holding them in memory.
type sizedReader struct{ left int64 }

func (r *sizedReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.left)
	for i := range p[:n] {
		p[i] = byte(i)
	}
	r.left -= n
	return int(n), nil
}

func testOversizedAttachment(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: big files", "d", h.PriorityValues()[0], true)
	limit := h.MaxAttachmentBytes()
	if limit <= 0 {
		// No limit to break: a large upload must then go through intact.
		const n = 2 << 20
		a, err := crm.UploadAttachment(ctx, id, "large.bin", "application/octet-stream", &sizedReader{left: n})
		if err != nil {
			t.Fatalf("UploadAttachment of %d bytes with no limit: %v", n, err)
		}
		if got := int64(len(download(t, crm, id, a.ID))); got != n {
			t.Errorf("downloaded %d bytes, want %d", got, n)
		}
		return
	}
	t.Run("one byte over the limit is refused and stores nothing", func(t *testing.T) {
		_, err := crm.UploadAttachment(ctx, id, "too-big.bin", "application/octet-stream", &sizedReader{left: limit + 1})
		wantPermanent(t, "UploadAttachment(limit+1 bytes)", err)
		list, err := crm.ListAttachments(ctx, id)
		if err != nil {
			t.Fatalf("ListAttachments: %v", err)
		}
		if len(list) != 0 {
			t.Errorf("after the refused upload the case has %d attachments, want 0", len(list))
		}
	})
}

func testInvalidUTF8Comment(t *testing.T, h Harness) {
	crm := h.CRM()
	ctx := ctxFor(t)
	id := h.CreateTicket(t, "Contract: bad bytes", "d", h.PriorityValues()[0], true)
	before, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	_, err = crm.AddComment(ctx, id, "broken \xff\xfe text", true)
	wantPermanent(t, "AddComment(invalid UTF-8)", err)
	after, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	if len(after) != len(before) {
		t.Errorf("the case has %d comments after the refused one, want %d", len(after), len(before))
	}
}
