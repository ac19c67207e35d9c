package jirasm

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. The site's base URL comes
// from CRM_URL, read by shared/appconfig.
const (
	// EnvEmail and EnvAPIToken are the sync user's Atlassian account email
	// and API token (required).
	EnvEmail    = "JIRA_EMAIL"
	EnvAPIToken = "JIRA_API_TOKEN"
	// EnvProjectKey is the service project's key, e.g. "SUP" (required).
	EnvProjectKey = "JIRA_PROJECT_KEY"
	// EnvIssueType is the issue type of the issues casebridge creates, by
	// name or numeric id. Default "[System] Service request".
	EnvIssueType = "JIRA_ISSUE_TYPE"
	// EnvRequestTypeField and EnvRequestTypeID, both optional, set the
	// issue's request type at creation: the id of the "Request Type" custom
	// field (e.g. customfield_10010) and the request type's id.
	EnvRequestTypeField = "JIRA_REQUEST_TYPE_FIELD"
	EnvRequestTypeID    = "JIRA_REQUEST_TYPE_ID"
	// EnvSyncFlagField is the checkbox or select custom field that marks an
	// issue for sync, e.g. customfield_10051 (required).
	EnvSyncFlagField = "JIRA_SYNC_FLAG_FIELD"
	// EnvSyncFlagValue is the option of that field meaning "sync".
	// Default "Yes".
	EnvSyncFlagValue = "JIRA_SYNC_FLAG_VALUE"
	// EnvGoogleCaseField is the single-line text custom field holding the
	// Google case name, e.g. customfield_10050 (required).
	EnvGoogleCaseField = "JIRA_GOOGLE_CASE_FIELD"
	// EnvCloseTransition is the name of the workflow transition that closes
	// an issue. Default "Resolve this issue".
	EnvCloseTransition = "JIRA_CLOSE_TRANSITION"
	// EnvCloseResolution, optional, is the resolution name sent with the
	// close transition when its screen asks for one (e.g. "Done").
	EnvCloseResolution = "JIRA_CLOSE_RESOLUTION"
	// EnvClosedStatuses, optional, lists status names that count as closed
	// besides every status of the Done category.
	EnvClosedStatuses = "JIRA_CLOSED_STATUSES"
	// EnvPriorities lists the valid priority names. Default
	// "Highest,High,Medium,Low,Lowest".
	EnvPriorities = "JIRA_PRIORITIES"
	// EnvRateLimit caps the adapter's calls per second. Default 5.
	EnvRateLimit = "JIRA_RATE_LIMIT"
	// EnvPageSize is the page size of searches and comment lists (at most
	// 100). Default 50.
	EnvPageSize = "JIRA_PAGE_SIZE"
	// EnvMaxAttachmentBytes is the largest file uploaded. Default 100 MiB.
	EnvMaxAttachmentBytes = "JIRA_MAX_ATTACHMENT_BYTES"
	// EnvSearchLag is how long JQL search may take to show a new or changed
	// issue (a Go duration). Default 5m.
	EnvSearchLag = "JIRA_SEARCH_LAG"
	// EnvStateField, optional, is the single-line text custom field Google's
	// case state is written to, e.g. customfield_10060.
	EnvStateField = "JIRA_STATE_FIELD"
	// EnvStateStatuses, optional, maps Google states to status names,
	// "IN_PROGRESS_GOOGLE_SUPPORT=In Progress,ACTION_REQUIRED=Waiting for
	// support": the issue is moved there through the transition leading to
	// it. Empty: no status is set.
	EnvStateStatuses = "JIRA_STATE_STATUSES"
	// EnvEscalationField is what a person sets to ask for the Google case
	// to be escalated: a label (default "escalate-to-google"), or a custom
	// field id (customfield_NNNNN) of a checkbox, select or text field that
	// asks when it holds a value; "none" turns requests off.
	EnvEscalationField = "JIRA_ESCALATION_FIELD"
	// EnvEscalationReasonField and EnvEscalationJustificationField,
	// optional, are custom field ids whose text is the escalation's reason
	// and justification.
	EnvEscalationReasonField        = "JIRA_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "JIRA_ESCALATION_JUSTIFICATION_FIELD"
)

// DefaultPriorityMap maps Jira's default priorities to Google's, in
// casesync.ParsePriorityTable syntax.
const DefaultPriorityMap = "Highest=P0,High=P1,Medium=P2,Low=P3,Lowest=P4"

// Defaults of the optional settings.
const (
	DefaultIssueType          = "[System] Service request"
	DefaultSyncFlagValue      = "Yes"
	DefaultCloseTransition    = "Resolve this issue"
	DefaultRatePerSecond      = 5
	DefaultPageSize           = 50
	DefaultMaxAttachmentBytes = 100 << 20
	DefaultSearchLag          = 5 * time.Minute
	// DefaultEscalationLabel is the label that asks for an escalation.
	DefaultEscalationLabel = "escalate-to-google"
)

// DefaultPriorities are Jira's default priority names, most urgent first.
var DefaultPriorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}

// vendor names Jira in errors.
const vendor = "Jira Service Management"

// Config configures a Client.
type Config struct {
	// BaseURL is the site, e.g. https://example.atlassian.net.
	BaseURL string
	// Email and APIToken authenticate the sync user.
	Email, APIToken string
	ProjectKey      string
	// IssueType is the created issues' type, by name or numeric id.
	IssueType string
	// RequestTypeField and RequestTypeID optionally set the request type.
	RequestTypeField, RequestTypeID string
	// SyncFlagField and GoogleCaseField are custom field ids
	// ("customfield_10051"); SyncFlagValue is the sync flag's option.
	SyncFlagField, SyncFlagValue string
	GoogleCaseField              string
	// CloseTransition names the transition that closes an issue;
	// CloseResolution, if set, is sent with it.
	CloseTransition, CloseResolution string
	// ClosedStatuses are status names counted as closed besides those of
	// the Done category.
	ClosedStatuses []string
	// Priorities are the valid priority names.
	Priorities []string
	// RatePerSecond caps the calls made (0: no cap).
	RatePerSecond float64
	// PageSize is the page size of searches and comment lists (1..100).
	PageSize int
	// MaxAttachmentBytes is the largest file uploaded (0: no limit).
	MaxAttachmentBytes int64
	// MaxDownloadBytes is the most bytes a download hands on, counted as
	// they are read, whatever size Jira listed or declared: past it the
	// download fails for good. 0 means MaxAttachmentBytes (and no bound
	// when that is 0 too).
	MaxDownloadBytes int64
	// MaxPages bounds how many pages one listing (a search, an issue's
	// comments) reads; 0 means crmhttp.DefaultMaxPages.
	MaxPages int
	// SearchLag is how long JQL search may take to show a new or changed
	// issue: FindByGoogleCase may miss an issue created that recently.
	// 0 means DefaultSearchLag; a negative value means none (only for a
	// simulator without index lag).
	SearchLag time.Duration
	// StateField, if set, is the text custom field Google's case state is
	// written to.
	StateField string
	// StateStatuses maps Google states (NEW, IN_PROGRESS_GOOGLE_SUPPORT,
	// ACTION_REQUIRED, SOLUTION_PROVIDED) to the names of the open statuses
	// SetGoogleState moves the issue to.
	StateStatuses map[string]string
	// EscalationLabel is the label that asks for an escalation, and
	// EscalationField a custom field that does when it holds a value: one
	// of the two, or neither (no request is ever read).
	EscalationLabel, EscalationField string
	// EscalationReasonField and EscalationJustificationField, if set, are
	// the custom fields holding the escalation's reason and justification.
	EscalationReasonField, EscalationJustificationField string
	// HTTP is the HTTP client; nil means crmhttp's default.
	HTTP *http.Client
}

// searchLag is SearchLag with its default applied.
func (c *Config) searchLag() time.Duration {
	switch {
	case c.SearchLag < 0:
		return 0
	case c.SearchLag == 0:
		return DefaultSearchLag
	}
	return c.SearchLag
}

var customFieldPattern = regexp.MustCompile(`^(?:customfield_)?(\d+)$`)

// normalizeField turns "10050" or "customfield_10050" into the latter;
// ok is false for anything else.
func normalizeField(s string) (string, bool) {
	m := customFieldPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", false
	}
	return "customfield_" + m[1], true
}

// ConfigFromEnv reads the adapter's settings; baseURL is CRM_URL. Every
// problem found is returned, each naming its variable.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	c := Config{
		BaseURL:            baseURL,
		Email:              r.Required(EnvEmail, "set it to the Atlassian account email of the sync user"),
		APIToken:           r.Required(EnvAPIToken, "set it to an API token of the sync user (id.atlassian.com → Security → API tokens)"),
		ProjectKey:         r.Required(EnvProjectKey, "set it to the service project's key, e.g. SUP"),
		IssueType:          r.Str(EnvIssueType, DefaultIssueType),
		RequestTypeField:   r.Str(EnvRequestTypeField, ""),
		RequestTypeID:      r.Str(EnvRequestTypeID, ""),
		SyncFlagValue:      r.Str(EnvSyncFlagValue, DefaultSyncFlagValue),
		CloseTransition:    r.Str(EnvCloseTransition, DefaultCloseTransition),
		CloseResolution:    r.Str(EnvCloseResolution, ""),
		ClosedStatuses:     r.List(EnvClosedStatuses, nil),
		Priorities:         r.List(EnvPriorities, DefaultPriorities),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		PageSize:           int(r.Int(EnvPageSize, DefaultPageSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),
		SearchLag:          r.Duration(EnvSearchLag, DefaultSearchLag),
	}
	for _, f := range []struct {
		v    string
		dst  *string
		hint string
	}{
		{EnvSyncFlagField, &c.SyncFlagField, "set it to the id of the checkbox field marking issues for sync, e.g. customfield_10051"},
		{EnvGoogleCaseField, &c.GoogleCaseField, "set it to the id of the text field holding the Google case, e.g. customfield_10050"},
	} {
		s := r.Required(f.v, f.hint)
		if s == "" {
			continue
		}
		id, ok := normalizeField(s)
		if !ok {
			r.Problemf(f.v, "is %q: set it to a custom field id such as customfield_10050", s)
			continue
		}
		*f.dst = id
	}
	if c.RequestTypeField != "" {
		id, ok := normalizeField(c.RequestTypeField)
		if !ok {
			r.Problemf(EnvRequestTypeField, "is %q: set it to a custom field id such as customfield_10010", c.RequestTypeField)
		}
		c.RequestTypeField = id
	}
	if (c.RequestTypeField == "") != (c.RequestTypeID == "") {
		r.Problemf(EnvRequestTypeID, "%s and %s go together: set both or neither", EnvRequestTypeField, EnvRequestTypeID)
	}
	c.readStateConfig(r)
	if c.PageSize > 100 {
		r.Problemf(EnvPageSize, "is %d: Jira pages hold at most 100; set 1 to 100", c.PageSize)
	}
	if baseURL == "" {
		r.Problemf("CRM_URL", "is not set: set it to the Jira site, e.g. https://example.atlassian.net")
	}
	return c, r.Problems()
}

// validate checks a Config and fills in defaults.
func (c *Config) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"BaseURL", c.BaseURL}, {"Email", c.Email}, {"APIToken", c.APIToken},
		{"ProjectKey", c.ProjectKey}, {"SyncFlagField", c.SyncFlagField}, {"GoogleCaseField", c.GoogleCaseField},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("jirasm: config is missing %s", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("jirasm: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	for _, f := range []*string{&c.SyncFlagField, &c.GoogleCaseField} {
		id, ok := normalizeField(*f)
		if !ok {
			return fmt.Errorf("jirasm: %q is not a custom field id such as customfield_10050", *f)
		}
		*f = id
	}
	if c.RequestTypeField != "" {
		id, ok := normalizeField(c.RequestTypeField)
		if !ok {
			return fmt.Errorf("jirasm: request type field %q is not a custom field id", c.RequestTypeField)
		}
		c.RequestTypeField = id
	}
	if err := c.validateState(); err != nil {
		return err
	}
	if c.IssueType == "" {
		c.IssueType = DefaultIssueType
	}
	if c.SyncFlagValue == "" {
		c.SyncFlagValue = DefaultSyncFlagValue
	}
	if c.CloseTransition == "" {
		c.CloseTransition = DefaultCloseTransition
	}
	if len(c.Priorities) == 0 {
		c.Priorities = DefaultPriorities
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	c.PageSize = min(c.PageSize, 100)
	if c.RatePerSecond < 0 || c.MaxAttachmentBytes < 0 || c.MaxDownloadBytes < 0 || c.MaxPages < 0 {
		return fmt.Errorf("jirasm: RatePerSecond, MaxAttachmentBytes, MaxDownloadBytes and MaxPages must not be negative")
	}
	if c.MaxDownloadBytes == 0 {
		c.MaxDownloadBytes = c.MaxAttachmentBytes
	}
	if _, err := casesync.ParsePriorityTable(DefaultPriorityMap); err != nil {
		return fmt.Errorf("jirasm: default priority map: %w", err)
	}
	return nil
}

// issueTypeJSON names the issue type by id when it is numeric.
func (c *Config) issueTypeJSON() map[string]string {
	if _, err := strconv.Atoi(c.IssueType); err == nil {
		return map[string]string{"id": c.IssueType}
	}
	return map[string]string{"name": c.IssueType}
}
