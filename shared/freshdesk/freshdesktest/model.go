package freshdesktest

import (
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Field is a custom ticket field of the account, as an administrator
// creates it (Admin > Ticket fields).
type Field struct {
	// Name is its API name, cf_ and the label in snake case.
	Name string
	// Type is custom_checkbox, custom_text (single line, at most 255
	// characters), custom_paragraph (multi-line) or custom_dropdown.
	Type string
	// Choices are a dropdown's values.
	Choices []string
}

// The custom ticket fields docs/crms/freshdesk.md asks the administrator
// to create, under their default API names.
const (
	FieldSyncFlag                = "cf_sync_with_google"
	FieldGoogleCase              = "cf_google_case"
	FieldState                   = "cf_google_case_state"
	FieldEscalate                = "cf_escalate_to_google"
	FieldEscalationReason        = "cf_google_escalation_reason"
	FieldEscalationJustification = "cf_google_escalation_justification"
)

// DefaultFields are the fields of Options.Fields when it is nil.
func DefaultFields() []Field {
	return []Field{
		{Name: FieldSyncFlag, Type: "custom_checkbox"},
		{Name: FieldGoogleCase, Type: "custom_text"},
		{Name: FieldState, Type: "custom_text"},
		{Name: FieldEscalate, Type: "custom_checkbox"},
		{Name: FieldEscalationReason, Type: "custom_text"},
		{Name: FieldEscalationJustification, Type: "custom_paragraph"},
	}
}

// Conversation sources (the source of a conversation object).
const (
	SourceReply = 0
	SourceNote  = 2
)

type user struct {
	ID    int64
	Name  string
	Email string
	Agent bool
}

type attachment struct {
	ID          int64
	Name        string
	ContentType string
	Data        []byte
	Token       string // names the file on the file host
	CreatedAt   time.Time
}

type conversation struct {
	ID          int64
	TicketID    int64
	UserID      int64
	Body        string // HTML
	Private     bool
	Incoming    bool
	Source      int
	Attachments []*attachment
	CreatedAt   time.Time
}

type ticket struct {
	ID            int64
	Subject       string
	Description   string // HTML
	Status        int
	Priority      int
	Source        int
	RequesterID   int64
	ResponderID   int64 // 0 for none
	Deleted       bool
	Custom        map[string]any
	Tags          []string
	Attachments   []*attachment
	Conversations []*conversation
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

var (
	breakTag = regexp.MustCompile(`(?i)<br\s*/?>`)
	blockEnd = regexp.MustCompile(`(?i)</(p|div|li|h[1-6])>`)
	anyTag   = regexp.MustCompile(`<[^>]*>`)
	lastEnd  = regexp.MustCompile(`(?i)</(p|div|li|h[1-6])>\s*$`)
)

// textOf is the plain text Freshdesk keeps beside an HTML body
// (description_text, body_text): line breaks for <br> and the ends of
// blocks, tags dropped, entities decoded.
func textOf(h string) string {
	endsBlock := lastEnd.MatchString(h)
	s := breakTag.ReplaceAllString(h, "\n")
	s = blockEnd.ReplaceAllString(s, "\n")
	s = html.UnescapeString(anyTag.ReplaceAllString(s, ""))
	if endsBlock {
		s = strings.TrimSuffix(s, "\n")
	}
	return s
}

// htmlOf is the HTML of plain text typed in the agent's editor.
func htmlOf(text string) string {
	return "<div>" + strings.ReplaceAll(html.EscapeString(text), "\n", "<br>") + "</div>"
}

// Wire shapes.

type attachmentJSON struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	ContentType   string `json:"content_type"`
	Size          int64  `json:"size"`
	AttachmentURL string `json:"attachment_url"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

type ticketJSON struct {
	ID              int64            `json:"id"`
	Subject         string           `json:"subject"`
	Description     *string          `json:"description,omitempty"`
	DescriptionText *string          `json:"description_text,omitempty"`
	Status          int              `json:"status"`
	Priority        int              `json:"priority"`
	Source          int              `json:"source"`
	Type            *string          `json:"type"`
	RequesterID     int64            `json:"requester_id"`
	ResponderID     *int64           `json:"responder_id"`
	GroupID         *int64           `json:"group_id"`
	CompanyID       *int64           `json:"company_id"`
	Spam            bool             `json:"spam"`
	Deleted         bool             `json:"deleted,omitempty"`
	IsEscalated     bool             `json:"is_escalated"`
	FrEscalated     bool             `json:"fr_escalated"`
	CCEmails        []string         `json:"cc_emails"`
	FwdEmails       []string         `json:"fwd_emails"`
	ReplyCCEmails   []string         `json:"reply_cc_emails"`
	Tags            []string         `json:"tags"`
	CustomFields    map[string]any   `json:"custom_fields"`
	Attachments     []attachmentJSON `json:"attachments,omitempty"`
	DueBy           string           `json:"due_by"`
	FrDueBy         string           `json:"fr_due_by"`
	CreatedAt       string           `json:"created_at"`
	UpdatedAt       string           `json:"updated_at"`
}

type conversationJSON struct {
	ID           int64            `json:"id"`
	Body         string           `json:"body"`
	BodyText     string           `json:"body_text"`
	Incoming     bool             `json:"incoming"`
	Private      bool             `json:"private"`
	UserID       int64            `json:"user_id"`
	SupportEmail *string          `json:"support_email"`
	Source       int              `json:"source"`
	Category     int              `json:"category"`
	TicketID     int64            `json:"ticket_id"`
	ToEmails     []string         `json:"to_emails"`
	FromEmail    *string          `json:"from_email"`
	CCEmails     []string         `json:"cc_emails"`
	BCCEmails    []string         `json:"bcc_emails"`
	Attachments  []attachmentJSON `json:"attachments"`
	CreatedAt    string           `json:"created_at"`
	UpdatedAt    string           `json:"updated_at"`
}

type contactJSON struct {
	Active    bool    `json:"active"`
	Email     string  `json:"email"`
	JobTitle  *string `json:"job_title"`
	Language  string  `json:"language"`
	Name      string  `json:"name"`
	Phone     *string `json:"phone"`
	TimeZone  string  `json:"time_zone"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

type agentJSON struct {
	Available   bool        `json:"available"`
	Occasional  bool        `json:"occasional"`
	ID          int64       `json:"id"`
	TicketScope int         `json:"ticket_scope"`
	Signature   *string     `json:"signature"`
	Type        string      `json:"type"`
	Contact     contactJSON `json:"contact"`
	CreatedAt   string      `json:"created_at"`
	UpdatedAt   string      `json:"updated_at"`
}

// fieldError is one entry of a validation error's errors.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// validation is Freshdesk's 400 body.
type validation struct {
	Description string       `json:"description"`
	Errors      []fieldError `json:"errors"`
}

func invalid(errs ...fieldError) *validation {
	return &validation{Description: "Validation failed", Errors: errs}
}

// typeName names a JSON value's type as Freshdesk's messages do.
func typeName(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return "Null"
	case s == "true" || s == "false":
		return "Boolean"
	case strings.HasPrefix(s, `"`):
		return "String"
	case strings.HasPrefix(s, "["):
		return "Array"
	case strings.HasPrefix(s, "{"):
		return "key/value pair"
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return "Integer"
	}
	return "Unknown"
}

func mismatch(field string, raw json.RawMessage, want string) fieldError {
	return fieldError{Field: field, Message: "Value set is of type " + typeName(raw) + ".It should be a/an " + want, Code: "datatype_mismatch"}
}
