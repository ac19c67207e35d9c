package salesforce

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

const vendor = "Salesforce"

// tokenPath is the OAuth 2.0 token endpoint on the org's My Domain.
const tokenPath = "/services/oauth2/token"

// Reasons Salesforce gives in its error arrays, found with errors.Is.
var (
	// ErrInvalidSession: the access token expired or was revoked (401
	// INVALID_SESSION_ID); the adapter asks for a new one.
	ErrInvalidSession = errors.New("the session is no longer valid")
	// ErrRequestLimit: the org's API request limit is used up (403
	// REQUEST_LIMIT_EXCEEDED); calls wait Config.LimitBackoff.
	ErrRequestLimit = errors.New("the org's API request limit is exceeded")
)

// standardFields are Case fields the adapter reads or writes itself; a
// configured custom field may not be one of them.
var standardFields = []string{"Id", "CaseNumber", "Subject", "Description", "Status", "IsClosed", "Priority",
	"CreatedDate", "SystemModstamp", "LastModifiedDate", "OwnerId", "Origin"}

// Client is the Salesforce Service Cloud adapter: it implements
// casesync.CRM and casesync.CaseStateCRM.
type Client struct {
	cfg  Config
	base *url.URL
	http *crmhttp.Client
	// api is the REST API's path prefix, /services/data/vNN.N.
	api string

	tokenMu sync.Mutex
	token   string // the access token; "" until asked for
	userID  string // the sync user's id, from the token answer

	statusMu sync.Mutex
	closed   map[string]bool // Status value -> IsClosed, once read

	usage        atomic.Pointer[casesync.APIUsage] // Sforce-Limit-Info api-usage
	limitedUntil atomic.Int64                      // UnixNano before which no call is made
}

var (
	_ casesync.CRM              = (*Client)(nil)
	_ casesync.CaseStateCRM     = (*Client)(nil)
	_ casesync.APIUsageReporter = (*Client)(nil)
)

// New returns an adapter for cfg. It makes no call.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.BaseURL)
	c := &Client{cfg: cfg, base: base, api: "/services/data/" + cfg.APIVersion}
	hc := cfg.HTTP
	if hc == nil {
		hc = crmhttp.DefaultHTTPClient()
	}
	watched := *hc
	next := watched.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	watched.Transport = &usageWatcher{next: next, c: c}
	c.http = crmhttp.New(crmhttp.Config{
		Vendor:  vendor,
		BaseURL: cfg.BaseURL,
		HTTP:    &watched,
		Authorize: func(r *http.Request) {
			if r.URL.Path == tokenPath {
				return // the token request carries the app's own credentials
			}
			if tok := c.currentToken(); tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		},
		CredentialVars:   cfg.credentialVars(),
		RatePerSecond:    cfg.RatePerSecond,
		MinBackoff:       cfg.MinBackoff,
		ErrorDetail:      errorDetail,
		Reason:           reason,
		MaxPages:         cfg.MaxPages,
		MaxDownloadBytes: cfg.MaxDownloadBytes,
	})
	return c, nil
}

// Calls returns how many requests each operation has made, retries
// included.
func (c *Client) Calls() map[string]int64 { return c.http.Calls() }

// APIUsage implements casesync.APIUsageReporter: the org's API requests
// used and allowed in the last 24 hours (window "day"), as the latest
// answer's Sforce-Limit-Info header gave them, At when that answer
// arrived; ok is false before any answer carried it.
func (c *Client) APIUsage() (casesync.APIUsage, bool) {
	if u := c.usage.Load(); u != nil {
		return *u, true
	}
	return casesync.APIUsage{}, false
}

// Check proves the URL and credentials work with one cheap call.
func (c *Client) Check(ctx context.Context) error {
	return c.call(ctx, func() error {
		return c.http.JSON(ctx, crmhttp.Request{Op: "limits.get", Path: c.api + "/limits"}, nil)
	})
}

// sfError is one entry of Salesforce's error array.
type sfError struct {
	ErrorCode string   `json:"errorCode"`
	Message   string   `json:"message"`
	Fields    []string `json:"fields"`
}

var codeRE = regexp.MustCompile(`^[A-Z_]{1,80}$`)

// errorCodes reads the codes of an error answer: Salesforce's array
// [{"errorCode","message","fields"}], or the OAuth endpoint's
// {"error","error_description"}. Messages are never kept: they may quote
// values.
func errorCodes(body []byte) (codes []string, fields []string) {
	var arr []sfError
	if json.Unmarshal(body, &arr) == nil {
		for _, e := range arr {
			if codeRE.MatchString(e.ErrorCode) {
				codes = append(codes, e.ErrorCode)
			}
			for _, f := range e.Fields {
				if fieldRE.MatchString(f) {
					fields = append(fields, f)
				}
			}
		}
		return codes, fields
	}
	var oauth struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" && len(oauth.Error) <= 80 {
		codes = append(codes, strings.ToUpper(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' {
				return r
			}
			return -1
		}, oauth.Error)))
	}
	return codes, fields
}

// errorDetail gives Salesforce's error codes and the fields at fault.
func errorDetail(_ int, body []byte) string {
	codes, fields := errorCodes(body)
	if len(codes) > 3 {
		codes = codes[:3]
	}
	s := strings.Join(codes, ", ")
	if len(fields) > 0 {
		if len(fields) > 5 {
			fields = fields[:5]
		}
		s += " (" + strings.Join(fields, ", ") + ")"
	}
	return s
}

// reason maps the codes Salesforce answers to the adapter's sentinels.
func reason(status int, body []byte) error {
	codes, _ := errorCodes(body)
	for _, code := range codes {
		switch code {
		case "INVALID_SESSION_ID":
			return ErrInvalidSession
		case "REQUEST_LIMIT_EXCEEDED":
			return ErrRequestLimit
		}
	}
	if status == http.StatusUnauthorized {
		return ErrInvalidSession
	}
	return nil
}

// usageWatcher reads the Sforce-Limit-Info header of every answer.
type usageWatcher struct {
	next http.RoundTripper
	c    *Client
}

func (u *usageWatcher) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := u.next.RoundTrip(r)
	if err == nil {
		if used, limit, ok := parseLimitInfo(resp.Header.Get("Sforce-Limit-Info")); ok {
			usage := casesync.APIUsage{Used: used, Max: limit, Window: casesync.APIUsageDay, At: time.Now().UTC()}
			if usage.Check() == nil {
				u.c.usage.Store(&usage)
			}
		}
	}
	return resp, err
}

// parseLimitInfo reads "api-usage=used/max" from Sforce-Limit-Info.
func parseLimitInfo(h string) (used, limit int64, ok bool) {
	if len(h) > 256 {
		return 0, 0, false
	}
	for _, part := range strings.Split(h, ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		a, b, found := strings.Cut(v, "/")
		used, err1 := strconv.ParseInt(a, 10, 64)
		limit, err2 := strconv.ParseInt(b, 10, 64)
		if found && err1 == nil && err2 == nil && used >= 0 && limit > 0 {
			return used, limit, true
		}
	}
	return 0, 0, false
}

func (c *Client) currentToken() string {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.token
}

// ensureToken asks for an access token unless one is held. There is no
// refresh token in either flow: a new one is asked for the same way.
func (c *Client) ensureToken(ctx context.Context) error {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token != "" {
		return nil
	}
	form := url.Values{}
	if c.cfg.key != nil {
		assertion, err := c.jwt()
		if err != nil {
			return &casesync.APIError{Side: casesync.SideCompany, Op: "oauth.token", Err: err}
		}
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
		form.Set("assertion", assertion)
	} else {
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		InstanceURL string `json:"instance_url"`
		ID          string `json:"id"`
	}
	req := crmhttp.Request{Op: "oauth.token", Method: http.MethodPost, Path: tokenPath,
		Body: []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded", Mode: crmhttp.Safe}
	if err := c.http.JSON(ctx, req, &out); err != nil {
		var ae *casesync.APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized) {
			// invalid_client, invalid_grant...: the sign-in was refused.
			cp := *ae
			cp.Err = fmt.Errorf("%w; Salesforce refused the sign-in: check %s and the app's setup (docs/crms/salesforce.md)",
				ae.Err, strings.Join(c.cfg.credentialVars(), ", "))
			return &cp
		}
		return err
	}
	if out.AccessToken == "" || len(out.AccessToken) > 4096 {
		return &casesync.APIError{Side: casesync.SideCompany, Op: "oauth.token", Status: http.StatusOK,
			Err: errors.New("Salesforce: the token endpoint answered no usable access token")}
	}
	if out.InstanceURL != "" {
		iu, err := url.Parse(out.InstanceURL)
		if err != nil || !strings.EqualFold(iu.Host, c.base.Host) || iu.Scheme != c.base.Scheme {
			return &casesync.APIError{Side: casesync.SideCompany, Op: "oauth.token", Err: fmt.Errorf(
				"Salesforce: the org's instance URL is on another host than CRM_URL (%s): set CRM_URL to the org's My Domain address the token answer names", c.base.Host)}
		}
	}
	// The identity URL ends in the user's id: .../id/{orgId}/{userId}.
	// Without it casebridge cannot tell its own comments and files from
	// people's and would copy them back to Google: the sign-in fails, and
	// asking again will not help.
	i := strings.LastIndexByte(out.ID, '/')
	if len(out.ID) > 2048 || i < 0 || !validID(out.ID[i+1:], "005") {
		return &casesync.APIError{Side: casesync.SideCompany, Op: "oauth.token", Status: http.StatusOK,
			Err: errors.New("Salesforce: the token answer names no user (its id URL does not end in a user id): check the app's Run As user (docs/crms/salesforce.md)")}
	}
	c.userID = to18(out.ID[i+1:])
	c.token = out.AccessToken
	return nil
}

// dropToken forgets tok, if it is still the one held.
func (c *Client) dropToken(tok string) {
	c.tokenMu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.tokenMu.Unlock()
}

// jwt makes the JWT bearer flow's assertion: RS256, issued by the app,
// for the sync user, to the login URL, valid three minutes.
func (c *Client) jwt() (string, error) {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256"}`))
	claims, err := json.Marshal(map[string]any{
		"iss": c.cfg.ClientID, "sub": c.cfg.Username, "aud": c.cfg.LoginURL,
		"exp": c.cfg.Now().Add(3 * time.Minute).Unix(),
	})
	if err != nil {
		return "", err
	}
	signed := header + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.cfg.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("Salesforce: signing the JWT: %w", err)
	}
	return signed + "." + enc.EncodeToString(sig), nil
}

// call runs fn with an access token. A 401 (the session expired) drops
// the token and runs fn once more with a new one; REQUEST_LIMIT_EXCEEDED
// turns into a transient error that asks to wait, and no call is made for
// Config.LimitBackoff after it.
func (c *Client) call(ctx context.Context, fn func() error) error {
	return c.callOnce(ctx, fn, true)
}

// callOnce is call; retry says whether fn may run again after a 401 (a
// streamed upload may not).
func (c *Client) callOnce(ctx context.Context, fn func() error, retry bool) error {
	if until := c.limitedUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return &casesync.APIError{Side: casesync.SideCompany, Op: "limits", Status: http.StatusForbidden, Transient: true,
			RetryAfter: time.Until(time.Unix(0, until)), Err: fmt.Errorf("Salesforce: %w: waiting before the next call", ErrRequestLimit)}
	}
	if err := c.ensureToken(ctx); err != nil {
		return c.limited(err)
	}
	tok := c.currentToken()
	err := fn()
	if errors.Is(err, ErrInvalidSession) {
		c.dropToken(tok)
		if !retry {
			var ae *casesync.APIError
			if errors.As(err, &ae) {
				cp := *ae
				cp.Transient = true
				return &cp
			}
			return err
		}
		if err := c.ensureToken(ctx); err != nil {
			return c.limited(err)
		}
		err = fn()
	}
	return c.limited(err)
}

// limited turns REQUEST_LIMIT_EXCEEDED into a transient error with a
// wait, and holds further calls back meanwhile.
func (c *Client) limited(err error) error {
	if !errors.Is(err, ErrRequestLimit) {
		return err
	}
	c.limitedUntil.Store(time.Now().Add(c.cfg.LimitBackoff).UnixNano())
	var ae *casesync.APIError
	if errors.As(err, &ae) {
		cp := *ae
		cp.Transient = true
		cp.RetryAfter = c.cfg.LimitBackoff
		return &cp
	}
	return err
}

// idRE is a Salesforce record id: 15 or 18 letters and digits.
var idRE = regexp.MustCompile(`^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$`)

// validID reports whether id is a record id with the key prefix prefix
// (500 Case, 005 User, 068 ContentVersion, 069 ContentDocument).
func validID(id, prefix string) bool {
	return idRE.MatchString(id) && strings.HasPrefix(id, prefix)
}

// to18 gives the 18-character form of a 15-character id (the suffix
// encodes the case of the first 15), and an 18-character id as it is.
func to18(id string) string {
	if len(id) != 15 {
		return id
	}
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

// caseID checks a case id. Anything else names no case, so it is not
// found.
func caseID(op, id string) (string, error) {
	if !validID(id, "500") {
		return "", crmhttp.NotFoundError(vendor, op, "case "+casesync.Quote(id))
	}
	return to18(id), nil
}

// soqlString quotes s as a SOQL string literal.
func soqlString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`, `"`, `\"`)
	return "'" + r.Replace(s) + "'"
}

// soqlTime writes t as a SOQL datetime literal, in whole seconds (the
// documented form), rounded down.
func soqlTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// sfTime reads a Salesforce datetime ("2026-01-02T03:04:05.678+0000").
func sfTime(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" || len(s) > 40 {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
