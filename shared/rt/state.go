package rt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// Google's case state and escalation requests (casesync.CaseStateCRM).
//
// The state is written to a free-form custom field (StateField) with a
// PUT that REST2 applies as one update; RT records nothing when the field
// already holds the value. A state mapped to a status (StateStatuses) is
// written with its status in the same PUT, made only while the ticket is
// open: the ticket is read first, and the PUT carries the read's ETag in
// If-Match, so a ticket closed in between is not reopened (RT answers 412
// and the adapter reads again).
//
// An escalation is asked for in EscalationField (in the test instance a
// select with the one value "yes"). Clearing it needs a read too: REST2
// deletes a single value when sent null, but adds an empty value when
// there is none, which would be a change of its own.

var _ casesync.CaseStateCRM = (*Client)(nil)

// ParseStateStatuses reads RT_STATE_STATUSES: "STATE=status,..." (e.g.
// "ACTION_REQUIRED=open,IN_PROGRESS_GOOGLE_SUPPORT=stalled"), refusing a
// state that cannot be mapped and a status among closed.
func ParseStateStatuses(s string, closed []string) (map[string]string, error) {
	out, err := casesync.ParseStateStatuses(s)
	if err != nil {
		return nil, err
	}
	if err := checkStateStatuses(out, closed); err != nil {
		return nil, err
	}
	return out, nil
}

// checkStateStatuses reports what is wrong with a state-to-status table.
func checkStateStatuses(m map[string]string, closed []string) error {
	for _, state := range slices.Sorted(maps.Keys(m)) {
		status := m[state]
		switch {
		case state == "CLOSED":
			return errors.New("CLOSED may not be mapped to a status: casebridge closes the ticket with RT_CLOSE_STATUS")
		case !slices.Contains(casesync.MappableGoogleStates, state):
			return fmt.Errorf("%q is not a Google case state that can be mapped: use %s", state, strings.Join(casesync.MappableGoogleStates, ", "))
		case status == "":
			return fmt.Errorf("the state %s is mapped to an empty status", state)
		case slices.Contains(closed, status):
			return fmt.Errorf("the state %s is mapped to %q, which is one of the closed statuses (%s): map only open statuses, so that no state closes a ticket", state, status, strings.Join(closed, ","))
		}
	}
	return nil
}

// escalation reads the ticket's escalation request.
func (c *Client) escalation(t ticket) casesync.EscalationRequest {
	if c.cfg.EscalationField == "" || !asksForEscalation(t.customField(c.cfg.EscalationField)) {
		return casesync.EscalationRequest{}
	}
	text := func(field string) string {
		if field == "" {
			return ""
		}
		return casesync.EscalationText(t.customField(field))
	}
	return casesync.EscalationRequest{Requested: true, Reason: text(c.cfg.EscalationReasonField), Justification: text(c.cfg.EscalationJustificationField)}
}

// asksForEscalation reports whether the escalation field's value asks:
// any value but "no" or "false".
func asksForEscalation(v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && !strings.EqualFold(v, "no") && !strings.EqualFold(v, "false")
}

// SetGoogleState writes state to the state field and, when it is mapped to
// a status and the ticket is open, sets that status in the same update. A
// state that is not CSAPI's is refused without a call; with neither a field
// nor a status for the state, no call is made.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, OpUpdate, "%s is not a Google case state", casesync.Quote(state))
	}
	field, status := c.cfg.StateField, c.cfg.StateStatuses[state]
	switch {
	case field == "" && status == "":
		return nil
	case status == "":
		return c.update(ctx, id, map[string]any{"CustomFields": map[string]any{field: state}})
	}
	var set bool
	err := c.updateIfUnchanged(ctx, id, func(t ticket) map[string]any {
		body := map[string]any{}
		if field != "" && t.customField(field) != state {
			body["CustomFields"] = map[string]any{field: state}
		}
		set = false
		if !slices.Contains(c.cfg.ClosedStatuses, t.Status) && t.Status != status {
			body["Status"], set = status, true
		}
		return body
	})
	if err != nil || !set {
		return err
	}
	// REST2 answers 200 when the lifecycle refuses a status: read it back.
	t, err := c.getTicket(ctx, id)
	if err != nil {
		return err
	}
	if t.Status != status && !slices.Contains(c.cfg.ClosedStatuses, t.Status) {
		return &casesync.APIError{Side: casesync.SideCompany, Op: OpUpdate, Status: http.StatusForbidden,
			Err: fmt.Errorf("%s: ticket %s stayed %q after setting status %q for Google state %s: check that %s names a status of the queue's lifecycle that the sync user may set",
				vendor, id, t.Status, status, state, EnvStateStatuses)}
	}
	return nil
}

// ClearEscalationRequest empties the escalation field, when it holds a
// value; the reason and justification are left as they are.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	field := c.cfg.EscalationField
	if field == "" {
		return nil
	}
	return c.updateIfUnchanged(ctx, id, func(t ticket) map[string]any {
		if strings.TrimSpace(t.customField(field)) == "" {
			return nil
		}
		return map[string]any{"CustomFields": map[string]any{field: nil}}
	})
}

// maxConditionalTries bounds how often a conditional update is tried
// while the ticket keeps changing under it.
const maxConditionalTries = 3

// updateIfUnchanged reads the ticket, asks change for the update to make
// of it (nothing: done), and PUTs it on condition that the ticket has not
// changed since the read (If-Match with the read's ETag, the id of its
// last transaction). A ticket changed meanwhile is read again.
func (c *Client) updateIfUnchanged(ctx context.Context, id string, change func(ticket) map[string]any) error {
	if err := validID(OpGet, "ticket", id); err != nil {
		return err
	}
	for try := 1; ; try++ {
		var t ticket
		resp, err := c.http.Do(ctx, crmhttp.Request{Op: OpGet, Path: ticketPath(id)})
		if err != nil {
			return err
		}
		etag := resp.Header.Get("ETag")
		err = c.http.DecodeJSON(OpGet, resp, &t)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body := change(t)
		if len(body) == 0 {
			return nil
		}
		req := crmhttp.Request{Op: OpUpdate, Method: http.MethodPut, Path: ticketPath(id),
			ContentType: "application/json", Body: crmhttp.JSONBody(body)}
		if etag != "" {
			req.Header = http.Header{"If-Match": {etag}}
		}
		err = c.http.JSON(ctx, req, nil)
		var ae *casesync.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusPreconditionFailed {
			return err
		}
		if try == maxConditionalTries {
			return &casesync.APIError{Side: casesync.SideCompany, Op: OpUpdate, Status: ae.Status, Transient: true,
				Err: fmt.Errorf("%s: ticket %s kept changing while it was updated", vendor, id)}
		}
	}
}
