package appconfig

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/casebridge/casebridge/shared/webhook"
)

// The variables only the webhook receiver (CRMWebhook) reads.
const (
	// EnvWebhookSecret is the secret the CRM signs its webhooks with.
	EnvWebhookSecret = "CASEBRIDGE_WEBHOOK_SECRET"
	// EnvWebhookSyncUser is the sync user as the CRM's webhooks name who
	// made a change; its own changes are acknowledged and not published.
	EnvWebhookSyncUser = "CASEBRIDGE_WEBHOOK_SYNC_USER"
)

// WebhookConfig is the webhook receiver's configuration. It holds no CRM
// API credential: the receiver never calls the CRM.
type WebhookConfig struct {
	// Project is the Google Cloud project holding the topics.
	Project string
	// CRMKind says whose webhooks arrive (see KnownCRMKinds).
	CRMKind string
	// Secret is what the CRM signs with. Never log it.
	Secret []byte
	// SyncUser, when set, is the sync user as the CRM's webhooks name the
	// actor of a change (RT and ServiceNow user names, a Jira account id,
	// a Zendesk user id, the simulator's user name).
	SyncUser string
	// TopicCaseUpdated and TopicSyncRequested are topic ids in Project;
	// the receiver publishes on case-updated only.
	TopicCaseUpdated   string
	TopicSyncRequested string
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// ClockFile, when set, names the sandbox's clock offset file: the
	// simulators date their webhooks by that clock.
	ClockFile string
}

// ParseWebhook reads the webhook receiver's configuration through getenv:
// the project, CRM_KIND, the secret, the sync user, the topics, the log
// level and the sandbox's clock file; nothing of the CRM's API.
func ParseWebhook(getenv func(string) string) (WebhookConfig, error) {
	p := envconf.NewReader(getenv)
	var c WebhookConfig
	c.Project = p.Required(EnvProject, "set it to the Google Cloud project id that holds casebridge's Pub/Sub topics")
	c.CRMKind = p.Required(EnvCRMKind, "set it to the CRM whose webhooks arrive: one of "+strings.Join(KnownCRMKinds, ", "))
	if c.CRMKind != "" && (!slices.Contains(KnownCRMKinds, c.CRMKind) || !webhook.Supports(c.CRMKind)) {
		problem(p, EnvCRMKind, fmt.Sprintf("is %q, which casebridge takes no webhooks from: set it to one of: %s", c.CRMKind, strings.Join(KnownCRMKinds, ", ")))
	}
	// The secret's value is never quoted in a problem.
	secret := p.Required(EnvWebhookSecret, "set it to the secret the CRM signs its webhooks with (see docs/webhooks.md)")
	if n := len(secret); secret != "" && (n < webhook.MinSecretBytes || n > webhook.MaxSecretBytes) {
		problem(p, EnvWebhookSecret, fmt.Sprintf("is %d bytes long: set it to a secret of %d to %d bytes, e.g. `openssl rand -hex 32`", n, webhook.MinSecretBytes, webhook.MaxSecretBytes))
	} else if secret != "" {
		c.Secret = []byte(secret)
	}
	c.SyncUser = p.Get(EnvWebhookSyncUser)
	if len(c.SyncUser) > 256 {
		problem(p, EnvWebhookSyncUser, "is longer than 256 bytes: set it to the sync user's name or id as the CRM's webhooks give it")
	}
	c.TopicCaseUpdated = topic(p, EnvTopicCaseUpdated, eventing.TopicCaseUpdated)
	c.TopicSyncRequested = topic(p, EnvTopicSyncRequested, eventing.TopicSyncRequested)
	lvl, err := logging.ParseLevel(p.Get(EnvLogLevel))
	if err != nil {
		problem(p, EnvLogLevel, fmt.Sprintf("is %q: set it to debug, info, warning or error", p.Get(EnvLogLevel)))
	}
	c.LogLevel = lvl
	c.ClockFile = p.Get(EnvClockFile)
	if len(p.Problems()) > 0 {
		return WebhookConfig{}, &Error{Problems: p.Problems()}
	}
	return c, nil
}

// Clock returns the clock webhooks are dated against: the system's, or
// the sandbox's moved clock when ClockFile is set.
func (c WebhookConfig) Clock() clock.Clock {
	if c.ClockFile != "" {
		return clock.NewFileOffset(c.ClockFile)
	}
	return clock.System{}
}

// WebhookApp is what the webhook receiver shares across requests.
type WebhookApp struct {
	Config    WebhookConfig
	Log       *slog.Logger
	Publisher *eventing.Publisher
	Verifier  *webhook.Verifier

	pubsub *pubsub.Client
}

var (
	webhookOnce   sync.Once
	webhookLoaded *WebhookApp
	webhookErr    error
)

// LoadWebhook reads the environment and builds the WebhookApp once per
// process; every later call returns the same one, or the same error.
func LoadWebhook() (*WebhookApp, error) {
	webhookOnce.Do(func() {
		cfg, err := ParseWebhook(os.Getenv)
		if err != nil {
			webhookErr = err
			return
		}
		webhookLoaded, webhookErr = BuildWebhook(context.Background(), cfg, logging.New(os.Stdout, cfg.LogLevel))
	})
	return webhookLoaded, webhookErr
}

// MustLoadWebhook is LoadWebhook for the receiver's init when it is
// deployed on its own: an invalid configuration is logged as one CRITICAL
// line naming the variables to set, and the process exits with status 1.
func MustLoadWebhook(function string) *WebhookApp {
	app, err := LoadWebhook()
	if err != nil {
		log := logging.WithFunction(logging.New(os.Stdout, slog.LevelInfo), function)
		log.Log(context.Background(), logging.LevelCritical, "casebridge cannot start", logging.Err(err))
		os.Exit(1)
	}
	return app
}

// BuildWebhook makes the WebhookApp for cfg: the Pub/Sub publisher and the
// verifier of cfg.CRMKind's webhooks.
func BuildWebhook(ctx context.Context, cfg WebhookConfig, log *slog.Logger) (*WebhookApp, error) {
	clk := cfg.Clock()
	v, err := webhook.New(cfg.CRMKind, cfg.Secret, clk.Now)
	if err != nil {
		return nil, fmt.Errorf("configuring the webhook verifier: %w", err)
	}
	c, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, fmt.Errorf("opening Pub/Sub in project %s: %w", cfg.Project, err)
	}
	return &WebhookApp{
		Config:    cfg,
		Log:       log,
		Publisher: eventing.NewPublisher(c, cfg.TopicCaseUpdated, cfg.TopicSyncRequested),
		Verifier:  v,
		pubsub:    c,
	}, nil
}

// Close stops the publisher and closes the client.
func (a *WebhookApp) Close() error {
	if a.Publisher != nil {
		a.Publisher.Stop()
	}
	if a.pubsub != nil {
		return a.pubsub.Close()
	}
	return nil
}
