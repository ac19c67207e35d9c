package casesync

import (
	"context"
)

func (r *reconciliation) close(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	gClosed, cClosed := r.g.Closed(), r.c.Closed
	// A CRM case open again after both closed is a reopen (see reopen),
	// not a close to carry over.
	reopened := r.m.Company.Closed || r.m.ReopenNoticeSent || (r.reopenNotice != nil && *r.reopenNotice)
	switch {
	case gClosed && !cClosed && !reopened:
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.crmWrite().CloseCase(ctx, r.m.CompanyCaseID); err != nil {
			return err
		}
		r.act("closed the CRM case")
		cClosed = true
	case cClosed && !gClosed:
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if err := r.googleWrite().CloseCase(ctx, r.m.GoogleCase); err != nil {
			return err
		}
		r.act("closed the Google case")
		gClosed = true
	}
	r.closedG, r.closedC = &gClosed, &cClosed
	if gClosed && cClosed && r.m.ResolvedAt.IsZero() {
		t := r.e.now()
		r.resolvedAt = &t
	}
	if cClosed {
		// A later reopen gets its own notice.
		f := false
		r.reopenNotice = &f
	}
	return nil
}
