package servicenow

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

var _ casesync.CaseStateCRM = (*Client)(nil)

// parseStateStatuses reads "STATE=value,STATE=value" and returns the map
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
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok {
			problems = append(problems, fmt.Sprintf("holds %q, which is not STATE=value (e.g. ACTION_REQUIRED=2)", item))
			continue
		}
		if _, dup := m[k]; dup {
			problems = append(problems, fmt.Sprintf("maps %s twice: give each state one value", k))
			continue
		}
		if p := stateStatusProblems(k, v, closed); len(p) > 0 {
			problems = append(problems, p...)
			continue
		}
		m[k] = v
	}
	return m, problems
}

// stateStatusProblems checks one state and state value pair.
func stateStatusProblems(state, value string, closed []string) []string {
	switch {
	case state == "CLOSED":
		return []string{fmt.Sprintf("maps CLOSED: a closed Google case resolves the record with %s, so leave CLOSED out", EnvCloseState)}
	case !slices.Contains(casesync.MappableGoogleStates, state):
		return []string{fmt.Sprintf("maps %q, which is not one of %s", state, strings.Join(casesync.MappableGoogleStates, ", "))}
	case !validValue(value):
		return []string{fmt.Sprintf("maps %s to %q: give a state value such as 2 (In Progress)", state, value)}
	case slices.Contains(closed, value):
		return []string{fmt.Sprintf("maps %s to %s, which %s counts as closed: casebridge never closes a record through a Google state", state, value, EnvClosedStates)}
	}
	return nil
}

// stateFields is sysparm_fields of the read SetGoogleState makes.
func (c *Client) stateFields() string {
	fields := []string{"sys_id", "state", "hold_reason"}
	if c.cfg.StateField != "" {
		fields = append(fields, c.cfg.StateField)
	}
	return strings.Join(fields, ",")
}

// escalation reads a record's escalation request: the True/False column
// set ("true", or any value but "false" and "0" in a column of another
// type), with the reason and justification columns' text.
func (c *Client) escalation(r record) casesync.EscalationRequest {
	if c.cfg.EscalationField == "" {
		return casesync.EscalationRequest{}
	}
	switch v := strings.TrimSpace(r.get(c.cfg.EscalationField)); strings.ToLower(v) {
	case "", "false", "0":
		return casesync.EscalationRequest{}
	}
	req := casesync.EscalationRequest{Requested: true}
	if c.cfg.EscalationReasonField != "" {
		req.Reason = casesync.EscalationText(r.get(c.cfg.EscalationReasonField))
	}
	if c.cfg.EscalationJustificationField != "" {
		req.Justification = casesync.EscalationText(r.get(c.cfg.EscalationJustificationField))
	}
	return req
}

// SetGoogleState writes a Google case state to the state column and, when
// SERVICENOW_STATE_STATUSES maps the state, sets the record's state (with
// SERVICENOW_HOLD_REASON for incident's On Hold), in one PATCH. Without a
// mapped state it is that PATCH alone; with one, the record is read first
// and only what differs is written, so a repeated call costs one read, and
// a record in a closed state keeps it (it is never reopened). A PATCH
// whose answer lacks the state column wrote nothing (the platform ignores
// a column the table lacks): that is a permanent error naming the column.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	const op = "records.state"
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, op, "Google state %q is not one of %s", state, strings.Join(casesync.GoogleStates, ", "))
	}
	value := c.cfg.StateStatuses[state]
	if c.cfg.StateField == "" && value == "" {
		return nil
	}
	fields := map[string]string{}
	if c.cfg.StateField != "" {
		fields[c.cfg.StateField] = state
	}
	if value != "" {
		r, err := c.getRecord(ctx, "records.get", id, c.stateFields())
		if err != nil {
			return err
		}
		current := r.get("state")
		if c.cfg.StateField != "" && r.get(c.cfg.StateField) == state {
			delete(fields, c.cfg.StateField)
		}
		if current != value && !slices.Contains(c.cfg.ClosedStates, current) {
			fields["state"] = value
			if c.cfg.Table == "incident" && value == onHold {
				fields["hold_reason"] = c.cfg.HoldReason
			} else if c.cfg.Table == "incident" && current == onHold && r.get("hold_reason") != "" {
				// Leaving On Hold: the reason no longer holds.
				fields["hold_reason"] = ""
			}
		}
		if len(fields) == 0 {
			return nil
		}
	}
	got, err := c.patchFields(ctx, op, id, fields)
	if err != nil {
		return err
	}
	if v, ok := fields[c.cfg.StateField]; ok && c.cfg.StateField != "" {
		if _, present := got[c.cfg.StateField]; !present {
			return missingColumn(op, c.cfg.Table, c.cfg.StateField, EnvStateField)
		}
		if got.get(c.cfg.StateField) != v {
			return crmhttp.Invalid(vendor, op, "column %s of %s did not keep the Google state %s (is it a String column of at least 26 characters?)", c.cfg.StateField, c.cfg.Table, v)
		}
	}
	return nil
}

// ClearEscalationRequest sets the escalation column to false, leaving the
// reason and justification as they are. Idempotent; with requests turned
// off it makes no call.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	const op = "records.escalation"
	if c.cfg.EscalationField == "" {
		return nil
	}
	got, err := c.patchFields(ctx, op, id, map[string]string{c.cfg.EscalationField: "false"})
	if err != nil {
		return err
	}
	if _, present := got[c.cfg.EscalationField]; !present {
		return missingColumn(op, c.cfg.Table, c.cfg.EscalationField, EnvEscalationField)
	}
	return nil
}

// patchFields writes fields and returns the record's values of them as
// the platform answers.
func (c *Client) patchFields(ctx context.Context, op, id string, fields map[string]string) (record, error) {
	names := []string{"sys_id"}
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names[1:])
	return c.patchReturning(ctx, op, id, fields, strings.Join(names, ","), crmhttp.Safe)
}

// missingColumn is the permanent error of a write to a column the table
// lacks, or the sync user cannot read.
func missingColumn(op, table, column, variable string) error {
	return crmhttp.Invalid(vendor, op, "table %s has no column %s the sync user can read, so the write was ignored: add it as docs/crms/servicenow.md says, or set %s to the column's name",
		table, column, variable)
}
