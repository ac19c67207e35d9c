package jirasmtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Admin webhooks (POST, GET /rest/webhooks/1.0/webhook, GET and DELETE
// /rest/webhooks/1.0/webhook/{id}), as Atlassian documents them: a name, a
// URL, the events to send, an optional JQL filter
// (filters["issue-related-events-section"]), excludeBody, and an optional
// secret with which each request is signed in X-Hub-Signature.

// Limits of the simulator on what a webhook may hold (Atlassian documents
// none; they keep a caller from storing unbounded data).
const (
	maxWebhooks         = 100
	maxWebhookName      = 255
	maxWebhookURL       = 2000
	maxWebhookSecret    = 256
	maxWebhookFilter    = 2000
	maxWebhookBodyBytes = 64 << 10
)

// filterSection is the key of a webhook's JQL filter.
const filterSection = "issue-related-events-section"

// Events a webhook may subscribe to. The simulator sends the first three;
// the others are accepted and never happen.
const (
	EventIssueCreated   = "jira:issue_created"
	EventIssueUpdated   = "jira:issue_updated"
	EventCommentCreated = "comment_created"
)

var webhookEvents = []string{
	EventIssueCreated, EventIssueUpdated, EventCommentCreated,
	"jira:issue_deleted", "comment_updated", "comment_deleted",
	"issue_property_set", "issue_property_deleted",
	"attachment_created", "attachment_deleted",
}

type webhook struct {
	id          int
	name        string
	url         string
	events      []string
	filter      string
	query       *query // the parsed filter, nil when none
	excludeBody bool
	secret      string
	updated     time.Time
	updatedBy   account
}

func (s *Server) webhookJSON(h *webhook) map[string]any {
	filters := map[string]any{}
	if h.filter != "" {
		filters[filterSection] = h.filter
	}
	return map[string]any{
		"self":                   s.URL + "/rest/webhooks/1.0/webhook/" + strconv.Itoa(h.id),
		"name":                   h.name,
		"url":                    h.url,
		"excludeBody":            h.excludeBody,
		"filters":                filters,
		"events":                 slices.Clone(h.events),
		"enabled":                true,
		"lastUpdatedUser":        h.updatedBy.ID,
		"lastUpdatedDisplayName": h.updatedBy.Name,
		"lastUpdated":            h.updated.UnixMilli(),
	}
}

// registerWebhookRoutes adds the admin webhook endpoints to mux.
func (s *Server) registerWebhookRoutes(mux *http.ServeMux) {
	s.route(mux, "POST /rest/webhooks/1.0/webhook", true, s.handleCreateWebhook)
	s.route(mux, "GET /rest/webhooks/1.0/webhook", true, s.handleListWebhooks)
	s.route(mux, "GET /rest/webhooks/1.0/webhook/{id}", true, s.handleGetWebhook)
	s.route(mux, "DELETE /rest/webhooks/1.0/webhook/{id}", true, s.handleDeleteWebhook)
}

func (s *Server) handleCreateWebhook(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name        string            `json:"name"`
		URL         string            `json:"url"`
		Events      []string          `json:"events"`
		Filters     map[string]string `json:"filters"`
		ExcludeBody bool              `json:"excludeBody"`
		Secret      string            `json:"secret"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWebhookBodyBytes)).Decode(&in); err != nil {
		writeErrors(w, http.StatusBadRequest, []string{"Invalid request payload. Refer to the REST API documentation and try again."}, nil)
		return
	}
	errs := map[string]string{}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > maxWebhookName {
		errs["name"] = fmt.Sprintf("A name of at most %d characters is required.", maxWebhookName)
	}
	if u, err := url.Parse(in.URL); err != nil || len(in.URL) > maxWebhookURL || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs["url"] = "The URL must be an absolute http or https URL."
	}
	if len(in.Events) == 0 {
		errs["events"] = "At least one event is required."
	}
	for _, e := range in.Events {
		if !slices.Contains(webhookEvents, e) {
			errs["events"] = "Unknown event '" + e + "'."
			break
		}
	}
	if len(in.Secret) > maxWebhookSecret || strings.ContainsAny(in.Secret, "\r\n") {
		errs["secret"] = fmt.Sprintf("The secret must be one line of at most %d characters.", maxWebhookSecret)
	}
	var q *query
	filter := strings.TrimSpace(in.Filters[filterSection])
	if filter != "" {
		parsed, err := parseJQL(filter)
		if err != nil || len(filter) > maxWebhookFilter {
			errs["filters"] = "The JQL filter is invalid."
		} else {
			q = &parsed
		}
	}
	if len(errs) > 0 {
		writeErrors(w, http.StatusBadRequest, nil, errs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.webhooks) >= maxWebhooks {
		writeErrors(w, http.StatusBadRequest, []string{fmt.Sprintf("A site can have at most %d webhooks.", maxWebhooks)}, nil)
		return
	}
	s.nextWebhook++
	h := &webhook{id: s.nextWebhook, name: in.Name, url: in.URL, events: slices.Compact(slices.Sorted(slices.Values(in.Events))),
		filter: filter, query: q, excludeBody: in.ExcludeBody, secret: in.Secret, updated: s.now(), updatedBy: s.syncAccount()}
	s.webhooks[h.id] = h
	writeJSON(w, http.StatusCreated, s.webhookJSON(h))
}

func (s *Server) handleListWebhooks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []any{}
	for _, id := range s.webhookIDs() {
		list = append(list, s.webhookJSON(s.webhooks[id]))
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) webhookIDs() []int {
	ids := make([]int, 0, len(s.webhooks))
	for id := range s.webhooks {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func (s *Server) lookupWebhook(w http.ResponseWriter, r *http.Request) *webhook {
	id, err := strconv.Atoi(r.PathValue("id"))
	h := s.webhooks[id]
	if err != nil || h == nil {
		writeErrors(w, http.StatusNotFound, []string{"The webhook does not exist."}, nil)
		return nil
	}
	return h
}

func (s *Server) handleGetWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.lookupWebhook(w, r); h != nil {
		writeJSON(w, http.StatusOK, s.webhookJSON(h))
	}
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.lookupWebhook(w, r); h != nil {
		delete(s.webhooks, h.id)
		w.WriteHeader(http.StatusNoContent)
	}
}

// changeItem is one item of an issue's changelog.
type changeItem struct {
	Field      string `json:"field"`
	FieldType  string `json:"fieldtype"`
	FieldID    string `json:"fieldId,omitempty"`
	From       any    `json:"from"`
	FromString any    `json:"fromString"`
	To         any    `json:"to"`
	ToString   any    `json:"toString"`
}

func nilIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// changelog lists what an edit changed between before and after.
func (s *Server) changelog(before, after *issue) []changeItem {
	var items []changeItem
	if before.summary != after.summary {
		items = append(items, changeItem{Field: "summary", FieldType: "jira", FieldID: "summary", FromString: before.summary, ToString: after.summary})
	}
	if string(before.description) != string(after.description) {
		items = append(items, changeItem{Field: "description", FieldType: "jira", FieldID: "description"})
	}
	if before.priority != after.priority {
		items = append(items, s.priorityChange(before.priority, after.priority))
	}
	if before.issueType != after.issueType {
		items = append(items, changeItem{Field: "issuetype", FieldType: "jira", FieldID: "issuetype", FromString: before.issueType, ToString: after.issueType})
	}
	if before.googleCase != after.googleCase {
		items = append(items, changeItem{Field: "Google case", FieldType: "custom", FieldID: s.opts.GoogleCaseField,
			FromString: nilIfEmpty(before.googleCase), ToString: nilIfEmpty(after.googleCase)})
	}
	if before.syncFlag != after.syncFlag {
		flag := func(on bool) any {
			if on {
				return s.opts.SyncFlagValue
			}
			return nil
		}
		items = append(items, changeItem{Field: "Sync with Google", FieldType: "custom", FieldID: s.opts.SyncFlagField,
			FromString: flag(before.syncFlag), ToString: flag(after.syncFlag)})
	}
	return append(items, s.customChanges(before, after)...)
}

func (s *Server) priorityChange(from, to string) changeItem {
	id := func(name string) any {
		if i := slices.Index(s.opts.Priorities, name); i >= 0 {
			return strconv.Itoa(i + 1)
		}
		return nil
	}
	return changeItem{Field: "priority", FieldType: "jira", FieldID: "priority", From: id(from), FromString: nilIfEmpty(from), To: id(to), ToString: nilIfEmpty(to)}
}

// issueCreatedLocked sends jira:issue_created for a new issue.
func (s *Server) issueCreatedLocked(is *issue) {
	s.notifyLocked(is, EventIssueCreated, map[string]any{
		"issue_event_type_name": "issue_created",
		"user":                  s.user(is.reporter),
		"issue":                 s.issueJSON(is, nil, false),
	})
}

// issueUpdatedLocked sends jira:issue_updated for a change of is by actor.
func (s *Server) issueUpdatedLocked(is *issue, actor account, eventType string, items []changeItem) {
	body := map[string]any{
		"issue_event_type_name": eventType,
		"user":                  s.user(actor),
		"issue":                 s.issueJSON(is, nil, false),
	}
	if items != nil {
		body["changelog"] = map[string]any{"id": s.newID(), "items": items}
	}
	s.notifyLocked(is, EventIssueUpdated, body)
}

// commentCreatedLocked sends comment_created, and jira:issue_updated as an
// issue_commented event, for a new comment.
func (s *Server) commentCreatedLocked(is *issue, c *comment) {
	cj := s.commentJSON(is, c, false)
	s.notifyLocked(is, EventIssueUpdated, map[string]any{
		"issue_event_type_name": "issue_commented",
		"user":                  s.user(c.author),
		"issue":                 s.issueJSON(is, nil, false),
		"comment":               cj,
	})
	all := s.allFields(is)
	s.notifyLocked(is, EventCommentCreated, map[string]any{
		"comment": cj,
		"issue": map[string]any{
			"id": is.id, "self": s.URL + "/rest/api/3/issue/" + is.id, "key": is.key,
			"fields": map[string]any{"summary": all["summary"], "status": all["status"], "priority": all["priority"], "issuetype": all["issuetype"]},
		},
	})
}

// notifyLocked sends body, with the timestamp and event added, to every
// webhook subscribed to event whose filter (if any) matches the issue. The
// requests are built under the lock and sent by other goroutines after it.
func (s *Server) notifyLocked(is *issue, event string, body map[string]any) {
	if len(s.webhooks) == 0 {
		return
	}
	body["timestamp"] = s.opts.Clock().UnixMilli()
	body["webhookEvent"] = event
	payload, err := json.Marshal(body)
	if err != nil {
		return
	}
	for _, id := range s.webhookIDs() {
		h := s.webhooks[id]
		if !slices.Contains(h.events, event) {
			continue
		}
		if h.query != nil {
			if ok, err := h.query.match(s, is); err != nil || !ok {
				continue
			}
		}
		d := delivery{url: h.url, secret: h.secret, body: payload, identifier: newUUID()}
		if h.excludeBody {
			d.body = nil
		}
		s.sendAsync(d)
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
