package casesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// A refusal is casebridge declining to link or copy because what asked for it
// is not proof: a link line it did not write, a Google-case field that names
// a malformed, foreign or unreadable case, a linked CRM case no longer
// flagged. Each is logged with its reason (never case text), counted in the
// store and shown by the status command, so an operator sees attempts and
// mistakes alike.

// RefusalKind names why something was refused.
type RefusalKind string

const (
	// RefusedLinkedCaseNotFlagged: a link line casebridge wrote names a CRM
	// case that is neither flagged for sync nor names the Google case.
	RefusedLinkedCaseNotFlagged RefusalKind = "linked-case-not-flagged"
	// RefusedFieldMalformed: a CRM case's Google-case field is not a
	// well-formed case name.
	RefusedFieldMalformed RefusalKind = "google-case-field-malformed"
	// RefusedFieldOutOfScope: the field names a case outside the configured
	// parents (CSAPI_PARENT and its project allowlist).
	RefusedFieldOutOfScope RefusalKind = "google-case-field-out-of-scope"
	// RefusedFieldUnreadable: the field names a case casebridge cannot read
	// (it does not exist, or casebridge has no rights on it).
	RefusedFieldUnreadable RefusalKind = "google-case-field-unreadable"
	// RefusedLinkConflict: the case's counterpart is already linked to
	// another case; a person must decide which link is right.
	RefusedLinkConflict RefusalKind = "link-conflict"
)

// Refusal is one kind of refusal for one case, as the store keeps it.
type Refusal struct {
	// Side and CaseID name the case whose content or field asked.
	Side   Side        `json:"side"`
	CaseID string      `json:"caseId"`
	Kind   RefusalKind `json:"kind"`
	// Reason says why, naming ids and names only (cut with Quote).
	Reason string `json:"reason"`
	// First and Last are when it was first and last refused; Count how often.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int64     `json:"count"`
	// CaseUpdateTime is the newest update time of the case, by its own
	// side's clock, at which it was refused; zero when none is known (the
	// case was read in the tick of its last change, when a later change
	// could still carry the same time). A case whose update time has not
	// moved past it would be refused again: the CRM poller does not publish
	// it. A person who corrects it changes it, and it is published again.
	CaseUpdateTime time.Time `json:"caseUpdateTime,omitzero"`
}

// Key is the refusal's identity in the store: one record per case and kind.
func (f Refusal) Key() string {
	return string(f.Side) + ":" + string(f.Kind) + ":" + f.CaseID
}

// RefusalStore is the part of the store that keeps refusals. Records expire
// on their own (RefusalRetention after the last one).
type RefusalStore interface {
	// RecordRefusal adds one occurrence of f (Side, CaseID, Kind, Reason,
	// CaseUpdateTime; at is its time) and returns the record as stored. The
	// record keeps the later of its CaseUpdateTime and f's.
	RecordRefusal(ctx context.Context, f Refusal, at time.Time) (Refusal, error)
	// RefusedAt returns, for each of ids (cases of side) refused at a known
	// update time, the newest such time over the kinds of RefusalKinds(side).
	// Ids with none are absent. One batched read serves all ids.
	RefusedAt(ctx context.Context, side Side, ids []string) (map[string]time.Time, error)
	// ListRefusals returns the records, the most recent first, at most limit.
	ListRefusals(ctx context.Context, limit int) ([]Refusal, error)
}

// RefusalKinds lists the kinds of refusal a case of side can get while it
// has no mapping, the ones RefusedAt reads.
func RefusalKinds(side Side) []RefusalKind {
	if side == SideCompany {
		return []RefusalKind{RefusedFieldMalformed, RefusedFieldOutOfScope, RefusedFieldUnreadable, RefusedLinkConflict}
	}
	return []RefusalKind{RefusedLinkedCaseNotFlagged, RefusedLinkConflict}
}

// RefusalRetention is how long a refusal record is kept after its last
// occurrence.
const RefusalRetention = 30 * 24 * time.Hour

// RefusedError is the permanent error of a reconciliation that was refused.
type RefusedError struct{ Refusal Refusal }

func (e *RefusedError) Error() string {
	return "refused (" + string(e.Refusal.Kind) + "): " + e.Refusal.Reason
}

// refuse logs and records a refusal and returns it as a permanent error. A
// failure to record it is logged; the refusal stands.
func (r *reconciliation) refuse(ctx context.Context, f Refusal) error {
	f.Reason = strings.ToValidUTF8(f.Reason, "")
	f.CaseUpdateTime = r.refusedUpdateTime(f.Side, f.CaseID)
	r.e.refused(ctx, r.log, f)
	return &RefusedError{Refusal: f}
}

// refusedUpdateTime is the update time of the CRM case this run read, when
// it is caseID and was read late enough that no later change in the same
// tick could share its update time; zero otherwise. Only CRM cases are
// skipped by their refusals, so a Google case gets zero.
func (r *reconciliation) refusedUpdateTime(side Side, caseID string) time.Time {
	if side != SideCompany || r.c == nil || r.c.ID != caseID || r.assumed == SideCompany || r.companyTickWait() > 0 {
		return time.Time{}
	}
	return r.c.UpdateTime
}

func (e *Engine) refused(ctx context.Context, log *slog.Logger, f Refusal) {
	log.WarnContext(ctx, "refused", "refusal", string(f.Kind), "reason", f.Reason)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := e.Store.RecordRefusal(rctx, f, e.now()); err != nil {
		log.WarnContext(ctx, "recording a refusal failed", "error", err)
	}
}

// checkGoogleCaseField decides whether a CRM case's Google-case field may
// link it: the name must be well-formed, inside the configured parents and
// readable by casebridge. When it is not, the refusal is recorded, the CRM
// case gets one internal note saying why, nothing is written to Google, and
// skip says so.
func (r *reconciliation) checkGoogleCaseField(ctx context.Context, c *CompanyCase) (skip string, err error) {
	name := c.GoogleCase
	var kind RefusalKind
	var why string
	switch {
	case !ValidGoogleCaseName(name):
		kind, why = RefusedFieldMalformed, "is not a Google Cloud support case name (projects/PROJECT/cases/NUMBER)"
	case !r.e.Google.InScope(name):
		kind, why = RefusedFieldOutOfScope, "is outside the projects and organization casebridge syncs"
	default:
		_, gerr := r.getGoogle(ctx, name) // kept for the rest of the run
		switch {
		case gerr == nil:
			return "", nil
		case IsNotFound(gerr) || isForbidden(gerr):
			kind, why = RefusedFieldUnreadable, "does not exist or casebridge cannot read it"
		default:
			return "", gerr
		}
	}
	f := Refusal{Side: SideCompany, CaseID: c.ID, Kind: kind,
		Reason: fmt.Sprintf("CRM case %s: its Google case field %s %s", Quote(c.ID), Quote(name), why),
		// The first refusal of a value also posts a note, which moves the
		// case's update time: the next poll publishes it once more, and
		// that run records the time that covers the note.
		CaseUpdateTime: r.refusedUpdateTime(SideCompany, c.ID)}
	r.e.refused(ctx, r.log, f)
	if err := r.fieldNotice(ctx, c.ID, name, why); err != nil {
		return "", err
	}
	return "refused: " + f.Reason, nil
}

// fieldNoticePrefix starts the internal note a CRM case gets when its
// Google-case field cannot be honoured.
const fieldNoticePrefix = "casebridge did not link this case: its Google case field holds "

// fieldNotice posts the internal note about a refused Google-case field,
// once per value.
func (r *reconciliation) fieldNotice(ctx context.Context, id, value, why string) error {
	text := fieldNoticePrefix + Quote(value) + ", which " + why + ". Correct the field or clear it; nothing was sent to Google."
	first, _, _ := strings.Cut(text, ", which ")
	coms, err := r.e.CRM.ListComments(ctx, id)
	if err != nil {
		return err
	}
	for _, cm := range coms {
		if cm.ByConnector && strings.HasPrefix(cm.Body, first+", which ") {
			return nil
		}
	}
	if _, err := r.e.CRM.AddComment(ctx, id, text, false); err != nil {
		return err
	}
	r.act("told CRM case %s that its Google case field was refused", id)
	return nil
}

// isForbidden reports whether err is an API refusal for lack of rights.
func isForbidden(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == 403 && !ae.Transient
}

// conflict records a link conflict as a refusal, so status shows it, and
// returns it.
func (r *reconciliation) conflict(ctx context.Context, side Side, caseID string, ce *ConflictError) error {
	r.e.refused(ctx, r.log, Refusal{Side: side, CaseID: caseID, Kind: RefusedLinkConflict, Reason: ce.Reason,
		CaseUpdateTime: r.refusedUpdateTime(side, caseID)})
	return ce
}

// refusedUnmapped returns, for a poll of the CRM, the refused update times
// of the cases it found that are eligible, have no mapping and name a Google
// case (the poll maps the others itself), in one read. A failed read is
// logged and skips nothing: the cases are published as before.
func (e *Engine) refusedUnmapped(ctx context.Context, side Side, found []polled, mappings map[string]Mapping) map[string]time.Time {
	if side != SideCompany {
		return nil
	}
	var ids []string
	for _, f := range found {
		if _, ok := mappings[f.key]; !ok && f.eligible && f.googleCase != "" {
			ids = append(ids, f.key)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	at, err := e.Store.RefusedAt(ctx, side, ids)
	if err != nil {
		e.log().WarnContext(ctx, "could not read the refusals of unmapped cases; publishing them", "side", string(side), "error", err)
		return nil
	}
	return at
}

// refusedStill reports whether f was refused at its current update time.
func refusedStill(refused map[string]time.Time, f polled) bool {
	at, ok := refused[f.key]
	return ok && !changedSince(f.updateTime, at)
}
