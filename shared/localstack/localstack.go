// Package localstack runs casebridge on one machine, the way the sandbox
// and the end-to-end tests need it: the official Firestore and Pub/Sub
// emulators, the CSAPI and CRM simulators (in this process, on a clock the
// stack can move forward) or, in place of the CRM simulator, the Zendesk,
// Jira Service Management or ServiceNow simulator (on that clock too) or a
// real Request Tracker (on real time), every function in one functions-framework child
// process, the production topology of topics, push subscriptions,
// retry policies and dead-letter topics on the Pub/Sub emulator (the same
// policies Terraform deploys, unless a test overrides them), and a
// ticker standing in for Cloud Scheduler. Unless Options.NoSupportEvents,
// events flow from both sides, so that changes arrive in seconds rather
// than at the next poll: the CSAPI simulator publishes its support events
// on the emulator's support-events topic, as the Cloud Support API does in
// production, for GoogleEvents; and the CRM sends signed webhooks to
// CRMWebhook, configured the way the helpdesk's administrator would
// (docs/webhooks.md), with a secret the stack makes at random. Polling
// stays on as the safety net for a missed event. Everything listens on
// 127.0.0.1 on free ports, and Stop leaves nothing running.
package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/casebridge/casebridge/shared/appconfig"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/csapi/csapitest"
	"github.com/casebridge/casebridge/shared/emulators"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/freshdesk/freshdesktest"
	"github.com/casebridge/casebridge/shared/jirasm/jirasmtest"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/rt/rttest"
	"github.com/casebridge/casebridge/shared/salesforce/salesforcetest"
	"github.com/casebridge/casebridge/shared/servicenow/servicenowtest"
	"github.com/casebridge/casebridge/shared/zendesk/zendesktest"
	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/option"
)

// The CRMs a stack can run (Options.CRM); the same names as CRM_KIND.
const (
	// CRMSimulator is the in-process CRM simulator, on the stack's clock.
	CRMSimulator = appconfig.CRMSimulator
	// CRMRequestTracker is a throw-away real Request Tracker started with
	// rttest (scripts/rt.sh). Its clock is real time: Advance does not move
	// it.
	CRMRequestTracker = appconfig.CRMRequestTracker
	// CRMZendesk, CRMJira and CRMServiceNow are the vendors' simulators
	// (shared/zendesk/zendesktest, shared/jirasm/jirasmtest,
	// shared/servicenow/servicenowtest), on the stack's clock, set up as
	// each helpdesk's administrator sets it up for casebridge (crm_*.go).
	CRMZendesk    = appconfig.CRMZendesk
	CRMJira       = appconfig.CRMJira
	CRMServiceNow = appconfig.CRMServiceNow
	// CRMFreshdesk is Freshdesk's simulator (shared/freshdesk/freshdesktest),
	// set up as Freshdesk's administrator sets it up, webhook automation
	// rules included (crm_freshdesk.go).
	CRMFreshdesk = appconfig.CRMFreshdesk
	// CRMSalesforce is Salesforce's simulator
	// (shared/salesforce/salesforcetest), set up as Salesforce's
	// administrator sets it up, the webhook Apex included
	// (crm_salesforce.go).
	CRMSalesforce = appconfig.CRMSalesforce
)

// crmKinds are the CRMs a stack can run, for messages.
var crmKinds = []string{CRMSimulator, CRMRequestTracker, CRMZendesk, CRMJira, CRMServiceNow, CRMFreshdesk, CRMSalesforce}

// Options configure a Stack. Zero values take the defaults documented on
// each field.
type Options struct {
	// Project is the Firestore and Pub/Sub project. Default
	// "casebridge-local".
	Project string
	// Organization is the simulated Google organization. Default
	// "organizations/100".
	Organization string
	// Projects maps the simulated Google projects (ids to numbers) of the
	// organization. Default {"sandbox-project": "200"}.
	Projects map[string]string
	// CreateProject is the project new Google cases are created in
	// (CSAPI_CREATE_PARENT). Default: the only project, or
	// "sandbox-project".
	CreateProject string
	// ConnectorEmail is casebridge's identity at CSAPI. Default
	// "casebridge@sandbox-project.iam.gserviceaccount.com".
	ConnectorEmail string
	// ClassificationID is the classification of created cases. Default:
	// the simulator's first.
	ClassificationID string
	// CRMSyncUser is the CRM simulator user casebridge writes as. Default
	// "casebridge". (Request Tracker's sync user is always rttest.SyncUser.)
	CRMSyncUser string
	// CRM is the CRM casebridge talks to: CRMSimulator (the default),
	// CRMRequestTracker, CRMZendesk, CRMJira or CRMServiceNow. With Request
	// Tracker the stack starts a throw-away instance (Request Tracker 5
	// must be installed: see scripts/rt.sh install) and stops it with the
	// rest.
	CRM string

	// PollEvery is how often the ticker publishes tick-poll-google and
	// tick-poll-crm. Default 2 s. Negative: no poll ticks. The functions
	// still take the pollers' period to be POLL_INTERVAL (1 minute unless
	// Env sets it), which outage detection allows for: a stack polling
	// less often than that with outage detection on should set it too.
	PollEvery time.Duration
	// DetectOutagesEvery: tick-detect-outages. Default 30 s. Negative: none.
	DetectOutagesEvery time.Duration
	// CleanupEvery: tick-cleanup. Default 60 s. Negative: none.
	CleanupEvery time.Duration

	// MinBackoff, MaxBackoff and MaxDeliveryAttempts, when set, replace
	// that part of the production retry and dead-letter policy
	// (eventing.Topology, which Terraform deploys) on every subscription.
	// Zero keeps production's: 10 s to 10 min, 10 attempts for sync-case
	// and 5 for the scheduled functions. The sandbox never sets them, so
	// that it heals from an outage as production does; only a test that
	// must see a message dead-lettered within seconds does.
	MinBackoff          time.Duration
	MaxBackoff          time.Duration
	MaxDeliveryAttempts int

	// Env adds or overrides variables of the functions process (e.g.
	// LOG_LEVEL=debug, REOPEN_POLICY=new-case).
	Env map[string]string
	// FunctionsBinary is a prebuilt scripts/functions binary. Default: built
	// with `go build` from the module holding the working directory.
	FunctionsBinary string
	// LogOutput, if set, receives every line the functions process writes.
	LogOutput io.Writer

	// NoSupportEvents turns events off on both sides: changes then reach
	// casebridge only by polling. By default the stack creates the
	// organization's support event subscription through the CSAPI
	// simulator's API (as Terraform does in production), pointing at the
	// emulator's support-events topic, and the simulator publishes every
	// case change there, for GoogleEvents; and the CRM sends its webhooks to
	// CRMWebhook (see NoCRMWebhooks).
	NoSupportEvents bool
	// NoCRMWebhooks turns the CRM's webhooks off while support events stay
	// on: CRM changes then reach casebridge only by polling. By default
	// (unless NoSupportEvents) the stack makes a random webhook secret,
	// gives it to the functions process (CASEBRIDGE_WEBHOOK_SECRET, with
	// CASEBRIDGE_WEBHOOK_SYNC_USER the CRM's sync user, so that
	// casebridge's own changes are dropped) and has the CRM send its
	// webhooks to FUNCTIONS_URL/CRMWebhook as the helpdesk's administrator
	// would: the CRM simulator through its control endpoint (PUT
	// /_sim/webhook), Request Tracker through the site config of
	// casebridge's scrip, written when it starts (rttest.Options), and the
	// vendors' simulators through their own APIs (Zendesk: an
	// event-subscription webhook, whose signing secret Zendesk makes and
	// CRMWebhook is given instead; Jira: an admin webhook; ServiceNow: the
	// business rule, PUT /_sim/webhook-rule).
	// CRMWebhook dates webhooks by the stack's clock (the clock file);
	// Request Tracker signs them by real time, so once Advance has moved
	// the clock more than 5 minutes CRMWebhook refuses them as stale and
	// RT's changes wait for the poll.
	NoCRMWebhooks bool
}

func (o *Options) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Project, "casebridge-local")
	def(&o.Organization, "organizations/100")
	def(&o.ConnectorEmail, "casebridge@sandbox-project.iam.gserviceaccount.com")
	def(&o.ClassificationID, csapitest.DefaultClassifications()[0].ID)
	def(&o.CRMSyncUser, "casebridge")
	def(&o.CRM, CRMSimulator)
	if len(o.Projects) == 0 {
		o.Projects = map[string]string{"sandbox-project": "200"}
	}
	if o.CreateProject == "" {
		for id := range o.Projects {
			if o.CreateProject == "" || id < o.CreateProject {
				o.CreateProject = id
			}
		}
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	dur(&o.PollEvery, 2*time.Second)
	dur(&o.DetectOutagesEvery, 30*time.Second)
	dur(&o.CleanupEvery, 60*time.Second)
}

// topology is production's subscriptions with the retry and dead-letter
// overrides of o, if any.
func (o Options) topology() []eventing.Subscription {
	topo := eventing.Topology("")
	for i := range topo {
		if o.MinBackoff > 0 {
			topo[i].MinBackoff = o.MinBackoff
		}
		if o.MaxBackoff > 0 {
			topo[i].MaxBackoff = o.MaxBackoff
		}
		if o.MaxDeliveryAttempts > 0 {
			topo[i].MaxDeliveryAttempts = o.MaxDeliveryAttempts
		}
	}
	return topo
}

// Stack is a running local casebridge.
type Stack struct {
	opts Options

	// Firestore and PubSub are the emulators.
	Firestore *emulators.Emulator
	PubSub    *emulators.Emulator
	// CSAPI is the Cloud Support API simulator (hooks, call counts).
	CSAPI *csapitest.Server
	// CRM is the CRM simulator (hooks, call counts); nil when the stack
	// runs another CRM.
	CRM *crmsim.CRM
	// Zendesk, Jira and ServiceNow are the vendor's simulator the stack
	// runs (Options.CRM), each on its own address; nil otherwise. The
	// functions process reaches it through the stack's CRM server
	// (CRM_URL), which SetCRMDown turns off.
	Zendesk    *zendesktest.Server
	Jira       *jirasmtest.Server
	ServiceNow *servicenowtest.Server
	Freshdesk  *freshdesktest.Server
	Salesforce *salesforcetest.Server
	// RT is the Request Tracker instance when Options.CRM is
	// CRMRequestTracker (its URL is RT itself; the functions process goes
	// through the stack's proxy, so that SetCRMDown works); else nil.
	RT *rttest.Instance
	// Clock is the stack's shifted clock, shared by the simulators and,
	// through the clock file, the functions process.
	Clock *clock.FileOffset

	dir        string
	clockFile  string
	crmServer  *http.Server
	crmURL     string
	crmDown    atomic.Bool
	psClient   *pubsub.Client
	topo       []eventing.Subscription
	tickPubs   map[string]*pubsub.Publisher
	funcCmd    *exec.Cmd
	funcURL    string
	funcExited chan struct{}
	funcErr    error
	logs       *logHub
	// csapiEvents publishes the CSAPI simulator's support events on the
	// emulator; nil with NoSupportEvents.
	csapiEvents *csapitest.PubSubPublisher
	// eventSub is the support event subscription's name ("" with
	// NoSupportEvents).
	eventSub string
	// webhookSecret is what the CRM signs its webhooks with and CRMWebhook
	// checks them by ("" when the CRM sends none). Never logged.
	webhookSecret string
	// vendor wires the vendor's simulator in (nil for the CRM simulator
	// and Request Tracker).
	vendor vendorCRM

	stopTicker context.CancelFunc
	tickerDone sync.WaitGroup
	// ticked holds when the ticker published each function's recent ticks.
	tickedMu sync.Mutex
	ticked   map[string][]time.Time
	stopOnce sync.Once
	stopErr  error
}

// Start starts the whole stack. If anything fails, or ctx ends, before it
// is up, whatever was started is stopped again. A missing emulator gives an
// error wrapping emulators.ErrNotInstalled with the install instructions;
// a missing Request Tracker (Options.CRM "rt") one wrapping
// rttest.ErrNotInstalled.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	opts.defaults()
	vendor := newVendorCRM(opts.CRM)
	if opts.CRM != CRMSimulator && opts.CRM != CRMRequestTracker && vendor == nil {
		return nil, fmt.Errorf("the local stack runs the CRM %s, not %q", strings.Join(crmKinds, ", "), opts.CRM)
	}
	s = &Stack{opts: opts, vendor: vendor, logs: newLogHub(), tickPubs: map[string]*pubsub.Publisher{}}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()

	s.dir, err = os.MkdirTemp("", "casebridge-localstack-")
	if err != nil {
		return s, err
	}
	s.clockFile = filepath.Join(s.dir, "clock-offset")
	if err := clock.WriteOffset(s.clockFile, 0); err != nil {
		return s, err
	}
	s.Clock = clock.NewFileOffset(s.clockFile)

	bin := opts.FunctionsBinary
	if bin == "" {
		if bin, err = BuildFunctions(ctx); err != nil {
			return s, err
		}
	}
	if !opts.NoSupportEvents && !opts.NoCRMWebhooks {
		if s.webhookSecret, err = newWebhookSecret(); err != nil {
			return s, err
		}
	}
	// The functions process's address is chosen now: Request Tracker is
	// told where to send its webhooks when it starts, before the functions
	// process does.
	funcPort, err := freePort()
	if err != nil {
		return s, err
	}
	s.funcURL = "http://127.0.0.1:" + strconv.Itoa(funcPort)

	// The emulators (and Request Tracker) start in parallel: each takes a
	// second or two (Request Tracker about eight).
	var wg sync.WaitGroup
	var fsErr, psErr, rtErr error
	wg.Add(2)
	go func() { defer wg.Done(); s.Firestore, fsErr = emulators.StartFirestore(ctx) }()
	go func() { defer wg.Done(); s.PubSub, psErr = emulators.StartPubSub(ctx) }()
	if opts.CRM == CRMRequestTracker {
		rtOpts := rttest.Options{}
		if s.webhookSecret != "" {
			// As RT's administrator would set up casebridge's scrip
			// (docs/crms/request-tracker.md).
			rtOpts.WebhookURL, rtOpts.WebhookSecret = s.CRMWebhookURL(), s.webhookSecret
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.RT, rtErr = rttest.Start(ctx, rtOpts) }()
	}
	wg.Wait()
	if err := errors.Join(fsErr, psErr, rtErr); err != nil {
		return s, err
	}

	s.psClient, err = eventing.NewEmulatorClient(ctx, opts.Project, s.PubSub.Host)
	if err != nil {
		return s, fmt.Errorf("connecting to the Pub/Sub emulator: %w", err)
	}
	if !opts.NoSupportEvents {
		s.csapiEvents = csapitest.NewPubSubPublisher(s.psClient)
	}

	if err := s.startSimulators(); err != nil {
		return s, err
	}
	if s.webhookSecret != "" && s.vendor != nil {
		// The vendor's administrator registers the webhook before
		// CRMWebhook starts: Zendesk makes the secret CRMWebhook checks.
		if s.webhookSecret, err = s.vendor.setWebhook(ctx, s.CRMWebhookURL(), s.webhookSecret); err != nil {
			return s, fmt.Errorf("registering the webhook of %s: %w", s.vendor.title(), err)
		}
	}

	if err := s.startFunctions(ctx, bin, funcPort); err != nil {
		return s, err
	}
	if s.webhookSecret != "" && s.CRM != nil {
		if err := s.SetCRMWebhooks(ctx, true); err != nil {
			return s, err
		}
	}

	s.topo = opts.topology()
	if err := eventing.EnsureTopology(ctx, s.psClient, opts.Project, s.funcURL, s.topo); err != nil {
		return s, fmt.Errorf("creating the Pub/Sub topology: %w", err)
	}
	for _, t := range eventing.Ticks("") {
		s.tickPubs[t.Function] = s.psClient.Publisher(t.Topic)
	}
	if !opts.NoSupportEvents {
		if err := s.subscribeSupportEvents(ctx); err != nil {
			return s, err
		}
	}
	s.startTicker()
	return s, nil
}

// subscribeSupportEvents creates the organization's support event
// subscription through the CSAPI simulator's API, with the official
// client, as Terraform does in production: the simulator then publishes
// every case change on the emulator's support-events topic, which feeds
// GoogleEvents.
func (s *Stack) subscribeSupportEvents(ctx context.Context) error {
	svc, err := cloudsupport.NewService(ctx, option.WithEndpoint(s.CSAPI.URL()), option.WithoutAuthentication())
	if err != nil {
		return fmt.Errorf("building the Cloud Support client: %w", err)
	}
	topic := "projects/" + s.opts.Project + "/topics/" + eventing.TopicSupportEvents
	sub, err := svc.Organizations.SupportEventSubscriptions.Create(s.opts.Organization,
		&cloudsupport.SupportEventSubscription{PubSubTopic: topic}).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("creating the support event subscription to %s: %w", topic, err)
	}
	s.eventSub = sub.Name
	return nil
}

// SupportEventSubscription is the name of the support event subscription
// the stack created in the CSAPI simulator ("" with NoSupportEvents).
func (s *Stack) SupportEventSubscription() string { return s.eventSub }

// newWebhookSecret makes a webhook secret: 32 random bytes in hex, which
// every CRM's scheme and Request Tracker's site config take.
func newWebhookSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making the webhook secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// CRMWebhooks reports whether the stack was started with the CRM's
// webhooks on (see Options.NoCRMWebhooks).
func (s *Stack) CRMWebhooks() bool { return s.webhookSecret != "" }

// CRMWebhookURL is the CRMWebhook function's URL, where the CRM sends its
// webhooks ("" when the stack was started without them).
func (s *Stack) CRMWebhookURL() string {
	if s.webhookSecret == "" {
		return ""
	}
	return s.funcURL + "/" + eventing.FunctionCRMWebhook
}

// crmSyncUser is the CRM's sync user as its webhooks name the actor.
func (s *Stack) crmSyncUser() string {
	if s.opts.CRM == CRMRequestTracker {
		return rttest.SyncUser
	}
	if s.vendor != nil {
		return s.vendor.syncUser()
	}
	return s.opts.CRMSyncUser
}

// SetCRMWebhooks points the CRM simulator's webhooks at CRMWebhook (true)
// or stops them (false), through the simulator's control endpoint, as the
// helpdesk's administrator would; a test uses it to make the CRM miss the
// webhook of a change. A vendor's simulator has its webhook registered
// again (true) or removed (false) through its own API. It fails on a
// stack started without webhooks, and on Request Tracker, whose scrip is
// configured when it starts.
func (s *Stack) SetCRMWebhooks(ctx context.Context, on bool) error {
	if s.webhookSecret == "" {
		return errors.New("the stack was started without the CRM's webhooks (Options.NoSupportEvents or NoCRMWebhooks)")
	}
	if s.vendor != nil {
		endpoint := ""
		if on {
			endpoint = s.CRMWebhookURL()
		}
		// The secret CRMWebhook holds stays the one the webhook signs with.
		if _, err := s.vendor.setWebhook(ctx, endpoint, s.webhookSecret); err != nil {
			return fmt.Errorf("setting the webhook of %s: %w", s.vendor.title(), err)
		}
		return nil
	}
	if s.CRM == nil {
		return errors.New("Request Tracker's webhooks are set when it starts; only the CRM simulator's can be switched")
	}
	w := crmsim.Webhook{}
	if on {
		w = crmsim.Webhook{URL: s.CRMWebhookURL(), Secret: s.webhookSecret}
	}
	if err := crmsim.NewControl(s.crmURL, nil).SetWebhook(ctx, w); err != nil {
		return fmt.Errorf("setting the CRM simulator's webhook: %w", err)
	}
	return nil
}

func (s *Stack) startSimulators() error {
	now := s.Clock.Now
	opts := csapitest.Options{
		Organization: s.opts.Organization,
		Projects:     s.opts.Projects,
		CallerEmail:  s.opts.ConnectorEmail,
		Clock:        now,
	}
	if s.csapiEvents != nil {
		opts.Events = s.csapiEvents
	}
	s.CSAPI = csapitest.New(opts)
	if err := s.CSAPI.Start("127.0.0.1:0"); err != nil {
		s.CSAPI = nil
		return fmt.Errorf("starting the CSAPI simulator: %w", err)
	}

	var crm http.Handler
	// A vendor's simulator is told the CRM server's address (CRM_URL)
	// when it starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the CRM server: %w", err)
	}
	s.crmURL = "http://" + ln.Addr().String()
	switch {
	case s.vendor != nil:
		if err := s.vendor.start(s, s.crmURL); err != nil {
			ln.Close()
			return fmt.Errorf("starting %s: %w", s.vendor.title(), err)
		}
		// The vendor's simulator serves itself; the functions process
		// reaches it through this proxy, which SetCRMDown turns off.
		target, err := url.Parse(s.vendor.url())
		if err != nil {
			ln.Close()
			return fmt.Errorf("the address of %s: %w", s.vendor.title(), err)
		}
		crm = httputil.NewSingleHostReverseProxy(target)
	case s.RT != nil:
		// Request Tracker serves itself; the functions process reaches it
		// through this proxy, which SetCRMDown turns off.
		target, err := url.Parse(s.RT.URL)
		if err != nil {
			ln.Close()
			return fmt.Errorf("the Request Tracker URL %q: %w", s.RT.URL, err)
		}
		crm = httputil.NewSingleHostReverseProxy(target)
	default:
		s.CRM = crmsim.New(crmsim.Options{Clock: now, SyncUser: s.opts.CRMSyncUser})
		crm = s.CRM.Handler()
	}
	s.crmServer = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.crmDown.Load() {
			http.Error(w, "CRM is down (simulated outage)", http.StatusServiceUnavailable)
			return
		}
		crm.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go s.crmServer.Serve(ln)
	return nil
}

// functionsEnv is the functions process's environment.
func (s *Stack) functionsEnv(port int) []string {
	vars := map[string]string{
		appconfig.EnvProject:             s.opts.Project,
		"FIRESTORE_EMULATOR_HOST":        s.Firestore.Host,
		"PUBSUB_EMULATOR_HOST":           s.PubSub.Host,
		appconfig.EnvCSAPIParent:         s.opts.Organization,
		appconfig.EnvCSAPICreateParent:   "projects/" + s.opts.CreateProject,
		appconfig.EnvCSAPIClassification: s.opts.ClassificationID,
		appconfig.EnvCSAPITestCase:       "true",
		appconfig.EnvCSAPIEndpoint:       s.CSAPI.URL(),
		appconfig.EnvCSAPIConnectorEmail: s.opts.ConnectorEmail,
		appconfig.EnvCRMKind:             s.opts.CRM,
		appconfig.EnvCRMURL:              s.crmURL,
		appconfig.EnvTopicCaseUpdated:    eventing.TopicCaseUpdated,
		appconfig.EnvTopicSyncRequested:  eventing.TopicSyncRequested,
		appconfig.EnvTopicTickPollGoogle: eventing.TopicTickPollGoogle,
		appconfig.EnvClockFile:           s.clockFile,
		// CRMWebhook's secret and the sync user whose changes it drops;
		// empty without webhooks (it then answers 503).
		appconfig.EnvWebhookSecret:   s.webhookSecret,
		appconfig.EnvWebhookSyncUser: "",
		"PORT":                       strconv.Itoa(port),
	}
	if s.webhookSecret != "" {
		vars[appconfig.EnvWebhookSyncUser] = s.crmSyncUser()
	}
	if s.RT != nil {
		// The sync user of the instance, by its token, and the fields and
		// queue rttest's instance defines.
		vars[rt.EnvToken] = s.RT.SyncToken
		vars[rt.EnvUser] = rttest.SyncUser
		vars[rt.EnvQueue] = rttest.Queue
		vars[rt.EnvSyncFlagField] = rttest.SyncFlagField
		vars[rt.EnvSyncFlagValue] = rttest.SyncFlagYes
		vars[rt.EnvGoogleCaseField] = rttest.GoogleCaseField
		// The throw-away RT runs on UTC (scripts/rt.sh), so searches ask exactly.
		vars[rt.EnvTimeZone] = "UTC"
	}
	if s.vendor != nil {
		// The sync user's credentials and the fields the stack set up.
		for k, v := range s.vendor.env() {
			vars[k] = v
		}
	}
	for k, v := range s.opts.Env {
		vars[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := vars[k]; ours || k == "FUNCTION_TARGET" || k == "K_SERVICE" || k == "GOOGLE_APPLICATION_CREDENTIALS" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func (s *Stack) startFunctions(ctx context.Context, bin string, port int) error {
	cmd := exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Env = s.functionsEnv(port)
	cmd.SysProcAttr = childAttrs()
	pr, pw := io.Pipe()
	var out io.Writer = pw
	if s.opts.LogOutput != nil {
		out = io.MultiWriter(pw, s.opts.LogOutput)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("starting the functions process: %w", err)
	}
	s.funcCmd = cmd
	s.funcExited = make(chan struct{})
	go s.logs.read(pr)
	go func() {
		s.funcErr = cmd.Wait()
		pw.Close()
		close(s.funcExited)
	}()

	// Ready when /Metrics answers (the configuration loaded and the
	// server listens); failed if the process exits first.
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.funcURL + "/Metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.funcExited:
			<-s.logs.done
			return &FunctionsExitedError{Err: s.funcErr, Tail: s.logs.tail(20)}
		case <-ctx.Done():
			return fmt.Errorf("the functions process did not answer on %s: %w", s.funcURL, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FunctionsExitedError says the functions process ended during start,
// with its last lines (a configuration error is among them).
type FunctionsExitedError struct {
	Err  error
	Tail []LogLine
}

func (e *FunctionsExitedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the functions process exited during start (%v); its last lines:", e.Err)
	for _, l := range e.Tail {
		b.WriteString("\n  " + l.Raw)
	}
	return b.String()
}

func (e *FunctionsExitedError) Unwrap() error { return e.Err }

func (s *Stack) startTicker() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopTicker = cancel
	every := map[string]time.Duration{
		eventing.FunctionPollGoogle:    s.opts.PollEvery,
		eventing.FunctionPollCRM:       s.opts.PollEvery,
		eventing.FunctionDetectOutages: s.opts.DetectOutagesEvery,
		eventing.FunctionCleanup:       s.opts.CleanupEvery,
	}
	for fn, d := range every {
		if d < 0 {
			continue
		}
		s.tickerDone.Add(1)
		go func() {
			defer s.tickerDone.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					s.recordTick(fn, time.Now())
					pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
					if _, err := s.PublishTick(pctx, fn); err != nil && ctx.Err() == nil {
						// Shown among the functions' lines, where the
						// sandbox user is looking.
						s.logs.add(LogLine{Raw: "scheduler tick for " + fn + " not published: " + err.Error()})
					}
					pcancel()
				}
			}
		}()
	}
}

// maxTicksKept bounds the tick times kept per function (over an hour of
// one-second polls).
const maxTicksKept = 4096

func (s *Stack) recordTick(function string, at time.Time) {
	s.tickedMu.Lock()
	defer s.tickedMu.Unlock()
	if s.ticked == nil {
		s.ticked = map[string][]time.Time{}
	}
	t := append(s.ticked[function], at)
	if len(t) > maxTicksKept {
		t = append([]time.Time(nil), t[len(t)-maxTicksKept/2:]...)
	}
	s.ticked[function] = t
}

// TicksBetween counts the ticks the stack's ticker published for function
// after from and up to to.
func (s *Stack) TicksBetween(function string, from, to time.Time) int {
	s.tickedMu.Lock()
	defer s.tickedMu.Unlock()
	n := 0
	for _, at := range s.ticked[function] {
		if at.After(from) && !at.After(to) {
			n++
		}
	}
	return n
}

// PollEvery is how often the stack's ticker publishes the poll ticks (0
// when it does not).
func (s *Stack) PollEvery() time.Duration { return max(s.opts.PollEvery, 0) }

// PublishTick publishes one scheduler tick for function (e.g.
// "PollGoogle") and returns the Pub/Sub message id, which the function
// logs as eventId.
func (s *Stack) PublishTick(ctx context.Context, function string) (string, error) {
	p, ok := s.tickPubs[function]
	if !ok {
		return "", fmt.Errorf("no scheduler tick triggers %q", function)
	}
	return p.Publish(ctx, &pubsub.Message{Data: []byte("tick")}).Get(ctx)
}

// Publish publishes a raw message on a topic of the stack (e.g. a
// hand-made case-updated message) and returns its message id.
func (s *Stack) Publish(ctx context.Context, topic string, data []byte) (string, error) {
	p := s.psClient.Publisher(topic)
	defer p.Stop()
	return p.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx)
}

// PubSubClient is the stack's client on the Pub/Sub emulator.
func (s *Stack) PubSubClient() *pubsub.Client { return s.psClient }

// Topology is the subscriptions the stack created.
func (s *Stack) Topology() []eventing.Subscription { return s.topo }

// Project is the Firestore and Pub/Sub project.
func (s *Stack) Project() string { return s.opts.Project }

// Endpoint names, as printed by the sandbox.
const (
	EndpointCSAPI     = "CSAPI_URL"
	EndpointCRM       = "CRM_URL"
	EndpointFirestore = "FIRESTORE_EMULATOR_HOST"
	EndpointPubSub    = "PUBSUB_EMULATOR_HOST"
	EndpointFunctions = "FUNCTIONS_URL"
	EndpointProject   = "GOOGLE_CLOUD_PROJECT"
	EndpointClockFile = "CASEBRIDGE_CLOCK_FILE"
	// EndpointRT is Request Tracker's own web root (no outage switch in
	// front), when the stack runs it.
	EndpointRT = "RT_WEB_URL"
	// EndpointCRMWebhook is where the CRM sends its webhooks
	// (FUNCTIONS_URL/CRMWebhook), when it does.
	EndpointCRMWebhook = "CRM_WEBHOOK_URL"
)

// Endpoints returns where each part of the stack listens.
func (s *Stack) Endpoints() map[string]string {
	eps := map[string]string{
		EndpointCSAPI:     s.CSAPI.URL(),
		EndpointCRM:       s.crmURL,
		EndpointFirestore: s.Firestore.Host,
		EndpointPubSub:    s.PubSub.Host,
		EndpointFunctions: s.funcURL,
		EndpointProject:   s.opts.Project,
		EndpointClockFile: s.clockFile,
	}
	if s.RT != nil {
		eps[EndpointRT] = s.RT.URL
	}
	if u := s.CRMWebhookURL(); u != "" {
		eps[EndpointCRMWebhook] = u
	}
	return eps
}

// CRMKind is the CRM the stack runs: CRMSimulator, CRMRequestTracker,
// CRMZendesk, CRMJira or CRMServiceNow.
func (s *Stack) CRMKind() string { return s.opts.CRM }

// ClockFile is the file holding the clock offset (CASEBRIDGE_CLOCK_FILE).
func (s *Stack) ClockFile() string { return s.clockFile }

// Advance moves the whole stack's clock forward by d and returns the new
// offset. The functions process sees it within 50 ms. Request Tracker's
// clock is real time: it does not move (and past 5 minutes CRMWebhook
// refuses its webhooks as stale; the poll carries its changes).
func (s *Stack) Advance(d time.Duration) (time.Duration, error) {
	return clock.Advance(s.clockFile, d)
}

// SetCRMDown makes the CRM (the simulator, or the proxy in front of
// Request Tracker) answer 503 to everything the functions process asks
// (true) or serve again (false), to show outages and recovery.
func (s *Stack) SetCRMDown(down bool) { s.crmDown.Store(down) }

// FirestoreCounts are the functions process's Firestore operations.
type FirestoreCounts struct {
	Reads  int64 `json:"firestoreReads"`
	Writes int64 `json:"firestoreWrites"`
}

// metrics is what the functions process reports at /Metrics.
type metrics struct {
	FirestoreCounts
	// CRMCalls are the CRM adapter's calls by operation, when the adapter
	// counts them (the Request Tracker, Zendesk, Jira and ServiceNow
	// adapters do; the CRM simulator's client does not, the simulator
	// counts them itself).
	CRMCalls map[string]int64 `json:"crmCalls"`
}

func (s *Stack) metrics(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.funcURL+"/Metrics", nil)
	if err != nil {
		return metrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metrics{}, fmt.Errorf("asking the functions process for its counts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metrics{}, fmt.Errorf("asking the functions process for its counts: HTTP %d", resp.StatusCode)
	}
	var m metrics
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return metrics{}, fmt.Errorf("reading the functions process's counts: %w", err)
	}
	return m, nil
}

// FirestoreCounts asks the functions process how many Firestore reads and
// writes it has made.
func (s *Stack) FirestoreCounts(ctx context.Context) (FirestoreCounts, error) {
	m, err := s.metrics(ctx)
	return m.FirestoreCounts, err
}

// CRMCalls asks the functions process how many calls its CRM adapter has
// made, by operation (retries included). It returns nil, and no error,
// when the adapter does not count its calls (the simulator's client: ask
// Stack.CRM instead).
func (s *Stack) CRMCalls(ctx context.Context) (map[string]int64, error) {
	m, err := s.metrics(ctx)
	return m.CRMCalls, err
}

// SubscribeLogs returns the lines the functions process writes from now
// on, and a function to stop receiving them. A subscriber that falls more
// than 1024 lines behind misses lines.
func (s *Stack) SubscribeLogs() (<-chan LogLine, func()) { return s.logs.subscribe() }

// WaitForLogs waits until the functions process has written at least n
// lines matching match (since it started) and returns them; on timeout it
// returns those seen and ctx's error.
func (s *Stack) WaitForLogs(ctx context.Context, n int, match func(LogLine) bool) ([]LogLine, error) {
	return s.logs.wait(ctx, n, match)
}

// Logs returns the lines the functions process wrote so far matching match
// (all when match is nil).
func (s *Stack) Logs(match func(LogLine) bool) []LogLine {
	lines, _ := s.logs.snapshot()
	var out []LogLine
	for _, l := range lines {
		if match == nil || match(l) {
			out = append(out, l)
		}
	}
	return out
}

// FunctionsPID is the functions process's id (0 if not running).
func (s *Stack) FunctionsPID() int {
	if s.funcCmd == nil || s.funcCmd.Process == nil {
		return 0
	}
	return s.funcCmd.Process.Pid
}

// Stop stops everything the stack started, in an order that leaves nothing
// pushing to a stopped process: the ticker, the CRM simulator's webhooks, the subscriptions and topics,
// the functions process, the simulators (and Request Tracker), the
// emulators, the temporary files. It is safe to call more than once and on a half-started stack.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.stopTicker != nil {
			s.stopTicker()
			s.tickerDone.Wait()
		}
		for _, p := range s.tickPubs {
			p.Stop()
		}
		if s.CRM != nil {
			// No webhook is sent to a stopped functions process; those on
			// their way finish (each within crmsim.WebhookTimeout).
			s.CRM.SetWebhook(crmsim.Webhook{})
			s.CRM.WaitWebhooks()
		}
		if s.vendor != nil {
			s.vendor.stopWebhooks()
		}
		if s.csapiEvents != nil {
			// The simulator's later publishes fail, harmlessly, rather
			// than reach a closed client.
			s.csapiEvents.Stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if s.psClient != nil {
			if len(s.topo) > 0 {
				if err := eventing.DeleteTopology(ctx, s.psClient, s.opts.Project, s.topo); err != nil {
					errs = append(errs, err)
				}
			}
			s.psClient.Close()
		}
		if s.funcCmd != nil {
			errs = append(errs, s.stopFunctions())
		}
		if s.CSAPI != nil {
			s.CSAPI.Close()
		}
		if s.crmServer != nil {
			s.crmServer.Close()
		}
		if s.vendor != nil {
			s.vendor.close()
		}
		if s.RT != nil {
			errs = append(errs, s.RT.Stop())
		}
		for _, e := range []*emulators.Emulator{s.PubSub, s.Firestore} {
			if e != nil {
				errs = append(errs, e.Stop())
			}
		}
		if s.dir != "" {
			errs = append(errs, os.RemoveAll(s.dir))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (s *Stack) stopFunctions() error {
	pgid := s.funcCmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.funcExited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-s.funcExited:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("the functions process %d did not exit", pgid)
		}
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

var (
	buildMu   sync.Mutex
	buildPath string
)

// BuildFunctions builds scripts/functions of the module holding the working
// directory into the user's cache directory (once per process; go build's
// own cache makes later builds quick) and returns the binary's path.
func BuildFunctions(ctx context.Context) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildPath != "" {
		return buildPath, nil
	}
	var out bytes.Buffer
	gomod := exec.CommandContext(ctx, "go", "env", "GOMOD")
	gomod.Stdout, gomod.Stderr = &out, &out
	if err := gomod.Run(); err != nil {
		return "", fmt.Errorf("finding the casebridge module (go env GOMOD): %v: %s", err, out.String())
	}
	mod := strings.TrimSpace(out.String())
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run this from inside the casebridge module: go env GOMOD names no go.mod")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "casebridge")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build under a name of this process's own, then rename: concurrent
	// test binaries never see a half-written file.
	bin := filepath.Join(dir, "functions")
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	out.Reset()
	build := exec.CommandContext(ctx, "go", "build", "-o", tmp, "./scripts/functions")
	build.Dir = filepath.Dir(mod)
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building the functions process (go build ./scripts/functions): %v\n%s", err, out.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", err
	}
	buildPath = bin
	return bin, nil
}
