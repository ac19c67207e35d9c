package freshdesktest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Options configures a simulator. Zero values take the defaults named.
type Options struct {
	// APIKey is the sync agent's API key (default "sim-api-key").
	APIKey string
	// AgentName and AgentEmail are the sync agent's (defaults "casebridge
	// sync" and "casebridge.sync@example.com").
	AgentName, AgentEmail string
	// Fields are the account's custom ticket fields (default
	// DefaultFields()).
	Fields []Field
	// CustomStatuses are statuses the administrator added, by number (6
	// and up), beside the stock 2 Open, 3 Pending, 4 Resolved, 5 Closed.
	CustomStatuses map[int]string
	// MaxAttachmentBytes bounds the files of one request (default 20 MB,
	// as Freshdesk).
	MaxAttachmentBytes int64
	// Clock tells the time (default time.Now).
	Clock func() time.Time
	// RequestsPerMinute is the account's limit; past it requests answer
	// 429 with Retry-After. Every answer then carries X-RateLimit-Total,
	// X-RateLimit-Remaining and X-RateLimit-Used-CurrentRequest. 0: no
	// limit and no such headers.
	RequestsPerMinute int
	// URLLifetime is how long an attachment_url stays valid (default 5
	// minutes).
	URLLifetime time.Duration
	// SearchLag holds a ticket back from the search for this long after
	// its last change (default none).
	SearchLag time.Duration
	// EndpointLimits caps the calls a minute of single endpoints, by
	// pattern as Calls counts them (e.g. "GET /api/v2/tickets"), beside
	// RequestsPerMinute, as Freshdesk's plans do (PlanLimits); past its cap
	// an endpoint answers 429 with Retry-After until the minute ends, and
	// every request counts, those refused included. nil: no such caps.
	EndpointLimits map[string]int
	// MaxListPage is the deepest page of the ticket list; a deeper one
	// answers 400 (default 300).
	MaxListPage int
	// FilesURL is the address of the host that serves attachment_url
	// (FilesHandler). NewServer starts that host on an address of its own;
	// empty, the files are served by Handler, at the address the request
	// came to.
	FilesURL string
}

// PlanLimits returns the API limits Freshdesk documents for a plan
// (support article 225439, "What are the rate limits for the API calls to
// Freshdesk?"): the account's calls a minute and the caps of single
// endpoints, as Options.RequestsPerMinute and Options.EndpointLimits take
// them. Plans are "trial" (50 a minute, no endpoint caps given), "growth",
// "pro" and "enterprise"; ok is false for another.
func PlanLimits(plan string) (perMinute int, endpoints map[string]int, ok bool) {
	caps := func(create, update, list, contacts int) map[string]int {
		return map[string]int{
			"POST /api/v2/tickets":     create,
			"PUT /api/v2/tickets/{id}": update,
			"GET /api/v2/tickets":      list,
			"GET /api/v2/contacts":     contacts,
		}
	}
	switch plan {
	case "trial":
		return 50, nil, true
	case "growth":
		return 200, caps(80, 80, 20, 20), true
	case "pro":
		return 400, caps(160, 160, 100, 100), true
	case "enterprise":
		return 700, caps(280, 280, 200, 200), true
	}
	return 0, nil, false
}

// Fault makes matching requests fail before they are served.
type Fault struct {
	// Pattern is "METHOD /path/{id}" as Calls counts it; "" matches every
	// API request.
	Pattern string
	// Status is the HTTP status to answer (429 answers with Retry-After).
	Status int
	// RetryAfter is sent as Retry-After (whole seconds, at least 1 on a
	// 429).
	RetryAfter time.Duration
	// Count is how many requests fail; 0 means every matching one.
	Count int
}

// Server is a simulated Freshdesk account.
type Server struct {
	// URL is the account's address (what CRM_URL holds), set by NewServer.
	URL string

	opts   Options
	fields map[string]Field
	secret []byte // signs attachment URLs

	mu          sync.Mutex
	tickets     map[int64]*ticket
	users       map[int64]*user
	files       map[string]*attachment // by token
	nextTicket  int64
	nextUser    int64
	nextConv    int64
	nextAttach  int64
	agent       *user
	requester   *user
	calls       simhttp.Counts[int]
	faults      []*Fault
	expireNext  int
	down        bool
	window      time.Time
	windowCount int
	// endpointCount counts the requests of each pattern in the window
	// (Options.EndpointLimits).
	endpointCount map[string]int
	// rules are the webhook automation rules (SetAutomationRules); sender
	// sends their webhooks (automations.go).
	rules  []AutomationRule
	sender *simhttp.Sender
}

// New returns a simulator that is not listening; serve its Handler.
func New(opts Options) *Server {
	if opts.APIKey == "" {
		opts.APIKey = "sim-api-key"
	}
	if opts.AgentName == "" {
		opts.AgentName = "casebridge sync"
	}
	if opts.AgentEmail == "" {
		opts.AgentEmail = "casebridge.sync@example.com"
	}
	if opts.Fields == nil {
		opts.Fields = DefaultFields()
	}
	if opts.MaxAttachmentBytes == 0 {
		opts.MaxAttachmentBytes = 20 << 20
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.URLLifetime == 0 {
		opts.URLLifetime = 5 * time.Minute
	}
	if opts.MaxListPage == 0 {
		opts.MaxListPage = 300
	}
	s := &Server{
		opts:          opts,
		fields:        map[string]Field{},
		secret:        make([]byte, 32),
		tickets:       map[int64]*ticket{},
		users:         map[int64]*user{},
		files:         map[string]*attachment{},
		endpointCount: map[string]int{},
		nextUser:      43000000000,
		nextConv:      48000000000,
		nextAttach:    49000000000,
		sender:        newWebhookSender(),
	}
	_, _ = rand.Read(s.secret)
	for _, f := range opts.Fields {
		s.fields[f.Name] = f
	}
	s.agent = s.addUserLocked(opts.AgentName, opts.AgentEmail, true)
	s.requester = s.addUserLocked("Requester", "requester@example.com", false)
	return s
}

// NewServer starts a simulator, and the host of its attachment URLs, on
// local ports; both are closed when the test ends.
func NewServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := New(opts)
	tb.Cleanup(s.CloseWebhooks)
	files := httptest.NewServer(s.FilesHandler())
	tb.Cleanup(files.Close)
	s.opts.FilesURL = files.URL
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// SyncAgentID is the id of the agent whose API key Options.APIKey is.
func (s *Server) SyncAgentID() int64 { return s.agent.ID }

func (s *Server) now() time.Time { return s.opts.Clock().UTC().Truncate(time.Second) }

func (s *Server) addUserLocked(name, email string, agent bool) *user {
	s.nextUser++
	u := &user{ID: s.nextUser, Name: name, Email: email, Agent: agent}
	s.users[u.ID] = u
	return u
}

// agentLocked returns the agent called name, creating it if needed.
func (s *Server) agentLocked(name string) *user {
	for _, u := range s.users {
		if u.Agent && u.Name == name {
			return u
		}
	}
	return s.addUserLocked(name, strings.ToLower(strings.ReplaceAll(name, " ", "."))+"@agents.example.com", true)
}

// contactLocked returns the user whose email is email, creating a contact
// if there is none, as Freshdesk does for a new requester's email.
func (s *Server) contactLocked(email string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.Email, email) {
			return u
		}
	}
	name, _, _ := strings.Cut(email, "@")
	return s.addUserLocked(name, email, false)
}

// Calls returns how many requests each "METHOD /path/{id}" received,
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

// InjectRateLimit makes the next API request answer 429 with Retry-After.
func (s *Server) InjectRateLimit(retryAfter time.Duration) {
	s.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Count: 1})
}

// ExpireAttachmentURLs makes the next n attachment downloads answer as an
// expired pre-signed URL does, whatever their expiry says, as if they had
// been listed longer ago than Options.URLLifetime.
func (s *Server) ExpireAttachmentURLs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireNext = n
}

// SetDown makes every API request answer 503 (true) or be served again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// codeError is the body of Freshdesk's errors other than validation ones.
type codeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

var (
	errAuth      = codeError{Code: "invalid_credentials", Message: "You have to be logged in to perform this action."}
	errRateLimit = codeError{Code: "rate_limit_exceeded", Message: "You have exceeded the limit of requests per minute"}
)

// notFound answers 404 with no body, as Freshdesk does for a record it
// does not hold.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
}

func writeRetry(w http.ResponseWriter, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeJSON(w, http.StatusTooManyRequests, errRateLimit)
}

// authenticated reports whether r carries the API key as Basic
// "{api_key}:X" (any password).
func (s *Server) authenticated(r *http.Request) bool {
	enc, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	if !ok {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	key, _, _ := strings.Cut(string(raw), ":")
	return hmac.Equal([]byte(key), []byte(s.opts.APIKey))
}

// pattern names a request for counting and faults, e.g.
// "GET /api/v2/tickets/{id}".
func pattern(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segs {
		if _, err := strconv.ParseInt(seg, 10, 64); err == nil {
			segs[i] = "{id}"
		}
		if i == 1 && segs[0] == "files" {
			segs[i] = "{token}"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

// gate counts the request and applies outages, faults and the rate limit;
// it reports whether the request may be served.
func (s *Server) gate(w http.ResponseWriter, pat string) bool {
	s.calls.Add(pat)
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, codeError{Code: "service_unavailable", Message: "Freshdesk is temporarily unavailable"})
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
			writeRetry(w, ra)
			return false
		}
		if ra > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
		}
		writeJSON(w, st, codeError{Code: "injected_fault", Message: http.StatusText(st)})
		return false
	}
	if limit, caps := s.opts.RequestsPerMinute, s.opts.EndpointLimits; limit > 0 || caps[pat] > 0 {
		now := s.opts.Clock()
		if now.Sub(s.window) >= time.Minute {
			s.window, s.windowCount = now, 0
			clear(s.endpointCount)
		}
		s.windowCount++
		s.endpointCount[pat]++
		remaining := limit - s.windowCount
		if limit > 0 {
			w.Header().Set("X-RateLimit-Total", strconv.Itoa(limit))
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(remaining, 0)))
			w.Header().Set("X-RateLimit-Used-CurrentRequest", "1")
		}
		if limit > 0 && remaining < 0 || caps[pat] > 0 && s.endpointCount[pat] > caps[pat] {
			wait := s.window.Add(time.Minute).Sub(now)
			s.mu.Unlock()
			writeRetry(w, wait)
			return false
		}
	}
	s.mu.Unlock()
	return true
}

// Handler serves the simulated API, and the attachment files when
// Options.FilesURL is empty. Every answer is dated by Options.Clock.
func (s *Server) Handler() http.Handler {
	return simhttp.Dated(s.opts.Clock, http.HandlerFunc(s.serve))
}

// FilesHandler serves the attachment files alone: the storage host the
// pre-signed attachment URLs point to.
func (s *Server) FilesHandler() http.Handler {
	return simhttp.Dated(s.opts.Clock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/files/") {
			s.download(w, r)
			return
		}
		http.NotFound(w, r)
	}))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/files/") && s.opts.FilesURL == "" {
		s.download(w, r)
		return
	}
	if r.URL.Path == SimAutomationsPath {
		s.serveAutomations(w, r)
		return
	}
	pat := pattern(r.Method, r.URL.Path)
	if !s.gate(w, pat) {
		return
	}
	if !s.authenticated(r) {
		writeJSON(w, http.StatusUnauthorized, errAuth)
		return
	}
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	id := pathID(r.URL.Path)
	switch pat {
	case "GET /api/v2/agents/me":
		s.mu.Lock()
		writeJSON(w, http.StatusOK, s.agentJSON(s.agent))
		s.mu.Unlock()
	case "GET /api/v2/agents/{id}":
		s.mu.Lock()
		defer s.mu.Unlock()
		if u, ok := s.users[id]; ok && u.Agent {
			writeJSON(w, http.StatusOK, s.agentJSON(u))
			return
		}
		notFound(w)
	case "GET /api/v2/contacts/{id}":
		s.mu.Lock()
		defer s.mu.Unlock()
		if u, ok := s.users[id]; ok && !u.Agent {
			writeJSON(w, http.StatusOK, map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "active": true})
			return
		}
		notFound(w)
	case "GET /api/v2/tickets":
		s.listTickets(w, r, base)
	case "POST /api/v2/tickets":
		s.createTicket(w, r, base)
	case "GET /api/v2/tickets/{id}":
		s.mu.Lock()
		defer s.mu.Unlock()
		t, ok := s.tickets[id]
		if !ok {
			notFound(w)
			return
		}
		writeJSON(w, http.StatusOK, s.ticketJSON(base, t, true))
	case "PUT /api/v2/tickets/{id}":
		s.updateTicket(w, r, base, id)
	case "GET /api/v2/tickets/{id}/conversations":
		s.listConversations(w, r, base, id)
	case "POST /api/v2/tickets/{id}/notes":
		s.addConversation(w, r, base, id, SourceNote)
	case "POST /api/v2/tickets/{id}/reply":
		s.addConversation(w, r, base, id, SourceReply)
	case "GET /api/v2/search/tickets":
		s.search(w, r, base)
	default:
		writeJSON(w, http.StatusNotFound, codeError{Code: "invalid_url", Message: "The requested URL is not found"})
	}
}

// pathID returns the first numeric segment of path, or 0.
func pathID(path string) int64 {
	for _, seg := range strings.Split(path, "/") {
		if n, err := strconv.ParseInt(seg, 10, 64); err == nil {
			return n
		}
	}
	return 0
}

// sign is the signature of a file's URL valid until expires.
func (s *Server) sign(token string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(token + "|" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
