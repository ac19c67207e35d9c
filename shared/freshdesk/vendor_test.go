package freshdesk_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/google/go-cmp/cmp"
)

func TestARefusedAPIKeyNamesItsVariableAndNotItsValue(t *testing.T) {
	const secret = "wrong-secret-value-123"
	_, crm := newAdapter(t, freshdesktest.Options{}, func(c *freshdesk.Config) { c.APIKey = secret })
	err := crm.Check(context.Background())
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Transient {
		t.Fatalf("Check = %v; want a permanent 401 APIError", err)
	}
	if !strings.Contains(err.Error(), freshdesk.EnvAPIKey) || strings.Contains(err.Error(), secret) {
		t.Errorf("error %q: want it to name %s and not hold the key", err, freshdesk.EnvAPIKey)
	}
	t.Run("the right key passes the check with one call", func(t *testing.T) {
		sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
		if err := crm.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if diff := cmp.Diff(map[string]int{"GET /api/v2/agents/me": 1}, sim.Calls()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
}

// steppingClock is a simulator clock that moves on only when told.
type steppingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *steppingClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTheTicketListIsReadWithoutDeepPages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// perSecond tickets change in each second; total in all.
		perSecond, total int
		wantPages        int // list requests, at pages of 2
	}{
		// Each full page moves updated_since forward to its last update
		// less a second, so no page past the second is asked for, though
		// the list holds 8 pages of 2. With pages of 2 and a ticket a
		// second, every other request reads the overlap again (pages 1, 1,
		// 2, 1, 2, ...): 15 requests for 16 tickets.
		{name: "tickets changed a second apart are read by moving updated_since forward", perSecond: 1, total: 15, wantPages: 15},
		// A burst of more tickets in one second than a page holds cannot
		// move updated_since past the second: after one move to the
		// second before it, its 8 tickets are read page by page (1 to 4).
		{name: "a burst of tickets in one second larger than a page is read page by page", perSecond: 7, total: 7, wantPages: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &steppingClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
			// Freshdesk caps the list's depth; here at page 4, so that
			// reading 15 tickets page after page would be refused.
			sim, crm := newAdapter(t, freshdesktest.Options{Clock: clk.Now, MaxListPage: 4}, nil)
			since := clk.Now().Add(-time.Minute)
			want := map[string]bool{}
			for i := range tc.total {
				if i > 0 && i%tc.perSecond == 0 {
					clk.Advance(time.Second)
				}
				want[sim.CreateTicket(freshdesktest.Ticket{Subject: "t" + strconv.Itoa(i), Description: "d", SyncFlag: true})] = true
			}
			// Some unflagged tickets in between are read and left out.
			sim.CreateTicket(freshdesktest.Ticket{Subject: "not synced", Description: "d"})
			clk.Advance(10 * time.Second)
			found, err := crm.SearchUpdated(ctx, since)
			if err != nil {
				t.Fatalf("SearchUpdated: %v", err)
			}
			got := map[string]bool{}
			for _, c := range found {
				if got[c.ID] {
					t.Errorf("ticket %s returned twice", c.ID)
				}
				got[c.ID] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tickets found (-want +got):\n%s", diff)
			}
			if n := sim.Calls()["GET /api/v2/tickets"]; n != tc.wantPages {
				t.Errorf("%d list requests, want %d", n, tc.wantPages)
			}
		})
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
			sim, crm := newAdapter(t, freshdesktest.Options{}, func(c *freshdesk.Config) { c.MaxRetryWait = 5 * time.Second })
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			sim.InjectRateLimit(tc.retryAfter)
			start := time.Now()
			_, err := crm.GetCase(context.Background(), id)
			elapsed := time.Since(start)
			if tc.wantErr {
				var ae *casesync.APIError
				if !errors.As(err, &ae) || !ae.Transient || ae.Status != 429 || ae.RetryAfter != tc.retryAfter {
					t.Errorf("GetCase = %v; want a transient 429 with RetryAfter %v", err, tc.retryAfter)
				}
			} else if err != nil || elapsed < tc.retryAfter {
				t.Errorf("GetCase = %v after %v; want success after at least %v", err, elapsed, tc.retryAfter)
			}
			if got := sim.Calls()["GET /api/v2/tickets/{id}"]; got != tc.wantCalls {
				t.Errorf("ticket reads = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestTheRateLimitLeftIsKeptFromEachAnswer(t *testing.T) {
	_, crm := newAdapter(t, freshdesktest.Options{RequestsPerMinute: 50}, nil)
	if _, ok := crm.RateLimitRemaining(); ok {
		t.Errorf("a rate limit is known before any call")
	}
	for range 3 {
		if err := crm.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n, ok := crm.RateLimitRemaining(); !ok || n != 47 {
		t.Errorf("RateLimitRemaining = %d, %v; want 47 after 3 of 50 calls", n, ok)
	}
}

func TestTheDefaultPriorityMapCoversGooglesPriorities(t *testing.T) {
	table, err := casesync.ParsePriorityTable(freshdesk.DefaultPriorityMap)
	if err != nil {
		t.Fatal(err)
	}
	toFreshdesk := map[casesync.Priority]string{}
	for p := casesync.P0; p <= casesync.P4; p++ {
		toFreshdesk[p], _ = table.Company(p)
	}
	if diff := cmp.Diff(map[casesync.Priority]string{casesync.P0: "4", casesync.P1: "4", casesync.P2: "3", casesync.P3: "2", casesync.P4: "1"}, toFreshdesk); diff != "" {
		t.Errorf("Google to Freshdesk (-want +got):\n%s", diff)
	}
	toGoogle := map[string]casesync.Priority{}
	for _, v := range freshdesk.Priorities {
		toGoogle[v], _ = table.Google(v)
	}
	if diff := cmp.Diff(map[string]casesync.Priority{"4": casesync.P0, "3": casesync.P2, "2": casesync.P3, "1": casesync.P4}, toGoogle); diff != "" {
		t.Errorf("Freshdesk to Google (-want +got):\n%s", diff)
	}
}

func TestClosingAndGooglesStateRespectClosedStatuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		status     int // set by an agent first
		edit       func(*freshdesk.Config)
		call       func(crm *freshdesk.Client, id string) error
		wantStatus int
		wantState  string
		wantPuts   int
	}{
		{name: "closing an open ticket sets 5 Closed by default", status: 2,
			call: func(crm *freshdesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantStatus: 5, wantPuts: 1},
		{name: "closing with FRESHDESK_CLOSE_STATUS 4 resolves it", status: 2, edit: func(c *freshdesk.Config) { c.CloseStatus = 4 },
			call: func(crm *freshdesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantStatus: 4, wantPuts: 1},
		{name: "a resolved ticket already counts as closed and is left alone", status: 4,
			call: func(crm *freshdesk.Client, id string) error { return crm.CloseCase(ctx, id) }, wantStatus: 4},
		{name: "a mapped Google state sets its status and the field in one update", status: 2,
			call:       func(crm *freshdesk.Client, id string) error { return crm.SetGoogleState(ctx, id, mappedState) },
			wantStatus: mappedStatus, wantState: mappedState, wantPuts: 1},
		{name: "a mapped Google state on a closed ticket writes the field and never reopens it", status: 5,
			call:       func(crm *freshdesk.Client, id string) error { return crm.SetGoogleState(ctx, id, mappedState) },
			wantStatus: 5, wantState: mappedState, wantPuts: 1},
		{name: "CLOSED is written to the field and closes nothing", status: 3,
			call:       func(crm *freshdesk.Client, id string) error { return crm.SetGoogleState(ctx, id, "CLOSED") },
			wantStatus: 3, wantState: "CLOSED", wantPuts: 1},
		{name: "with no state field and no mapping, setting a state makes no call", status: 2,
			edit: func(c *freshdesk.Config) { c.StateField, c.StateStatuses = "", nil },
			call: func(crm *freshdesk.Client, id string) error { return crm.SetGoogleState(ctx, id, "NEW") }, wantStatus: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, freshdesktest.Options{}, tc.edit)
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d", Status: tc.status})
			sim.ResetCalls()
			if err := tc.call(crm, id); err != nil {
				t.Fatalf("call: %v", err)
			}
			v, _ := sim.TicketState(id)
			state, _ := v.Fields[freshdesktest.FieldState].(string)
			if v.Status != tc.wantStatus || state != tc.wantState {
				t.Errorf("status %d, state %q; want %d, %q", v.Status, state, tc.wantStatus, tc.wantState)
			}
			if got := sim.Calls()["PUT /api/v2/tickets/{id}"]; got != tc.wantPuts {
				t.Errorf("%d updates, want %d", got, tc.wantPuts)
			}
			if tc.edit != nil && tc.wantPuts == 0 && len(sim.Calls()) != 0 && tc.status == 2 && tc.wantStatus == 2 {
				t.Errorf("calls %v, want none", sim.Calls())
			}
		})
	}
	t.Run("an unknown state is refused for good without a call", func(t *testing.T) {
		sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
		id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
		sim.ResetCalls()
		err := crm.SetGoogleState(ctx, id, "ESCALATED")
		if !casesync.IsPermanent(err) || len(sim.Calls()) != 0 {
			t.Errorf("SetGoogleState(ESCALATED) = %v with calls %v; want a permanent error and no call", err, sim.Calls())
		}
	})
}

func TestGoogleCommentsBecomePublicNotesNeverReplies(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "The opening message.", SyncFlag: true})
	if _, err := sim.AddCustomerReply(id, "Thanks, any news?"); err != nil {
		t.Fatal(err)
	}
	pub, err := crm.AddComment(ctx, id, "[Google Comment 1 by Google Support]\nWe are on it.", true)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := crm.AddComment(ctx, id, "an internal note", false)
	if err != nil {
		t.Fatal(err)
	}
	if n := sim.Calls()["POST /api/v2/tickets/{id}/reply"]; n != 0 {
		t.Errorf("%d replies sent; a reply emails the requester", n)
	}
	v, _ := sim.TicketState(id)
	type conv struct {
		Body              string
		Private, Incoming bool
		Source            int
	}
	var got []conv
	for _, c := range v.Conversations {
		got = append(got, conv{c.Body, c.Private, c.Incoming, c.Source})
	}
	want := []conv{
		{"Thanks, any news?", false, true, freshdesktest.SourceReply},
		{"[Google Comment 1 by Google Support]\nWe are on it.", false, false, freshdesktest.SourceNote},
		{"an internal note", true, false, freshdesktest.SourceNote},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conversations as Freshdesk holds them (-want +got):\n%s", diff)
	}
	comments, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		ID, Body, Author  string
		Public, Connector bool
	}
	var views []view
	for _, c := range comments {
		views = append(views, view{c.ID, c.Body, c.AuthorName, c.Public, c.ByConnector})
	}
	wantViews := []view{
		{v.Conversations[0].ID, "Thanks, any news?", "Requester", true, false},
		{pub.ID, "[Google Comment 1 by Google Support]\nWe are on it.", "casebridge sync", true, true},
		{priv.ID, "an internal note", "casebridge sync", false, true},
	}
	if diff := cmp.Diff(wantViews, views); diff != "" {
		t.Errorf("ListComments: the description is no comment, the requester's reply is public (-want +got):\n%s", diff)
	}
	c, err := crm.GetCase(ctx, id)
	if err != nil || c.Description != "The opening message." {
		t.Errorf("GetCase = description %q, %v; want the opening message", c.Description, err)
	}
}

func TestAnExpiredAttachmentURLIsListedAgain(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		expire    int
		wantErr   bool
		wantFiles int
	}{
		{name: "an expired URL is replaced by a fresh one from a new listing", expire: 1, wantFiles: 2},
		{name: "a fresh URL that fails too is an error", expire: 2, wantErr: true, wantFiles: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, crm := newAdapter(t, freshdesktest.Options{}, nil)
			id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
			aid, err := sim.AddHumanAttachment(id, "Alice Agent", "f.txt", "text/plain", []byte("contents\n"))
			if err != nil {
				t.Fatal(err)
			}
			sim.ExpireAttachmentURLs(tc.expire)
			sim.ResetCalls()
			rc, err := crm.DownloadAttachment(ctx, id, aid)
			if tc.wantErr {
				var ae *casesync.APIError
				if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Transient {
					t.Errorf("DownloadAttachment = %v; want a permanent 403", err)
				}
			} else if err != nil {
				t.Fatalf("DownloadAttachment: %v", err)
			} else {
				rc.Close()
			}
			if n := sim.Calls()["GET /files/{token}/f.txt"]; n != tc.wantFiles {
				t.Errorf("%d file requests, want %d (calls %v)", n, tc.wantFiles, sim.Calls())
			}
		})
	}
}

func TestFindByGoogleCaseWaitsOutTheSearchIndex(t *testing.T) {
	ctx := context.Background()
	clk := &steppingClock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	sim, crm := newAdapter(t, freshdesktest.Options{Clock: clk.Now, SearchLag: time.Minute}, func(c *freshdesk.Config) { c.SearchLag = 2 * time.Minute })
	if got := crm.CreationLookupLag(); got != 2*time.Minute {
		t.Errorf("CreationLookupLag = %v, want FRESHDESK_SEARCH_LAG's 2m", got)
	}
	const name = "projects/p/cases/123"
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d", GoogleCase: name})
	if _, ok, err := crm.FindByGoogleCase(ctx, name); err != nil || ok {
		t.Errorf("FindByGoogleCase right after the change = %v, %v; the simulated index has not caught up", ok, err)
	}
	clk.Advance(time.Minute)
	c, ok, err := crm.FindByGoogleCase(ctx, name)
	if err != nil || !ok || c.ID != id || c.GoogleCase != name {
		t.Errorf("FindByGoogleCase after the lag = %+v, %v, %v; want ticket %s", c, ok, err, id)
	}
	if _, ok, err := crm.FindByGoogleCase(ctx, "projects/p/cases/12"); err != nil || ok {
		t.Errorf("FindByGoogleCase of another name = %v, %v; want nothing", ok, err)
	}
}

func TestValidationErrorsNameFieldsAndCodesOnly(t *testing.T) {
	sim, crm := newAdapter(t, freshdesktest.Options{Fields: []freshdesktest.Field{{Name: "cf_sync_with_google", Type: "custom_checkbox"}}}, nil)
	id := sim.CreateTicket(freshdesktest.Ticket{Subject: "s", Description: "d"})
	// The account lacks the Google-case field: Freshdesk refuses it.
	err := crm.SetGoogleCase(context.Background(), id, "projects/p/cases/1")
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Transient {
		t.Fatalf("SetGoogleCase = %v; want a permanent 400", err)
	}
	if !strings.Contains(err.Error(), "cf_google_case: invalid_field") || strings.Contains(err.Error(), "Unexpected") {
		t.Errorf("error %q; want the field and its code, not Freshdesk's message", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	t.Run("defaults", func(t *testing.T) {
		cfg, problems := freshdesk.ConfigFromEnv(env(map[string]string{freshdesk.EnvAPIKey: "k"}), "https://acme.freshdesk.com")
		if len(problems) != 0 {
			t.Fatalf("problems: %v", problems)
		}
		got := []any{cfg.SyncFlagField, cfg.GoogleCaseField, cfg.StateField, cfg.EscalationField, cfg.EscalationReasonField,
			cfg.EscalationJustificationField, cfg.ClosedStatuses, cfg.CloseStatus, len(cfg.StateStatuses), cfg.SearchLag}
		want := []any{"cf_sync_with_google", "cf_google_case", "cf_google_case_state", "cf_escalate_to_google", "cf_google_escalation_reason",
			"cf_google_escalation_justification", []int{4, 5}, 5, 0, 5 * time.Minute}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
		if _, err := freshdesk.New(cfg); err != nil {
			t.Errorf("New: %v", err)
		}
	})
	t.Run("none turns the state and escalation fields off", func(t *testing.T) {
		cfg, problems := freshdesk.ConfigFromEnv(env(map[string]string{freshdesk.EnvAPIKey: "k", freshdesk.EnvStateField: "none",
			freshdesk.EnvEscalationField: "NONE"}), "https://acme.freshdesk.com")
		if len(problems) != 0 || cfg.StateField != "" || cfg.EscalationField != "" {
			t.Errorf("state %q, escalation %q, problems %v; want both off", cfg.StateField, cfg.EscalationField, problems)
		}
	})
	for _, tc := range []struct {
		name, v, value string
	}{
		{"a missing API key", freshdesk.EnvAPIKey, ""},
		{"a field that is no API name", freshdesk.EnvGoogleCaseField, "Google case"},
		{"the sync flag may not be turned off", freshdesk.EnvSyncFlagField, "none"},
		{"a close status not counted as closed", freshdesk.EnvCloseStatus, "3"},
		{"a closed status that is no number", freshdesk.EnvClosedStatuses, "4,closed"},
		{"a state mapped to a closed status", freshdesk.EnvStateStatuses, "SOLUTION_PROVIDED=4"},
		{"CLOSED mapped to a status", freshdesk.EnvStateStatuses, "CLOSED=2"},
		{"an unknown state", freshdesk.EnvStateStatuses, "WAITING=3"},
		{"a page size over 100", freshdesk.EnvPageSize, "101"},
		{"two variables naming one field", freshdesk.EnvStateField, "cf_google_case"},
	} {
		t.Run(tc.name+" is a problem", func(t *testing.T) {
			kv := map[string]string{freshdesk.EnvAPIKey: "k"}
			kv[tc.v] = tc.value
			_, problems := freshdesk.ConfigFromEnv(env(kv), "https://acme.freshdesk.com")
			if !hasProblem(problems, tc.v) && !(tc.v == freshdesk.EnvStateField && hasProblem(problems, freshdesk.EnvSyncFlagField)) {
				t.Errorf("problems %v; want one about %s", problems, tc.v)
			}
		})
	}
	t.Run("a good mapping is read", func(t *testing.T) {
		cfg, problems := freshdesk.ConfigFromEnv(env(map[string]string{freshdesk.EnvAPIKey: "k",
			freshdesk.EnvStateStatuses: "in_progress_google_support=3, ACTION_REQUIRED=2"}), "https://acme.freshdesk.com")
		if len(problems) != 0 {
			t.Fatal(problems)
		}
		if diff := cmp.Diff(map[string]int{"IN_PROGRESS_GOOGLE_SUPPORT": 3, "ACTION_REQUIRED": 2}, cfg.StateStatuses); diff != "" {
			t.Errorf("mapping (-want +got):\n%s", diff)
		}
	})
}

func hasProblem(ps []envconf.Problem, v string) bool {
	for _, p := range ps {
		if p.Var == v {
			return true
		}
	}
	return false
}
