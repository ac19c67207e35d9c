package zendesktest

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Zendesk's statuses and priorities.
var (
	Statuses   = []string{"new", "open", "pending", "hold", "solved", "closed"}
	Priorities = []string{"low", "normal", "high", "urgent"}
)

type user struct {
	ID    int64
	Name  string
	Email string
	Role  string // "admin", "agent" or "end-user"
}

type attachment struct {
	ID          int64
	FileName    string
	ContentType string
	Data        []byte
	Token       string // in the content URL
}

type comment struct {
	ID          int64
	AuthorID    int64
	Body        string
	Public      bool
	CreatedAt   time.Time
	AuditID     int64
	Attachments []*attachment
}

type ticket struct {
	ID           int64
	Subject      string
	Description  string
	Status       string
	Priority     string // "" for none
	RequesterID  int64
	SubmitterID  int64
	AssigneeID   int64 // 0 for none
	ExternalID   string
	Tags         []string
	CustomFields map[int64]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Generated    time.Time
	Comments     []*comment
}

// Wire shapes.

const timeFormat = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

type fieldJSON struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

type viaJSON struct {
	Channel string `json:"channel"`
}

type ticketJSON struct {
	URL                string      `json:"url"`
	ID                 int64       `json:"id"`
	ExternalID         *string     `json:"external_id"`
	CreatedAt          string      `json:"created_at"`
	UpdatedAt          string      `json:"updated_at"`
	GeneratedTimestamp int64       `json:"generated_timestamp"`
	Type               *string     `json:"type"`
	Subject            string      `json:"subject"`
	RawSubject         string      `json:"raw_subject"`
	Description        string      `json:"description"`
	IsPublic           bool        `json:"is_public"`
	Priority           *string     `json:"priority"`
	Status             string      `json:"status"`
	RequesterID        int64       `json:"requester_id"`
	SubmitterID        int64       `json:"submitter_id"`
	AssigneeID         *int64      `json:"assignee_id"`
	Tags               []string    `json:"tags"`
	CustomFields       []fieldJSON `json:"custom_fields"`
	Fields             []fieldJSON `json:"fields"`
	Via                viaJSON     `json:"via"`
	ResultType         string      `json:"result_type,omitempty"`
}

type attachmentJSON struct {
	URL               string `json:"url"`
	ID                int64  `json:"id"`
	FileName          string `json:"file_name"`
	ContentURL        string `json:"content_url"`
	MappedContentURL  string `json:"mapped_content_url"`
	ContentType       string `json:"content_type"`
	Size              int64  `json:"size"`
	Width             *int   `json:"width"`
	Height            *int   `json:"height"`
	Inline            bool   `json:"inline"`
	Deleted           bool   `json:"deleted"`
	MalwareScanResult string `json:"malware_scan_result"`
	Thumbnails        []any  `json:"thumbnails"`
}

type commentJSON struct {
	ID          int64            `json:"id"`
	Type        string           `json:"type"`
	AuthorID    int64            `json:"author_id"`
	Body        string           `json:"body"`
	HTMLBody    string           `json:"html_body"`
	PlainBody   string           `json:"plain_body"`
	Public      bool             `json:"public"`
	Attachments []attachmentJSON `json:"attachments"`
	AuditID     int64            `json:"audit_id"`
	Via         viaJSON          `json:"via"`
	CreatedAt   string           `json:"created_at"`
}

type userJSON struct {
	ID        *int64  `json:"id"`
	URL       string  `json:"url,omitempty"`
	Name      string  `json:"name"`
	Email     *string `json:"email"`
	Role      string  `json:"role"`
	Active    bool    `json:"active"`
	CreatedAt string  `json:"created_at,omitempty"`
}

// Inputs.

type fieldInput struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

type commentInput struct {
	Body     *string  `json:"body"`
	HTMLBody *string  `json:"html_body"`
	Public   *bool    `json:"public"`
	Uploads  []string `json:"uploads"`
	AuthorID *int64   `json:"author_id"`
}

type ticketInput struct {
	Subject      *string         `json:"subject"`
	Comment      *commentInput   `json:"comment"`
	Priority     json.RawMessage `json:"priority"` // absent, null or a string
	Status       *string         `json:"status"`
	CustomFields []fieldInput    `json:"custom_fields"`
	ExternalID   *string         `json:"external_id"`
	RequesterID  *int64          `json:"requester_id"`
	AssigneeID   *int64          `json:"assignee_id"`
	Tags         []string        `json:"tags"`
	// SafeUpdate (true or "true") with UpdatedStamp makes the update
	// conditional on the ticket's updated_at.
	SafeUpdate   json.RawMessage `json:"safe_update"`
	UpdatedStamp *string         `json:"updated_stamp"`
}

// fieldsJSON lists the ticket's custom fields, the configured ones always
// present (an unset checkbox reads false, an unset text field null).
func (s *Server) fieldsJSON(t *ticket) []fieldJSON {
	ids := map[int64]bool{s.opts.SyncFlagFieldID: true, s.opts.GoogleCaseFieldID: true}
	for _, f := range s.opts.Fields {
		ids[f.ID] = true
	}
	for id := range t.CustomFields {
		ids[id] = true
	}
	var sorted []int64
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	out := make([]fieldJSON, 0, len(sorted))
	for _, id := range sorted {
		v, ok := t.CustomFields[id]
		if !ok && s.fieldType(id) == "checkbox" {
			v = false
		}
		out = append(out, fieldJSON{ID: id, Value: v})
	}
	return out
}

func (s *Server) ticketJSON(base string, t *ticket) ticketJSON {
	j := ticketJSON{
		URL:                base + "/api/v2/tickets/" + strconv.FormatInt(t.ID, 10) + ".json",
		ID:                 t.ID,
		CreatedAt:          formatTime(t.CreatedAt),
		UpdatedAt:          formatTime(t.UpdatedAt),
		GeneratedTimestamp: t.Generated.Unix(),
		Subject:            t.Subject,
		RawSubject:         t.Subject,
		Description:        t.Description,
		IsPublic:           slices.ContainsFunc(t.Comments, func(c *comment) bool { return c.Public }),
		Status:             t.Status,
		RequesterID:        t.RequesterID,
		SubmitterID:        t.SubmitterID,
		Tags:               append([]string{}, t.Tags...),
		Via:                viaJSON{Channel: "api"},
	}
	if t.ExternalID != "" {
		e := t.ExternalID
		j.ExternalID = &e
	}
	if t.Priority != "" {
		p := t.Priority
		j.Priority = &p
	}
	if t.AssigneeID != 0 {
		a := t.AssigneeID
		j.AssigneeID = &a
	}
	j.CustomFields = s.fieldsJSON(t)
	j.Fields = j.CustomFields
	return j
}

// attachmentJSON describes a file. Its content_url is always on the
// account's Zendesk address, whichever host the request came to; its
// mapped_content_url is on the host-mapped domain when Options.MappedHost
// is set, and the same as content_url otherwise, as Zendesk answers.
func (s *Server) attachmentJSON(base string, a *attachment) attachmentJSON {
	file := "/attachments/token/" + a.Token + "/?name=" + urlQueryEscape(a.FileName)
	content := s.accountBase(base) + file
	mapped := content
	if s.opts.MappedHost != "" {
		mapped = schemeOf(base) + "://" + s.opts.MappedHost + file
	}
	return attachmentJSON{
		URL:               base + "/api/v2/attachments/" + strconv.FormatInt(a.ID, 10) + ".json",
		ID:                a.ID,
		FileName:          a.FileName,
		ContentURL:        content,
		MappedContentURL:  mapped,
		ContentType:       a.ContentType,
		Size:              int64(len(a.Data)),
		MalwareScanResult: "not_scanned",
		Thumbnails:        []any{},
	}
}

func (s *Server) commentJSON(base string, c *comment) commentJSON {
	atts := make([]attachmentJSON, 0, len(c.Attachments))
	for _, a := range c.Attachments {
		atts = append(atts, s.attachmentJSON(base, a))
	}
	return commentJSON{
		ID:          c.ID,
		Type:        "Comment",
		AuthorID:    c.AuthorID,
		Body:        c.Body,
		HTMLBody:    "<div class=\"zd-comment\"><p>" + htmlEscape(c.Body) + "</p></div>",
		PlainBody:   c.Body,
		Public:      c.Public,
		Attachments: atts,
		AuditID:     c.AuditID,
		Via:         viaJSON{Channel: "api"},
		CreatedAt:   formatTime(c.CreatedAt),
	}
}

func userJSONFor(base string, u *user) userJSON {
	id := u.ID
	j := userJSON{ID: &id, URL: base + "/api/v2/users/" + strconv.FormatInt(u.ID, 10) + ".json", Name: u.Name, Role: u.Role, Active: true}
	if u.Email != "" {
		e := u.Email
		j.Email = &e
	}
	return j
}
