package main

import (
	"context"
	"github.com/casebridge/casebridge/shared/ops/opstest"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/ops"
)

// unreachable is a service endpoint that does not answer, and what the
// error should say about it.
type unreachable struct {
	name string
	addr func(*testing.T) string
	hint string
}

var unreachables = []unreachable{
	{"a closed port", opstest.ClosedAddr, "nothing accepts connections there"},
	{"a listener that accepts and never answers", opstest.SilentAddr, "it accepts connections but did not answer"},
}

// testTimeout is the --timeout the tests give; slack is how much longer a
// command may take (the check of the address, and a loaded machine).
const (
	testTimeout = 2 * time.Second
	slack       = 3 * time.Second
)

// checkUnreachable checks that a command failed in time with exactly one
// line naming service at addr.
func checkUnreachable(t *testing.T, cmd string, code int, took time.Duration, stderr, service, envVar, addr, hint string) {
	t.Helper()
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if took > testTimeout+slack {
		t.Errorf("took %v with --timeout %v", took, testTimeout)
	}
	want := "^deadletter " + cmd + ": could not reach " + regexp.QuoteMeta(service) + " at " + regexp.QuoteMeta(addr) +
		` \(` + envVar + `\) within 2s: .*` + regexp.QuoteMeta(hint) + `.*\n$`
	if !regexp.MustCompile(want).MatchString(stderr) {
		t.Errorf("stderr is %q, want one line matching %q", stderr, want)
	}
}

func TestEveryCommandFailsInTimeNamingAPubSubItCannotReach(t *testing.T) {
	commands := [][]string{
		{"list"},
		{"list", "--json"},
		{"inspect", "--id", "1"},
		{"replay"},
		{"replay", "--as", "sync-requested"},
		{"purge", "--yes"},
	}
	for _, u := range unreachables {
		for _, args := range commands {
			t.Run(strings.Join(args, " ")+" against "+u.name+" fails naming Pub/Sub and its address, and reports nothing", func(t *testing.T) {
				addr := u.addr(t)
				t.Setenv("PUBSUB_EMULATOR_HOST", addr)
				t.Setenv("FIRESTORE_EMULATOR_HOST", opstest.ClosedAddr(t))
				t.Setenv("GOOGLE_CLOUD_PROJECT", "casebridge-unreachable-test")
				start := time.Now()
				code, out, errOut := runCmd(t, append(args, "--timeout", testTimeout.String())...)
				checkUnreachable(t, args[0], code, time.Since(start), errOut, ops.ServicePubSub, "PUBSUB_EMULATOR_HOST", addr, u.hint)
				if out != "" {
					t.Errorf("stdout is %q, want nothing: nothing was read", out)
				}
			})
		}
	}
}

func TestListAndInspectFailInTimeNamingAFirestoreTheyCannotReach(t *testing.T) {
	const project = "casebridge-unreachable-test"
	emu := emulators.StartPubSubForTest(t)
	ctx := t.Context()
	c, err := eventing.NewEmulatorClient(ctx, project, emu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, name := range []string{"poll-crm-dead-letter", "cleanup-dead-letter"} {
		if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + name}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
			Name: "projects/" + project + "/subscriptions/" + name, Topic: "projects/" + project + "/topics/" + name, AckDeadlineSeconds: 60,
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A tick of poll-crm, as Pub/Sub dead-letters it: its last error is
	// looked up in Firestore.
	pub := c.Publisher("poll-crm-dead-letter")
	id, err := pub.Publish(ctx, &pubsub.Message{Data: []byte("tick"), Attributes: map[string]string{
		ops.AttrDeliveryCount: "5", ops.AttrSourceSubscription: "projects/" + project + "/subscriptions/poll-crm",
		ops.AttrSourcePublishTime: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)}}).Get(ctx)
	pub.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PUBSUB_EMULATOR_HOST", emu.Host)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)

	for _, u := range unreachables {
		for _, args := range [][]string{{"list"}, {"inspect", "--id", id}} {
			t.Run(args[0]+" against "+u.name+" shows the message with its last error unknown, then fails naming Firestore and its address", func(t *testing.T) {
				addr := u.addr(t)
				t.Setenv("FIRESTORE_EMULATOR_HOST", addr)
				start := time.Now()
				code, out, errOut := runCmd(t, append(args, "--subscription", "poll-crm-dead-letter", "--timeout", testTimeout.String())...)
				checkUnreachable(t, args[0], code, time.Since(start), errOut, ops.ServiceFirestore, "FIRESTORE_EMULATOR_HOST", addr, u.hint)
				if !strings.Contains(out, id) || !strings.Contains(out, "unknown") {
					t.Errorf("stdout lacks message %s with its last error unknown:\n%s", id, out)
				}
			})
		}
	}

	for _, u := range unreachables {
		t.Run("purge --settled against "+u.name+" purges nothing, says it kept the message unjudged, and fails naming Firestore and its address", func(t *testing.T) {
			addr := u.addr(t)
			t.Setenv("FIRESTORE_EMULATOR_HOST", addr)
			start := time.Now()
			code, out, errOut := runCmd(t, "purge", "--settled", "--yes", "--subscription", "poll-crm-dead-letter", "--timeout", testTimeout.String())
			checkUnreachable(t, "purge", code, time.Since(start), errOut, ops.ServiceFirestore, "FIRESTORE_EMULATOR_HOST", addr, u.hint)
			if !strings.Contains(out, "purged 0 settled message(s); kept 1") || !regexp.MustCompile(regexp.QuoteMeta(id)+`.*\n.*could not be judged: the poll state could not be read`).MatchString(out) {
				t.Errorf("stdout lacks that message %s was kept, not judged:\n%s", id, out)
			}
		})
	}

	t.Run("list of an empty subscription that Pub/Sub answered says so and succeeds without Firestore", func(t *testing.T) {
		t.Setenv("FIRESTORE_EMULATOR_HOST", opstest.ClosedAddr(t))
		code, out, errOut := runCmd(t, "list", "--subscription", "cleanup-dead-letter", "--timeout", testTimeout.String())
		if code != 0 || out != "no dead-lettered messages\n" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0 and \"no dead-lettered messages\"", code, out, errOut)
		}
	})

	t.Run("the message is still there: failing to read its last error or to judge it removed nothing", func(t *testing.T) {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := c.SubscriptionAdminClient.Pull(pctx, &pubsubpb.PullRequest{Subscription: "projects/" + project + "/subscriptions/poll-crm-dead-letter", MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ReceivedMessages) != 1 || resp.ReceivedMessages[0].Message.MessageId != id {
			t.Errorf("pulled %d messages, want message %s alone", len(resp.ReceivedMessages), id)
		}
	})
}
