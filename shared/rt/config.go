package rt

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // RT_TIME_ZONE loads on hosts without a zone database

	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. The RT web root comes from
// CRM_URL, which shared/appconfig reads.
const (
	EnvToken              = "RT_TOKEN"
	EnvUser               = "RT_USER"
	EnvPassword           = "RT_PASSWORD"
	EnvQueue              = "RT_QUEUE"
	EnvSyncFlagField      = "RT_SYNC_FLAG_FIELD"
	EnvSyncFlagValue      = "RT_SYNC_FLAG_VALUE"
	EnvGoogleCaseField    = "RT_GOOGLE_CASE_FIELD"
	EnvClosedStatuses     = "RT_CLOSED_STATUSES"
	EnvCloseStatus        = "RT_CLOSE_STATUS"
	EnvPriorities         = "RT_PRIORITIES"
	EnvRateLimit          = "RT_RATE_LIMIT"
	EnvPageSize           = "RT_PAGE_SIZE"
	EnvMaxAttachmentBytes = "RT_MAX_ATTACHMENT_BYTES"
	EnvTimeZone           = "RT_TIME_ZONE"

	EnvStateField                   = "RT_STATE_FIELD"
	EnvStateStatuses                = "RT_STATE_STATUSES"
	EnvEscalationField              = "RT_ESCALATION_FIELD"
	EnvEscalationReasonField        = "RT_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "RT_ESCALATION_JUSTIFICATION_FIELD"
)

// DefaultPriorityMap maps RT 5's default priority names to Google's
// priorities (casesync.ParsePriorityTable syntax). RT has three names for
// Google's five priorities: High reads back as P0, Low as P3.
const DefaultPriorityMap = "High=P0,High=P1,Medium=P2,Low=P3,Low=P4"

// PriorityLevel is one named priority and the number RT stores for it.
type PriorityLevel struct {
	Name  string
	Value int
}

// DefaultPriorities is RT 5's default PriorityAsString table.
var DefaultPriorities = []PriorityLevel{{"Low", 0}, {"Medium", 50}, {"High", 100}}

// Defaults of the optional settings.
const (
	DefaultQueue              = "General"
	DefaultSyncFlagField      = "GCP Sync"
	DefaultSyncFlagValue      = "yes"
	DefaultGoogleCaseField    = "GCP Case"
	DefaultCloseStatus        = "resolved"
	DefaultRatePerSecond      = 10
	DefaultPageSize           = 100
	DefaultMaxAttachmentBytes = 10 << 20
	DefaultMaxDownloadBytes   = 25 << 20
	// MaxPageSize is REST2's largest per_page.
	MaxPageSize = 100
)

// The custom fields of Google's case state and escalation requests
// (docs/crms/request-tracker.md tells the administrator to create them).
// NoField, as a field's setting, turns that field off.
const (
	DefaultStateField                   = "Google Case State"
	DefaultEscalationField              = "Escalate to Google"
	DefaultEscalationReasonField        = "Google Escalation Reason"
	DefaultEscalationJustificationField = "Google Escalation Justification"
	NoField                             = "none"
)

// DefaultClosedStatuses are the statuses of RT's default lifecycle that
// count as closed.
var DefaultClosedStatuses = []string{"resolved", "rejected", "deleted"}

// Config configures the Request Tracker adapter.
type Config struct {
	// BaseURL is RT's web root, e.g. "https://rt.example.com" (REST2 lives
	// under /REST/2.0 below it; a URL already ending in /REST/2.0 is taken
	// as it is).
	BaseURL string
	// Token is the sync user's auth token (Authorization: token …). Either
	// Token or User and Password are needed; Token wins when both are set.
	Token string
	// User and Password authenticate with HTTP Basic auth. With a Token,
	// User may still name the sync user (a token of RT's "1-<user id>-…"
	// form names it already).
	User, Password string
	// Queue is where CreateCase opens tickets.
	Queue string
	// SyncFlagField is the select custom field that flags a ticket for
	// sync, and SyncFlagValue its value meaning "sync".
	SyncFlagField, SyncFlagValue string
	// GoogleCaseField is the free-form custom field holding the linked
	// Google case name.
	GoogleCaseField string
	// ClosedStatuses are the statuses that count as closed.
	ClosedStatuses []string
	// CloseStatus is the status CloseCase sets.
	CloseStatus string
	// Priorities are the priority names the adapter reads and writes, each
	// with RT's number for it. A ticket's number reads as the name with the
	// largest value not above it, as RT displays it.
	Priorities []PriorityLevel
	// RatePerSecond caps the adapter's calls (RT itself has no limit).
	RatePerSecond float64
	// PageSize is the search page size, at most 100.
	PageSize int
	// MaxAttachmentBytes is the largest file uploaded.
	MaxAttachmentBytes int64
	// MaxDownloadBytes is the largest file downloaded: reading more fails
	// with the permanent TooLarge error, whatever size RT listed. Zero
	// means DefaultMaxDownloadBytes.
	MaxDownloadBytes int64
	// MaxPages bounds every listing (ticket search, history, a ticket's or
	// transaction's parts): one that goes on past it, or answers the same
	// page twice, stops with a permanent error (crmhttp.ErrPaging). Zero
	// means crmhttp.DefaultMaxPages.
	MaxPages int
	// StateField is the custom field Google's case state is written to.
	StateField string
	// StateStatuses maps Google case states (NEW, IN_PROGRESS_GOOGLE_SUPPORT,
	// ACTION_REQUIRED, SOLUTION_PROVIDED) to the open status a ticket is
	// given when its Google case enters that state; empty sets none. A
	// status among ClosedStatuses is refused.
	StateStatuses map[string]string
	// EscalationField is the custom field an agent sets to ask for an
	// escalation: any value but "no" or "false" asks.
	EscalationField string
	// EscalationReasonField and EscalationJustificationField hold the
	// request's reason and justification.
	EscalationReasonField, EscalationJustificationField string
	// TimeZone is the zone RT reads the sync user's TicketSQL dates in: the
	// user's Timezone preference, or RT's $Timezone when it has none. RT
	// takes a date in a search as that zone's wall time, whatever zone the
	// text names. Nil means unknown: searches then reach back 14 hours
	// further (the widest offset there is), so no update is missed, and
	// filter exactly here.
	TimeZone *time.Location
	// HTTP is the client used; nil means crmhttp.DefaultHTTPClient.
	HTTP *http.Client
}

// PriorityNames returns the configured priority names, lowest first.
func (c Config) PriorityNames() []string {
	var out []string
	for _, p := range c.Priorities {
		out = append(out, p.Name)
	}
	return out
}

// ConfigFromEnv reads the adapter's variables; baseURL comes from CRM_URL.
// Every problem found is returned, each naming its variable.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{
		BaseURL:            baseURL,
		Token:              r.Get(EnvToken),
		User:               r.Get(EnvUser),
		Password:           r.Get(EnvPassword),
		Queue:              r.Str(EnvQueue, DefaultQueue),
		SyncFlagField:      r.Str(EnvSyncFlagField, DefaultSyncFlagField),
		SyncFlagValue:      r.Str(EnvSyncFlagValue, DefaultSyncFlagValue),
		GoogleCaseField:    r.Str(EnvGoogleCaseField, DefaultGoogleCaseField),
		ClosedStatuses:     r.List(EnvClosedStatuses, DefaultClosedStatuses),
		CloseStatus:        r.Str(EnvCloseStatus, DefaultCloseStatus),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		PageSize:           int(r.Int(EnvPageSize, DefaultPageSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),

		StateField:                   r.Str(EnvStateField, DefaultStateField),
		EscalationField:              r.Str(EnvEscalationField, DefaultEscalationField),
		EscalationReasonField:        r.Str(EnvEscalationReasonField, DefaultEscalationReasonField),
		EscalationJustificationField: r.Str(EnvEscalationJustificationField, DefaultEscalationJustificationField),
	}
	if tz := r.Get(EnvTimeZone); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			r.Problemf(EnvTimeZone, "is %q: set it to the IANA time zone RT reads the sync user's dates in (the user's Timezone preference, else RT's $Timezone), e.g. America/New_York, or leave it unset", tz)
		}
		cfg.TimeZone = loc
	}
	switch {
	case cfg.Token != "":
	case cfg.User == "" && cfg.Password == "":
		r.Problemf(EnvToken, "is not set: set %s to the sync user's RT auth token, or set %s and %s", EnvToken, EnvUser, EnvPassword)
	case cfg.User == "":
		r.Problemf(EnvUser, "is not set: set it to the sync user's RT login (or use %s)", EnvToken)
	case cfg.Password == "":
		r.Problemf(EnvPassword, "is not set: set it to the password of RT user %q (or use %s)", cfg.User, EnvToken)
	}
	if cfg.PageSize > MaxPageSize {
		r.Problemf(EnvPageSize, "is %d: REST2 pages hold at most %d", cfg.PageSize, MaxPageSize)
	}
	if s := r.Get(EnvPriorities); s != "" {
		levels, err := ParsePriorities(s)
		if err != nil {
			r.Problemf(EnvPriorities, "is %q: %v", s, err)
		}
		cfg.Priorities = levels
	} else {
		cfg.Priorities = slices.Clone(DefaultPriorities)
	}
	if !slices.Contains(cfg.ClosedStatuses, cfg.CloseStatus) {
		r.Problemf(EnvCloseStatus, "is %q, which is not one of %s (%s)", cfg.CloseStatus, EnvClosedStatuses, strings.Join(cfg.ClosedStatuses, ","))
	}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, err := ParseStateStatuses(s, cfg.ClosedStatuses)
		if err != nil {
			r.Problemf(EnvStateStatuses, "is %q: %v; set it to STATE=status pairs naming open statuses of the queue's lifecycle (e.g. ACTION_REQUIRED=open), or leave it unset to set no status", s, err)
		}
		cfg.StateStatuses = m
	}
	return cfg, r.Problems()
}

// ParsePriorities reads "Low=0,Medium=50,High=100".
func ParsePriorities(s string) ([]PriorityLevel, error) {
	var out []PriorityLevel
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, num, ok := strings.Cut(pair, "=")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if name = strings.TrimSpace(name); !ok || name == "" || err != nil {
			return nil, fmt.Errorf("entry %q: want name=number, e.g. High=100", pair)
		}
		out = append(out, PriorityLevel{Name: name, Value: n})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no priorities: want e.g. Low=0,Medium=50,High=100")
	}
	return out, nil
}

// withDefaults fills unset optional settings and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.BaseURL == "" {
		return c, fmt.Errorf("rt: BaseURL is not set (CRM_URL: RT's web root, e.g. https://rt.example.com)")
	}
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return c, fmt.Errorf("rt: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	if c.Token == "" && (c.User == "" || c.Password == "") {
		return c, fmt.Errorf("rt: no credentials: set %s, or %s and %s", EnvToken, EnvUser, EnvPassword)
	}
	if c.Token != "" && c.User == "" {
		if _, ok := tokenUserID(c.Token); !ok {
			return c, fmt.Errorf("rt: %s is not of RT's form 1-<user id>-<secret>: set %s to the sync user's login too", EnvToken, EnvUser)
		}
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Queue, DefaultQueue)
	def(&c.SyncFlagField, DefaultSyncFlagField)
	def(&c.SyncFlagValue, DefaultSyncFlagValue)
	def(&c.GoogleCaseField, DefaultGoogleCaseField)
	def(&c.CloseStatus, DefaultCloseStatus)
	def(&c.StateField, DefaultStateField)
	def(&c.EscalationField, DefaultEscalationField)
	def(&c.EscalationReasonField, DefaultEscalationReasonField)
	def(&c.EscalationJustificationField, DefaultEscalationJustificationField)
	for _, f := range []*string{&c.StateField, &c.EscalationField, &c.EscalationReasonField, &c.EscalationJustificationField} {
		if strings.EqualFold(*f, NoField) {
			*f = ""
		}
	}
	if len(c.ClosedStatuses) == 0 {
		c.ClosedStatuses = slices.Clone(DefaultClosedStatuses)
	}
	if !slices.Contains(c.ClosedStatuses, c.CloseStatus) {
		return c, fmt.Errorf("rt: the close status %q is not one of the closed statuses %v", c.CloseStatus, c.ClosedStatuses)
	}
	if err := checkStateStatuses(c.StateStatuses, c.ClosedStatuses); err != nil {
		return c, fmt.Errorf("rt: %s: %w", EnvStateStatuses, err)
	}
	c.StateStatuses = maps.Clone(c.StateStatuses)
	if len(c.Priorities) == 0 {
		c.Priorities = slices.Clone(DefaultPriorities)
	}
	c.Priorities = slices.Clone(c.Priorities)
	slices.SortStableFunc(c.Priorities, func(a, b PriorityLevel) int { return a.Value - b.Value })
	if c.RatePerSecond < 0 {
		return c, fmt.Errorf("rt: RatePerSecond %g is negative", c.RatePerSecond)
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	c.PageSize = min(c.PageSize, MaxPageSize)
	if c.MaxAttachmentBytes <= 0 {
		c.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if c.MaxDownloadBytes <= 0 {
		c.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	if c.MaxPages < 0 {
		return c, fmt.Errorf("rt: MaxPages %d is negative", c.MaxPages)
	}
	return c, nil
}

// tokenUserID reads the user id out of an RT auth token "1-<id>-<secret>".
func tokenUserID(token string) (string, bool) {
	parts := strings.SplitN(token, "-", 3)
	if len(parts) != 3 || parts[0] != "1" || parts[2] == "" {
		return "", false
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return "", false
	}
	return parts[1], true
}
