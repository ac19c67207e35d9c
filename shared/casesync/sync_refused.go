package casesync

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// itemRefusal reports whether err is the other side refusing one item for
// what it is (its content, type or size), which no retry can change:
// HTTP 400, 415 or 422. Errors that say nothing about the item (401 and
// 403 for credentials and permissions, 404, 409, 429, 5xx) never count:
// skipping items for them would skip every item of the case.
func itemRefusal(err error) (int, bool) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Transient {
		return 0, false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return ae.Status, true
	}
	return 0, false
}

// refusedKey names an item of a side in Mapping.RefusedItem.
func refusedKey(side Side, kind itemKind, id string) string {
	return string(side) + "/" + kind.String() + "/" + id
}

// refusals handles the items of one side and kind that the other side
// refused for what they are (itemRefusal) during a pass. Such a refusal
// may still say nothing about the item: a helpdesk whose sync user lost
// the right to reply publicly answers every public reply 400. So a refused
// item is held, the pass goes on with the next items, and only when the
// other side accepts one of them (the refusal was about that item) is the
// held item skipped, with a note on the CRM case, so that it does not hold
// the case back. Proven once, the refusal is recorded (RefusedItem), so a
// later pass skips the item even with nothing else to copy. A refusal
// nothing proves fails the pass, as any error does.
type refusals struct {
	r    *reconciliation
	from Side
	kind itemKind
	held []heldItem
}

// heldItem is one refused item waiting for proof.
type heldItem struct {
	id     string
	status int
	err    error
	done   func() // marks the item done in the pass's item log
}

// failed handles a failed copy of item id: a refusal about the item is
// held (or, proven before, skipped now) and nil is returned; any other
// error is returned as it is.
func (q *refusals) failed(ctx context.Context, id string, err error, done func()) error {
	status, ok := itemRefusal(err)
	if !ok {
		return err
	}
	h := heldItem{id: id, status: status, err: err, done: done}
	if q.r.m.RefusedItem == refusedKey(q.from, q.kind, id) {
		return q.r.skipRefused(ctx, q.from, q.kind, h)
	}
	q.held = append(q.held, h)
	return nil
}

// accepted is called once the other side took an item of the kind: every
// held refusal was about its item, and is skipped.
func (q *refusals) accepted(ctx context.Context) error {
	for len(q.held) > 0 {
		h := q.held[0]
		// Proven: recorded even if the note below fails.
		q.r.refused = refusedKey(q.from, q.kind, h.id)
		if err := q.r.skipRefused(ctx, q.from, q.kind, h); err != nil {
			return err
		}
		q.held = q.held[1:]
	}
	return nil
}

// end fails the pass with the first refusal nothing proved to be about its
// item.
func (q *refusals) end() error {
	if len(q.held) > 0 {
		return q.held[0].err
	}
	return nil
}

// skipRefused notes on the CRM case that side's item h is not copied,
// unless the note is there already, and marks the item done.
func (r *reconciliation) skipRefused(ctx context.Context, from Side, kind itemKind, h heldItem) error {
	to := from.Other()
	what := "comment"
	if kind == kindAttachment {
		what = "file"
	}
	header := skipHeader(from, what, h.id)
	coms, err := r.comments(ctx, SideCompany)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, header) }) {
		text := skipText(from, what, h.id, h.status)
		if _, err := r.postComment(ctx, SideCompany, text, false); err != nil {
			return err
		}
	}
	h.done()
	r.log.WarnContext(ctx, "skipped an item the other side refused while it took the next ones", "side", string(from), "item", kind.String(),
		"id", h.id, "status", h.status)
	r.act("skipped %s %s %s, refused by %s", sideName(from), what, h.id, sideTo(to))
	r.skipped = append(r.skipped, refusedKey(from, kind, h.id))
	return nil
}

// countMirrored records that the pass copied an item of kind to side.
func (r *reconciliation) countMirrored(side Side, kind itemKind) {
	if r.mirrored == nil {
		r.mirrored = map[logKey]int{}
	}
	r.mirrored[logKey{side, kind}]++
}
