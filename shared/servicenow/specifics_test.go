package servicenow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
	"github.com/google/go-cmp/cmp"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func flagged(sim *servicenowtest.Server, subject string) string {
	return sim.CreateRecord(human, map[string]string{"short_description": subject, "u_gcp_sync": "true"})
}

// answersUploadsAnyway stands for an instance (or a proxy) that answers an
// upload after reading its body as far as it goes, however that ended:
// with status, or with a failed connection when status is 0. Other calls
// go to the simulator.
type answersUploadsAnyway struct {
	next   http.RoundTripper
	status int
}

func (a answersUploadsAnyway) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/attachment/file") {
		return a.next.RoundTrip(r)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if a.status == 0 {
		return nil, errors.New("connection reset by peer")
	}
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"result":{"sys_id":"0123456789abcdef0123456789abcdef"}}`)), Request: r}, nil
}

func TestAnOversizedUploadIsRefusedForGoodWhateverTheInstanceAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"the instance answered 201 after the body went over", http.StatusCreated},
		{"the instance answered 500 after the body went over", http.StatusInternalServerError},
		{"the instance answered 503 after the body went over", http.StatusServiceUnavailable},
		{"the connection failed after the body went over", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, nil)
			crm := newClient(t, sim, func(c *servicenow.Config) {
				c.HTTP = &http.Client{Transport: answersUploadsAnyway{next: sim.Client().Transport, status: tc.status}}
			})
			id := flagged(sim, "big")
			_, err := crm.UploadAttachment(ctxFor(t), id, "big.bin", "application/octet-stream", bytes.NewReader(make([]byte, testLimit+1)))
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge || !casesync.IsPermanent(err) || !strings.Contains(err.Error(), "size limit") {
				t.Errorf("UploadAttachment(limit+1) = %v, want a permanent 413 size-limit error, so that it is not tried again", err)
			}
		})
	}
}

func TestRefusedCredentialsNameTheVariablesAndNotTheSecret(t *testing.T) {
	tests := []struct {
		name   string
		opts   servicenowtest.Options
		edit   func(*servicenow.Config)
		secret string
		want   []string
	}{
		{
			name:   "a wrong password names the user and password variables",
			edit:   func(c *servicenow.Config) { c.Password = "not-the-password" },
			secret: "not-the-password",
			want:   []string{"SERVICENOW_USER", "SERVICENOW_PASSWORD", "HTTP 401", "User Not Authenticated"},
		},
		{
			name:   "a wrong bearer token names the token variable",
			opts:   servicenowtest.Options{Token: "good-token"},
			edit:   func(c *servicenow.Config) { c.Password, c.OAuthToken = "", "stale-token" },
			secret: "stale-token",
			want:   []string{"SERVICENOW_OAUTH_TOKEN", "HTTP 401"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := servicenowtest.NewServer(t, tc.opts)
			err := newClient(t, sim, tc.edit).Check(ctxFor(t))
			if err == nil {
				t.Fatalf("Check with refused credentials succeeded")
			}
			var ae *casesync.APIError
			if !errors.As(err, &ae) || ae.Status != 401 || !casesync.IsPermanent(err) {
				t.Errorf("error %v: want a permanent APIError with status 401", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q holds the credential", err)
			}
		})
	}
}

func TestTheBearerTokenWorksInsteadOfThePassword(t *testing.T) {
	sim := servicenowtest.NewServer(t, servicenowtest.Options{Token: "good-token"})
	crm := newClient(t, sim, func(c *servicenow.Config) { c.Password, c.OAuthToken = "", "good-token" })
	if err := crm.Check(ctxFor(t)); err != nil {
		t.Fatalf("Check with a bearer token: %v", err)
	}
}

func TestTheSyncUserMustWorkInUTC(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		wantErr bool
	}{
		{name: "UTC is accepted", zone: "UTC"},
		{name: "GMT is accepted", zone: "GMT"},
		{name: "another zone is refused", zone: "America/New_York", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := servicenowtest.NewServer(t, servicenowtest.Options{UserTimeZone: tc.zone})
			err := newClient(t, sim, nil).Check(ctxFor(t))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Check: %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), "UTC") || !casesync.IsPermanent(err)) {
				t.Errorf("error %q: want a permanent error asking for UTC", err)
			}
		})
	}
}

func TestSearchFollowsEveryPageOnce(t *testing.T) {
	sim := newSim(t, newSteppingClock().Now)
	start := time.Now().UTC().Add(-time.Minute)
	var want []string
	for range 5 {
		want = append(want, flagged(sim, "paged"))
	}
	crm := newClient(t, sim, func(c *servicenow.Config) { c.PageSize = 2 })
	sim.ResetRequests()
	got, err := crm.SearchUpdated(ctxFor(t), start)
	if err != nil {
		t.Fatalf("SearchUpdated: %v", err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("SearchUpdated ids (-want +got):\n%s", diff)
	}
	if n := sim.Requests()["GET /api/now/table/incident"]; n != 3 {
		t.Errorf("search made %d page requests for 5 records in pages of 2, want 3", n)
	}
}

func TestAnAttachmentCountsAsAnUpdate(t *testing.T) {
	sim := newSim(t, newSteppingClock().Now)
	crm := newClient(t, sim, nil)
	ctx := ctxFor(t)
	id := flagged(sim, "files later")
	before, err := crm.GetCase(ctx, id)
	if err != nil {
		t.Fatalf("GetCase: %v", err)
	}
	if _, err := sim.AddAttachment(id, human, "log.txt", "text/plain", []byte("log")); err != nil {
		t.Fatalf("AddAttachment: %v", err)
	}
	rec, _ := sim.Record(id)
	if got := rec["sys_updated_on"]; got != before.UpdateTime.Format("2006-01-02 15:04:05") {
		t.Fatalf("the simulator updated the record (%s) for an attachment; the platform does not", got)
	}
	after, err := crm.GetCase(ctx, id)
	if err != nil {
		t.Fatalf("GetCase: %v", err)
	}
	if !after.UpdateTime.After(before.UpdateTime) {
		t.Errorf("UpdateTime stayed %v after an attachment", after.UpdateTime)
	}
	found, err := crm.SearchUpdated(ctx, before.UpdateTime)
	if err != nil {
		t.Fatalf("SearchUpdated: %v", err)
	}
	if len(found) != 1 || found[0].ID != id || !found[0].UpdateTime.Equal(after.UpdateTime) {
		t.Errorf("SearchUpdated(before the attachment) = %+v, want only %s updated at %v", found, id, after.UpdateTime)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	sim := newSim(t, nil)
	crm := newClient(t, sim, nil)
	id := flagged(sim, "rate limited")
	sim.InjectRateLimit(time.Second)
	start := time.Now()
	if _, err := crm.GetCase(ctxFor(t), id); err != nil {
		t.Fatalf("GetCase after a 429: %v", err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("the retry came after %v, want at least the 1 s Retry-After", waited)
	}
	if n := crm.Calls()["records.get"]; n != 2 {
		t.Errorf("records.get attempts = %d, want 2 (the 429 and the retry)", n)
	}
}

func TestTheClientSideLimiterSpacesCalls(t *testing.T) {
	sim := newSim(t, nil)
	crm := newClient(t, sim, func(c *servicenow.Config) { c.RatePerSecond = 20 })
	id := flagged(sim, "limited")
	start := time.Now()
	for range 31 {
		if err := crm.SetGoogleCase(ctxFor(t), id, "projects/p/cases/1"); err != nil {
			t.Fatalf("SetGoogleCase: %v", err)
		}
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("31 calls at 20 per second (a burst of 20) took %v, want at least 500 ms", took)
	}
}

func TestPriorityIsWrittenAsImpactAndUrgency(t *testing.T) {
	sim := newSim(t, nil)
	crm := newClient(t, sim, nil)
	id := flagged(sim, "priorities")
	tests := []struct{ priority, impact, urgency string }{
		{"1", "1", "1"}, {"2", "1", "2"}, {"3", "2", "2"}, {"4", "2", "3"}, {"5", "3", "3"},
	}
	for _, tc := range tests {
		t.Run("priority "+tc.priority+" is impact "+tc.impact+" and urgency "+tc.urgency, func(t *testing.T) {
			if err := crm.SetPriority(ctxFor(t), id, tc.priority); err != nil {
				t.Fatalf("SetPriority: %v", err)
			}
			rec, _ := sim.Record(id)
			got := [3]string{rec["impact"], rec["urgency"], rec["priority"]}
			if diff := cmp.Diff([3]string{tc.impact, tc.urgency, tc.priority}, got); diff != "" {
				t.Errorf("impact, urgency, priority (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a value outside 1..5 is refused before any call", func(t *testing.T) {
		sim.ResetRequests()
		err := crm.SetPriority(ctxFor(t), id, "P1")
		if !casesync.IsPermanent(err) {
			t.Errorf("SetPriority(P1) = %v, want a permanent error", err)
		}
		if n := len(sim.Requests()); n != 0 {
			t.Errorf("the refused priority made %d kinds of request, want none", n)
		}
	})
}

func TestClosing(t *testing.T) {
	tests := []struct {
		name      string
		state     string
		wantState string
		wantPatch int64
	}{
		{name: "an open case is resolved with the close code and notes", state: "2", wantState: "6", wantPatch: 1},
		{name: "a closed case is left closed, not moved back to resolved", state: "7", wantState: "7", wantPatch: 0},
		{name: "a canceled case is left alone", state: "8", wantState: "8", wantPatch: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, nil)
			crm := newClient(t, sim, nil)
			id := sim.CreateRecord(human, map[string]string{"short_description": "close", "state": tc.state,
				"close_code": "Solved (Work Around)", "close_notes": "by hand"})
			if tc.state == "2" {
				id = sim.CreateRecord(human, map[string]string{"short_description": "close", "state": "2"})
			}
			sim.ResetRequests()
			if err := crm.CloseCase(ctxFor(t), id); err != nil {
				t.Fatalf("CloseCase: %v", err)
			}
			rec, _ := sim.Record(id)
			if rec["state"] != tc.wantState {
				t.Errorf("state = %q, want %q", rec["state"], tc.wantState)
			}
			if tc.wantPatch > 0 && (rec["close_code"] != servicenow.DefaultCloseCode || rec["close_notes"] != servicenow.DefaultCloseNotes) {
				t.Errorf("close_code %q, close_notes %q; want the defaults", rec["close_code"], rec["close_notes"])
			}
			if n := sim.Requests()["PATCH /api/now/table/incident/{sys_id}"]; n != tc.wantPatch {
				t.Errorf("PATCH requests = %d, want %d", n, tc.wantPatch)
			}
		})
	}
}

func TestAddCommentTellsApartCommentsWithTheSameText(t *testing.T) {
	sim := newSim(t, nil) // real time: both comments land in the same second
	crm := newClient(t, sim, nil)
	ctx := ctxFor(t)
	id := flagged(sim, "same text")
	first, err := crm.AddComment(ctx, id, "Same words.", true)
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	second, err := crm.AddComment(ctx, id, "Same words.", true)
	if err != nil {
		t.Fatalf("AddComment: %v", err)
	}
	if first.ID == second.ID {
		t.Fatalf("both comments got id %s", first.ID)
	}
	var ids []string
	for _, e := range sim.Journal(id) {
		ids = append(ids, e["sys_id"])
	}
	if diff := cmp.Diff([]string{first.ID, second.ID}, ids); diff != "" {
		t.Errorf("journal entry ids (-want +got):\n%s", diff)
	}
	if first.AuthorName != "Casebridge Sync" {
		t.Errorf("AuthorName = %q, want the sync user's name", first.AuthorName)
	}
}

func TestAnOversizedUploadIsCutOffWhileStreaming(t *testing.T) {
	sim := newSim(t, nil)
	crm := newClient(t, sim, nil)
	id := flagged(sim, "big")
	_, err := crm.UploadAttachment(ctxFor(t), id, "big.bin", "application/octet-stream", bytes.NewReader(make([]byte, testLimit+1)))
	if !casesync.IsPermanent(err) || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("UploadAttachment(limit+1) = %v, want a permanent size-limit error", err)
	}
	if n := len(sim.Attachments(id)); n != 0 {
		t.Errorf("%d attachments stored, want none", n)
	}
}

func TestErrorsCarryTheVendorMessage(t *testing.T) {
	sim := newSim(t, nil)
	_, err := newClient(t, sim, nil).GetCase(ctxFor(t), "0123456789abcdef0123456789abcdef")
	if !casesync.IsNotFound(err) || !strings.Contains(err.Error(), "No Record found") {
		t.Errorf("GetCase(unknown) = %v, want a 404 naming the platform's message", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	full := map[string]string{"SERVICENOW_USER": "casebridge.sync", "SERVICENOW_PASSWORD": "pw"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		baseURL string
		want    []string // variables with problems
	}{
		{name: "user and password are enough", env: full, baseURL: "https://acme.service-now.com"},
		{name: "a token replaces the password", env: with(map[string]string{"SERVICENOW_PASSWORD": "", "SERVICENOW_OAUTH_TOKEN": "t"}), baseURL: "https://acme.service-now.com"},
		{name: "no credentials name both", env: map[string]string{}, baseURL: "https://acme.service-now.com", want: []string{"SERVICENOW_USER", "SERVICENOW_PASSWORD"}},
		{name: "a missing instance URL names CRM_URL", env: full, want: []string{"CRM_URL"}},
		{name: "a bad column name is named", env: with(map[string]string{"SERVICENOW_GOOGLE_CASE_FIELD": "U GCP"}), baseURL: "https://a.service-now.com", want: []string{"SERVICENOW_GOOGLE_CASE_FIELD"}},
		{name: "a close state outside the closed states is named", env: with(map[string]string{"SERVICENOW_CLOSE_STATE": "3"}), baseURL: "https://a.service-now.com", want: []string{"SERVICENOW_CLOSE_STATE"}},
		{name: "a rate that is not a number is named", env: with(map[string]string{"SERVICENOW_RATE_LIMIT": "fast"}), baseURL: "https://a.service-now.com", want: []string{"SERVICENOW_RATE_LIMIT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, problems := servicenow.ConfigFromEnv(func(k string) string { return tc.env[k] }, tc.baseURL)
			var got []string
			for _, p := range problems {
				got = append(got, p.Var)
				if strings.Contains(p.Message, "pw") {
					t.Errorf("problem %q holds the password", p.Message)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problem variables (-want +got):\n%s", diff)
			}
			if len(problems) == 0 {
				if _, err := servicenow.New(cfg); err != nil {
					t.Errorf("New(ConfigFromEnv) = %v", err)
				}
			}
		})
	}
	t.Run("defaults are the documented ones", func(t *testing.T) {
		cfg, _ := servicenow.ConfigFromEnv(func(k string) string { return full[k] }, "https://acme.service-now.com/")
		want := servicenow.Config{BaseURL: "https://acme.service-now.com", User: "casebridge.sync", Password: "pw",
			Table: "incident", SyncFlagField: "u_gcp_sync", GoogleCaseField: "u_gcp_case", ClosedStates: []string{"6", "7", "8"},
			CloseState: "6", CloseCode: "Solved (Permanently)", CloseNotes: "Closed in Google Cloud Support",
			RatePerSecond: 10, PageSize: 100, MaxAttachmentBytes: 1024 << 20,
			StateField: "u_google_case_state", HoldReason: "4", EscalationField: "u_escalate_to_google",
			EscalationReasonField: "u_google_escalation_reason", EscalationJustificationField: "u_google_escalation_justification"}
		if diff := cmp.Diff(want, cfg); diff != "" {
			t.Errorf("ConfigFromEnv defaults (-want +got):\n%s", diff)
		}
	})
}
