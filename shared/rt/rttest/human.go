package rttest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultAuthor is the human agent who acts when no author is named.
const DefaultAuthor = "Alice Agent"

// PriorityNumbers is RT 5's default PriorityAsString table: the number RT
// stores for each priority name.
var PriorityNumbers = map[string]int{"Low": 0, "Medium": 50, "High": 100}

// Human acts as the helpdesk's human agents over REST2. Each author name is
// an RT user whose RealName is that name, created by root on first use and
// made a member of the "Human Agents" group. It is safe for concurrent use.
type Human struct {
	base    string // REST2 base URL
	rootPW  string
	agentPW string
	http    *http.Client

	mu      sync.Mutex
	logins  map[string]string // author name -> login
	groupID int
}

func newHuman(webURL, rootPW, agentPW string) *Human {
	return &Human{base: webURL + "/REST/2.0", rootPW: rootPW, agentPW: agentPW,
		http: &http.Client{Timeout: 60 * time.Second}, logins: map[string]string{}}
}

// NewTicket is a ticket a human opens.
type NewTicket struct {
	Subject     string
	Description string
	// Priority is a name of PriorityNumbers or a number; empty leaves RT's
	// default.
	Priority string
	SyncFlag bool
	// GoogleCase, when set, fills the Google-case field.
	GoogleCase string
	// Author is the agent who opens it; empty means DefaultAuthor.
	Author string
	// Requestor is the customer's address; empty means
	// "customer@example.test" (RT then records its autoreply mail).
	Requestor string
}

// CreateTicket opens a ticket in queue General and returns its id.
func (h *Human) CreateTicket(ctx context.Context, nt NewTicket) (string, error) {
	login, err := h.login(ctx, nt.Author)
	if err != nil {
		return "", err
	}
	flag := "no"
	if nt.SyncFlag {
		flag = SyncFlagYes
	}
	cfs := map[string]any{SyncFlagField: flag}
	if nt.GoogleCase != "" {
		cfs[GoogleCaseField] = nt.GoogleCase
	}
	body := map[string]any{
		"Queue": Queue, "Subject": nt.Subject, "Content": nt.Description, "ContentType": "text/plain",
		"CustomFields": cfs, "Requestor": cmp(nt.Requestor, "customer@example.test"),
	}
	if nt.Priority != "" {
		n, err := priorityNumber(nt.Priority)
		if err != nil {
			return "", err
		}
		body["Priority"] = n
	}
	var out struct {
		ID string `json:"id"`
	}
	if _, err := h.call(ctx, login, h.agentPW, http.MethodPost, "/ticket", body, &out); err != nil {
		return "", fmt.Errorf("creating a ticket as %s: %w", login, err)
	}
	return out.ID, nil
}

// AddComment adds a public reply (public) or an internal comment written by
// author and returns its transaction id, which is the comment id the rt
// adapter reports.
func (h *Human) AddComment(ctx context.Context, id, author, body string, public bool) (string, error) {
	login, err := h.login(ctx, author)
	if err != nil {
		return "", err
	}
	kind := "comment"
	if public {
		kind = "correspond"
	}
	resp, err := h.call(ctx, login, h.agentPW, http.MethodPost, "/ticket/"+url.PathEscape(id)+"/"+kind,
		map[string]any{"Content": body, "ContentType": "text/plain"}, nil)
	if err != nil {
		return "", fmt.Errorf("adding a %s to ticket %s as %s: %w", kind, id, login, err)
	}
	return transactionID(resp)
}

// Attach adds a file to the ticket as a public reply of author that
// carries only the file (RT keeps a file on the transaction of the message
// it came with: on a reply, every requester receives it), and returns the
// attachment's id. RT converts text files to UTF-8 and guesses the encoding
// of one that declares none, which can garble bytes that are not text; so a
// text/plain or text/html file that is not UTF-8 is declared ISO-8859-1 (a
// browser labelling the file's charset does the same), which RT converts
// losslessly.
func (h *Human) Attach(ctx context.Context, id, author, filename, mimeType string, data []byte) (string, error) {
	return h.attach(ctx, id, author, "correspond", filename, mimeType, data)
}

// AttachInternal adds a file to the ticket as an internal comment of author
// that carries only the file: the way agents keep a file from the
// requester. It returns the attachment's id.
func (h *Human) AttachInternal(ctx context.Context, id, author, filename, mimeType string, data []byte) (string, error) {
	return h.attach(ctx, id, author, "comment", filename, mimeType, data)
}

// attach posts a reply or comment (kind) carrying only the file.
func (h *Human) attach(ctx context.Context, id, author, kind, filename, mimeType string, data []byte) (string, error) {
	login, err := h.login(ctx, author)
	if err != nil {
		return "", err
	}
	resp, err := h.call(ctx, login, h.agentPW, http.MethodPost, "/ticket/"+url.PathEscape(id)+"/"+kind,
		map[string]any{"Attachments": []map[string]string{{
			"FileName": filename, "FileType": declaredType(mimeType, data), "FileContent": base64.StdEncoding.EncodeToString(data),
		}}}, nil)
	if err != nil {
		return "", fmt.Errorf("attaching a file to ticket %s as %s (%s): %w", id, login, kind, err)
	}
	txn, err := transactionID(resp)
	if err != nil {
		return "", err
	}
	var parts struct {
		Items []struct {
			ID       string `json:"id"`
			Filename string `json:"Filename"`
		} `json:"items"`
	}
	if _, err := h.call(ctx, login, h.agentPW, http.MethodGet, "/transaction/"+txn+"/attachments?fields=Filename", nil, &parts); err != nil {
		return "", fmt.Errorf("listing the parts of transaction %s: %w", txn, err)
	}
	for _, p := range parts.Items {
		if p.Filename == filename {
			return p.ID, nil
		}
	}
	return "", fmt.Errorf("transaction %s holds no file named %q", txn, filename)
}

// SetPriority sets the ticket's priority (a name of PriorityNumbers or a
// number) as author.
func (h *Human) SetPriority(ctx context.Context, id, author, priority string) error {
	n, err := priorityNumber(priority)
	if err != nil {
		return err
	}
	return h.update(ctx, id, author, map[string]any{"Priority": n})
}

// Resolve resolves the ticket as author.
func (h *Human) Resolve(ctx context.Context, id, author string) error {
	return h.update(ctx, id, author, map[string]any{"Status": "resolved"})
}

// Reopen sets a resolved ticket's status back to open as author.
func (h *Human) Reopen(ctx context.Context, id, author string) error {
	return h.update(ctx, id, author, map[string]any{"Status": "open"})
}

// SetGoogleCase fills the ticket's Google-case field as author.
func (h *Human) SetGoogleCase(ctx context.Context, id, author, googleCase string) error {
	return h.update(ctx, id, author, map[string]any{"CustomFields": map[string]any{GoogleCaseField: googleCase}})
}

// RequestEscalation asks, as author, for the ticket's Google case to be
// escalated: it sets EscalationField to EscalationYes and the reason and
// justification fields to the given text ("" empties a field).
func (h *Human) RequestEscalation(ctx context.Context, id, author, reason, justification string) error {
	t, err := h.Ticket(ctx, id)
	if err != nil {
		return err
	}
	cfs := map[string]any{EscalationField: EscalationYes}
	for field, v := range map[string]string{EscalationReasonField: reason, EscalationJustificationField: justification} {
		switch {
		case v != "":
			cfs[field] = v
		case t.CustomFields[field] != "":
			// REST2 deletes a value sent as null; an empty value sent
			// where there is none would be added as one.
			cfs[field] = nil
		}
	}
	return h.update(ctx, id, author, map[string]any{"CustomFields": cfs})
}

// SetCustomField sets one custom field of the ticket as author.
func (h *Human) SetCustomField(ctx context.Context, id, author, field, value string) error {
	return h.update(ctx, id, author, map[string]any{"CustomFields": map[string]any{field: value}})
}

// TicketView is a ticket as an agent sees it.
type TicketView struct {
	Status string
	// CustomFields holds the first value of each custom field that has
	// one, by name.
	CustomFields map[string]string
}

// Ticket reads a ticket as root.
func (h *Human) Ticket(ctx context.Context, id string) (TicketView, error) {
	var t struct {
		Status       string `json:"Status"`
		CustomFields []struct {
			Name   string    `json:"name"`
			Values []*string `json:"values"`
		} `json:"CustomFields"`
	}
	if _, err := h.call(ctx, "root", h.rootPW, http.MethodGet, "/ticket/"+url.PathEscape(id), nil, &t); err != nil {
		return TicketView{}, fmt.Errorf("reading ticket %s: %w", id, err)
	}
	v := TicketView{Status: t.Status, CustomFields: map[string]string{}}
	for _, cf := range t.CustomFields {
		if len(cf.Values) > 0 && cf.Values[0] != nil && *cf.Values[0] != "" {
			v.CustomFields[cf.Name] = *cf.Values[0]
		}
	}
	return v, nil
}

func (h *Human) update(ctx context.Context, id, author string, body map[string]any) error {
	login, err := h.login(ctx, author)
	if err != nil {
		return err
	}
	if _, err := h.call(ctx, login, h.agentPW, http.MethodPut, "/ticket/"+url.PathEscape(id), body, nil); err != nil {
		return fmt.Errorf("updating ticket %s as %s: %w", id, login, err)
	}
	return nil
}

var nonLogin = regexp.MustCompile(`[^a-z0-9]+`)

// Login returns the RT login of the agent named author (empty means
// DefaultAuthor), creating the user on first use.
func (h *Human) Login(ctx context.Context, author string) (string, error) {
	return h.login(ctx, author)
}

// login returns the RT login of the agent named author, creating the user
// (as root) on first use.
func (h *Human) login(ctx context.Context, author string) (string, error) {
	author = cmp(strings.TrimSpace(author), DefaultAuthor)
	h.mu.Lock()
	defer h.mu.Unlock()
	if l, ok := h.logins[author]; ok {
		return l, nil
	}
	slug := strings.Trim(nonLogin.ReplaceAllString(strings.ToLower(author), "-"), "-")
	if slug == "" {
		slug = "agent"
	}
	login := "human-" + slug
	if _, err := h.call(ctx, "root", h.rootPW, http.MethodGet, "/user/"+url.PathEscape(login), nil, nil); err != nil {
		if !isStatus(err, http.StatusNotFound) {
			return "", fmt.Errorf("looking up user %s: %w", login, err)
		}
		if err := h.createAgent(ctx, login, author); err != nil {
			return "", err
		}
	}
	h.logins[author] = login
	return login, nil
}

func (h *Human) createAgent(ctx context.Context, login, realName string) error {
	if h.groupID == 0 {
		var groups struct {
			Items []struct {
				ID json.Number `json:"id"`
			} `json:"items"`
		}
		q := `[{"field":"Name","value":"Human Agents"},{"field":"Domain","value":"UserDefined"}]`
		if _, err := h.call(ctx, "root", h.rootPW, http.MethodGet, "/groups?query="+url.QueryEscape(q), nil, &groups); err != nil {
			return fmt.Errorf("finding the Human Agents group: %w", err)
		}
		if len(groups.Items) != 1 {
			return fmt.Errorf("finding the Human Agents group: %d groups found", len(groups.Items))
		}
		n, err := groups.Items[0].ID.Int64()
		if err != nil {
			return fmt.Errorf("the Human Agents group's id %q: %w", groups.Items[0].ID, err)
		}
		h.groupID = int(n)
	}
	user := map[string]any{"Name": login, "RealName": realName, "EmailAddress": login + "@example.test",
		"Password": h.agentPW, "Privileged": 1}
	if _, err := h.call(ctx, "root", h.rootPW, http.MethodPost, "/user", user, nil); err != nil {
		return fmt.Errorf("creating user %s: %w", login, err)
	}
	if _, err := h.call(ctx, "root", h.rootPW, http.MethodPut, "/user/"+url.PathEscape(login)+"/groups", []int{h.groupID}, nil); err != nil {
		return fmt.Errorf("adding user %s to the Human Agents group: %w", login, err)
	}
	return nil
}

// statusError is an error answer from RT.
type statusError struct {
	Status  int
	Message string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("Request Tracker answered HTTP %d: %s", e.Status, e.Message)
}

func isStatus(err error, status int) bool {
	se, ok := err.(*statusError)
	return ok && se.Status == status
}

// call makes one REST2 request as user and decodes the JSON answer into out
// (when not nil). It returns the response with its body consumed.
func (h *Human) call(ctx context.Context, user, password, method, p string, body, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+p, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &msg)
		return nil, &statusError{Status: resp.StatusCode, Message: msg.Message}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("decoding the answer to %s %s: %w", method, p, err)
		}
	}
	return resp, nil
}

// transactionID reads the id of the transaction a correspond or comment
// made from the answer's Location header (/REST/2.0/transaction/{id}).
func transactionID(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	id := path.Base(loc)
	if _, err := strconv.Atoi(id); err != nil || !strings.Contains(loc, "/transaction/") {
		return "", fmt.Errorf("the answer's Location %q names no transaction", loc)
	}
	return id, nil
}

func priorityNumber(p string) (int, error) {
	for name, n := range PriorityNumbers {
		if strings.EqualFold(name, p) {
			return n, nil
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("priority %q is neither a number nor one of Low, Medium, High", p)
	}
	return n, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func declaredType(mimeType string, data []byte) string {
	base := strings.ToLower(strings.TrimSpace(strings.SplitN(mimeType, ";", 2)[0]))
	if base != "text/plain" && base != "text/html" {
		return mimeType
	}
	if utf8.Valid(data) {
		return base + "; charset=utf-8"
	}
	return base + "; charset=iso-8859-1"
}
