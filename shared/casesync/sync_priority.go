package casesync

import (
	"context"
)

// syncPriority carries a priority change across. When both sides changed
// since they last agreed, the more urgent priority wins: casebridge never
// lowers the urgency someone asked for.
func (r *reconciliation) syncPriority(ctx context.Context) error {
	if !r.m.Linked() || r.g.Closed() || r.c.Closed {
		return nil
	}
	base := r.m.Priority
	gp := r.g.Priority
	cp, ok := r.cfg.Priorities.Google(r.c.Priority)
	if !ok {
		r.log.WarnContext(ctx, "CRM priority value is not in the priority table; leaving priorities alone", "value", r.c.Priority)
		return nil
	}
	if gp == PriorityUnspecified {
		gp = base
	}
	// The CRM may have fewer priorities than Google: compare in the CRM's
	// terms, so a Google P0 written as a CRM value that reads back as P1 is
	// not taken for a change on the CRM side.
	bucket := r.cfg.Priorities.Bucket
	googleChanged := gp != base
	companyChanged := cp != bucket(base)
	var want Priority
	switch {
	case !companyChanged:
		want = gp
	case !googleChanged:
		want = cp
	case bucket(gp) == cp:
		want = gp
	default:
		want = min(gp, cp)
	}
	if want != gp {
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.googleWrite().SetPriority(ctx, r.m.GoogleCase, want); err != nil {
			return err
		}
		r.act("set Google priority to %s", want)
	}
	if bucket(want) != cp {
		v, _ := r.cfg.Priorities.Company(want)
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.crmWrite().SetPriority(ctx, r.m.CompanyCaseID, v); err != nil {
			return err
		}
		r.act("set CRM priority to %s", v)
	}
	r.priority = &want
	return nil
}
