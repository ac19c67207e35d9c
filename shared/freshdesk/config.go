package freshdesk

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. CRM_URL (the account's
// address, e.g. https://acme.freshdesk.com) is read by appconfig.
const (
	// EnvAPIKey is the sync agent's API key (Profile settings > View API
	// key); it is sent as Basic "{api_key}:X".
	EnvAPIKey = "FRESHDESK_API_KEY"
	// EnvSyncFlagField is the API name of the checkbox ticket field
	// "sync with Google Cloud Support" (default cf_sync_with_google).
	EnvSyncFlagField = "FRESHDESK_SYNC_FLAG_FIELD"
	// EnvGoogleCaseField is the API name of the single-line text ticket
	// field that holds the linked Google case name (default
	// cf_google_case).
	EnvGoogleCaseField = "FRESHDESK_GOOGLE_CASE_FIELD"
	// EnvClosedStatuses lists the status numbers that count as closed
	// (default "4,5": Resolved and Closed).
	EnvClosedStatuses = "FRESHDESK_CLOSED_STATUSES"
	// EnvCloseStatus is the status number CloseCase sets (default 5,
	// Closed).
	EnvCloseStatus = "FRESHDESK_CLOSE_STATUS"
	// EnvStateField is the API name of the single-line text ticket field
	// Google's case state is written to (default cf_google_case_state;
	// "none" turns it off).
	EnvStateField = "FRESHDESK_STATE_FIELD"
	// EnvStateStatuses maps Google case states to open status numbers,
	// "STATE=status,..." (default none: no status is set).
	EnvStateStatuses = "FRESHDESK_STATE_STATUSES"
	// EnvEscalationField is the API name of the checkbox ticket field an
	// agent ticks to ask for the Google case's escalation (default
	// cf_escalate_to_google; "none" turns it off).
	EnvEscalationField = "FRESHDESK_ESCALATION_FIELD"
	// EnvEscalationReasonField and EnvEscalationJustificationField are the
	// API names of the text fields holding the escalation's reason and
	// justification (defaults cf_google_escalation_reason and
	// cf_google_escalation_justification; "none" turns one off).
	EnvEscalationReasonField        = "FRESHDESK_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "FRESHDESK_ESCALATION_JUSTIFICATION_FIELD"
	// EnvRateLimit caps the adapter's requests a second (default 200 a
	// minute, the smallest paid plan's account limit).
	EnvRateLimit = "FRESHDESK_RATE_LIMIT"
	// EnvPageSize is the page size of ticket and conversation lists
	// (default and most 100).
	EnvPageSize = "FRESHDESK_PAGE_SIZE"
	// EnvMaxAttachmentBytes is the largest file uploaded (default 20 MB,
	// Freshdesk's limit on the files of one request).
	EnvMaxAttachmentBytes = "FRESHDESK_MAX_ATTACHMENT_BYTES"
	// EnvSearchLag is how long Freshdesk's search may take to show a new
	// or changed ticket (default 5m).
	EnvSearchLag = "FRESHDESK_SEARCH_LAG"
)

// DefaultPriorityMap maps Freshdesk's four priorities (1 Low, 2 Medium,
// 3 High, 4 Urgent) to Google's five: P0 and P1 both become 4, and 4 reads
// back as P0.
const DefaultPriorityMap = "4=P0,4=P1,3=P2,2=P3,1=P4"

// Defaults.
const (
	DefaultRatePerSecond      = 200.0 / 60
	DefaultPageSize           = 100
	DefaultMaxAttachmentBytes = 20 << 20
	DefaultCloseStatus        = 5
	DefaultSearchLag          = 5 * time.Minute

	DefaultSyncFlagField                = "cf_sync_with_google"
	DefaultGoogleCaseField              = "cf_google_case"
	DefaultStateField                   = "cf_google_case_state"
	DefaultEscalationField              = "cf_escalate_to_google"
	DefaultEscalationReasonField        = "cf_google_escalation_reason"
	DefaultEscalationJustificationField = "cf_google_escalation_justification"
)

// Freshdesk's stock statuses.
const (
	StatusOpen     = 2
	StatusPending  = 3
	StatusResolved = 4
	StatusClosed   = 5
)

// DefaultClosedStatuses are the statuses that count as closed.
var DefaultClosedStatuses = []int{StatusResolved, StatusClosed}

// Priorities are Freshdesk's ticket priorities, as the adapter spells them.
var Priorities = []string{"1", "2", "3", "4"}

// fieldName is the form of a custom field's API name: cf_ and lower-case
// letters, digits and underscores.
var fieldName = regexp.MustCompile(`^cf_[a-z0-9_]{1,60}$`)

// Config configures the adapter.
type Config struct {
	// BaseURL is the account's address (CRM_URL), e.g.
	// https://acme.freshdesk.com; the API is under /api/v2.
	BaseURL string
	// APIKey is the sync agent's API key.
	APIKey string
	// SyncFlagField (a checkbox) and GoogleCaseField (single-line text)
	// are custom ticket fields' API names (defaults cf_sync_with_google and
	// cf_google_case).
	SyncFlagField, GoogleCaseField string
	// StateField is the text field Google's case state is written to; ""
	// writes none.
	StateField string
	// StateStatuses maps Google case states to open status numbers that
	// SetGoogleState sets; empty sets none.
	StateStatuses map[string]int
	// EscalationField is the checkbox an agent ticks to ask for an
	// escalation; "" reads none. EscalationReasonField and
	// EscalationJustificationField are the text fields of its reason and
	// justification ("" reads none).
	EscalationField, EscalationReasonField, EscalationJustificationField string
	// ClosedStatuses count as closed; CloseStatus is what CloseCase sets.
	ClosedStatuses []int
	CloseStatus    int
	// RatePerSecond caps the requests a second (default 200 a minute).
	RatePerSecond float64
	// PageSize is the page size of ticket and conversation lists (≤ 100).
	PageSize int
	// MaxAttachmentBytes is the largest upload (default 20 MB).
	MaxAttachmentBytes int64
	// MaxDownloadBytes is the most bytes a download reads (default
	// MaxAttachmentBytes). Past it the read fails with a permanent
	// TooLarge error, whatever size Freshdesk listed.
	MaxDownloadBytes int64
	// MaxPages bounds every paged listing (0: crmhttp.DefaultMaxPages).
	MaxPages int
	// SearchLag is how long the search may take to show a new ticket
	// (0: DefaultSearchLag; negative: none, for a simulator without lag).
	SearchLag time.Duration
	// HTTP is the HTTP client (nil: crmhttp.DefaultHTTPClient).
	HTTP *http.Client
	// MinBackoff tunes crmhttp's backoff (0: its default).
	MinBackoff time.Duration
	// MaxRetryWait is the longest Retry-After waited for in process (0:
	// crmhttp's default, 30 s); a longer one ends the call with a
	// transient error.
	MaxRetryWait time.Duration
}

// ConfigFromEnv reads the adapter's variables; baseURL comes from CRM_URL.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{
		BaseURL:            baseURL,
		APIKey:             r.Required(EnvAPIKey, "set it to the sync agent's API key (Profile settings > View API key in Freshdesk)"),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		PageSize:           int(r.Int(EnvPageSize, DefaultPageSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),
		SearchLag:          r.Duration(EnvSearchLag, DefaultSearchLag),
	}
	field := func(v, def string, optional bool, what string) string {
		s := r.Str(v, def)
		if optional && strings.EqualFold(s, "none") {
			return ""
		}
		if !fieldName.MatchString(s) {
			hint := ""
			if optional {
				hint = `, or "none" to turn it off`
			}
			r.Problemf(v, "is %q: set it to the API name of %s, cf_ and lower-case letters, digits or underscores (Admin > Ticket fields; the names GET /api/v2/ticket_fields lists)%s", s, what, hint)
			return ""
		}
		return s
	}
	cfg.SyncFlagField = field(EnvSyncFlagField, DefaultSyncFlagField, false, "the checkbox ticket field that flags a ticket for sync")
	cfg.GoogleCaseField = field(EnvGoogleCaseField, DefaultGoogleCaseField, false, "the single-line text ticket field that holds the Google case name")
	cfg.StateField = field(EnvStateField, DefaultStateField, true, "the single-line text ticket field Google's case state is written to")
	cfg.EscalationField = field(EnvEscalationField, DefaultEscalationField, true, "the checkbox ticket field an agent ticks to ask for an escalation")
	cfg.EscalationReasonField = field(EnvEscalationReasonField, DefaultEscalationReasonField, true, "the text ticket field of the escalation's reason")
	cfg.EscalationJustificationField = field(EnvEscalationJustificationField, DefaultEscalationJustificationField, true, "the text ticket field of the escalation's justification")

	for _, s := range r.List(EnvClosedStatuses, nil) {
		n, err := strconv.Atoi(s)
		if err != nil || n < StatusOpen {
			r.Problemf(EnvClosedStatuses, "lists %q: use status numbers (4 Resolved, 5 Closed, or a custom status's number)", s)
			continue
		}
		cfg.ClosedStatuses = append(cfg.ClosedStatuses, n)
	}
	if len(cfg.ClosedStatuses) == 0 {
		cfg.ClosedStatuses = DefaultClosedStatuses
	}
	cfg.CloseStatus = DefaultCloseStatus
	if s := r.Get(EnvCloseStatus); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < StatusOpen:
			r.Problemf(EnvCloseStatus, "is %q: set it to 5 (Closed) or 4 (Resolved)", s)
		case !slices.Contains(cfg.ClosedStatuses, n):
			r.Problemf(EnvCloseStatus, "is %d, which %s does not count as closed: add it there or choose one listed", n, EnvClosedStatuses)
		default:
			cfg.CloseStatus = n
		}
	}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, err := parseStateStatuses(s, cfg.ClosedStatuses)
		if err != nil {
			r.Problemf(EnvStateStatuses, "is %q: %v", s, err)
		}
		cfg.StateStatuses = m
	}
	if cfg.PageSize > 100 {
		r.Problemf(EnvPageSize, "is %d: Freshdesk pages hold at most 100", cfg.PageSize)
	}
	if f := cfg.duplicateField(); f != "" {
		r.Problemf(EnvSyncFlagField, "the field %s is named by two of the FRESHDESK_*_FIELD variables: each needs a field of its own", f)
	}
	return cfg, r.Problems()
}

// parseStateStatuses reads "STATE=status,..." and refuses a state that
// cannot be mapped and a status that is not an open one.
func parseStateStatuses(s string, closed []int) (map[string]int, error) {
	table, err := casesync.ParseStateStatuses(s)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, k := range slices.Sorted(maps.Keys(table)) {
		v := table[k]
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < StatusOpen:
			return nil, fmt.Errorf("the status of %s, %q, is not a status number such as 2 (Open) or 3 (Pending)", k, v)
		case slices.Contains(closed, n):
			return nil, fmt.Errorf("the status of %s, %d, counts as closed: setting Google's state never closes a ticket", k, n)
		}
		out[k] = n
	}
	return out, nil
}

// duplicateField returns a custom field named twice among the configured
// ones, or "".
func (cfg Config) duplicateField() string {
	seen := map[string]bool{}
	for _, f := range []string{cfg.SyncFlagField, cfg.GoogleCaseField, cfg.StateField, cfg.EscalationField, cfg.EscalationReasonField, cfg.EscalationJustificationField} {
		if f == "" {
			continue
		}
		if seen[f] {
			return f
		}
		seen[f] = true
	}
	return ""
}

// withDefaults fills in defaults and checks cfg.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.SyncFlagField == "" {
		cfg.SyncFlagField = DefaultSyncFlagField
	}
	if cfg.GoogleCaseField == "" {
		cfg.GoogleCaseField = DefaultGoogleCaseField
	}
	if len(cfg.ClosedStatuses) == 0 {
		cfg.ClosedStatuses = DefaultClosedStatuses
	}
	if cfg.CloseStatus == 0 {
		cfg.CloseStatus = DefaultCloseStatus
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = DefaultRatePerSecond
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxAttachmentBytes == 0 {
		cfg.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if cfg.MaxDownloadBytes == 0 {
		cfg.MaxDownloadBytes = cfg.MaxAttachmentBytes
	}
	if cfg.SearchLag == 0 {
		cfg.SearchLag = DefaultSearchLag
	}
	if cfg.HTTP == nil {
		cfg.HTTP = crmhttpDefaultClient()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return cfg, fmt.Errorf("freshdesk: the base URL %q is not an http(s) URL such as https://acme.freshdesk.com", cfg.BaseURL)
	}
	for _, f := range []string{cfg.SyncFlagField, cfg.GoogleCaseField, cfg.StateField, cfg.EscalationField, cfg.EscalationReasonField, cfg.EscalationJustificationField} {
		if f != "" && !fieldName.MatchString(f) {
			return cfg, fmt.Errorf("freshdesk: the field name %q is not a custom field's API name (cf_...)", f)
		}
	}
	for k, n := range cfg.StateStatuses {
		if !slices.Contains(casesync.MappableGoogleStates, k) || n < StatusOpen || slices.Contains(cfg.ClosedStatuses, n) {
			return cfg, fmt.Errorf("freshdesk: the state mapping %s=%d is not a Google state other than CLOSED mapped to an open status", k, n)
		}
	}
	switch {
	case cfg.APIKey == "":
		return cfg, fmt.Errorf("freshdesk: no API key: set %s", EnvAPIKey)
	case cfg.duplicateField() != "":
		return cfg, fmt.Errorf("freshdesk: the field %s is configured twice", cfg.duplicateField())
	case !slices.Contains(cfg.ClosedStatuses, cfg.CloseStatus):
		return cfg, fmt.Errorf("freshdesk: the close status %d is not among the closed statuses %v", cfg.CloseStatus, cfg.ClosedStatuses)
	case cfg.PageSize < 1 || cfg.PageSize > 100:
		return cfg, fmt.Errorf("freshdesk: page size %d is not within 1..100", cfg.PageSize)
	case cfg.RatePerSecond < 0 || cfg.MaxAttachmentBytes < 0 || cfg.MaxDownloadBytes < 0 || cfg.MaxPages < 0 || cfg.MaxRetryWait < 0 || cfg.MinBackoff < 0:
		return cfg, fmt.Errorf("freshdesk: the rate, the attachment and download limits, the page bound and the retry waits must not be negative")
	}
	return cfg, nil
}
