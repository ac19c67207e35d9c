package rttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Proxy is a reverse proxy in front of an RT that can misbehave on demand:
// answer 429 with Retry-After (RT has no rate limiting of its own), or 503
// to everything while "down" (an outage). Otherwise it passes requests
// through unchanged.
type Proxy struct {
	// URL is the proxy's web root, used in place of the instance's URL.
	URL string

	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	down       bool
	rateLimits int
	retryAfter time.Duration
	requests   int
}

// NewProxy starts a proxy for the RT at target (its web root) on a free
// port of 127.0.0.1.
func NewProxy(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("proxy target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		down := p.down
		limited := p.rateLimits > 0
		wait := p.retryAfter
		if limited && !down {
			p.rateLimits--
		}
		p.mu.Unlock()
		switch {
		case down:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "<html><body><h1>503 Service Unavailable</h1></body></html>\n")
		case limited:
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"Too Many Requests"}`)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// InjectRateLimit makes the next n requests answer 429 with a Retry-After
// of retryAfter (whole seconds, at least 1).
func (p *Proxy) InjectRateLimit(n int, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rateLimits = n
	p.retryAfter = max(retryAfter, time.Second)
}

// SetDown makes every request answer 503 (true) until set back (false).
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// Requests returns how many requests reached the proxy.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}
