package zendesk

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. CRM_URL (the account's
// address, e.g. https://acme.zendesk.com) is read by appconfig.
const (
	// EnvEmail and EnvAPIToken are the sync user's email address and API
	// token (Basic "{email}/token:{api_token}").
	EnvEmail    = "ZENDESK_EMAIL"
	EnvAPIToken = "ZENDESK_API_TOKEN"
	// EnvOAuthToken is an OAuth access token, used instead of the API token
	// when set.
	EnvOAuthToken = "ZENDESK_OAUTH_TOKEN"
	// EnvSyncFlagFieldID is the numeric id of the checkbox ticket field
	// "sync with Google Cloud Support".
	EnvSyncFlagFieldID = "ZENDESK_SYNC_FLAG_FIELD_ID"
	// EnvGoogleCaseFieldID is the numeric id of the text ticket field that
	// holds the linked Google case name.
	EnvGoogleCaseFieldID = "ZENDESK_GOOGLE_CASE_FIELD_ID"
	// EnvClosedStatuses lists the statuses that count as closed (default
	// "solved,closed").
	EnvClosedStatuses = "ZENDESK_CLOSED_STATUSES"
	// EnvCloseStatus is the status CloseCase sets (default "solved"; Zendesk
	// closes solved tickets itself later).
	EnvCloseStatus = "ZENDESK_CLOSE_STATUS"
	// EnvRateLimit caps the adapter's requests a second (default 3.3, that
	// is 200 a minute: the smallest plan's account limit).
	EnvRateLimit = "ZENDESK_RATE_LIMIT"
	// EnvPageSize is the page size of comment lists and searches (default
	// and most 100).
	EnvPageSize = "ZENDESK_PAGE_SIZE"
	// EnvExportPageSize is the page size of the incremental ticket export
	// (default and most 1000).
	EnvExportPageSize = "ZENDESK_EXPORT_PAGE_SIZE"
	// EnvMaxAttachmentBytes is the largest file uploaded (default 50 MB,
	// Zendesk's limit).
	EnvMaxAttachmentBytes = "ZENDESK_MAX_ATTACHMENT_BYTES"
	// EnvStateField is where Google's case state is written: the numeric
	// id of a text ticket field, or empty (the default) for a tag
	// google_state_{state in lower case}, or "none".
	EnvStateField = "ZENDESK_STATE_FIELD"
	// EnvStateStatuses maps Google states to the status set with them,
	// "STATE=status,..." (statuses open, pending or hold; default none).
	EnvStateStatuses = "ZENDESK_STATE_STATUSES"
	// EnvEscalationField is what a person sets to ask casebridge to
	// escalate the Google case: a tag (default escalate_to_google), the
	// numeric id of a checkbox ticket field, or "none".
	EnvEscalationField = "ZENDESK_ESCALATION_FIELD"
	// EnvEscalationReasonField and EnvEscalationJustificationField are the
	// numeric ids of optional text ticket fields holding the escalation's
	// reason and justification.
	EnvEscalationReasonField        = "ZENDESK_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "ZENDESK_ESCALATION_JUSTIFICATION_FIELD"
)

// DefaultPriorityMap maps Zendesk's four priorities to Google's five: P0
// and P1 both become urgent, and urgent reads back as P0.
const DefaultPriorityMap = "urgent=P0,urgent=P1,high=P2,normal=P3,low=P4"

// Defaults.
const (
	DefaultRatePerSecond      = 200.0 / 60
	DefaultPageSize           = 100
	DefaultExportPageSize     = 1000
	DefaultMaxAttachmentBytes = 50 << 20
	DefaultCloseStatus        = "solved"
	// DefaultMaxRetryWait is the longest Retry-After waited out in process.
	// The incremental export allows 10 requests a minute and answers a
	// Retry-After of up to a minute past them; a shorter wait would end a
	// long poll at its eleventh page.
	DefaultMaxRetryWait = 65 * time.Second
)

// DefaultClosedStatuses are the statuses that count as closed.
var DefaultClosedStatuses = []string{"solved", "closed"}

// Priorities are Zendesk's ticket priorities.
var Priorities = []string{"low", "normal", "high", "urgent"}

var statuses = []string{"new", "open", "pending", "hold", "solved", "closed"}

// Config configures the adapter.
type Config struct {
	// BaseURL is the account's address (CRM_URL), e.g.
	// https://acme.zendesk.com; the API is under /api/v2.
	BaseURL string
	// Email and APIToken authenticate with an API token; OAuthToken, when
	// set, is used instead.
	Email, APIToken string
	OAuthToken      string
	// SyncFlagFieldID and GoogleCaseFieldID are the custom ticket fields.
	SyncFlagFieldID, GoogleCaseFieldID int64
	// ClosedStatuses count as closed; CloseStatus is what CloseCase sets.
	ClosedStatuses []string
	CloseStatus    string
	// Priorities are the valid priority values (default Zendesk's four).
	Priorities []string
	// RatePerSecond caps the requests a second (default 200 a minute).
	RatePerSecond float64
	// PageSize is the page size of comment lists and searches (≤ 100);
	// ExportPageSize that of the incremental export (≤ 1000).
	PageSize, ExportPageSize int
	// MaxAttachmentBytes is the largest upload (default 50 MB).
	MaxAttachmentBytes int64
	// MaxDownloadBytes is the most bytes a download reads (default
	// MaxAttachmentBytes: Zendesk holds no larger file). Past it the read
	// fails with a permanent TooLarge error, whatever size Zendesk listed.
	MaxDownloadBytes int64
	// MaxPages bounds every paged listing: comments, the incremental
	// export, the search (0: crmhttp.DefaultMaxPages). A listing past it,
	// or one whose cursor repeats, stops with a permanent error.
	MaxPages int
	// HTTP is the HTTP client (nil: crmhttp.DefaultHTTPClient).
	HTTP *http.Client
	// Now tells the time, to keep the export's start_time old enough
	// (default time.Now). Tests with a simulated clock set it.
	Now func() time.Time
	// MinBackoff tunes crmhttp's backoff (0: its default).
	MinBackoff time.Duration
	// MaxRetryWait is the longest Retry-After waited for in process
	// (default 65 s, DefaultMaxRetryWait); a longer one ends the call with
	// a transient error.
	MaxRetryWait time.Duration

	// Google's case state and escalation requests (see state.go).
	//
	// StateFieldID is the text ticket field Google's state is written to;
	// 0 writes it as the tag StateTagPrefix+state in lower case instead,
	// and NoState writes it nowhere.
	StateFieldID int64
	NoState      bool
	// StateStatuses maps Google states to the status set with them (open,
	// pending or hold); nil sets none.
	StateStatuses map[string]string
	// EscalationFieldID is a checkbox ticket field a person ticks to ask
	// for an escalation; 0 reads the tag EscalationTag (default
	// DefaultEscalationTag) instead, and NoEscalation reads none.
	EscalationFieldID int64
	EscalationTag     string
	NoEscalation      bool
	// EscalationReasonFieldID and EscalationJustificationFieldID are
	// optional text ticket fields read with a request.
	EscalationReasonFieldID, EscalationJustificationFieldID int64
}

// ConfigFromEnv reads the adapter's variables; baseURL comes from CRM_URL.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{
		BaseURL:            baseURL,
		Email:              r.Get(EnvEmail),
		APIToken:           r.Get(EnvAPIToken),
		OAuthToken:         r.Get(EnvOAuthToken),
		ClosedStatuses:     r.List(EnvClosedStatuses, DefaultClosedStatuses),
		CloseStatus:        r.Str(EnvCloseStatus, DefaultCloseStatus),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		PageSize:           int(r.Int(EnvPageSize, DefaultPageSize)),
		ExportPageSize:     int(r.Int(EnvExportPageSize, DefaultExportPageSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),
	}
	if cfg.OAuthToken == "" {
		switch {
		case cfg.Email == "" && cfg.APIToken == "":
			r.Problemf(EnvAPIToken, "is not set: set %s and %s (an API token of the sync user, Admin Center > Apps and integrations > Zendesk API), or %s", EnvEmail, EnvAPIToken, EnvOAuthToken)
		case cfg.Email == "":
			r.Problemf(EnvEmail, "is not set: set it to the email address of the sync user whose API token %s holds", EnvAPIToken)
		case cfg.APIToken == "":
			r.Problemf(EnvAPIToken, "is not set: set it to an API token of the sync user %s names", EnvEmail)
		}
	}
	cfg.SyncFlagFieldID = fieldID(r, EnvSyncFlagFieldID, "the numeric id of the checkbox ticket field that flags a ticket for sync (Admin Center > Objects and rules > Tickets > Fields)")
	cfg.GoogleCaseFieldID = fieldID(r, EnvGoogleCaseFieldID, "the numeric id of the text ticket field that holds the Google case name")
	for _, s := range cfg.ClosedStatuses {
		if !slices.Contains(statuses, s) {
			r.Problemf(EnvClosedStatuses, "lists %q: use Zendesk statuses (%s)", s, strings.Join(statuses, ", "))
		}
	}
	if !slices.Contains(statuses, cfg.CloseStatus) || cfg.CloseStatus == "new" {
		r.Problemf(EnvCloseStatus, "is %q: set it to solved (or closed)", cfg.CloseStatus)
	} else if !slices.Contains(cfg.ClosedStatuses, cfg.CloseStatus) {
		r.Problemf(EnvCloseStatus, "is %q, which %s does not count as closed: add it there or choose one listed", cfg.CloseStatus, EnvClosedStatuses)
	}
	cfg.readStateConfig(r)
	if cfg.PageSize > 100 {
		r.Problemf(EnvPageSize, "is %d: Zendesk pages hold at most 100", cfg.PageSize)
	}
	if cfg.ExportPageSize > 1000 {
		r.Problemf(EnvExportPageSize, "is %d: the incremental export pages hold at most 1000", cfg.ExportPageSize)
	}
	return cfg, r.Problems()
}

func fieldID(r *envconf.Reader, v, hint string) int64 {
	s := r.Required(v, hint)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		r.Problemf(v, "is %q: set it to %s", s, hint)
		return 0
	}
	return n
}

// withDefaults fills in defaults and checks cfg.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.ClosedStatuses) == 0 {
		cfg.ClosedStatuses = DefaultClosedStatuses
	}
	if cfg.CloseStatus == "" {
		cfg.CloseStatus = DefaultCloseStatus
	}
	if len(cfg.Priorities) == 0 {
		cfg.Priorities = Priorities
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = DefaultRatePerSecond
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.ExportPageSize == 0 {
		cfg.ExportPageSize = DefaultExportPageSize
	}
	if cfg.MaxAttachmentBytes == 0 {
		cfg.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if cfg.MaxDownloadBytes == 0 {
		cfg.MaxDownloadBytes = cfg.MaxAttachmentBytes
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EscalationTag == "" {
		cfg.EscalationTag = DefaultEscalationTag
	}
	if err := cfg.validateState(); err != nil {
		return cfg, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return cfg, fmt.Errorf("zendesk: the base URL %q is not an http(s) URL such as https://acme.zendesk.com", cfg.BaseURL)
	case cfg.OAuthToken == "" && (cfg.Email == "" || cfg.APIToken == ""):
		return cfg, fmt.Errorf("zendesk: no credentials: set %s and %s, or %s", EnvEmail, EnvAPIToken, EnvOAuthToken)
	case cfg.SyncFlagFieldID <= 0 || cfg.GoogleCaseFieldID <= 0:
		return cfg, fmt.Errorf("zendesk: %s and %s must be positive field ids", EnvSyncFlagFieldID, EnvGoogleCaseFieldID)
	case cfg.SyncFlagFieldID == cfg.GoogleCaseFieldID:
		return cfg, fmt.Errorf("zendesk: %s and %s name the same field", EnvSyncFlagFieldID, EnvGoogleCaseFieldID)
	case !slices.Contains(cfg.ClosedStatuses, cfg.CloseStatus):
		return cfg, fmt.Errorf("zendesk: the close status %q is not among the closed statuses %v", cfg.CloseStatus, cfg.ClosedStatuses)
	case cfg.PageSize < 1 || cfg.PageSize > 100:
		return cfg, fmt.Errorf("zendesk: page size %d is not within 1..100", cfg.PageSize)
	case cfg.ExportPageSize < 1 || cfg.ExportPageSize > 1000:
		return cfg, fmt.Errorf("zendesk: export page size %d is not within 1..1000", cfg.ExportPageSize)
	case cfg.RatePerSecond < 0 || cfg.MaxAttachmentBytes < 0 || cfg.MaxDownloadBytes < 0 || cfg.MaxPages < 0 || cfg.MaxRetryWait < 0 || cfg.MinBackoff < 0:
		return cfg, fmt.Errorf("zendesk: the rate, the attachment and download limits, the page bound and the retry waits must not be negative")
	}
	return cfg, nil
}

// credentialVars names the variables of the credentials in use.
func (cfg Config) credentialVars() []string {
	if cfg.OAuthToken != "" {
		return []string{EnvOAuthToken}
	}
	return []string{EnvEmail, EnvAPIToken}
}
