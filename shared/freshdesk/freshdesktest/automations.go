package freshdesktest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/simhttp"
)

// Freshdesk sends webhooks only as the "Trigger webhook" action of its
// automation rules (Admin > Workflows > Automation rules): rules that run
// on ticket creation, and rules that run on ticket updates, which also
// say who performed the change ("When an action performed by": Agent,
// Requester, ...). The action's settings are the request type, the
// callback URL, custom headers, the encoding (JSON here) and the content,
// whose placeholders such as {{ticket.id}} Freshdesk fills in; the request
// carries no signature (support article 132589, "Using webhooks in
// automation rules"). AutomationRule stands for such a rule; the
// simulator runs the rules after each change, in the background and
// never under the account's lock:
//
//   - creation rules after a ticket is created, in the helpdesk or
//     through the API;
//   - update rules after a change that moved the ticket's updated_at: a
//     reply, a note or a customer's reply, a change of its fields, status
//     or priority, whoever made it (the API key's agent for API calls),
//     as long as the rule's performer matches.
//
// Simplified: only {{ticket.id}} is filled in (other placeholders are
// sent as written); the rule's events are "any update" rather than a list
// of events; a rule's conditions are only "ANY of these custom fields is
// set" (a ticked checkbox, a non-empty text); a deleted ticket runs no
// rule. Each webhook is sent once, with a short timeout: Freshdesk's retry
// schedule is not documented, and webhooks over the account's rate limit,
// which Freshdesk defers to the next hour, are not modelled.

// The two kinds of rules that can trigger a webhook.
const (
	RuleOnCreation = "ticket_creation"
	RuleOnUpdate   = "ticket_update"
)

// Performers of an update rule ("When an action performed by").
const (
	PerformedByAnyone           = ""
	PerformedByAgent            = "agent"
	PerformedByRequester        = "requester"
	PerformedByAgentOrRequester = "agent_or_requester"
)

// WebhookTimeout bounds one webhook request.
const WebhookTimeout = 10 * time.Second

// AutomationRule is an automation rule whose action is "Trigger webhook"
// with the POST request type and JSON encoding.
type AutomationRule struct {
	// Name is the rule's name.
	Name string `json:"name"`
	// Event is RuleOnCreation or RuleOnUpdate.
	Event string `json:"event"`
	// PerformedBy is who must have made an update (RuleOnUpdate only):
	// one of the PerformedBy values.
	PerformedBy string `json:"performed_by,omitempty"`
	// ExceptAgents are agent ids whose own updates the rule leaves out,
	// as when the admin picks every agent but these as the performer.
	ExceptAgents []int64 `json:"except_agents,omitempty"`
	// AnyFieldSet are the rule's conditions: the ticket matches when ANY
	// of these custom fields is set (a ticked checkbox or a non-empty
	// text). Empty: every ticket.
	AnyFieldSet []string `json:"any_field_set,omitempty"`
	// URL is the callback URL.
	URL string `json:"url"`
	// Headers are the custom headers.
	Headers map[string]string `json:"headers,omitempty"`
	// Content is the JSON body, with placeholders.
	Content string `json:"content"`
}

// SimAutomationsPath is the control endpoint that stands for the admin's
// setup in the helpdesk: PUT {"rules":[AutomationRule...]} replaces every
// webhook rule (an empty list removes them) and answers 204. It needs no
// authentication and is not counted in Calls.
const SimAutomationsPath = "/_sim/automation-rules"

// Bounds of a rule.
const (
	maxRules         = 20
	maxRuleHeaders   = 10
	maxHeaderValue   = 2048
	maxContentBytes  = 16 << 10
	maxRulesBodySize = 64 << 10
)

// ErrBadRule is the answer to a rule that cannot work.
var ErrBadRule = errors.New("freshdesktest: a webhook rule needs an event (ticket_creation or ticket_update), a known performer, an http or https URL, at most 10 headers of valid names and values, content of at most 16 KiB, and custom fields the account has")

// SetAutomationRules replaces the webhook rules; none removes them.
func (s *Server) SetAutomationRules(rules []AutomationRule) error {
	if len(rules) > maxRules {
		return ErrBadRule
	}
	cp := make([]AutomationRule, 0, len(rules))
	for _, r := range rules {
		if !s.validRule(r) {
			return ErrBadRule
		}
		c := r
		c.ExceptAgents = append([]int64(nil), r.ExceptAgents...)
		c.AnyFieldSet = append([]string(nil), r.AnyFieldSet...)
		c.Headers = make(map[string]string, len(r.Headers))
		for k, v := range r.Headers {
			c.Headers[k] = v
		}
		cp = append(cp, c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = cp
	return nil
}

func (s *Server) validRule(r AutomationRule) bool {
	switch r.Event {
	case RuleOnCreation:
		if r.PerformedBy != PerformedByAnyone || len(r.ExceptAgents) > 0 {
			return false
		}
	case RuleOnUpdate:
		switch r.PerformedBy {
		case PerformedByAnyone, PerformedByAgent, PerformedByRequester, PerformedByAgentOrRequester:
		default:
			return false
		}
	default:
		return false
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if len(r.Headers) > maxRuleHeaders || len(r.Content) > maxContentBytes {
		return false
	}
	for k, v := range r.Headers {
		if !validHeaderName(k) || len(v) > maxHeaderValue || strings.ContainsAny(v, "\r\n\x00") {
			return false
		}
	}
	for _, f := range r.AnyFieldSet {
		if _, ok := s.fields[f]; !ok {
			return false
		}
	}
	return true
}

func validHeaderName(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for _, c := range k {
		if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// WaitWebhooks waits until every webhook sent so far was answered or
// given up.
func (s *Server) WaitWebhooks() { s.sender.Wait() }

// CloseWebhooks abandons the webhooks on their way and sends no more.
func (s *Server) CloseWebhooks() { s.sender.Close() }

// performer is who made a change: an agent (by id; 0 for a person in the
// helpdesk the simulator does not name) or the ticket's requester.
type performer struct {
	agentID   int64
	requester bool
}

// performerOf is the user u as a rule's performer.
func performerOf(u *user) performer {
	if u == nil || !u.Agent {
		return performer{requester: true}
	}
	return performer{agentID: u.ID}
}

// humanAgent is a person in the helpdesk who changes a ticket's
// properties.
var humanAgent = performer{}

// matches reports whether the rule runs for a change of t by p.
func (r *AutomationRule) matches(t *ticket, created bool, p performer) bool {
	if created != (r.Event == RuleOnCreation) {
		return false
	}
	if !created {
		switch r.PerformedBy {
		case PerformedByAgent:
			if p.requester {
				return false
			}
		case PerformedByRequester:
			if !p.requester {
				return false
			}
		}
		if !p.requester {
			for _, id := range r.ExceptAgents {
				if id == p.agentID {
					return false
				}
			}
		}
	}
	if len(r.AnyFieldSet) == 0 {
		return true
	}
	for _, f := range r.AnyFieldSet {
		switch v := t.Custom[f].(type) {
		case bool:
			if v {
				return true
			}
		case string:
			if v != "" {
				return true
			}
		}
	}
	return false
}

// runRulesLocked runs the webhook rules for a ticket just created or
// updated by p. The caller holds s.mu; delivery runs in its own
// goroutine.
func (s *Server) runRulesLocked(t *ticket, created bool, p performer) {
	if t.Deleted {
		return
	}
	for i := range s.rules {
		r := &s.rules[i]
		if !r.matches(t, created, p) {
			continue
		}
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		body := strings.ReplaceAll(r.Content, "{{ticket.id}}", strconv.FormatInt(t.ID, 10))
		s.sender.Send(simhttp.Delivery{URL: r.URL, Header: h, Body: []byte(body)})
	}
}

// newWebhookSender returns the sender of the rules' webhooks: one attempt
// each, bounded by WebhookTimeout.
func newWebhookSender() *simhttp.Sender {
	return simhttp.NewSender(simhttp.SenderOptions{Timeout: WebhookTimeout})
}

// serveAutomations is the control endpoint at SimAutomationsPath.
func (s *Server) serveAutomations(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		writeJSON(w, http.StatusMethodNotAllowed, codeError{Code: "method_not_allowed", Message: "PUT only"})
		return
	}
	var in struct {
		Rules []AutomationRule `json:"rules"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRulesBodySize)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, codeError{Code: "invalid_json", Message: "the rules are not valid JSON"})
		return
	}
	if err := s.SetAutomationRules(in.Rules); err != nil {
		writeJSON(w, http.StatusBadRequest, codeError{Code: "invalid_value", Message: err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
