package salesforce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

// hostile is a server that signs in and then answers every API call with
// answer.
func hostile(t *testing.T, instanceURL func(self string) string, answer func(w http.ResponseWriter, r *http.Request)) (*salesforce.Client, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/oauth2/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"tok","instance_url":"` + instanceURL(srv.URL) + `","id":"https://login.salesforce.com/id/00D000000000001/005000000000001"}`))
			return
		}
		calls.Add(1)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	crm, err := salesforce.New(salesforce.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return crm, &calls
}

func self(u string) string { return u }

func TestAnInstanceURLOnAnotherHostIsRefused(t *testing.T) {
	crm, calls := hostile(t, func(string) string { return "https://evil.example.com" }, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("an API call was made with a token for another host: %s", r.URL.Path)
	})
	_, err := crm.GetCase(context.Background(), "500000000000001AAA")
	if err == nil || !strings.Contains(err.Error(), "CRM_URL") || calls.Load() != 0 {
		t.Errorf("GetCase: %v after %d calls; want a refusal naming CRM_URL and no call", err, calls.Load())
	}
}

func TestANextRecordsURLElsewhereIsNotFollowed(t *testing.T) {
	for _, next := range []string{"https://evil.example.com/services/data/v66.0/query/01g000000000001-2000", "/services/data/v66.0/sobjects/Case", "/services/data/v66.0/query/../../x-1"} {
		crm, calls := hostile(t, self, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"totalSize":2,"done":false,"nextRecordsUrl":"` + next + `","records":[{"Id":"500000000000001AAA"}]}`))
		})
		_, err := crm.SearchUpdated(context.Background(), casesyncZero)
		if err == nil || casesync.IsTransient(err) || calls.Load() != 1 {
			t.Errorf("nextRecordsUrl %q: %v after %d calls; want a permanent error and no second call", next, err, calls.Load())
		}
	}
}

func TestErrorsCarryCodesNeverMessages(t *testing.T) {
	crm, _ := hostile(t, self, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`[{"message":"Subject: the customer's secret plan","errorCode":"STRING_TOO_LONG","fields":["Subject"]}]`))
	})
	_, err := crm.CreateCase(context.Background(), casesync.NewCompanyCase{Subject: "s", Description: "d"})
	if err == nil || strings.Contains(err.Error(), "secret plan") || !strings.Contains(err.Error(), "STRING_TOO_LONG (Subject)") || casesync.IsTransient(err) {
		t.Errorf("CreateCase: %v; want a permanent error with the code and field and without the message", err)
	}
}

// Text that is not UTF-8 cannot arrive: JSON answers are decoded with
// invalid bytes replaced. Text over the bound is dropped.
func TestEscalationTextOverTheBoundIsDropped(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	long := strings.Repeat("x", casesync.MaxEscalationText+1)
	if err := sim.UpdateCase(id, "Human Agent", map[string]any{salesforce.DefaultEscalationField: true,
		salesforce.DefaultEscalationReasonField: "Business impact", salesforce.DefaultEscalationJustifyField: long}); err != nil {
		t.Fatal(err)
	}
	c, err := crm.GetCase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := (casesync.EscalationRequest{Requested: true, Reason: "Business impact"}); c.Escalation != want {
		t.Errorf("Escalation = %+v, want the request without its oversized justification", c.Escalation)
	}
}

func TestInternalFilesAndFilesOfUnclearVisibilityAreNotPublic(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	want := map[string]bool{}
	for _, v := range []string{"AllUsers", "InternalUsers", "SharedUsers", ""} {
		aid, err := sim.AddFile(id, "Human Agent", "f-"+v+".txt", []byte(v), v)
		if err != nil {
			t.Fatal(err)
		}
		want[aid] = v == "AllUsers"
	}
	list, err := crm.ListAttachments(context.Background(), id)
	if err != nil || len(list) != len(want) {
		t.Fatalf("ListAttachments: %d files, %v", len(list), err)
	}
	for _, a := range list {
		if a.Public != want[a.ID] {
			t.Errorf("file %s (%s): Public %v, want %v", a.ID, a.Filename, a.Public, want[a.ID])
		}
	}
}

func TestAFileListedLargerThanTheBoundIsNotAskedFor(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, func(c *salesforce.Config) { c.MaxDownloadBytes = 10 })
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	aid, err := sim.AddFile(id, "Human Agent", "big.bin", make([]byte, 11), "AllUsers")
	if err != nil {
		t.Fatal(err)
	}
	before := sim.Calls()["GET /services/data/vXX.X/sobjects/ContentVersion/{id}/VersionData"]
	_, err = crm.DownloadAttachment(context.Background(), id, aid)
	if !crmhttpTooLarge(err) {
		t.Errorf("DownloadAttachment of an 11-byte file with a 10-byte bound: %v, want TooLarge", err)
	}
	if sim.Calls()["GET /services/data/vXX.X/sobjects/ContentVersion/{id}/VersionData"] != before {
		t.Errorf("the file was asked for")
	}
}

var casesyncZero = time0()

func crmhttpTooLarge(err error) bool { return errorsIs(err, crmhttp.ErrTooLarge) }
