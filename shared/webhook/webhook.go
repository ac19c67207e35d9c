// Package webhook verifies the webhooks helpdesks send casebridge and reads
// which case each one names. A webhook is only a hint that a case changed:
// the receiver publishes case-updated for it, and sync-case reads the truth
// from the helpdesk's API.
//
// Each CRM kind has one scheme, checked exactly:
//
//   - Zendesk (its own scheme): X-Zendesk-Webhook-Signature is
//     base64(HMAC-SHA256(signing secret, timestamp + body)), where timestamp
//     is X-Zendesk-Webhook-Signature-Timestamp (ISO 8601, UTC). The body is
//     an event webhook's fixed JSON ({"type":"zen:event-type:ticket.…",
//     "subject":"zen:ticket:<id>","detail":{"id":"<id>","actor_id":…},…})
//     or a trigger webhook's {"ticket_id":"<id>",…}.
//   - Jira (an admin webhook with a secret): X-Hub-Signature is
//     "sha256=" + hex(HMAC-SHA256(secret, body)); the body's "timestamp"
//     (milliseconds since the epoch) bounds the replay window, and
//     X-Atlassian-Webhook-Identifier, stable across retries, is the event id.
//     The case is the issue key.
//   - ServiceNow, Request Tracker, Salesforce and the CRM simulator
//     (casebridge's own scheme, computed by a business rule, a scrip, Apex
//     or the simulator): X-Casebridge-Timestamp is Unix seconds and
//     X-Casebridge-Signature is "sha256=" + hex(HMAC-SHA256(secret,
//     timestamp + "." + body)). Salesforce's body is
//     {"case_id":"<18-character Case id>","object":"<sObject>","user_id":"<18-character User id>"}.
//   - Freshdesk (an automation rule's "Trigger webhook" action, which
//     cannot sign): the header X-Casebridge-Webhook-Secret carries the
//     secret itself, and the body is {"ticket_id":"<id>"}. There is no
//     timestamp, so no replay window: a replayed request only asks for a
//     reconciliation of the ticket it names, which reads the ticket from
//     the API and finds nothing to do.
//
// Every request must be a POST of at most MaxBodyBytes whose timestamp,
// where the scheme has one, is within MaxSkew of the verifier's clock;
// signatures and secrets are compared in constant time; ids are checked
// against the form the CRM's adapter uses before anything else sees them.
// Errors carry the HTTP status to answer and a fixed reason that never
// quotes the body, a header or the secret.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// The CRM kinds this package knows: the CRM_KIND values.
const (
	KindRequestTracker = "rt"
	KindZendesk        = "zendesk"
	KindJira           = "jira"
	KindServiceNow     = "servicenow"
	KindSalesforce     = "salesforce"
	KindFreshdesk      = "freshdesk"
	KindSimulator      = "simulator"
)

// Kinds lists the CRM kinds a Verifier can be made for.
var Kinds = []string{KindRequestTracker, KindZendesk, KindJira, KindServiceNow, KindSalesforce, KindFreshdesk, KindSimulator}

// The headers the schemes use.
const (
	HeaderZendeskSignature    = "X-Zendesk-Webhook-Signature"
	HeaderZendeskTimestamp    = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderHubSignature        = "X-Hub-Signature"
	HeaderAtlassianIdentifier = "X-Atlassian-Webhook-Identifier"
	HeaderCasebridgeTimestamp = "X-Casebridge-Timestamp"
	HeaderCasebridgeSignature = "X-Casebridge-Signature"
	// HeaderWebhookSecret carries the secret itself, for a helpdesk that
	// cannot sign (Freshdesk).
	HeaderWebhookSecret = "X-Casebridge-Webhook-Secret"
)

// MaxBodyBytes is the largest body accepted (413 past it).
const MaxBodyBytes = 256 << 10

// MaxSkew is how far a webhook's timestamp may be from the verifier's
// clock, either way (401 "stale" past it).
const MaxSkew = 5 * time.Minute

// MinSecretBytes and MaxSecretBytes bound the secret a Verifier takes.
const (
	MinSecretBytes = 16
	MaxSecretBytes = 1024
)

// maxHeaderBytes bounds the signature and timestamp headers read.
const maxHeaderBytes = 256

// maxSecretHeaderBytes bounds the secret header read: the longest secret
// and room for spaces around it.
const maxSecretHeaderBytes = MaxSecretBytes + 64

// Event is what a verified webhook says: which case changed, and, where
// the vendor gives them, the event id and who made the change.
type Event struct {
	// Kind is the CRM kind whose scheme verified it.
	Kind string
	// CaseIDs are the CRM case ids it names, as the kind's adapter names
	// them (one for every scheme casebridge takes).
	CaseIDs []string
	// EventID is the vendor's id of the event ("" when it gives none):
	// Zendesk's event id, Jira's X-Atlassian-Webhook-Identifier, RT's
	// transaction id.
	EventID string
	// Type is the kind of change when the payload says ("" otherwise).
	Type string
	// Actor is who made the change when the payload names them ("" when
	// it does not): Zendesk's actor_id, Jira's account id, RT's and
	// ServiceNow's user name, Salesforce's 18-character user id, the
	// simulator's actor. Freshdesk's rule names nobody.
	Actor string
	// Size is the body's length in bytes.
	Size int
}

// Error is why a webhook was refused: the HTTP status to answer and a
// fixed reason, safe to log and to send back.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("webhook refused (%d): %s", e.Status, e.Reason) }

// Status returns the HTTP status err calls for: an *Error's own, else 500.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

func refuse(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

var (
	errMethod       = refuse(http.StatusMethodNotAllowed, "only POST is accepted")
	errTooLarge     = refuse(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	errNoSignature  = refuse(http.StatusUnauthorized, "the signature or its timestamp is missing")
	errBadSignature = refuse(http.StatusUnauthorized, "the signature does not match")
	errBadTimestamp = refuse(http.StatusUnauthorized, "the timestamp is malformed")
	errStale        = refuse(http.StatusUnauthorized, fmt.Sprintf("stale: the timestamp is more than %s from now", MaxSkew))
	errNotJSON      = refuse(http.StatusBadRequest, "the body is not a JSON object of the expected form")
	errNoCase       = refuse(http.StatusBadRequest, "the body names no valid case id")
	errNoTimestamp  = refuse(http.StatusBadRequest, "the body has no timestamp")
	errUnreadable   = refuse(http.StatusBadRequest, "the body could not be read")
	errNoSecret     = refuse(http.StatusUnauthorized, "the webhook secret header is missing")
	errBadSecret    = refuse(http.StatusUnauthorized, "the webhook secret does not match")
)

// Verifier checks the webhooks of one CRM kind against one secret.
type Verifier struct {
	kind   string
	secret []byte
	now    func() time.Time
}

// Supports reports whether a Verifier can be made for kind.
func Supports(kind string) bool {
	for _, k := range Kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// New returns a Verifier for kind that checks signatures with secret (the
// bytes the vendor signs with, as given; they are copied) and timestamps
// against now (time.Now when nil).
func New(kind string, secret []byte, now func() time.Time) (*Verifier, error) {
	if !Supports(kind) {
		return nil, fmt.Errorf("no webhook scheme for CRM kind %s", casesync.Quote(kind))
	}
	if len(secret) < MinSecretBytes || len(secret) > MaxSecretBytes {
		return nil, fmt.Errorf("the webhook secret is %d bytes: it must be %d to %d", len(secret), MinSecretBytes, MaxSecretBytes)
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{kind: kind, secret: bytes.Clone(secret), now: now}, nil
}

// Kind returns the CRM kind the verifier checks.
func (v *Verifier) Kind() string { return v.kind }

// Verify reads and checks one request: method, size, signature, timestamp,
// then the body's form and case id. It reads at most MaxBodyBytes+1 bytes
// of the body. On success the Event names the case; on failure the error
// is an *Error.
func (v *Verifier) Verify(r *http.Request) (Event, error) {
	if r.Method != http.MethodPost {
		return Event{}, errMethod
	}
	if r.ContentLength > MaxBodyBytes {
		return Event{}, errTooLarge
	}
	body, err := readBody(r.Body)
	if err != nil {
		return Event{}, err
	}
	ev, err := v.verifyBody(r.Header, body)
	if err != nil {
		return Event{}, err
	}
	ev.Kind, ev.Size = v.kind, len(body)
	return ev, nil
}

// readBody reads at most MaxBodyBytes, refusing a longer body.
func readBody(rc io.ReadCloser) ([]byte, error) {
	if rc == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(rc, MaxBodyBytes+1))
	if err != nil {
		return nil, errUnreadable
	}
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

func (v *Verifier) verifyBody(h http.Header, body []byte) (Event, error) {
	switch v.kind {
	case KindZendesk:
		return v.zendesk(h, body)
	case KindJira:
		return v.jira(h, body)
	case KindFreshdesk:
		return v.freshdesk(h, body)
	default:
		return v.casebridge(h, body)
	}
}

// header returns a header's one value, "" when it is absent, repeated or
// too long to be a signature or a timestamp.
func header(h http.Header, name string) string {
	vs := h.Values(name)
	if len(vs) != 1 || len(vs[0]) > maxHeaderBytes {
		return ""
	}
	return strings.TrimSpace(vs[0])
}

// mac computes HMAC-SHA256 of the parts, concatenated, under the secret.
func (v *Verifier) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, v.secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// hexSignature reads "sha256=<64 hex digits>".
func hexSignature(s string) ([]byte, bool) {
	hexPart, ok := strings.CutPrefix(s, "sha256=")
	if !ok || len(hexPart) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(hexPart)
	return b, err == nil
}

// fresh checks a timestamp against the clock, both ways.
func (v *Verifier) fresh(at time.Time) error {
	d := v.now().Sub(at)
	if d > MaxSkew || d < -MaxSkew {
		return errStale
	}
	return nil
}

// zendesk checks Zendesk's scheme and reads an event or trigger body.
func (v *Verifier) zendesk(h http.Header, body []byte) (Event, error) {
	sig, ts := header(h, HeaderZendeskSignature), header(h, HeaderZendeskTimestamp)
	if sig == "" || ts == "" {
		return Event{}, errNoSignature
	}
	got, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Event{}, errBadSignature
	}
	if !hmac.Equal(got, v.mac([]byte(ts), body)) {
		return Event{}, errBadSignature
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return Event{}, errBadTimestamp
	}
	if err := v.fresh(at); err != nil {
		return Event{}, err
	}

	var b struct {
		Type     *string `json:"type"`
		ID       flexID  `json:"id"`
		Subject  string  `json:"subject"`
		TicketID flexID  `json:"ticket_id"`
		Detail   *struct {
			ID      flexID `json:"id"`
			ActorID flexID `json:"actor_id"`
		} `json:"detail"`
	}
	if err := decode(body, &b); err != nil {
		return Event{}, err
	}
	if b.Type == nil {
		// A trigger webhook, whose body the admin wrote.
		id := string(b.TicketID)
		if !validNumericID(id) {
			return Event{}, errNoCase
		}
		return Event{CaseIDs: []string{id}}, nil
	}
	// An event webhook: only ticket events name a case.
	id, ok := strings.CutPrefix(b.Subject, "zen:ticket:")
	if !ok || !validNumericID(id) {
		return Event{}, errNoCase
	}
	ev := Event{CaseIDs: []string{id}, EventID: eventID(string(b.ID)), Type: eventType(*b.Type)}
	if b.Detail != nil {
		if d := string(b.Detail.ID); d != "" && d != id {
			return Event{}, errNoCase
		}
		ev.Actor = actor(string(b.Detail.ActorID))
	}
	return ev, nil
}

// jiraKey is the form of a Jira issue key: a project key (a capital
// letter, then capitals, digits or underscores) and the issue number.
var jiraKey = regexp.MustCompile(`^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,17}$`)

// jira checks Jira's scheme (the body's timestamp bounds the replay
// window) and reads the issue key.
func (v *Verifier) jira(h http.Header, body []byte) (Event, error) {
	sig := header(h, HeaderHubSignature)
	if sig == "" {
		return Event{}, errNoSignature
	}
	got, ok := hexSignature(sig)
	if !ok || !hmac.Equal(got, v.mac(body)) {
		return Event{}, errBadSignature
	}

	type account struct {
		AccountID string `json:"accountId"`
	}
	var b struct {
		Timestamp    *json.Number `json:"timestamp"`
		WebhookEvent string       `json:"webhookEvent"`
		Issue        *struct {
			Key string `json:"key"`
		} `json:"issue"`
		User    *account `json:"user"`
		Comment *struct {
			Author       *account `json:"author"`
			UpdateAuthor *account `json:"updateAuthor"`
		} `json:"comment"`
	}
	if err := decode(body, &b); err != nil {
		return Event{}, err
	}
	if b.Timestamp == nil {
		return Event{}, errNoTimestamp
	}
	ms, err := b.Timestamp.Int64()
	if err != nil {
		return Event{}, errBadTimestamp
	}
	if err := v.fresh(time.UnixMilli(ms)); err != nil {
		return Event{}, err
	}
	if b.Issue == nil || !jiraKey.MatchString(b.Issue.Key) || !casesync.ValidID(b.Issue.Key) {
		return Event{}, errNoCase
	}
	ev := Event{CaseIDs: []string{b.Issue.Key}, EventID: eventID(header(h, HeaderAtlassianIdentifier)), Type: eventType(b.WebhookEvent)}
	// The user who caused the event; for a comment event, the comment's
	// last editor or its author.
	switch {
	case b.User != nil && b.User.AccountID != "":
		ev.Actor = actor(b.User.AccountID)
	case b.Comment != nil && b.Comment.UpdateAuthor != nil && b.Comment.UpdateAuthor.AccountID != "":
		ev.Actor = actor(b.Comment.UpdateAuthor.AccountID)
	case b.Comment != nil && b.Comment.Author != nil:
		ev.Actor = actor(b.Comment.Author.AccountID)
	}
	return ev, nil
}

// unixSeconds is the form of X-Casebridge-Timestamp.
var unixSeconds = regexp.MustCompile(`^[0-9]{1,12}$`)

// sysID is the form of a ServiceNow sys_id.
var sysID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// tableName is the form of a ServiceNow table name.
var tableName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,79}$`)

// casebridge checks casebridge's own scheme and reads the body of the
// kind: ServiceNow's business rule, RT's scrip, Salesforce's Apex or the
// simulator.
func (v *Verifier) casebridge(h http.Header, body []byte) (Event, error) {
	sig, ts := header(h, HeaderCasebridgeSignature), header(h, HeaderCasebridgeTimestamp)
	if sig == "" || ts == "" {
		return Event{}, errNoSignature
	}
	got, ok := hexSignature(sig)
	if !ok || !hmac.Equal(got, v.mac([]byte(ts), []byte("."), body)) {
		return Event{}, errBadSignature
	}
	if !unixSeconds.MatchString(ts) {
		return Event{}, errBadTimestamp
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Event{}, errBadTimestamp
	}
	if err := v.fresh(time.Unix(secs, 0)); err != nil {
		return Event{}, err
	}

	switch v.kind {
	case KindServiceNow:
		var b struct {
			Table     string `json:"table"`
			SysID     string `json:"sys_id"`
			UpdatedBy string `json:"updated_by"`
		}
		if err := decode(body, &b); err != nil {
			return Event{}, err
		}
		if !tableName.MatchString(b.Table) || !sysID.MatchString(b.SysID) {
			return Event{}, errNoCase
		}
		return Event{CaseIDs: []string{b.SysID}, Actor: actor(b.UpdatedBy)}, nil
	case KindRequestTracker:
		var b struct {
			Ticket  flexID `json:"ticket"`
			Txn     flexID `json:"txn"`
			Type    string `json:"type"`
			Creator string `json:"creator"`
		}
		if err := decode(body, &b); err != nil {
			return Event{}, err
		}
		id := string(b.Ticket)
		if !validNumericID(id) {
			return Event{}, errNoCase
		}
		ev := Event{CaseIDs: []string{id}, Type: eventType(b.Type), Actor: actor(b.Creator)}
		if txn := string(b.Txn); validNumericID(txn) {
			ev.EventID = txn
		}
		return ev, nil
	case KindSalesforce:
		var b struct {
			CaseID string `json:"case_id"`
			Object string `json:"object"`
			UserID string `json:"user_id"`
		}
		if err := decode(body, &b); err != nil {
			return Event{}, err
		}
		if !validSalesforceID(b.CaseID, "500") {
			return Event{}, errNoCase
		}
		ev := Event{CaseIDs: []string{b.CaseID}, Type: eventType(b.Object)}
		if validSalesforceID(b.UserID, "005") {
			ev.Actor = b.UserID
		}
		return ev, nil
	default: // KindSimulator
		var b struct {
			Case  flexID `json:"case"`
			Event string `json:"event"`
			Actor string `json:"actor"`
		}
		if err := decode(body, &b); err != nil {
			return Event{}, err
		}
		id := string(b.Case)
		if !validNumericID(id) {
			return Event{}, errNoCase
		}
		return Event{CaseIDs: []string{id}, Type: eventType(b.Event), Actor: actor(b.Actor)}, nil
	}
}

// freshdesk checks the secret a Freshdesk automation rule sends in a
// custom header and reads the ticket id of the rule's body. Nothing dates
// the request: a replay asks for one more reconciliation of the ticket.
func (v *Verifier) freshdesk(h http.Header, body []byte) (Event, error) {
	vs := h.Values(HeaderWebhookSecret)
	if len(vs) == 0 {
		return Event{}, errNoSecret
	}
	if len(vs) != 1 || len(vs[0]) > maxSecretHeaderBytes {
		return Event{}, errBadSecret
	}
	// Digests of equal length, compared in constant time, so that neither
	// the secret's bytes nor its length show in the time taken.
	got, want := sha256.Sum256([]byte(strings.TrimSpace(vs[0]))), sha256.Sum256(v.secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return Event{}, errBadSecret
	}
	var b struct {
		TicketID flexID `json:"ticket_id"`
	}
	if err := decode(body, &b); err != nil {
		return Event{}, err
	}
	id := string(b.TicketID)
	if !validNumericID(id) {
		return Event{}, errNoCase
	}
	return Event{CaseIDs: []string{id}}, nil
}

// salesforceBase is the first 15 characters of a Salesforce record id.
var salesforceBase = regexp.MustCompile(`^[a-zA-Z0-9]{15}$`)

// validSalesforceID reports whether id is a record id with the key prefix
// prefix (500 Case, 005 User) in its 18-character form, whose last three
// characters encode the case of the first fifteen. That is the form Apex
// gives an Id as text and the form the Salesforce adapter names cases by;
// the 15-character form, and an 18-character id whose suffix does not
// match, are refused rather than converted.
func validSalesforceID(id, prefix string) bool {
	if len(id) != 18 || !strings.HasPrefix(id, prefix) || !salesforceBase.MatchString(id[:15]) {
		return false
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	for i := 0; i < 3; i++ {
		n := 0
		for j := 0; j < 5; j++ {
			if c := id[i*5+j]; c >= 'A' && c <= 'Z' {
				n |= 1 << j
			}
		}
		if id[15+i] != alphabet[n] {
			return false
		}
	}
	return casesync.ValidID(id)
}

// decode reads a JSON object into v; anything else is errNotJSON.
func decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !utf8.Valid(body) {
		return errNotJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return errNotJSON
	}
	return nil
}

// flexID is an id sent as a JSON string or as a JSON integer; null or
// absent is "". A number with a fraction or an exponent is refused.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
	default:
		if len(b) > 20 || bytes.ContainsAny(b, ".eE+-") {
			return errors.New("not an integer id")
		}
		if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
			return err
		}
		*f = flexID(b)
	}
	return nil
}

// numericID is a positive integer without leading zeros, as RT, Zendesk
// and the simulator number their tickets.
var numericID = regexp.MustCompile(`^[1-9][0-9]{0,17}$`)

// validNumericID reports whether id is a ticket number in the canonical
// form the adapters give it.
func validNumericID(id string) bool { return numericID.MatchString(id) && casesync.ValidID(id) }

// eventIDForm bounds the event ids kept: Zendesk's event ids (ULIDs or
// UUIDs), Jira's identifiers and RT's transaction numbers.
var eventIDForm = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// eventID returns s when it has the form of an event id, else "": a
// malformed event id is left out, never logged.
func eventID(s string) string {
	if eventIDForm.MatchString(s) {
		return s
	}
	return ""
}

var eventTypeForm = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)

// eventType returns s when it has the form of an event type, else "".
func eventType(s string) string {
	if eventTypeForm.MatchString(s) {
		return s
	}
	return ""
}

// maxActorBytes bounds an actor name.
const maxActorBytes = 256

// actor returns s when it can be a user name or id: valid UTF-8 without
// control characters, at most maxActorBytes. Anything else is "": an
// actor that cannot be read is unknown.
func actor(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxActorBytes || !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return s
}
