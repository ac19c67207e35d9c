package zendesktest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Options configures a simulator. Zero values take the defaults named.
type Options struct {
	// Email and APIToken are the sync user's API token credentials
	// (defaults "sync@example.com" and "sim-api-token"); OAuthToken, when
	// set, is also accepted as a Bearer token.
	Email, APIToken, OAuthToken string
	// SyncUserName is the sync user's display name (default "casebridge
	// sync"). The sync user is an admin.
	SyncUserName string
	// SyncFlagFieldID (a checkbox) and GoogleCaseFieldID (a text field) are
	// the custom ticket fields' ids (defaults 360000000001 and 360000000002).
	SyncFlagFieldID, GoogleCaseFieldID int64
	// MaxAttachmentBytes is the upload size limit (default 50 MB, as Zendesk).
	MaxAttachmentBytes int64
	// Clock tells the time (default time.Now).
	Clock func() time.Time
	// ExportExclusion holds back tickets changed this recently from the
	// incremental export and refuses a start_time this recent. Zendesk uses
	// one minute; zero turns it off.
	ExportExclusion time.Duration
	// RequestsPerMinute caps the requests of a minute (0: no cap), answering
	// 429 with Retry-After past it, as Zendesk's account limit does.
	RequestsPerMinute int
	// AutoAssignOnSolve is the account setting "Auto-assign tickets upon
	// solve": on, an agent who solves an unassigned ticket becomes its
	// assignee; off (the default, as in a new account), setting solved or
	// closed on a ticket without an assignee answers 422 "Assignee: is
	// required when solving a ticket".
	AutoAssignOnSolve bool
	// MappedHost is the account's host-mapped domain (host[:port], e.g.
	// "support.acme.test"); when set, attachments carry a mapped_content_url
	// on it. The simulator serves every host alike; HTTPClient connects to
	// the simulator whatever host a URL names.
	MappedHost string
	// AccountID is the account's id, sent with webhook requests (default
	// 22129848).
	AccountID int64
	// WebhookTimeout bounds each webhook request (default 10 s).
	WebhookTimeout time.Duration
	// WebhookClient sends the webhook requests (default: a client that
	// does not follow redirects).
	WebhookClient *http.Client
	// Fields are the account's other custom ticket fields. Zendesk lists
	// every field on every ticket (null when empty; a checkbox false) and
	// takes a checkbox value only as a boolean.
	Fields []CustomField
}

// CustomField is a custom ticket field of the account.
type CustomField struct {
	ID int64
	// Type is "text", "textarea" or "checkbox" (Zendesk's field types).
	Type string
}

// Fault makes matching requests fail before they are served.
type Fault struct {
	// Pattern is "METHOD /path/{pattern}" as Calls counts it; "" matches
	// every request.
	Pattern string
	// Status is the HTTP status to answer (429 answers with Retry-After).
	Status int
	// RetryAfter is sent as Retry-After (whole seconds, at least 1 on a 429).
	RetryAfter time.Duration
	// Count is how many requests fail; 0 means every matching one.
	Count int
}

// Server is a running simulator.
type Server struct {
	// URL is the server's base URL (what CRM_URL holds), set by NewServer.
	URL string

	opts Options

	mu          sync.Mutex
	tickets     map[int64]*ticket
	users       map[int64]*user
	uploads     map[string][]*attachment
	nextTicket  int64
	nextUser    int64
	nextComment int64
	nextAttach  int64
	nextAudit   int64
	syncUser    *user
	requester   *user
	calls       simhttp.Counts[int]
	faults      []*Fault
	down        bool
	window      time.Time // start of the rate-limit minute
	windowCount int

	webhooks       map[string]*webhook
	nextInvocation int64
	sender         *simhttp.Sender // webhook requests in flight or waiting to retry
}

// New returns a simulator that is not listening; serve its Handler.
func New(opts Options) *Server {
	if opts.Email == "" {
		opts.Email = "sync@example.com"
	}
	if opts.APIToken == "" {
		opts.APIToken = "sim-api-token"
	}
	if opts.SyncUserName == "" {
		opts.SyncUserName = "casebridge sync"
	}
	if opts.SyncFlagFieldID == 0 {
		opts.SyncFlagFieldID = 360000000001
	}
	if opts.GoogleCaseFieldID == 0 {
		opts.GoogleCaseFieldID = 360000000002
	}
	if opts.MaxAttachmentBytes == 0 {
		opts.MaxAttachmentBytes = 50 << 20
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.AccountID == 0 {
		opts.AccountID = 22129848
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = defaultWebhookTimeout
	}
	s := &Server{
		opts:        opts,
		tickets:     map[int64]*ticket{},
		users:       map[int64]*user{},
		uploads:     map[string][]*attachment{},
		nextUser:    1000000,
		nextComment: 10000000000,
		nextAttach:  20000000000,
		nextAudit:   30000000000,
		webhooks:    map[string]*webhook{},
		sender:      newWebhookSender(opts),
	}
	s.syncUser = s.addUserLocked(opts.SyncUserName, opts.Email, "admin")
	s.requester = s.addUserLocked("Requester", "requester@example.com", "end-user")
	return s
}

// NewServer starts a simulator on a local port; it is closed when the test
// ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := New(opts)
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	tb.Cleanup(s.StopWebhooks)
	s.URL = srv.URL
	return s
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// HTTPClient returns a client that connects to the simulator for every
// host, so that a test can use Options.MappedHost as the account's URL.
func (s *Server) HTTPClient() *http.Client {
	addr := strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// accountBase is the account's Zendesk address ({subdomain}.zendesk.com):
// the server's URL, or the request's when it was not started by NewServer.
func (s *Server) accountBase(requestBase string) string {
	if s.URL != "" {
		return s.URL
	}
	return requestBase
}

func schemeOf(base string) string {
	if strings.HasPrefix(base, "https://") {
		return "https"
	}
	return "http"
}

// SyncUserID is the id of the user the credentials belong to.
func (s *Server) SyncUserID() int64 { return s.syncUser.ID }

func (s *Server) now() time.Time { return s.opts.Clock().UTC().Truncate(time.Second) }

func (s *Server) addUserLocked(name, email, role string) *user {
	s.nextUser++
	u := &user{ID: s.nextUser, Name: name, Email: email, Role: role}
	s.users[u.ID] = u
	return u
}

// agentLocked returns the agent called name, creating it if needed.
func (s *Server) agentLocked(name string) *user {
	for _, u := range s.users {
		if u.Name == name && u.Role != "end-user" {
			return u
		}
	}
	return s.addUserLocked(name, "", "agent")
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func htmlEscape(s string) string { return html.EscapeString(s) }

// Calls returns how many requests each "METHOD /path/{pattern}" received,
// failed ones included.
func (s *Server) Calls() map[string]int { return s.calls.Snapshot() }

// ResetCalls clears the request counts.
func (s *Server) ResetCalls() { s.calls.Reset() }

// InjectFault adds a fault; faults are tried in the order added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// InjectRateLimit makes the next request answer 429 with Retry-After.
func (s *Server) InjectRateLimit(retryAfter time.Duration) {
	s.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Count: 1})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetDown makes every request answer 503 (an outage) until set back.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// apiError is a Zendesk error body.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"description,omitempty"`
	Details     any    `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	errNotFound = apiError{Error: "RecordNotFound", Description: "Not found"}
	// errConflict refuses a safe update of a ticket changed since the
	// updated_stamp the caller read.
	errConflict = apiError{Error: "UpdateConflict", Description: "The ticket was updated since you last loaded it"}
	errAuth     = apiError{Error: "Couldn't authenticate you"}
)

func invalid(field, description string) apiError {
	return apiError{Error: "RecordInvalid", Description: "Record validation errors",
		Details: map[string][]map[string]any{field: {{"description": description, "error": "InvalidValue"}}}}
}

// assigneeFieldID is the id of the account's system Assignee field, named
// in the refusal to solve an unassigned ticket.
const assigneeFieldID = 360000000003

// errAssigneeRequired is Zendesk's refusal to solve a ticket without an
// assignee, in the shape Zendesk answers: the problem is on the record
// ("base"), naming the Assignee system field.
var errAssigneeRequired = apiError{Error: "RecordInvalid", Description: "Record validation errors",
	Details: map[string][]map[string]any{"base": {{"description": "Assignee: is required when solving a ticket",
		"error": nil, "ticket_field_id": assigneeFieldID, "ticket_field_type": "FieldAssignee"}}}}

func writeRetry(w http.ResponseWriter, d time.Duration, body apiError) {
	secs := int((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, body)
}

// authenticated reports whether r carries the sync user's credentials, and
// whether it carries any at all.
func (s *Server) authenticated(r *http.Request) (ok, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return false, false
	}
	if tok, found := strings.CutPrefix(h, "Bearer "); found {
		return s.opts.OAuthToken != "" && tok == s.opts.OAuthToken, true
	}
	if enc, found := strings.CutPrefix(h, "Basic "); found {
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return false, true
		}
		return string(raw) == s.opts.Email+"/token:"+s.opts.APIToken, true
	}
	return false, true
}

// pattern names a request for counting and faults, e.g.
// "GET /api/v2/tickets/{id}".
func pattern(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segs {
		seg = strings.TrimSuffix(seg, ".json")
		segs[i] = seg
		if _, err := strconv.ParseInt(seg, 10, 64); err == nil {
			segs[i] = "{id}"
		}
		if i > 0 && segs[i-1] == "token" {
			segs[i] = "{token}"
		}
		if i == 3 && segs[2] == "webhooks" {
			segs[i] = "{webhook_id}"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

// gate counts the request and applies outages, faults and the rate limit;
// it reports whether the request may be served.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, pat string) bool {
	s.calls.Add(pat)
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "ServiceUnavailable", Description: "Zendesk is temporarily unavailable"})
		return false
	}
	for i, f := range s.faults {
		if f.Pattern != "" && f.Pattern != pat {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		st, ra := f.Status, f.RetryAfter
		s.mu.Unlock()
		if st == http.StatusTooManyRequests {
			writeRetry(w, ra, apiError{Error: "APIRateLimitExceeded", Description: "Number of allowed API requests per minute exceeded"})
			return false
		}
		if ra > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
		}
		writeJSON(w, st, apiError{Error: http.StatusText(st), Description: "Injected fault"})
		return false
	}
	if limit := s.opts.RequestsPerMinute; limit > 0 {
		now := s.opts.Clock()
		if now.Sub(s.window) >= time.Minute {
			s.window, s.windowCount = now, 0
		}
		s.windowCount++
		remaining := limit - s.windowCount
		w.Header().Set("X-Rate-Limit", strconv.Itoa(limit))
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(remaining, 0)))
		if remaining < 0 {
			wait := s.window.Add(time.Minute).Sub(now)
			s.mu.Unlock()
			writeRetry(w, wait, apiError{Error: "APIRateLimitExceeded", Description: "Number of allowed API requests per minute exceeded"})
			return false
		}
	}
	s.mu.Unlock()
	return true
}

// Handler serves the simulated API. Every answer is dated by Options.Clock.
func (s *Server) Handler() http.Handler {
	return simhttp.Dated(s.opts.Clock, http.HandlerFunc(s.serve))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	pat := pattern(r.Method, r.URL.Path)
	if !s.gate(w, r, pat) {
		return
	}
	ok, present := s.authenticated(r)
	if !ok {
		if !present && pat == "GET /api/v2/users/me" {
			writeJSON(w, http.StatusOK, map[string]any{"user": userJSON{Name: "Anonymous user", Role: "end-user"}})
			return
		}
		writeJSON(w, http.StatusUnauthorized, errAuth)
		return
	}
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	if s.serveWebhooks(w, r, pat, base) {
		return
	}
	id := pathID(r.URL.Path)
	switch pat {
	case "GET /api/v2/users/me":
		s.mu.Lock()
		writeJSON(w, http.StatusOK, map[string]any{"user": userJSONFor(base, s.syncUser)})
		s.mu.Unlock()
	case "GET /api/v2/users/show_many":
		s.showManyUsers(w, r, base)
	case "GET /api/v2/users/{id}":
		s.mu.Lock()
		u, found := s.users[id]
		if !found {
			s.mu.Unlock()
			writeJSON(w, http.StatusNotFound, errNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": userJSONFor(base, u)})
		s.mu.Unlock()
	case "GET /api/v2/tickets":
		s.listTickets(w, r, base)
	case "POST /api/v2/tickets":
		s.createTicket(w, r, base)
	case "GET /api/v2/tickets/{id}":
		s.mu.Lock()
		t, found := s.tickets[id]
		if !found {
			s.mu.Unlock()
			writeJSON(w, http.StatusNotFound, errNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ticket": s.ticketJSON(base, t)})
		s.mu.Unlock()
	case "PUT /api/v2/tickets/{id}":
		s.updateTicket(w, r, base, id)
	case "GET /api/v2/tickets/{id}/tags", "POST /api/v2/tickets/{id}/tags", "PUT /api/v2/tickets/{id}/tags", "DELETE /api/v2/tickets/{id}/tags":
		s.ticketTags(w, r, base, id)
	case "GET /api/v2/tickets/{id}/comments":
		s.listComments(w, r, base, id)
	case "POST /api/v2/uploads":
		s.upload(w, r, base)
	case "GET /api/v2/incremental/tickets/cursor":
		s.exportTickets(w, r, base)
	case "GET /api/v2/search":
		s.search(w, r, base)
	case "GET /attachments/token/{token}":
		s.download(w, r)
	default:
		writeJSON(w, http.StatusNotFound, apiError{Error: "InvalidEndpoint", Description: "Not found"})
	}
}

// pathID returns the first numeric segment of path, or 0.
func pathID(path string) int64 {
	for _, seg := range strings.Split(path, "/") {
		if n, err := strconv.ParseInt(strings.TrimSuffix(seg, ".json"), 10, 64); err == nil {
			return n
		}
	}
	return 0
}
