package appconfig

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmsim"
	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/casebridge/casebridge/shared/freshdesk"
	"github.com/casebridge/casebridge/shared/jirasm"
	"github.com/casebridge/casebridge/shared/rt"
	"github.com/casebridge/casebridge/shared/salesforce"
	"github.com/casebridge/casebridge/shared/servicenow"
	"github.com/casebridge/casebridge/shared/zendesk"
)

// The CRM_KIND values.
const (
	CRMSimulator      = "simulator"
	CRMRequestTracker = "rt"
	CRMZendesk        = "zendesk"
	CRMJira           = "jira"
	CRMServiceNow     = "servicenow"
	CRMFreshdesk      = "freshdesk"
	CRMSalesforce     = "salesforce"
)

// crmKinds is the registry of the CRMs casebridge can sync with: one entry
// per CRM_KIND, in the order KnownCRMKinds, Variables and the
// documentation list them. Adding a CRM means adding its entry here;
// docs/adding-a-crm.md is the whole recipe, and the tests of this package
// check the entry against the documentation, Terraform and the contract
// tests.
var crmKinds = []CRMKind{
	{
		Name:  CRMRequestTracker,
		Title: "Request Tracker",
		Variables: []string{
			rt.EnvToken, rt.EnvUser, rt.EnvPassword, rt.EnvQueue,
			rt.EnvSyncFlagField, rt.EnvSyncFlagValue, rt.EnvGoogleCaseField,
			rt.EnvClosedStatuses, rt.EnvCloseStatus, rt.EnvPriorities,
			rt.EnvRateLimit, rt.EnvPageSize, rt.EnvMaxAttachmentBytes, rt.EnvTimeZone,
			rt.EnvStateField, rt.EnvStateStatuses, rt.EnvEscalationField,
			rt.EnvEscalationReasonField, rt.EnvEscalationJustificationField,
		},
		Secrets:           []string{rt.EnvToken, rt.EnvUser, rt.EnvPassword},
		DefaultSecrets:    []string{rt.EnvToken},
		DefaultPriorities: rt.DefaultPriorityMap,
		ExampleURL:        "https://rt.example.com",
		DocsPage:          "request-tracker.md",
		ContractTest:      "shared/rt/rt_test.go",
		adapter: adapter[rt.Config]{
			fromEnv:   rt.ConfigFromEnv,
			setBounds: func(c *rt.Config, b crmBounds) { c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes },
			newCRM:    func(c rt.Config) (casesync.CRM, error) { return rt.New(c) },
		},
	},
	{
		Name:  CRMZendesk,
		Title: "Zendesk",
		Variables: []string{
			zendesk.EnvEmail, zendesk.EnvAPIToken, zendesk.EnvOAuthToken,
			zendesk.EnvSyncFlagFieldID, zendesk.EnvGoogleCaseFieldID,
			zendesk.EnvClosedStatuses, zendesk.EnvCloseStatus, zendesk.EnvRateLimit,
			zendesk.EnvPageSize, zendesk.EnvExportPageSize, zendesk.EnvMaxAttachmentBytes,
			zendesk.EnvStateField, zendesk.EnvStateStatuses, zendesk.EnvEscalationField,
			zendesk.EnvEscalationReasonField, zendesk.EnvEscalationJustificationField,
		},
		Secrets:           []string{zendesk.EnvEmail, zendesk.EnvAPIToken, zendesk.EnvOAuthToken},
		DefaultSecrets:    []string{zendesk.EnvEmail, zendesk.EnvAPIToken},
		DefaultPriorities: zendesk.DefaultPriorityMap,
		// Zendesk's incremental export holds the last minute back and
		// refuses a start time under a minute old.
		MinCompanyPollingWindow:       3 * time.Minute,
		MinCompanyPollingWindowReason: "Zendesk holds back the last minute of changes",
		ExampleURL:                    "https://acme.zendesk.com",
		DocsPage:                      "zendesk.md",
		ContractTest:                  "shared/zendesk/zendesk_test.go",
		adapter: adapter[zendesk.Config]{
			fromEnv:   zendesk.ConfigFromEnv,
			setBounds: func(c *zendesk.Config, b crmBounds) { c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes },
			newCRM:    func(c zendesk.Config) (casesync.CRM, error) { return zendesk.New(c) },
		},
	},
	{
		Name:  CRMJira,
		Title: "Jira Service Management",
		Variables: []string{
			jirasm.EnvEmail, jirasm.EnvAPIToken, jirasm.EnvProjectKey,
			jirasm.EnvSyncFlagField, jirasm.EnvGoogleCaseField, jirasm.EnvSyncFlagValue,
			jirasm.EnvIssueType, jirasm.EnvRequestTypeField, jirasm.EnvRequestTypeID,
			jirasm.EnvCloseTransition, jirasm.EnvCloseResolution, jirasm.EnvClosedStatuses,
			jirasm.EnvPriorities, jirasm.EnvRateLimit, jirasm.EnvPageSize,
			jirasm.EnvMaxAttachmentBytes, jirasm.EnvSearchLag,
			jirasm.EnvStateField, jirasm.EnvStateStatuses, jirasm.EnvEscalationField,
			jirasm.EnvEscalationReasonField, jirasm.EnvEscalationJustificationField,
		},
		Secrets:           []string{jirasm.EnvEmail, jirasm.EnvAPIToken},
		DefaultSecrets:    []string{jirasm.EnvEmail, jirasm.EnvAPIToken},
		DefaultPriorities: jirasm.DefaultPriorityMap,
		ExampleURL:        "https://acme.atlassian.net",
		DocsPage:          "jira.md",
		ContractTest:      "shared/jirasm/jirasm_test.go",
		adapter: adapter[jirasm.Config]{
			fromEnv:   jirasm.ConfigFromEnv,
			setBounds: func(c *jirasm.Config, b crmBounds) { c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes },
			newCRM:    func(c jirasm.Config) (casesync.CRM, error) { return jirasm.New(c) },
		},
	},
	{
		Name:  CRMServiceNow,
		Title: "ServiceNow",
		Variables: []string{
			servicenow.EnvUser, servicenow.EnvPassword, servicenow.EnvOAuthToken,
			servicenow.EnvTable, servicenow.EnvSyncFlagField, servicenow.EnvGoogleCaseField,
			servicenow.EnvClosedStates, servicenow.EnvCloseState, servicenow.EnvCloseCode,
			servicenow.EnvCloseNotes, servicenow.EnvRateLimit, servicenow.EnvPageSize,
			servicenow.EnvMaxAttachmentBytes,
			servicenow.EnvStateField, servicenow.EnvStateStatuses, servicenow.EnvHoldReason,
			servicenow.EnvEscalationField, servicenow.EnvEscalationReasonField, servicenow.EnvEscalationJustificationField,
		},
		Secrets:           []string{servicenow.EnvUser, servicenow.EnvPassword, servicenow.EnvOAuthToken},
		DefaultSecrets:    []string{servicenow.EnvUser, servicenow.EnvPassword},
		DefaultPriorities: servicenow.DefaultPriorityMap,
		ExampleURL:        "https://acme.service-now.com",
		DocsPage:          "servicenow.md",
		ContractTest:      "shared/servicenow/servicenow_test.go",
		adapter: adapter[servicenow.Config]{
			fromEnv: servicenow.ConfigFromEnv,
			setBounds: func(c *servicenow.Config, b crmBounds) {
				c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes
			},
			newCRM: func(c servicenow.Config) (casesync.CRM, error) { return servicenow.New(c) },
		},
	},
	{
		Name:  CRMFreshdesk,
		Title: "Freshdesk",
		Variables: []string{
			freshdesk.EnvAPIKey, freshdesk.EnvSyncFlagField, freshdesk.EnvGoogleCaseField,
			freshdesk.EnvClosedStatuses, freshdesk.EnvCloseStatus,
			freshdesk.EnvStateField, freshdesk.EnvStateStatuses, freshdesk.EnvEscalationField,
			freshdesk.EnvEscalationReasonField, freshdesk.EnvEscalationJustificationField,
			freshdesk.EnvRateLimit, freshdesk.EnvPageSize, freshdesk.EnvMaxAttachmentBytes, freshdesk.EnvSearchLag,
		},
		Secrets:           []string{freshdesk.EnvAPIKey},
		DefaultSecrets:    []string{freshdesk.EnvAPIKey},
		DefaultPriorities: freshdesk.DefaultPriorityMap,
		ExampleURL:        "https://acme.freshdesk.com",
		DocsPage:          "freshdesk.md",
		ContractTest:      "shared/freshdesk/freshdesk_test.go",
		adapter: adapter[freshdesk.Config]{
			fromEnv: freshdesk.ConfigFromEnv,
			setBounds: func(c *freshdesk.Config, b crmBounds) {
				c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes
			},
			newCRM: func(c freshdesk.Config) (casesync.CRM, error) { return freshdesk.New(c) },
		},
	},
	{
		Name:  CRMSalesforce,
		Title: "Salesforce",
		Variables: []string{
			salesforce.EnvClientID, salesforce.EnvClientSecret, salesforce.EnvPrivateKey,
			salesforce.EnvUsername, salesforce.EnvLoginURL, salesforce.EnvAPIVersion,
			salesforce.EnvSyncFlagField, salesforce.EnvGoogleCaseField, salesforce.EnvCloseStatus,
			salesforce.EnvStateField, salesforce.EnvStateStatuses, salesforce.EnvEscalationField,
			salesforce.EnvEscalationReasonField, salesforce.EnvEscalationJustificationField,
			salesforce.EnvRateLimit, salesforce.EnvBatchSize, salesforce.EnvMaxAttachmentBytes,
		},
		Secrets:           []string{salesforce.EnvClientSecret, salesforce.EnvPrivateKey},
		DefaultSecrets:    []string{salesforce.EnvClientSecret},
		DefaultPriorities: salesforce.DefaultPriorityMap,
		ExampleURL:        "https://acme.my.salesforce.com",
		DocsPage:          "salesforce.md",
		ContractTest:      "shared/salesforce/salesforce_test.go",
		adapter: adapter[salesforce.Config]{
			fromEnv: salesforce.ConfigFromEnv,
			setBounds: func(c *salesforce.Config, b crmBounds) {
				c.MaxPages, c.MaxDownloadBytes = b.maxPages, b.maxDownloadBytes
			},
			newCRM: func(c salesforce.Config) (casesync.CRM, error) { return salesforce.New(c) },
		},
	},
	{
		// The sandbox's and the tests' CRM: it needs no credential, keeps
		// casesync's default priority table, and reads only which of its
		// fields and statuses show Google's case state and take
		// escalation requests.
		Name:  CRMSimulator,
		Title: "the CRM simulator",
		Variables: []string{
			crmsim.EnvStateField, crmsim.EnvStateStatuses, crmsim.EnvEscalationField,
			crmsim.EnvEscalationReasonField, crmsim.EnvEscalationJustificationField,
		},
		ExampleURL:   "http://127.0.0.1:8081",
		DocsPage:     "simulator.md",
		ContractTest: "shared/crmsim/crmsim_test.go",
		adapter:      simulatorAdapter{},
	},
}

// CRMKind is one CRM casebridge can sync with: what the rest of casebridge
// needs to know of its adapter. Each lives in crmKinds.
type CRMKind struct {
	// Name is the CRM_KIND value.
	Name string
	// Title names the CRM in messages.
	Title string
	// Variables are the environment variables the adapter reads besides
	// casebridge's own (CRM_URL, CRM_MAX_PAGES...), in the order its
	// documentation lists them. Each starts with the upper-cased Name and
	// "_": Terraform's checks on crm_settings and crm_credential_variables
	// rely on it.
	Variables []string
	// Secrets are the Variables that are credentials: a deployment reads
	// each from a Secret Manager secret of its own, never from
	// crm_settings (terraform/secrets.tf and variables.tf list them).
	Secrets []string
	// DefaultSecrets are the Secrets Terraform creates when
	// crm_credential_variables is unset (terraform/secrets.tf,
	// default_crm_credentials); the others are alternative credentials.
	DefaultSecrets []string
	// DefaultPriorities is the adapter's CRM_PRIORITY_MAP default, in
	// casesync.ParsePriorityTable syntax; empty means
	// casesync.DefaultPriorityTable.
	DefaultPriorities string
	// MinCompanyPollingWindow, when set, is the least COMPANY_POLLING_WINDOW
	// the CRM works with, for MinCompanyPollingWindowReason.
	MinCompanyPollingWindow       time.Duration
	MinCompanyPollingWindowReason string
	// ExampleURL is a CRM_URL of the form the adapter expects.
	ExampleURL string
	// DocsPage is the page under docs/crms that documents the adapter's
	// variables; empty only for a kind that reads none.
	DocsPage string
	// ContractTest is the test file, from the repository root, that runs
	// crmcontract.Run and crmcontract.RunEngine against the adapter.
	ContractTest string

	adapter crmAdapter
}

// crmBounds are casebridge's bounds on what an adapter reads from the CRM.
type crmBounds struct {
	// maxPages is the most pages one listing reads (CRM_MAX_PAGES).
	maxPages int
	// maxDownloadBytes is the most bytes one download reads
	// (MAX_ATTACHMENT_BYTES: a larger file is not copied anyway).
	maxDownloadBytes int64
}

// crmAdapter reads, bounds and builds one kind's adapter. Its settings are
// the adapter package's Config value, kept in CRMConfig.Settings.
type crmAdapter interface {
	// parse reads the adapter's variables through getenv.
	parse(getenv func(string) string, baseURL string) (settings any, problems []envconf.Problem)
	// bound returns settings with casebridge's bounds applied.
	bound(settings any, b crmBounds) any
	// build makes the adapter. It makes no call to the CRM.
	build(settings any, baseURL string) (casesync.CRM, error)
}

// adapter is the crmAdapter of an adapter package whose settings are a C,
// read by its ConfigFromEnv and given to its New.
type adapter[C any] struct {
	fromEnv   func(getenv func(string) string, baseURL string) (C, []envconf.Problem)
	setBounds func(c *C, b crmBounds)
	newCRM    func(c C) (casesync.CRM, error)
}

func (a adapter[C]) parse(getenv func(string) string, baseURL string) (any, []envconf.Problem) {
	return a.fromEnv(getenv, baseURL)
}

func (a adapter[C]) bound(settings any, b crmBounds) any {
	c, ok := settings.(C)
	if !ok {
		// Not read (no CRM_URL): there is nothing to bound.
		return settings
	}
	a.setBounds(&c, b)
	return c
}

func (a adapter[C]) build(settings any, _ string) (casesync.CRM, error) {
	c, ok := settings.(C)
	if !ok {
		return nil, fmt.Errorf("its settings are a %T, not a %T: the configuration was not made by Parse", settings, c)
	}
	return a.newCRM(c)
}

// simulatorAdapter is the CRM simulator's client. casebridge's bounds do
// not apply to it: it reads what the simulator serves.
type simulatorAdapter struct{}

func (simulatorAdapter) parse(getenv func(string) string, baseURL string) (any, []envconf.Problem) {
	return crmsim.ConfigFromEnv(getenv, baseURL)
}
func (simulatorAdapter) bound(settings any, _ crmBounds) any { return settings }
func (simulatorAdapter) build(settings any, baseURL string) (casesync.CRM, error) {
	cfg, ok := settings.(crmsim.Config)
	if !ok {
		cfg = crmsim.Config{BaseURL: baseURL}
	}
	cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	return crmsim.NewFromConfig(cfg)
}

// KnownCRMKinds lists the CRM_KIND values casebridge can talk to.
var KnownCRMKinds = crmKindNames()

func crmKindNames() []string {
	var out []string
	for _, k := range crmKinds {
		out = append(out, k.Name)
	}
	return out
}

// CRMKinds returns the registry of the CRMs casebridge can sync with, in
// the order of KnownCRMKinds. The caller may change what it gets.
func CRMKinds() []CRMKind {
	out := slices.Clone(crmKinds)
	for i := range out {
		out[i].Variables = slices.Clone(out[i].Variables)
		out[i].Secrets = slices.Clone(out[i].Secrets)
		out[i].DefaultSecrets = slices.Clone(out[i].DefaultSecrets)
	}
	return out
}

// lookupCRMKind returns the registry entry of a CRM_KIND value.
func lookupCRMKind(name string) (CRMKind, bool) {
	i := slices.IndexFunc(crmKinds, func(k CRMKind) bool { return k.Name == name })
	if i < 0 {
		return CRMKind{}, false
	}
	return crmKinds[i], true
}
