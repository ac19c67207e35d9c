package rt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
)

// TestSearchFindsUpdatesWhenRTIsNotOnUTC runs against an RT whose $Timezone
// is twelve hours west of UTC. RT reads a TicketSQL date as wall time in
// that zone and drops the time of day from ISO forms, so a bound written in
// UTC would land hours after since there, and updates in between would
// never be found.
func TestSearchFindsUpdatesWhenRTIsNotOnUTC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	confDir := filepath.Join(dir, "etc", "RT_SiteConfig.d")
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(confDir, "50-timezone.pm"), []byte("Set($Timezone, 'Etc/GMT+12');\n1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	west, err := rttest.Start(ctx, rttest.Options{Dir: dir})
	if err != nil {
		t.Fatalf("starting an RT on Etc/GMT+12: %v", err)
	}
	defer west.Stop()

	before, err := west.Human.CreateTicket(ctx, rttest.NewTicket{Subject: "updated before since", Description: "d", SyncFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	since := time.Now()
	time.Sleep(1100 * time.Millisecond)
	after, err := west.Human.CreateTicket(ctx, rttest.NewTicket{Subject: "updated after since", Description: "d", SyncFlag: true})
	if err != nil {
		t.Fatal(err)
	}

	zone, err := time.LoadLocation("Etc/GMT+12")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		zone *time.Location
	}{
		{"with RT's zone unknown the search reaches back far enough", nil},
		{"with RT's zone given the search asks in that zone", zone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := rt.New(rt.Config{BaseURL: west.URL, Token: west.SyncToken, TimeZone: tc.zone})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.SearchUpdated(ctx, since)
			if err != nil {
				t.Fatalf("SearchUpdated: %v", err)
			}
			var ids []string
			for _, cc := range got {
				ids = append(ids, cc.ID)
			}
			if !slices.Contains(ids, after) || slices.Contains(ids, before) {
				t.Errorf("SearchUpdated(since) = %v; want ticket %s (updated after since) and not %s (before)", ids, after, before)
			}
		})
	}
}

// TestEveryReplyOfALongTicketIsListed: RT removes the records the sync
// user may not see (the parts of the mail it records for every reply) after
// cutting a page, so pages of a long ticket come back short. A short page
// must not end the listing.
func TestEveryReplyOfALongTicketIsListed(t *testing.T) {
	ctx := ctxFor(t)
	c := newClient(t, nil)
	id, err := inst.Human.CreateTicket(ctx, rttest.NewTicket{Subject: "long ticket", Description: "first", SyncFlag: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if _, err := inst.Human.AddComment(ctx, id, "", fmt.Sprintf("reply %d", i), true); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("ListComments returned %d of the ticket's %d public replies", len(got), n)
	}
	for i, cm := range got {
		if want := fmt.Sprintf("reply %d", i); cm.Body != want {
			t.Errorf("comment %d = %q, want %q", i, cm.Body, want)
		}
	}
}
