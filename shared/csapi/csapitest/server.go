package csapitest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	cloudsupportbeta "google.golang.org/api/cloudsupport/v2beta"
)

// Options configures a simulated Cloud Support API. Zero values take the
// documented defaults.
type Options struct {
	// Organization is the organization the simulated caller belongs to, e.g.
	// "organizations/100". Default "organizations/100".
	Organization string
	// Projects maps project IDs to project numbers; every project is a child of
	// Organization. Default {"sandbox-project": "200"}.
	Projects map[string]string
	// CallerEmail is the identity of every API caller (the connector's service
	// account); it becomes the creator of cases, comments and attachments made
	// through the API. Default "casebridge@sandbox-project.iam.gserviceaccount.com".
	CallerEmail string
	// Clock is the source of every timestamp. Default time.Now.
	Clock func() time.Time
	// Classifications is the seeded list that cases.create validates against.
	// Default: DefaultClassifications().
	Classifications []Classification
	// Events publishes the support events of the organization's support
	// event subscriptions (see events.go); nil turns events off (the
	// subscriptions can still be managed, nothing is published).
	Events EventPublisher
}

// Classification is one entry of the case classification catalogue.
type Classification struct{ ID, DisplayName string }

// Actor is the author of a comment or attachment added through a test hook.
type Actor struct {
	DisplayName, Email, Username string
	GoogleSupport                bool
}

// DefaultClassifications returns the classifications seeded when
// Options.Classifications is empty.
func DefaultClassifications() []Classification {
	return []Classification{
		{ID: "100H41Q3DTMN0TBKCKD0SGRVNR", DisplayName: "Technical Issue > Compute > Compute Engine"},
		{ID: "100152T3DHGN0LGGCCLJ4GRVNR", DisplayName: "Technical Issue > Storage > Cloud Storage"},
		{ID: "100DQ9IQ3DKN0LG8CD3J4GRVNR", DisplayName: "Technical Issue > Databases > Cloud SQL"},
		{ID: "100IK2AKCLHMGRJ9CDGMOCGP8DM6UTB4BT262T31BT1M2T31DHNMENPO6KS36CPJ786L2TBFEHGN6NPI64R3CDHN8880G08I1H3MURR7DHII0GRCDTQM8", DisplayName: "Billing > Invoices and payments"},
	}
}

// Server is an in-memory Cloud Support API v2. It is safe for concurrent use.
type Server struct {
	org             string // "organizations/N"
	orgNumber       string
	projectByID     map[string]string // id -> number
	projectByNumber map[string]string // number -> id
	caller          string
	clock           func() time.Time
	classifications []Classification

	mu          sync.Mutex
	cases       map[string]*caseRecord // by case number
	nextCase    int64
	nextComment int64
	nextAttach  int64
	nextEmail   int64
	nextItem    int64 // feed order of comments, attachments and emails
	agentSeq    int
	faults      []*Fault
	down        bool
	searchLag   time.Duration
	escalDenied bool
	calls       map[string]int
	subs        map[string]*subscriptionRecord // support event subscriptions by id
	nextSub     int64

	events *eventQueue // nil when Options.Events is nil

	lifeMu  sync.Mutex
	url     string
	httpSrv *http.Server
	testSrv *httptest.Server
}

type caseRecord struct {
	number      string
	parent      string // canonical parent: "projects/{number}" or "organizations/{number}"
	c           cloudsupport.Case
	comments    []*commentRecord // oldest first
	attachments []*attachmentRecord
	// deleted are the attachments removed from the case, oldest first:
	// gone from the v2 methods, still in the v2beta feed.
	deleted []*attachmentRecord
	// emails are the email replies the case received, oldest first: only
	// the v2beta feed shows them.
	emails  []*emailRecord
	history []caseVersion // every state the case went through, oldest first
}

type caseVersion struct {
	at time.Time
	c  cloudsupport.Case
}

// seq in the records below is the order in which the simulator took the
// item in, which breaks ties between equal times in the case feed.

type commentRecord struct {
	at  time.Time
	seq int64
	c   cloudsupport.Comment
}

type attachmentRecord struct {
	at   time.Time
	seq  int64
	a    cloudsupport.Attachment
	data []byte
}

type emailRecord struct {
	at  time.Time
	seq int64
	m   cloudsupportbeta.EmailMessage
}

// New returns a simulator that is not listening; serve Handler yourself, or
// call Start, or use NewServer in tests.
func New(opts Options) *Server {
	if opts.Organization == "" {
		opts.Organization = "organizations/100"
	}
	if opts.Projects == nil {
		opts.Projects = map[string]string{"sandbox-project": "200"}
	}
	if opts.CallerEmail == "" {
		opts.CallerEmail = "casebridge@sandbox-project.iam.gserviceaccount.com"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if len(opts.Classifications) == 0 {
		opts.Classifications = DefaultClassifications()
	}
	s := &Server{
		org:             opts.Organization,
		orgNumber:       strings.TrimPrefix(opts.Organization, "organizations/"),
		projectByID:     map[string]string{},
		projectByNumber: map[string]string{},
		caller:          opts.CallerEmail,
		clock:           opts.Clock,
		classifications: append([]Classification(nil), opts.Classifications...),
		cases:           map[string]*caseRecord{},
		nextCase:        43595344,
		nextComment:     234567890,
		nextAttach:      1,
		nextEmail:       1,
		calls:           map[string]int{},
		subs:            map[string]*subscriptionRecord{},
		nextSub:         1,
	}
	if opts.Events != nil {
		s.events = newEventQueue(opts.Events)
	}
	for id, num := range opts.Projects {
		s.projectByID[id] = num
		s.projectByNumber[num] = id
	}
	return s
}

// NewServer starts a simulator on an httptest server bound to 127.0.0.1 and
// closes it when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s.Handler())
	s.lifeMu.Lock()
	s.testSrv = ts
	s.url = ts.URL + "/"
	s.lifeMu.Unlock()
	t.Cleanup(s.Close)
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background
// until Close.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.lifeMu.Lock()
	s.httpSrv = srv
	s.url = "http://" + ln.Addr().String() + "/"
	s.lifeMu.Unlock()
	// Serve returns http.ErrServerClosed after Close; any other failure
	// shows up to callers as refused connections.
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// URL is the base URL of a running simulator, ending in "/", suitable for
// option.WithEndpoint. It is empty until NewServer or Start.
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.url
}

// Close stops a simulator started by NewServer or Start, and its event
// publishing (events not yet published are dropped: call FlushEvents first
// to wait for them). It is safe to call more than once.
func (s *Server) Close() {
	if s.events != nil {
		s.events.close()
	}
	s.lifeMu.Lock()
	ts, hs := s.testSrv, s.httpSrv
	s.testSrv, s.httpSrv = nil, nil
	s.lifeMu.Unlock()
	if ts != nil {
		ts.CloseClientConnections()
		ts.Close()
	}
	if hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			_ = hs.Close()
		}
	}
}

// now reads the clock; the caller holds s.mu or does not need ordering.
func (s *Server) now() time.Time { return s.clock() }

// formatTime renders a timestamp the way Google's JSON mapping does: UTC,
// "Z", and 0, 3, 6 or 9 fractional digits.
func formatTime(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// parent resolution -------------------------------------------------------

// canonicalParent maps "projects/{id|number}" or "organizations/{number}" to
// the canonical form (project number). ok is false for parents outside the
// simulated organization.
func (s *Server) canonicalParent(kind, id string) (string, bool) {
	switch kind {
	case "organizations":
		if id == s.orgNumber {
			return "organizations/" + id, true
		}
	case "projects":
		if num, ok := s.projectByID[id]; ok {
			return "projects/" + num, true
		}
		if _, ok := s.projectByNumber[id]; ok {
			return "projects/" + id, true
		}
	}
	return "", false
}

func (s *Server) parseParent(parent string) (string, *APIError) {
	kind, id, ok := strings.Cut(parent, "/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errNotFound("Requested entity was not found.")
	}
	p, ok := s.canonicalParent(kind, id)
	if !ok {
		return "", errPermissionDenied("The caller does not have permission")
	}
	return p, nil
}

// lookupCase finds a case by full name; the caller holds s.mu.
func (s *Server) lookupCase(name string) (*caseRecord, *APIError) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[2] != "cases" {
		return nil, errNotFound("Requested entity was not found.")
	}
	return s.lookupCaseParts(parts[0], parts[1], parts[3])
}

func (s *Server) lookupCaseParts(kind, id, number string) (*caseRecord, *APIError) {
	p, ok := s.canonicalParent(kind, id)
	if !ok {
		return nil, errPermissionDenied("The caller does not have permission")
	}
	rec, ok := s.cases[number]
	if !ok || rec.parent != p {
		return nil, errNotFound("Requested entity was not found.")
	}
	return rec, nil
}

// inScope reports whether a case with canonical parent p is visible to a
// search under canonical parent q: an organization covers its projects.
func (s *Server) inScope(caseParent, searchParent string, includeChildren bool) bool {
	if caseParent == searchParent {
		return true
	}
	return includeChildren && strings.HasPrefix(searchParent, "organizations/") && strings.HasPrefix(caseParent, "projects/")
}

// copies ------------------------------------------------------------------

func copyActor(a *cloudsupport.Actor) *cloudsupport.Actor {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

func copyCase(c cloudsupport.Case) cloudsupport.Case {
	out := c
	if c.Classification != nil {
		cl := *c.Classification
		out.Classification = &cl
	}
	out.Creator = copyActor(c.Creator)
	if c.SubscriberEmailAddresses != nil {
		out.SubscriberEmailAddresses = append([]string(nil), c.SubscriberEmailAddresses...)
	}
	return out
}

func copyComment(c cloudsupport.Comment) cloudsupport.Comment {
	out := c
	out.Creator = copyActor(c.Creator)
	return out
}

func copyAttachment(a cloudsupport.Attachment) cloudsupport.Attachment {
	out := a
	out.Creator = copyActor(a.Creator)
	return out
}

// touch bumps the case update time to now and records the new version for
// the lagging search index; the caller holds s.mu.
func (s *Server) touch(rec *caseRecord, now time.Time) {
	if len(rec.history) > 0 {
		if last := rec.history[len(rec.history)-1].at; now.Before(last) {
			now = last
		}
	}
	rec.c.UpdateTime = formatTime(now)
	rec.history = append(rec.history, caseVersion{at: now, c: copyCase(rec.c)})
}

// sortedCases returns all cases, newest first; the caller holds s.mu.
func (s *Server) sortedCases() []*caseRecord {
	out := make([]*caseRecord, 0, len(s.cases))
	for _, rec := range s.cases {
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].history[0].at, out[j].history[0].at
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return out[i].number > out[j].number
	})
	return out
}

func (s *Server) classification(id string) (Classification, bool) {
	for _, c := range s.classifications {
		if c.ID == id {
			return c, true
		}
	}
	return Classification{}, false
}

func (s *Server) callerActor() *cloudsupport.Actor {
	return &cloudsupport.Actor{DisplayName: s.caller, Email: s.caller, Username: s.caller}
}
