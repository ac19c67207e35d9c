package casesync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// GoogleStates are the CSAPI case states casebridge shows in the CRM.
var GoogleStates = []string{"NEW", "IN_PROGRESS_GOOGLE_SUPPORT", "ACTION_REQUIRED", "SOLUTION_PROVIDED", "CLOSED"}

// MappableGoogleStates are the Google states a CRM's configuration may map
// to a status: all but CLOSED, since closing is CloseCase's.
var MappableGoogleStates = GoogleStates[:4]

// ParseStateStatuses reads a CRM's state-to-status table,
// "STATE=status,STATE=status" (e.g. "ACTION_REQUIRED=open"); empty is no
// table. Each state (in any case) must be one of MappableGoogleStates,
// listed once, with a status of at most 255 bytes. The adapter checks the
// statuses against its CRM's closed ones.
func ParseStateStatuses(s string) (map[string]string, error) {
	out := map[string]string{}
	for pair := range strings.SplitSeq(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		state, status, ok := strings.Cut(pair, "=")
		state, status = strings.ToUpper(strings.TrimSpace(state)), strings.TrimSpace(status)
		switch {
		case !ok || state == "" || status == "":
			return nil, fmt.Errorf("entry %q: want STATE=status, e.g. ACTION_REQUIRED=open", pair)
		case state == "CLOSED":
			return nil, errors.New("CLOSED may not be mapped to a status: a closed Google case closes the CRM case through the adapter's close status")
		case !slices.Contains(MappableGoogleStates, state):
			return nil, fmt.Errorf("%s is not a Google case state that can be mapped: use %s", Quote(state), strings.Join(MappableGoogleStates, ", "))
		case len(status) > 255 || !utf8.ValidString(status):
			return nil, fmt.Errorf("the state %s is mapped to a status that is not UTF-8 text of at most 255 bytes", state)
		}
		if _, dup := out[state]; dup {
			return nil, fmt.Errorf("the state %s is listed twice", state)
		}
		out[state] = status
	}
	return out, nil
}

// EscalationText is a reason or justification read from a CRM field as the
// engine takes it: "" when it is not valid UTF-8 or is over
// MaxEscalationText bytes (see EscalationRequest).
func EscalationText(v string) string {
	if len(v) > MaxEscalationText || !utf8.ValidString(v) {
		return ""
	}
	return v
}

// EscalationReasons are the reasons cases.escalate takes.
var EscalationReasons = []string{"RESOLUTION_TIME", "TECHNICAL_EXPERTISE", "BUSINESS_IMPACT"}

// DefaultEscalationReason is the reason used when the CRM case gives none
// that CSAPI knows and none is configured.
const DefaultEscalationReason = "BUSINESS_IMPACT"

// syncState writes the Google case's state to the CRM case when it differs
// from the state casebridge last wrote there (Mapping.GoogleStateShown,
// which is cleared before each write and set once it landed). A person may change the CRM
// field or status meanwhile; casebridge writes again only when Google's
// state changes. The write is casebridge's own: the next pass reads the CRM
// case after it, so the poll that sees it finds it already seen. A CRM that
// refuses the write for good (the field was removed, the sync user may not
// set the status) does not hold up the rest of the sync: the refusal is
// logged and the state is not tried again until it changes.
func (r *reconciliation) syncState(ctx context.Context) error {
	sc, ok := r.e.CRM.(CaseStateCRM)
	if !ok || !r.m.Linked() || r.g == nil || r.c == nil || r.c.Closed {
		return nil
	}
	s := r.g.State
	if !slices.Contains(GoogleStates, s) || s == r.m.GoogleStateShown {
		return nil
	}
	if r.m.GoogleStateShown != "" {
		// What the CRM case shows is unknown from here until the write
		// is known to have landed: a write whose answer was lost, or a
		// run that died after it, may have left this state there, and a
		// later Google state equal to the recorded one must still be
		// written.
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if _, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
			if err := r.lease.owns(m); err != nil {
				return err
			}
			m.GoogleStateShown = ""
			return nil
		}); err != nil {
			return err
		}
		r.m.GoogleStateShown = ""
		unknown := ""
		r.stateShown = &unknown
	}
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	r.crmWrite()
	if err := sc.SetGoogleState(ctx, r.m.CompanyCaseID, s); err != nil {
		if !refusedForGood(err) {
			return err
		}
		r.log.WarnContext(ctx, "the CRM refused to show Google's case state; it is tried again when the state changes", "state", s, "error", err)
	} else {
		r.act("showed Google state %s on the CRM case", s)
	}
	r.m.GoogleStateShown = s
	r.stateShown = &s
	return nil
}

// refusedForGood reports whether err is the CRM's permanent refusal of a
// write (not a missing case, which the rest of the pass handles, and not a
// failure retrying may fix).
func refusedForGood(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Side == SideCompany && !ae.Transient && !IsTransient(err) && !IsNotFound(err)
}

// EscalationRepeatWindow is how long after a request was answered a new
// request that would get the same answer is left alone (no call, no note,
// not withdrawn): a CRM automation that puts the request back each time it
// is withdrawn then cannot make casebridge note or escalate without end.
const EscalationRepeatWindow = time.Hour

// EscalationInFlightFor is how long after a run recorded its intent to
// escalate its cases.escalate call may still reach Google (the attempts of
// a call the CSAPI adapter may repeat, a minute each): until then another
// run that finds the case not escalated waits rather than sending again.
const EscalationInFlightFor = 3 * time.Minute

// syncEscalation handles a request, made in the CRM case, to escalate its
// Google case: it escalates once, puts the outcome on the CRM case as an
// internal note once, and withdraws the request. Each step is recorded in
// the mapping before the next (EscalationProgress), so a run that crashed
// or lost an answer takes up where it stopped:
//   - a Google case already escalated is not escalated again: a run that
//     recorded its intent and finds the case escalated did it, and one
//     whose call may still be on its way waits for it;
//   - a note is looked for on the CRM case before it is posted again, and
//     an outcome decided is noted even if the person withdrew the request
//     meanwhile;
//   - a request seen while Clearing is set is the one being withdrawn.
//
// A request made again in the moment between a run withdrawing the previous
// one and recording that it did is taken for the previous one.
func (r *reconciliation) syncEscalation(ctx context.Context) error {
	sc, ok := r.e.CRM.(CaseStateCRM)
	if !ok || !r.m.Linked() || r.g == nil || r.c == nil || r.assumed == SideCompany {
		return nil
	}
	p := r.m.Escalation
	decidedBefore := p.Outcome != ""
	if !r.c.Escalation.Requested {
		if p == (EscalationProgress{}) {
			return nil
		}
		if decidedBefore && !p.Noted {
			// The person withdrew the request after casebridge acted on
			// it: the outcome still goes on the case.
			if err := r.noteEscalation(ctx, p, true); err != nil {
				return err
			}
			p.Noted = true
		}
		return r.finishEscalation(ctx, p)
	}
	if p.WithdrawRefused {
		return nil
	}
	if p == (EscalationProgress{}) && r.repeatsLast() {
		r.log.DebugContext(ctx, "escalation request repeats one answered within the hour; left alone", "outcome", string(r.m.LastEscalation.Outcome))
		return nil
	}
	if p.SeenAt.IsZero() {
		p.SeenAt = r.start
	}
	if !decidedBefore {
		if err := r.escalate(ctx, &p); err != nil {
			return err
		}
	}
	if !p.Noted {
		if err := r.noteEscalation(ctx, p, decidedBefore); err != nil {
			return err
		}
		p.Noted = true
		if err := r.setEscalation(ctx, p, true); err != nil {
			return err
		}
	}
	if !p.Clearing {
		p.Clearing = true
		if err := r.setEscalation(ctx, p, true); err != nil {
			return err
		}
	}
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	r.crmWrite()
	if err := sc.ClearEscalationRequest(ctx, r.m.CompanyCaseID); err != nil {
		if !refusedForGood(err) {
			return err
		}
		r.log.WarnContext(ctx, "the CRM refused to withdraw the answered escalation request; it stays until a person withdraws it", "error", err)
		p.WithdrawRefused = true
		return r.setEscalation(ctx, p, false)
	}
	r.act("withdrew the CRM case's escalation request (%s)", p.Outcome)
	return r.finishEscalation(ctx, p)
}

// repeatsLast reports whether a new request would get the same answer as
// the last one answered for this Google case, within
// EscalationRepeatWindow.
func (r *reconciliation) repeatsLast() bool {
	last := r.m.LastEscalation
	if last.Outcome == "" || r.start.Sub(last.SeenAt) >= EscalationRepeatWindow {
		return false
	}
	switch last.Outcome {
	case EscalationDone, EscalationAlready:
		return r.g.Escalated
	case EscalationClosed:
		return r.g.Closed()
	default:
		return !r.g.Escalated && !r.g.Closed()
	}
}

// finishEscalation ends the handling of a request: the mapping keeps its
// outcome as the last one (if it had one) and no progress.
func (r *reconciliation) finishEscalation(ctx context.Context, p EscalationProgress) error {
	if p.Outcome != "" {
		last := EscalationProgress{SeenAt: p.SeenAt, Outcome: p.Outcome, Noted: p.Noted}
		r.m.LastEscalation = last
		r.lastEscalation = &last
	}
	return r.setEscalation(ctx, EscalationProgress{}, false)
}

// escalate decides the request's outcome, escalating the Google case when
// it is open and not yet escalated, and records it.
func (r *reconciliation) escalate(ctx context.Context, p *EscalationProgress) error {
	switch {
	case r.g.Escalated && !p.IntentAt.IsZero():
		// This request's earlier attempt escalated it; its answer was lost.
		p.Outcome = EscalationDone
	case !p.IntentAt.IsZero() && !r.g.Closed() && r.start.Sub(p.IntentAt) < EscalationInFlightFor:
		// An earlier attempt's call may still be on its way (its worker
		// lost the lease while it waited): sending again could escalate
		// twice. Asked for again once that call has surely ended.
		return &TransientError{Err: fmt.Errorf("an escalation of %s sent at %s may still be in flight", r.m.GoogleCase, p.IntentAt.UTC().Format(time.RFC3339))}
	case r.g.Escalated:
		p.Outcome = EscalationAlready
	case r.g.Closed():
		p.Outcome = EscalationClosed
	default:
		reason, justification := r.escalationText()
		p.IntentAt = r.e.now()
		if err := r.setEscalation(ctx, *p, true); err != nil {
			return err
		}
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		err := r.googleWrite().Escalate(ctx, r.m.GoogleCase, reason, justification)
		var ae *APIError
		switch {
		case err == nil:
			p.Outcome = EscalationDone
			r.act("escalated Google case %s (%s)", r.m.GoogleCase, reason)
		case IsTransient(err) || !errors.As(err, &ae) || ae.Side != SideGoogle:
			// Tried again by the next run, which first reads whether
			// this attempt escalated the case after all.
			return err
		case ae.Status == http.StatusForbidden:
			p.Outcome, p.Detail = EscalationDenied, escalationDetail(ae)
		default:
			p.Outcome, p.Detail = EscalationRefused, escalationDetail(ae)
		}
	}
	return r.setEscalation(ctx, *p, true)
}

// escalationText is the reason and justification sent with the
// escalation: the CRM case's when it gives them, the configured defaults
// otherwise.
func (r *reconciliation) escalationText() (reason, justification string) {
	req := r.c.Escalation
	reason = EscalationReason(req.Reason)
	if reason == "" {
		reason = EscalationReason(r.cfg.EscalationReason)
	}
	if reason == "" {
		reason = DefaultEscalationReason
	}
	justification = strings.TrimSpace(req.Justification)
	if justification == "" || !utf8.ValidString(justification) || len(justification) > MaxEscalationText {
		justification = strings.TrimSpace(r.cfg.EscalationJustification)
	}
	if justification == "" {
		justification = fmt.Sprintf("Escalation requested by the customer's support team in their helpdesk case %s.", r.m.CompanyCaseID)
	}
	return reason, justification
}

// EscalationReason reads a reason as a person may write it in a CRM field
// ("Business impact", "business-impact", "BUSINESS_IMPACT") and returns
// the CSAPI value, or "" when it is none of them.
func EscalationReason(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer(" ", "_", "-", "_").Replace(s)
	if slices.Contains(EscalationReasons, s) {
		return s
	}
	return ""
}

// escalationDetail is the API's message, one line, bounded.
func escalationDetail(ae *APIError) string {
	msg := fmt.Sprintf("HTTP %d", ae.Status)
	if ae.Err != nil {
		msg += ": " + ae.Err.Error()
	}
	msg = strings.Join(strings.Fields(strings.ToValidUTF8(msg, "")), " ")
	if len(msg) > MaxEscalationDetail {
		cut := MaxEscalationDetail
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

// escalationNotePrefix starts the internal note about a request; it names
// the Google case and the request (by when it was first seen), so a run can
// tell whether the note is already on the CRM case.
func escalationNotePrefix(googleCase string, seen time.Time) string {
	return fmt.Sprintf("Escalation of Google case %s, asked for in this case (seen %s): ", googleCase, seen.UTC().Format("2006-01-02T15:04:05.000Z"))
}

func escalationNote(googleCase string, p EscalationProgress) string {
	var what string
	switch p.Outcome {
	case EscalationDone:
		what = "done. Google Cloud Support has escalated the case."
	case EscalationAlready:
		what = "not needed. The Google case was already escalated."
	case EscalationDenied:
		what = "refused. The Google Cloud support plan does not include technical escalations (" + p.Detail + ")."
	case EscalationClosed:
		what = "not possible. The Google case is closed."
	default:
		what = "refused by the Google Cloud Support API (" + p.Detail + ")."
	}
	return escalationNotePrefix(googleCase, p.SeenAt) + what
}

// noteEscalation posts the outcome as an internal note, unless a run that
// crashed after posting it left it there.
func (r *reconciliation) noteEscalation(ctx context.Context, p EscalationProgress, decidedBefore bool) error {
	prefix := escalationNotePrefix(r.m.GoogleCase, p.SeenAt)
	if decidedBefore {
		// Decided by an earlier run, which may have posted the note.
		coms, err := r.comments(ctx, SideCompany)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, prefix) }) {
			return nil
		}
	}
	c, err := r.postComment(ctx, SideCompany, escalationNote(r.m.GoogleCase, p), false)
	if err != nil {
		return err
	}
	r.commentDone(SideCompany, c)
	r.act("noted the escalation's outcome (%s) on the CRM case", p.Outcome)
	return nil
}

// setEscalation records the request's progress in the mapping: at once
// when now is set (before the next step's side effect), otherwise with the
// pass's save.
func (r *reconciliation) setEscalation(ctx context.Context, p EscalationProgress, now bool) error {
	if now {
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if _, err := r.e.Store.UpdateMapping(ctx, r.m.ID, func(m *Mapping) error {
			if err := r.lease.owns(m); err != nil {
				return err
			}
			m.Escalation = p
			return nil
		}); err != nil {
			return err
		}
	}
	r.m.Escalation = p
	r.escalation = &p
	return nil
}
