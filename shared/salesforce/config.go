package salesforce

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/envconf"
)

// The environment variables the adapter reads. CRM_URL (the org's My
// Domain address, e.g. https://acme.my.salesforce.com) is read by
// appconfig.
const (
	// EnvClientID is the consumer key of the External Client App (or
	// connected app) casebridge signs in with.
	EnvClientID = "SALESFORCE_CLIENT_ID"
	// EnvClientSecret is its consumer secret, for the client credentials
	// flow (the app's Run As user is the sync user).
	EnvClientSecret = "SALESFORCE_CLIENT_SECRET"
	// EnvPrivateKey is a PEM RSA private key, for the JWT bearer flow
	// instead of the client secret; the app holds its certificate.
	EnvPrivateKey = "SALESFORCE_PRIVATE_KEY"
	// EnvUsername is the sync user's username, the JWT's subject (JWT
	// bearer flow only).
	EnvUsername = "SALESFORCE_USERNAME"
	// EnvLoginURL is the JWT's audience (default
	// https://login.salesforce.com; https://test.salesforce.com for a
	// sandbox).
	EnvLoginURL = "SALESFORCE_LOGIN_URL"
	// EnvAPIVersion is the REST API version casebridge calls (default
	// v66.0).
	EnvAPIVersion = "SALESFORCE_API_VERSION"
	// EnvSyncFlagField is the checkbox custom field of Case that flags a
	// case for sync (default Sync_with_Google__c).
	EnvSyncFlagField = "SALESFORCE_SYNC_FLAG_FIELD"
	// EnvGoogleCaseField is the text custom field of Case that holds the
	// linked Google case name (default Google_Case__c).
	EnvGoogleCaseField = "SALESFORCE_GOOGLE_CASE_FIELD"
	// EnvCloseStatus is the Status CloseCase sets (default Closed); it
	// must be a status the org counts as closed.
	EnvCloseStatus = "SALESFORCE_CLOSE_STATUS"
	// EnvStateField is the text custom field Google's case state is
	// written to (default Google_Case_State__c; "none" turns it off).
	EnvStateField = "SALESFORCE_STATE_FIELD"
	// EnvStateStatuses maps Google states to open Status values,
	// "IN_PROGRESS_GOOGLE_SUPPORT=Working,...". Empty (the default): no
	// status is set.
	EnvStateStatuses = "SALESFORCE_STATE_STATUSES"
	// EnvEscalationField is the checkbox custom field a person ticks to
	// ask for the Google case to be escalated (default
	// Escalate_to_Google__c; "none" turns it off).
	EnvEscalationField = "SALESFORCE_ESCALATION_FIELD"
	// EnvEscalationReasonField and EnvEscalationJustificationField are the
	// text custom fields holding the request's reason and justification
	// (defaults Google_Escalation_Reason__c and
	// Google_Escalation_Justification__c; "none" turns each off).
	EnvEscalationReasonField        = "SALESFORCE_ESCALATION_REASON_FIELD"
	EnvEscalationJustificationField = "SALESFORCE_ESCALATION_JUSTIFICATION_FIELD"
	// EnvRateLimit caps the adapter's requests a second (default 5).
	EnvRateLimit = "SALESFORCE_RATE_LIMIT"
	// EnvBatchSize is the batch size asked of queries (200 to 2000,
	// default 2000; Salesforce may send fewer).
	EnvBatchSize = "SALESFORCE_BATCH_SIZE"
	// EnvMaxAttachmentBytes is the largest file uploaded (default 2 GiB,
	// the limit of a multipart ContentVersion insert).
	EnvMaxAttachmentBytes = "SALESFORCE_MAX_ATTACHMENT_BYTES"
)

// DefaultPriorityMap maps Salesforce's stock priorities (High, Medium,
// Low) to Google's five: P0 and P1 both become High and High reads back as
// P1, P3 and P4 become Low and Low reads back as P3. A person's High is
// not taken for Google's P0 (an outage of production), which only Google's
// side sets.
const DefaultPriorityMap = "High=P1,High=P0,Medium=P2,Low=P3,Low=P4"

// Defaults.
const (
	DefaultAPIVersion             = "v66.0"
	DefaultLoginURL               = "https://login.salesforce.com"
	DefaultSyncFlagField          = "Sync_with_Google__c"
	DefaultGoogleCaseField        = "Google_Case__c"
	DefaultCloseStatus            = "Closed"
	DefaultStateField             = "Google_Case_State__c"
	DefaultEscalationField        = "Escalate_to_Google__c"
	DefaultEscalationReasonField  = "Google_Escalation_Reason__c"
	DefaultEscalationJustifyField = "Google_Escalation_Justification__c"
	DefaultRatePerSecond          = 5.0
	DefaultBatchSize              = 2000
	DefaultMaxAttachmentBytes     = 2 << 30
	// DefaultLimitBackoff is how long the adapter makes no call after
	// Salesforce answered REQUEST_LIMIT_EXCEEDED.
	DefaultLimitBackoff = time.Minute
	// off is the value that turns an optional field off.
	off = "none"
)

// Config configures the adapter.
type Config struct {
	// BaseURL is the org's My Domain address (CRM_URL), e.g.
	// https://acme.my.salesforce.com. The token endpoint and the REST API
	// are both on it.
	BaseURL string
	// ClientID is the app's consumer key. ClientSecret signs in with the
	// client credentials flow; PrivateKey (PEM) and Username with the JWT
	// bearer flow, whose audience is LoginURL.
	ClientID, ClientSecret string
	PrivateKey, Username   string
	LoginURL               string
	// APIVersion is "vNN.N" (default v66.0).
	APIVersion string
	// SyncFlagField and GoogleCaseField are the Case custom fields.
	SyncFlagField, GoogleCaseField string
	// CloseStatus is the status CloseCase sets.
	CloseStatus string
	// StateField, EscalationField, EscalationReasonField and
	// EscalationJustificationField are Case fields; "" turns each off.
	StateField, EscalationField                         string
	EscalationReasonField, EscalationJustificationField string
	// StateStatuses maps Google states to open Status values.
	StateStatuses map[string]string
	// RatePerSecond caps the requests a second.
	RatePerSecond float64
	// BatchSize is asked of queries (Sforce-Query-Options).
	BatchSize int
	// MaxAttachmentBytes is the largest upload.
	MaxAttachmentBytes int64
	// MaxDownloadBytes is the most bytes a download reads (default
	// MaxAttachmentBytes).
	MaxDownloadBytes int64
	// MaxPages bounds every paged listing (0: crmhttp.DefaultMaxPages).
	MaxPages int
	// HTTP is the HTTP client (nil: crmhttp.DefaultHTTPClient).
	HTTP *http.Client
	// MinBackoff tunes crmhttp's backoff (0: its default).
	MinBackoff time.Duration
	// LimitBackoff is how long no call is made after REQUEST_LIMIT_EXCEEDED
	// (default one minute).
	LimitBackoff time.Duration
	// Now tells the time (default time.Now), for the JWT's expiry.
	Now func() time.Time

	key *rsa.PrivateKey // PrivateKey, parsed
}

var (
	versionRE = regexp.MustCompile(`^v[1-9][0-9]\.0$`)
	// fieldRE is an API name of a Case field: letters, digits and single
	// underscores, custom ones ending in __c.
	fieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)
)

// optionalField reads a field name whose default is def and which "none"
// turns off.
func optionalField(r *envconf.Reader, v, def string) string {
	s := r.Str(v, def)
	if strings.EqualFold(s, off) {
		return ""
	}
	if !fieldRE.MatchString(s) {
		r.Problemf(v, "is %q: set it to the API name of a Case field, e.g. %s (or none)", s, def)
	}
	return s
}

// ConfigFromEnv reads the adapter's variables; baseURL comes from CRM_URL.
func ConfigFromEnv(getenv func(string) string, baseURL string) (Config, []envconf.Problem) {
	r := envconf.NewReader(getenv)
	cfg := Config{
		BaseURL:            baseURL,
		ClientID:           r.Get(EnvClientID),
		ClientSecret:       r.Get(EnvClientSecret),
		PrivateKey:         r.Get(EnvPrivateKey),
		Username:           r.Get(EnvUsername),
		LoginURL:           r.URL(EnvLoginURL, false, "set it to https://login.salesforce.com, or https://test.salesforce.com for a sandbox"),
		APIVersion:         r.Str(EnvAPIVersion, DefaultAPIVersion),
		SyncFlagField:      r.Str(EnvSyncFlagField, DefaultSyncFlagField),
		GoogleCaseField:    r.Str(EnvGoogleCaseField, DefaultGoogleCaseField),
		CloseStatus:        r.Str(EnvCloseStatus, DefaultCloseStatus),
		RatePerSecond:      r.Float(EnvRateLimit, DefaultRatePerSecond),
		BatchSize:          int(r.Int(EnvBatchSize, DefaultBatchSize)),
		MaxAttachmentBytes: r.Int(EnvMaxAttachmentBytes, DefaultMaxAttachmentBytes),
	}
	cfg.StateField = optionalField(r, EnvStateField, DefaultStateField)
	cfg.EscalationField = optionalField(r, EnvEscalationField, DefaultEscalationField)
	cfg.EscalationReasonField = optionalField(r, EnvEscalationReasonField, DefaultEscalationReasonField)
	cfg.EscalationJustificationField = optionalField(r, EnvEscalationJustificationField, DefaultEscalationJustifyField)
	if cfg.ClientID == "" {
		r.Problemf(EnvClientID, "is not set: set it to the consumer key of the External Client App casebridge signs in with (Setup > External Client App Manager)")
	}
	switch {
	case cfg.ClientSecret == "" && cfg.PrivateKey == "":
		r.Problemf(EnvClientSecret, "is not set: set it to the app's Consumer Secret (client credentials flow), or set %s and %s (JWT bearer flow)", EnvPrivateKey, EnvUsername)
	case cfg.ClientSecret != "" && cfg.PrivateKey != "":
		r.Problemf(EnvPrivateKey, "is set as well as %s: set one of the two (the client credentials flow or the JWT bearer flow)", EnvClientSecret)
	case cfg.PrivateKey != "":
		if _, err := parseKey(cfg.PrivateKey); err != nil {
			r.Problemf(EnvPrivateKey, "is not a PEM RSA private key (%v): set it to the key whose certificate the app holds", err)
		}
		if cfg.Username == "" {
			r.Problemf(EnvUsername, "is not set: set it to the sync user's username, which the JWT bearer flow signs in as")
		}
	}
	if !versionRE.MatchString(cfg.APIVersion) {
		r.Problemf(EnvAPIVersion, "is %q: set it to a REST API version such as %s", cfg.APIVersion, DefaultAPIVersion)
	}
	for _, v := range [][2]string{{EnvSyncFlagField, cfg.SyncFlagField}, {EnvGoogleCaseField, cfg.GoogleCaseField}} {
		if !fieldRE.MatchString(v[1]) {
			r.Problemf(v[0], "is %q: set it to the API name of a Case custom field, e.g. %s", v[1], DefaultGoogleCaseField)
		}
	}
	if strings.TrimSpace(cfg.CloseStatus) == "" || len(cfg.CloseStatus) > 255 {
		r.Problemf(EnvCloseStatus, "is %q: set it to a Case status the org counts as closed, e.g. Closed", cfg.CloseStatus)
	}
	statuses, err := ParseStateStatuses(r.Get(EnvStateStatuses))
	if err != nil {
		r.Problemf(EnvStateStatuses, "%v", err)
	}
	cfg.StateStatuses = statuses
	if cfg.BatchSize < 200 || cfg.BatchSize > 2000 {
		r.Problemf(EnvBatchSize, "is %d: Salesforce takes a batch size from 200 to 2000", cfg.BatchSize)
	}
	return cfg, r.Problems()
}

// ParseStateStatuses reads "STATE=status,STATE=status": keys among NEW,
// IN_PROGRESS_GOOGLE_SUPPORT, ACTION_REQUIRED and SOLUTION_PROVIDED, values
// the org's own open Status values. CLOSED may not be mapped: closing is
// CloseCase's.
func ParseStateStatuses(s string) (map[string]string, error) {
	return casesync.ParseStateStatuses(s)
}

// parseKey reads a PEM RSA private key (PKCS#1 or PKCS#8). A key given in
// one line with \n escapes is read too.
func parseKey(s string) (*rsa.PrivateKey, error) {
	s = strings.ReplaceAll(s, `\n`, "\n")
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("neither a PKCS#1 nor a PKCS#8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return rk, nil
}

// withDefaults fills in defaults and checks cfg.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = DefaultLoginURL
	}
	if cfg.SyncFlagField == "" {
		cfg.SyncFlagField = DefaultSyncFlagField
	}
	if cfg.GoogleCaseField == "" {
		cfg.GoogleCaseField = DefaultGoogleCaseField
	}
	if cfg.CloseStatus == "" {
		cfg.CloseStatus = DefaultCloseStatus
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = DefaultRatePerSecond
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxAttachmentBytes == 0 {
		cfg.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if cfg.MaxDownloadBytes == 0 {
		cfg.MaxDownloadBytes = cfg.MaxAttachmentBytes
	}
	if cfg.LimitBackoff == 0 {
		cfg.LimitBackoff = DefaultLimitBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return cfg, fmt.Errorf("salesforce: the base URL %q is not the org's address such as https://acme.my.salesforce.com", cfg.BaseURL)
	}
	if cfg.ClientID == "" {
		return cfg, fmt.Errorf("salesforce: no client id: set %s", EnvClientID)
	}
	switch {
	case cfg.ClientSecret == "" && cfg.PrivateKey == "":
		return cfg, fmt.Errorf("salesforce: no credentials: set %s, or %s and %s", EnvClientSecret, EnvPrivateKey, EnvUsername)
	case cfg.ClientSecret != "" && cfg.PrivateKey != "":
		return cfg, fmt.Errorf("salesforce: set %s or %s, not both", EnvClientSecret, EnvPrivateKey)
	case cfg.PrivateKey != "":
		k, err := parseKey(cfg.PrivateKey)
		if err != nil {
			return cfg, fmt.Errorf("salesforce: %s: %v", EnvPrivateKey, err)
		}
		if cfg.Username == "" {
			return cfg, fmt.Errorf("salesforce: %s needs %s", EnvPrivateKey, EnvUsername)
		}
		cfg.key = k
	}
	if !versionRE.MatchString(cfg.APIVersion) {
		return cfg, fmt.Errorf("salesforce: the API version %q is not of the form v66.0", cfg.APIVersion)
	}
	names := []string{cfg.SyncFlagField, cfg.GoogleCaseField}
	for _, f := range []string{cfg.StateField, cfg.EscalationField, cfg.EscalationReasonField, cfg.EscalationJustificationField} {
		if f != "" {
			names = append(names, f)
		}
	}
	seen := map[string]bool{}
	for _, f := range names {
		if !fieldRE.MatchString(f) || slices.Contains(standardFields, f) {
			return cfg, fmt.Errorf("salesforce: %q is not the API name of a Case custom field", f)
		}
		if seen[strings.ToLower(f)] {
			return cfg, fmt.Errorf("salesforce: the field %s is configured for two purposes", f)
		}
		seen[strings.ToLower(f)] = true
	}
	for k, v := range cfg.StateStatuses {
		if !slices.Contains(casesync.GoogleStates, k) || k == "CLOSED" || v == "" {
			return cfg, fmt.Errorf("salesforce: the state mapping %s=%s is not allowed", k, v)
		}
		if strings.EqualFold(v, cfg.CloseStatus) {
			return cfg, fmt.Errorf("salesforce: the state %s is mapped to the close status %s; a state never closes the case", k, v)
		}
	}
	switch {
	case cfg.BatchSize < 200 || cfg.BatchSize > 2000:
		return cfg, fmt.Errorf("salesforce: batch size %d is not within 200..2000", cfg.BatchSize)
	case cfg.RatePerSecond < 0 || cfg.MaxAttachmentBytes < 0 || cfg.MaxDownloadBytes < 0 || cfg.MaxPages < 0 || cfg.MinBackoff < 0 || cfg.LimitBackoff < 0:
		return cfg, errors.New("salesforce: the rate, the attachment and download limits, the page bound and the backoffs must not be negative")
	}
	return cfg, nil
}

// credentialVars names the variables of the credentials in use.
func (cfg Config) credentialVars() []string {
	if cfg.PrivateKey != "" {
		return []string{EnvClientID, EnvPrivateKey, EnvUsername}
	}
	return []string{EnvClientID, EnvClientSecret}
}
