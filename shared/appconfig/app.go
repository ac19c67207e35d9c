package appconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/csapi"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
	"github.com/casebridge/casebridge/shared/store"
	"google.golang.org/api/option"
)

// App is what every function of one process shares: the configuration, the
// logger, the store and the engine wired to its adapters.
type App struct {
	Config    Config
	Log       *slog.Logger
	Store     *store.Store
	Publisher *eventing.Publisher
	Engine    *casesync.Engine

	pubsub *pubsub.Client
}

var (
	loadOnce sync.Once
	loaded   *App
	loadErr  error
)

// Load reads the environment and builds the App once per process; every
// later call returns the same App, or the same error: a failed build is
// never retried into a half-made App. The CRM's settings are read when
// CRM_KIND is set; MustLoad checks that a function calling the CRM has them.
func Load() (*App, error) {
	loadOnce.Do(func() {
		cfg, err := ParseFor(os.Getenv, false)
		if err != nil {
			loadErr = err
			return
		}
		loaded, loadErr = Build(context.Background(), cfg, logging.New(os.Stdout, cfg.LogLevel))
	})
	return loaded, loadErr
}

// MustLoad is Load for a function's init: if the configuration is invalid
// or an adapter cannot be built, it logs why (naming the variables to set)
// as one CRITICAL JSON line and exits with status 1, so a misconfigured
// deployment fails to start instead of failing every event.
func MustLoad(function string) *App {
	app, err := Load()
	if NeedsCRM(function) && strings.TrimSpace(os.Getenv(EnvCRMKind)) == "" {
		missing := Problem{Var: EnvCRMKind, Message: "is not set: " + function + " calls the CRM; set it to one of: " + strings.Join(KnownCRMKinds, ", ")}
		var cerr *Error
		if errors.As(err, &cerr) {
			// A copy: the loaded error is shared by every function.
			err = &Error{Problems: append(slices.Clone(cerr.Problems), missing)}
		} else if err == nil {
			err = &Error{Problems: []Problem{missing}}
		}
	}
	if err != nil {
		log := logging.WithFunction(logging.New(os.Stdout, slog.LevelInfo), function)
		log.Log(context.Background(), logging.LevelCritical, "casebridge cannot start", logging.Err(err))
		os.Exit(1)
	}
	return app
}

// Build makes the App for cfg: the Firestore store, the Pub/Sub publisher,
// the CSAPI adapter (the simulator when CSAPIEndpoint is set), the CRM
// adapter of CRMKind, and the engine over them. On failure whatever was
// built is closed.
func Build(ctx context.Context, cfg Config, log *slog.Logger) (app *App, err error) {
	if len(cfg.CSAPIConnectorEmails) == 0 {
		return nil, fmt.Errorf("no connector email: set %s so casebridge recognises its own writes to Google", EnvCSAPIConnectorEmail)
	}
	a := &App{Config: cfg, Log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}

	a.Store, err = store.New(ctx, cfg.Project)
	if err != nil {
		return nil, fmt.Errorf("opening Firestore in project %s: %w", cfg.Project, err)
	}
	a.pubsub, err = pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, fmt.Errorf("opening Pub/Sub in project %s: %w", cfg.Project, err)
	}
	a.Publisher = eventing.NewPublisher(a.pubsub, cfg.TopicCaseUpdated, cfg.TopicSyncRequested)

	var opts []option.ClientOption
	if cfg.CSAPIEndpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.CSAPIEndpoint+"/"), option.WithoutAuthentication())
	}
	client, err := csapi.New(ctx, csapi.Config{
		Parent:              cfg.CSAPIParent,
		MoreParents:         cfg.CSAPIMoreParents,
		CreateParent:        cfg.CSAPICreateParent,
		ClassificationID:    cfg.CSAPIClassificationID,
		TestCase:            cfg.CSAPITestCase,
		TimeZone:            cfg.CSAPITimeZone,
		ConnectorEmail:      cfg.CSAPIConnectorEmails[0],
		MoreConnectorEmails: cfg.CSAPIConnectorEmails[1:],
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Cloud Support API client: %w", err)
	}
	var google casesync.Google = client
	if cfg.CSAPIUseFeed {
		google = client.WithFeed()
	}

	crm, err := buildCRM(cfg)
	if err != nil {
		return nil, err
	}

	var clk casesync.Clock = clock.System{}
	if cfg.ClockFile != "" {
		clk = clock.NewFileOffset(cfg.ClockFile)
	}
	a.Engine = &casesync.Engine{
		Google:    google,
		CRM:       crm,
		Store:     a.Store,
		Publisher: a.Publisher,
		Clock:     clk,
		Log:       log,
		Config:    cfg.Engine,
	}
	return a, nil
}

// Close stops the publisher and closes the clients. Functions never call
// it (the process ends with its instance); tests and tools do.
func (a *App) Close() error {
	var errs []error
	if a.Publisher != nil {
		a.Publisher.Stop()
	}
	if a.pubsub != nil {
		errs = append(errs, a.pubsub.Close())
	}
	if a.Store != nil {
		a.Store.Close()
	}
	return errors.Join(errs...)
}

// EngineFor returns the shared engine logging through log, so the engine's
// own lines carry the function name, event id and case of the event at hand.
func (a *App) EngineFor(log *slog.Logger) *casesync.Engine {
	e := *a.Engine
	e.Log = log
	return &e
}
