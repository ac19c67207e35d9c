package casesync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// MaxItemRefusals is how many failed passes in a row the other side may
// refuse one item outright before the item is skipped: the CRM case gets an
// internal note naming it, and the case's later items go on being copied.
const MaxItemRefusals = 3

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

// skipRefused decides what to do after the other side refused to take
// side's item id with err. While the item has been refused fewer than
// MaxItemRefusals passes in a row (this one included), it returns false:
// the pass fails and is tried again with backoff, and save records the
// refusal. After that it notes the skip on the CRM case, marks the item
// done and returns true.
func (r *reconciliation) skipRefused(ctx context.Context, from Side, kind itemKind, id string, err error) (bool, error) {
	status, ok := itemRefusal(err)
	if !ok {
		return false, nil
	}
	key := refusedKey(from, kind, id)
	if r.m.RefusedItem != key || r.m.RefusedItemCount+1 < MaxItemRefusals {
		r.refused = key
		return false, nil
	}
	to := from.Other()
	what := "comment"
	if kind == kindAttachment {
		what = "file"
	}
	header := fmt.Sprintf("[casebridge: %s %s %s not copied]", sideName(from), what, id)
	coms, lerr := r.comments(ctx, SideCompany)
	if lerr != nil {
		return true, lerr
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, header) }) {
		text := fmt.Sprintf("%s\n\nThe %s case's %s %s was not copied to %s: %s refused it %d times (HTTP %d), so casebridge no longer tries. Find it on the %s case.",
			header, sideName(from), what, id, sideTo(to), sideTo(to), MaxItemRefusals, status, sideName(from))
		if _, perr := r.postComment(ctx, SideCompany, text, false); perr != nil {
			return true, perr
		}
	}
	r.log.WarnContext(ctx, "skipped an item the other side refused every time", "side", string(from), "item", kind.String(), "id", id,
		"status", status, "refusals", MaxItemRefusals)
	r.act("skipped %s %s %s, refused %d times by %s", sideName(from), what, id, MaxItemRefusals, sideTo(to))
	r.skipped = key
	return true, nil
}
