package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/casebridge/casebridge/shared/store"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const project = "casebridge-operator-test"

// env starts both emulators, points this process at them, creates the
// topics, the dead-letter pull subscriptions (no push subscriptions: nothing
// here is delivered to a function) and a pull subscription reading
// sync-requested, and returns a store and a Pub/Sub client.
func env(t *testing.T) (*store.Store, *pubsub.Client) {
	t.Helper()
	fs := emulators.StartFirestoreForTest(t)
	ps := emulators.StartPubSubForTest(t)
	t.Setenv("FIRESTORE_EMULATOR_HOST", fs.Host)
	t.Setenv("PUBSUB_EMULATOR_HOST", ps.Host)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	t.Setenv("CASEBRIDGE_CLOCK_FILE", "")
	ctx := t.Context()
	st, err := store.New(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := eventing.NewEmulatorClient(ctx, project, ps.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	topo := eventing.Topology("")
	for _, topic := range eventing.Topics(topo) {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
			t.Fatal(err)
		}
	}
	subs := map[string]string{"read-sync-requested": eventing.TopicSyncRequested}
	for _, s := range topo {
		subs[s.DeadLetterSubscription()] = s.DeadLetterTopic
	}
	for sub, topic := range subs {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + sub, Topic: "projects/" + project + "/topics/" + topic, AckDeadlineSeconds: 60,
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for sub := range subs {
			c.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/" + sub})
		}
	})
	return st, c
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// seed stores a mapping with the given changes applied.
func seed(t *testing.T, st *store.Store, google, crm string, fn func(*casesync.Mapping)) casesync.Mapping {
	t.Helper()
	m, _, err := st.ResolveMapping(t.Context(), google, crm, true, func(m *casesync.Mapping) { m.Origin = casesync.SideGoogle })
	if err != nil {
		t.Fatal(err)
	}
	m, err = st.UpdateMapping(t.Context(), m.ID, func(m *casesync.Mapping) error { fn(m); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOperator(t *testing.T) {
	st, c := env(t)
	ctx := t.Context()
	now := time.Now().UTC()
	if err := st.RecordPoll(ctx, casesync.SideGoogle, now.Add(-time.Minute), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordPoll(ctx, casesync.SideCompany, now.Add(-time.Minute), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	inSync := seed(t, st, "projects/p/cases/1", "101", func(m *casesync.Mapping) {
		m.Priority, m.NewContentAt = casesync.P2, now.Add(-2*time.Hour)
		m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = now.Add(-time.Hour), now.Add(-time.Hour)
	})
	stuck := seed(t, st, "projects/p/cases/2", "102", func(m *casesync.Mapping) {
		m.Priority, m.NewContentAt = casesync.P1, now.Add(-2*time.Hour)
		m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = now.Add(-time.Hour), now.Add(-time.Hour)
		m.Company.PendingSince = now.Add(-40 * time.Minute) // P1, default freshness: 15 min
		m.Google.OutageNoticeSent = true
	})
	seed(t, st, "projects/p/cases/3", "103", func(m *casesync.Mapping) { m.ResolvedAt = now.Add(-time.Hour) })
	_ = inSync
	// Two mappings whose counterpart could not be created for a day, and
	// one whose syncs have failed for three minutes.
	givenUp := func(google, crm string) casesync.Mapping {
		return seed(t, st, google, crm, func(m *casesync.Mapping) {
			m.CreatedAt = now.Add(-25 * time.Hour)
			m.Attempts, m.FailingSince, m.LastError = 40, now.Add(-25*time.Hour), "create the counterpart: HTTP 403"
			m.GaveUpAt, m.DueAt = now.Add(-time.Hour), time.Time{}
		})
	}
	givenUpGoogle := givenUp("projects/p/cases/5", "")
	givenUpCRM := givenUp("", "105")
	failing := seed(t, st, "projects/p/cases/6", "106", func(m *casesync.Mapping) {
		m.Priority, m.NewContentAt = casesync.P2, now.Add(-2*time.Hour)
		m.Google.UpdatesSyncedAt, m.Company.UpdatesSyncedAt = now.Add(-time.Minute), now.Add(-time.Minute)
		m.Attempts, m.FailingSince, m.LastError = 2, now.Add(-3*time.Minute), "CRM update case 106: HTTP 503"
		m.DueAt = now.Add(time.Minute)
	})
	// The CRM's polls have failed for four minutes.
	if err := st.RecordPollFailure(ctx, casesync.SideCompany, now.Add(-4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	refused := casesync.Refusal{Side: casesync.SideCompany, CaseID: "104", Kind: casesync.RefusedFieldOutOfScope,
		Reason: `CRM case "104": its Google case field "organizations/9/cases/1" is outside the projects and organization casebridge syncs`}
	for range 2 {
		if _, err := st.RecordRefusal(ctx, refused, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}

	// One dead-lettered message, as Pub/Sub would have forwarded it.
	dlq := c.Publisher("poll-crm-dead-letter")
	if _, err := dlq.Publish(ctx, &pubsub.Message{Data: []byte("tick"), Attributes: map[string]string{
		ops.AttrDeliveryCount: "5", ops.AttrSourceSubscription: "poll-crm"}}).Get(ctx); err != nil {
		t.Fatal(err)
	}
	dlq.Stop()

	t.Run("status reports counts, the stuck mapping with its lag, outage flags, pollers and dead-letter depth", func(t *testing.T) {
		code, out, errOut := runCmd(t, "status", "--json")
		if code != exitAttention {
			t.Errorf("exit code %d, want %d (attention needed); stderr: %s", code, exitAttention, errOut)
		}
		var got struct {
			Attention []string          `json:"attention"`
			Mappings  ops.MappingCounts `json:"mappings"`
			Stuck     []struct {
				MappingID  string   `json:"mappingId"`
				Sides      []string `json:"sides"`
				Since      string   `json:"since"`
				AgeSeconds float64  `json:"ageSeconds"`
			} `json:"stuck"`
			Failing   []ops.Failing `json:"failing"`
			GivenUp   []ops.GivenUp `json:"givenUp"`
			OutOfSync []struct {
				MappingID  string  `json:"mappingId"`
				Priority   string  `json:"priority"`
				LagSeconds float64 `json:"lagSeconds"`
				Tolerance  string  `json:"tolerance"`
				Company    bool    `json:"companyPending"`
			} `json:"outOfSync"`
			OutageFlags []ops.OutageFlag `json:"outageFlags"`
			Pollers     []struct {
				Side         string    `json:"side"`
				Stale        bool      `json:"stale"`
				Failing      bool      `json:"failing"`
				FailingSince time.Time `json:"failingSince"`
			} `json:"pollers"`
			DeadLetters []ops.Depth `json:"deadLetters"`
			Refusals    []struct {
				Side   string `json:"side"`
				CaseID string `json:"caseId"`
				Kind   string `json:"kind"`
				Count  int64  `json:"count"`
			} `json:"refusals"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("status --json printed %q: %v", out, err)
		}
		if diff := cmp.Diff(ops.MappingCounts{Total: 6, Open: 5, Resolved: 1, Unlinked: 2, Pending: 1, Stuck: 1, Failing: 1, GivenUp: 2}, got.Mappings); diff != "" {
			t.Errorf("mapping counts (-want +got):\n%s", diff)
		}
		if len(got.Attention) != 6 || !strings.HasPrefix(got.Attention[0], "1 stuck, the oldest waiting since ") ||
			got.Attention[1] != "2 given up" || got.Attention[2] != "1 failing" || !strings.HasPrefix(got.Attention[3], "CRM polls failing since ") {
			t.Errorf("attention = %q, want the stuck, given-up and failing mappings, the CRM's failing polls, then the rest", got.Attention)
		}
		if len(got.Stuck) != 1 || got.Stuck[0].MappingID != stuck.ID || !slices.Equal(got.Stuck[0].Sides, []string{"company"}) ||
			got.Stuck[0].AgeSeconds < 40*60 || got.Stuck[0].AgeSeconds > 45*60 {
			t.Errorf("stuck = %+v, want mapping %s waiting on the company side for about 40 minutes", got.Stuck, stuck.ID)
		}
		wantFailing := []ops.Failing{{MappingID: failing.ID, GoogleCase: "projects/p/cases/6", CompanyCaseID: "106", Attempts: 2,
			FailingSince: failing.FailingSince, LastError: "CRM update case 106: HTTP 503", NextTry: failing.DueAt}}
		if diff := cmp.Diff(wantFailing, got.Failing, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
			t.Errorf("failing (-want +got):\n%s", diff)
		}
		var givenUpIDs []string
		for _, g := range got.GivenUp {
			givenUpIDs = append(givenUpIDs, g.MappingID)
			if g.Attempts != 40 || g.LastError != "create the counterpart: HTTP 403" || g.GaveUpAt.IsZero() {
				t.Errorf("given up %+v, want 40 attempts, its last error and when", g)
			}
		}
		if diff := cmp.Diff([]string{givenUpGoogle.ID, givenUpCRM.ID}, givenUpIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("given up (-want +got):\n%s", diff)
		}
		if len(got.OutOfSync) != 1 || got.OutOfSync[0].MappingID != stuck.ID || got.OutOfSync[0].Priority != "P1" ||
			got.OutOfSync[0].Tolerance != "10m0s" || !got.OutOfSync[0].Company ||
			got.OutOfSync[0].LagSeconds < 40*60 || got.OutOfSync[0].LagSeconds > 45*60 {
			t.Errorf("out of sync = %+v, want mapping %s (P1) lagging about 40 minutes against 10m0s (a change seen 40 minutes ago is fresh content), waiting on the company side", got.OutOfSync, stuck.ID)
		}
		if diff := cmp.Diff([]ops.OutageFlag{{MappingID: stuck.ID, GoogleCase: "projects/p/cases/2", CompanyCaseID: "102", SentToGoogle: true}}, got.OutageFlags); diff != "" {
			t.Errorf("outage flags (-want +got):\n%s", diff)
		}
		if len(got.Refusals) != 1 || got.Refusals[0].CaseID != "104" || got.Refusals[0].Kind != string(casesync.RefusedFieldOutOfScope) || got.Refusals[0].Count != 2 {
			t.Errorf("refusals = %+v; want CRM case 104 refused twice as out of scope", got.Refusals)
		}
		for _, p := range got.Pollers {
			if p.Stale {
				t.Errorf("poller %s is stale one minute after its heartbeat", p.Side)
			}
			if wantFailing := p.Side == "company"; p.Failing != wantFailing || p.FailingSince.IsZero() == wantFailing {
				t.Errorf("poller %s: failing %v since %v, want failing only for the CRM", p.Side, p.Failing, p.FailingSince)
			}
		}
		depths := map[string]int64{}
		for _, d := range got.DeadLetters {
			if d.Error != "" || d.Method != ops.DepthByPull {
				t.Errorf("dead-letter depth %+v, want counted by pull without error", d)
			}
			depths[d.Subscription] = d.Messages
		}
		want := map[string]int64{"sync-case-case-updated-dead-letter": 0, "sync-case-sync-requested-dead-letter": 0, "poll-google-dead-letter": 0,
			"poll-crm-dead-letter": 1, "detect-outages-dead-letter": 0, "cleanup-dead-letter": 0, "support-events-dead-letter": 0}
		if diff := cmp.Diff(want, depths); diff != "" {
			t.Errorf("dead-letter depths (-want +got):\n%s", diff)
		}
	})

	t.Run("status in text names the stuck mapping and the dead letter, and counting removed nothing", func(t *testing.T) {
		code, out, _ := runCmd(t, "status")
		if code != exitAttention {
			t.Errorf("exit code %d, want %d", code, exitAttention)
		}
		for _, want := range []string{
			`^casebridge status at \S+\nATTENTION: 1 stuck, the oldest waiting since \S+ \(40m\d+s ago\); 2 given up; 1 failing; CRM polls failing since \S+ \(4m\d+s ago\); 1 out of sync; 1 dead-lettered message\(s\)\n`,
			`company\s+\S+\s+\S+\s+\S+\s+FAILING since `,
			`stuck: 1 mapping\(s\)`, stuck.ID + `\s+projects/p/cases/2\s+102\s+company\s+\S+\s+40m\d+s\s+not scheduled\s+-\n`,
			`failing: 1 mapping\(s\)`, failing.ID + `\s+projects/p/cases/6\s+106\s+2\s+\S+\s+\S+\s+CRM update case 106: HTTP 503\n`,
			`given up: 2 mapping\(s\)`, givenUpGoogle.ID + `\s+projects/p/cases/5\s+-\s+\S+\s+\S+\s+40\s+create the counterpart: HTTP 403\n`,
			`5 open, 1 resolved`, `out of sync: 1 mapping\(s\)`, stuck.ID + `\s+projects/p/cases/2\s+102\s+P1\s+40m`, `poll-crm-dead-letter\s+1\s+pull`, `refused links: 1 case`, `company\s+104\s+google-case-field-out-of-scope\s+2\s`} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("status output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("resync publishes one sync-requested command for each way of naming a case", func(t *testing.T) {
		// A case with a mapping is asked for by its mapping, so that the
		// reconciliation reads both cases (a message naming one case
		// announces a change on that side only); a case with none by the
		// case.
		for _, args := range [][]string{
			{"--google-case", "projects/p/cases/2"},
			{"--crm-case", "102"},
			{"--mapping", stuck.ID},
			{"--google-case", "projects/p/cases/999"},
		} {
			if code, out, errOut := runCmd(t, append([]string{"resync"}, args...)...); code != exitOK {
				t.Fatalf("resync %v: exit %d: %s%s", args, code, out, errOut)
			}
		}
		byMapping := `{"side":"","id":"","mappingId":"` + stuck.ID + `"}`
		want := []string{
			byMapping, byMapping, byMapping,
			`{"side":"google","id":"projects/p/cases/999"}`,
		}
		if diff := cmp.Diff(want, pullBodies(t, c, "read-sync-requested", 4)); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
		}
	})

	t.Run("resync of a given-up mapping clears the give-up and makes it due, so the sweep asks for it again", func(t *testing.T) {
		before := time.Now()
		for _, tc := range []struct {
			args []string
			m    casesync.Mapping
		}{
			{[]string{"--mapping", givenUpGoogle.ID}, givenUpGoogle},
			{[]string{"--crm-case", "105"}, givenUpCRM},
		} {
			code, out, errOut := runCmd(t, append([]string{"resync"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("resync %v: exit %d: %s%s", tc.args, code, out, errOut)
			}
			if want := "mapping " + tc.m.ID + " had been given up at "; !strings.Contains(out, want) {
				t.Errorf("resync %v printed %q, want it to say %q", tc.args, out, want)
			}
			m, err := st.GetMapping(ctx, tc.m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !m.GaveUpAt.IsZero() || m.Attempts != 0 || !m.FailingSince.IsZero() || m.DueAt.Before(before.Add(-time.Second)) || m.DueAt.After(time.Now()) {
				t.Errorf("after resync %v: gave up at %v, %d attempts, failing since %v, due at %v; want no give-up, no failures, due now",
					tc.args, m.GaveUpAt, m.Attempts, m.FailingSince, m.DueAt)
			}
		}
		// A mapping that was not given up is left as it is.
		if code, out, errOut := runCmd(t, "resync", "--mapping", failing.ID); code != exitOK || strings.Contains(out, "given up") {
			t.Errorf("resync of the failing mapping: exit %d: %s%s", code, out, errOut)
		}
		if m, err := st.GetMapping(ctx, failing.ID); err != nil || m.Attempts != 2 || !m.DueAt.Equal(failing.DueAt) {
			t.Errorf("after its resync the failing mapping has %d attempts, due at %v (%v); want 2 and %v, unchanged", m.Attempts, m.DueAt, err, failing.DueAt)
		}
		pullBodies(t, c, "read-sync-requested", 3)

		code, out, _ := runCmd(t, "status", "--json")
		var got struct {
			Mappings ops.MappingCounts `json:"mappings"`
			GivenUp  []ops.GivenUp     `json:"givenUp"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("status --json printed %q: %v", out, err)
		}
		if got.Mappings.GivenUp != 0 || len(got.GivenUp) != 0 {
			t.Errorf("status after the resyncs (exit %d): %d given up %+v, want none", code, got.Mappings.GivenUp, got.GivenUp)
		}
	})

	t.Run("resync refuses an unknown mapping, two cases at once, and a bare case number", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"--mapping", "no-such-mapping"}, exitFailure},
			{[]string{"--crm-case", "1", "--mapping", stuck.ID}, exitUsage},
			{[]string{"--google-case", "12345"}, exitUsage},
			{nil, exitUsage},
		} {
			if code, _, _ := runCmd(t, append([]string{"resync"}, tc.args...)...); code != tc.code {
				t.Errorf("resync %v: exit %d, want %d", tc.args, code, tc.code)
			}
		}
	})

	t.Run("status takes the deployment's poll interval, and refuses one the scheduler cannot keep", func(t *testing.T) {
		if code, _, stderr := runCmd(t, "status", "--depth", "none", "--poll-interval", "7m"); code != exitUsage || !strings.Contains(stderr, "divides 60") {
			t.Errorf("status --poll-interval 7m: exit %d, stderr %q; want %d saying it must divide 60", code, stderr, exitUsage)
		}
		if code, _, stderr := runCmd(t, "status", "--depth", "none", "--poll-interval", "60m"); code == exitUsage || code == exitFailure {
			t.Errorf("status --poll-interval 60m: exit %d, stderr %q; want it read as the pollers' hourly schedule", code, stderr)
		}
	})
}

// pullBodies pulls n messages from sub (acking them), sorted.
func pullBodies(t *testing.T, c *pubsub.Client, sub string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: "projects/" + project + "/subscriptions/" + sub, MaxMessages: 10})
		if err != nil {
			t.Fatalf("pulling %s: got %d of %d: %v", sub, len(out), n, err)
		}
		var ids []string
		for _, m := range resp.ReceivedMessages {
			out = append(out, string(m.Message.Data))
			ids = append(ids, m.AckId)
		}
		if len(ids) > 0 {
			c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: "projects/" + project + "/subscriptions/" + sub, AckIds: ids})
		}
	}
	slices.Sort(out)
	return out
}
