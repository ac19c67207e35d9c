package jirasm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/envconf"
)

var _ casesync.CaseStateCRM = (*Client)(nil)

// maxLabelLen is the longest label Jira takes.
const maxLabelLen = 255

// readStateConfig reads the variables of Google's case state and
// escalation requests into c, recording each problem with what to set.
func (c *Config) readStateConfig(r *envconf.Reader) {
	if s := r.Get(EnvStateField); s != "" {
		id, ok := normalizeField(s)
		if !ok {
			r.Problemf(EnvStateField, "is %q: set it to the id of a single-line text custom field, e.g. customfield_10060", s)
		}
		c.StateField = id
	}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, problems := parseStateStatuses(s)
		problems = append(problems, closedStatusProblems(m, c.ClosedStatuses)...)
		for _, p := range problems {
			r.Problemf(EnvStateStatuses, "%s", p)
		}
		c.StateStatuses = m
	}
	switch esc := r.Str(EnvEscalationField, DefaultEscalationLabel); {
	case strings.EqualFold(esc, "none"):
	case strings.HasPrefix(esc, "customfield_"):
		id, ok := normalizeField(esc)
		if !ok {
			r.Problemf(EnvEscalationField, "is %q: set it to a label such as %s or a custom field id such as customfield_10061", esc, DefaultEscalationLabel)
		}
		c.EscalationField = id
	default:
		if !validLabel(esc) {
			r.Problemf(EnvEscalationField, "is %q, which is no Jira label (labels hold no spaces and at most %d characters): set it to a label such as %s or a custom field id such as customfield_10061", esc, maxLabelLen, DefaultEscalationLabel)
		}
		c.EscalationLabel = esc
	}
	for _, f := range []struct {
		v   string
		dst *string
	}{
		{EnvEscalationReasonField, &c.EscalationReasonField},
		{EnvEscalationJustificationField, &c.EscalationJustificationField},
	} {
		s := r.Get(f.v)
		if s == "" {
			continue
		}
		id, ok := normalizeField(s)
		if !ok {
			r.Problemf(f.v, "is %q: set it to the id of a text or select custom field, e.g. customfield_10062", s)
		}
		*f.dst = id
	}
}

// validateState checks the state and escalation settings of a Config.
func (c *Config) validateState() error {
	for _, f := range []*string{&c.StateField, &c.EscalationField, &c.EscalationReasonField, &c.EscalationJustificationField} {
		if *f == "" {
			continue
		}
		id, ok := normalizeField(*f)
		if !ok {
			return fmt.Errorf("jirasm: %q is not a custom field id such as customfield_10060", *f)
		}
		*f = id
	}
	switch {
	case c.EscalationLabel != "" && c.EscalationField != "":
		return fmt.Errorf("jirasm: EscalationLabel and EscalationField are one or the other")
	case c.EscalationLabel != "" && !validLabel(c.EscalationLabel):
		return fmt.Errorf("jirasm: escalation label %q is no Jira label", c.EscalationLabel)
	}
	var problems []string
	for state, status := range c.StateStatuses {
		problems = append(problems, stateStatusProblems(state, status)...)
	}
	problems = append(problems, closedStatusProblems(c.StateStatuses, c.ClosedStatuses)...)
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("jirasm: state statuses: %s", strings.Join(problems, "; "))
	}
	return nil
}

// validLabel reports whether s can be a Jira label: not empty, no white
// space, at most maxLabelLen characters.
func validLabel(s string) bool {
	return s != "" && utf8.ValidString(s) && utf8.RuneCountInString(s) <= maxLabelLen &&
		strings.IndexFunc(s, unicode.IsSpace) < 0
}

// parseStateStatuses reads "STATE=status,STATE=status" and returns the
// map and what is wrong with it, if anything.
func parseStateStatuses(s string) (map[string]string, []string) {
	m := map[string]string{}
	var problems []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok {
			problems = append(problems, fmt.Sprintf("holds %q, which is not STATE=status (e.g. IN_PROGRESS_GOOGLE_SUPPORT=In Progress)", item))
			continue
		}
		if _, dup := m[k]; dup {
			problems = append(problems, fmt.Sprintf("maps %s twice: give each state one status", k))
			continue
		}
		if p := stateStatusProblems(k, v); len(p) > 0 {
			problems = append(problems, p...)
			continue
		}
		m[k] = v
	}
	return m, problems
}

// stateStatusProblems checks one state and status pair.
func stateStatusProblems(state, status string) []string {
	switch {
	case state == "CLOSED":
		return []string{fmt.Sprintf("maps CLOSED: a closed Google case closes the issue through %s, so leave CLOSED out", EnvCloseTransition)}
	case !slices.Contains(casesync.MappableGoogleStates, state):
		return []string{fmt.Sprintf("maps %q, which is not one of %s", state, strings.Join(casesync.MappableGoogleStates, ", "))}
	case status == "" || len(status) > 255 || !utf8.ValidString(status):
		return []string{fmt.Sprintf("maps %s to %q: give the name of one of the workflow's statuses", state, status)}
	}
	return nil
}

// closedStatusProblems refuses mapped statuses counted as closed through
// JIRA_CLOSED_STATUSES; statuses of the Done category are refused when the
// issue would move there, as only the workflow knows them.
func closedStatusProblems(m map[string]string, closed []string) []string {
	var problems []string
	for _, state := range casesync.MappableGoogleStates {
		status, ok := m[state]
		if ok && slices.ContainsFunc(closed, func(s string) bool { return strings.EqualFold(s, status) }) {
			problems = append(problems, fmt.Sprintf("maps %s to %q, which %s counts as closed: casebridge never closes an issue through a Google state", state, status, EnvClosedStatuses))
		}
	}
	return problems
}

// escalation reads the issue's escalation request from the configured
// label or field, with its reason and justification when asked.
func (c *Client) escalation(f map[string]json.RawMessage) casesync.EscalationRequest {
	var req casesync.EscalationRequest
	switch {
	case c.cfg.EscalationLabel != "":
		var labels []string
		_ = json.Unmarshal(f["labels"], &labels)
		req.Requested = slices.Contains(labels, c.cfg.EscalationLabel)
	case c.cfg.EscalationField != "":
		req.Requested = holdsValue(f[c.cfg.EscalationField])
	}
	if !req.Requested {
		return casesync.EscalationRequest{}
	}
	if c.cfg.EscalationReasonField != "" {
		req.Reason = escalationText(f[c.cfg.EscalationReasonField])
	}
	if c.cfg.EscalationJustificationField != "" {
		req.Justification = escalationText(f[c.cfg.EscalationJustificationField])
	}
	return req
}

// holdsValue reports whether a custom field holds a value: true, a checked
// option, a chosen option, or text.
func holdsValue(raw json.RawMessage) bool {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.TrimSpace(v) != ""
	case float64:
		return v != 0
	case []any:
		return len(v) > 0
	case map[string]any:
		if v["type"] == "doc" {
			return strings.TrimSpace(adfToText(raw)) != ""
		}
		if val, ok := v["value"]; ok {
			s, _ := val.(string)
			return strings.TrimSpace(s) != ""
		}
		return true
	}
	return false
}

// escalationText reads a text, select or paragraph custom field's text.
// Text that is not valid UTF-8 or longer than casesync.MaxEscalationText
// bytes reads as "".
func escalationText(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case map[string]any:
		if v["type"] == "doc" {
			s = adfToText(raw)
		} else {
			s, _ = v["value"].(string)
		}
	}
	if !utf8.ValidString(s) || len(s) > casesync.MaxEscalationText {
		return ""
	}
	return s
}

// SetGoogleState writes a Google case state to the state field and, when
// JIRA_STATE_STATUSES maps the state, moves the issue to that status
// through the transition leading there. It reads the issue first (status
// and state field) and writes only what differs, so a repeated call costs
// one read. It never closes or reopens: an issue already closed keeps its
// status, and a transition to a status of the Done category (or one
// JIRA_CLOSED_STATUSES counts as closed) is refused for good, as is a
// status no transition from the issue's status reaches.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, OpEdit, "Google state %q is not one of %s", state, strings.Join(casesync.GoogleStates, ", "))
	}
	status := c.cfg.StateStatuses[state]
	if c.cfg.StateField == "" && status == "" {
		return nil
	}
	if err := checkID(OpEdit, id); err != nil {
		return err
	}
	if status == "" {
		return c.edit(ctx, id, map[string]any{c.cfg.StateField: state})
	}
	fields := "status"
	if c.cfg.StateField != "" {
		fields += "," + c.cfg.StateField
	}
	var is issueJSON
	err := c.http.JSON(ctx, crmhttp.Request{Op: OpGet, Path: issuePath(id), Query: url.Values{"fields": {fields}}, Mode: crmhttp.Safe}, &is)
	if err != nil {
		return err
	}
	if c.cfg.StateField != "" {
		var shown string
		_ = json.Unmarshal(is.Fields[c.cfg.StateField], &shown)
		if shown != state {
			if err := c.edit(ctx, id, map[string]any{c.cfg.StateField: state}); err != nil {
				return err
			}
		}
	}
	if c.isClosed(is.Fields["status"]) {
		return nil
	}
	var st struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(is.Fields["status"], &st)
	if strings.EqualFold(strings.TrimSpace(st.Name), status) {
		return nil
	}
	return c.moveTo(ctx, id, st.Name, status)
}

// moveTo moves an open issue to the open status named status through the
// transition whose target it is.
func (c *Client) moveTo(ctx context.Context, id, from, status string) error {
	var list struct {
		Transitions []struct {
			ID string `json:"id"`
			To struct {
				Name     string `json:"name"`
				Category struct {
					Key string `json:"key"`
				} `json:"statusCategory"`
			} `json:"to"`
		} `json:"transitions"`
	}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: OpListTransitions, Path: issuePath(id, "/transitions"), Mode: crmhttp.Safe}, &list); err != nil {
		return err
	}
	var reachable []string
	for _, t := range list.Transitions {
		if !strings.EqualFold(strings.TrimSpace(t.To.Name), status) {
			reachable = append(reachable, strconv.Quote(t.To.Name))
			continue
		}
		if t.To.Category.Key == "done" || c.closed[strings.ToLower(strings.TrimSpace(t.To.Name))] {
			return crmhttp.Invalid(vendor, OpTransition, "status %q counts as closed (Done category): casebridge never closes an issue through a Google state; set %s to open statuses only",
				t.To.Name, EnvStateStatuses)
		}
		body := map[string]any{"transition": map[string]string{"id": t.ID}}
		return c.http.JSON(ctx, crmhttp.Request{Op: OpTransition, Method: http.MethodPost, Path: issuePath(id, "/transitions"),
			Body: crmhttp.JSONBody(body), ContentType: "application/json", Mode: crmhttp.IfRefused}, nil)
	}
	slices.Sort(reachable)
	reachable = slices.Compact(reachable)
	return crmhttp.Invalid(vendor, OpTransition, "issue %s in status %q has no transition to status %q (set %s to statuses its workflow reaches; from here it reaches: %s)",
		id, from, status, EnvStateStatuses, strings.Join(reachable, ", "))
}

// ClearEscalationRequest withdraws the issue's escalation request: it
// removes the label alone (an edit's "update" operation, which leaves the
// issue's other labels as they are), or empties the escalation field. The
// reason and justification fields are left as they are. Idempotent; with
// requests turned off it makes no call.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	var body map[string]any
	switch {
	case c.cfg.EscalationLabel != "":
		body = map[string]any{"update": map[string]any{"labels": []any{map[string]string{"remove": c.cfg.EscalationLabel}}}}
	case c.cfg.EscalationField != "":
		body = map[string]any{"fields": map[string]any{c.cfg.EscalationField: nil}}
	default:
		return nil
	}
	if err := checkID(OpEdit, id); err != nil {
		return err
	}
	return c.http.JSON(ctx, crmhttp.Request{Op: OpEdit, Method: http.MethodPut, Path: issuePath(id),
		Body: crmhttp.JSONBody(body), ContentType: "application/json", Mode: crmhttp.Safe}, nil)
}
