package main

import (
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
	"github.com/google/go-cmp/cmp"
)

// TestTheDemoActsAndReadsTheSameWayOnEveryCRM plays a helpdesk agent's
// part of the demo on each CRM and reads it back through the demo's
// interface: the simulator in process, and a real Request Tracker.
func TestTheDemoActsAndReadsTheSameWayOnEveryCRM(t *testing.T) {
	tests := []struct {
		name       string
		priorities string // the CRM's default priority map
		newCRM     func(t *testing.T) demoCRM
	}{
		{
			name:   "the CRM simulator",
			newCRM: func(*testing.T) demoCRM { return newSimCRM(crmsim.New(crmsim.Options{})) },
		},
		{
			name:       "Request Tracker",
			priorities: rt.DefaultPriorityMap,
			newCRM: func(t *testing.T) demoCRM {
				c, err := newRTCRM(rttest.NewInstance(t), nil)
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
		},
	}
	for _, tt := range tests {
		t.Run("on "+tt.name+" an agent's ticket, notes, replies, file, priority and close read back as made", func(t *testing.T) {
			ctx := t.Context()
			table, err := priorityTableFor("", tt.priorities)
			if err != nil {
				t.Fatal(err)
			}
			d := &demo{prio: table, crm: tt.newCRM(t)}
			if err := d.checkPriorities(); err != nil {
				t.Fatal(err)
			}
			c := d.crm
			flagged, err := c.CreateTicket(ctx, demoTicket{Subject: "Flagged", Description: "Sync me.", Priority: d.crmPriority(casesync.P2),
				Flagged: true, Requester: "ops@company.example"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTicket(ctx, demoTicket{Subject: "Not flagged", Description: "Keep me.", Priority: d.crmPriority(casesync.P3),
				Requester: "ops@company.example"}); err != nil {
				t.Fatal(err)
			}
			synced, err := c.Synced(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var flaggedSeen int
			for _, s := range synced {
				if s.ID == flagged {
					flaggedSeen++
				}
			}
			if flaggedSeen != 1 {
				t.Errorf("Synced lists the flagged ticket %d times, want once", flaggedSeen)
			}

			note, err := c.Comment(ctx, flagged, demoAgentName, "An internal note.", false)
			if err != nil {
				t.Fatal(err)
			}
			reply, err := c.Comment(ctx, flagged, demoAgentName, "A public reply.", true)
			if err != nil {
				t.Fatal(err)
			}
			file := binaryData(3000, 7)
			if err := c.Attach(ctx, flagged, demoAgentName, "dump.bin", "application/octet-stream", file); err != nil {
				t.Fatal(err)
			}
			if err := c.SetPriority(ctx, flagged, d.crmPriority(casesync.P0)); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(ctx, flagged); err != nil {
				t.Fatal(err)
			}

			got, err := c.Ticket(ctx, flagged)
			if err != nil {
				t.Fatal(err)
			}
			want := crmTicket{ID: flagged, Subject: "Flagged", Priority: d.crmPriority(casesync.P0), Closed: true,
				Comments: []crmComment{
					{ID: note, Author: demoAgentName, Body: "An internal note."},
					{ID: reply, Author: demoAgentName, Body: "A public reply.", Public: true},
				},
				Files: []crmFile{{Filename: "dump.bin", Data: file}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the ticket as read back (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCallsBetween(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string]int
		want          map[string]int
	}{
		{name: "calls not measured stay not measured", before: nil, after: nil, want: nil},
		{name: "only the calls made in between are counted", before: map[string]int{"get": 3, "search": 1},
			after: map[string]int{"get": 5, "search": 1, "comment": 1}, want: map[string]int{"get": 2, "comment": 1}},
		{name: "a first measurement counts everything", before: nil, after: map[string]int{"search": 2}, want: map[string]int{"search": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, callsBetween(tt.before, tt.after)); diff != "" {
				t.Errorf("callsBetween (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheDemoRefusesAPriorityMapThatCannotShowAChange(t *testing.T) {
	tests := []struct {
		name, priorities string
		wantErr          bool
	}{
		{name: "the simulator's map shows both changes", priorities: "", wantErr: false},
		{name: "Request Tracker's three priorities show both changes", priorities: rt.DefaultPriorityMap, wantErr: false},
		{name: "a map giving P1 and P3 one value is refused", priorities: "high=P0,normal=P1,normal=P2,normal=P3,low=P4", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := priorityTableFor("", tt.priorities)
			if err != nil {
				t.Fatal(err)
			}
			err = (&demo{prio: table}).checkPriorities()
			if diff := cmp.Diff(tt.wantErr, err != nil); diff != "" {
				t.Errorf("checkPriorities error %v (-want error +got error):\n%s", err, diff)
			}
		})
	}
}
