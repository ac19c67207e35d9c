package freshdesk_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
)

// TestFinalReviewADownloadThatFailsInTransitNamesNoFile: an attachment's
// pre-signed URL holds the file's name in its path (Freshdesk's storage
// host serves .../original/{name}?X-Amz-...; the simulator
// /files/{token}/{name}). A download that fails in transit (the storage
// host drops the connection) must not put that path in its error: the
// error reaches the logs and Mapping.LastError, which carry ids and sizes
// only, never a customer's file name or a URL's token.
func TestFinalReviewADownloadThatFailsInTransitNamesNoFile(t *testing.T) {
	const name = "acme-payroll-2026.xlsx"
	sim := intercepted(t, freshdesktest.Options{}, nil, func(w http.ResponseWriter, r *http.Request) bool {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Errorf("the file host cannot drop the connection")
			return false
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return false
		}
		conn.Close()
		return true
	})
	crm := adapterFor(t, sim, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	aid, err := sim.AddHumanAttachment(id, "Alice Agent", name, "application/octet-stream", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := crm.DownloadAttachment(context.Background(), id, aid)
	if err == nil {
		rc.Close()
		t.Fatalf("DownloadAttachment succeeded although the file host dropped every connection")
	}
	if msg := err.Error(); strings.Contains(msg, name) || strings.Contains(msg, "/files/") {
		t.Errorf("the download's error names the file or its URL path: %s", msg)
	}
}
