package zendesktest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
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

// The Webhooks API (base {url}/api/v2/webhooks), as Zendesk documents it:
// create, list, show and delete a webhook, and show or reset its signing
// secret. A webhook subscribed to ticket events (zen:event-type:ticket.*)
// is sent the documented fixed JSON payload of each event, signed with the
// webhook's signing secret. Webhooks connected to triggers
// ("conditional_ticket_events") are stored and listed but never sent,
// because the simulator has no triggers.

// Webhook limits of the simulator (Zendesk documents none of these; they
// keep a caller from storing unbounded data).
const (
	maxWebhooks         = 100
	maxWebhookText      = 1000 // name, description
	maxEndpointLength   = 2000
	maxSubscriptions    = 50
	maxCustomHeaders    = 10
	maxCustomHeaderText = 1000
	maxSigningSecret    = 256
	maxWebhookBodyBytes = 64 << 10
)

// conditionalTicketEvents is the subscription of a webhook connected to
// triggers and automations.
const conditionalTicketEvents = "conditional_ticket_events"

// zendeskEventVersion is the zendesk_event_version of the ticket events.
const zendeskEventVersion = "2022-11-06"

// ticketEventTypes are the ticket events the simulator sends.
var ticketEventTypes = []string{
	"zen:event-type:ticket.created",
	"zen:event-type:ticket.comment_added",
	"zen:event-type:ticket.status_changed",
	"zen:event-type:ticket.priority_changed",
	"zen:event-type:ticket.subject_changed",
	"zen:event-type:ticket.tags_changed",
	"zen:event-type:ticket.custom_field_changed",
	"zen:event-type:ticket.agent_assignment_changed",
	"zen:event-type:ticket.requester_changed",
	"zen:event-type:ticket.external_id_changed",
}

type webhookAuth struct {
	Type        string            `json:"type"`
	Data        map[string]string `json:"data,omitempty"`
	AddPosition string            `json:"add_position,omitempty"`
}

type webhook struct {
	ID            string
	Name          string
	Description   string
	Status        string
	Endpoint      string
	HTTPMethod    string
	RequestFormat string
	Subscriptions []string
	CustomHeaders map[string]string
	Auth          *webhookAuth
	Secret        string
	CreatedAt     time.Time
	CreatedBy     int64
	UpdatedAt     time.Time
}

type webhookJSON struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Description    string            `json:"description,omitempty"`
	Status         string            `json:"status"`
	Subscriptions  []string          `json:"subscriptions"`
	Endpoint       string            `json:"endpoint"`
	HTTPMethod     string            `json:"http_method"`
	RequestFormat  string            `json:"request_format"`
	Authentication *webhookAuth      `json:"authentication,omitempty"`
	CustomHeaders  map[string]string `json:"custom_headers,omitempty"`
	CreatedAt      string            `json:"created_at"`
	CreatedBy      string            `json:"created_by"`
	UpdatedAt      string            `json:"updated_at"`
	UpdatedBy      string            `json:"updated_by"`
}

// webhookJSON describes a webhook; credentials of its authentication are
// never answered, as Zendesk hides them.
func (w *webhook) json() webhookJSON {
	j := webhookJSON{
		ID: w.ID, Name: w.Name, Description: w.Description, Status: w.Status,
		Subscriptions: slices.Clone(w.Subscriptions), Endpoint: w.Endpoint,
		HTTPMethod: w.HTTPMethod, RequestFormat: w.RequestFormat,
		CreatedAt: formatTime(w.CreatedAt), UpdatedAt: formatTime(w.UpdatedAt),
		CreatedBy: strconv.FormatInt(w.CreatedBy, 10), UpdatedBy: strconv.FormatInt(w.CreatedBy, 10),
	}
	if len(w.CustomHeaders) > 0 {
		j.CustomHeaders = w.CustomHeaders
	}
	if w.Auth != nil {
		j.Authentication = &webhookAuth{Type: w.Auth.Type, AddPosition: w.Auth.AddPosition}
	}
	return j
}

// webhookError is the Webhooks API's error body.
type webhookError struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

func writeWebhookErrors(w http.ResponseWriter, status int, errs ...webhookError) {
	writeJSON(w, status, map[string]any{"errors": errs})
}

var errWebhookNotFound = webhookError{Code: "WebhookNotFound", Title: "Webhook not found"}

func invalidWebhook(detail string) webhookError {
	return webhookError{Code: "InvalidValue", Title: "Invalid value", Detail: detail}
}

type webhookInput struct {
	Name           *string           `json:"name"`
	Description    *string           `json:"description"`
	Status         *string           `json:"status"`
	Endpoint       *string           `json:"endpoint"`
	HTTPMethod     *string           `json:"http_method"`
	RequestFormat  *string           `json:"request_format"`
	Subscriptions  []string          `json:"subscriptions"`
	CustomHeaders  map[string]string `json:"custom_headers"`
	Authentication *webhookAuth      `json:"authentication"`
	SigningSecret  *struct {
		Algorithm string `json:"algorithm"`
		Secret    string `json:"secret"`
	} `json:"signing_secret"`
}

// validate checks a webhook to create; it returns the problems found.
func (in webhookInput) validate() []webhookError {
	var errs []webhookError
	need := func(name string, v *string) {
		if v == nil || strings.TrimSpace(*v) == "" {
			errs = append(errs, invalidWebhook(name+" is required"))
		}
	}
	need("name", in.Name)
	need("status", in.Status)
	need("endpoint", in.Endpoint)
	need("http_method", in.HTTPMethod)
	need("request_format", in.RequestFormat)
	if len(errs) > 0 {
		return errs
	}
	if len(*in.Name) > maxWebhookText || in.Description != nil && len(*in.Description) > maxWebhookText {
		errs = append(errs, invalidWebhook(fmt.Sprintf("name and description must be at most %d characters", maxWebhookText)))
	}
	if *in.Status != "active" && *in.Status != "inactive" {
		errs = append(errs, invalidWebhook(`status must be "active" or "inactive"`))
	}
	if u, err := url.Parse(*in.Endpoint); err != nil || len(*in.Endpoint) > maxEndpointLength ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, invalidWebhook("endpoint must be an http or https URL"))
	}
	if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, *in.HTTPMethod) {
		errs = append(errs, invalidWebhook("http_method must be GET, POST, PUT, PATCH or DELETE"))
	}
	if !slices.Contains([]string{"json", "xml", "form_encoded"}, *in.RequestFormat) {
		errs = append(errs, invalidWebhook("request_format must be json, xml or form_encoded"))
	}
	switch {
	case len(in.Subscriptions) == 0:
		errs = append(errs, invalidWebhook("subscriptions must name at least one event type"))
	case len(in.Subscriptions) > maxSubscriptions:
		errs = append(errs, invalidWebhook(fmt.Sprintf("at most %d subscriptions", maxSubscriptions)))
	case slices.Contains(in.Subscriptions, conditionalTicketEvents):
		if len(in.Subscriptions) > 1 {
			errs = append(errs, invalidWebhook(`"conditional_ticket_events" cannot be combined with event subscriptions`))
		}
	default:
		for _, s := range in.Subscriptions {
			if !strings.HasPrefix(s, "zen:event-type:") || len(s) > 200 {
				errs = append(errs, invalidWebhook("subscriptions must be event types (zen:event-type:...)"))
				break
			}
		}
		if *in.HTTPMethod != "POST" || *in.RequestFormat != "json" {
			errs = append(errs, invalidWebhook(`a webhook subscribed to events must use http_method "POST" and request_format "json"`))
		}
	}
	if len(in.CustomHeaders) > maxCustomHeaders {
		errs = append(errs, invalidWebhook(fmt.Sprintf("at most %d custom headers", maxCustomHeaders)))
	}
	for k, v := range in.CustomHeaders {
		if k == "" || len(k)+len(v) > maxCustomHeaderText || strings.ContainsAny(k+v, "\r\n") || strings.ContainsAny(k, " :") {
			errs = append(errs, invalidWebhook("custom_headers must be header names and single-line values"))
			break
		}
	}
	if a := in.Authentication; a != nil {
		ok := a.AddPosition == "" || a.AddPosition == "header"
		switch a.Type {
		case "basic_auth":
			ok = ok && a.Data["username"] != "" && a.Data["password"] != ""
		case "bearer_token":
			ok = ok && a.Data["token"] != ""
		case "api_key":
			ok = ok && a.Data["name"] != "" && a.Data["value"] != "" && !strings.ContainsAny(a.Data["name"], " :\r\n")
		default:
			ok = false
		}
		for _, v := range a.Data {
			ok = ok && len(v) <= maxCustomHeaderText && !strings.ContainsAny(v, "\r\n")
		}
		if !ok {
			errs = append(errs, invalidWebhook("authentication must be basic_auth, bearer_token or api_key with its data, added to the header"))
		}
	}
	if ss := in.SigningSecret; ss != nil {
		if !strings.EqualFold(ss.Algorithm, "sha256") || ss.Secret == "" || len(ss.Secret) > maxSigningSecret {
			errs = append(errs, invalidWebhook(`signing_secret must have algorithm "sha256" and a secret of at most 256 characters`))
		}
	}
	return errs
}

// newWebhookID makes a webhook id in the form Zendesk uses (a ULID: 26
// characters of Crockford base32).
func newWebhookID(now time.Time) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	var b [26]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = alphabet[ms&31]
		ms >>= 5
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	for i := 10; i < 26; i++ {
		b[i] = alphabet[r[i-10]&31]
	}
	return string(b[:])
}

// newSigningSecret makes a random signing secret.
func newSigningSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// serveWebhooks answers the Webhooks API; it reports whether pat was one
// of its endpoints.
func (s *Server) serveWebhooks(w http.ResponseWriter, r *http.Request, pat, base string) bool {
	id := webhookID(r.URL.Path)
	switch pat {
	case "POST /api/v2/webhooks":
		s.createWebhook(w, r)
	case "GET /api/v2/webhooks":
		s.listWebhooks(w, r, base)
	case "GET /api/v2/webhooks/{webhook_id}":
		s.mu.Lock()
		defer s.mu.Unlock()
		hook, ok := s.webhooks[id]
		if !ok {
			writeWebhookErrors(w, http.StatusNotFound, errWebhookNotFound)
			return true
		}
		writeJSON(w, http.StatusOK, map[string]any{"webhook": hook.json()})
	case "DELETE /api/v2/webhooks/{webhook_id}":
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.webhooks[id]; !ok {
			writeWebhookErrors(w, http.StatusNotFound, errWebhookNotFound)
			return true
		}
		delete(s.webhooks, id)
		w.WriteHeader(http.StatusNoContent)
	case "GET /api/v2/webhooks/{webhook_id}/signing_secret", "POST /api/v2/webhooks/{webhook_id}/signing_secret":
		s.mu.Lock()
		defer s.mu.Unlock()
		hook, ok := s.webhooks[id]
		if !ok {
			writeWebhookErrors(w, http.StatusNotFound, errWebhookNotFound)
			return true
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			hook.Secret = newSigningSecret()
			hook.UpdatedAt = s.now()
			status = http.StatusCreated
		}
		writeJSON(w, status, map[string]any{"signing_secret": map[string]string{"algorithm": "SHA256", "secret": hook.Secret}})
	default:
		return false
	}
	return true
}

// webhookID returns the path segment after "webhooks", or "".
func webhookID(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "webhooks" {
			return strings.TrimSuffix(segs[i+1], ".json")
		}
	}
	return ""
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Webhook *webhookInput `json:"webhook"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWebhookBodyBytes))
	if err := dec.Decode(&body); err != nil || body.Webhook == nil {
		writeWebhookErrors(w, http.StatusBadRequest, webhookError{Code: "InvalidJSON", Title: "The request body is not a webhook"})
		return
	}
	in := *body.Webhook
	if errs := in.validate(); len(errs) > 0 {
		writeWebhookErrors(w, http.StatusBadRequest, errs...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.webhooks) >= maxWebhooks {
		writeWebhookErrors(w, http.StatusForbidden, webhookError{Code: "TooManyWebhooks", Title: fmt.Sprintf("An account can have at most %d webhooks", maxWebhooks)})
		return
	}
	now := s.now()
	hook := &webhook{
		ID: newWebhookID(now), Name: *in.Name, Status: *in.Status, Endpoint: *in.Endpoint,
		HTTPMethod: *in.HTTPMethod, RequestFormat: *in.RequestFormat,
		Subscriptions: slices.Clone(in.Subscriptions), CustomHeaders: in.CustomHeaders,
		Auth: in.Authentication, Secret: newSigningSecret(),
		CreatedAt: now, UpdatedAt: now, CreatedBy: s.syncUser.ID,
	}
	if in.Description != nil {
		hook.Description = *in.Description
	}
	if in.SigningSecret != nil {
		hook.Secret = in.SigningSecret.Secret
	}
	for s.webhooks[hook.ID] != nil {
		hook.ID = newWebhookID(now)
	}
	s.webhooks[hook.ID] = hook
	writeJSON(w, http.StatusCreated, map[string]any{"webhook": hook.json()})
}

// listWebhooks answers the webhooks sorted by name, with cursor pages
// (page[size] at most 100) and the filter[status] and
// filter[name_contains] filters.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	size, herr := pageSize(r, 100, 100)
	if herr != nil {
		writeJSON(w, herr.Status, herr.Body)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*webhook
	for _, h := range s.webhooks {
		if st := q.Get("filter[status]"); st != "" && h.Status != st {
			continue
		}
		if nc := q.Get("filter[name_contains]"); nc != "" && !strings.Contains(strings.ToLower(h.Name), strings.ToLower(nc)) {
			continue
		}
		list = append(list, h)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].ID < list[j].ID
	})
	start := 0
	if after := q.Get("page[after]"); after != "" {
		raw, err := b64.DecodeString(after)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "InvalidPaginationParameter", Description: "page[after] is not a valid cursor"})
			return
		}
		start = len(list)
		for i, h := range list {
			if h.ID == string(raw) {
				start = i + 1
				break
			}
		}
	}
	end := min(start+size, len(list))
	page := make([]webhookJSON, 0, end-start)
	for _, h := range list[start:end] {
		page = append(page, h.json())
	}
	meta := map[string]any{"has_more": end < len(list), "after_cursor": nil, "before_cursor": nil}
	links := map[string]any{"next": nil, "prev": nil}
	if end > start {
		last := b64.EncodeToString([]byte(list[end-1].ID))
		meta["after_cursor"] = last
		meta["before_cursor"] = b64.EncodeToString([]byte(list[start].ID))
		if end < len(list) {
			nq := r.URL.Query()
			nq.Set("page[after]", last)
			links["next"] = base + "/api/v2/webhooks?" + nq.Encode()
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": page, "meta": meta, "links": links})
}

// Ticket events.

// upperOrNil renders a status or priority as the event payloads do
// (upper case), or null when unset.
func upperOrNil(v string) any {
	if v == "" {
		return nil
	}
	return strings.ToUpper(v)
}

func idOrNil(id int64) any {
	if id == 0 {
		return nil
	}
	return strconv.FormatInt(id, 10)
}

// eventDetailLocked is the detail object of a ticket event: the ticket as
// it is after the change, ids as strings.
func (s *Server) eventDetailLocked(t *ticket, actor *user) map[string]any {
	channel := "web"
	if actor == s.syncUser {
		channel = "web_service"
	}
	var ext any
	if t.ExternalID != "" {
		ext = t.ExternalID
	}
	return map[string]any{
		"actor_id":        strconv.FormatInt(actor.ID, 10),
		"assignee_id":     idOrNil(t.AssigneeID),
		"brand_id":        nil,
		"created_at":      formatTime(t.CreatedAt),
		"custom_status":   nil,
		"description":     t.Description,
		"external_id":     ext,
		"form_id":         nil,
		"group_id":        nil,
		"id":              strconv.FormatInt(t.ID, 10),
		"is_public":       slices.ContainsFunc(t.Comments, func(c *comment) bool { return c.Public }),
		"organization_id": nil,
		"priority":        upperOrNil(t.Priority),
		"requester_id":    idOrNil(t.RequesterID),
		"status":          upperOrNil(t.Status),
		"subject":         t.Subject,
		"submitter_id":    idOrNil(t.SubmitterID),
		"tags":            append([]string{}, t.Tags...),
		"type":            nil,
		"updated_at":      formatTime(t.UpdatedAt),
		"via":             map[string]any{"channel": channel},
	}
}

// ticketEvent is one event of a change: its type and event object.
type ticketEvent struct {
	Type  string
	Event map[string]any
}

// ticketEventsLocked turns an audit into the ticket events it raises.
func (s *Server) ticketEventsLocked(a *audit, created bool) []ticketEvent {
	if created {
		return []ticketEvent{{Type: "zen:event-type:ticket.created", Event: map[string]any{}}}
	}
	var out []ticketEvent
	for _, ev := range a.Events {
		if ev["type"] == "Comment" {
			author := map[string]any{"id": idString(ev["author_id"]), "is_staff": false, "name": ""}
			if id, ok := ev["author_id"].(float64); ok {
				if u, found := s.users[int64(id)]; found {
					author = map[string]any{"id": strconv.FormatInt(u.ID, 10), "is_staff": u.Role != "end-user", "name": u.Name}
				}
			}
			out = append(out, ticketEvent{Type: "zen:event-type:ticket.comment_added", Event: map[string]any{
				"comment": map[string]any{"id": idString(ev["id"]), "body": ev["body"], "is_public": ev["public"], "author": author},
			}})
			continue
		}
		field, _ := ev["field_name"].(string)
		cur, prev := ev["value"], ev["previous_value"]
		switch field {
		case "status":
			out = append(out, ticketEvent{"zen:event-type:ticket.status_changed", map[string]any{"current": upperOrNil(fmt.Sprint(cur)), "previous": upperOrNil(fmt.Sprint(prev))}})
		case "priority":
			out = append(out, ticketEvent{"zen:event-type:ticket.priority_changed", map[string]any{"current": upperOrNil(fmt.Sprint(cur)), "previous": upperOrNil(fmt.Sprint(prev))}})
		case "subject":
			out = append(out, ticketEvent{"zen:event-type:ticket.subject_changed", map[string]any{"current": cur, "previous": prev}})
		case "external_id":
			out = append(out, ticketEvent{"zen:event-type:ticket.external_id_changed", map[string]any{"current": cur, "previous": prev}})
		case "assignee_id":
			out = append(out, ticketEvent{"zen:event-type:ticket.agent_assignment_changed", map[string]any{"current": idString(cur), "previous": idString(prev)}})
		case "requester_id":
			out = append(out, ticketEvent{"zen:event-type:ticket.requester_changed", map[string]any{"current": idString(cur), "previous": idString(prev)}})
		case "tags":
			now, _ := cur.([]string)
			was, _ := prev.([]string)
			added, removed := []string{}, []string{}
			for _, tag := range now {
				if !slices.Contains(was, tag) {
					added = append(added, tag)
				}
			}
			for _, tag := range was {
				if !slices.Contains(now, tag) {
					removed = append(removed, tag)
				}
			}
			out = append(out, ticketEvent{"zen:event-type:ticket.tags_changed", map[string]any{"tags_added": added, "tags_removed": removed}})
		default:
			id, err := strconv.ParseInt(field, 10, 64)
			if err != nil {
				continue
			}
			title, kind := "Custom field", "text"
			switch id {
			case s.opts.SyncFlagFieldID:
				title, kind = "Sync with Google", "checkbox"
			case s.opts.GoogleCaseFieldID:
				title = "Google case"
			}
			out = append(out, ticketEvent{"zen:event-type:ticket.custom_field_changed", map[string]any{
				"current":      map[string]any{"value": cur},
				"previous":     map[string]any{"value": prev},
				"custom_field": map[string]any{"id": field, "title": title, "type": kind},
			}})
		}
	}
	return out
}

// idString renders an id of an audit event (a user's or a comment's) as a
// string, or null.
func idString(v any) any {
	switch x := v.(type) {
	case int64:
		if x != 0 {
			return strconv.FormatInt(x, 10)
		}
	case float64:
		if x != 0 {
			return strconv.FormatInt(int64(x), 10)
		}
	}
	return nil
}

// notifyLocked sends each active webhook subscribed to the events of a
// ticket change (a its audit, created for a new ticket) a signed request
// per event. The requests are built under the lock and sent by other
// goroutines after it.
func (s *Server) notifyLocked(t *ticket, a *audit, actor *user, created bool) {
	if a == nil || len(s.webhooks) == 0 {
		return
	}
	events := s.ticketEventsLocked(a, created)
	if len(events) == 0 {
		return
	}
	detail := s.eventDetailLocked(t, actor)
	sequence := fmt.Sprintf("%X", a.ID)
	ids := make([]string, 0, len(s.webhooks))
	for id := range s.webhooks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for pos, ev := range events {
		event := map[string]any{"meta": map[string]any{"sequence": map[string]any{"id": sequence, "position": pos + 1}}}
		for k, v := range ev.Event {
			event[k] = v
		}
		payload, err := json.Marshal(map[string]any{
			"account_id":            s.opts.AccountID,
			"detail":                detail,
			"event":                 event,
			"id":                    newUUID(),
			"subject":               "zen:ticket:" + strconv.FormatInt(t.ID, 10),
			"time":                  s.opts.Clock().UTC().Format(time.RFC3339Nano),
			"type":                  ev.Type,
			"zendesk_event_version": zendeskEventVersion,
		})
		if err != nil {
			continue
		}
		for _, id := range ids {
			hook := s.webhooks[id]
			if hook.Status != "active" || !slices.Contains(hook.Subscriptions, ev.Type) {
				continue
			}
			s.sendAsync(s.deliveryLocked(hook, payload))
		}
	}
}

// deliveryLocked prepares a webhook request: what it is sent with, as a
// snapshot taken under the lock.
func (s *Server) deliveryLocked(hook *webhook, payload []byte) delivery {
	h := http.Header{}
	for k, v := range hook.CustomHeaders {
		h.Set(k, v)
	}
	if a := hook.Auth; a != nil {
		switch a.Type {
		case "basic_auth":
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.Data["username"]+":"+a.Data["password"])))
		case "bearer_token":
			h.Set("Authorization", "Bearer "+a.Data["token"])
		case "api_key":
			h.Set(a.Data["name"], a.Data["value"])
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "Zendesk Webhook")
	h.Set("X-Zendesk-Account-Id", strconv.FormatInt(s.opts.AccountID, 10))
	h.Set("X-Zendesk-Webhook-Id", hook.ID)
	h.Set("X-Zendesk-Webhook-Invocation-Id", strconv.FormatInt(s.nextInvocationLocked(), 10))
	return delivery{url: hook.Endpoint, method: hook.HTTPMethod, header: h, body: payload, secret: hook.Secret}
}

func (s *Server) nextInvocationLocked() int64 {
	s.nextInvocation++
	return s.nextInvocation
}
