package crmsim_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
)

func TestTheConversationCarriesEachRepliesFilesAndTheTicketsOwn(t *testing.T) {
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	mustID := func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	plain := mustID(sim.AddHumanComment(id, "Ann", "no file", true))
	reply, replyFile, err := sim.AddHumanCommentWithFile(id, "Ann", "see the log", true, "reply.log", "text/plain", []byte("r"))
	if err != nil {
		t.Fatal(err)
	}
	note, noteFile, err := sim.AddHumanCommentWithFile(id, "Bob", "agents only", false, "note.txt", "text/plain", []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	ticketFile := mustID(sim.AddHumanAttachment(id, "Ann", "ticket.txt", "text/plain", []byte("t")))

	sim.ResetCalls()
	resp, err := srv.Client().Get(srv.URL + "/api/tickets/" + id + "/conversation")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Comments []struct {
			ID          string
			Public      bool
			Attachments []struct {
				ID     string
				Public bool
			}
		}
		Attachments []struct {
			ID     string
			Public bool
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decoding the conversation: %v", err)
	}
	type file struct {
		ID     string
		Public bool
	}
	type view struct {
		Comment string
		Public  bool
		Files   []file
	}
	var gotView []view
	for _, c := range got.Comments {
		v := view{Comment: c.ID, Public: c.Public, Files: []file{}}
		for _, a := range c.Attachments {
			v.Files = append(v.Files, file(a))
		}
		gotView = append(gotView, v)
	}
	ticketFiles := []file{}
	for _, a := range got.Attachments {
		ticketFiles = append(ticketFiles, file(a))
	}
	wantView := []view{
		{plain, true, []file{}},
		{reply, true, []file{{replyFile, true}}},
		{note, false, []file{{noteFile, false}}},
	}
	if diff := cmp.Diff(wantView, gotView); diff != "" {
		t.Errorf("replies and notes with their files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]file{{ticketFile, true}}, ticketFiles); diff != "" {
		t.Errorf("the ticket's own files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{crmsim.OpListConversation: 1}, sim.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestListItemsIsOneCallWithTheReadRules(t *testing.T) {
	ctx := context.Background()
	sim := crmsim.New(crmsim.Options{Clock: newSteppingClock().Now})
	client, _ := served(t, sim)
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	if _, _, err := sim.AddHumanCommentWithFile(id, "Ann", "see the log", true, "reply.log", "text/plain", []byte("r")); err != nil {
		t.Fatal(err)
	}

	t.Run("a 503 is retried, as for any read", func(t *testing.T) {
		sim.ResetCalls()
		sim.InjectFault(crmsim.Fault{Op: crmsim.OpListConversation, Status: 503, Count: 2})
		cs, as, err := client.ListItems(ctx, id)
		if err != nil {
			t.Fatalf("ListItems: %v", err)
		}
		if len(cs) != 1 || len(as) != 1 {
			t.Errorf("ListItems gave %d comments and %d files, want 1 and 1", len(cs), len(as))
		}
		if diff := cmp.Diff(map[string]int{crmsim.OpListConversation: 3}, sim.Calls()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
	t.Run("an unknown ticket is not found", func(t *testing.T) {
		_, _, err := client.ListItems(ctx, "999999")
		if !casesync.IsNotFound(err) || casesync.IsTransient(err) {
			t.Errorf("ListItems of an unknown ticket = %v; want a permanent not-found error", err)
		}
	})
	t.Run("an id cannot add path segments", func(t *testing.T) {
		cs, _, err := client.ListItems(ctx, id+"/../../"+id)
		if !casesync.IsNotFound(err) || len(cs) != 0 {
			t.Errorf("ListItems of a ticket id holding a path = %d comments, %v; want not found", len(cs), err)
		}
	})
}

func TestListItemsOrdersFilesAsListAttachmentsDoesWhateverTheClock(t *testing.T) {
	// A clock that goes back: files come in an order their times do not
	// follow, and both listings still agree.
	sec := func(s int) time.Time { return time.Date(2026, 3, 1, 10, 0, s, 0, time.UTC) }
	// The ticket, a.txt on it, a reply with b.txt, c.txt on the ticket.
	times := []time.Time{sec(0), sec(9), sec(2), sec(2), sec(5)}
	var i int
	clock := func() time.Time {
		t := times[min(i, len(times)-1)]
		i++
		return t
	}
	sim := crmsim.New(crmsim.Options{Clock: clock})
	client, _ := served(t, sim)
	i = 0
	id := sim.CreateTicket(crmsim.Ticket{Subject: "s", SyncFlag: true})
	if _, err := sim.AddHumanAttachment(id, "Ann", "a.txt", "text/plain", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sim.AddHumanCommentWithFile(id, "Ann", "b", true, "b.txt", "text/plain", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddHumanAttachment(id, "Ann", "c.txt", "text/plain", []byte("c")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want, err := client.ListAttachments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := client.ListItems(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-ListAttachments +ListItems):\n%s", diff)
	}
	var names []string
	for _, a := range want {
		names = append(names, a.Filename)
	}
	if diff := cmp.Diff([]string{"b.txt", "c.txt", "a.txt"}, names); diff != "" {
		t.Errorf("files oldest first (-want +got):\n%s", diff)
	}
}
