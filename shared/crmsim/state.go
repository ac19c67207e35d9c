package crmsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
)

// A ticket has a status and custom fields, as real helpdesks do.
//
// Its status is one of the CRM's open statuses (Options.Statuses, by
// default new, open, pending and on-hold) or ClosedStatus. A new ticket is
// "new"; closing a ticket sets ClosedStatus and reopening it sets "open".
// A status is set through a ticket update (PATCH); ClosedStatus is not
// among the statuses an update may set: closing is its own call.
//
// Custom fields are defined by the CRM's administrator (Options.Fields),
// each a text field or a checkbox, and addressed by name. A text field
// holds up to MaxFieldBytes of UTF-8; a checkbox holds "true" or is empty
// (unchecked), and takes "true", "false" or "". Writing a field the CRM
// does not define, or a value its type does not take, is refused (HTTP
// 400). An update that changes nothing leaves the update time alone.
//
// By default the CRM defines the four fields casebridge's defaults name
// (DefaultFields): the Google case's state, the "escalate to Google"
// checkbox, and the escalation's reason and justification.

// ClosedStatus is the status of a closed ticket.
const ClosedStatus = "closed"

// ReopenStatus is the status HumanReopen gives a closed ticket.
const ReopenStatus = "open"

// NewStatus is the status of a new ticket.
const NewStatus = "new"

// DefaultStatuses are the open statuses a CRM allows unless Options says
// otherwise.
var DefaultStatuses = []string{NewStatus, "open", "pending", "on-hold"}

// MaxFieldBytes bounds a text field's value.
const MaxFieldBytes = 64 << 10

// FieldType is the type of a custom field.
type FieldType string

// The custom field types.
const (
	FieldText     FieldType = "text"
	FieldCheckbox FieldType = "checkbox"
)

// Field is a custom field the CRM's administrator defined.
type Field struct {
	Name string    `json:"name"`
	Type FieldType `json:"type"`
}

// The names of the fields casebridge's defaults use.
const (
	DefaultStateField                   = "google_case_state"
	DefaultEscalationField              = "escalate_to_google"
	DefaultEscalationReasonField        = "google_escalation_reason"
	DefaultEscalationJustificationField = "google_escalation_justification"
)

// DefaultFields are the custom fields a CRM defines unless Options says
// otherwise.
var DefaultFields = []Field{
	{Name: DefaultStateField, Type: FieldText},
	{Name: DefaultEscalationField, Type: FieldCheckbox},
	{Name: DefaultEscalationReasonField, Type: FieldText},
	{Name: DefaultEscalationJustificationField, Type: FieldText},
}

// NoField, given as a field's name in StateConfig (or its variable),
// turns that field off.
const NoField = "none"

// StateConfig says which of the CRM's fields and statuses the adapter uses
// for Google's case state and escalation requests (casesync.CaseStateCRM).
// An empty field name means the default; NoField means none.
type StateConfig struct {
	// StateField is the text field Google's case state is written to.
	StateField string
	// StateStatuses maps Google states (NEW, IN_PROGRESS_GOOGLE_SUPPORT,
	// ACTION_REQUIRED, SOLUTION_PROVIDED) to the open status a ticket is
	// given when its Google case enters that state. Empty: no status is
	// set.
	StateStatuses map[string]string
	// EscalationField is the field a person sets to ask for an escalation:
	// a checkbox, or a text field that asks when it holds any value other
	// than "false".
	EscalationField string
	// EscalationReasonField and EscalationJustificationField are the text
	// fields of the request's reason and justification.
	EscalationReasonField        string
	EscalationJustificationField string
}

// withDefaults fills the unset field names with the defaults and turns
// NoField into "".
func (s StateConfig) withDefaults() StateConfig {
	name := func(v, def string) string {
		switch v {
		case "":
			return def
		case NoField:
			return ""
		}
		return v
	}
	s.StateField = name(s.StateField, DefaultStateField)
	s.EscalationField = name(s.EscalationField, DefaultEscalationField)
	s.EscalationReasonField = name(s.EscalationReasonField, DefaultEscalationReasonField)
	s.EscalationJustificationField = name(s.EscalationJustificationField, DefaultEscalationJustificationField)
	s.StateStatuses = maps.Clone(s.StateStatuses)
	return s
}

// check reports what is wrong with the state-to-status table.
func (s StateConfig) check() error {
	for _, state := range slices.Sorted(maps.Keys(s.StateStatuses)) {
		status := s.StateStatuses[state]
		switch {
		case state == "CLOSED":
			return fmt.Errorf("the Google state CLOSED may not be mapped to a status: closing is casebridge's close, not a state change")
		case !slices.Contains(casesync.MappableGoogleStates, state):
			return fmt.Errorf("%q is not a Google case state that can be mapped: use %s", state, strings.Join(casesync.MappableGoogleStates, ", "))
		case status == "":
			return fmt.Errorf("the Google state %s is mapped to an empty status", state)
		case status == ClosedStatus:
			return fmt.Errorf("the Google state %s is mapped to %q, which closes the ticket: map only open statuses", state, ClosedStatus)
		}
	}
	return nil
}

// ParseStateStatuses reads "STATE=status,STATE=status" (e.g.
// "ACTION_REQUIRED=open,IN_PROGRESS_GOOGLE_SUPPORT=on-hold"); empty is no
// mapping.
func ParseStateStatuses(s string) (map[string]string, error) {
	out, err := casesync.ParseStateStatuses(s)
	if err != nil {
		return nil, err
	}
	if err := (StateConfig{StateStatuses: out}).check(); err != nil {
		return nil, err
	}
	return out, nil
}

// escalation reads a ticket's escalation request from its fields.
func (s StateConfig) escalation(fields map[string]string) casesync.EscalationRequest {
	if s.EscalationField == "" || !asksForEscalation(fields[s.EscalationField]) {
		return casesync.EscalationRequest{}
	}
	text := func(name string) string {
		if name == "" {
			return ""
		}
		return casesync.EscalationText(fields[name])
	}
	return casesync.EscalationRequest{Requested: true, Reason: text(s.EscalationReasonField), Justification: text(s.EscalationJustificationField)}
}

// asksForEscalation reports whether an escalation field's value asks: a
// checked checkbox, or a text field holding anything but "false".
func asksForEscalation(v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && !strings.EqualFold(v, "false")
}

// update is a change to a ticket's status and custom fields: a status of ""
// and fields left out are left as they are.
type update struct {
	status string
	fields map[string]string
}

// checkState returns the permanent error of a SetGoogleState call given a
// state that is not one of CSAPI's, made without any call.
func checkState(op, state string) error {
	if !slices.Contains(casesync.GoogleStates, state) {
		return newError(op, 400, ErrInvalidState)
	}
	return nil
}

// stateUpdate is the update SetGoogleState makes for state under s; ok is
// false when there is nothing to write.
func (s StateConfig) stateUpdate(state string) (u update, ok bool) {
	if s.StateField != "" {
		u.fields = map[string]string{s.StateField: state}
	}
	u.status = s.StateStatuses[state]
	return u, u.fields != nil || u.status != ""
}

// validField checks value against the type of the CRM's field name and
// returns the value to store.
func (c *CRM) validField(op, name, value string) (string, error) {
	i := slices.IndexFunc(c.opts.Fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return "", newError(op, 400, ErrUnknownField)
	}
	switch c.opts.Fields[i].Type {
	case FieldCheckbox:
		switch value {
		case "true":
			return "true", nil
		case "false", "":
			return "", nil
		}
		return "", newError(op, 400, ErrInvalidFieldValue)
	default:
		if !utf8.ValidString(value) {
			return "", newError(op, 400, ErrInvalidUTF8)
		}
		if len(value) > MaxFieldBytes {
			return "", newError(op, 413, ErrTooLarge)
		}
		return value, nil
	}
}

// updateLocked applies u to ticket id as actor: every value is checked
// before any is written, and a change bumps the update time and sends a
// webhook. Writing the values a ticket already holds changes nothing.
func (c *CRM) updateLocked(op, id string, u update, actor string) error {
	t, err := c.getLocked(op, id)
	if err != nil {
		return err
	}
	if u.status != "" && !slices.Contains(c.opts.Statuses, u.status) {
		return newError(op, 400, ErrInvalidStatus)
	}
	if u.status != "" && t.Closed {
		return newError(op, 409, ErrClosedTicket)
	}
	set := map[string]string{}
	for name, v := range u.fields {
		v, err := c.validField(op, name, v)
		if err != nil {
			return err
		}
		set[name] = v
	}
	changed := false
	if u.status != "" && t.status != u.status {
		t.status, changed = u.status, true
	}
	for name, v := range set {
		if t.fields[name] != v {
			if v == "" {
				delete(t.fields, name)
			} else {
				t.fields[name] = v
			}
			changed = true
		}
	}
	if changed {
		t.UpdateTime = c.now()
		c.notifyLocked(t, EventUpdated, actor)
	}
	return nil
}

// update applies u as the sync user (the API's ticket update).
func (c *CRM) update(ctx context.Context, id string, u update) error {
	if err := c.enter(ctx, OpUpdate); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updateLocked(OpUpdate, id, u, c.opts.SyncUser)
}

// SetGoogleState writes state to the configured state field and, when the
// configuration maps it, sets its status, in one change. A state that is
// not CSAPI's is refused without a call; with neither a field nor a status
// for the state, nothing is done.
func (c *CRM) SetGoogleState(ctx context.Context, id, state string) error {
	if err := checkState(OpUpdate, state); err != nil {
		return err
	}
	u, ok := c.opts.State.stateUpdate(state)
	if !ok {
		return nil
	}
	err := c.update(ctx, id, u)
	if closedTicket(err) && u.status != "" {
		// A closed ticket keeps its status: only the field is written.
		u.status = ""
		if len(u.fields) == 0 {
			return nil
		}
		err = c.update(ctx, id, u)
	}
	return err
}

// closedTicket reports whether err is the refusal of a status change on a
// closed ticket.
func closedTicket(err error) bool {
	var ae *casesync.APIError
	return errors.As(err, &ae) && ae.Status == 409 && errors.Is(err, ErrClosedTicket)
}

// ClearEscalationRequest empties the configured escalation field (a
// checkbox is unchecked), leaving the reason and justification as they
// are. With no escalation field configured, it does nothing.
func (c *CRM) ClearEscalationRequest(ctx context.Context, id string) error {
	f := c.opts.State.EscalationField
	if f == "" {
		return nil
	}
	return c.update(ctx, id, update{fields: map[string]string{f: ""}})
}

// TicketUpdate is a change a human agent makes to a ticket's status and
// custom fields. A Status of "" and the fields left out are left as they
// are; a field given as "" is emptied (a checkbox unchecked).
type TicketUpdate struct {
	Status       string            `json:"status,omitempty"`
	CustomFields map[string]string `json:"customFields,omitempty"`
}

// UpdateTicket changes a ticket's status and custom fields as a human
// agent would, with the same checks as the API's update.
func (c *CRM) UpdateTicket(id string, u TicketUpdate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updateLocked("human.update", id, update{status: u.Status, fields: u.CustomFields}, HumanAgent)
}

// RequestEscalation asks, as a human agent, for the ticket's Google case to
// be escalated, through the CRM's default fields: it checks the
// "escalate to Google" checkbox and fills the reason and justification
// ("" empties them).
func (c *CRM) RequestEscalation(id, reason, justification string) error {
	return c.UpdateTicket(id, escalationUpdate(reason, justification))
}

func escalationUpdate(reason, justification string) TicketUpdate {
	return TicketUpdate{CustomFields: map[string]string{
		DefaultEscalationField:              "true",
		DefaultEscalationReasonField:        reason,
		DefaultEscalationJustificationField: justification,
	}}
}

// Statuses returns the open statuses the CRM allows.
func (c *CRM) Statuses() []string { return slices.Clone(c.opts.Statuses) }

// Fields returns the custom fields the CRM defines.
func (c *CRM) Fields() []Field { return slices.Clone(c.opts.Fields) }
