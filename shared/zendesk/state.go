package zendesk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
	"github.com/casebridge/casebridge/shared/envconf"
)

// Google's case state and escalation requests (casesync.CaseStateCRM).
//
// The state is written to a text ticket field when ZENDESK_STATE_FIELD
// names one; otherwise it is a tag, google_state_{state in lower case},
// which replaces any other google_state_ tag, so that it works without
// any setup in Zendesk (views and triggers can use the tag). A mapped
// status (ZENDESK_STATE_STATUSES) is set in the same update. A ticket in a
// status that counts as closed keeps its status: the state never reopens
// one.
//
// A person asks for an escalation with the tag escalate_to_google (or the
// tag or checkbox field ZENDESK_ESCALATION_FIELD names), and may give the
// reason and justification in text fields. Clearing the request removes
// that tag alone, with Zendesk's Remove Tags endpoint, or unticks the
// field.
//
// Tags: a ticket update that sends tags replaces them all, which would
// lose a tag a person adds in the moment between casebridge's read and
// its write. Such updates are sent as Zendesk's safe updates
// (safe_update with the updated_stamp read): Zendesk refuses one with 409
// when the ticket changed since, and the update is read and made again.

// StateTagPrefix starts the tag that shows Google's case state when no
// state field is configured.
const StateTagPrefix = "google_state_"

// DefaultEscalationTag is the tag a person adds to ask for an escalation.
const DefaultEscalationTag = "escalate_to_google"

// maxTagLen bounds a configured tag.
const maxTagLen = 80

// maxSafeUpdates is how many times a safe update refused because the
// ticket changed meanwhile is read and made again.
const maxSafeUpdates = 3

// settableStatuses are the statuses a Google state may set: new cannot be
// set again once a ticket left it, and solved and closed close it.
var settableStatuses = []string{"open", "pending", "hold"}

var _ casesync.CaseStateCRM = (*Client)(nil)

// readStateConfig reads the variables of Google's case state and
// escalation requests into c, recording each problem with what to set.
func (c *Config) readStateConfig(r *envconf.Reader) {
	switch s := r.Get(EnvStateField); {
	case s == "":
	case strings.EqualFold(s, "none"):
		c.NoState = true
	default:
		c.StateFieldID = optionalFieldID(r, EnvStateField, s,
			"the numeric id of a text ticket field for Google's case state, none, or nothing (the state is then the tag "+StateTagPrefix+"{state})")
	}
	if s := r.Get(EnvStateStatuses); s != "" {
		m, problems := parseStateStatuses(s, c.ClosedStatuses)
		for _, p := range problems {
			r.Problemf(EnvStateStatuses, "%s", p)
		}
		c.StateStatuses = m
	}
	switch s := r.Get(EnvEscalationField); {
	case s == "":
		c.EscalationTag = DefaultEscalationTag
	case strings.EqualFold(s, "none"):
		c.NoEscalation = true
	case isDigits(s):
		c.EscalationFieldID = optionalFieldID(r, EnvEscalationField, s, "a tag such as "+DefaultEscalationTag+" or the numeric id of a checkbox ticket field")
	default:
		if !validTag(s) {
			r.Problemf(EnvEscalationField, "is %q, which is no Zendesk tag (lower-case letters, digits, _ - : / . and at most %d characters): set it to a tag such as %s, the numeric id of a checkbox ticket field, or none",
				s, maxTagLen, DefaultEscalationTag)
		}
		c.EscalationTag = s
	}
	if s := r.Get(EnvEscalationReasonField); s != "" {
		c.EscalationReasonFieldID = optionalFieldID(r, EnvEscalationReasonField, s, "the numeric id of a text ticket field holding the escalation's reason")
	}
	if s := r.Get(EnvEscalationJustificationField); s != "" {
		c.EscalationJustificationFieldID = optionalFieldID(r, EnvEscalationJustificationField, s, "the numeric id of a text ticket field holding the escalation's justification")
	}
	if p := c.fieldClash(); p != "" {
		r.Problemf(EnvStateField, "%s: give each of %s, %s, %s, %s, %s and %s a field of its own", p,
			EnvSyncFlagFieldID, EnvGoogleCaseFieldID, EnvStateField, EnvEscalationField, EnvEscalationReasonField, EnvEscalationJustificationField)
	}
}

// optionalFieldID reads s, set in v, as a ticket field id.
func optionalFieldID(r *envconf.Reader, v, s, hint string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		r.Problemf(v, "is %q: set it to %s", s, hint)
		return 0
	}
	return n
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// validTag reports whether s can be a configured Zendesk tag. Zendesk keeps
// tags in lower case and splits them at spaces.
func validTag(s string) bool {
	return s != "" && len(s) <= maxTagLen && !isDigits(s) &&
		strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_-:/.") == ""
}

// fieldClash names two settings that share a field id, or is "".
func (c *Config) fieldClash() string {
	seen := map[int64]string{}
	for _, f := range []struct {
		name string
		id   int64
	}{
		{EnvSyncFlagFieldID, c.SyncFlagFieldID}, {EnvGoogleCaseFieldID, c.GoogleCaseFieldID},
		{EnvStateField, c.StateFieldID}, {EnvEscalationField, c.EscalationFieldID},
		{EnvEscalationReasonField, c.EscalationReasonFieldID}, {EnvEscalationJustificationField, c.EscalationJustificationFieldID},
	} {
		if f.id == 0 {
			continue
		}
		if other, ok := seen[f.id]; ok {
			return fmt.Sprintf("%s and %s name the same field %d", other, f.name, f.id)
		}
		seen[f.id] = f.name
	}
	return ""
}

// parseStateStatuses reads "STATE=status,STATE=status" and returns the map
// and what is wrong with it, if anything.
func parseStateStatuses(s string, closed []string) (map[string]string, []string) {
	m := map[string]string{}
	var problems []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		if !ok {
			problems = append(problems, fmt.Sprintf("holds %q, which is not STATE=status (e.g. ACTION_REQUIRED=open)", item))
			continue
		}
		if _, dup := m[k]; dup {
			problems = append(problems, fmt.Sprintf("maps %s twice: give each state one status", k))
			continue
		}
		if p := stateStatusProblem(k, v, closed); p != "" {
			problems = append(problems, p)
			continue
		}
		m[k] = v
	}
	return m, problems
}

// stateStatusProblem says what is wrong with mapping state to status, or
// is "".
func stateStatusProblem(state, status string, closed []string) string {
	switch {
	case state == "CLOSED":
		return "maps CLOSED: closing the ticket is left to casebridge's close, so CLOSED takes no status"
	case !slices.Contains(casesync.MappableGoogleStates, state):
		return fmt.Sprintf("maps %q, which is no Google case state: use %s", state, strings.Join(casesync.MappableGoogleStates, ", "))
	case status == "new":
		return fmt.Sprintf("maps %s to new: Zendesk does not let a ticket go back to new; use %s", state, strings.Join(settableStatuses, ", "))
	case slices.Contains(closed, status) || status == "solved" || status == "closed":
		return fmt.Sprintf("maps %s to %s, which closes the ticket: the Google state never closes one; use %s", state, status, strings.Join(settableStatuses, ", "))
	case !slices.Contains(settableStatuses, status):
		return fmt.Sprintf("maps %s to %q, which is no Zendesk status it may set: use %s", state, status, strings.Join(settableStatuses, ", "))
	}
	return ""
}

// validateState checks the state and escalation settings of a Config.
func (c Config) validateState() error {
	switch {
	case c.NoState && c.StateFieldID != 0:
		return errors.New("zendesk: NoState and StateFieldID are one or the other")
	case c.NoEscalation && c.EscalationFieldID != 0:
		return errors.New("zendesk: NoEscalation and EscalationFieldID are one or the other")
	case c.StateFieldID < 0 || c.EscalationFieldID < 0 || c.EscalationReasonFieldID < 0 || c.EscalationJustificationFieldID < 0:
		return errors.New("zendesk: the state and escalation field ids must not be negative")
	case c.EscalationFieldID == 0 && !c.NoEscalation && !validTag(c.EscalationTag):
		return fmt.Errorf("zendesk: the escalation tag %q is no Zendesk tag", c.EscalationTag)
	}
	if p := c.fieldClash(); p != "" {
		return fmt.Errorf("zendesk: %s", p)
	}
	var problems []string
	for state, status := range c.StateStatuses {
		if p := stateStatusProblem(state, status, c.ClosedStatuses); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("zendesk: state statuses: %s", strings.Join(problems, "; "))
	}
	return nil
}

// escalationOf reads a ticket's escalation request: the tag, or the
// checkbox (or a text field with a value), and the reason and
// justification text with it. Text that is not valid UTF-8 or is longer
// than casesync.MaxEscalationText is dropped.
func (c *Client) escalationOf(t zTicket) casesync.EscalationRequest {
	var requested bool
	switch {
	case c.cfg.NoEscalation:
	case c.cfg.EscalationFieldID != 0:
		requested = requestedValue(t.field(c.cfg.EscalationFieldID))
	default:
		requested = slices.Contains(t.Tags, c.cfg.EscalationTag)
	}
	if !requested {
		return casesync.EscalationRequest{}
	}
	req := casesync.EscalationRequest{Requested: true}
	if c.cfg.EscalationReasonFieldID != 0 {
		req.Reason = escalationText(t.field(c.cfg.EscalationReasonFieldID))
	}
	if c.cfg.EscalationJustificationFieldID != 0 {
		req.Justification = escalationText(t.field(c.cfg.EscalationJustificationFieldID))
	}
	return req
}

// requestedValue reads an escalation field: a ticked checkbox, or a text
// field holding anything but a false value.
func requestedValue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		s := strings.TrimSpace(x)
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
		return s != ""
	}
	return false
}

func escalationText(v any) string {
	s, ok := v.(string)
	if !ok || !utf8.ValidString(s) || len(s) > casesync.MaxEscalationText {
		return ""
	}
	return s
}

// stateTags returns tags with the state tag of state in place of any other
// state tag, in their order.
func stateTags(tags []string, state string) []string {
	out := slices.DeleteFunc(slices.Clone(tags), func(s string) bool { return strings.HasPrefix(s, StateTagPrefix) })
	return append(out, StateTagPrefix+strings.ToLower(state))
}

func sameTags(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// conflict reports whether err is Zendesk's refusal of a safe update made
// after the ticket changed.
func conflict(err error) bool {
	var ae *casesync.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}

// stamp is a ticket's updated_at as a safe update's updated_stamp.
func stamp(t zTicket) string { return t.UpdatedAt.UTC().Format(time.RFC3339) }

// SetGoogleState shows state on the ticket: in the state field, or as the
// state tag, and, when ZENDESK_STATE_STATUSES maps it, with that status, in
// one update. Nothing is sent when the ticket already shows it. A ticket
// whose status counts as closed keeps its status; one in Zendesk's closed
// status, which takes no field changes, gets only its tag.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	const op = "tickets.update"
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, op, "%s is not a Google case state (%s)", casesync.Quote(state), strings.Join(casesync.GoogleStates, ", "))
	}
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	status := c.cfg.StateStatuses[state]
	if c.cfg.NoState && status == "" {
		return nil
	}
	for attempt := 1; ; attempt++ {
		t, err := c.getTicket(ctx, op, id)
		if err != nil {
			return err
		}
		frozen := t.Status == "closed" // Zendesk takes only its subject, tags and priority
		var in ticketUpdate
		switch {
		case c.cfg.NoState:
		case c.cfg.StateFieldID != 0:
			if v, _ := t.field(c.cfg.StateFieldID).(string); v != state && !frozen {
				in.CustomFields = []zField{{ID: c.cfg.StateFieldID, Value: state}}
			}
		default:
			if want := stateTags(t.Tags, state); !sameTags(want, t.Tags) {
				in.Tags, in.SafeUpdate, in.UpdatedStamp = &want, true, stamp(t)
			}
		}
		if status != "" && t.Status != status && !frozen && !slices.Contains(c.cfg.ClosedStatuses, t.Status) {
			in.Status = status
		}
		if in.CustomFields == nil && in.Tags == nil && in.Status == "" {
			return nil
		}
		err = c.update(ctx, op, strconv.FormatInt(t.ID, 10), in, crmhttp.Safe, nil)
		if in.SafeUpdate && conflict(err) && attempt < maxSafeUpdates {
			continue // changed meanwhile: read it again
		}
		return err
	}
}

// ClearEscalationRequest withdraws the ticket's escalation request: it
// removes the escalation tag alone with Zendesk's Remove Tags endpoint, or
// unticks (empties) the escalation field. Zendesk's tag endpoints refuse a
// ticket in status closed, whose tags only a ticket update changes: that
// one is a safe update. Nothing is sent when there is no request.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	const op = "tickets.update"
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		t, err := c.getTicket(ctx, op, id)
		if err != nil {
			return err
		}
		if !c.escalationOf(t).Requested {
			return nil
		}
		tid := strconv.FormatInt(t.ID, 10)
		if c.cfg.EscalationFieldID != 0 {
			var v any // a text field is emptied, a checkbox unticked
			if _, ok := t.field(c.cfg.EscalationFieldID).(bool); ok {
				v = false
			}
			return c.update(ctx, op, tid, ticketUpdate{CustomFields: []zField{{ID: c.cfg.EscalationFieldID, Value: v}}}, crmhttp.Safe, nil)
		}
		if t.Status != "closed" {
			req := crmhttp.Request{Op: "tickets.tags.remove", Method: http.MethodDelete, Path: "/api/v2/tickets/" + tid + "/tags.json",
				Body: crmhttp.JSONBody(map[string][]string{"tags": {c.cfg.EscalationTag}}), ContentType: "application/json", Mode: crmhttp.Safe}
			return c.http.JSON(ctx, req, nil)
		}
		rest := slices.DeleteFunc(slices.Clone(t.Tags), func(s string) bool { return s == c.cfg.EscalationTag })
		err = c.update(ctx, op, tid, ticketUpdate{Tags: &rest, SafeUpdate: true, UpdatedStamp: stamp(t)}, crmhttp.Safe, nil)
		if conflict(err) && attempt < maxSafeUpdates {
			continue
		}
		return err
	}
}
