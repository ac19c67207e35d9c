package freshdesk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

const vendor = "Freshdesk"

// maxNames bounds the cache of user names: past it the cache starts over.
const maxNames = 10000

// Client is the Freshdesk adapter: it implements casesync.CRM and
// casesync.CaseStateCRM.
type Client struct {
	cfg  Config
	base *url.URL // cfg.BaseURL, parsed
	http *crmhttp.Client
	// files checks attachment addresses; filesHTTP is the HTTP client of
	// downloads, whose dialer refuses what files refuses.
	files     fileGuard
	filesHTTP *http.Client

	mu    sync.Mutex
	me    *fAgent          // the sync agent, once known
	names map[int64]string // user display names by id ("" when unknown)
	// fileCalls counts the downloads from pre-signed URLs, which go
	// through clients of their own (no credentials).
	fileCalls map[string]int64
	// remaining is the X-RateLimit-Remaining of the latest answer that
	// carried one, -1 before any.
	remaining atomic.Int64
	// usage is the account's API usage this minute, from the latest
	// answer that carried X-RateLimit-Total and X-RateLimit-Remaining.
	usage atomic.Pointer[casesync.APIUsage]
}

var (
	_ casesync.CRM               = (*Client)(nil)
	_ casesync.ItemLister        = (*Client)(nil)
	_ casesync.CaseStateCRM      = (*Client)(nil)
	_ casesync.CreationLookupLag = (*Client)(nil)
	_ casesync.APIUsageReporter  = (*Client)(nil)
)

func crmhttpDefaultClient() *http.Client { return crmhttp.DefaultHTTPClient() }

// New returns an adapter for cfg. It makes no call.
func New(cfg Config) (*Client, error) {
	own := cfg.HTTP == nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, err // withDefaults has parsed it already
	}
	c := &Client{cfg: cfg, base: base, names: map[int64]string{}, fileCalls: map[string]int64{}, files: newFileGuard(base)}
	c.filesHTTP = c.files.httpClient(cfg.HTTP, own)
	c.remaining.Store(-1)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.APIKey+":X"))
	c.http = crmhttp.New(crmhttp.Config{
		Vendor:           vendor,
		BaseURL:          cfg.BaseURL,
		HTTP:             cfg.HTTP,
		Authorize:        func(r *http.Request) { r.Header.Set("Authorization", auth) },
		CredentialVars:   []string{EnvAPIKey},
		RatePerSecond:    cfg.RatePerSecond,
		MinBackoff:       cfg.MinBackoff,
		MaxRetryWait:     cfg.MaxRetryWait,
		ErrorDetail:      errorDetail,
		MaxPages:         cfg.MaxPages,
		MaxDownloadBytes: cfg.MaxDownloadBytes,
	})
	return c, nil
}

// Calls returns how many requests each operation has made, retries
// included.
func (c *Client) Calls() map[string]int64 {
	out := c.http.Calls()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.fileCalls {
		out[k] += v
	}
	return out
}

// RateLimitRemaining is the X-RateLimit-Remaining Freshdesk gave with its
// latest answer (the calls left in the account's current minute); ok is
// false before any answer carried it.
func (c *Client) RateLimitRemaining() (n int64, ok bool) {
	n = c.remaining.Load()
	return n, n >= 0
}

// APIUsage implements casesync.APIUsageReporter: the account's API calls
// used and allowed in the current minute (window "minute"), as the latest
// answer carrying X-RateLimit-Total and X-RateLimit-Remaining gave them
// (used is their difference), At when that answer arrived; ok is false
// before any answer carried both.
func (c *Client) APIUsage() (casesync.APIUsage, bool) {
	if u := c.usage.Load(); u != nil {
		return *u, true
	}
	return casesync.APIUsage{}, false
}

// keepRateLimit keeps what an answer's rate-limit headers say.
func (c *Client) keepRateLimit(h http.Header) {
	remaining, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Remaining")), 10, 64)
	if err != nil || remaining < 0 {
		return
	}
	c.remaining.Store(remaining)
	if u, ok := crmhttp.UsageFromHeaders(h, "X-RateLimit-Total", "X-RateLimit-Remaining", casesync.APIUsageMinute); ok {
		c.usage.Store(&u)
	}
}

// CreationLookupLag is how long FindByGoogleCase, which reads Freshdesk's
// search index, may miss a ticket just created (FRESHDESK_SEARCH_LAG).
func (c *Client) CreationLookupLag() time.Duration { return max(c.cfg.SearchLag, 0) }

// Check proves the URL and the API key work with one cheap call (who am
// I).
func (c *Client) Check(ctx context.Context) error {
	_, err := c.whoAmI(ctx)
	return err
}

// errorDetail gives Freshdesk's error code and, for validation errors, the
// fields at fault and their codes; never its messages, which may quote
// values.
func errorDetail(_ int, body []byte) string {
	var e struct {
		Code        string `json:"code"`
		Description string `json:"description"`
		Errors      []struct {
			Field string `json:"field"`
			Code  string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	word := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if r == '_' || r == '-' || r == '.' || r == ' ' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		if len(s) > 64 {
			s = s[:64]
		}
		return s
	}
	detail := word(e.Code)
	if detail == "" && e.Description == "Validation failed" {
		detail = "Validation failed"
	}
	var parts []string
	for _, f := range e.Errors {
		if len(parts) == 10 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, word(f.Field)+": "+word(f.Code))
	}
	if len(parts) > 0 {
		detail += " (" + strings.Join(parts, ", ") + ")"
	}
	return detail
}

// Wire shapes.

type fAttachment struct {
	ID            int64     `json:"id"`
	Name          string    `json:"name"`
	ContentType   string    `json:"content_type"`
	Size          int64     `json:"size"`
	AttachmentURL string    `json:"attachment_url"`
	CreatedAt     time.Time `json:"created_at"`
}

type fTicket struct {
	ID              int64          `json:"id"`
	Subject         string         `json:"subject"`
	DescriptionText *string        `json:"description_text"`
	Status          int            `json:"status"`
	Priority        int            `json:"priority"`
	Deleted         bool           `json:"deleted"`
	CustomFields    map[string]any `json:"custom_fields"`
	Attachments     []fAttachment  `json:"attachments"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	// readAt is the Date of the answer that held the ticket: Freshdesk's
	// own clock then. It is not in the JSON.
	readAt time.Time
}

type fConversation struct {
	ID       int64  `json:"id"`
	BodyText string `json:"body_text"`
	// Private is nil when Freshdesk did not say: read as private.
	Private     *bool         `json:"private"`
	Incoming    bool          `json:"incoming"`
	UserID      int64         `json:"user_id"`
	Source      int           `json:"source"`
	Attachments []fAttachment `json:"attachments"`
	CreatedAt   time.Time     `json:"created_at"`
}

// public reports whether the conversation is one the requester sees: only
// when Freshdesk says private is false.
func (cv fConversation) public() bool { return cv.Private != nil && !*cv.Private }

type fAgent struct {
	ID      int64 `json:"id"`
	Contact struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"contact"`
}

// answer is what the adapter keeps of an answer besides its body.
type answer struct {
	at   time.Time // the Date header: Freshdesk's clock
	next string    // the link rel="next" URL, if any
}

// call makes req and decodes the JSON answer into out (nil: drained),
// keeping its Date, its next page and the rate limit left.
func (c *Client) call(ctx context.Context, req crmhttp.Request, out any) (answer, error) {
	resp, err := c.http.Do(ctx, req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{at: crmhttp.AnswerDate(resp.Header), next: nextLink(resp.Header.Values("Link"))}
	c.keepRateLimit(resp.Header)
	if out == nil {
		out = &json.RawMessage{}
	}
	if err := c.http.DecodeJSON(req.Op, resp, out); err != nil {
		return answer{}, err
	}
	return a, nil
}

// nextLink returns the URL of the rel="next" entry of Link headers, or "".
// A header longer than 4 KiB is not read.
func nextLink(values []string) string {
	for _, v := range values {
		if len(v) > 4<<10 {
			return ""
		}
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "rel") && slices.Contains(strings.Fields(strings.ToLower(strings.Trim(strings.TrimSpace(val), `"`))), "next") {
					return strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
				}
			}
		}
	}
	return ""
}

// ticketID checks a case id is a Freshdesk ticket id. Anything else names
// no ticket, so it is not found.
func ticketID(op, id string) (string, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return "", crmhttp.NotFoundError(vendor, op, "ticket "+casesync.Quote(id))
	}
	return id, nil
}

// whoAmI asks for the sync agent (GET /agents/me), without the cache.
func (c *Client) whoAmI(ctx context.Context) (fAgent, error) {
	const op = "agents.me"
	var me fAgent
	if _, err := c.call(ctx, crmhttp.Request{Op: op, Path: "/api/v2/agents/me"}, &me); err != nil {
		return fAgent{}, err
	}
	if me.ID <= 0 {
		return fAgent{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusOK,
			Err: errors.New("Freshdesk: GET /agents/me answered no agent id")}
	}
	return me, nil
}

// syncAgent returns the sync agent, asking once.
func (c *Client) syncAgent(ctx context.Context) (fAgent, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil {
		return *me, nil
	}
	a, err := c.whoAmI(ctx)
	if err != nil {
		return fAgent{}, err
	}
	c.mu.Lock()
	c.me = &a
	c.rememberLocked(a.ID, a.Contact.Name)
	c.mu.Unlock()
	return a, nil
}

func (c *Client) rememberLocked(id int64, name string) {
	if len(c.names) >= maxNames {
		c.names = map[int64]string{}
	}
	if !utf8.ValidString(name) || len(name) > 512 {
		name = ""
	}
	c.names[id] = name
}

// userNames returns the display names of ids: agents through GET
// /agents/{id}, others (requesters) through GET /contacts/{id}, each asked
// once. A user neither answers (deleted, or a right the sync agent lacks)
// is named by id.
func (c *Client) userNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		c.mu.Lock()
		name, ok := c.names[id]
		c.mu.Unlock()
		if !ok {
			var err error
			if name, err = c.lookupName(ctx, id); err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.rememberLocked(id, name)
			c.mu.Unlock()
		}
		if name == "" {
			name = fmt.Sprintf("Freshdesk user %d", id)
		}
		out[id] = name
	}
	return out, nil
}

func (c *Client) lookupName(ctx context.Context, id int64) (string, error) {
	if id <= 0 {
		return "", nil
	}
	sid := strconv.FormatInt(id, 10)
	var a fAgent
	_, err := c.call(ctx, crmhttp.Request{Op: "agents.get", Path: "/api/v2/agents/" + sid}, &a)
	if err == nil {
		return a.Contact.Name, nil
	}
	if !nameUnavailable(err) {
		return "", err
	}
	var contact struct {
		Name string `json:"name"`
	}
	_, err = c.call(ctx, crmhttp.Request{Op: "contacts.get", Path: "/api/v2/contacts/" + sid}, &contact)
	if err == nil {
		return contact.Name, nil
	}
	if !nameUnavailable(err) {
		return "", err
	}
	return "", nil
}

// nameUnavailable: the user is not of that kind, is gone, or the sync
// agent may not read it.
func nameUnavailable(err error) bool {
	var ae *casesync.APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusForbidden)
}
