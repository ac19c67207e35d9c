package salesforcetest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Options configures a simulator. Zero values take the defaults named.
type Options struct {
	// ClientID and ClientSecret are the External Client App's consumer key
	// and secret (defaults "sim-client-id" and "sim-client-secret"), for
	// the client credentials flow.
	ClientID, ClientSecret string
	// JWTKey, when set, is the public key of the certificate the app holds
	// for the JWT bearer flow; Username is the user the JWT must name
	// (default "sync@example.com.sim") and LoginURL its audience (default
	// https://login.salesforce.com).
	JWTKey   *rsa.PublicKey
	Username string
	LoginURL string
	// SyncUserName is the sync user's (the app's Run As user's) name
	// (default "casebridge sync").
	SyncUserName string
	// Versions are the API versions served (default v60.0 to v66.0).
	Versions []string
	// CustomFields are the Case custom fields and their types ("boolean",
	// "string", "textarea"). Default: Sync_with_Google__c (boolean),
	// Google_Case__c (string), Google_Case_State__c (string),
	// Escalate_to_Google__c (boolean), Google_Escalation_Reason__c
	// (string), Google_Escalation_Justification__c (textarea).
	CustomFields map[string]string
	// Statuses are the Case Status picklist values (default New, Working,
	// Escalated, Closed) and ClosedStatuses those whose CaseStatus.IsClosed
	// is true (default Closed); the first is the default.
	Statuses, ClosedStatuses []string
	// Priorities are the Priority picklist values (default High, Medium,
	// Low); Medium is the default when there is one.
	Priorities []string
	// MaxBatchSize caps a query batch below what Sforce-Query-Options
	// asks, as Salesforce does for wide records (0: no cap beyond 2000).
	MaxBatchSize int
	// MaxFileBytes is the largest file a ContentVersion insert takes
	// (default 2 GiB).
	MaxFileBytes int64
	// DailyRequestLimit is the org's API requests a day, shown in
	// Sforce-Limit-Info; past it calls answer 403 REQUEST_LIMIT_EXCEEDED
	// (default 100,000).
	DailyRequestLimit int64
	// TokenLifetime is how long an access token works (the session
	// timeout; default 2 hours). Past it calls answer 401
	// INVALID_SESSION_ID.
	TokenLifetime time.Duration
	// CommentsTouchCase makes a new case comment update its case's
	// SystemModstamp and LastModifiedDate. Off by default: whether
	// Salesforce does so is not documented, and the adapter must work
	// either way.
	CommentsTouchCase bool
	// DefaultFileVisibility is the Visibility of the link a
	// ContentVersion insert with FirstPublishLocationId makes (default
	// InternalUsers).
	DefaultFileVisibility string
	// QueryAllFiles gives the sync user the Query All Files permission:
	// a ContentVersion or ContentDocument query without an id filter then
	// returns every file, not only the user's own (Object Reference,
	// ContentVersion, Special Access Rules). Off by default.
	QueryAllFiles bool
	// Clock tells the time (default time.Now).
	Clock func() time.Time
}

// Fault makes matching requests fail before they are served.
type Fault struct {
	// Pattern is "METHOD /path/pattern" as Calls counts it; "" matches
	// every request but the token endpoint's.
	Pattern string
	// Status is the HTTP status; Code the errorCode of the error array
	// (default by status).
	Status int
	Code   string
	// RetryAfter is sent as Retry-After when set (whole seconds).
	RetryAfter time.Duration
	// Count is how many requests fail; 0 means every matching one.
	Count int
}

// Server is a running simulator.
type Server struct {
	// URL is the org's address (CRM_URL), set by NewServer.
	URL string

	opts Options

	mu          sync.Mutex
	cases       []*rec
	comments    []*rec
	links       []*rec
	docs        []*rec
	versionRecs []*rec
	versions    map[string][]byte // ContentVersion id -> bytes
	versionDoc  map[string]string // ContentVersion id -> ContentDocument id
	statusRecs  []*rec
	users       []*rec
	syncUser    *rec
	seq         int64
	caseNumber  int64
	tokens      map[string]time.Time // access token -> expiry
	locators    map[string]*locator
	lastStamp   time.Time
	calls       simhttp.Counts[int]
	faults      []*Fault
	down        bool
	used        int64
	// apex is the webhook Apex (SetWebhookApex); sender sends its
	// callouts (webhook.go).
	apex   *WebhookApex
	sender *simhttp.Sender
}

// locator is a query cursor: the rows still to be read.
type locator struct {
	rows []map[string]any
	seen time.Time
}

// New returns a simulator that is not listening; serve its Handler.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = "sim-client-id"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim-client-secret"
	}
	if opts.Username == "" {
		opts.Username = "sync@example.com.sim"
	}
	if opts.LoginURL == "" {
		opts.LoginURL = "https://login.salesforce.com"
	}
	if opts.SyncUserName == "" {
		opts.SyncUserName = "casebridge sync"
	}
	if len(opts.Versions) == 0 {
		opts.Versions = []string{"v60.0", "v61.0", "v62.0", "v63.0", "v64.0", "v65.0", "v66.0"}
	}
	if opts.CustomFields == nil {
		opts.CustomFields = map[string]string{
			"Sync_with_Google__c": ftBool, "Google_Case__c": ftString, "Google_Case_State__c": ftString,
			"Escalate_to_Google__c": ftBool, "Google_Escalation_Reason__c": ftString,
			"Google_Escalation_Justification__c": ftTextArea,
		}
	}
	if len(opts.Statuses) == 0 {
		opts.Statuses = []string{"New", "Working", "Escalated", "Closed"}
	}
	if opts.ClosedStatuses == nil {
		opts.ClosedStatuses = []string{"Closed"}
	}
	if len(opts.Priorities) == 0 {
		opts.Priorities = []string{"High", "Medium", "Low"}
	}
	if opts.MaxFileBytes == 0 {
		opts.MaxFileBytes = 2 << 30
	}
	if opts.DailyRequestLimit == 0 {
		opts.DailyRequestLimit = 100_000
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 2 * time.Hour
	}
	if opts.DefaultFileVisibility == "" {
		opts.DefaultFileVisibility = "InternalUsers"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{opts: opts, versions: map[string][]byte{}, versionDoc: map[string]string{},
		tokens: map[string]time.Time{}, locators: map[string]*locator{}, caseNumber: 1000, sender: newWebhookSender()}
	for i, st := range opts.Statuses {
		s.statusRecs = append(s.statusRecs, &rec{object: "CaseStatus", vals: map[string]any{
			"Id": s.newIDLocked("01J"), "ApiName": st, "MasterLabel": st, "IsDefault": i == 0,
			"IsClosed": contains(opts.ClosedStatuses, st), "SortOrder": int64(i + 1)}})
	}
	s.syncUser = s.userLocked(opts.SyncUserName)
	return s
}

// NewServer starts a simulator on 127.0.0.1, closed when the test ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := New(opts)
	tb.Cleanup(s.CloseWebhooks)
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Options returns the options with their defaults filled in.
func (s *Server) Options() Options { return s.opts }

// SyncUserID is the sync user's id.
func (s *Server) SyncUserID() string { return s.syncUser.id() }

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// idRE is a record id: 15 or 18 letters and digits.
var idRE = regexp.MustCompile(`^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$`)

// newIDLocked makes an 18-character id with a key prefix.
func (s *Server) newIDLocked(prefix string) string {
	s.seq++
	return to18(fmt.Sprintf("%s%s%07d", prefix, "Sim00", s.seq))
}

// to18 adds the case-encoding suffix of a 15-character id.
func to18(id string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	suffix := make([]byte, 3)
	for i := 0; i < 3; i++ {
		n := 0
		for j := 0; j < 5; j++ {
			if ch := id[i*5+j]; ch >= 'A' && ch <= 'Z' {
				n |= 1 << j
			}
		}
		suffix[i] = alphabet[n]
	}
	return id + string(suffix)
}

// now is the simulator's time, to the second as Salesforce keeps it
// (datetime fields store no milliseconds).
// Stamps never go backwards.
func (s *Server) nowLocked() time.Time {
	t := s.opts.Clock().UTC().Truncate(time.Second)
	if t.Before(s.lastStamp) {
		t = s.lastStamp
	}
	s.lastStamp = t
	return t
}

func (s *Server) userLocked(name string) *rec {
	for _, u := range s.users {
		if u.vals["Name"] == name {
			return u
		}
	}
	u := &rec{object: "User", vals: map[string]any{"Id": s.newIDLocked("005"), "Name": name,
		"Username": strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com.sim"}}
	s.users = append(s.users, u)
	return u
}

func (s *Server) api() string { return "/services/data/" + s.opts.Versions[len(s.opts.Versions)-1] }

// Calls returns the requests served so far by "METHOD pattern".
func (s *Server) Calls() map[string]int { return s.calls.Snapshot() }

// InjectFault makes matching requests fail.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// InjectUnavailable makes the next API request answer 503
// SERVER_UNAVAILABLE with a Retry-After, as Salesforce does while an
// instance is unavailable.
func (s *Server) InjectUnavailable(retryAfter time.Duration) {
	s.InjectFault(Fault{Status: http.StatusServiceUnavailable, Code: "SERVER_UNAVAILABLE", RetryAfter: retryAfter, Count: 1})
}

// InjectRequestLimit makes the next count API requests answer 403
// REQUEST_LIMIT_EXCEEDED, without Retry-After, as Salesforce does.
func (s *Server) InjectRequestLimit(count int) {
	s.InjectFault(Fault{Status: http.StatusForbidden, Code: "REQUEST_LIMIT_EXCEEDED", Count: count})
}

// ClearFaults drops every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetDown makes every request fail with a 503 (down) or not.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// ExpireTokens ends every session, as a session timeout or an admin's
// revocation does.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
}

// APIUsage is what Sforce-Limit-Info reports.
func (s *Server) APIUsage() (used, limit int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.opts.DailyRequestLimit
}

// SetAPIUsage sets the requests used today.
func (s *Server) SetAPIUsage(used int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = used
}

// sfErr is one entry of an error answer.
type sfErr struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string, fields ...string) {
	writeJSON(w, status, []sfErr{{Message: msg, ErrorCode: code, Fields: fields}})
}

// Handler serves the simulated org.
func (s *Server) Handler() http.Handler {
	return simhttp.Dated(func() time.Time { return s.opts.Clock() }, http.HandlerFunc(s.serve))
}

var versionPathRE = regexp.MustCompile(`^/services/data/(v[0-9]{2}\.0)(/.*)?$`)

// pattern names a request for Calls and faults.
func pattern(method, path string) string {
	m := versionPathRE.FindStringSubmatch(path)
	if m == nil {
		return method + " " + path
	}
	rest := m[2]
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	for i, p := range parts {
		if idRE.MatchString(p) || strings.Contains(p, "-") && i > 0 && parts[i-1] == "query" {
			parts[i] = "{id}"
		}
	}
	return method + " /services/data/vXX.X/" + strings.Join(parts, "/")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == SimWebhookPath {
		s.serveWebhookApex(w, r)
		return
	}
	pat := pattern(r.Method, r.URL.Path)
	s.calls.Add(pat)
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		writeErr(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "The server is down.")
		return
	}
	if r.URL.Path == "/services/oauth2/token" {
		s.mu.Unlock()
		s.token(w, r)
		return
	}
	for i, f := range s.faults {
		if f.Pattern != "" && f.Pattern != pat {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		s.mu.Unlock()
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(f.RetryAfter/time.Second))))
		}
		code := f.Code
		if code == "" {
			code = http.StatusText(f.Status)
		}
		writeErr(w, f.Status, code, "Injected fault.")
		return
	}
	// Authentication: a Bearer token from the token endpoint, unexpired.
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	exp, known := s.tokens[tok]
	if !ok || !known || !s.opts.Clock().Before(exp) {
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Token`)
		writeErr(w, http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return
	}
	m := versionPathRE.FindStringSubmatch(r.URL.Path)
	if r.URL.Path == "/services/data" || r.URL.Path == "/services/data/" {
		var out []map[string]string
		for _, v := range s.opts.Versions {
			out = append(out, map[string]string{"label": v, "url": "/services/data/" + v, "version": strings.TrimPrefix(v, "v")})
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return
	}
	if m == nil || !contains(s.opts.Versions, m[1]) {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return
	}
	// Every API request counts against the daily limit, which every
	// answer reports.
	if s.used >= s.opts.DailyRequestLimit {
		s.mu.Unlock()
		writeErr(w, http.StatusForbidden, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
		return
	}
	s.used++
	w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", s.used, s.opts.DailyRequestLimit))
	s.mu.Unlock()
	s.route(w, r, m[1], m[2])
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, version, rest string) {
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "/limits" && r.Method == http.MethodGet:
		used, limit := s.APIUsage()
		writeJSON(w, http.StatusOK, map[string]any{"DailyApiRequests": map[string]int64{"Max": limit, "Remaining": limit - used}})
	case rest == "/query" && r.Method == http.MethodGet:
		s.query(w, r, version)
	case len(parts) == 2 && parts[0] == "query" && r.Method == http.MethodGet:
		s.nextBatch(w, r, parts[1])
	case len(parts) == 2 && parts[0] == "sobjects" && parts[1] == "Case" && r.Method == http.MethodPost:
		s.createCase(w, r)
	case len(parts) == 3 && parts[0] == "sobjects" && parts[1] == "Case" && r.Method == http.MethodPatch:
		s.updateCase(w, r, parts[2])
	case len(parts) == 3 && parts[0] == "sobjects" && parts[1] == "Case" && r.Method == http.MethodGet:
		s.getCase(w, parts[2])
	case len(parts) == 2 && parts[0] == "sobjects" && parts[1] == "CaseComment" && r.Method == http.MethodPost:
		s.createComment(w, r)
	case len(parts) == 2 && parts[0] == "sobjects" && parts[1] == "ContentVersion" && r.Method == http.MethodPost:
		s.createVersion(w, r)
	case len(parts) == 4 && parts[0] == "sobjects" && parts[1] == "ContentVersion" && parts[3] == "VersionData" && r.Method == http.MethodGet:
		s.versionData(w, parts[2])
	default:
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
}

// token is the OAuth 2.0 token endpoint: the client credentials flow and
// the JWT bearer flow.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthErr(http.StatusBadRequest, "invalid_request", "must use HTTP POST with a form body")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		if r.PostForm.Get("client_id") != s.opts.ClientID || r.PostForm.Get("client_secret") != s.opts.ClientSecret {
			oauthErr(http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if s.opts.JWTKey == nil || !s.validJWT(r.PostForm.Get("assertion")) {
			oauthErr(http.StatusBadRequest, "invalid_grant", "invalid assertion")
			return
		}
	default:
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "00DSim0000000001!" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Clock().Add(s.opts.TokenLifetime)
	uid := s.syncUser.id()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok, "instance_url": s.URL, "id": s.URL + "/id/00DSim0000000001AAA/" + uid,
		"token_type": "Bearer", "issued_at": strconv.FormatInt(s.opts.Clock().UnixMilli(), 10), "signature": "sim",
	})
}

// validJWT checks an RS256 assertion: the signature by the app's key, iss
// the consumer key, sub the user, aud the login URL, exp ahead.
func (s *Server) validJWT(a string) bool {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return false
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	var c struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" || json.Unmarshal(cb, &c) != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.opts.JWTKey, crypto.SHA256, sum[:], sig) != nil {
		return false
	}
	return c.Iss == s.opts.ClientID && c.Sub == s.opts.Username && c.Aud == s.opts.LoginURL &&
		time.Unix(c.Exp, 0).After(s.opts.Clock())
}
