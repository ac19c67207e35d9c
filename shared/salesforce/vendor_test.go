package salesforce_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
)

func TestALongCommentIsPostedInPartsAndReadBackWhole(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", Description: "d", SyncFlag: true})
	// 12,800 characters, many of them two or three bytes and some that
	// Salesforce may keep HTML-encoded: about 25,000 bytes.
	body := "[Google Comment 7 by Carol]\n\n" + strings.Repeat("é<ü> naïve & “quoted” text\n", 12800/27)
	c, err := crm.AddComment(ctx, id, body, true)
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	bodies, published := sim.CommentBodies(id)
	if len(bodies) < 2 {
		t.Fatalf("the body went into %d case comments, want several", len(bodies))
	}
	joined := ""
	for i, b := range bodies {
		if len(b) > salesforce.MaxCommentBytes || !published[i] {
			t.Errorf("part %d: %d bytes, published %v; want at most 4,000 and published", i+1, len(b), published[i])
		}
		joined += b[:strings.LastIndex(b, "\n\n(")]
	}
	if joined != body {
		t.Errorf("the parts without their labels are not the body")
	}
	list, err := crm.ListComments(ctx, id)
	if err != nil {
		t.Fatalf("ListComments: %v", err)
	}
	if len(list) != 1 || list[0].ID != c.ID || list[0].Body != body || !list[0].ByConnector || !list[0].Public {
		t.Fatalf("ListComments gave %d comments (first id %q); want the one comment %s with the whole body", len(list), firstID(list), c.ID)
	}

	t.Run("a long comment missing a part is left out and posting it again adds only that part", func(t *testing.T) {
		id := sim.CreateCase(salesforcetest.Case{Subject: "s", Description: "d", SyncFlag: true})
		c, err := crm.AddComment(ctx, id, body, false)
		if err != nil {
			t.Fatalf("AddComment: %v", err)
		}
		list, err := crm.ListComments(ctx, id)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListComments: %d comments, %v", len(list), err)
		}
		// A run that stopped after the first parts: drop the last.
		bodies, _ := sim.CommentBodies(id)
		n := len(bodies)
		ids := sim.CommentIDs(id)
		sim.DeleteComment(ids[len(ids)-1])
		if list, _ := crm.ListComments(ctx, id); len(list) != 0 {
			t.Fatalf("with a part missing ListComments gives %d comments, want none (so that the engine posts it again)", len(list))
		}
		again, err := crm.AddComment(ctx, id, body, false)
		if err != nil {
			t.Fatalf("AddComment again: %v", err)
		}
		if bodies, _ := sim.CommentBodies(id); len(bodies) != n {
			t.Errorf("after posting again the case has %d case comments, want %d (only the missing part added)", len(bodies), n)
		}
		list, err = crm.ListComments(ctx, id)
		if err != nil || len(list) != 1 || list[0].Body != body || list[0].ID != c.ID || again.ID != c.ID {
			t.Errorf("after posting again: %d comments (%v); want the one whole comment %s", len(list), err, c.ID)
		}
	})
}

func firstID(cs []casesync.Comment) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[0].ID
}

func TestAnExpiredSessionIsRenewedOnce(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	if _, err := crm.GetCase(ctx, id); err != nil {
		t.Fatalf("GetCase: %v", err)
	}
	sim.ExpireTokens()
	if _, err := crm.GetCase(ctx, id); err != nil {
		t.Fatalf("GetCase after the session expired: %v", err)
	}
	if n := sim.Calls()["POST /services/oauth2/token"]; n != 2 {
		t.Errorf("the token endpoint was called %d times, want 2 (one new token after the 401)", n)
	}
}

func TestTheRequestLimitIsWaitedOutNotRetried(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{}, func(c *salesforce.Config) { c.LimitBackoff = 300 * time.Millisecond })
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	if _, err := crm.GetCase(ctx, id); err != nil {
		t.Fatalf("GetCase: %v", err)
	}
	sim.InjectRequestLimit(1)
	before := sim.Calls()["GET /services/data/vXX.X/query"]
	_, err := crm.GetCase(ctx, id)
	var ae *casesync.APIError
	if !errors.As(err, &ae) || !ae.Transient || ae.RetryAfter != 300*time.Millisecond || !errors.Is(err, salesforce.ErrRequestLimit) {
		t.Fatalf("GetCase past the limit: %v; want a transient error asking to wait the backoff", err)
	}
	if _, err := crm.GetCase(ctx, id); !casesync.IsTransient(err) {
		t.Errorf("a call during the backoff: %v, want a transient error", err)
	}
	if n := sim.Calls()["GET /services/data/vXX.X/query"] - before; n != 1 {
		t.Errorf("%d queries reached Salesforce, want 1: none is retried and none sent during the backoff", n)
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := crm.GetCase(ctx, id); err != nil {
		t.Errorf("GetCase after the backoff: %v", err)
	}
}

func TestAPIUsageIsReadFromEveryAnswer(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{DailyRequestLimit: 15000}, nil)
	if _, ok := crm.APIUsage(); ok {
		t.Errorf("APIUsage is known before any call")
	}
	sim.SetAPIUsage(1200)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	before := time.Now()
	if _, err := crm.GetCase(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	u, ok := crm.APIUsage()
	if !ok || u.Used != 1201 || u.Max != 15000 || u.Window != casesync.APIUsageDay || u.At.Before(before) || u.At.After(time.Now()) {
		t.Errorf("APIUsage = %+v (%v), want 1201 of 15000 a day, at the answer", u, ok)
	}
}

func TestTheJWTBearerFlowSignsIn(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))}))
	sim, crm := newAdapter(t, salesforcetest.Options{JWTKey: &key.PublicKey}, func(c *salesforce.Config) {
		c.ClientSecret, c.PrivateKey, c.Username = "", pemKey, "sync@example.com.sim"
	})
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	if _, err := crm.GetCase(context.Background(), id); err != nil {
		t.Fatalf("GetCase with the JWT bearer flow: %v", err)
	}
	_, wrong := newAdapter(t, salesforcetest.Options{JWTKey: &key.PublicKey}, func(c *salesforce.Config) {
		c.ClientSecret, c.PrivateKey, c.Username = "", pemKey, "someone.else@example.com"
	})
	_, err = wrong.GetCase(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), salesforce.EnvUsername) || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("a JWT for the wrong user: %v; want an error naming %s and not the key", err, salesforce.EnvUsername)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestRefusedCredentialsNameTheirVariablesAndNotTheirValues(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, func(c *salesforce.Config) { c.ClientSecret = "not-the-secret-xyz" })
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	_, err := crm.GetCase(context.Background(), id)
	if err == nil || casesync.IsTransient(err) {
		t.Fatalf("GetCase with a wrong secret: %v, want a permanent error", err)
	}
	if msg := err.Error(); !strings.Contains(msg, salesforce.EnvClientSecret) || strings.Contains(msg, "not-the-secret-xyz") || !strings.Contains(msg, "INVALID_CLIENT") {
		t.Errorf("error %q: want the variable and the OAuth error code, never the secret", msg)
	}
}

func TestSearchSeesCommentsAndFilesWhetherOrNotTheyStampTheCase(t *testing.T) {
	for _, touch := range []bool{false, true} {
		t.Run(map[bool]string{false: "comments leave the case's stamp", true: "comments stamp the case"}[touch], func(t *testing.T) {
			ctx := context.Background()
			// Salesforce keeps datetimes to the second: the clock moves a
			// second between the steps.
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			tick := func() { clock.Add(int64(time.Second)) }
			sim, crm := newAdapter(t, salesforcetest.Options{CommentsTouchCase: touch, Clock: func() time.Time { return time.Unix(0, clock.Load()) }}, nil)
			id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
			other := sim.CreateCase(salesforcetest.Case{Subject: "not synced"})
			c, err := crm.GetCase(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			tick()
			if _, err := sim.AddComment(id, "Dana", "hello", true); err != nil {
				t.Fatal(err)
			}
			if _, err := sim.AddComment(other, "Dana", "hello", true); err != nil {
				t.Fatal(err)
			}
			got := search(t, crm, c.UpdateTime)
			if len(got) != 1 || got[0].ID != id || !got[0].UpdateTime.After(c.UpdateTime) {
				t.Fatalf("after a comment SearchUpdated gives %+v; want the case, later than %v", got, c.UpdateTime)
			}
			again, err := crm.GetCase(ctx, id)
			if err != nil || !again.UpdateTime.Equal(got[0].UpdateTime) {
				t.Errorf("GetCase's update time %v, SearchUpdated's %v: the two must agree (%v)", again.UpdateTime, got[0].UpdateTime, err)
			}
			tick()
			if _, err := sim.AddFile(id, "Dana", "f.txt", []byte("x"), "AllUsers"); err != nil {
				t.Fatal(err)
			}
			if got := search(t, crm, again.UpdateTime); len(got) != 1 || got[0].ID != id {
				t.Errorf("after a file SearchUpdated gives %d cases, want the case", len(got))
			}
		})
	}
}

func search(t *testing.T, crm *salesforce.Client, since time.Time) []casesync.CompanyCase {
	t.Helper()
	got, err := crm.SearchUpdated(context.Background(), since)
	if err != nil {
		t.Fatalf("SearchUpdated: %v", err)
	}
	return got
}

func TestAStateMappedToAClosedStatusIsRefused(t *testing.T) {
	ctx := context.Background()
	sim, crm := newAdapter(t, salesforcetest.Options{Statuses: []string{"New", "Working", "Resolved", "Closed"}, ClosedStatuses: []string{"Resolved", "Closed"}},
		func(c *salesforce.Config) { c.StateStatuses = map[string]string{"SOLUTION_PROVIDED": "Resolved"} })
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	err := crm.SetGoogleState(ctx, id, "SOLUTION_PROVIDED")
	if err == nil || casesync.IsTransient(err) {
		t.Fatalf("SetGoogleState to a closed status: %v, want a permanent error", err)
	}
	if v, _ := sim.View(id); v.IsClosed || v.Fields[salesforce.DefaultStateField] != nil && v.Fields[salesforce.DefaultStateField] != "" {
		t.Errorf("the refused state changed the case: %+v", v)
	}
	if err := crm.SetGoogleState(ctx, id, "RESOLVED"); err == nil || casesync.IsTransient(err) {
		t.Errorf("SetGoogleState(RESOLVED): %v, want a permanent error: it is no Google state", err)
	}
	if _, err := salesforce.New(salesforce.Config{BaseURL: sim.URL, ClientID: "x", ClientSecret: "y", StateStatuses: map[string]string{"NEW": "Closed"}}); err == nil {
		t.Errorf("New took a state mapped to the close status")
	}
}

func TestACloseStatusTheOrgDoesNotCountClosedIsAnError(t *testing.T) {
	sim, crm := newAdapter(t, salesforcetest.Options{}, func(c *salesforce.Config) { c.CloseStatus = "Escalated" })
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	err := crm.CloseCase(context.Background(), id)
	if err == nil || casesync.IsTransient(err) || !strings.Contains(err.Error(), salesforce.EnvCloseStatus) {
		t.Errorf("CloseCase with an open close status: %v; want a permanent error naming %s", err, salesforce.EnvCloseStatus)
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{salesforce.EnvClientID: "id", salesforce.EnvClientSecret: "secret"}
	tests := []struct {
		name    string
		env     map[string]string
		problem string // a variable a problem names; "" for none
		check   func(t *testing.T, c salesforce.Config)
	}{
		{name: "the client credentials flow with defaults", env: base, check: func(t *testing.T, c salesforce.Config) {
			if c.APIVersion != "v66.0" || c.StateField != salesforce.DefaultStateField || c.EscalationField != salesforce.DefaultEscalationField || len(c.StateStatuses) != 0 || c.CloseStatus != "Closed" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "no credentials", env: map[string]string{salesforce.EnvClientID: "id"}, problem: salesforce.EnvClientSecret},
		{name: "no client id", env: map[string]string{salesforce.EnvClientSecret: "s"}, problem: salesforce.EnvClientID},
		{name: "both flows", env: with(base, salesforce.EnvPrivateKey, "k"), problem: salesforce.EnvPrivateKey},
		{name: "a key that is no key", env: map[string]string{salesforce.EnvClientID: "id", salesforce.EnvPrivateKey: "nope", salesforce.EnvUsername: "u"}, problem: salesforce.EnvPrivateKey},
		{name: "a bad version", env: with(base, salesforce.EnvAPIVersion, "66"), problem: salesforce.EnvAPIVersion},
		{name: "a field name with SOQL in it", env: with(base, salesforce.EnvGoogleCaseField, "X__c OR Id != null"), problem: salesforce.EnvGoogleCaseField},
		{name: "the state field off", env: with(base, salesforce.EnvStateField, "none"), check: func(t *testing.T, c salesforce.Config) {
			if c.StateField != "" {
				t.Errorf("StateField = %q, want off", c.StateField)
			}
		}},
		{name: "a state mapping", env: with(base, salesforce.EnvStateStatuses, "IN_PROGRESS_GOOGLE_SUPPORT=Working, ACTION_REQUIRED=Waiting on Customer"), check: func(t *testing.T, c salesforce.Config) {
			if c.StateStatuses["ACTION_REQUIRED"] != "Waiting on Customer" || len(c.StateStatuses) != 2 {
				t.Errorf("StateStatuses = %v", c.StateStatuses)
			}
		}},
		{name: "CLOSED mapped", env: with(base, salesforce.EnvStateStatuses, "CLOSED=Closed"), problem: salesforce.EnvStateStatuses},
		{name: "an unknown state", env: with(base, salesforce.EnvStateStatuses, "DONE=Closed"), problem: salesforce.EnvStateStatuses},
		{name: "a batch size out of range", env: with(base, salesforce.EnvBatchSize, "100"), problem: salesforce.EnvBatchSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := salesforce.ConfigFromEnv(func(k string) string { return tc.env[k] }, "https://acme.my.salesforce.com")
			found := false
			for _, p := range problems {
				if strings.Contains(p.Message, "secret\"") || strings.Contains(p.Message, "=secret") {
					t.Errorf("a problem echoes the secret: %s", p)
				}
				found = found || p.Var == tc.problem
			}
			switch {
			case tc.problem == "" && len(problems) > 0:
				t.Errorf("problems %v, want none", problems)
			case tc.problem != "" && !found:
				t.Errorf("problems %v, want one naming %s", problems, tc.problem)
			}
			if tc.check != nil {
				tc.check(t, cfg)
			}
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		if _, ok := out[a]; !ok {
			out[a] = b
		}
	}
	return out
}

func TestTheDefaultPriorityMapCoversGooglesPriorities(t *testing.T) {
	if _, err := casesync.ParsePriorityTable(salesforce.DefaultPriorityMap); err != nil {
		t.Fatalf("DefaultPriorityMap: %v", err)
	}
	sim, crm := newAdapter(t, salesforcetest.Options{}, nil)
	id := sim.CreateCase(salesforcetest.Case{Subject: "s", SyncFlag: true})
	for _, p := range []string{"High", "Medium", "Low"} {
		if err := crm.SetPriority(context.Background(), id, p); err != nil {
			t.Errorf("SetPriority(%s), a value of the default map: %v", p, err)
		}
	}
	if err := crm.SetPriority(context.Background(), id, "Urgent"); err == nil || casesync.IsTransient(err) || !strings.Contains(err.Error(), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") {
		t.Errorf("SetPriority(Urgent): %v; want Salesforce's restricted picklist refusal", err)
	}
}
