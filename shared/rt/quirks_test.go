package rt_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
	"github.com/google/go-cmp/cmp"
)

func humanTicket(t *testing.T, nt rttest.NewTicket) string {
	t.Helper()
	id, err := inst.Human.CreateTicket(ctxFor(t), nt)
	if err != nil {
		t.Fatalf("creating a ticket as a human: %v", err)
	}
	return id
}

func TestRefusedCredentialsNameTheVariablesAndNeverTheSecret(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*rt.Config)
		secret   string
		wantVars []string
	}{
		{
			name:     "a wrong token names RT_TOKEN",
			edit:     func(c *rt.Config) { c.Token = "1-28-0123456789abcdef0123456789abcdef" },
			secret:   "0123456789abcdef0123456789abcdef",
			wantVars: []string{rt.EnvToken},
		},
		{
			name:     "a wrong password names RT_USER and RT_PASSWORD",
			edit:     func(c *rt.Config) { c.Token, c.User, c.Password = "", rttest.SyncUser, "not-the-password-42" },
			secret:   "not-the-password-42",
			wantVars: []string{rt.EnvUser, rt.EnvPassword},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.edit)
			err := c.Check(ctxFor(t))
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Transient {
				t.Fatalf("Check = %v, want a permanent 401 APIError", err)
			}
			for _, v := range tc.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q holds the credential", err)
			}
		})
	}
}

func TestBasicAuthWorksAndKnowsTheSyncUsersOwnComments(t *testing.T) {
	c := newClient(t, func(c *rt.Config) { c.Token, c.User, c.Password = "", rttest.SyncUser, inst.SyncPassword })
	ctx := ctxFor(t)
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check with a password: %v", err)
	}
	id := humanTicket(t, rttest.NewTicket{Subject: "RT: basic auth", Description: "d", SyncFlag: true})
	if _, err := c.AddComment(ctx, id, "From the connector.", false); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Human.AddComment(ctx, id, "Erin Agent", "From Erin.", false); err != nil {
		t.Fatal(err)
	}
	cs, err := c.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Body, Author string
		ByConnector  bool
	}
	var got []view
	for _, x := range cs {
		got = append(got, view{x.Body, x.AuthorName, x.ByConnector})
	}
	want := []view{{"From the connector.", "Google Cloud Sync", true}, {"From Erin.", "Erin Agent", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}

func TestSearchFollowsPagesOfTwo(t *testing.T) {
	c := newClient(t, func(c *rt.Config) { c.PageSize = 2 })
	ctx := ctxFor(t)
	start := time.Now().Add(-2 * time.Second)
	var mine []string
	for i := range 5 {
		mine = append(mine, humanTicket(t, rttest.NewTicket{Subject: "RT: paging " + string(rune('a'+i)), Description: "d", SyncFlag: true}))
	}
	before := c.Calls()[rt.OpSearch]
	cs, err := c.SearchUpdated(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range cs {
		if slices.Contains(mine, x.ID) {
			got = append(got, x.ID)
		}
	}
	if diff := cmp.Diff(mine, got); diff != "" {
		t.Errorf("tickets found among this test's (-want +got):\n%s", diff)
	}
	if pages := c.Calls()[rt.OpSearch] - before; pages < 3 {
		t.Errorf("the search took %d pages, want at least 3 for 5 tickets in pages of 2", pages)
	}
}

func TestRepliesAndResolvedTickets(t *testing.T) {
	c := newClient(t, nil)
	ctx := ctxFor(t)
	tests := []struct {
		name       string
		reply      func(id string) error
		wantClosed bool
	}{
		{
			name: "a human's reply reopens a resolved ticket (RT's default scrip)",
			reply: func(id string) error {
				_, err := inst.Human.AddComment(ctx, id, "Alice Agent", "One more thing.", true)
				return err
			},
			wantClosed: false,
		},
		{
			name: "the connector's public reply leaves a resolved ticket resolved",
			reply: func(id string) error {
				_, err := c.AddComment(ctx, id, "[Google Comment 9 by Carol] Late reply.", true)
				return err
			},
			wantClosed: true,
		},
		{
			name: "the connector's internal comment leaves a resolved ticket resolved",
			reply: func(id string) error {
				_, err := c.AddComment(ctx, id, "A note.", false)
				return err
			},
			wantClosed: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := humanTicket(t, rttest.NewTicket{Subject: "RT: resolved", Description: "d", SyncFlag: true})
			if err := inst.Human.Resolve(ctx, id, "Alice Agent"); err != nil {
				t.Fatal(err)
			}
			if err := tc.reply(id); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetCase(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Closed != tc.wantClosed {
				t.Errorf("closed after the reply = %v, want %v", got.Closed, tc.wantClosed)
			}
			cs, err := c.ListComments(ctx, id)
			if err != nil || len(cs) != 1 {
				t.Errorf("ListComments = %d comments, %v; want the reply alone", len(cs), err)
			}
		})
	}
}

func TestOnlyRealFilesAreAttachmentsAndOnlyTextIsAComment(t *testing.T) {
	c := newClient(t, nil)
	ctx := ctxFor(t)
	id := humanTicket(t, rttest.NewTicket{Subject: "RT: parts", Description: "The description, which is no comment.", SyncFlag: true})
	if _, err := inst.Human.AddComment(ctx, id, "Alice Agent", "A reply with text.", true); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Human.Attach(ctx, id, "Alice Agent", "notes.txt", "text/plain", []byte("plain UTF-8 notes — ok\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadAttachment(ctx, id, "dump.bin", "application/octet-stream", strings.NewReader("\x00\x01\x02")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadAttachment(ctx, id, "latin.txt", "text/plain", strings.NewReader("caf\xe9\x00\xff")); err != nil {
		t.Fatal(err)
	}
	cs, err := c.ListComments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, x := range cs {
		bodies = append(bodies, x.Body)
	}
	if diff := cmp.Diff([]string{"A reply with text."}, bodies); diff != "" {
		t.Errorf("comment bodies (-want +got):\n%s", diff)
	}
	as, err := c.ListAttachments(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Name, Type  string
		Size        int64
		ByConnector bool
	}
	var got []view
	for _, a := range as {
		got = append(got, view{a.Filename, a.MimeType, a.Size, a.ByConnector})
	}
	want := []view{
		{"notes.txt", "text/plain", int64(len("plain UTF-8 notes — ok\n")), false},
		{"dump.bin", "application/octet-stream", 3, true},
		{"latin.txt", "text/plain", 6, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	got2, err := c.GetCase(ctx, id)
	if err != nil || got2.Description != "The description, which is no comment." {
		t.Errorf("GetCase description = %q, %v", got2.Description, err)
	}
}

func TestPriorityNumbersReadAsRTShowsThem(t *testing.T) {
	c := newClient(t, nil)
	ctx := ctxFor(t)
	id := humanTicket(t, rttest.NewTicket{Subject: "RT: priorities", Description: "d", SyncFlag: true})
	tests := []struct{ number, want string }{
		{"0", "Low"}, {"49", "Low"}, {"50", "Medium"}, {"90", "Medium"}, {"100", "High"}, {"120", "High"},
	}
	for _, tc := range tests {
		t.Run("RT's "+tc.number+" reads as "+tc.want, func(t *testing.T) {
			if err := inst.Human.SetPriority(ctx, id, "Alice Agent", tc.number); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetCase(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Priority != tc.want {
				t.Errorf("priority = %q, want %q", got.Priority, tc.want)
			}
		})
	}
	t.Run("an unknown name is refused before any call", func(t *testing.T) {
		before := c.Calls()
		err := c.SetPriority(ctx, id, "Urgent")
		var ae *casesync.APIError
		if !errors.As(err, &ae) || ae.Transient {
			t.Errorf("SetPriority(Urgent) = %v, want a permanent APIError", err)
		}
		if diff := cmp.Diff(before, c.Calls()); diff != "" {
			t.Errorf("calls (-before +after):\n%s", diff)
		}
	})
}

func TestRateLimitsAndOutages(t *testing.T) {
	id := humanTicket(t, rttest.NewTicket{Subject: "RT: limits", Description: "d", SyncFlag: true})
	t.Run("a 429's Retry-After is waited out and the call repeated", func(t *testing.T) {
		c := newClient(t, nil)
		proxy.InjectRateLimit(1, time.Second)
		start := time.Now()
		if _, err := c.GetCase(ctxFor(t), id); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("GetCase took %v, want at least the 1 s Retry-After", took)
		}
		if got := c.Calls()[rt.OpGet]; got != 2 {
			t.Errorf("%s calls = %d, want 2", rt.OpGet, got)
		}
	})
	t.Run("the client-side limiter paces calls", func(t *testing.T) {
		c := newClient(t, func(c *rt.Config) { c.RatePerSecond = 4 })
		start := time.Now()
		for range 9 {
			if err := c.Check(ctxFor(t)); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("9 calls at 4 per second took %v, want at least 1 s", took)
		}
	})
	t.Run("an RT that is down gives a transient error", func(t *testing.T) {
		c := newClient(t, nil)
		proxy.SetDown(true)
		defer proxy.SetDown(false)
		_, err := c.GetCase(ctxFor(t), id)
		var ae *casesync.APIError
		if !errors.As(err, &ae) || !ae.Transient || ae.Status != http.StatusServiceUnavailable {
			t.Errorf("GetCase while down = %v, want a transient 503 APIError", err)
		}
	})
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantProblems []string // variables named
		check        func(t *testing.T, c rt.Config)
	}{
		{
			name:         "no credentials is a problem naming RT_TOKEN",
			env:          map[string]string{},
			wantProblems: []string{rt.EnvToken},
		},
		{
			name:         "a user without a password is a problem naming RT_PASSWORD",
			env:          map[string]string{rt.EnvUser: "gcp-sync"},
			wantProblems: []string{rt.EnvPassword},
		},
		{
			name: "a token alone gives the defaults",
			env:  map[string]string{rt.EnvToken: "1-28-abc"},
			check: func(t *testing.T, c rt.Config) {
				got := []any{c.Queue, c.SyncFlagField, c.SyncFlagValue, c.GoogleCaseField, c.ClosedStatuses, c.CloseStatus, c.PriorityNames(), c.RatePerSecond, c.PageSize, c.MaxAttachmentBytes}
				want := []any{"General", "GCP Sync", "yes", "GCP Case", []string{"resolved", "rejected", "deleted"}, "resolved", []string{"Low", "Medium", "High"}, 10.0, 100, int64(10 << 20)}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("defaults (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "every setting can be changed",
			env: map[string]string{rt.EnvUser: "sync", rt.EnvPassword: "pw", rt.EnvQueue: "Support", rt.EnvSyncFlagField: "Sync",
				rt.EnvSyncFlagValue: "on", rt.EnvGoogleCaseField: "Google", rt.EnvClosedStatuses: "done, dropped", rt.EnvCloseStatus: "done",
				rt.EnvPriorities: "P4=10,P1=90", rt.EnvRateLimit: "2.5", rt.EnvPageSize: "20", rt.EnvMaxAttachmentBytes: "1024"},
			check: func(t *testing.T, c rt.Config) {
				got := []any{c.Queue, c.SyncFlagField, c.SyncFlagValue, c.GoogleCaseField, c.ClosedStatuses, c.CloseStatus, c.Priorities, c.RatePerSecond, c.PageSize, c.MaxAttachmentBytes}
				want := []any{"Support", "Sync", "on", "Google", []string{"done", "dropped"}, "done", []rt.PriorityLevel{{"P4", 10}, {"P1", 90}}, 2.5, 20, int64(1024)}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("settings (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "RT's time zone is read when given",
			env:  map[string]string{rt.EnvToken: "1-28-abc", rt.EnvTimeZone: "America/New_York"},
			check: func(t *testing.T, c rt.Config) {
				if c.TimeZone == nil || c.TimeZone.String() != "America/New_York" {
					t.Errorf("TimeZone = %v, want America/New_York", c.TimeZone)
				}
			},
		},
		{
			name:         "bad values are problems naming their variables",
			env:          map[string]string{rt.EnvToken: "1-2-x", rt.EnvPageSize: "500", rt.EnvPriorities: "High", rt.EnvCloseStatus: "closed", rt.EnvRateLimit: "fast", rt.EnvTimeZone: "Mars/Olympus"},
			wantProblems: []string{rt.EnvRateLimit, rt.EnvTimeZone, rt.EnvPageSize, rt.EnvPriorities, rt.EnvCloseStatus},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := rt.ConfigFromEnv(func(k string) string { return tc.env[k] }, "https://rt.example.com")
			var vars []string
			for _, p := range problems {
				vars = append(vars, p.Var)
				for _, v := range tc.env {
					if len(v) > 3 && strings.Contains(p.Message, v) && (v == tc.env[rt.EnvToken] || v == tc.env[rt.EnvPassword]) {
						t.Errorf("problem %q holds a credential", p.Message)
					}
				}
			}
			if diff := cmp.Diff(tc.wantProblems, vars); diff != "" {
				t.Errorf("problems' variables (-want +got):\n%s\n%v", diff, problems)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}
