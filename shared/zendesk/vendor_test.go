package zendesk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/zendesk"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
	"github.com/google/go-cmp/cmp"
)

func TestRefusedCredentialsNameTheirVariablesAndNotTheirValues(t *testing.T) {
	const secret = "wrong-secret-value-123"
	tests := []struct {
		name     string
		opts     zendesktest.Options
		edit     func(*zendesk.Config)
		wantVars []string
	}{
		{name: "a wrong API token names the email and token variables",
			edit:     func(c *zendesk.Config) { c.APIToken = secret },
			wantVars: []string{zendesk.EnvEmail, zendesk.EnvAPIToken}},
		{name: "a wrong email names the email and token variables",
			edit:     func(c *zendesk.Config) { c.Email = "someone-else@example.com" },
			wantVars: []string{zendesk.EnvEmail, zendesk.EnvAPIToken}},
		{name: "a wrong OAuth token names the OAuth variable",
			opts:     zendesktest.Options{OAuthToken: "the-right-oauth-token"},
			edit:     func(c *zendesk.Config) { c.OAuthToken = secret },
			wantVars: []string{zendesk.EnvOAuthToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, crm := newAdapter(t, tc.opts, tc.edit)
			err := crm.Check(context.Background())
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Transient {
				t.Fatalf("Check = %v; want a permanent 401 APIError", err)
			}
			for _, v := range tc.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds the credential", err)
			}
		})
	}
	t.Run("right credentials pass the check with one call", func(t *testing.T) {
		sim, crm := newAdapter(t, zendesktest.Options{}, nil)
		if err := crm.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if diff := cmp.Diff(map[string]int{"GET /api/v2/users/me": 1}, sim.Calls()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

func TestListsFollowEveryPage(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{}, nil) // comment pages of 2, export pages of 7
	ctx := context.Background()
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "paged", Description: "d", SyncFlag: true})
	for i := range 4 {
		if _, err := sim.AddHumanComment(id, "Alice Agent", "reply "+string(rune('a'+i)), true); err != nil {
			t.Fatal(err)
		}
	}
	for range 14 {
		sim.CreateTicket(zendesktest.Ticket{Subject: "flagged", Description: "d", SyncFlag: true})
	}
	cs, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	found, err := crm.SearchUpdated(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(cs), len(found)}
	if diff := cmp.Diff([]int{4, 15}, got); diff != "" {
		t.Errorf("[comments, search results] (-want +got):\n%s", diff)
	}
	want := map[string]int{
		"GET /api/v2/users/me":                   1,
		"GET /api/v2/tickets/{id}/comments":      3, // 5 comments (the description too) in pages of 2
		"GET /api/v2/incremental/tickets/cursor": 3, // 15 tickets in pages of 7
	}
	if diff := cmp.Diff(want, sim.Calls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		wantErr    bool
		wantCalls  int
	}{
		{name: "a short Retry-After is waited out and the call succeeds", retryAfter: time.Second, wantCalls: 2},
		{name: "a Retry-After longer than the client waits comes back as a transient error", retryAfter: time.Minute, wantErr: true, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, zendesktest.Options{}, func(c *zendesk.Config) { c.MaxRetryWait = 5 * time.Second })
			id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			sim.InjectRateLimit(tc.retryAfter)
			start := time.Now()
			_, err := crm.GetCase(context.Background(), id)
			elapsed := time.Since(start)
			if tc.wantErr {
				var ae *casesync.APIError
				if !errors.As(err, &ae) || !ae.Transient || ae.Status != 429 || ae.RetryAfter != tc.retryAfter {
					t.Errorf("GetCase = %v; want a transient 429 with RetryAfter %v", err, tc.retryAfter)
				}
			} else {
				if err != nil {
					t.Errorf("GetCase: %v", err)
				}
				if elapsed < tc.retryAfter {
					t.Errorf("GetCase took %v, less than the Retry-After of %v", elapsed, tc.retryAfter)
				}
			}
			if got := sim.Calls()["GET /api/v2/tickets/{id}"]; got != tc.wantCalls {
				t.Errorf("ticket reads = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestTheClientSideLimiterSpacesRequests(t *testing.T) {
	_, crm := newAdapter(t, zendesktest.Options{}, func(c *zendesk.Config) { c.RatePerSecond = 5 })
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Check is one request (who am I), uncached.
			if err := crm.Check(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// A burst of 5, then 5 more at 5 a second: about one second.
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("10 requests at 5 a second took %v, want about 1s", elapsed)
	}
}

func TestTheDefaultPriorityMapCoversGooglesPriorities(t *testing.T) {
	table, err := casesync.ParsePriorityTable(zendesk.DefaultPriorityMap)
	if err != nil {
		t.Fatal(err)
	}
	toZendesk := map[casesync.Priority]string{}
	for p := casesync.P0; p <= casesync.P4; p++ {
		toZendesk[p], _ = table.Company(p)
	}
	wantToZendesk := map[casesync.Priority]string{casesync.P0: "urgent", casesync.P1: "urgent", casesync.P2: "high", casesync.P3: "normal", casesync.P4: "low"}
	if diff := cmp.Diff(wantToZendesk, toZendesk); diff != "" {
		t.Errorf("Google to Zendesk (-want +got):\n%s", diff)
	}
	toGoogle := map[string]casesync.Priority{}
	for _, v := range zendesk.Priorities {
		toGoogle[v], _ = table.Google(v)
	}
	wantToGoogle := map[string]casesync.Priority{"urgent": casesync.P0, "high": casesync.P2, "normal": casesync.P3, "low": casesync.P4}
	if diff := cmp.Diff(wantToGoogle, toGoogle); diff != "" {
		t.Errorf("Zendesk to Google (-want +got):\n%s", diff)
	}
}

func TestStatusesAndClosedTickets(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		status     string // set by a human first; "" leaves the ticket new
		call       func(crm *zendesk.Client, id string) error
		wantClosed bool
		wantStatus string
		wantErr    int // HTTP status of a permanent error; 0 for none
		wantPuts   int
	}{
		{name: "closing an open ticket solves it", status: "open",
			call: func(crm *zendesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantClosed: true, wantStatus: "solved", wantPuts: 1},
		{name: "a solved ticket already counts as closed and is left alone", status: "solved",
			call: func(crm *zendesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantClosed: true, wantStatus: "solved"},
		{name: "closing a closed ticket is fine and sends no update", status: "closed",
			call: func(crm *zendesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantClosed: true, wantStatus: "closed"},
		{name: "a comment on a closed ticket is refused for good", status: "closed",
			call: func(crm *zendesk.Client, id string) error {
				_, err := crm.AddComment(ctx, id, "too late", true)
				return err
			}, wantClosed: true, wantStatus: "closed", wantErr: 422, wantPuts: 1},
		{name: "linking a closed ticket is refused for good", status: "closed",
			call: func(crm *zendesk.Client, id string) error {
				return crm.SetGoogleCase(ctx, id, "projects/p/cases/1")
			}, wantClosed: true, wantStatus: "closed", wantErr: 422, wantPuts: 1},
		{name: "an upload to a closed ticket is refused before any bytes are sent", status: "closed",
			call: func(crm *zendesk.Client, id string) error {
				_, err := crm.UploadAttachment(ctx, id, "a.txt", "text/plain", strings.NewReader("x"))
				return err
			}, wantClosed: true, wantStatus: "closed", wantErr: 422},
		{name: "the priority of a closed ticket may change, as Zendesk allows", status: "closed",
			call: func(crm *zendesk.Client, id string) error { return crm.SetPriority(ctx, id, "urgent") }, wantClosed: true, wantStatus: "closed", wantPuts: 1},
		{name: "a pending ticket is open", status: "pending",
			call: func(crm *zendesk.Client, id string) error { return nil }, wantStatus: "pending"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, zendesktest.Options{}, nil)
			id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", Priority: "low"})
			if tc.status != "" {
				if err := sim.SetHumanStatus(id, tc.status); err != nil {
					t.Fatal(err)
				}
			}
			sim.ResetCalls()
			err := tc.call(crm, id)
			var ae *casesync.APIError
			switch {
			case tc.wantErr == 0 && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != 0 && (!errors.As(err, &ae) || ae.Transient || ae.Status != tc.wantErr):
				t.Errorf("error %v, want a permanent HTTP %d", err, tc.wantErr)
			}
			c, err := crm.GetCase(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := sim.TicketState(id)
			got := []any{c.Closed, st.Status, sim.Calls()["PUT /api/v2/tickets/{id}"]}
			if diff := cmp.Diff([]any{tc.wantClosed, tc.wantStatus, tc.wantPuts}, got); diff != "" {
				t.Errorf("[closed, status, updates] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfiguredClosedStatuses(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{}, func(c *zendesk.Config) {
		c.ClosedStatuses = []string{"closed"}
		c.CloseStatus = "closed"
	})
	ctx := context.Background()
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	if err := sim.SetHumanStatus(id, "solved"); err != nil {
		t.Fatal(err)
	}
	if c, _ := crm.GetCase(ctx, id); c.Closed {
		t.Errorf("a solved ticket reads closed when only closed counts")
	}
	if err := crm.CloseCase(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st, _ := sim.TicketState(id); st.Status != "closed" {
		t.Errorf("status after CloseCase = %q, want closed", st.Status)
	}
}

func TestALinkIsFoundWhenTheExternalIDBelongsToAnotherIntegration(t *testing.T) {
	sim, crm := newAdapter(t, zendesktest.Options{}, nil)
	ctx := context.Background()
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	if err := sim.SetHumanExternalID(id, "salesforce-0001"); err != nil {
		t.Fatal(err)
	}
	const name = "projects/p/cases/42"
	if err := crm.SetGoogleCase(ctx, id, name); err != nil {
		t.Fatal(err)
	}
	st, _ := sim.TicketState(id)
	c, ok, err := crm.FindByGoogleCase(ctx, name)
	got := []any{st.ExternalID, st.GoogleCase, c.ID, ok, err}
	if diff := cmp.Diff([]any{"salesforce-0001", name, id, true, nil}, got); diff != "" {
		t.Errorf("[external id, field, found id, ok, err] (-want +got):\n%s", diff)
	}
	if n := sim.Calls()["GET /api/v2/search"]; n != 1 {
		t.Errorf("searches = %d, want 1 (after the external id found nothing)", n)
	}
}

func TestTheExportsOneMinuteExclusionIsRespected(t *testing.T) {
	// The simulator's clock runs five minutes ahead; tickets made "now" are
	// within Zendesk's one-minute exclusion until the clock moves on.
	var mu sync.Mutex
	offset := 0 * time.Minute
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(offset)
	}
	sim, crm := newAdapter(t, zendesktest.Options{Clock: clock, ExportExclusion: time.Minute}, nil)
	ctx := context.Background()
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", SyncFlag: true})
	since := time.Now().Add(-time.Hour)
	ids := func() []string {
		t.Helper()
		cs, err := crm.SearchUpdated(ctx, since)
		if err != nil {
			t.Fatalf("SearchUpdated: %v", err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string(nil), ids()); diff != "" {
		t.Errorf("within the exclusion window (-want +got):\n%s", diff)
	}
	mu.Lock()
	offset = 2 * time.Minute
	mu.Unlock()
	if diff := cmp.Diff([]string{id}, ids()); diff != "" {
		t.Errorf("after the exclusion window (-want +got):\n%s", diff)
	}
}

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{
		zendesk.EnvEmail:             "sync@acme.example",
		zendesk.EnvAPIToken:          "tok-secret-9",
		zendesk.EnvSyncFlagFieldID:   "360001",
		zendesk.EnvGoogleCaseFieldID: "360002",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		wantVars []string
	}{
		{name: "a complete environment has no problems", env: full},
		{name: "an OAuth token replaces the API token", env: with(zendesk.EnvEmail, "", zendesk.EnvAPIToken, "", zendesk.EnvOAuthToken, "oauth")},
		{name: "no credentials at all is one problem", env: with(zendesk.EnvEmail, "", zendesk.EnvAPIToken, ""), wantVars: []string{zendesk.EnvAPIToken}},
		{name: "a token without its email is a problem", env: with(zendesk.EnvEmail, ""), wantVars: []string{zendesk.EnvEmail}},
		{name: "missing field ids are problems", env: with(zendesk.EnvSyncFlagFieldID, "", zendesk.EnvGoogleCaseFieldID, "x"),
			wantVars: []string{zendesk.EnvSyncFlagFieldID, zendesk.EnvGoogleCaseFieldID}},
		{name: "an unknown closed status is a problem", env: with(zendesk.EnvClosedStatuses, "solved,done"), wantVars: []string{zendesk.EnvClosedStatuses}},
		{name: "a close status not counted as closed is a problem", env: with(zendesk.EnvClosedStatuses, "closed"), wantVars: []string{zendesk.EnvCloseStatus}},
		{name: "pages larger than Zendesk's are problems", env: with(zendesk.EnvPageSize, "500", zendesk.EnvExportPageSize, "5000"),
			wantVars: []string{zendesk.EnvPageSize, zendesk.EnvExportPageSize}},
		{name: "a rate that is not a number is a problem", env: with(zendesk.EnvRateLimit, "fast"), wantVars: []string{zendesk.EnvRateLimit}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := zendesk.ConfigFromEnv(func(k string) string { return tc.env[k] }, "https://acme.zendesk.com")
			var vars []string
			for _, p := range problems {
				vars = append(vars, p.Var)
				if strings.Contains(p.Message, "tok-secret-9") {
					t.Errorf("problem %q shows the token", p.Message)
				}
			}
			if diff := cmp.Diff(tc.wantVars, vars); diff != "" {
				t.Errorf("problem variables (-want +got):\n%s\n%v", diff, problems)
			}
			if len(problems) == 0 {
				if _, err := zendesk.New(cfg); err != nil {
					t.Errorf("New on a problem-free config: %v", err)
				}
			}
		})
	}
	t.Run("the defaults are Zendesk's", func(t *testing.T) {
		cfg, _ := zendesk.ConfigFromEnv(func(k string) string { return full[k] }, "https://acme.zendesk.com")
		got := []any{cfg.ClosedStatuses, cfg.CloseStatus, cfg.RatePerSecond, cfg.PageSize, cfg.ExportPageSize, cfg.MaxAttachmentBytes, cfg.SyncFlagFieldID, cfg.GoogleCaseFieldID}
		want := []any{[]string{"solved", "closed"}, "solved", 200.0 / 60, 100, 1000, int64(50 << 20), int64(360001), int64(360002)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
}

func TestClosingAssignsAnUnassignedTicketToTheSyncUser(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name         string
		autoAssign   bool
		fromGoogle   bool   // made by CreateCase, as for a Google case
		assignee     string // the human assignee; "" for none
		wantAssignee string
	}{
		{name: "a ticket made for a Google case is solved and assigned to the sync user",
			fromGoogle: true, wantAssignee: "casebridge sync"},
		{name: "an unassigned human ticket is solved and assigned to the sync user",
			wantAssignee: "casebridge sync"},
		{name: "an assigned ticket keeps its assignee",
			assignee: "Alice Agent", wantAssignee: "Alice Agent"},
		{name: "an account that auto-assigns on solve still gets the sync user, sent with the status",
			autoAssign: true, wantAssignee: "casebridge sync"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, zendesktest.Options{AutoAssignOnSolve: tc.autoAssign}, nil)
			var id string
			if tc.fromGoogle {
				c, err := crm.CreateCase(ctx, casesync.NewCompanyCase{Subject: "s", Description: "d", GoogleCase: "projects/p/cases/7"})
				if err != nil {
					t.Fatal(err)
				}
				id = c.ID
			} else {
				id = sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d", Assignee: tc.assignee})
			}
			sim.ResetCalls()
			if err := crm.CloseCase(ctx, id); err != nil {
				t.Fatalf("CloseCase: %v", err)
			}
			if err := crm.CloseCase(ctx, id); err != nil {
				t.Fatalf("CloseCase again: %v", err)
			}
			st, _ := sim.TicketState(id)
			got := []any{st.Status, st.Assignee, sim.Calls()["PUT /api/v2/tickets/{id}"]}
			if diff := cmp.Diff([]any{"solved", tc.wantAssignee, 1}, got); diff != "" {
				t.Errorf("[status, assignee, updates] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTheExportsMinuteLimitIsWaitedOutByDefault(t *testing.T) {
	// Zendesk's export allows 10 requests a minute; its Retry-After can be
	// a whole minute. With the default MaxRetryWait the client waits (here
	// until the context ends) instead of giving up at once.
	sim, crm := newAdapter(t, zendesktest.Options{}, nil)
	id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
	sim.InjectRateLimit(61 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := crm.GetCase(ctx, id)
	if elapsed := time.Since(start); elapsed < 600*time.Millisecond {
		t.Errorf("GetCase gave up after %v (%v); want it to wait for the Retry-After of 61 s", elapsed, err)
	}
	if !casesync.IsTransient(err) {
		t.Errorf("GetCase = %v; want a transient error when the context ends during the wait", err)
	}
}

func TestAttachmentDownloadsUseTheConfiguredHost(t *testing.T) {
	const mapped = "support.acme.test"
	ctx := context.Background()
	data := []byte("file bytes \x00\x01 end")
	tests := []struct {
		name       string
		mappedHost string // the simulator's host-mapped domain; "" for none
		onMapped   bool   // CRM_URL is http://support.acme.test, not the Zendesk address
		wantErr    bool
	}{
		{name: "with CRM_URL on the Zendesk address the file comes from content_url", mappedHost: mapped},
		{name: "with CRM_URL on the host-mapped domain the file comes from mapped_content_url", mappedHost: mapped, onMapped: true},
		{name: "with CRM_URL on a host no attachment URL is on, the download is refused and names the Zendesk address",
			onMapped: true, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := zendesktest.NewServer(t, zendesktest.Options{MappedHost: tc.mappedHost})
			crm := adapterFor(t, sim, func(c *zendesk.Config) {
				c.HTTP = sim.HTTPClient() // reaches the simulator for the mapped host too
				if tc.onMapped {
					c.BaseURL = "http://" + mapped
				}
			})
			id := sim.CreateTicket(zendesktest.Ticket{Subject: "s", Description: "d"})
			aid, err := sim.AddHumanAttachment(id, "Alice Agent", "a.bin", "application/octet-stream", data)
			if err != nil {
				t.Fatal(err)
			}
			sim.ResetCalls()
			rc, err := crm.DownloadAttachment(ctx, id, aid)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(rc)
				rc.Close()
			}
			downloads := sim.Calls()["GET /attachments/token/{token}"]
			if tc.wantErr {
				if !casesync.IsPermanent(err) || !strings.Contains(fmt.Sprint(err), "CRM_URL") || !strings.Contains(fmt.Sprint(err), sim.URL) {
					t.Errorf("DownloadAttachment = %v; want a permanent error saying to set CRM_URL to %s", err, sim.URL)
				}
				if downloads != 0 {
					t.Errorf("downloads = %d, want none", downloads)
				}
				return
			}
			if err != nil {
				t.Fatalf("DownloadAttachment: %v", err)
			}
			if diff := cmp.Diff([]any{data, 1}, []any{got, downloads}); diff != "" {
				t.Errorf("[bytes, downloads] (-want +got):\n%s", diff)
			}
		})
	}
}
