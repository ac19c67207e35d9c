package appconfig

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/shared/webhook"
	"github.com/google/go-cmp/cmp"
)

// webhookEnv is the smallest valid environment of the webhook receiver.
func webhookEnv() map[string]string {
	return map[string]string{
		EnvProject:       "cb-prod",
		EnvCRMKind:       "jira",
		EnvWebhookSecret: "0123456789abcdef0123456789abcdef",
	}
}

func TestParseWebhookDefaults(t *testing.T) {
	got, err := ParseWebhook(getenv(webhookEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := WebhookConfig{
		Project:            "cb-prod",
		CRMKind:            "jira",
		Secret:             []byte("0123456789abcdef0123456789abcdef"),
		TopicCaseUpdated:   "case-updated",
		TopicSyncRequested: "sync-requested",
		LogLevel:           slog.LevelInfo,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseWebhook (-want +got):\n%s", diff)
	}
}

func TestParseWebhookOverrides(t *testing.T) {
	got, err := ParseWebhook(getenv(with(webhookEnv(),
		EnvWebhookSyncUser, "557058:sync", EnvTopicCaseUpdated, "cb-case-updated",
		EnvTopicSyncRequested, "cb-sync-requested", EnvLogLevel, "debug", EnvClockFile, "/tmp/clock")))
	if err != nil {
		t.Fatal(err)
	}
	if got.SyncUser != "557058:sync" || got.TopicCaseUpdated != "cb-case-updated" || got.TopicSyncRequested != "cb-sync-requested" ||
		got.LogLevel != slog.LevelDebug || got.ClockFile != "/tmp/clock" {
		t.Errorf("ParseWebhook = %+v", got)
	}
}

func TestParseWebhookProblems(t *testing.T) {
	const secretValue = "short-secret"
	for _, tc := range []struct {
		name string
		env  map[string]string
		vars []string
	}{
		{"nothing set", map[string]string{}, []string{EnvProject, EnvCRMKind, EnvWebhookSecret}},
		{"no secret", with(webhookEnv(), EnvWebhookSecret, ""), []string{EnvWebhookSecret}},
		{"a short secret", with(webhookEnv(), EnvWebhookSecret, secretValue), []string{EnvWebhookSecret}},
		{"a secret over 1024 bytes", with(webhookEnv(), EnvWebhookSecret, strings.Repeat("s", 1025)), []string{EnvWebhookSecret}},
		{"an unknown CRM", with(webhookEnv(), EnvCRMKind, "hubspot"), []string{EnvCRMKind}},
		{"a bad topic", with(webhookEnv(), EnvTopicCaseUpdated, "a b"), []string{EnvTopicCaseUpdated}},
		{"an over-long sync user", with(webhookEnv(), EnvWebhookSyncUser, strings.Repeat("u", 257)), []string{EnvWebhookSyncUser}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWebhook(getenv(tc.env))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("ParseWebhook = %v, want an *Error", err)
			}
			if diff := cmp.Diff(tc.vars, cerr.Vars()); diff != "" {
				t.Errorf("problems name (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}

// TestTheWebhookReceiverReadsNoCRMCredential records what ParseWebhook
// reads with every variable set: nothing of the CRM's API (its URL, its
// adapter's settings and credentials) nor of the Cloud Support API.
func TestTheWebhookReceiverReadsNoCRMCredential(t *testing.T) {
	var read []string
	full := map[string]string{}
	for _, v := range Variables() {
		full[v] = "x"
	}
	for _, kind := range KnownCRMKinds {
		full[EnvCRMKind] = kind
		_, _ = ParseWebhook(func(v string) string {
			if !slices.Contains(read, v) {
				read = append(read, v)
			}
			return full[v]
		})
	}
	slices.Sort(read)
	want := []string{EnvClockFile, EnvWebhookSecret, EnvWebhookSyncUser, EnvCRMKind, EnvProject, EnvLogLevel, EnvTopicCaseUpdated, EnvTopicSyncRequested}
	slices.Sort(want)
	if diff := cmp.Diff(want, read); diff != "" {
		t.Errorf("ParseWebhook reads (-want +got):\n%s", diff)
	}
}

// TestEveryCRMKindHasAWebhookScheme keeps the registry and the verifier
// together: a CRM added to crmKinds needs its webhook scheme too.
func TestEveryCRMKindHasAWebhookScheme(t *testing.T) {
	for _, k := range KnownCRMKinds {
		if !webhook.Supports(k) {
			t.Errorf("CRM kind %s has no webhook scheme in shared/webhook", k)
		}
	}
}
