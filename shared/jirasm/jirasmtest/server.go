package jirasmtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Options configures a Server. Zero values take the defaults noted.
type Options struct {
	// Email and APIToken are the sync user's credentials. Defaults
	// "sync@example.com" and "sync-api-token".
	Email, APIToken string
	// SyncAccountID and SyncDisplayName name the sync user. Defaults
	// "sync-account-id" and "casebridge sync".
	SyncAccountID, SyncDisplayName string
	// TimeZone is the sync user's time zone: JQL dates are read in it and
	// answers carry its offset. Default UTC.
	TimeZone *time.Location
	// ProjectKey is the one project's key. Default "SUP".
	ProjectKey string
	// SyncFlagField is the checkbox custom field marking an issue for sync;
	// SyncFlagValue its one option. Defaults "customfield_10051" and "Yes".
	SyncFlagField, SyncFlagValue string
	// GoogleCaseField is the text custom field holding the Google case name.
	// Default "customfield_10050".
	GoogleCaseField string
	// Priorities are the priority names, most urgent first. Default Highest,
	// High, Medium, Low, Lowest.
	Priorities []string
	// IssueTypes are the project's issue type names. Default
	// "[System] Service request", "[System] Incident", "Task".
	IssueTypes []string
	// MaxAttachmentBytes is the largest file accepted (413 above it);
	// 0 means no limit.
	MaxAttachmentBytes int64
	// Clock tells the time. Default time.Now.
	Clock func() time.Time
	// SearchLag is how long JQL search takes to see a change: an issue
	// created less than SearchLag ago is missing from search results, and
	// one changed that recently is matched and shown as it was before.
	// Reads by key are always current. Default 0 (search is current).
	SearchLag time.Duration
	// WebhookTimeout bounds each webhook request (default 10 s).
	WebhookTimeout time.Duration
	// WebhookClient sends the webhook requests (default: a client that
	// does not follow redirects).
	WebhookClient *http.Client
	// CustomFields are the site's other custom fields, by id
	// ("customfield_10060"), as an administrator creates them and puts
	// them on the project's screens. Default none.
	CustomFields map[string]CustomField
}

// FieldType is a custom field's type, as the field's schema names it.
type FieldType string

// The custom field types the simulator models.
const (
	// FieldText is a single-line text field: a string of at most 255
	// characters.
	FieldText FieldType = "textfield"
	// FieldParagraph is a multi-line text field, which the v3 API reads
	// and writes as an Atlassian Document.
	FieldParagraph FieldType = "textarea"
	// FieldSelect is a single-choice select list: {"value": option} or
	// {"id": option id}.
	FieldSelect FieldType = "select"
	// FieldCheckboxes is a checkbox field: an array of options.
	FieldCheckboxes FieldType = "multicheckboxes"
)

// CustomField is a custom field of the site.
type CustomField struct {
	// Name is the field's name, as the changelog shows it.
	Name string
	Type FieldType
	// Options are the options of a select or checkbox field.
	Options []string
}

// Fault is an answer the server gives instead of handling a request.
type Fault struct {
	// Match is the "METHOD pattern" the fault applies to (as Requests
	// counts them); "" matches every request.
	Match string
	// Status is the HTTP status to answer, e.g. 429 or 503.
	Status int
	// RetryAfter, when set, is sent as Retry-After in whole seconds.
	RetryAfter time.Duration
	// Count is how many requests it answers; 0 means one.
	Count int
}

// Server is a running simulator. It is safe for concurrent use.
type Server struct {
	// URL is the site's base URL, e.g. http://127.0.0.1:port.
	URL string
	// MediaURL is the base URL of the media host attachments redirect to.
	MediaURL string

	opts  Options
	srv   *httptest.Server
	media *httptest.Server

	mu          sync.Mutex
	issues      []*issue
	byKey       map[string]*issue
	attachments map[string]*attachment
	byMediaID   map[string]*attachment
	accounts    map[string]string // display name → account id
	nextIssue   int
	nextID      int // comment and attachment ids
	faults      []Fault
	requests    simhttp.Counts[int]

	webhooks    map[int]*webhook
	nextWebhook int
	sender      *simhttp.Sender // webhook requests in flight or waiting to retry
}

type account struct{ ID, Name string }

type issue struct {
	id, key       string
	summary       string
	description   json.RawMessage // ADF, nil when none
	priority      string
	issueType     string
	status        string
	resolution    string
	syncFlag      bool
	googleCase    string
	reporter      account
	created       time.Time
	updated       time.Time
	resolved      time.Time
	comments      []*comment
	attachmentIDs []string
	// labels are the issue's labels, in the order added.
	labels []string
	// custom holds the values of Options.CustomFields, as the API answers
	// them; a field without a value is absent. It is replaced, never
	// changed in place, so that the versions search sees keep theirs.
	custom map[string]json.RawMessage
	// versions are what search sees, newest last, when SearchLag is set.
	versions []version
}

// version is an issue as the search index holds it from at on.
type version struct {
	at   time.Time
	snap *issue
}

type comment struct {
	id         string
	body       json.RawMessage // ADF
	properties []property
	visibility *visibility
	author     account
	created    time.Time
}

// property is an entity property of a comment.
type property struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// visibility restricts a comment to a role or group.
type visibility struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// internalProperty is the property Jira Service Management reads to keep
// a comment agent-only ({"internal": true}).
const internalProperty = "sd.public.comment"

// public reports whether the service desk shows the comment to customers.
func (c *comment) public() bool {
	for _, p := range c.properties {
		if p.Key != internalProperty {
			continue
		}
		var v struct {
			Internal bool `json:"internal"`
		}
		if json.Unmarshal(p.Value, &v) == nil && v.Internal {
			return false
		}
	}
	return true
}

type attachment struct {
	id string
	// mediaID is the file's id on Atlassian's media host: what an
	// Atlassian Document's media node names, distinct from the numeric id.
	mediaID  string
	issueKey string
	filename string
	mimeType string
	data     []byte
	author   account
	created  time.Time
}

// The workflow's statuses and their categories.
const (
	StatusWaiting         = "Waiting for support"
	StatusInProgress      = "In Progress"
	StatusWaitingCustomer = "Waiting for customer"
	StatusResolved        = "Resolved"
)

// Transition names, as GET .../transitions lists them.
const (
	TransitionResolve           = "Resolve this issue"
	TransitionProgress          = "Start progress"
	TransitionReopen            = "Reopen issue"
	TransitionRespondToCustomer = "Respond to customer"
	TransitionRespondToSupport  = "Respond to support"
)

type transition struct {
	id, name, to string
	from         []string
}

var workflow = []transition{
	{id: "11", name: TransitionProgress, to: StatusInProgress, from: []string{StatusWaiting}},
	{id: "761", name: TransitionResolve, to: StatusResolved, from: []string{StatusWaiting, StatusInProgress, StatusWaitingCustomer}},
	{id: "781", name: TransitionReopen, to: StatusWaiting, from: []string{StatusResolved}},
	{id: "851", name: TransitionRespondToCustomer, to: StatusWaitingCustomer, from: []string{StatusWaiting, StatusInProgress}},
	{id: "861", name: TransitionRespondToSupport, to: StatusWaiting, from: []string{StatusWaitingCustomer, StatusInProgress}},
}

var statuses = map[string]struct {
	id          string
	categoryID  int
	categoryKey string
	category    string
}{
	StatusWaiting:         {"10001", 2, "new", "To Do"},
	StatusInProgress:      {"3", 4, "indeterminate", "In Progress"},
	StatusWaitingCustomer: {"10003", 4, "indeterminate", "In Progress"},
	StatusResolved:        {"10002", 3, "done", "Done"},
}

// NewServer starts a simulator; it is closed when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a simulator on 127.0.0.1 outside a test (the sandbox runs
// one); Close stops it.
func Start(opts Options) *Server {
	if opts.Email == "" {
		opts.Email = "sync@example.com"
	}
	if opts.APIToken == "" {
		opts.APIToken = "sync-api-token"
	}
	if opts.SyncAccountID == "" {
		opts.SyncAccountID = "sync-account-id"
	}
	if opts.SyncDisplayName == "" {
		opts.SyncDisplayName = "casebridge sync"
	}
	if opts.TimeZone == nil {
		opts.TimeZone = time.UTC
	}
	if opts.ProjectKey == "" {
		opts.ProjectKey = "SUP"
	}
	if opts.SyncFlagField == "" {
		opts.SyncFlagField = "customfield_10051"
	}
	if opts.SyncFlagValue == "" {
		opts.SyncFlagValue = "Yes"
	}
	if opts.GoogleCaseField == "" {
		opts.GoogleCaseField = "customfield_10050"
	}
	if len(opts.Priorities) == 0 {
		opts.Priorities = []string{"Highest", "High", "Medium", "Low", "Lowest"}
	}
	if len(opts.IssueTypes) == 0 {
		opts.IssueTypes = []string{"[System] Service request", "[System] Incident", "Task"}
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = defaultWebhookTimeout
	}
	s := &Server{
		opts:        opts,
		byKey:       map[string]*issue{},
		attachments: map[string]*attachment{},
		byMediaID:   map[string]*attachment{},
		accounts:    map[string]string{},
		nextIssue:   10000,
		nextID:      10000,
		webhooks:    map[int]*webhook{},
		sender:      newWebhookSender(opts),
	}
	// Every answer is dated by Options.Clock, as the site dates its answers
	// by the clock that stamps its issues.
	s.media = httptest.NewServer(simhttp.Dated(opts.Clock, s.mediaHandler()))
	s.srv = httptest.NewServer(simhttp.Dated(opts.Clock, s.handler()))
	// The media host must be another host name, as in production, so that
	// an HTTP client drops the site's credentials on the redirect.
	s.URL, s.MediaURL = s.srv.URL, strings.Replace(s.media.URL, "127.0.0.1", "localhost", 1)
	return s
}

// Close abandons the webhook requests on their way and closes the site
// and the media host.
func (s *Server) Close() {
	s.StopWebhooks()
	s.srv.Close()
	s.media.Close()
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Email and APIToken return the sync user's credentials.
func (s *Server) Email() string    { return s.opts.Email }
func (s *Server) APIToken() string { return s.opts.APIToken }

// SyncAccountID returns the sync user's account id.
func (s *Server) SyncAccountID() string { return s.opts.SyncAccountID }

// Priorities returns the priority names, most urgent first.
func (s *Server) Priorities() []string { return slices.Clone(s.opts.Priorities) }

// MaxAttachmentBytes returns the upload limit (0: none).
func (s *Server) MaxAttachmentBytes() int64 { return s.opts.MaxAttachmentBytes }

// InjectFault makes the server answer f.Status to the next f.Count
// requests matching f.Match.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// InjectRateLimit makes the next request answer 429 with Retry-After.
func (s *Server) InjectRateLimit(retryAfter time.Duration) {
	s.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// ClearFaults drops the faults not yet answered.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns how many requests each "METHOD pattern" received,
// rejected and faulted ones included.
func (s *Server) Requests() map[string]int { return s.requests.Snapshot() }

// ResetRequests zeroes the request counts.
func (s *Server) ResetRequests() { s.requests.Reset() }

// now returns the clock's time at Jira's millisecond precision.
func (s *Server) now() time.Time { return s.opts.Clock().Truncate(time.Millisecond) }

// bump moves an issue's updated time on, strictly.
func (s *Server) bump(is *issue) {
	now := s.now()
	if !now.After(is.updated) {
		now = is.updated.Add(time.Millisecond)
	}
	is.updated = now
	s.reindex(is)
}

// reindex records the issue as search will see it once SearchLag has
// passed. Callers hold mu.
func (s *Server) reindex(is *issue) {
	if s.opts.SearchLag <= 0 {
		return
	}
	now := s.now()
	snap := *is
	snap.versions, snap.comments = nil, nil
	snap.attachmentIDs = slices.Clone(is.attachmentIDs)
	// Drop the versions no search can see any more: all but the newest of
	// those already visible.
	cutoff := now.Add(-s.opts.SearchLag)
	for len(is.versions) > 1 && !is.versions[1].at.After(cutoff) {
		is.versions = is.versions[1:]
	}
	is.versions = append(is.versions, version{at: now, snap: &snap})
}

// searchable returns the issue as search sees it now, or nil while it is
// not yet indexed. Callers hold mu.
func (s *Server) searchable(is *issue) *issue {
	if s.opts.SearchLag <= 0 {
		return is
	}
	cutoff := s.now().Add(-s.opts.SearchLag)
	for i := len(is.versions) - 1; i >= 0; i-- {
		if !is.versions[i].at.After(cutoff) {
			return is.versions[i].snap
		}
	}
	return nil
}

func (s *Server) newID() string {
	s.nextID++
	return strconv.Itoa(s.nextID)
}

// accountFor returns the account of a human by display name.
func (s *Server) accountFor(name string) account {
	id, ok := s.accounts[name]
	if !ok {
		id = fmt.Sprintf("human-%d", len(s.accounts)+1)
		s.accounts[name] = id
	}
	return account{ID: id, Name: name}
}

func (s *Server) syncAccount() account {
	return account{ID: s.opts.SyncAccountID, Name: s.opts.SyncDisplayName}
}

// lookup finds an issue by key (any case) or numeric id. Callers hold mu.
func (s *Server) lookup(idOrKey string) *issue {
	if is, ok := s.byKey[strings.ToUpper(idOrKey)]; ok {
		return is
	}
	for _, is := range s.issues {
		if is.id == idOrKey {
			return is
		}
	}
	return nil
}

// route registers a handler under a pattern that counts requests, answers
// injected faults and checks credentials.
func (s *Server) route(mux *http.ServeMux, pattern string, auth bool, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(pattern)
		s.mu.Lock()
		var fault *Fault
		for i := range s.faults {
			f := &s.faults[i]
			if f.Match == "" || f.Match == pattern {
				ff := *f
				fault = &ff
				f.Count--
				if f.Count <= 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
				break
			}
		}
		s.mu.Unlock()
		if fault != nil {
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((fault.RetryAfter+time.Second-1)/time.Second)))
			}
			msg := http.StatusText(fault.Status)
			if fault.Status == http.StatusTooManyRequests {
				w.Header().Set("RateLimit-Reason", "jira-burst-based")
				msg = "Rate limit exceeded."
			}
			writeErrors(w, fault.Status, []string{msg}, nil)
			return
		}
		if auth && !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="protected-by-api-token"`)
			w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "Client must be authenticated to access this resource.")
			return
		}
		h(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Email)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.APIToken)) == 1
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	s.route(mux, "GET /rest/api/3/myself", true, s.handleMyself)
	s.route(mux, "GET /rest/api/3/search", true, s.handleRemovedSearch)
	s.route(mux, "POST /rest/api/3/search", true, s.handleRemovedSearch)
	s.route(mux, "GET /rest/api/3/search/jql", true, s.handleSearch)
	s.route(mux, "POST /rest/api/3/search/jql", true, s.handleSearch)
	s.route(mux, "POST /rest/api/3/issue", true, s.handleCreate)
	s.route(mux, "GET /rest/api/3/issue/{issueIdOrKey}", true, s.handleGet)
	s.route(mux, "PUT /rest/api/3/issue/{issueIdOrKey}", true, s.handleEdit)
	s.route(mux, "GET /rest/api/3/issue/{issueIdOrKey}/transitions", true, s.handleTransitions)
	s.route(mux, "POST /rest/api/3/issue/{issueIdOrKey}/transitions", true, s.handleTransition)
	s.route(mux, "POST /rest/api/3/issue/{issueIdOrKey}/attachments", true, s.handleUpload)
	s.route(mux, "GET /rest/api/3/attachment/content/{id}", true, s.handleContent)
	s.route(mux, "GET /rest/api/3/issue/{issueIdOrKey}/comment", true, s.handleListComments)
	s.route(mux, "POST /rest/api/3/issue/{issueIdOrKey}/comment", true, s.handleAddComment)
	s.registerWebhookRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, []string{"No API endpoint matches " + r.Method + " " + r.URL.Path}, nil)
	})
	return mux
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeErrors answers the platform API's error body.
func writeErrors(w http.ResponseWriter, status int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	writeJSON(w, status, map[string]any{"errorMessages": messages, "errors": fields})
}

const issueNotFound = "Issue does not exist or you do not have permission to see it."

func (s *Server) handleMyself(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"self":         s.URL + "/rest/api/3/user?accountId=" + s.opts.SyncAccountID,
		"accountId":    s.opts.SyncAccountID,
		"accountType":  "atlassian",
		"emailAddress": s.opts.Email,
		"displayName":  s.opts.SyncDisplayName,
		"active":       true,
		"timeZone":     s.opts.TimeZone.String(),
		"locale":       "en_US",
	})
}

func (s *Server) handleRemovedSearch(w http.ResponseWriter, r *http.Request) {
	writeErrors(w, http.StatusGone, []string{"The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"}, nil)
}

// jiraTime renders a time the way Jira does, in the sync user's zone.
func (s *Server) jiraTime(t time.Time) string {
	return t.In(s.opts.TimeZone).Format("2006-01-02T15:04:05.000-0700")
}

func (s *Server) user(a account) map[string]any {
	return map[string]any{
		"self":        s.URL + "/rest/api/3/user?accountId=" + a.ID,
		"accountId":   a.ID,
		"displayName": a.Name,
		"active":      true,
		"timeZone":    s.opts.TimeZone.String(),
		"accountType": "atlassian",
	}
}

func (s *Server) priorityJSON(name string) any {
	if name == "" {
		return nil
	}
	i := slices.Index(s.opts.Priorities, name)
	return map[string]any{"self": s.URL + "/rest/api/3/priority/" + strconv.Itoa(i+1), "id": strconv.Itoa(i + 1), "name": name}
}

// allFields renders every field of an issue. Callers hold mu.
func (s *Server) allFields(is *issue) map[string]any {
	st := statuses[is.status]
	var atts []any
	for _, id := range is.attachmentIDs {
		atts = append(atts, s.attachmentJSON(s.attachments[id]))
	}
	if atts == nil {
		atts = []any{}
	}
	var desc any
	if is.description != nil {
		desc = is.description
	}
	var flag any
	if is.syncFlag {
		flag = []any{map[string]any{"self": s.URL + "/rest/api/3/customFieldOption/10020", "value": s.opts.SyncFlagValue, "id": "10020"}}
	}
	var gc any
	if is.googleCase != "" {
		gc = is.googleCase
	}
	var resolution, resolved any
	if is.resolution != "" {
		resolution = map[string]any{"id": "10000", "name": is.resolution}
		resolved = s.jiraTime(is.resolved)
	}
	labels := is.labels
	if labels == nil {
		labels = []string{}
	}
	out := map[string]any{
		"labels":      labels,
		"summary":     is.summary,
		"description": desc,
		"priority":    s.priorityJSON(is.priority),
		"status": map[string]any{
			"name": is.status, "id": st.id,
			"statusCategory": map[string]any{"id": st.categoryID, "key": st.categoryKey, "name": st.category},
		},
		"resolution":           resolution,
		"resolutiondate":       resolved,
		"issuetype":            map[string]any{"name": is.issueType, "id": strconv.Itoa(10003 + slices.Index(s.opts.IssueTypes, is.issueType))},
		"project":              map[string]any{"key": s.opts.ProjectKey, "id": "10000", "name": "Support"},
		"reporter":             s.user(is.reporter),
		"created":              s.jiraTime(is.created),
		"updated":              s.jiraTime(is.updated),
		"attachment":           atts,
		s.opts.SyncFlagField:   flag,
		s.opts.GoogleCaseField: gc,
	}
	for id := range s.opts.CustomFields {
		var v any
		if raw, ok := is.custom[id]; ok {
			v = raw
		}
		out[id] = v
	}
	return out
}

func (s *Server) attachmentJSON(a *attachment) map[string]any {
	return map[string]any{
		"self":     s.URL + "/rest/api/3/attachment/" + a.id,
		"id":       a.id,
		"filename": a.filename,
		"author":   s.user(a.author),
		"created":  s.jiraTime(a.created),
		"size":     len(a.data),
		"mimeType": a.mimeType,
		"content":  s.URL + "/rest/api/3/attachment/content/" + a.id,
	}
}

// issueJSON renders an issue with the fields asked for: nil means all,
// an empty list only the id. Callers hold mu.
func (s *Server) issueJSON(is *issue, fields []string, idOnly bool) map[string]any {
	if idOnly {
		return map[string]any{"id": is.id}
	}
	all := s.allFields(is)
	out := all
	if fields != nil && !slices.Contains(fields, "*all") && !slices.Contains(fields, "*navigable") {
		out = map[string]any{}
		for _, f := range fields {
			if v, ok := all[f]; ok {
				out[f] = v
			}
		}
	}
	return map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     is.id,
		"self":   s.URL + "/rest/api/3/issue/" + is.id,
		"key":    is.key,
		"fields": out,
	}
}

// fieldList reads a fields parameter (comma separated, or repeated).
func fieldList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	fields := fieldList(r.URL.Query()["fields"])
	if len(fields) == 0 {
		fields = nil
	}
	writeJSON(w, http.StatusOK, s.issueJSON(is, fields, false))
}

// searchRequest is the body of POST /rest/api/3/search/jql.
type searchRequest struct {
	JQL           string   `json:"jql"`
	NextPageToken string   `json:"nextPageToken"`
	MaxResults    *int     `json:"maxResults"`
	Fields        []string `json:"fields"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var req searchRequest
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
			return
		}
	} else {
		q := r.URL.Query()
		req.JQL = q.Get("jql")
		req.NextPageToken = q.Get("nextPageToken")
		req.Fields = fieldList(q["fields"])
		if m := q.Get("maxResults"); m != "" {
			n, err := strconv.Atoi(m)
			if err != nil {
				writeErrors(w, http.StatusBadRequest, []string{"The value '" + m + "' is invalid for maxResults."}, nil)
				return
			}
			req.MaxResults = &n
		}
	}
	query, err := parseJQL(req.JQL)
	if err != nil {
		writeErrors(w, http.StatusBadRequest, []string{err.Error()}, nil)
		return
	}
	limit := 50
	if req.MaxResults != nil {
		limit = *req.MaxResults
	}
	limit = min(max(limit, 1), 100)
	offset := 0
	if req.NextPageToken != "" {
		offset, err = decodeToken(req.NextPageToken, req.JQL)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, []string{"The provided next page token is invalid or expired."}, nil)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*issue
	for _, current := range s.issues {
		is := s.searchable(current)
		if is == nil {
			continue
		}
		ok, err := query.match(s, is)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, []string{err.Error()}, nil)
			return
		}
		if ok {
			matched = append(matched, is)
		}
	}
	query.sort(matched)
	end := min(offset+limit, len(matched))
	page := []any{}
	if offset < len(matched) {
		for _, is := range matched[offset:end] {
			page = append(page, s.issueJSON(is, req.Fields, len(req.Fields) == 0))
		}
	}
	out := map[string]any{"issues": page, "isLast": end >= len(matched)}
	if end < len(matched) {
		out["nextPageToken"] = encodeToken(end, req.JQL)
	}
	writeJSON(w, http.StatusOK, out)
}

// The page token carries the offset and the query it belongs to.
func encodeToken(offset int, jql string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + "\x00" + jql))
}

func decodeToken(token, jql string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, err
	}
	off, q, ok := strings.Cut(string(b), "\x00")
	if !ok || q != jql {
		return 0, fmt.Errorf("token of another query")
	}
	return strconv.Atoi(off)
}

// issueInput is the body of POST and PUT /rest/api/3/issue.
type issueInput struct {
	Fields map[string]json.RawMessage `json:"fields"`
	Update map[string]json.RawMessage `json:"update"`
}

// nameOrID is how Jira names a project, issue type, priority or option.
type nameOrID struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// applyFields validates and applies fields to is; it returns Jira's field
// errors. Callers hold mu.
func (s *Server) applyFields(is *issue, fields map[string]json.RawMessage, creating bool) (map[string]string, bool) {
	errs := map[string]string{}
	changed := false
	next := *is
	next.labels = slices.Clone(is.labels)
	next.custom = maps.Clone(is.custom)
	for name, raw := range fields {
		isNull := string(raw) == "null"
		switch name {
		case "project":
			if !creating {
				errs[name] = "Field 'project' cannot be set. It is not on the appropriate screen, or unknown."
				continue
			}
			var p nameOrID
			if json.Unmarshal(raw, &p) != nil || (p.Key != s.opts.ProjectKey && p.ID != "10000") {
				errs[name] = "valid project is required"
			}
		case "issuetype":
			var t nameOrID
			if json.Unmarshal(raw, &t) != nil {
				errs[name] = "The issue type selected is invalid."
				continue
			}
			found := ""
			for i, n := range s.opts.IssueTypes {
				if n == t.Name || (t.ID != "" && t.ID == strconv.Itoa(10003+i)) {
					found = n
				}
			}
			if found == "" {
				errs[name] = "Specify a valid issue type"
				continue
			}
			next.issueType = found
		case "summary":
			var v string
			switch {
			case json.Unmarshal(raw, &v) != nil:
				errs[name] = "Operation value must be a string"
			case strings.TrimSpace(v) == "":
				errs[name] = "You must specify a summary of the issue."
			case strings.ContainsAny(v, "\r\n"):
				errs[name] = "The summary is invalid because it contains newline characters."
			case len([]rune(v)) > 255:
				errs[name] = "Summary must be less than 255 characters."
			default:
				next.summary = v
			}
		case "description":
			if isNull {
				next.description = nil
				continue
			}
			if !validADF(raw) {
				errs[name] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
				continue
			}
			next.description = slices.Clone(raw)
		case "priority":
			var p nameOrID
			if json.Unmarshal(raw, &p) != nil {
				errs[name] = "Specify the Priority (id or name) in the string format"
				continue
			}
			found := ""
			for i, n := range s.opts.Priorities {
				if n == p.Name || (p.ID != "" && p.ID == strconv.Itoa(i+1)) {
					found = n
				}
			}
			if found == "" {
				errs[name] = "Specify a valid value for priority"
				continue
			}
			next.priority = found
		case s.opts.GoogleCaseField:
			var v string
			if !isNull && json.Unmarshal(raw, &v) != nil {
				errs[name] = "Operation value must be a string"
				continue
			}
			if len([]rune(v)) > 255 {
				errs[name] = "The entered text is too long. It exceeds the allowed limit of 255 characters."
				continue
			}
			next.googleCase = v
		case s.opts.SyncFlagField:
			var opts []nameOrID
			if !isNull && json.Unmarshal(raw, &opts) != nil {
				errs[name] = "Specify the value for " + name + " in an array"
				continue
			}
			flag := false
			for _, o := range opts {
				if o.Value != s.opts.SyncFlagValue && o.ID != "10020" {
					errs[name] = "Option value '" + o.Value + "' is not valid"
				}
				flag = true
			}
			next.syncFlag = flag
		case "labels":
			var labels []string
			if !isNull && json.Unmarshal(raw, &labels) != nil {
				errs[name] = "Specify the labels in an array of strings"
				continue
			}
			if msg := checkLabels(labels); msg != "" {
				errs[name] = msg
				continue
			}
			next.labels = dedupe(labels)
		default:
			f, ok := s.opts.CustomFields[name]
			if !ok {
				errs[name] = "Field '" + name + "' cannot be set. It is not on the appropriate screen, or unknown."
				continue
			}
			v, msg := s.customValue(name, f, raw)
			if msg != "" {
				errs[name] = msg
				continue
			}
			if next.custom == nil {
				next.custom = map[string]json.RawMessage{}
			}
			if v == nil {
				delete(next.custom, name)
			} else {
				next.custom[name] = v
			}
		}
	}
	if creating {
		if _, ok := fields["project"]; !ok {
			errs["project"] = "Specify a valid project ID or key"
		}
		if _, ok := fields["issuetype"]; !ok {
			errs["issuetype"] = "Specify an issue type"
		}
		if _, ok := fields["summary"]; !ok {
			errs["summary"] = "You must specify a summary of the issue."
		}
	}
	if len(errs) > 0 {
		return errs, false
	}
	changed = next.summary != is.summary || string(next.description) != string(is.description) ||
		next.priority != is.priority || next.issueType != is.issueType ||
		next.googleCase != is.googleCase || next.syncFlag != is.syncFlag ||
		!slices.Equal(next.labels, is.labels) || !sameCustom(next.custom, is.custom)
	comments, atts := is.comments, is.attachmentIDs
	*is = next
	is.comments, is.attachmentIDs = comments, atts
	return nil, changed
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in issueInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Fields == nil {
		writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := &issue{status: StatusWaiting, reporter: s.syncAccount()}
	if errs, _ := s.applyFields(is, in.Fields, true); errs != nil {
		writeErrors(w, http.StatusBadRequest, nil, errs)
		return
	}
	s.add(is)
	s.issueCreatedLocked(is)
	writeJSON(w, http.StatusCreated, map[string]any{"id": is.id, "key": is.key, "self": s.URL + "/rest/api/3/issue/" + is.id})
}

// add gives a new issue its id, key and times. Callers hold mu.
func (s *Server) add(is *issue) {
	s.nextIssue++
	is.id = strconv.Itoa(s.nextIssue)
	is.key = fmt.Sprintf("%s-%d", s.opts.ProjectKey, len(s.issues)+1)
	is.created = s.now()
	is.updated = is.created
	if is.priority == "" {
		is.priority = s.opts.Priorities[len(s.opts.Priorities)/2]
	}
	if is.issueType == "" {
		is.issueType = s.opts.IssueTypes[0]
	}
	s.issues = append(s.issues, is)
	s.byKey[is.key] = is
	s.reindex(is)
}

func (s *Server) handleEdit(w http.ResponseWriter, r *http.Request) {
	var in issueInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	before := *is
	fields, errs := s.withUpdate(is, in.Fields, in.Update)
	if errs != nil {
		writeErrors(w, http.StatusBadRequest, nil, errs)
		return
	}
	errs, changed := s.applyFields(is, fields, false)
	if errs != nil {
		writeErrors(w, http.StatusBadRequest, nil, errs)
		return
	}
	if changed {
		s.bump(is)
		s.issueUpdatedLocked(is, s.syncAccount(), "issue_updated", s.changelog(&before, is))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) transitionsFrom(status string) []transition {
	var out []transition
	for _, t := range workflow {
		if slices.Contains(t.from, status) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) handleTransitions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	list := []any{}
	for _, t := range s.transitionsFrom(is.status) {
		st := statuses[t.to]
		list = append(list, map[string]any{
			"id": t.id, "name": t.name, "hasScreen": false, "isGlobal": false, "isInitial": false, "isAvailable": true, "isConditional": false,
			"to": map[string]any{
				"name": t.to, "id": st.id,
				"statusCategory": map[string]any{"id": st.categoryID, "key": st.categoryKey, "name": st.category},
			},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": list})
}

func (s *Server) handleTransition(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Transition nameOrID                   `json:"transition"`
		Fields     map[string]json.RawMessage `json:"fields"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	resolution := "Done"
	if raw, ok := in.Fields["resolution"]; ok {
		var res nameOrID
		if json.Unmarshal(raw, &res) != nil || res.Name == "" {
			writeErrors(w, http.StatusBadRequest, nil, map[string]string{"resolution": "Specify a valid resolution name"})
			return
		}
		resolution = res.Name
	}
	if err := s.transition(is, s.syncAccount(), in.Transition.ID, resolution); err != "" {
		writeErrors(w, http.StatusBadRequest, []string{err}, nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// transition moves an issue along the workflow as actor; it returns
// Jira's error message, or "". Callers hold mu.
func (s *Server) transition(is *issue, actor account, id, resolution string) string {
	for _, t := range s.transitionsFrom(is.status) {
		if t.id != id {
			continue
		}
		items := []changeItem{{Field: "status", FieldType: "jira", FieldID: "status",
			From: statuses[is.status].id, FromString: is.status, To: statuses[t.to].id, ToString: t.to}}
		if statuses[t.to].categoryKey == "done" {
			items = append(items, changeItem{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: "10000", ToString: resolution})
		} else if is.resolution != "" {
			items = append(items, changeItem{Field: "resolution", FieldType: "jira", FieldID: "resolution", From: "10000", FromString: is.resolution})
		}
		is.status = t.to
		if statuses[t.to].categoryKey == "done" {
			is.resolution = resolution
			is.resolved = s.now()
		} else {
			is.resolution = ""
			is.resolved = time.Time{}
		}
		s.bump(is)
		s.issueUpdatedLocked(is, actor, "issue_generic", items)
		return ""
	}
	return "Transition id '" + id + "' is not valid for this issue."
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("X-Atlassian-Token"), "no-check") {
		w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "XSRF check failed")
		return
	}
	s.mu.Lock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	s.mu.Unlock()
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeErrors(w, http.StatusBadRequest, []string{"The request is not a multipart upload."}, nil)
		return
	}
	type file struct {
		name, mimeType string
		data           []byte
	}
	var files []file
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeErrors(w, http.StatusBadRequest, []string{"The multipart body could not be read."}, nil)
			return
		}
		if part.FormName() != "file" {
			continue
		}
		var src io.Reader = part
		if limit := s.opts.MaxAttachmentBytes; limit > 0 {
			src = io.LimitReader(part, limit+1)
		}
		data, err := io.ReadAll(src)
		if err != nil {
			writeErrors(w, http.StatusBadRequest, []string{"The multipart body could not be read."}, nil)
			return
		}
		if limit := s.opts.MaxAttachmentBytes; limit > 0 && int64(len(data)) > limit {
			// Jira stops reading and refuses the whole request.
			w.Header().Set("Connection", "close")
			writeErrors(w, http.StatusRequestEntityTooLarge, []string{fmt.Sprintf("The attachment exceeds the maximum attachment size of %d bytes.", limit)}, nil)
			return
		}
		mt := part.Header.Get("Content-Type")
		if mt == "" {
			mt = "application/octet-stream"
		}
		files = append(files, file{name: part.FileName(), mimeType: mt, data: data})
	}
	if len(files) == 0 {
		writeErrors(w, http.StatusBadRequest, []string{"No file was attached under the name 'file'."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, f := range files {
		a := s.attach(is, s.syncAccount(), f.name, f.mimeType, f.data)
		out = append(out, s.attachmentJSON(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// attach stores a file on an issue. Callers hold mu.
func (s *Server) attach(is *issue, author account, filename, mimeType string, data []byte) *attachment {
	a := &attachment{id: s.newID(), issueKey: is.key, filename: filename, mimeType: mimeType,
		data: slices.Clone(data), author: author, created: s.now()}
	a.mediaID = s.newMediaID()
	s.attachments[a.id] = a
	s.byMediaID[a.mediaID] = a
	is.attachmentIDs = append(is.attachmentIDs, a.id)
	s.bump(is)
	s.issueUpdatedLocked(is, author, "issue_updated", []changeItem{{Field: "Attachment", FieldType: "jira", FieldID: "attachment", To: a.id, ToString: filename}})
	return a
}

func (s *Server) handleContent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a, ok := s.attachments[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeErrors(w, http.StatusNotFound, []string{"The attachment with id '" + r.PathValue("id") + "' does not exist."}, nil)
		return
	}
	if r.URL.Query().Get("redirect") == "false" {
		serveFile(w, a)
		return
	}
	http.Redirect(w, r, s.MediaURL+"/file/"+a.mediaID+"/binary?token="+s.mediaToken(a.mediaID), http.StatusSeeOther)
}

// newMediaID makes a media file id, a UUID as the media host gives them.
// Callers hold mu.
func (s *Server) newMediaID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// mediaToken stands for the short-lived token Atlassian's media host
// checks instead of the site's credentials.
func (s *Server) mediaToken(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("media:" + id))
}

// serveFile writes the stored bytes as they are, never a copy of them, so
// that a large download costs the simulator no memory.
func serveFile(w http.ResponseWriter, a *attachment) {
	w.Header().Set("Content-Type", a.mimeType)
	w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
	w.WriteHeader(http.StatusOK)
	w.Write(a.data)
}

func (s *Server) mediaHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /file/{id}/binary", func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add("GET (media) /file/{id}/binary")
		s.mu.Lock()
		a, ok := s.byMediaID[r.PathValue("id")]
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			// The site's credentials must not leak to the media host.
			http.Error(w, "unexpected credentials", http.StatusBadRequest)
			return
		}
		if !ok || r.URL.Query().Get("token") != s.mediaToken(r.PathValue("id")) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		serveFile(w, a)
	})
	return mux
}

// commentJSON renders a comment as the platform API does; its properties
// only when asked for with expand=properties.
func (s *Server) commentJSON(is *issue, c *comment, withProperties bool) map[string]any {
	out := map[string]any{
		"self":         s.URL + "/rest/api/3/issue/" + is.id + "/comment/" + c.id,
		"id":           c.id,
		"author":       s.user(c.author),
		"body":         c.body,
		"updateAuthor": s.user(c.author),
		"created":      s.jiraTime(c.created),
		"updated":      s.jiraTime(c.created),
		"jsdPublic":    c.public(),
	}
	if c.visibility != nil {
		out["visibility"] = map[string]any{"type": c.visibility.Type, "value": c.visibility.Value, "identifier": c.visibility.Value}
	}
	if withProperties {
		props := []any{}
		for _, p := range c.properties {
			props = append(props, map[string]any{"key": p.Key, "value": p.Value})
		}
		out["properties"] = props
	}
	return out
}

// maxCommentPage is the largest page of comments Jira gives.
const maxCommentPage = 5000

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, limit := 0, maxCommentPage
	for name, dst := range map[string]*int{"startAt": &start, "maxResults": &limit} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeErrors(w, http.StatusBadRequest, []string{"The value '" + v + "' is invalid for " + name + "."}, nil)
				return
			}
			*dst = n
		}
	}
	limit = min(max(limit, 1), maxCommentPage)
	newestFirst := false
	switch q.Get("orderBy") {
	case "", "created", "+created":
	case "-created":
		newestFirst = true
	default:
		writeErrors(w, http.StatusBadRequest, []string{"Invalid orderBy value: only created, +created and -created are allowed."}, nil)
		return
	}
	withProperties := slices.Contains(fieldList(q["expand"]), "properties")
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	ordered := slices.Clone(is.comments)
	if newestFirst {
		slices.Reverse(ordered)
	}
	list := []any{}
	end := min(start+limit, len(ordered))
	if start < len(ordered) {
		for _, c := range ordered[start:end] {
			list = append(list, s.commentJSON(is, c, withProperties))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"startAt": start, "maxResults": limit, "total": len(ordered), "comments": list})
}

func (s *Server) handleAddComment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body       json.RawMessage `json:"body"`
		Visibility *visibility     `json:"visibility"`
		Properties []property      `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	is := s.lookup(r.PathValue("issueIdOrKey"))
	if is == nil {
		writeErrors(w, http.StatusNotFound, []string{issueNotFound}, nil)
		return
	}
	switch {
	case len(in.Body) == 0 || string(in.Body) == "null" || emptyADF(in.Body):
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	case !validADF(in.Body):
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"comment": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"})
		return
	}
	if v := in.Visibility; v != nil && ((v.Type != "role" && v.Type != "group") || v.Value == "") {
		writeErrors(w, http.StatusBadRequest, nil, map[string]string{"visibility": "The visibility must name a role or group."})
		return
	}
	for _, p := range in.Properties {
		if p.Key == "" || len(p.Key) > 255 || len(p.Value) == 0 || !json.Valid(p.Value) {
			writeErrors(w, http.StatusBadRequest, nil, map[string]string{"properties": "Each property needs a key of at most 255 characters and a JSON value."})
			return
		}
	}
	c := s.comment(is, s.syncAccount(), in.Body, in.Properties, in.Visibility)
	writeJSON(w, http.StatusCreated, s.commentJSON(is, c, false))
}

// comment adds a comment to an issue. Callers hold mu.
func (s *Server) comment(is *issue, author account, body json.RawMessage, props []property, vis *visibility) *comment {
	c := &comment{id: s.newID(), body: slices.Clone(body), author: author, created: s.now(), visibility: vis}
	for _, p := range props {
		c.properties = append(c.properties, property{Key: p.Key, Value: slices.Clone(p.Value)})
	}
	is.comments = append(is.comments, c)
	s.bump(is)
	s.commentCreatedLocked(is, c)
	return c
}
