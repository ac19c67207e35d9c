package casesync

import (
	"context"
	"slices"
	"strings"
)

// reopen handles a CRM case that is open again after both cases closed.
func (r *reconciliation) reopen(ctx context.Context) error {
	m := &r.m
	if err := r.newCaseNotice(ctx); err != nil {
		return err
	}
	if r.g == nil || r.c == nil || !r.g.Closed() || r.c.Closed || !m.Company.Closed {
		return nil
	}
	if m.ReopenNoticeSent {
		return nil
	}
	if r.cfg.ReopenPolicy == ReopenNewCase {
		return r.reopenWithNewCase(ctx)
	}
	coms, err := r.comments(ctx, SideCompany)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, reopenPrefix+m.GoogleCase+" ") }) {
		c, err := r.postComment(ctx, SideCompany, reopenText(m.GoogleCase, ReopenComment, ""), true)
		if err != nil {
			return err
		}
		r.commentDone(SideCompany, c)
		r.act("told the reopened CRM case that the Google case stays closed")
	}
	t := true
	r.reopenNotice = &t
	return nil
}

func (r *reconciliation) reopenWithNewCase(ctx context.Context) error {
	m := &r.m
	old := m.GoogleCase
	exclude := append(slices.Clone(m.PreviousGoogleCases), old)
	name, err := r.findLinkedGoogleCase(ctx, m.CompanyCaseID, exclude)
	if err == nil && name == "" && m.CreateIntentSide == SideGoogle {
		name, err = r.findOwnCreation(ctx, m.CompanyCaseID, exclude)
	}
	if err != nil {
		return err
	}
	if name == "" {
		if err := r.recordIntent(ctx, SideGoogle); err != nil {
			return err
		}
		g, err := r.googleWrite().CreateCase(ctx, r.newGoogleCase("This case continues closed Google Cloud support case "+old+", whose CRM case was reopened."))
		if err != nil {
			return err
		}
		name = g.Name
		r.act("created Google case %s for the reopened CRM case", name)
	}
	// LinkKey moves the old case to PreviousGoogleCases (its key still
	// leads here, so late events about it find this mapping) and starts the
	// Google side over.
	lm, err := r.linkKey(ctx, SideGoogle, name)
	if err != nil {
		return err
	}
	// The store started the Google side over and reopened the mapping in
	// the same transaction (StartOverOnNewGoogleCase).
	m.PreviousGoogleCases = lm.PreviousGoogleCases
	m.GoogleCase = lm.GoogleCase
	StartOverOnNewGoogleCase(m)
	r.forget(SideGoogle)
	if _, err := r.getGoogle(ctx, name); err != nil {
		return err
	}
	if err := r.newCaseNotice(ctx); err != nil {
		return err
	}
	// What the CRM case said while both were closed stays done; what came
	// since, such as the reply that reopened it, goes to the new case.
	return nil
}

// newCaseNotice tells the CRM case which Google case it now syncs with,
// while the mapping owes it that notice (NewCaseNoticeOwed): a run whose
// post failed, or that died after linking the new case, leaves it owed,
// and the next run posts it, unless the CRM case already has it.
func (r *reconciliation) newCaseNotice(ctx context.Context) error {
	m := &r.m
	if !m.NewCaseNoticeOwed || len(m.PreviousGoogleCases) == 0 || m.CompanyCaseID == "" {
		return nil
	}
	old := m.PreviousGoogleCases[len(m.PreviousGoogleCases)-1]
	coms, err := r.comments(ctx, SideCompany)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, reopenPrefix+old+" ") }) {
		c, err := r.postComment(ctx, SideCompany, reopenText(old, ReopenNewCase, m.GoogleCase), true)
		if err != nil {
			return err
		}
		r.commentDone(SideCompany, c)
		r.act("told the reopened CRM case that Google case %s continues %s", m.GoogleCase, old)
	}
	r.newCaseNoticed = true
	return nil
}
