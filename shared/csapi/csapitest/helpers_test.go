package csapitest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cloudsupport "google.golang.org/api/cloudsupport/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const (
	testOrg     = "organizations/100"
	testProject = "projects/sandbox-project"
	testProjNum = "projects/200"
	otherProj   = "projects/other-project"
	otherNum    = "projects/300"
	computeID   = "100H41Q3DTMN0TBKCKD0SGRVNR"
	callerEmail = "casebridge@sandbox-project.iam.gserviceaccount.com"
)

// fakeClock is a settable clock shared by a test and the simulator.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startSim starts a simulator with two projects and a fake clock, and an
// official client pointed at it.
func startSim(t *testing.T) (*Server, *cloudsupport.Service, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	s := NewServer(t, Options{
		Organization: testOrg,
		Projects:     map[string]string{"sandbox-project": "200", "other-project": "300"},
		Clock:        clk.Now,
	})
	return s, newClient(t, s), clk
}

func newClient(t *testing.T, s *Server) *cloudsupport.Service {
	t.Helper()
	svc, err := cloudsupport.NewService(context.Background(), option.WithEndpoint(s.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("building the official Cloud Support client: %v", err)
	}
	return svc
}

// apiStatus is what a caller learns from a failed call: the HTTP code and
// the canonical status in the error envelope.
type apiStatus struct {
	Code   int
	Status string
}

// statusOf decodes err as the official client reports API errors.
func statusOf(t *testing.T, err error) apiStatus {
	t.Helper()
	if err == nil {
		return apiStatus{}
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("error is %T (%v), want *googleapi.Error", err, err)
	}
	var env struct {
		Error struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
		} `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(gerr.Body), &env); jerr != nil {
		t.Fatalf("error body is not Google's JSON envelope: %v", jerr)
	}
	if env.Error.Code != gerr.Code {
		t.Errorf("envelope code %d differs from HTTP status %d", env.Error.Code, gerr.Code)
	}
	return apiStatus{Code: gerr.Code, Status: env.Error.Status}
}

// mustCreate creates a case through the console hook.
func mustCreate(t *testing.T, s *Server, parent, title, description, priority, creator string) string {
	t.Helper()
	name, err := s.CreateCase(parent, title, description, priority, creator)
	if err != nil {
		t.Fatalf("CreateCase(%q): %v", parent, err)
	}
	return name
}

// names returns the names of cases, in order.
func names(cs []*cloudsupport.Case) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// rawRequest sends a plain HTTP request and decodes a JSON answer into out
// (when out is not nil). It returns the response status.
func rawRequest(t *testing.T, method, url, contentType, body string, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("decoding answer of %s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode, resp.Header
}
