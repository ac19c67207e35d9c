package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"slices"
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
		m.GoogleUpdatesSyncedAt, m.CompanyUpdatesSyncedAt = now.Add(-time.Hour), now.Add(-time.Hour)
	})
	stuck := seed(t, st, "projects/p/cases/2", "102", func(m *casesync.Mapping) {
		m.Priority, m.NewContentAt = casesync.P1, now.Add(-2*time.Hour)
		m.GoogleUpdatesSyncedAt, m.CompanyUpdatesSyncedAt = now.Add(-time.Hour), now.Add(-time.Hour)
		m.CompanyPendingSince = now.Add(-40 * time.Minute) // P1, default freshness: 15 min
		m.OutageCommentSentToGoogle = true
	})
	seed(t, st, "projects/p/cases/3", "103", func(m *casesync.Mapping) { m.ResolvedAt = now.Add(-time.Hour) })
	_ = inSync
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
			Mappings  ops.MappingCounts `json:"mappings"`
			OutOfSync []struct {
				MappingID  string  `json:"mappingId"`
				Priority   string  `json:"priority"`
				LagSeconds float64 `json:"lagSeconds"`
				Tolerance  string  `json:"tolerance"`
				Company    bool    `json:"companyPending"`
			} `json:"outOfSync"`
			OutageFlags []ops.OutageFlag `json:"outageFlags"`
			Pollers     []struct {
				Side  string `json:"side"`
				Stale bool   `json:"stale"`
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
		if diff := cmp.Diff(ops.MappingCounts{Total: 3, Open: 2, Resolved: 1, Pending: 1}, got.Mappings); diff != "" {
			t.Errorf("mapping counts (-want +got):\n%s", diff)
		}
		if len(got.OutOfSync) != 1 || got.OutOfSync[0].MappingID != stuck.ID || got.OutOfSync[0].Priority != "P1" ||
			got.OutOfSync[0].Tolerance != "15m0s" || !got.OutOfSync[0].Company ||
			got.OutOfSync[0].LagSeconds < 40*60 || got.OutOfSync[0].LagSeconds > 45*60 {
			t.Errorf("out of sync = %+v, want mapping %s (P1) lagging about 40 minutes against 15m0s, waiting on the company side", got.OutOfSync, stuck.ID)
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
		}
		depths := map[string]int64{}
		for _, d := range got.DeadLetters {
			if d.Error != "" || d.Method != ops.DepthByPull {
				t.Errorf("dead-letter depth %+v, want counted by pull without error", d)
			}
			depths[d.Subscription] = d.Messages
		}
		want := map[string]int64{"sync-case-case-updated-dead-letter": 0, "sync-case-sync-requested-dead-letter": 0, "poll-google-dead-letter": 0,
			"poll-crm-dead-letter": 1, "detect-outages-dead-letter": 0, "cleanup-dead-letter": 0}
		if diff := cmp.Diff(want, depths); diff != "" {
			t.Errorf("dead-letter depths (-want +got):\n%s", diff)
		}
	})

	t.Run("status in text names the stuck mapping and the dead letter, and counting removed nothing", func(t *testing.T) {
		code, out, _ := runCmd(t, "status")
		if code != exitAttention {
			t.Errorf("exit code %d, want %d", code, exitAttention)
		}
		for _, want := range []string{`2 open, 1 resolved`, `out of sync: 1 mapping\(s\)`, stuck.ID + `\s+projects/p/cases/2\s+102\s+P1\s+40m`, `poll-crm-dead-letter\s+1\s+pull`, `refused links: 1 case`, `company\s+104\s+google-case-field-out-of-scope\s+2\s`} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("status output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("resync publishes one sync-requested command for each way of naming a case", func(t *testing.T) {
		for _, args := range [][]string{
			{"--google-case", "projects/p/cases/2"},
			{"--crm-case", "102"},
			{"--mapping", stuck.ID},
		} {
			if code, out, errOut := runCmd(t, append([]string{"resync"}, args...)...); code != exitOK {
				t.Fatalf("resync %v: exit %d: %s%s", args, code, out, errOut)
			}
		}
		want := []string{
			`{"side":"","id":"","mappingId":"` + stuck.ID + `"}`,
			`{"side":"company","id":"102"}`,
			`{"side":"google","id":"projects/p/cases/2"}`,
		}
		if diff := cmp.Diff(want, pullBodies(t, c, "read-sync-requested", 3)); diff != "" {
			t.Errorf("published (-want +got):\n%s", diff)
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
