package main

import (
	"encoding/json"
	"regexp"
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
)

// TestPurgeSettledAfterAnOutage is the operator's view after a long outage:
// the mappings have healed by themselves, list tells which dead letters
// that made good, and purge --settled deletes those and keeps the rest.
func TestPurgeSettledAfterAnOutage(t *testing.T) {
	const project = "casebridge-settled-test"
	ctx := t.Context()
	psEmu := emulators.StartPubSubForTest(t)
	fsEmu := emulators.StartFirestoreForTest(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", psEmu.Host)
	t.Setenv("FIRESTORE_EMULATOR_HOST", fsEmu.Host)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	c, err := eventing.NewEmulatorClient(ctx, project, psEmu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	st, err := store.New(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// The dead-letter topics and their pull subscriptions (nothing pushes
	// here: the messages are put on them as Pub/Sub dead-letters them).
	for _, s := range eventing.Topology("") {
		name := s.DeadLetterSubscription()
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + name}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + name, Topic: "projects/" + project + "/topics/" + name, AckDeadlineSeconds: 60,
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadLetter := func(source string, body []byte) string {
		t.Helper()
		pub := c.Publisher(source + "-dead-letter")
		defer pub.Stop()
		id, err := pub.Publish(ctx, &pubsub.Message{Data: body, Attributes: map[string]string{
			ops.AttrDeliveryCount: "10", ops.AttrSourceSubscription: "projects/" + project + "/subscriptions/" + source,
			ops.AttrSourcePublishTime: time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)}}).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	seed := func(google, crm string, fn func(*casesync.Mapping)) casesync.Mapping {
		t.Helper()
		m, _, err := st.ResolveMapping(ctx, google, crm, true, func(m *casesync.Mapping) { m.Origin = casesync.SideGoogle })
		if err != nil {
			t.Fatal(err)
		}
		if m, err = st.UpdateMapping(ctx, m.ID, func(m *casesync.Mapping) error { fn(m); return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}

	updated := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	body := func(ref casesync.CaseRef) []byte {
		b, err := eventing.EncodeCaseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	healedID := deadLetter("sync-case-case-updated", body(casesync.CaseRef{Side: casesync.SideGoogle, ID: "projects/p/cases/1", UpdateTime: updated}))
	failingID := deadLetter("sync-case-case-updated", body(casesync.CaseRef{Side: casesync.SideCompany, ID: "c2", UpdateTime: updated}))
	tickID := deadLetter("poll-crm", []byte("tick"))
	// After the outage: case 1's mapping has reconciled past the update,
	// c2's mapping still fails, and the CRM poller has succeeded since.
	healed := seed("projects/p/cases/1", "c1", func(m *casesync.Mapping) { m.Google.SeenUpdateTime = updated.Add(time.Second) })
	failing := seed("projects/p/cases/2", "c2", func(m *casesync.Mapping) {
		m.Company.SeenUpdateTime = updated.Add(time.Second)
		m.Attempts, m.FailingSince = 2, updated
	})
	time.Sleep(10 * time.Millisecond)
	now := time.Now().UTC()
	if err := st.RecordPoll(ctx, casesync.SideCompany, now, now); err != nil {
		t.Fatal(err)
	}

	t.Run("list --json says which messages are settled, by what, and what keeps the others", func(t *testing.T) {
		settled, why := map[string]bool{}, map[string]string{}
		for _, d := range listJSON(t) {
			settled[d.MessageID], why[d.MessageID] = d.Settled, d.SettledBy+d.NotSettledBecause+d.SettledProblem
		}
		if diff := cmp.Diff(map[string]bool{healedID: true, failingID: false, tickID: true}, settled); diff != "" {
			t.Errorf("settled by message (-want +got):\n%s", diff)
		}
		for id, w := range map[string]string{healedID: "its mapping " + healed.ID + " has reconciled the google case", failingID: "its mapping " + failing.ID + " is still failing", tickID: "the CRM poller succeeded"} {
			if !strings.Contains(why[id], w) {
				t.Errorf("message %s: %q, want %q", id, why[id], w)
			}
		}
	})

	t.Run("list shows the settled state of each message and how to purge the settled ones", func(t *testing.T) {
		code, out, errOut := runCmd(t, "list", "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("list: exit %d: %s", code, errOut)
		}
		for _, want := range []string{
			`SETTLED\s+LAST ERROR`,
			regexp.QuoteMeta(healedID) + `.*google case projects/p/cases/1, updated 2026-05-01T09:00:00Z\s+yes\s+unknown\n`,
			regexp.QuoteMeta(failingID) + `.*company case c2, updated 2026-05-01T09:00:00Z\s+no\s+unknown\n`,
			regexp.QuoteMeta(tickID) + `.*scheduler tick \(no case\)\s+yes\s+unknown\n`,
			`\n2 settled: .*deadletter purge --settled --yes`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("list output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("inspect says why a message is not settled", func(t *testing.T) {
		code, out, errOut := runCmd(t, "inspect", "--id", failingID, "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("inspect: exit %d: %s", code, errOut)
		}
		if want := `settled\s+no: its mapping ` + failing.ID + ` is still failing: 2 failed reconciliation\(s\) since 2026-05-01T09:00:00Z\n`; !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	})

	t.Run("purge --settled --yes deletes the settled messages and says which it kept and why", func(t *testing.T) {
		code, out, errOut := runCmd(t, "purge", "--settled", "--yes", "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("purge --settled: exit %d: %s%s", code, out, errOut)
		}
		for _, want := range []string{
			`^purged 2 settled message\(s\); kept 1 that are not settled or could not be judged\n`,
			`\n  ` + regexp.QuoteMeta(healedID) + `  sync-case-case-updated-dead-letter  google case projects/p/cases/1.*\n      settled: its mapping ` + healed.ID,
			`\n  ` + regexp.QuoteMeta(tickID) + `  poll-crm-dead-letter  scheduler tick \(no case\)\n      settled: the CRM poller succeeded`,
			`\nkept:\n  ` + regexp.QuoteMeta(failingID) + `  sync-case-case-updated-dead-letter  company case c2.*\n      not settled: its mapping ` + failing.ID + ` is still failing`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("purge output lacks %q:\n%s", want, out)
			}
		}
		var left []string
		for _, d := range listJSON(t) {
			left = append(left, d.MessageID)
		}
		if diff := cmp.Diff([]string{failingID}, left); diff != "" {
			t.Errorf("dead-lettered after the purge (-want +got):\n%s", diff)
		}
	})

	t.Run("purge --settled --json lists what it purged and what it kept", func(t *testing.T) {
		code, out, errOut := runCmd(t, "purge", "--settled", "--yes", "--json", "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("purge --settled --json: exit %d: %s%s", code, out, errOut)
		}
		var got struct{ Purged, Kept []ops.DeadLetter }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("purge --settled --json printed %q: %v", out, err)
		}
		if len(got.Purged) != 0 || len(got.Kept) != 1 || got.Kept[0].MessageID != failingID || got.Kept[0].NotSettledBecause == "" {
			t.Errorf("purged %+v, kept %+v; want nothing purged and %s kept with its reason", got.Purged, got.Kept, failingID)
		}
	})
}
