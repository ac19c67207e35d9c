package crmwebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

const (
	project = "casebridge-webhook-test"
	topic   = "case-updated"
	sub     = "case-updated-test"
	secret  = "webhook-test-secret-0123456789ab"
)

// The tests sign with casebridge's own scheme, computed here: "sha256=" and
// the lowercase hex HMAC-SHA256 of "<unix seconds>.<body>".
func sign(at time.Time, body string) (ts, sig string) {
	ts = strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return ts, "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// emulator starts a Pub/Sub emulator with the case-updated topic and a
// pull subscription on it, and returns a client.
func emulator(t *testing.T) *pubsub.Client {
	t.Helper()
	emu := emulators.StartPubSubForTest(t)
	c, err := eventing.NewEmulatorClient(t.Context(), project, emu.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := t.Context()
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + sub, Topic: "projects/" + project + "/topics/" + topic,
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// pull pulls and acknowledges what the subscription holds until the
// message naming until has arrived (or 20 s), then for another second, and
// returns every case reference received.
func pull(t *testing.T, c *pubsub.Client, until string) []casesync.CaseRef {
	t.Helper()
	var out []casesync.CaseRef
	deadline := time.Now().Add(20 * time.Second)
	var settle time.Time
	for {
		if settle.IsZero() && time.Now().After(deadline) {
			t.Fatalf("case-updated for %s did not arrive; got %+v", until, out)
		}
		if !settle.IsZero() && time.Now().After(settle) {
			return out
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: "projects/" + project + "/subscriptions/" + sub, MaxMessages: 100})
		cancel()
		if err != nil {
			continue // nothing within the second
		}
		var acks []string
		for _, m := range resp.ReceivedMessages {
			ref, err := eventing.DecodeCaseRef(m.Message.Data)
			if err != nil {
				t.Fatalf("published message is not a case reference: %v", err)
			}
			out = append(out, ref)
			acks = append(acks, m.AckId)
			if ref.ID == until && settle.IsZero() {
				settle = time.Now().Add(time.Second)
			}
		}
		if len(acks) > 0 {
			if err := c.SubscriptionAdminClient.Acknowledge(t.Context(), &pubsubpb.AcknowledgeRequest{Subscription: "projects/" + project + "/subscriptions/" + sub, AckIds: acks}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func post(t *testing.T, url, method, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func signed(at time.Time, body string) map[string]string {
	ts, sig := sign(at, body)
	return map[string]string{webhook.HeaderCasebridgeTimestamp: ts, webhook.HeaderCasebridgeSignature: sig}
}

// TestWebhooksOverHTTPPublishOnlyVerifiedCases runs the handler behind a
// real HTTP server, publishing to the Pub/Sub emulator: a verified webhook
// publishes case-updated for its case; every refused one, and the sync
// user's own change, publishes nothing.
func TestWebhooksOverHTTPPublishOnlyVerifiedCases(t *testing.T) {
	c := emulator(t)
	pub := eventing.NewPublisher(c, topic, "sync-requested")
	t.Cleanup(pub.Stop)
	v, err := webhook.New(webhook.KindSimulator, []byte(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv := httptest.NewServer(&Handler{Verifier: v, Publisher: pub, SyncUser: "casebridge", Log: logging.New(&logs, slog.LevelDebug)})
	t.Cleanup(srv.Close)

	body := `{"case":"7","event":"comment","actor":"alice"}`
	if status, _ := post(t, srv.URL, http.MethodPost, body, signed(time.Now(), body)); status != http.StatusNoContent {
		t.Fatalf("a verified webhook answered %d, want 204", status)
	}
	if diff := cmp.Diff([]casesync.CaseRef{{Side: casesync.SideCompany, ID: "7"}}, pull(t, c, "7")); diff != "" {
		t.Fatalf("published for a verified webhook (-want +got):\n%s", diff)
	}

	big := `{"case":"8","pad":"` + strings.Repeat("x", webhook.MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name    string
		method  string
		body    string
		headers map[string]string
		status  int
	}{
		{"another secret's signature", http.MethodPost, `{"case":"8"}`, func() map[string]string {
			h := signed(time.Now(), `{"case":"8"}`)
			h[webhook.HeaderCasebridgeSignature] = "sha256=" + strings.Repeat("ab", 32)
			return h
		}(), http.StatusUnauthorized},
		{"no signature", http.MethodPost, `{"case":"8"}`, nil, http.StatusUnauthorized},
		{"signed ten minutes ago", http.MethodPost, `{"case":"8"}`, signed(time.Now().Add(-10*time.Minute), `{"case":"8"}`), http.StatusUnauthorized},
		{"signed ten minutes ahead", http.MethodPost, `{"case":"8"}`, signed(time.Now().Add(10*time.Minute), `{"case":"8"}`), http.StatusUnauthorized},
		{"a GET", http.MethodGet, "", signed(time.Now(), ""), http.StatusMethodNotAllowed},
		{"a body over 256 KiB", http.MethodPost, big, signed(time.Now(), big), http.StatusRequestEntityTooLarge},
		{"signed malformed JSON", http.MethodPost, `{"case":"8"`, signed(time.Now(), `{"case":"8"`), http.StatusBadRequest},
		{"a signed invalid case id", http.MethodPost, `{"case":"8/../9"}`, signed(time.Now(), `{"case":"8/../9"}`), http.StatusBadRequest},
		{"the sync user's own change", http.MethodPost, `{"case":"8","actor":"CaseBridge"}`, signed(time.Now(), `{"case":"8","actor":"CaseBridge"}`), http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, answer := post(t, srv.URL, tc.method, tc.body, tc.headers)
			if status != tc.status {
				t.Errorf("answered %d %q, want %d", status, answer, tc.status)
			}
		})
	}

	// A last verified webhook: whatever the refused ones published would
	// arrive with or before it.
	last := `{"case":"99","event":"priority","actor":"bob"}`
	if status, _ := post(t, srv.URL, http.MethodPost, last, signed(time.Now(), last)); status != http.StatusNoContent {
		t.Fatalf("the last webhook answered %d, want 204", status)
	}
	if diff := cmp.Diff([]casesync.CaseRef{{Side: casesync.SideCompany, ID: "99"}}, pull(t, c, "99")); diff != "" {
		t.Errorf("published after the refused webhooks (-want +got):\n%s", diff)
	}

	// The logs name cases and sizes, never bodies or signatures.
	for _, never := range []string{"alice", `"pad"`, "sha256=", secret} {
		if strings.Contains(logs.String(), never) {
			t.Errorf("the logs hold %q:\n%s", never, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"caseId":"99"`) {
		t.Errorf("the logs do not name the published case:\n%s", logs.String())
	}
}

// TestAFailedPublishAsksTheCRMToRetry checks the 503 when Pub/Sub refuses
// the message (here: the topic does not exist).
func TestAFailedPublishAsksTheCRMToRetry(t *testing.T) {
	c := emulator(t)
	pub := eventing.NewPublisher(c, "no-such-topic", "sync-requested")
	t.Cleanup(pub.Stop)
	v, err := webhook.New(webhook.KindSimulator, []byte(secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&Handler{Verifier: v, Publisher: pub, Log: logging.Discard(), PublishTimeout: 5 * time.Second})
	t.Cleanup(srv.Close)
	body := `{"case":"7"}`
	if status, _ := post(t, srv.URL, http.MethodPost, body, signed(time.Now(), body)); status != http.StatusServiceUnavailable {
		t.Fatalf("answered %d, want 503", status)
	}
}

// TestWithoutConfigurationEveryWebhookIsAnswered503 checks the receiver of
// a process that serves every function but lacks the webhook settings.
func TestWithoutConfigurationEveryWebhookIsAnswered503(t *testing.T) {
	srv := httptest.NewServer(serve(nil, errors.New("CASEBRIDGE_WEBHOOK_SECRET is not set")))
	t.Cleanup(srv.Close)
	body := `{"case":"7"}`
	status, answer := post(t, srv.URL, http.MethodPost, body, signed(time.Now(), body))
	if status != http.StatusServiceUnavailable || !slices.Contains(strings.Fields(answer), "configured") {
		t.Fatalf("answered %d %q, want 503 saying it is not configured", status, answer)
	}
}
