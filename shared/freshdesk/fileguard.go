package freshdesk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// errAddressRefused is wrapped by the error of a download whose address,
// or the address its host resolved to, is one the adapter does not fetch
// from.
var errAddressRefused = errors.New("the address is not one files are fetched from")

// fileGuard decides which hosts and addresses attachment downloads may
// reach. An attachment_url comes from Freshdesk's answer, and casebridge
// runs in Google Cloud: nothing in an answer may make it fetch from the
// metadata server, a private network or the machine itself, and then copy
// what it read to the Google case. CRM_URL's own host is the exception:
// it is the operator's choice, and a local simulator serves its files
// there.
type fileGuard struct {
	// crmHost is CRM_URL's host name, lower case, without a final dot.
	crmHost string
	// crmIP is CRM_URL's host when it is an IP address.
	crmIP netip.Addr
	// crmLoopback: CRM_URL's host is localhost.
	crmLoopback bool
}

func newFileGuard(base *url.URL) fileGuard {
	g := fileGuard{crmHost: normalHost(base.Hostname())}
	if ip, err := netip.ParseAddr(g.crmHost); err == nil {
		g.crmIP = ip.Unmap()
	}
	g.crmLoopback = g.crmHost == "localhost" || strings.HasSuffix(g.crmHost, ".localhost")
	return g
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// checkHost reports why a file's host name is not fetched from, or nil.
// CRM_URL's own host is always allowed. Any other must be a DNS name of
// at least two labels whose last is not a number: no IP address in any
// spelling, no localhost, no single-label name (which a resolver completes
// with its search domains, metadata among them), and nothing under
// .internal (metadata.google.internal and Compute Engine's internal DNS).
func (g fileGuard) checkHost(host string) error {
	h := normalHost(host)
	if h == g.crmHost {
		return nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return fmt.Errorf("%w: an IP address", errAddressRefused)
	}
	labels := strings.Split(h, ".")
	last := labels[len(labels)-1]
	switch {
	case len(labels) < 2 || last == "":
		return fmt.Errorf("%w: not a fully qualified host name", errAddressRefused)
	case strings.IndexFunc(last, func(r rune) bool { return r < '0' || r > '9' }) < 0,
		strings.HasPrefix(last, "0x"):
		return fmt.Errorf("%w: a numeric host", errAddressRefused)
	case last == "localhost", last == "internal", last == "local":
		return fmt.Errorf("%w: a local or internal host name", errAddressRefused)
	}
	return nil
}

// nat64 is the well-known NAT64 prefix, which embeds an IPv4 address.
var (
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sharedAddress = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork   = netip.MustParsePrefix("0.0.0.0/8")
)

// allowedIP reports whether a download may connect to ip: a public
// unicast address, or CRM_URL's own (its IP address, or loopback when
// CRM_URL is localhost). Loopback, link-local (the metadata server's
// 169.254.169.254 among them), private, shared, unspecified and multicast
// addresses are refused.
func (g fileGuard) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if g.crmIP.IsValid() && ip == g.crmIP || g.crmLoopback && ip.IsLoopback() {
		return true
	}
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !sharedAddress.Contains(ip) && !thisNetwork.Contains(ip)
}

// control is a net.Dialer Control function: it runs after the name is
// resolved, before each connection, so it sees the address actually
// dialled (after any redirect, and whatever DNS answered).
func (g fileGuard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !g.allowedIP(ap.Addr()) {
		return fmt.Errorf("%w: the host resolved to a loopback, link-local or private address", errAddressRefused)
	}
	return nil
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// guardedDial resolves the host itself, refuses it when any of its
// addresses is not allowed, and dials the addresses it checked through
// inner: a transport whose dialer is the caller's gets the same check.
func (g fileGuard) guardedDial(inner dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var ips []netip.Addr
		if ip, perr := netip.ParseAddr(host); perr == nil {
			ips = []netip.Addr{ip}
		} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("%w: the host has no address", errAddressRefused)
		}
		for _, ip := range ips {
			if !g.allowedIP(ip) {
				return nil, fmt.Errorf("%w: the host resolves to a loopback, link-local or private address", errAddressRefused)
			}
		}
		var last error
		for _, ip := range ips {
			conn, err := inner(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			last = err
		}
		return nil, last
	}
}

// httpClient returns the client downloads use: base's settings, without a
// proxy (the check must see the address connected to), and a dialer that
// refuses what allowedIP refuses. own says base is the adapter's default
// client: its dialer is replaced by one with a Control function. A caller's
// transport keeps its dialer, behind guardedDial. A caller's client whose
// transport is not an *http.Transport is used as it is, with the host
// rules of checkHost alone.
func (g fileGuard) httpClient(base *http.Client, own bool) *http.Client {
	hc := *base
	t, ok := base.Transport.(*http.Transport)
	if base.Transport == nil {
		t, ok = http.DefaultTransport.(*http.Transport), true
	}
	if !ok {
		return &hc
	}
	t = t.Clone()
	t.Proxy = nil
	t.DialTLSContext = nil
	t.DialTLS = nil //nolint:staticcheck // cleared so that every connection goes through the guarded dialer
	guarded := (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}).DialContext
	switch {
	case own || t.DialContext == nil && t.Dial == nil: //nolint:staticcheck
		t.DialContext = guarded
	case t.DialContext != nil:
		t.DialContext = g.guardedDial(t.DialContext)
	default:
		dial := t.Dial //nolint:staticcheck
		t.DialContext = g.guardedDial(func(_ context.Context, network, addr string) (net.Conn, error) {
			return dial(network, addr)
		})
	}
	t.Dial = nil //nolint:staticcheck
	hc.Transport = t
	return &hc
}
