package casesync

import (
	"context"
	"io"
)

// The steps of a pass are written once, from one side to the other; the
// methods here are where the two sides differ: which API, which of the
// mapping's cases, what each side can take.

// sideName names a side in what a pass reports it did ("copied ... to the
// CRM").
func sideName(s Side) string {
	if s == SideGoogle {
		return "Google"
	}
	return "CRM"
}

// sideTo names a side as the destination of what a pass did.
func sideTo(s Side) string {
	if s == SideGoogle {
		return "Google"
	}
	return "the CRM"
}

// keptInternal reports whether an item of side that is not public stays
// there: the CRM's internal notes and their files never leave it unless
// internal notes are synced. Google has no internal items.
func (r *reconciliation) keptInternal(side Side, public bool) bool {
	return side == SideCompany && !public && !r.cfg.SyncInternalNotes
}

// partsFor splits a mirrored comment into what side takes: Google takes
// at most MaxGoogleCommentLen per comment, so a longer one goes in
// numbered parts (commentParts); a CRM takes it whole.
func (r *reconciliation) partsFor(side Side, header, body string) []string {
	if side == SideGoogle {
		return r.commentParts(header, body)
	}
	return []string{body}
}

// sideRead is what one pass has read of one side's case. A step lists a
// side's comments or attachments only when it needs them, and at most once
// per pass; what the pass writes there is added, before or after the
// listing.
type sideRead struct {
	comments      []Comment
	commentsOK    bool
	attachments   []Attachment
	attachmentsOK bool
}

// read is what this pass has read of side.
func (r *reconciliation) read(side Side) *sideRead {
	if side == SideGoogle {
		return &r.gRead
	}
	return &r.cRead
}

// caseOn is the mapping's case on side: the Google case name or the CRM
// case id.
func (r *reconciliation) caseOn(side Side) string {
	if side == SideGoogle {
		return r.m.GoogleCase
	}
	return r.m.CompanyCaseID
}

// changed reports whether side's case changed since the mapping last saw
// it.
func (r *reconciliation) changed(side Side) bool {
	if side == SideGoogle {
		return r.g != nil && changedSince(r.g.UpdateTime, r.m.Google.SeenUpdateTime)
	}
	return r.c != nil && changedSince(r.c.UpdateTime, r.m.Company.SeenUpdateTime)
}

// takesComments reports whether side's case can take a comment now: CSAPI
// takes none on a closed case; a CRM case takes one whatever its state.
func (r *reconciliation) takesComments(side Side) bool {
	return side != SideGoogle || !r.g.Closed()
}

// listComments lists the comments of m's case on side.
func (e *Engine) listComments(ctx context.Context, m Mapping, side Side) ([]Comment, error) {
	if side == SideGoogle {
		return e.Google.ListComments(ctx, m.GoogleCase)
	}
	return e.CRM.ListComments(ctx, m.CompanyCaseID)
}

// addComment writes a comment on m's case on side. public is what the CRM
// makes of it; a Google comment is always public.
func (e *Engine) addComment(ctx context.Context, m Mapping, side Side, body string, public bool) (Comment, error) {
	if side == SideGoogle {
		return e.Google.AddComment(ctx, m.GoogleCase, body)
	}
	return e.CRM.AddComment(ctx, m.CompanyCaseID, body, public)
}

// lister returns side's adapter when it lists comments and files in one
// call.
func (r *reconciliation) lister(side Side) (ItemLister, bool) {
	var a any = r.e.CRM
	if side == SideGoogle {
		a = r.e.Google
	}
	l, ok := a.(ItemLister)
	return l, ok
}

// items lists side's comments and files in one call, when the side's API
// can and the pass has listed neither yet; a step that will need both
// lists calls it first. It reports whether it did.
func (r *reconciliation) items(ctx context.Context, side Side) (bool, error) {
	rd := r.read(side)
	l, ok := r.lister(side)
	if !ok || rd.commentsOK || rd.attachmentsOK {
		return false, nil
	}
	cs, as, err := l.ListItems(ctx, r.caseOn(side))
	if err != nil {
		return false, err
	}
	rd.comments, rd.commentsOK = append(cs, rd.comments...), true
	rd.attachments, rd.attachmentsOK = append(as, rd.attachments...), true
	return true, nil
}

// comments lists side's comments, once per pass.
func (r *reconciliation) comments(ctx context.Context, side Side) ([]Comment, error) {
	rd := r.read(side)
	if !rd.commentsOK {
		cs, err := r.e.listComments(ctx, r.m, side)
		if err != nil {
			return nil, err
		}
		rd.comments, rd.commentsOK = append(cs, rd.comments...), true
	}
	return rd.comments, nil
}

// attachments lists side's attachments, once per pass.
func (r *reconciliation) attachments(ctx context.Context, side Side) ([]Attachment, error) {
	rd := r.read(side)
	if !rd.attachmentsOK {
		var as []Attachment
		var err error
		if side == SideGoogle {
			as, err = r.e.Google.ListAttachments(ctx, r.m.GoogleCase)
		} else {
			as, err = r.e.CRM.ListAttachments(ctx, r.m.CompanyCaseID)
		}
		if err != nil {
			return nil, err
		}
		rd.attachments, rd.attachmentsOK = append(as, rd.attachments...), true
	}
	return rd.attachments, nil
}

// postComment writes a comment on side's case, after making sure the lease
// is still this pass's. public is what the CRM makes of it; a Google
// comment is always public.
func (r *reconciliation) postComment(ctx context.Context, side Side, body string, public bool) (Comment, error) {
	if err := r.keepLease(ctx); err != nil {
		return Comment{}, err
	}
	if side == SideCompany {
		r.wroteCompany = true
	}
	r.wroteTo(side)
	c, err := r.e.addComment(ctx, r.m, side, body, public)
	if err == nil {
		r.wroteItem(side, c.ID)
	}
	return c, err
}

// download opens the content of side's attachment id.
func (r *reconciliation) download(ctx context.Context, side Side, id string) (io.ReadCloser, error) {
	if side == SideGoogle {
		return r.e.Google.DownloadAttachment(ctx, r.m.GoogleCase, id)
	}
	return r.e.CRM.DownloadAttachment(ctx, r.m.CompanyCaseID, id)
}

// upload attaches a file to side's case, after making sure the lease is
// still this pass's, and adds it to what the pass has read of the side.
func (r *reconciliation) upload(ctx context.Context, side Side, name, mime string, body io.Reader) (Attachment, error) {
	if err := r.keepLease(ctx); err != nil {
		return Attachment{}, err
	}
	var a Attachment
	var err error
	if side == SideGoogle {
		a, err = r.googleWrite().UploadAttachment(ctx, r.m.GoogleCase, name, mime, body)
	} else {
		a, err = r.crmWrite().UploadAttachment(ctx, r.m.CompanyCaseID, name, mime, body)
	}
	if err != nil {
		return Attachment{}, err
	}
	r.wroteItem(side, a.ID)
	rd := r.read(side)
	rd.attachments = append(rd.attachments, a)
	return a, nil
}

// forget drops what the pass has read of side (its case was replaced).
func (r *reconciliation) forget(side Side) { *r.read(side) = sideRead{} }
