package servicenow

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. The instance URL comes from
// CRM_URL (e.g. https://acme.service-now.com), which appconfig reads.
const (
	// EnvUser is the user_name of the integration (sync) user. It is needed
	// with either kind of credential: it is how the adapter recognises its
	// own comments and attachments (sys_created_by holds the user_name).
	EnvUser = "SERVICENOW_USER"
	// EnvPassword is the sync user's password, for Basic auth.
	EnvPassword = "SERVICENOW_PASSWORD"
	// EnvOAuthToken is an OAuth 2.0 access token of the sync user, sent as a
	// bearer token; it is used instead of the password when set.
	EnvOAuthToken = "SERVICENOW_OAUTH_TOKEN"
	// EnvTable is the case table: incident (default) or, with Customer
	// Service Management, sn_customerservice_case.
	EnvTable = "SERVICENOW_TABLE"
	// EnvSyncFlagField is the boolean column that flags a case for sync
	// (default u_gcp_sync).
	EnvSyncFlagField = "SERVICENOW_SYNC_FLAG_FIELD"
	// EnvGoogleCaseField is the string column holding the linked Google case
	// name (default u_gcp_case).
	EnvGoogleCaseField = "SERVICENOW_GOOGLE_CASE_FIELD"
	// EnvClosedStates lists the state values that count as closed (default
	// 6,7,8: Resolved, Closed, Canceled).
	EnvClosedStates = "SERVICENOW_CLOSED_STATES"
	// EnvCloseState is the state CloseCase sets (default 6, Resolved).
	EnvCloseState = "SERVICENOW_CLOSE_STATE"
	// EnvCloseCode is the close_code CloseCase sets (default "Solved
	// (Permanently)"); it must be one of the table's close_code choices.
	EnvCloseCode = "SERVICENOW_CLOSE_CODE"
	// EnvCloseNotes is the close_notes CloseCase sets (default "Closed in
	// Google Cloud Support").
	EnvCloseNotes = "SERVICENOW_CLOSE_NOTES"
	// EnvRateLimit is the client-side limit in requests per second (default
	// 10). ServiceNow has no fixed limit; an admin's Rate Limit Rules count
	// requests per hour and answer 429, which the adapter honours.
	EnvRateLimit = "SERVICENOW_RATE_LIMIT"
	// EnvPageSize is sysparm_limit for listing (default 100).
	EnvPageSize = "SERVICENOW_PAGE_SIZE"
	// EnvMaxAttachmentBytes is the largest upload, matching the instance's
	// com.glide.attachment.max_size (default 1024 MB).
	EnvMaxAttachmentBytes = "SERVICENOW_MAX_ATTACHMENT_BYTES"
	// EnvStateField is the String column Google's case state is written to
	// (default u_google_case_state; "none" turns it off, as it does each
	// column below).
	EnvStateField = "SERVICENOW_STATE_FIELD"
	// EnvStateStatuses maps Google states to state values,
	// "IN_PROGRESS_GOOGLE_SUPPORT=3,ACTION_REQUIRED=2" (default none: the
	// state is left alone).
	EnvStateStatuses = "SERVICENOW_STATE_STATUSES"
	// EnvHoldReason is the hold_reason written with state 3 (On Hold) on
	// incident, which the platform asks for with it (default 4, Awaiting
	// Vendor).
	EnvHoldReason = "SERVICENOW_HOLD_REASON"
	// EnvEscalationField is the True/False column a person sets to ask for
	// the Google case to be escalated (default u_escalate_to_google).
	EnvEscalationField = "SERVICENOW_ESCALATION_FIELD"
	// EnvEscalationReasonField and EnvEscalationJustificationField are the
	// String columns holding the escalation's reason and justification
	// (defaults u_google_escalation_reason and
	// u_google_escalation_justification).
	EnvEscalationReasonField        = "SERVICENOW_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "SERVICENOW_ESCALATION_JUSTIFICATION_FIELD"
)

// DefaultPriorityMap maps ServiceNow's priority values (1 Critical, 2 High,
// 3 Moderate, 4 Low, 5 Planning) to Google priorities, in
// casesync.ParsePriorityTable syntax.
const DefaultPriorityMap = "1=P0,2=P1,3=P2,4=P3,5=P4"

// Defaults.
const (
	DefaultTable              = "incident"
	DefaultSyncFlagField      = "u_gcp_sync"
	DefaultGoogleCaseField    = "u_gcp_case"
	DefaultCloseState         = "6"
	DefaultCloseCode          = "Solved (Permanently)"
	DefaultCloseNotes         = "Closed in Google Cloud Support"
	DefaultRatePerSecond      = 10
	DefaultPageSize           = 100
	DefaultMaxAttachmentBytes = 1024 << 20

	DefaultStateField                   = "u_google_case_state"
	DefaultHoldReason                   = "4"
	DefaultEscalationField              = "u_escalate_to_google"
	DefaultEscalationReasonField        = "u_google_escalation_reason"
	DefaultEscalationJustificationField = "u_google_escalation_justification"
)

// onHold is incident's On Hold state, which takes a hold_reason.
const onHold = "3"

// DefaultClosedStates are incident's Resolved, Closed and Canceled states.
var DefaultClosedStates = []string{"6", "7", "8"}

// impactUrgency gives, for each priority, the impact and urgency whose
// product the default priority lookup rules turn into it (priority =
// impact + urgency - 1): 1=(1,1) 2=(1,2) 3=(2,2) 4=(2,3) 5=(3,3).
var impactUrgency = map[string][2]string{
	"1": {"1", "1"},
	"2": {"1", "2"},
	"3": {"2", "2"},
	"4": {"2", "3"},
	"5": {"3", "3"},
}

// Config configures the adapter.
type Config struct {
	// BaseURL is the instance URL, e.g. https://acme.service-now.com.
	BaseURL string
	// User is the sync user's user_name; required.
	User string
	// Password (Basic auth) or OAuthToken (bearer): one is required;
	// OAuthToken wins when both are set.
	Password   string
	OAuthToken string
	// Table is the case table; default incident.
	Table string
	// SyncFlagField and GoogleCaseField are the custom columns.
	SyncFlagField, GoogleCaseField string
	// ClosedStates are the state values that count as closed.
	ClosedStates []string
	// CloseState, CloseCode and CloseNotes are what CloseCase writes.
	CloseState, CloseCode, CloseNotes string
	// Priorities are the valid priority values, a subset of "1".."5"
	// (default all five).
	Priorities []string
	// RatePerSecond limits requests client-side; 0 means no limit.
	RatePerSecond float64
	// PageSize is sysparm_limit when listing; default 100.
	PageSize int
	// MaxAttachmentBytes is the largest upload; default 1024 MB.
	MaxAttachmentBytes int64
	// MaxDownloadBytes bounds every download by the bytes actually read;
	// default MaxAttachmentBytes, since the instance stores no larger file.
	MaxDownloadBytes int64
	// MaxPages bounds every listing; 0 means crmhttp.DefaultMaxPages.
	MaxPages int
	// MaxAnswerBytes bounds the body of every JSON answer (a page of a
	// listing, a record); 0 means crmhttp.DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
	// StateField is the column Google's case state is written to ("":
	// none);
	// StateStatuses maps Google states to the state values SetGoogleState
	// sets (none by default), and HoldReason is written with state 3 (On
	// Hold) on incident.
	StateField    string
	StateStatuses map[string]string
	HoldReason    string
	// EscalationField is the True/False column that asks for an escalation;
	// EscalationReasonField and EscalationJustificationField hold its
	// reason and justification. "" turns each off.
	EscalationField, EscalationReasonField, EscalationJustificationField string
	// HTTP is the client to use; nil means crmhttp.DefaultHTTPClient.
	HTTP *http.Client
}

// ConfigFromEnv reads the adapter's variables. baseURL is CRM_URL.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{
		BaseURL:            strings.TrimRight(strings.TrimSpace(baseURL), "/"),
		User:               r.Required(EnvUser, "set it to the user_name of the ServiceNow integration user casebridge acts as"),
		Password:           r.Get(EnvPassword),
		OAuthToken:         r.Get(EnvOAuthToken),
		Table:              r.Str(EnvTable, DefaultTable),
		SyncFlagField:      r.Str(EnvSyncFlagField, DefaultSyncFlagField),
		GoogleCaseField:    r.Str(EnvGoogleCaseField, DefaultGoogleCaseField),
		ClosedStates:       r.List(EnvClosedStates, DefaultClosedStates),
		CloseState:         r.Str(EnvCloseState, DefaultCloseState),
		CloseCode:          r.Str(EnvCloseCode, DefaultCloseCode),
		CloseNotes:         r.Str(EnvCloseNotes, DefaultCloseNotes),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		PageSize:           int(r.Int(EnvPageSize, DefaultPageSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),

		StateField:                   optionalColumn(r, EnvStateField, DefaultStateField),
		HoldReason:                   r.Str(EnvHoldReason, DefaultHoldReason),
		EscalationField:              optionalColumn(r, EnvEscalationField, DefaultEscalationField),
		EscalationReasonField:        optionalColumn(r, EnvEscalationReasonField, DefaultEscalationReasonField),
		EscalationJustificationField: optionalColumn(r, EnvEscalationJustificationField, DefaultEscalationJustificationField),
	}
	if cfg.BaseURL == "" {
		r.Problemf("CRM_URL", "is not set: set it to the ServiceNow instance URL, e.g. https://acme.service-now.com")
	} else if !strings.HasPrefix(cfg.BaseURL, "https://") && !strings.HasPrefix(cfg.BaseURL, "http://") {
		r.Problemf("CRM_URL", "is %q, not an http(s) URL: set it to the ServiceNow instance URL", cfg.BaseURL)
	}
	if cfg.Password == "" && cfg.OAuthToken == "" {
		r.Problemf(EnvPassword, "is not set: set %s (Basic auth) or %s (an OAuth bearer token) for %s", EnvPassword, EnvOAuthToken, EnvUser)
	}
	for _, f := range []struct{ v, name string }{
		{EnvTable, cfg.Table}, {EnvSyncFlagField, cfg.SyncFlagField}, {EnvGoogleCaseField, cfg.GoogleCaseField},
	} {
		if !validName(f.name) {
			r.Problemf(f.v, "is %q: set it to a table or column name (lower-case letters, digits and _)", f.name)
		}
	}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, problems := parseStateStatuses(s, cfg.ClosedStates)
		for _, p := range problems {
			r.Problemf(EnvStateStatuses, "%s", p)
		}
		cfg.StateStatuses = m
	}
	if !validValue(cfg.HoldReason) {
		r.Problemf(EnvHoldReason, "is %q: set it to a hold_reason value such as 4 (Awaiting Vendor)", cfg.HoldReason)
	}
	if cfg.PageSize > 10000 {
		r.Problemf(EnvPageSize, "is %d: set it to at most 10000", cfg.PageSize)
	}
	for _, st := range append(slices.Clone(cfg.ClosedStates), cfg.CloseState) {
		if !validValue(st) {
			r.Problemf(EnvClosedStates, "holds %q: states are numbers such as 6", st)
		}
	}
	if !slices.Contains(cfg.ClosedStates, cfg.CloseState) {
		r.Problemf(EnvCloseState, "is %q, which is not one of %s (%s): CloseCase would not close the case", cfg.CloseState, EnvClosedStates, strings.Join(cfg.ClosedStates, ","))
	}
	return cfg, r.Problems()
}

// optionalColumn reads a column name whose default is def and which "none"
// turns off ("").
func optionalColumn(r *envconf.Reader, v, def string) string {
	s := r.Str(v, def)
	if strings.EqualFold(s, "none") {
		return ""
	}
	if !validName(s) {
		r.Problemf(v, "is %q: set it to a column name (lower-case letters, digits and _), e.g. %s, or none", s, def)
	}
	return s
}

// validName reports whether s is a table or column name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// validValue reports whether s can sit in an encoded query: it holds no
// "^" (the condition separator), "," (the IN separator) or line break.
func validValue(s string) bool {
	return s != "" && !strings.ContainsAny(s, "^,\r\n")
}

// validID reports whether s can be a sys_id (32 hex digits on the platform;
// the check is only that it is safe in a path and in a query).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// withDefaults fills in defaults and checks cfg.
func (cfg Config) withDefaults() (Config, error) {
	var problems []string
	if !strings.HasPrefix(cfg.BaseURL, "https://") && !strings.HasPrefix(cfg.BaseURL, "http://") {
		problems = append(problems, "BaseURL must be the instance's http(s) URL")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.User == "" {
		problems = append(problems, "User (the sync user's user_name) is required")
	} else if !validValue(cfg.User) {
		problems = append(problems, "User holds a character a user_name cannot have")
	}
	if cfg.Password == "" && cfg.OAuthToken == "" {
		problems = append(problems, "Password or OAuthToken is required")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.SyncFlagField == "" {
		cfg.SyncFlagField = DefaultSyncFlagField
	}
	if cfg.GoogleCaseField == "" {
		cfg.GoogleCaseField = DefaultGoogleCaseField
	}
	if cfg.HoldReason == "" {
		cfg.HoldReason = DefaultHoldReason
	}
	if !validValue(cfg.HoldReason) {
		problems = append(problems, fmt.Sprintf("HoldReason %q cannot be a hold_reason value", cfg.HoldReason))
	}
	for _, n := range []string{cfg.StateField, cfg.EscalationField, cfg.EscalationReasonField, cfg.EscalationJustificationField} {
		if n != "" && !validName(n) {
			problems = append(problems, fmt.Sprintf("%q is not a column name", n))
		}
	}
	for _, n := range []string{cfg.Table, cfg.SyncFlagField, cfg.GoogleCaseField} {
		if !validName(n) {
			problems = append(problems, fmt.Sprintf("%q is not a table or column name", n))
		}
	}
	if len(cfg.ClosedStates) == 0 {
		cfg.ClosedStates = DefaultClosedStates
	}
	if cfg.CloseState == "" {
		cfg.CloseState = DefaultCloseState
	}
	if !slices.Contains(cfg.ClosedStates, cfg.CloseState) {
		problems = append(problems, fmt.Sprintf("CloseState %q is not one of ClosedStates", cfg.CloseState))
	}
	for state, value := range cfg.StateStatuses {
		problems = append(problems, stateStatusProblems(state, value, cfg.ClosedStates)...)
	}
	if cfg.CloseCode == "" {
		cfg.CloseCode = DefaultCloseCode
	}
	if cfg.CloseNotes == "" {
		cfg.CloseNotes = DefaultCloseNotes
	}
	if len(cfg.Priorities) == 0 {
		cfg.Priorities = []string{"1", "2", "3", "4", "5"}
	}
	for _, p := range cfg.Priorities {
		if _, ok := impactUrgency[p]; !ok {
			problems = append(problems, fmt.Sprintf("priority %q is not one of 1..5", p))
		}
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if cfg.MaxDownloadBytes <= 0 {
		cfg.MaxDownloadBytes = cfg.MaxAttachmentBytes
	}
	if cfg.MaxPages < 0 {
		problems = append(problems, "MaxPages must not be negative")
	}
	if cfg.MaxAnswerBytes < 0 {
		problems = append(problems, "MaxAnswerBytes must not be negative")
	}
	if cfg.RatePerSecond < 0 {
		problems = append(problems, "RatePerSecond must not be negative")
	}
	if len(problems) > 0 {
		return cfg, fmt.Errorf("servicenow: invalid configuration: %s", strings.Join(problems, "; "))
	}
	return cfg, nil
}
