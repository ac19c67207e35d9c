package localstack

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
	"github.com/google/go-cmp/cmp"
)

// restStatus asks REST2 at web root base for the system information as the
// sync user and returns the HTTP status.
func restStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/REST/2.0/rt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s/REST/2.0/rt: %v", base, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTheRequestTrackerOptionStartsAndStopsRTLeavingNothingRunning(t *testing.T) {
	ctx := t.Context()
	st, err := Start(ctx, Options{CRM: CRMRequestTracker, PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1})
	if err != nil {
		t.Fatalf("starting the local stack with Request Tracker (it needs scripts/rt.sh install): %v", err)
	}
	stopped := false
	defer func() {
		if !stopped {
			st.Stop()
		}
	}()

	t.Run("the stack runs Request Tracker in place of the CRM simulator", func(t *testing.T) {
		got := []any{st.CRMKind(), st.CRM == nil, st.RT != nil}
		if diff := cmp.Diff([]any{CRMRequestTracker, true, true}, got); diff != "" {
			t.Fatalf("CRMKind, no simulator, an RT instance (-want +got):\n%s", diff)
		}
		if eps := st.Endpoints(); eps[EndpointRT] != st.RT.URL || eps[EndpointCRM] == "" || eps[EndpointCRM] == st.RT.URL {
			t.Errorf("endpoints %s=%q %s=%q, want RT's own URL %q and the proxy in front of it", EndpointRT, eps[EndpointRT], EndpointCRM, eps[EndpointCRM], st.RT.URL)
		}
	})

	t.Run("the CRM URL reaches Request Tracker, and SetCRMDown turns it off and on", func(t *testing.T) {
		crmURL := st.Endpoints()[EndpointCRM]
		var got []int
		got = append(got, restStatus(t, crmURL, st.RT.SyncToken))
		st.SetCRMDown(true)
		got = append(got, restStatus(t, crmURL, st.RT.SyncToken), restStatus(t, st.RT.URL, st.RT.SyncToken))
		st.SetCRMDown(false)
		got = append(got, restStatus(t, crmURL, st.RT.SyncToken))
		want := []int{http.StatusOK, http.StatusServiceUnavailable, http.StatusOK, http.StatusOK}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses: up, down, RT itself while down, up again (-want +got):\n%s", diff)
		}
	})

	t.Run("the functions process polls Request Tracker with the rt adapter", func(t *testing.T) {
		id, err := st.PublishTick(ctx, eventing.FunctionPollCRM)
		if err != nil {
			t.Fatal(err)
		}
		lines := waitLogs(t, st, "PollCRM to handle the tick", 1, 60*time.Second, byEvent(eventing.FunctionPollCRM, id))
		if diff := cmp.Diff("INFO", lines[0].Severity()); diff != "" {
			t.Errorf("severity of the poll (-want +got):\n%s\nline: %s", diff, lines[0].Raw)
		}
		calls, err := st.CRMCalls(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if calls[rt.OpSearch] < 1 {
			t.Errorf("the functions process reports CRM calls %v, want at least one %s", calls, rt.OpSearch)
		}
	})

	t.Run("a ticket and a public reply in Request Tracker reach Google by its webhook scrip, without a poll", func(t *testing.T) {
		polls := len(st.Logs(ranFunction(eventing.FunctionPollCRM)))
		if st.CRMWebhookURL() == "" {
			t.Fatal("the stack runs Request Tracker without webhooks; events are on by default")
		}
		id, err := st.RT.Human.CreateTicket(ctx, rttest.NewTicket{Subject: "Load balancer 502s", Description: "since the certificate rotation", SyncFlag: true})
		if err != nil {
			t.Fatal(err)
		}
		var caseName string
		took, ok := waitFor(30*time.Second, func() bool {
			if cs := st.CSAPI.Cases(); len(cs) == 1 {
				caseName = cs[0].Name
			}
			return caseName != ""
		})
		if !ok {
			t.Fatalf("RT ticket %s got no Google case %v after it was opened; last lines:%s", id, took, tail(st))
		}
		t.Logf("the new RT ticket got its Google case in %v", took.Round(time.Millisecond))
		// Nothing in flight may carry the reply but its webhook.
		settle(t, st)
		published := len(st.Logs(webhookLine(webhookPublishedMessage, id)))
		const reply = "The new certificate chain was incomplete; it is fixed."
		if _, err := st.RT.Human.AddComment(ctx, id, rttest.DefaultAuthor, reply, true); err != nil {
			t.Fatal(err)
		}
		took, ok = waitFor(15*time.Second, func() bool { return googleComments(st, caseName, reply) > 0 })
		if !ok {
			t.Fatalf("the RT reply is not on Google case %s %v after it was made; last lines:%s", caseName, took, tail(st))
		}
		t.Logf("the RT reply reached Google in %v", took.Round(time.Millisecond))
		if published < 1 {
			t.Errorf("CRMWebhook published no case-updated for RT ticket %s before the reply; its Google case came some other way", id)
		}
		if n := len(st.Logs(webhookLine(webhookPublishedMessage, id))); n <= published {
			t.Errorf("CRMWebhook published case-updated for RT ticket %s %d times after the reply, want more than the %d before", id, n, published)
		}
		if n := len(st.Logs(ranFunction(eventing.FunctionPollCRM))); n != polls {
			t.Errorf("PollCRM ran meanwhile (%d lines, %d before); the changes were to come by webhook alone", n, polls)
		}
	})

	pidText, err := os.ReadFile(filepath.Join(st.RT.Dir, "rt.pid"))
	if err != nil {
		t.Fatalf("reading Request Tracker's pid: %v", err)
	}
	rtPID, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatalf("Request Tracker's pid file holds %q", pidText)
	}
	rtDir := st.RT.Dir
	var addrs []string
	for _, u := range []string{st.RT.URL, st.Endpoints()[EndpointCRM], st.Endpoints()[EndpointFunctions]} {
		addrs = append(addrs, strings.TrimPrefix(u, "http://"))
	}
	groups := []int{rtPID, st.FunctionsPID(), st.Firestore.PID(), st.PubSub.PID()}

	stopped = true
	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, g := range groups {
		if emulators.GroupAlive(g) {
			t.Errorf("process group %d is still alive after Stop", g)
		}
	}
	for _, addr := range addrs {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", addr)
		}
	}
	if _, err := os.Stat(rtDir); !os.IsNotExist(err) {
		t.Errorf("Request Tracker's directory %s is still there after Stop (stat: %v)", rtDir, err)
	}
}

func TestAnUnknownCRMIsRefusedBeforeAnythingStarts(t *testing.T) {
	_, err := Start(t.Context(), Options{CRM: "hubspot"})
	if err == nil || !strings.Contains(err.Error(), `not "hubspot"`) {
		t.Errorf("Start with CRM hubspot: error %v, want one naming the CRMs it runs", err)
	}
}
