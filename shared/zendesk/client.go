package zendesk

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

const vendor = "Zendesk"

// Client is the Zendesk Support adapter: it implements casesync.CRM.
type Client struct {
	cfg  Config
	base *url.URL // cfg.BaseURL, parsed
	http *crmhttp.Client

	mu    sync.Mutex
	me    *zUser           // the sync user, once known
	names map[int64]string // user display names by id

	// usage is the account's API usage the latest answer's X-Rate-Limit
	// and X-Rate-Limit-Remaining gave.
	usage atomic.Pointer[casesync.APIUsage]
}

var _ casesync.CRM = (*Client)(nil)
var _ casesync.ItemLister = (*Client)(nil)
var _ casesync.APIUsageReporter = (*Client)(nil)

// New returns an adapter for cfg. It makes no call.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, err // withDefaults has parsed it already
	}
	c := &Client{cfg: cfg, base: base, names: map[int64]string{}}
	var auth string
	if cfg.OAuthToken != "" {
		auth = "Bearer " + cfg.OAuthToken
	} else {
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Email+"/token:"+cfg.APIToken))
	}
	c.http = crmhttp.New(crmhttp.Config{
		Vendor:           vendor,
		BaseURL:          cfg.BaseURL,
		HTTP:             cfg.HTTP,
		Authorize:        func(r *http.Request) { r.Header.Set("Authorization", auth) },
		CredentialVars:   cfg.credentialVars(),
		RatePerSecond:    cfg.RatePerSecond,
		MinBackoff:       cfg.MinBackoff,
		MaxRetryWait:     cfg.MaxRetryWait,
		ErrorDetail:      errorDetail,
		MaxPages:         cfg.MaxPages,
		MaxDownloadBytes: cfg.MaxDownloadBytes,
		OnAnswer: func(h http.Header) {
			if u, ok := crmhttp.UsageFromHeaders(h, "X-Rate-Limit", "X-Rate-Limit-Remaining", casesync.APIUsageMinute); ok {
				c.usage.Store(&u)
			}
		},
	})
	return c, nil
}

// APIUsage implements casesync.APIUsageReporter: the account's requests
// used and allowed in the current minute, as the latest answer's
// X-Rate-Limit and X-Rate-Limit-Remaining gave them; ok is false before
// any answer carried both.
func (c *Client) APIUsage() (casesync.APIUsage, bool) {
	if u := c.usage.Load(); u != nil {
		return *u, true
	}
	return casesync.APIUsage{}, false
}

// Calls returns how many requests each operation has made, retries
// included.
func (c *Client) Calls() map[string]int64 { return c.http.Calls() }

// Check proves the URL and credentials work with one cheap call (who am I).
func (c *Client) Check(ctx context.Context) error {
	_, err := c.whoAmI(ctx)
	return err
}

// errorDetail gives Zendesk's error code (and, for validation errors, the
// fields at fault), never its descriptions, which may quote values.
func errorDetail(_ int, body []byte) string {
	var e struct {
		Error   json.RawMessage            `json:"error"`
		Details map[string]json.RawMessage `json:"details"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var code string
	if json.Unmarshal(e.Error, &code) != nil {
		var obj struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(e.Error, &obj)
		code = obj.Title
	}
	if len(code) > 80 {
		code = code[:80]
	}
	if len(e.Details) > 0 {
		var fields []string
		for f := range e.Details {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		code += " (" + strings.Join(fields, ", ") + ")"
	}
	return code
}

// Wire shapes.

type zField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

type zTicket struct {
	ID          int64     `json:"id"`
	ExternalID  *string   `json:"external_id"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Subject     string    `json:"subject"`
	Description string    `json:"description"`
	// IsPublic is Zendesk's "any comment is public"; nil when not sent.
	IsPublic     *bool    `json:"is_public"`
	Priority     *string  `json:"priority"`
	Status       string   `json:"status"`
	AssigneeID   *int64   `json:"assignee_id"`
	Tags         []string `json:"tags"`
	CustomFields []zField `json:"custom_fields"`
	// readAt is the Date of the answer that held the ticket: Zendesk's own
	// clock then. It is not in the JSON.
	readAt time.Time
}

type zUser struct {
	ID   *int64 `json:"id"`
	Name string `json:"name"`
}

type zAttachment struct {
	ID         int64  `json:"id"`
	FileName   string `json:"file_name"`
	ContentURL string `json:"content_url"`
	// MappedContentURL is the file's address on the account's host-mapped
	// domain (the same as ContentURL when the account has none).
	MappedContentURL string `json:"mapped_content_url"`
	ContentType      string `json:"content_type"`
	Size             int64  `json:"size"`
}

type zComment struct {
	ID          int64         `json:"id"`
	Type        string        `json:"type"`
	AuthorID    int64         `json:"author_id"`
	Body        string        `json:"body"`
	Public      bool          `json:"public"`
	Attachments []zAttachment `json:"attachments"`
	CreatedAt   time.Time     `json:"created_at"`
}

type zAudit struct {
	CreatedAt time.Time  `json:"created_at"`
	Events    []zComment `json:"events"` // only the Comment events are read
}

// checkbox reads a checkbox field's value.
func checkbox(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, _ := strconv.ParseBool(x)
		return b
	}
	return false
}

func (t zTicket) field(id int64) any {
	for _, f := range t.CustomFields {
		if f.ID == id {
			return f.Value
		}
	}
	return nil
}

func (c *Client) googleCaseOf(t zTicket) string {
	s, _ := t.field(c.cfg.GoogleCaseFieldID).(string)
	return s
}

// toCase converts a ticket, without its description: Zendesk's description
// field is the first comment's text whatever that comment's visibility, so
// only withDescription, which checks it, fills it in.
func (c *Client) toCase(t zTicket) casesync.CompanyCase {
	cc := casesync.CompanyCase{
		ID:         strconv.FormatInt(t.ID, 10),
		Subject:    t.Subject,
		Closed:     slices.Contains(c.cfg.ClosedStatuses, t.Status),
		SyncFlag:   checkbox(t.field(c.cfg.SyncFlagFieldID)),
		GoogleCase: c.googleCaseOf(t),
		CreateTime: t.CreatedAt.UTC(),
		UpdateTime: t.UpdatedAt.UTC(),
		Escalation: c.escalationOf(t),
		ReadAt:     t.readAt,
	}
	if t.Priority != nil {
		cc.Priority = *t.Priority
	}
	return cc
}

// ticketID checks a case id is a Zendesk ticket id. Anything else names no
// ticket, so it is not found.
func ticketID(op, id string) (string, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return "", crmhttp.NotFoundError(vendor, op, "ticket "+casesync.Quote(id))
	}
	return strconv.FormatInt(n, 10), nil
}

// whoAmI asks for the sync user, without the cache.
func (c *Client) whoAmI(ctx context.Context) (zUser, error) {
	const op = "users.me"
	var out struct {
		User zUser `json:"user"`
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: op, Path: "/api/v2/users/me.json"}, &out); err != nil {
		return zUser{}, err
	}
	if out.User.ID == nil {
		// Zendesk answers the anonymous user when no credentials came through.
		return zUser{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusUnauthorized,
			Err: &crmhttp.StatusError{Vendor: vendor, Status: http.StatusUnauthorized, Detail: "answered as the anonymous user", CredentialVars: c.cfg.credentialVars()}}
	}
	return out.User, nil
}

// syncUser returns the sync user, asking once.
func (c *Client) syncUser(ctx context.Context) (zUser, error) {
	c.mu.Lock()
	me := c.me
	c.mu.Unlock()
	if me != nil {
		return *me, nil
	}
	u, err := c.whoAmI(ctx)
	if err != nil {
		return zUser{}, err
	}
	c.mu.Lock()
	c.me = &u
	c.names[*u.ID] = u.Name
	c.mu.Unlock()
	return u, nil
}

// userNames returns the display names of ids, asking for those not known.
func (c *Client) userNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	var missing []string
	c.mu.Lock()
	for _, id := range ids {
		if n, ok := c.names[id]; ok {
			out[id] = n
		} else if !slices.Contains(missing, strconv.FormatInt(id, 10)) {
			missing = append(missing, strconv.FormatInt(id, 10))
		}
	}
	c.mu.Unlock()
	for len(missing) > 0 {
		batch := missing[:min(len(missing), 100)]
		missing = missing[len(batch):]
		var resp struct {
			Users []zUser `json:"users"`
		}
		req := crmhttp.Request{Op: "users.show_many", Path: "/api/v2/users/show_many.json", Query: map[string][]string{"ids": {strings.Join(batch, ",")}}}
		if err := c.http.JSON(ctx, req, &resp); err != nil {
			return nil, err
		}
		c.remember(resp.Users)
		for _, u := range resp.Users {
			if u.ID != nil {
				out[*u.ID] = u.Name
			}
		}
	}
	return out, nil
}

func (c *Client) remember(users []zUser) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, u := range users {
		if u.ID != nil {
			c.names[*u.ID] = u.Name
		}
	}
}
