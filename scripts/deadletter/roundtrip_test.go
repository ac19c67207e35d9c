package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/localstack"
	"github.com/casebridge/casebridge/shared/ops"
	"github.com/google/go-cmp/cmp"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func listJSON(t *testing.T) []ops.DeadLetter {
	t.Helper()
	code, out, errOut := runCmd(t, "list", "--json", "--pull-wait", "1s")
	if code != 0 {
		t.Fatalf("deadletter list: exit %d: %s", code, errOut)
	}
	var dls []ops.DeadLetter
	if err := json.Unmarshal([]byte(out), &dls); err != nil {
		t.Fatalf("deadletter list --json printed %q: %v", out, err)
	}
	return dls
}

// TestPoisonMessageRoundTrip is the round trip on the local stack:
// a sync request that cannot succeed while the CRM is down is retried, then
// dead-lettered; the tool shows it with the error of its last attempt; once
// the CRM is back, replaying it syncs the case exactly once and leaves the
// dead-letter subscription empty.
func TestPoisonMessageRoundTrip(t *testing.T) {
	ctx := t.Context()
	st, err := localstack.Start(ctx, localstack.Options{
		PollEvery: -1, DetectOutagesEvery: -1, CleanupEvery: -1,
		MinBackoff: time.Second, MaxBackoff: 2 * time.Second, MaxDeliveryAttempts: 5,
		// The poison message is the only message: no support event of the
		// case's creation may start a second sync that fails the same way.
		NoSupportEvents: true,
	})
	if err != nil {
		t.Fatalf("starting the local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stopping the local stack: %v", err)
		}
	})
	t.Setenv("PUBSUB_EMULATOR_HOST", st.PubSub.Host)
	t.Setenv("FIRESTORE_EMULATOR_HOST", st.Firestore.Host)
	t.Setenv("GOOGLE_CLOUD_PROJECT", st.Project())

	caseName, err := st.CSAPI.CreateCase("projects/sandbox-project", "VM will not boot", "since the upgrade", "P2", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ref := casesync.CaseRef{Side: casesync.SideGoogle, ID: caseName}
	body, _ := eventing.EncodeCaseRef(ref)

	// The sync-requested subscription is the poison's path: the emulator
	// does not dead-letter messages of an ordered subscription, which
	// case-updated is.
	st.SetCRMDown(true)
	if _, err := st.Publish(ctx, eventing.TopicSyncRequested, body); err != nil {
		t.Fatal(err)
	}

	var poison ops.DeadLetter
	t.Run("a message that keeps failing is dead-lettered after its delivery attempts", func(t *testing.T) {
		deadline := time.Now().Add(90 * time.Second)
		for {
			dls := listJSON(t)
			if len(dls) > 0 {
				if len(dls) != 1 {
					t.Fatalf("%d messages dead-lettered, want 1: %+v", len(dls), dls)
				}
				poison = dls[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("after 90 s nothing was dead-lettered")
			}
			time.Sleep(time.Second)
		}
		if diff := cmp.Diff(&ref, poison.Case); diff != "" {
			t.Errorf("dead-lettered case (-want +got):\n%s", diff)
		}
		if poison.SourceSubscription != "sync-case-sync-requested" || poison.DeliveryCount != 5 {
			t.Errorf("dead letter from %q after %d attempts, want sync-case-sync-requested after 5", poison.SourceSubscription, poison.DeliveryCount)
		}
	})

	t.Run("list shows the error of the last attempt: the CRM's 503, when it happened", func(t *testing.T) {
		t.Logf("last error at %v: %s", poison.LastErrorAt, poison.LastError)
		if !regexp.MustCompile(`503|(?i)unavailable`).MatchString(poison.LastError) {
			t.Errorf("last error %q, want the CRM's 503 (service unavailable)", poison.LastError)
		}
		if poison.LastErrorAt.Before(poison.FirstPublishTime) || poison.LastErrorAt.After(poison.DeadLetteredAt) {
			t.Errorf("last error at %v, want between the first publication %v and the dead-lettering %v", poison.LastErrorAt, poison.FirstPublishTime, poison.DeadLetteredAt)
		}
		if poison.LogFilter == "" {
			t.Error("the log filter is gone, want it kept beside the last error")
		}
		failed := st.Logs(func(l localstack.LogLine) bool {
			return l.Str("function") == eventing.FunctionSyncCase && l.Str("caseId") == caseName && strings.Contains(l.Message(), "Pub/Sub will redeliver")
		})
		if len(failed) == 0 || failed[len(failed)-1].Str("error") != poison.LastError {
			t.Errorf("last error %q, want the error SyncCase logged for its last attempt (%d attempts logged)", poison.LastError, len(failed))
		}
	})
	if poison.MessageID == "" {
		t.FailNow()
	}

	t.Run("inspect shows the case, where it failed, how often and since when", func(t *testing.T) {
		code, out, errOut := runCmd(t, "inspect", "--id", poison.MessageID, "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("inspect: exit %d: %s", code, errOut)
		}
		for _, want := range []string{
			`message\s+` + regexp.QuoteMeta(poison.MessageID),
			`from subscription\s+sync-case-sync-requested`,
			`from topic\s+sync-requested`,
			`content\s+google case ` + regexp.QuoteMeta(caseName),
			`delivery attempts\s+5`,
			`first published\s+\d{4}-`,
			`last error\s+.*(503|(?i)unavailable)`,
			`last error at\s+\d{4}-`,
		} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("inspect output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "VM will not boot") || strings.Contains(out, "since the upgrade") {
			t.Errorf("inspect prints case text:\n%s", out)
		}
	})

	t.Run("purge without --yes deletes nothing", func(t *testing.T) {
		if code, _, _ := runCmd(t, "purge", "--id", poison.MessageID); code != 2 {
			t.Errorf("purge without --yes: exit %d, want 2", code)
		}
		if n := len(listJSON(t)); n != 1 {
			t.Errorf("%d messages dead-lettered after a refused purge, want 1", n)
		}
	})

	st.SetCRMDown(false)
	var replayed []ops.Replayed
	t.Run("replay republishes the message and removes it from the dead-letter subscription", func(t *testing.T) {
		code, out, errOut := runCmd(t, "replay", "--id", poison.MessageID, "--json", "--pull-wait", "1s")
		if code != 0 {
			t.Fatalf("replay: exit %d: %s %s", code, out, errOut)
		}
		if err := json.Unmarshal([]byte(out), &replayed); err != nil {
			t.Fatalf("replay --json printed %q: %v", out, err)
		}
		if len(replayed) != 1 || replayed[0].Topic != eventing.TopicSyncRequested || replayed[0].NewMessageID == "" || replayed[0].Error != "" {
			t.Fatalf("replayed %+v, want one message republished on sync-requested", replayed)
		}
		if n := len(listJSON(t)); n != 0 {
			t.Errorf("%d messages still dead-lettered after the replay, want 0", n)
		}
	})
	if len(replayed) != 1 {
		t.FailNow()
	}

	t.Run("the replayed message syncs the case exactly once", func(t *testing.T) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if tks := st.CRM.Tickets(); len(tks) > 0 && tks[0].GoogleCase == caseName {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 60 s the CRM holds %d tickets, none linked to %s", len(st.CRM.Tickets()), caseName)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(5 * time.Second) // a duplicate delivery would come within ~2 s
		if n := len(st.CRM.Tickets()); n != 1 {
			t.Errorf("the CRM holds %d tickets, want 1", n)
		}
		links := 0
		for _, c := range st.CSAPI.Comments(caseName) {
			if strings.HasPrefix(c.Body, casesync.LinkLine("")) {
				links++
			}
		}
		if links != 1 {
			t.Errorf("the Google case has %d link comments, want 1", links)
		}
		handled := st.Logs(func(l localstack.LogLine) bool {
			return l.Str("function") == eventing.FunctionSyncCase && l.Str("eventId") == replayed[0].NewMessageID && l.Message() == "case reconciled"
		})
		if len(handled) != 1 {
			t.Errorf("SyncCase reconciled the replayed message %d times, want once", len(handled))
		}
		if n := len(listJSON(t)); n != 0 {
			t.Errorf("%d messages dead-lettered after the replayed sync, want 0", n)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "p")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no command is a usage error", nil},
		{"an unknown command is a usage error", []string{"drain"}},
		{"inspect without --id is a usage error", []string{"inspect"}},
		{"replay as something unknown is a usage error", []string{"replay", "--as", "case-updated"}},
		{"purge without --yes is a usage error", []string{"purge"}},
		{"purge --settled without --yes is a usage error", []string{"purge", "--settled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, _ := runCmd(t, tc.args...); code != 2 {
				t.Errorf("deadletter %v: exit %d, want 2", tc.args, code)
			}
		})
	}
}
