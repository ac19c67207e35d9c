package crmhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// namedHosts returns an HTTP client whose transport sends each "host:port"
// in names to the real listener address it maps to, so that one test
// server can stand for several origins (other ports, subdomains, foreign
// hosts) as the client sees them.
func namedHosts(t *testing.T, names map[string]string) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		real, ok := names[strings.ToLower(addr)]
		if !ok {
			return nil, fmt.Errorf("the test maps no listener to %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, real)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// hop is what one request that reached a test server carried.
type hop struct {
	Host, Path, Authorization, VendorKey, Cookie string
}

// hopLog records the requests a test server receives.
type hopLog struct {
	mu   sync.Mutex
	hops []hop
}

func (l *hopLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hops = append(l.hops, hop{Host: r.Host, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
		VendorKey: r.Header.Get("X-Vendor-Key"), Cookie: r.Header.Get("Cookie")})
}

func (l *hopLog) all() []hop {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hop(nil), l.hops...)
}

// authorize sets every kind of credential a vendor may use: a header of
// its own, an Authorization header and a cookie.
func authorize(r *http.Request) {
	r.Header.Set("Authorization", "Bearer secret-token")
	r.Header.Set("X-Vendor-Key", "secret-key")
	r.AddCookie(&http.Cookie{Name: "session", Value: "secret-session"})
}

func withCredentials(host, path string) hop {
	return hop{Host: host, Path: path, Authorization: "Bearer secret-token", VendorKey: "secret-key", Cookie: "session=secret-session"}
}

func TestRedirectsCarryTheCredentialsOnlyToTrustedOrigins(t *testing.T) {
	tests := []struct {
		name    string
		base    string // BaseURL; its host:port is mapped to the test server
		to      string // the origin /start redirects to
		trusted []string
		want    []hop
	}{
		{
			name: "a redirect to another port of the same host is followed without the credentials",
			base: "http://crm.test:8001", to: "http://crm.test:8002",
			want: []hop{withCredentials("crm.test:8001", "/start"), {Host: "crm.test:8002", Path: "/file"}},
		},
		{
			name: "a redirect to a subdomain is followed without the credentials",
			base: "http://crm.test:8001", to: "http://files.crm.test:8001",
			want: []hop{withCredentials("crm.test:8001", "/start"), {Host: "files.crm.test:8001", Path: "/file"}},
		},
		{
			name: "a redirect to a foreign host is followed without any of the credentials",
			base: "http://crm.test:8001", to: "http://storage.elsewhere.test:8001",
			want: []hop{withCredentials("crm.test:8001", "/start"), {Host: "storage.elsewhere.test:8001", Path: "/file"}},
		},
		{
			name: "a redirect to a trusted download origin carries the credentials",
			base: "http://crm.test:8001", to: "http://media.vendor.test:8002", trusted: []string{"http://media.vendor.test:8002"},
			want: []hop{withCredentials("crm.test:8001", "/start"), withCredentials("media.vendor.test:8002", "/file")},
		},
		{
			name: "a trusted origin on one port does not trust another port of its host",
			base: "http://crm.test:8001", to: "http://media.vendor.test:8003", trusted: []string{"http://media.vendor.test:8002"},
			want: []hop{withCredentials("crm.test:8001", "/start"), {Host: "media.vendor.test:8003", Path: "/file"}},
		},
		{
			name: "a redirect within the base origin keeps the credentials",
			base: "http://crm.test:8001", to: "http://crm.test:8001",
			want: []hop{withCredentials("crm.test:8001", "/start"), withCredentials("crm.test:8001", "/file")},
		},
		{
			name: "a redirect to the base origin spelled with its default port keeps the credentials",
			base: "http://crm.test", to: "http://CRM.test:80",
			want: []hop{withCredentials("crm.test", "/start"), withCredentials("CRM.test:80", "/file")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &hopLog{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.add(r)
				if r.URL.Path == "/start" {
					http.Redirect(w, r, tc.to+"/file?token=t", http.StatusFound)
					return
				}
				io.WriteString(w, "file bytes")
			}))
			t.Cleanup(srv.Close)
			real := srv.Listener.Addr().String()
			names := map[string]string{}
			for _, u := range []string{tc.base, tc.to} {
				hostport := strings.ToLower(strings.TrimPrefix(u, "http://"))
				if !strings.Contains(hostport, ":") {
					hostport += ":80"
				}
				names[hostport] = real
			}
			c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: tc.base, HTTP: namedHosts(t, names),
				Authorize: authorize, TrustedOrigins: tc.trusted})
			body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/start"})
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			data, err := io.ReadAll(body)
			body.Close()
			if err != nil || string(data) != "file bytes" {
				t.Errorf("read %q, %v; want the file", data, err)
			}
			if diff := cmp.Diff(tc.want, log.all()); diff != "" {
				t.Errorf("requests the servers got (-want +got):\n%s", diff)
			}
		})
	}
}

func TestARedirectFromHTTPSToHTTPIsRefused(t *testing.T) {
	plain := &hopLog{}
	plainSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain.add(r)
		io.WriteString(w, "file bytes")
	}))
	t.Cleanup(plainSrv.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plainSrv.URL+"/file", http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: tlsSrv.URL, HTTP: tlsSrv.Client(), Authorize: authorize,
		TrustedOrigins: []string{plainSrv.URL}})
	_, err := c.Do(context.Background(), crmhttp.Request{Op: "attachments.download", Path: "/start"})
	if !errors.Is(err, crmhttp.ErrRedirect) || !casesync.IsPermanent(err) {
		t.Fatalf("error %v, want a permanent ErrRedirect", err)
	}
	if !strings.Contains(err.Error(), "https to plain http") {
		t.Errorf("error %q does not say the redirect went from https to http", err)
	}
	if got := plain.all(); len(got) != 0 {
		t.Errorf("the plain http server got %v, want no request", got)
	}
}

func TestAChainOfRedirectsIsCutAfterTheLimit(t *testing.T) {
	tests := []struct {
		name      string
		redirects int
		wantErr   bool
	}{
		{name: "a chain of exactly the limit is followed", redirects: crmhttp.MaxRedirects},
		{name: "one redirect more than the limit is refused", redirects: crmhttp.MaxRedirects + 1, wantErr: true},
		{name: "an endless chain is refused after the limit", redirects: 1000, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &hopLog{}
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.add(r)
				if n := len(log.all()); n <= tc.redirects {
					http.Redirect(w, r, fmt.Sprintf("/hop/%d", n), http.StatusTemporaryRedirect)
					return
				}
				io.WriteString(w, "{}")
			}))
			t.Cleanup(s.Close)
			c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: s.URL, HTTP: s.Client()})
			err := c.JSON(context.Background(), crmhttp.Request{Op: "tickets.get", Path: "/start"}, nil)
			wantRequests := tc.redirects + 1
			if tc.wantErr {
				wantRequests = crmhttp.MaxRedirects + 1
				if !errors.Is(err, crmhttp.ErrRedirect) || !casesync.IsPermanent(err) {
					t.Errorf("error %v, want a permanent ErrRedirect", err)
				}
			} else if err != nil {
				t.Errorf("error %v, want success", err)
			}
			if got := len(log.all()); got != wantRequests {
				t.Errorf("the server got %d requests, want %d", got, wantRequests)
			}
			if got := c.Calls()["tickets.get"]; got != 1 {
				t.Errorf("Calls()[tickets.get] = %d, want 1: redirects are hops of one attempt", got)
			}
		})
	}
}

func TestARedirectedWriteIsNotFollowed(t *testing.T) {
	log := &hopLog{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(s.Close)
	c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: s.URL, HTTP: s.Client()})
	_, err := c.Do(context.Background(), crmhttp.Request{Op: "comments.add", Method: http.MethodPost, Path: "/comments",
		Body: []byte(`{}`), Mode: crmhttp.IfRefused})
	var ae *casesync.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusFound || !casesync.IsPermanent(err) {
		t.Fatalf("error %v, want the permanent error of the 302 answer", err)
	}
	if diff := cmp.Diff([]hop{{Host: strings.TrimPrefix(s.URL, "http://"), Path: "/comments"}}, log.all()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestAnAbsoluteURLMustBeOnATrustedOrigin(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		url     string
		trusted []string
		wantErr bool
	}{
		{name: "the base origin is used", base: "http://crm.test:8001", url: "http://crm.test:8001/files/1"},
		{name: "the base origin spelled with its default port is used", base: "http://crm.test", url: "http://crm.test:80/files/1"},
		{name: "a trusted download origin is used", base: "http://crm.test:8001", url: "http://media.vendor.test:8002/files/1",
			trusted: []string{"http://media.vendor.test:8002"}},
		{name: "another port of the base host is refused", base: "http://crm.test:8001", url: "http://crm.test:8002/files/1", wantErr: true},
		{name: "a subdomain of the base host is refused", base: "http://crm.test:8001", url: "http://files.crm.test:8001/files/1", wantErr: true},
		{name: "a foreign host is refused", base: "http://crm.test:8001", url: "http://elsewhere.test:8001/files/1", wantErr: true},
		{name: "the base host over another scheme is refused", base: "https://crm.test", url: "http://crm.test:443/files/1", wantErr: true},
		{name: "a URL with a user name in it is refused", base: "http://crm.test:8001", url: "http://someone@crm.test:8001/files/1", wantErr: true},
		{name: "a trusted origin given with a path trusts nothing", base: "http://crm.test:8001", url: "http://media.vendor.test:8002/files/1",
			trusted: []string{"http://media.vendor.test:8002/files"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &hopLog{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log.add(r)
				io.WriteString(w, "file bytes")
			}))
			t.Cleanup(srv.Close)
			real := srv.Listener.Addr().String()
			names := map[string]string{}
			for _, hp := range []string{"crm.test:8001", "crm.test:8002", "crm.test:80", "crm.test:443", "files.crm.test:8001",
				"elsewhere.test:8001", "media.vendor.test:8002"} {
				names[hp] = real
			}
			c := crmhttp.New(crmhttp.Config{Vendor: "TestCRM", BaseURL: tc.base, HTTP: namedHosts(t, names),
				Authorize: authorize, TrustedOrigins: tc.trusted})
			body, err := c.Download(context.Background(), crmhttp.Request{Op: "attachments.download", URL: tc.url})
			if tc.wantErr {
				if err == nil || !casesync.IsPermanent(err) {
					t.Errorf("error %v, want a permanent refusal", err)
				}
				if got := log.all(); len(got) != 0 {
					t.Errorf("the servers got %v, want no request", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			body.Close()
			if got := log.all(); len(got) != 1 || got[0].Authorization == "" {
				t.Errorf("the servers got %v, want one request with the credentials", got)
			}
		})
	}
}
