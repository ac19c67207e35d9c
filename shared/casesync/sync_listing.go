package casesync

import (
	"context"
	"time"
)

// A pass reads each side's comments and attachments only when a step needs
// them, and at most once: the first call lists the side and adds to the
// listing what the pass wrote there before it; later calls reuse it.

// googleChanged reports whether the Google case changed since the mapping
// last saw it.
func (r *reconciliation) googleChanged() bool {
	return r.g != nil && changedSince(r.g.UpdateTime, r.m.Google.SeenUpdateTime)
}

// companyChanged reports whether the CRM case changed since the mapping
// last saw it.
func (r *reconciliation) companyChanged() bool {
	return r.c != nil && changedSince(r.c.UpdateTime, r.m.Company.SeenUpdateTime)
}

// googleComments lists the Google case's comments once per pass.
func (r *reconciliation) googleComments(ctx context.Context) ([]Comment, error) {
	if !r.gComOK {
		cs, err := r.e.Google.ListComments(ctx, r.m.GoogleCase)
		if err != nil {
			return nil, err
		}
		r.gCom, r.gComOK = append(cs, r.gCom...), true
	}
	return r.gCom, nil
}

// companyComments lists the CRM case's comments once per pass.
func (r *reconciliation) companyComments(ctx context.Context) ([]Comment, error) {
	if !r.cComOK {
		cs, err := r.e.CRM.ListComments(ctx, r.m.CompanyCaseID)
		if err != nil {
			return nil, err
		}
		r.cCom, r.cComOK = append(cs, r.cCom...), true
	}
	return r.cCom, nil
}

// googleAttachments lists the Google case's attachments once per pass.
func (r *reconciliation) googleAttachments(ctx context.Context) ([]Attachment, error) {
	if !r.gAttOK {
		as, err := r.e.Google.ListAttachments(ctx, r.m.GoogleCase)
		if err != nil {
			return nil, err
		}
		r.gAtt, r.gAttOK = append(as, r.gAtt...), true
	}
	return r.gAtt, nil
}

// companyAttachments lists the CRM case's attachments once per pass.
func (r *reconciliation) companyAttachments(ctx context.Context) ([]Attachment, error) {
	if !r.cAttOK {
		as, err := r.e.CRM.ListAttachments(ctx, r.m.CompanyCaseID)
		if err != nil {
			return nil, err
		}
		r.cAtt, r.cAttOK = append(as, r.cAtt...), true
	}
	return r.cAtt, nil
}

// doneKey names one item of one side.
type doneKey struct {
	side Side
	kind itemKind
	id   string
}

// logKey names the item log of one side and kind.
type logKey struct {
	side Side
	kind itemKind
}

func (r *reconciliation) isDone(side Side, kind itemKind, id string, at time.Time) bool {
	if _, ok := r.done[doneKey{side, kind, id}]; ok {
		return true
	}
	return r.m.Side(side).Items.log(kind).Has(id, at)
}

func (r *reconciliation) isCommentDone(side Side, c Comment) bool {
	return r.isDone(side, kindComment, c.ID, c.CreateTime)
}

func (r *reconciliation) isFileDone(side Side, a Attachment) bool {
	return r.isDone(side, kindAttachment, a.ID, a.CreateTime)
}

// commentDone records a person's comment as handled. casebridge's own
// comments are known by their author on every listing and are not recorded.
func (r *reconciliation) commentDone(side Side, c Comment) {
	r.done[doneKey{side, kindComment, c.ID}] = c.CreateTime
}

func (r *reconciliation) fileDone(side Side, a Attachment) {
	r.done[doneKey{side, kindAttachment, a.ID}] = a.CreateTime
}
