package freshdesk

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// requested reads an escalation request field: a ticked checkbox, or, for
// a field of another type, a value that is not empty and not a "no".
func requested(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		return s != "" && s != "false" && s != "no" && s != "0"
	case float64:
		return x != 0
	}
	return false
}

// escalationText keeps a reason or justification that is text of at most
// casesync.MaxEscalationText bytes of valid UTF-8, and drops anything else.
func escalationText(v any) string {
	s, ok := v.(string)
	if !ok || len(s) > casesync.MaxEscalationText || !utf8.ValidString(s) {
		return ""
	}
	return strings.TrimSpace(s)
}

// escalationOf reads the ticket's escalation request from the configured
// fields; zero when none is configured or asked for.
func (c *Client) escalationOf(t fTicket) casesync.EscalationRequest {
	if c.cfg.EscalationField == "" || !requested(t.CustomFields[c.cfg.EscalationField]) {
		return casesync.EscalationRequest{}
	}
	e := casesync.EscalationRequest{Requested: true}
	if f := c.cfg.EscalationReasonField; f != "" {
		e.Reason = escalationText(t.CustomFields[f])
	}
	if f := c.cfg.EscalationJustificationField; f != "" {
		e.Justification = escalationText(t.CustomFields[f])
	}
	return e
}

// SetGoogleState writes Google's case state to the state field and, when
// FRESHDESK_STATE_STATUSES maps the state, sets that status, in one update
// (PUT /tickets/{id}), after reading the ticket: nothing is sent when both
// already hold, and a ticket whose status counts as closed keeps it (the
// state field is still written), so it is never reopened. A mapped status
// never counts as closed (the configuration refuses one), so nothing is
// closed either. With neither a state field nor a status for the state it
// makes no call.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	const op = "tickets.set_google_state"
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, op, "%s is not a Google case state (%s)", casesync.Quote(state), strings.Join(casesync.GoogleStates, ", "))
	}
	status, mapped := c.cfg.StateStatuses[state]
	if mapped && slices.Contains(c.cfg.ClosedStatuses, status) {
		return crmhttp.Invalid(vendor, op, "the status %d mapped to %s counts as closed; setting Google's state never closes a ticket", status, state)
	}
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	if c.cfg.StateField == "" && !mapped {
		return nil
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	fields := map[string]any{}
	if f := c.cfg.StateField; f != "" && text(t.CustomFields[f]) != state {
		fields["custom_fields"] = map[string]any{f: state}
	}
	if mapped && t.Status != status && !slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		fields["status"] = status
	}
	if len(fields) == 0 {
		return nil
	}
	return c.update(ctx, op, t.ID, fields)
}

// ClearEscalationRequest unticks the escalation field (or empties it, for
// a field that is not a checkbox), unless it holds no request; the reason
// and justification are left as they are. With no escalation field
// (FRESHDESK_ESCALATION_FIELD=none) it makes no call.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	const op = "tickets.clear_escalation"
	if _, err := ticketID(op, id); err != nil {
		return err
	}
	f := c.cfg.EscalationField
	if f == "" {
		return nil
	}
	t, err := c.getTicket(ctx, op, id)
	if err != nil {
		return err
	}
	v := t.CustomFields[f]
	if !requested(v) {
		return nil
	}
	var cleared any // null empties a text or dropdown field
	if _, isBool := v.(bool); isBool {
		cleared = false
	}
	return c.update(ctx, op, t.ID, map[string]any{"custom_fields": map[string]any{f: cleared}})
}
