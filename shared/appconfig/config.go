// Package appconfig reads casebridge's configuration from the environment,
// once per process, validates it with messages that say which variable to
// set and how, and builds the engine and adapters every function shares.
package appconfig

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/clock"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/envconf"
	"github.com/casebridge/casebridge/shared/eventing"
	"github.com/casebridge/casebridge/shared/logging"
)

// The environment variables casebridge reads.
const (
	EnvProject              = "GOOGLE_CLOUD_PROJECT"
	EnvCSAPIParent          = "CSAPI_PARENT"
	EnvCSAPICreateParent    = "CSAPI_CREATE_PARENT"
	EnvCSAPIClassification  = "CSAPI_CLASSIFICATION_ID"
	EnvCSAPITestCase        = "CSAPI_TEST_CASE"
	EnvCSAPIEndpoint        = "CSAPI_ENDPOINT"
	EnvCSAPIConnectorEmail  = "CSAPI_CONNECTOR_EMAIL"
	EnvCSAPITimeZone        = "CSAPI_TIME_ZONE"
	EnvCSAPIUseFeed         = "CSAPI_USE_FEED"
	EnvCRMKind              = "CRM_KIND"
	EnvCRMURL               = "CRM_URL"
	EnvCRMPriorityMap       = "CRM_PRIORITY_MAP"
	EnvGooglePollingWindow  = "GOOGLE_POLLING_WINDOW"
	EnvCompanyPollingWindow = "COMPANY_POLLING_WINDOW"
	EnvPollInterval         = "POLL_INTERVAL"
	EnvMaxAttachmentBytes   = "MAX_ATTACHMENT_BYTES"
	EnvReopenPolicy         = "REOPEN_POLICY"
	EnvGoogleCommentsPublic = "GOOGLE_COMMENTS_PUBLIC"
	EnvSyncInternalNotes    = "SYNC_INTERNAL_NOTES"
	EnvMaxSplitParts        = "MAX_SPLIT_PARTS"
	EnvEscalationReason     = "ESCALATION_REASON"
	EnvEscalationJustify    = "ESCALATION_JUSTIFICATION"
	EnvCRMMaxPages          = "CRM_MAX_PAGES"
	EnvLeaseDuration        = "LEASE_DURATION"
	EnvRepublishAfter       = "REPUBLISH_AFTER"
	EnvRetryBackoff         = "RETRY_BACKOFF"
	EnvRetryMaxBackoff      = "RETRY_MAX_BACKOFF"
	EnvGiveUpAfter          = "GIVE_UP_AFTER"
	EnvTopicCaseUpdated     = "TOPIC_CASE_UPDATED"
	EnvTopicSyncRequested   = "TOPIC_SYNC_REQUESTED"
	EnvTopicTickPollGoogle  = "TOPIC_TICK_POLL_GOOGLE"
	EnvEventMaxAge          = "EVENT_MAX_AGE"
	EnvLogLevel             = "LOG_LEVEL"
	EnvClockFile            = clock.EnvFile
)

// Config is casebridge's configuration, read from the environment.
type Config struct {
	// Project is the Google Cloud project holding Firestore and Pub/Sub.
	Project string

	// CSAPIParent is searched for cases: organizations/N or projects/P.
	CSAPIParent string
	// CSAPIMoreParents are further projects searched (CSAPI_PARENT may list
	// several projects: an allowlist).
	CSAPIMoreParents []string
	// CSAPICreateParent is where new Google cases are created.
	CSAPICreateParent string
	// CSAPIClassificationID is the classification of created cases.
	CSAPIClassificationID string
	// CSAPITestCase marks created cases as test cases (true unless
	// CSAPI_TEST_CASE=false).
	CSAPITestCase bool
	// CSAPIEndpoint, when set, is a CSAPI simulator's base URL: no auth.
	CSAPIEndpoint string
	// CSAPIConnectorEmails are the identities casebridge writes to Google
	// as (one service account per function in a deployment), lower-cased,
	// used to recognise its own cases, comments and attachments.
	CSAPIConnectorEmails []string
	// CSAPITimeZone is the time zone of created cases (IANA name).
	CSAPITimeZone string
	// CSAPIUseFeed makes the CSAPI adapter read a case's comments and
	// attachments together from v2beta's case feed (false unless
	// CSAPI_USE_FEED=true; see shared/csapi).
	CSAPIUseFeed bool

	// CRMKind says which CRM adapter to use (see KnownCRMKinds).
	CRMKind string
	// CRMURL is the CRM's base URL.
	CRMURL string
	// CRM holds the chosen CRM adapter's own settings (credentials among
	// them: never log a Config).
	CRM CRMConfig

	// Engine is the sync policy.
	Engine casesync.Config

	// TopicCaseUpdated and TopicSyncRequested are topic ids in Project.
	TopicCaseUpdated   string
	TopicSyncRequested string
	// TopicTickPollGoogle is the topic id of the Google poll's ticks, on
	// which GoogleEvents asks for a poll at once.
	TopicTickPollGoogle string
	// EventMaxAge is how old a case event may be and still be handled.
	EventMaxAge time.Duration

	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// ClockFile, when set, names the sandbox's clock offset file.
	ClockFile string
}

// Problem is one thing wrong with the environment.
type Problem = envconf.Problem

// Error lists everything wrong with the environment at once, so one failed
// start shows every variable to fix.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("casebridge configuration is invalid:")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s %s", p.Var, p.Message)
	}
	return b.String()
}

// Vars returns the variables named by the problems, in order.
func (e *Error) Vars() []string {
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.Var)
	}
	return out
}

var (
	orgParent     = regexp.MustCompile(`^organizations/[0-9]+$`)
	projectParent = regexp.MustCompile(`^projects/[a-z0-9][a-z0-9:.-]*[a-z0-9]$`)
)

// Parse reads the configuration through getenv (os.Getenv in production)
// and validates it.
func Parse(getenv func(string) string) (Config, error) { return ParseFor(getenv, true) }

// ParseFor is Parse for a function that may not need the CRM: with
// requireCRM false, an unset CRM_KIND is no problem and the configuration
// has no CRM (see NeedsCRM); a set one is read and checked as usual.
func ParseFor(getenv func(string) string, requireCRM bool) (Config, error) {
	p := envconf.NewReader(getenv)
	var c Config

	c.Project = p.Required(EnvProject, "set it to the Google Cloud project id that holds casebridge's Firestore database and Pub/Sub topics")

	parents := p.List(EnvCSAPIParent, nil)
	if len(parents) == 0 {
		p.Required(EnvCSAPIParent, "set it to organizations/<number> (all projects of the organization) or projects/<id>[,projects/<id>...] (an allowlist of projects)")
	}
	for i, parent := range parents {
		switch {
		case orgParent.MatchString(parent) && len(parents) > 1:
			problem(p, EnvCSAPIParent, fmt.Sprintf("lists %q with other parents: an organization already covers its projects; set one organization, or only projects", parent))
		case !orgParent.MatchString(parent) && !projectParent.MatchString(parent):
			problem(p, EnvCSAPIParent, fmt.Sprintf("is %q: set it to organizations/<number> or projects/<id>[,projects/<id>...]", parent))
		case i == 0:
			c.CSAPIParent = parent
		default:
			c.CSAPIMoreParents = append(c.CSAPIMoreParents, parent)
		}
	}
	c.CSAPICreateParent = p.Str(EnvCSAPICreateParent, c.CSAPIParent)
	if v := p.Get(EnvCSAPICreateParent); v != "" && !orgParent.MatchString(v) && !projectParent.MatchString(v) {
		problem(p, EnvCSAPICreateParent, fmt.Sprintf("is %q: set it to projects/<id> (where new cases are created) or organizations/<number>", v))
	}
	c.CSAPIClassificationID = p.Required(EnvCSAPIClassification, "set it to the id of the case classification new Google cases get (see cloudsupport caseClassifications.search)")
	c.CSAPITestCase = p.Bool(EnvCSAPITestCase, true)
	c.CSAPIEndpoint = p.URL(EnvCSAPIEndpoint, false, "set it to the CSAPI simulator's base URL, or leave it unset to use the real Cloud Support API")
	c.CSAPIConnectorEmails = connectorEmails(p)
	c.CSAPITimeZone = p.Str(EnvCSAPITimeZone, "UTC")
	if _, err := time.LoadLocation(c.CSAPITimeZone); err != nil {
		problem(p, EnvCSAPITimeZone, fmt.Sprintf("is %q: set it to an IANA time zone such as Europe/Paris", c.CSAPITimeZone))
	}
	c.CSAPIUseFeed = p.Bool(EnvCSAPIUseFeed, false)

	if requireCRM {
		c.CRMKind = p.Required(EnvCRMKind, "set it to one of: "+strings.Join(KnownCRMKinds, ", "))
	} else {
		c.CRMKind = p.Get(EnvCRMKind)
	}
	if c.CRMKind != "" && !slices.Contains(KnownCRMKinds, c.CRMKind) {
		problem(p, EnvCRMKind, fmt.Sprintf("is %q, which casebridge does not know: set it to one of: %s", c.CRMKind, strings.Join(KnownCRMKinds, ", ")))
	}
	kind, _ := lookupCRMKind(c.CRMKind)
	urlHint := "set it to the CRM's base URL, e.g. https://rt.example.com or https://example.zendesk.com"
	if kind.ExampleURL != "" {
		urlHint = fmt.Sprintf("set it to %s's base URL, e.g. %s", kind.Title, kind.ExampleURL)
	}
	c.CRMURL = p.URL(EnvCRMURL, c.CRMKind != "", urlHint)
	defaultPriorities := ""
	if c.CRMURL != "" {
		defaultPriorities = parseCRM(p, c.CRMKind, c.CRMURL, &c.CRM)
	}

	e := casesync.Config{}
	e.Priorities = casesync.DefaultPriorityTable()
	if defaultPriorities != "" {
		t, err := casesync.ParsePriorityTable(defaultPriorities)
		if err != nil {
			panic(fmt.Sprintf("the %s adapter's default priority map is invalid: %v", c.CRMKind, err))
		}
		e.Priorities = t
	}
	if v := p.Get(EnvCRMPriorityMap); v != "" {
		t, err := casesync.ParsePriorityTable(v)
		if err != nil {
			problem(p, EnvCRMPriorityMap, fmt.Sprintf("is invalid (%v): set it to crmValue=P0,...,crmValue=P4 with a value for every priority", err))
		} else {
			e.Priorities = t
		}
	}
	e.GooglePollingWindow = p.Duration(EnvGooglePollingWindow, 30*time.Minute)
	e.CompanyPollingWindow = p.Duration(EnvCompanyPollingWindow, 5*time.Minute)
	if least := kind.MinCompanyPollingWindow; e.CompanyPollingWindow < least {
		problem(p, EnvCompanyPollingWindow, fmt.Sprintf("is %s: with %s set it to %s or more (%s)", e.CompanyPollingWindow, kind.Title, least, kind.MinCompanyPollingWindowReason))
	}
	// How often the scheduler ticks the pollers: their ticks' age limit
	// and outage detection follow it.
	e.PollInterval = p.Duration(EnvPollInterval, eventing.DefaultPollInterval)
	if _, err := eventing.PollSchedule(e.PollInterval); err != nil {
		problem(p, EnvPollInterval, fmt.Sprintf("is %s: set it to the pollers' schedule, a whole number of minutes that divides 60, from 1m to 60m (Terraform's poll_interval_minutes)", e.PollInterval))
	}
	e.MaxAttachmentBytes = p.Int(EnvMaxAttachmentBytes, 26214400)
	switch v := casesync.ReopenPolicy(p.Str(EnvReopenPolicy, string(casesync.ReopenComment))); v {
	case casesync.ReopenComment, casesync.ReopenNewCase:
		e.ReopenPolicy = v
	default:
		problem(p, EnvReopenPolicy, fmt.Sprintf("is %q: set it to %q or %q", v, casesync.ReopenComment, casesync.ReopenNewCase))
	}
	if v := p.Str(EnvEscalationReason, casesync.DefaultEscalationReason); casesync.EscalationReason(v) == "" {
		problem(p, EnvEscalationReason, fmt.Sprintf("is %q: set it to one of %s", v, strings.Join(casesync.EscalationReasons, ", ")))
	} else {
		e.EscalationReason = casesync.EscalationReason(v)
	}
	if v := p.Str(EnvEscalationJustify, ""); !utf8.ValidString(v) || len(v) > casesync.MaxEscalationText {
		problem(p, EnvEscalationJustify, fmt.Sprintf("is not UTF-8 text of at most %d bytes", casesync.MaxEscalationText))
	} else {
		e.EscalationJustification = strings.TrimSpace(v)
	}
	public := p.Bool(EnvGoogleCommentsPublic, true)
	e.GoogleCommentsPublic = &public
	e.SyncInternalNotes = p.Bool(EnvSyncInternalNotes, false)
	if n := p.Int(EnvMaxSplitParts, 10); n < 2 || n > casesync.MaxSplitPartsLimit {
		problem(p, EnvMaxSplitParts, fmt.Sprintf("is %d: set it between 2 and %d", n, casesync.MaxSplitPartsLimit))
	} else {
		e.MaxSplitParts = int(n)
	}
	e.LeaseDuration = p.Duration(EnvLeaseDuration, 30*time.Second)
	if e.LeaseDuration < 3*time.Second {
		problem(p, EnvLeaseDuration, fmt.Sprintf("is %s: set it to 3s or more (it is renewed every third of it)", e.LeaseDuration))
	}
	e.RepublishAfter = p.Duration(EnvRepublishAfter, 5*time.Minute)
	if e.RepublishAfter < e.LeaseDuration {
		problem(p, EnvRepublishAfter, fmt.Sprintf("is %s: set it to at least %s (%s)", e.RepublishAfter, EnvLeaseDuration, e.LeaseDuration))
	}
	e.RetryBackoff = p.Duration(EnvRetryBackoff, time.Minute)
	e.RetryMaxBackoff = p.Duration(EnvRetryMaxBackoff, time.Hour)
	if e.RetryBackoff <= 0 || e.RetryMaxBackoff < e.RetryBackoff {
		problem(p, EnvRetryMaxBackoff, fmt.Sprintf("is %s with %s %s: set it to at least %s", e.RetryMaxBackoff, EnvRetryBackoff, e.RetryBackoff, EnvRetryBackoff))
	}
	e.GiveUpAfter = p.Duration(EnvGiveUpAfter, 24*time.Hour)
	c.Engine = e
	if n := p.Int(EnvCRMMaxPages, crmhttp.DefaultMaxPages); n > 100_000 {
		problem(p, EnvCRMMaxPages, fmt.Sprintf("is %d: set it to at most 100000", n))
	} else {
		c.CRM.bound(c.CRMKind, int(n), e.MaxAttachmentBytes)
	}

	c.TopicCaseUpdated = topic(p, EnvTopicCaseUpdated, eventing.TopicCaseUpdated)
	c.TopicSyncRequested = topic(p, EnvTopicSyncRequested, eventing.TopicSyncRequested)
	c.TopicTickPollGoogle = topic(p, EnvTopicTickPollGoogle, eventing.TopicTickPollGoogle)
	c.EventMaxAge = p.Duration(EnvEventMaxAge, 24*time.Hour)

	lvl, err := logging.ParseLevel(p.Get(EnvLogLevel))
	if err != nil {
		problem(p, EnvLogLevel, fmt.Sprintf("is %q: set it to debug, info, warning or error", p.Get(EnvLogLevel)))
	}
	c.LogLevel = lvl
	c.ClockFile = p.Get(EnvClockFile)

	if len(p.Problems()) > 0 {
		return Config{}, &Error{Problems: p.Problems()}
	}
	return c, nil
}

// NeedsCRM reports whether a function calls the CRM. PollGoogle, Cleanup
// and GoogleEvents do not: they are deployed without the CRM's settings and credentials, so
// their service accounts need no access to the CRM secrets.
func NeedsCRM(function string) bool {
	switch function {
	case eventing.FunctionPollGoogle, eventing.FunctionCleanup, eventing.FunctionGoogleEvents:
		return false
	}
	return true
}

// Warnings lists settings that are valid but probably not intended.
func (c Config) Warnings() []string {
	var w []string
	if c.CSAPIEndpoint == "" && c.CSAPITestCase {
		w = append(w, "CSAPI_TEST_CASE is not \"false\": Google cases casebridge creates are marked as test cases and Google Support will not work on them; set CSAPI_TEST_CASE=false in production")
	}
	return w
}

// MaxConnectorEmails bounds the identities CSAPI_CONNECTOR_EMAIL lists: a
// few service accounts, not a directory.
const MaxConnectorEmails = 10

// emailAddress matches an address of the plain form service accounts and
// people have: no display name, no quoting, a dotted domain.
var emailAddress = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)

// connectorEmails reads CSAPI_CONNECTOR_EMAIL: every identity casebridge
// writes to the Cloud Support API as, comma-separated, lower-cased and
// without repeats.
func connectorEmails(p *envconf.Reader) []string {
	const hint = "set it to the email of each service account casebridge writes to the Cloud Support API as (sync-case's and detect-outages'), comma-separated"
	list := p.List(EnvCSAPIConnectorEmail, nil)
	if len(list) == 0 {
		if p.Get(EnvCSAPIConnectorEmail) == "" {
			p.Required(EnvCSAPIConnectorEmail, hint)
		}
		return nil
	}
	var out []string
	for _, e := range list {
		if !emailAddress.MatchString(e) {
			problem(p, EnvCSAPIConnectorEmail, fmt.Sprintf("lists %q, which is not an email address: %s", e, hint))
			continue
		}
		if e = strings.ToLower(e); !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) > MaxConnectorEmails {
		problem(p, EnvCSAPIConnectorEmail, fmt.Sprintf("lists %d emails: set at most %d, the service accounts casebridge writes to the Cloud Support API as", len(out), MaxConnectorEmails))
	}
	return out
}

var topicID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$`)

func topic(p *envconf.Reader, v, def string) string {
	s := p.Str(v, def)
	if !topicID.MatchString(s) {
		problem(p, v, fmt.Sprintf("is %q: set it to a Pub/Sub topic id (letters first, 3 to 255 characters)", s))
	}
	return s
}

// problem records a problem whose message is already formatted.
func problem(p *envconf.Reader, v, msg string) { p.Problemf(v, "%s", msg) }
