package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// Limits of the Case fields casebridge writes.
const (
	maxSubject     = 255
	maxDescription = 32000
	// maxIDsPerQuery bounds an "Id IN (...)" list, keeping the query
	// well under SOQL's 100,000-character limit.
	maxIDsPerQuery = 200
)

// caseFields is the select list of every Case read: the standard fields,
// the configured custom ones, and the newest case comment, whose time
// counts as the case's update (see the package documentation).
func (c *Client) caseFields() string {
	fields := []string{"Id", "CaseNumber", "Subject", "Description", "Status", "IsClosed", "Priority",
		"CreatedDate", "SystemModstamp", c.cfg.SyncFlagField, c.cfg.GoogleCaseField}
	for _, f := range []string{c.cfg.StateField, c.cfg.EscalationField, c.cfg.EscalationReasonField, c.cfg.EscalationJustificationField} {
		if f != "" {
			fields = append(fields, f)
		}
	}
	return strings.Join(fields, ", ") + ", (SELECT SystemModstamp FROM CaseComments ORDER BY SystemModstamp DESC LIMIT 1)" +
		", (SELECT SystemModstamp FROM ContentDocumentLinks ORDER BY SystemModstamp DESC LIMIT 1)"
}

// cases runs a Case query with the given WHERE and ORDER BY clauses.
func (c *Client) cases(ctx context.Context, op, where, order string) ([]casesync.CompanyCase, error) {
	soql := "SELECT " + c.caseFields() + " FROM Case WHERE " + where
	if order != "" {
		soql += " ORDER BY " + order
	}
	var out []casesync.CompanyCase
	var raws []record
	at, err := c.query(ctx, op, soql, func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		raws = append(raws, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range raws {
		cc, ok := c.toCase(r)
		if !ok {
			continue
		}
		cc.ReadAt = at
		out = append(out, cc)
	}
	return out, nil
}

// toCase converts a Case row; ok is false for a row without a valid id.
func (c *Client) toCase(r record) (casesync.CompanyCase, bool) {
	id := r.str("Id")
	if !validID(id, "500") {
		return casesync.CompanyCase{}, false
	}
	cc := casesync.CompanyCase{
		ID:          to18(id),
		Subject:     r.str("Subject"),
		Description: r.str("Description"),
		Priority:    r.str("Priority"),
		Closed:      r.boolean("IsClosed"),
		SyncFlag:    r.boolean(c.cfg.SyncFlagField),
		GoogleCase:  r.str(c.cfg.GoogleCaseField),
		CreateTime:  r.time("CreatedDate"),
		UpdateTime:  r.time("SystemModstamp"),
	}
	for _, rel := range []string{"CaseComments", "ContentDocumentLinks"} {
		for _, child := range r.subquery(rel) {
			if t := child.time("SystemModstamp"); t.After(cc.UpdateTime) {
				cc.UpdateTime = t
			}
		}
	}
	if c.cfg.EscalationField != "" && r.boolean(c.cfg.EscalationField) {
		cc.Escalation = casesync.EscalationRequest{
			Requested:     true,
			Reason:        escalationText(r, c.cfg.EscalationReasonField),
			Justification: escalationText(r, c.cfg.EscalationJustificationField),
		}
	}
	return cc, true
}

// escalationText reads a reason or justification field: "" when unset,
// not valid UTF-8 or over casesync.MaxEscalationText bytes.
func escalationText(r record, field string) string {
	if field == "" {
		return ""
	}
	s := r.str(field)
	if !utf8.ValidString(s) || len(s) > casesync.MaxEscalationText {
		return ""
	}
	return strings.TrimSpace(s)
}

// syncedWhere selects the flagged or linked cases.
func (c *Client) syncedWhere() string {
	return "(" + c.cfg.SyncFlagField + " = true OR " + c.cfg.GoogleCaseField + " != null)"
}

// SearchUpdated returns every flagged or linked case updated strictly
// after since: cases whose SystemModstamp is later, and cases with a case
// comment or a file link made or changed later (their update time is that
// comment's or link's).
func (c *Client) SearchUpdated(ctx context.Context, since time.Time) ([]casesync.CompanyCase, error) {
	const op = "cases.search"
	found := map[string]casesync.CompanyCase{}
	cases, err := c.cases(ctx, op, c.syncedWhere()+" AND SystemModstamp > "+soqlTime(since), "SystemModstamp, Id")
	if err != nil {
		return nil, err
	}
	for _, cc := range cases {
		found[cc.ID] = cc
	}
	// Cases whose comments or files changed since, whatever their own
	// stamp; only synced cases' comments and files are read, so that the
	// org's other traffic costs nothing. A file is found by its link to
	// the case: ContentDocumentLink must be filtered on LinkedEntityId,
	// which a semi-join on the synced cases does, while a ContentVersion
	// query without an id returns only the sync user's own files.
	parents := map[string]bool{}
	for _, q := range []struct{ op, soql, field string }{
		{"comments.search", "SELECT ParentId FROM CaseComment WHERE SystemModstamp > " + soqlTime(since) +
			" AND (Parent." + c.cfg.SyncFlagField + " = true OR Parent." + c.cfg.GoogleCaseField + " != null) ORDER BY SystemModstamp, Id", "ParentId"},
		{"files.search", "SELECT LinkedEntityId FROM ContentDocumentLink WHERE LinkedEntityId IN (SELECT Id FROM Case WHERE " + c.syncedWhere() +
			") AND SystemModstamp > " + soqlTime(since) + " ORDER BY SystemModstamp, Id", "LinkedEntityId"},
	} {
		_, err = c.query(ctx, q.op, q.soql, func(raw json.RawMessage) error {
			r, err := decodeRecord(raw)
			if err != nil {
				return malformed(q.op, err)
			}
			if p := r.str(q.field); validID(p, "500") {
				if _, ok := found[to18(p)]; !ok {
					parents[to18(p)] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(parents))
	for id := range parents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxIDsPerQuery)]
		ids = ids[len(batch):]
		quoted := make([]string, len(batch))
		for i, id := range batch {
			quoted[i] = soqlString(id)
		}
		more, err := c.cases(ctx, "cases.search_by_id", c.syncedWhere()+" AND Id IN ("+strings.Join(quoted, ", ")+")", "")
		if err != nil {
			return nil, err
		}
		for _, cc := range more {
			found[cc.ID] = cc
		}
	}
	out := make([]casesync.CompanyCase, 0, len(found))
	for _, cc := range found {
		if cc.UpdateTime.After(since) {
			out = append(out, cc)
		}
	}
	slices.SortFunc(out, func(a, b casesync.CompanyCase) int {
		if d := a.UpdateTime.Compare(b.UpdateTime); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// getCase reads one case by id.
func (c *Client) getCase(ctx context.Context, op, id string) (casesync.CompanyCase, error) {
	cid, err := caseID(op, id)
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	cases, err := c.cases(ctx, op, "Id = "+soqlString(cid), "")
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	if len(cases) == 0 {
		return casesync.CompanyCase{}, crmhttp.NotFoundError(vendor, op, "case "+cid)
	}
	return cases[0], nil
}

// GetCase reads one case.
func (c *Client) GetCase(ctx context.Context, id string) (casesync.CompanyCase, error) {
	return c.getCase(ctx, "cases.get", id)
}

// FindByGoogleCase returns the oldest case whose Google-case field holds
// name.
func (c *Client) FindByGoogleCase(ctx context.Context, name string) (casesync.CompanyCase, bool, error) {
	const op = "cases.find"
	if name == "" {
		return casesync.CompanyCase{}, false, nil
	}
	if !utf8.ValidString(name) || len(name) > 255 {
		return casesync.CompanyCase{}, false, crmhttp.Invalid(vendor, op, "the Google case name is not valid UTF-8 or is too long")
	}
	cases, err := c.cases(ctx, op, c.cfg.GoogleCaseField+" = "+soqlString(name), "CreatedDate, Id")
	if err != nil {
		return casesync.CompanyCase{}, false, err
	}
	for _, cc := range cases {
		if cc.GoogleCase == name { // the field compares without regard to case
			return cc, true, nil
		}
	}
	return casesync.CompanyCase{}, false, nil
}

// saveResult is the answer to an sObject insert.
type saveResult struct {
	ID      string    `json:"id"`
	Success bool      `json:"success"`
	Errors  []sfError `json:"errors"`
}

// cut shortens s to at most n characters, marking the cut.
func cut(s string, n int, mark string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-len([]rune(mark))]) + mark
}

// CreateCase opens a case linked to a Google case. A subject over 255
// characters is cut with an ellipsis, and a description over 32,000 with
// a note that the whole text is on the Google case: Salesforce refuses
// longer ones (STRING_TOO_LONG).
func (c *Client) CreateCase(ctx context.Context, nc casesync.NewCompanyCase) (casesync.CompanyCase, error) {
	const op = "cases.create"
	if !utf8.ValidString(nc.Subject) || !utf8.ValidString(nc.Description) || !utf8.ValidString(nc.GoogleCase) {
		return casesync.CompanyCase{}, crmhttp.Invalid(vendor, op, "the subject, the description or the Google case name is not valid UTF-8")
	}
	if len(nc.GoogleCase) > 255 {
		return casesync.CompanyCase{}, crmhttp.Invalid(vendor, op, "the Google case name is longer than 255 characters")
	}
	in := map[string]any{
		"Subject":     cut(nc.Subject, maxSubject, "…"),
		"Description": cut(nc.Description, maxDescription, "\n\n[Cut here: the whole description is on the Google case.]"),
	}
	if nc.Priority != "" {
		in["Priority"] = nc.Priority
	}
	if nc.GoogleCase != "" {
		in[c.cfg.GoogleCaseField] = nc.GoogleCase
	}
	var res saveResult
	err := c.call(ctx, func() error {
		req := crmhttp.Request{Op: op, Method: http.MethodPost, Path: c.api + "/sobjects/Case", Body: crmhttp.JSONBody(in),
			ContentType: "application/json", Mode: crmhttp.IfRefused}
		return c.http.JSON(ctx, req, &res)
	})
	if err != nil {
		return casesync.CompanyCase{}, err
	}
	if !validID(res.ID, "500") {
		return casesync.CompanyCase{}, &casesync.APIError{Side: casesync.SideCompany, Op: op, Status: http.StatusCreated,
			Err: errors.New("Salesforce: the insert answered no case id")}
	}
	return c.getCase(ctx, op, res.ID)
}

// patch updates fields of a case.
func (c *Client) patch(ctx context.Context, op, id string, fields map[string]any) error {
	return c.call(ctx, func() error {
		req := crmhttp.Request{Op: op, Method: http.MethodPatch, Path: c.api + "/sobjects/Case/" + id,
			Body: crmhttp.JSONBody(fields), ContentType: "application/json", Mode: crmhttp.Safe}
		return c.http.JSON(ctx, req, nil)
	})
}

// SetGoogleCase writes the Google-case field unless it holds name.
func (c *Client) SetGoogleCase(ctx context.Context, id, name string) error {
	const op = "cases.update"
	if err := crmhttp.CheckText(vendor, op, name); err != nil {
		return err
	}
	if len(name) > 255 {
		return crmhttp.Invalid(vendor, op, "the Google case name is longer than 255 characters")
	}
	cc, err := c.getCase(ctx, op, id)
	if err != nil {
		return err
	}
	if cc.GoogleCase == name {
		return nil
	}
	return c.patch(ctx, op, cc.ID, map[string]any{c.cfg.GoogleCaseField: name})
}

// SetPriority sets the case's Priority unless it already has it. A value
// outside the org's picklist is refused by Salesforce
// (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST), a permanent error.
func (c *Client) SetPriority(ctx context.Context, id, priority string) error {
	const op = "cases.update"
	if _, err := caseID(op, id); err != nil {
		return err
	}
	if err := crmhttp.CheckText(vendor, op, priority); err != nil {
		return err
	}
	if len(priority) > 255 {
		return crmhttp.Invalid(vendor, op, "the priority is longer than 255 characters")
	}
	cc, err := c.getCase(ctx, op, id)
	if err != nil {
		return err
	}
	if cc.Priority == priority {
		return nil
	}
	return c.patch(ctx, op, cc.ID, map[string]any{"Priority": priority})
}

// CloseCase sets the close status unless the case is closed (IsClosed,
// which Salesforce derives from the status).
func (c *Client) CloseCase(ctx context.Context, id string) error {
	const op = "cases.close"
	cc, err := c.getCase(ctx, op, id)
	if err != nil {
		return err
	}
	if cc.Closed {
		return nil
	}
	if err := c.patch(ctx, op, cc.ID, map[string]any{"Status": c.cfg.CloseStatus}); err != nil {
		return err
	}
	after, err := c.getCase(ctx, op, cc.ID)
	if err != nil {
		return err
	}
	if !after.Closed {
		return &casesync.APIError{Side: casesync.SideCompany, Op: op, Err: fmt.Errorf(
			"Salesforce: the status %s that %s names is not one the org counts as closed: set it to a closed status", casesync.Quote(c.cfg.CloseStatus), EnvCloseStatus)}
	}
	return nil
}

// closedStatuses reads which Status values the org counts as closed
// (CaseStatus.IsClosed), once.
func (c *Client) closedStatuses(ctx context.Context) (map[string]bool, error) {
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	if c.closed != nil {
		return c.closed, nil
	}
	out := map[string]bool{}
	_, err := c.query(ctx, "statuses.list", "SELECT ApiName, IsClosed FROM CaseStatus", func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed("statuses.list", err)
		}
		out[strings.ToLower(r.str("ApiName"))] = r.boolean("IsClosed")
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.closed = out
	return out, nil
}

// SetGoogleState writes the Google case's state to the state field and,
// when the state is mapped to a status and the case is open, that status,
// in one update. It writes nothing when the case already shows both. A
// mapped status the org counts as closed is refused, and a closed case's
// status is left alone: a state never closes or reopens the case.
func (c *Client) SetGoogleState(ctx context.Context, id, state string) error {
	const op = "cases.state"
	if !slices.Contains(casesync.GoogleStates, state) {
		return crmhttp.Invalid(vendor, op, "%s is not a Google case state", casesync.Quote(state))
	}
	status := c.cfg.StateStatuses[state]
	if c.cfg.StateField == "" && status == "" {
		return nil
	}
	cid, err := caseID(op, id)
	if err != nil {
		return err
	}
	if status != "" {
		closed, err := c.closedStatuses(ctx)
		if err != nil {
			return err
		}
		if closed[strings.ToLower(status)] {
			return crmhttp.Invalid(vendor, op, "%s maps %s to %s, which the org counts as closed: map it to an open status", EnvStateStatuses, state, casesync.Quote(status))
		}
	}
	soql := "SELECT Id, Status, IsClosed"
	if c.cfg.StateField != "" {
		soql += ", " + c.cfg.StateField
	}
	var cur record
	_, err = c.query(ctx, op, soql+" FROM Case WHERE Id = "+soqlString(cid), func(raw json.RawMessage) error {
		r, err := decodeRecord(raw)
		if err != nil {
			return malformed(op, err)
		}
		cur = r
		return nil
	})
	if err != nil {
		return err
	}
	if cur == nil {
		return crmhttp.NotFoundError(vendor, op, "case "+cid)
	}
	fields := map[string]any{}
	if c.cfg.StateField != "" && cur.str(c.cfg.StateField) != state {
		fields[c.cfg.StateField] = state
	}
	// A closed case keeps its status: a person may have closed it after
	// the engine read it open, and a state never reopens a case.
	if status != "" && !cur.boolean("IsClosed") && cur.str("Status") != status {
		fields["Status"] = status
	}
	if len(fields) == 0 {
		return nil
	}
	return c.patch(ctx, op, cid, fields)
}

// ClearEscalationRequest unticks the escalation checkbox unless it is
// unticked. The reason and justification are left for the record.
func (c *Client) ClearEscalationRequest(ctx context.Context, id string) error {
	const op = "cases.escalation"
	cid, err := caseID(op, id)
	if err != nil {
		return err
	}
	if c.cfg.EscalationField == "" {
		// Nothing to clear, but the case must exist all the same.
		_, err := c.getCase(ctx, op, cid)
		return err
	}
	cc, err := c.getCase(ctx, op, cid)
	if err != nil {
		return err
	}
	if !cc.Escalation.Requested {
		return nil
	}
	return c.patch(ctx, op, cid, map[string]any{c.cfg.EscalationField: false})
}
