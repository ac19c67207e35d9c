package casesync

import "time"

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
