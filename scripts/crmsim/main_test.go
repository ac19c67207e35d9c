package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/logging"
)

// urlWriter hands the first line written to it to a channel.
type urlWriter chan string

func (w urlWriter) Write(p []byte) (int, error) {
	w <- strings.TrimSpace(string(p))
	return len(p), nil
}

func TestTheSimulatorServesUntilStoppedAndPrintsItsURL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(urlWriter, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", crmsim.Options{}, lines, logging.Discard()) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after the stop, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run did not return within 10s of the stop")
		}
	}()

	var line string
	select {
	case line = <-lines:
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("no CRM_URL line within 10s")
	}
	url, ok := strings.CutPrefix(line, "CRM_URL=http://127.0.0.1:")
	if !ok || url == "" {
		t.Fatalf("first line %q, want CRM_URL=http://127.0.0.1:<port>", line)
	}
	base := strings.TrimPrefix(line, "CRM_URL=")
	ctl := crmsim.NewControl(base, nil)
	client := crmsim.NewClient(base, nil)
	id, err := ctl.CreateTicket(ctx, crmsim.Ticket{Subject: "served", SyncFlag: true})
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	c, err := client.GetCase(ctx, id)
	if err != nil || c.Subject != "served" {
		t.Errorf("GetCase = (%q, %v), want the ticket just created", c.Subject, err)
	}
}
