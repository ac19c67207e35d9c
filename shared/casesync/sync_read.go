package casesync

import "context"

// readSides reads each known side's case once per pass; a case read while
// resolving, or carried from the previous pass, is reused. When the message
// announced a change on the Google side that can only be new comments or
// files, the first pass does not read the CRM case but takes it to be as
// the mapping last saw it (see canAssumeCompany).
func (r *reconciliation) readSides(ctx context.Context) error {
	m := &r.m
	if m.GoogleCase != "" && (r.g == nil || r.g.Name != m.GoogleCase) {
		if _, err := r.getGoogle(ctx, m.GoogleCase); err != nil {
			return err
		}
	}
	if m.CompanyCaseID == "" || r.c != nil && r.c.ID == m.CompanyCaseID {
		return nil
	}
	if r.from == SideGoogle && r.canAssumeCompany() {
		r.assumeCompany()
		return nil
	}
	_, err := r.getCompany(ctx, m.CompanyCaseID)
	return err
}

// canAssumeCompany reports whether the first pass may take the CRM case to
// be as the mapping last saw it, having read the Google case, whose change
// the message announced. That is so when nothing the pass might do depends
// on the CRM case beyond what the mapping knows of it: the pair is linked
// and open on both sides as far as anyone knows, the Google case's priority
// is the one last agreed (so its change can only be comments or files), no
// change on the CRM side is announced, and nothing is owed, failing or
// half-done (an escalation request being handled). A CRM case takes
// comments, files and Google's state whatever its state; a pass that
// writes to it reads it in the next pass, as it would anyway, and a change
// to it meanwhile is announced by its own poll or webhook. (The Google case
// is always read: a closed one takes no comment, and it may have been
// closed just before.)
func (r *reconciliation) canAssumeCompany() bool {
	m := &r.m
	if !m.Linked() || m.RerunRequested || m.Attempts > 0 || m.RefusedItem != "" || m.NewCaseNoticeOwed ||
		m.ReopenNoticeSent || m.Priority == PriorityUnspecified || !m.Company.PendingSince.IsZero() ||
		m.Escalation != (EscalationProgress{}) {
		return false
	}
	for _, s := range sides {
		if ms := m.Side(s); ms.Closed || ms.SeenUpdateTime.IsZero() {
			return false
		}
	}
	if _, ok := r.cfg.Priorities.Company(m.Priority); !ok {
		return false
	}
	g := r.g
	return g != nil && g.Name == m.GoogleCase && !g.Closed() && (g.Priority == m.Priority || g.Priority == PriorityUnspecified)
}

// assumeCompany takes the CRM case to be as the mapping last saw it: open,
// at the agreed priority, linked, unchanged since its seen update time. It
// is never recorded as read (neither its seen update time nor its read
// time moves), nor carried to the next pass.
func (r *reconciliation) assumeCompany() {
	m := &r.m
	v, _ := r.cfg.Priorities.Company(m.Priority)
	r.c = &CompanyCase{ID: m.CompanyCaseID, Priority: v, GoogleCase: m.GoogleCase, SyncFlag: true, UpdateTime: m.Company.SeenUpdateTime}
	r.assumed = SideCompany
}
