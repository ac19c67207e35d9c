package casesync_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
)

// contentRefusingCRM refuses, with status, every comment whose body contains
// marker, as a CRM refuses content it will never take.
type contentRefusingCRM struct {
	casesync.CRM
	marker  string
	status  int
	refused *atomic.Int64
}

func (c contentRefusingCRM) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	if strings.Contains(body, c.marker) {
		c.refused.Add(1)
		return casesync.Comment{}, &casesync.APIError{Side: casesync.SideCompany, Op: "comments.add", Status: c.status, Err: errors.New("refused")}
	}
	return c.CRM.AddComment(ctx, id, body, public)
}

func (c contentRefusingCRM) UploadAttachment(ctx context.Context, id, filename, mimeType string, r io.Reader) (casesync.Attachment, error) {
	if strings.Contains(filename, c.marker) {
		c.refused.Add(1)
		return casesync.Attachment{}, &casesync.APIError{Side: casesync.SideCompany, Op: "attachments.add", Status: c.status, Err: errors.New("refused")}
	}
	return c.CRM.UploadAttachment(ctx, id, filename, mimeType, r)
}

// refusingWorld is a world with one synced Google case whose CRM, from now
// on, refuses with status every comment or file containing marker.
func refusingWorld(t *testing.T, title, marker string, status int) (w *world, name string, refused *atomic.Int64) {
	t.Helper()
	w = newWorld(t, casesync.Config{})
	name = w.newGoogleCase(title, "P3")
	w.settle()
	refused = &atomic.Int64{}
	w.engine.CRM = contentRefusingCRM{CRM: w.engine.CRM, marker: marker, status: status, refused: refused}
	return w, name, refused
}

// aliceActor is the customer writing on the Google case.
var aliceActor = csapitest.Actor{DisplayName: "Alice", Email: customer}

// runRounds lets the system run for rounds polls, five minutes apart (past
// the retry backoff), delivering every message; failed reconciliations are
// left to the sweep, as Pub/Sub acknowledges a permanent failure.
func (w *world) runRounds(rounds int) {
	w.t.Helper()
	for range rounds {
		w.clock.Advance(5 * time.Minute)
		if _, err := w.engine.PollGoogle(w.ctx); err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.engine.PollCRM(w.ctx); err != nil {
			w.t.Fatal(err)
		}
		for _, ref := range w.queue.take() {
			w.tick()
			_, _ = w.engine.SyncCase(w.ctx, ref)
		}
	}
}

func TestAnItemTheOtherSideAlwaysRefusesIsSkippedWithANote(t *testing.T) {
	w, name, refused := refusingWorld(t, "Refused reply", "POISON", 422)
	poison := w.poisonThenReply(name)
	w.runRounds(6)

	id := w.mapping(name).CompanyCaseID
	coms := w.crmComments(id)
	if n := countContaining(bodiesOf(coms), "the reply after it"); n != 1 {
		t.Errorf("the CRM has %d copies of the reply after the refused one, want 1: one refused item must not hold the case back", n)
	}
	if got := refused.Load(); got != 1 {
		t.Errorf("the CRM was asked %d times to take the refused comment, want 1 (it took the next one, so the refusal was about that comment)", got)
	}
	pid := poison[strings.LastIndex(poison, "/")+1:]
	var notes []casesync.Comment
	for _, c := range coms {
		if strings.HasPrefix(c.Body, "[casebridge: Google comment "+pid+" not copied]") {
			notes = append(notes, c)
		}
	}
	if len(notes) != 1 || notes[0].Public {
		t.Errorf("notes about the skipped comment: %+v; want one internal note", notes)
	}
	if m := w.mapping(name); m.Attempts != 0 || m.RefusedItem != "" {
		t.Errorf("mapping after the skip: attempts %d, refused item %q; want both cleared", m.Attempts, m.RefusedItem)
	}
}

func TestARefusalThatIsNotAboutTheItemIsNeverSkipped(t *testing.T) {
	// 403: the sync user may not comment; skipping would skip every item.
	w, name, refused := refusingWorld(t, "Permission revoked", "reply", 403)
	if _, err := w.google.AddComment(name, "first reply", aliceActor); err != nil {
		t.Fatal(err)
	}
	w.runRounds(6)
	id := w.mapping(name).CompanyCaseID
	for _, c := range w.crmComments(id) {
		if strings.HasPrefix(c.Body, "[casebridge: ") {
			t.Errorf("a note was posted for a refusal that says nothing about the item: %q", c.Body)
		}
	}
	if got := refused.Load(); got < 3 {
		t.Errorf("the CRM was asked %d times; want it still asked after every refusal", got)
	}
	if m := w.mapping(name); m.Attempts == 0 || m.RefusedItem != "" {
		t.Errorf("mapping: attempts %d, refused item %q; want it failing, with no item counted as refused", m.Attempts, m.RefusedItem)
	}
}

func TestAFileTheOtherSideAlwaysRefusesIsSkippedWithANote(t *testing.T) {
	// A helpdesk that blocks a file type answers 415 every time.
	w, name, refused := refusingWorld(t, "Refused file", ".exe", 415)
	if _, err := w.google.AddAttachment(name, "setup.exe", "application/octet-stream", []byte("MZ\x00\x01"), aliceActor); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if _, err := w.google.AddAttachment(name, "trace.log", "text/plain", []byte("line 1\n"), aliceActor); err != nil {
		t.Fatal(err)
	}
	w.runRounds(6)

	id := w.mapping(name).CompanyCaseID
	as, err := w.crm.ListAttachments(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range as {
		names = append(names, a.Filename)
	}
	if len(names) != 1 || names[0] != "trace.log" {
		t.Errorf("files on the CRM case: %v; want only trace.log", names)
	}
	if got := refused.Load(); got != 1 {
		t.Errorf("the CRM was asked %d times to take the refused file, want 1", got)
	}
	if n := countWithPrefix(bodiesOf(w.crmComments(id)), "[casebridge: Google file "); n != 1 {
		t.Errorf("%d notes about the skipped file, want 1", n)
	}
}

// A refused item with nothing after it is not skipped: nothing shows yet
// that the refusal is about the item. It is skipped once the other side
// takes the next one.
func TestARefusedItemIsSkippedOnlyOnceTheOtherSideTakesTheNextOne(t *testing.T) {
	w, name, refused := refusingWorld(t, "Proof needed", "POISON", 400)
	if _, err := w.google.AddComment(name, "POISON reply", aliceActor); err != nil {
		t.Fatal(err)
	}
	w.runRounds(3)
	id := w.mapping(name).CompanyCaseID
	if n := countWithPrefix(bodiesOf(w.crmComments(id)), "[casebridge: "); n != 0 {
		t.Errorf("%d skip notes with nothing after the refused reply, want 0", n)
	}
	if m := w.mapping(name); m.Attempts == 0 {
		t.Errorf("the mapping is not failing although its reply was refused %d times", refused.Load())
	}
	w.tick()
	if _, err := w.google.AddComment(name, "the next reply", aliceActor); err != nil {
		t.Fatal(err)
	}
	w.runRounds(2)
	if n := countContaining(bodiesOf(w.crmComments(id)), "the next reply"); n != 1 {
		t.Errorf("the CRM has %d copies of the next reply, want 1", n)
	}
	if n := countWithPrefix(bodiesOf(w.crmComments(id)), "[casebridge: Google comment "); n != 1 {
		t.Errorf("%d skip notes once the next reply was taken, want 1", n)
	}
	if m := w.mapping(name); m.Attempts != 0 || m.RefusedItem != "" {
		t.Errorf("mapping: attempts %d, refused item %q; want both cleared", m.Attempts, m.RefusedItem)
	}
}

// poisonThenReply has the customer write a reply the CRM refuses, then one
// it takes; it returns the refused comment's name.
func (w *world) poisonThenReply(name string) string {
	w.t.Helper()
	poison, err := w.google.AddComment(name, "POISON reply", aliceActor)
	if err != nil {
		w.t.Fatal(err)
	}
	w.tick()
	if _, err := w.google.AddComment(name, "the reply after it", aliceActor); err != nil {
		w.t.Fatal(err)
	}
	return poison
}
