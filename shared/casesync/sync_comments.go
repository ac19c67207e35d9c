package casesync

import (
	"context"
	"fmt"
	"sort"
	"unicode/utf8"
)

// syncComments mirrors each side's new comments to the other, once each.
func (r *reconciliation) syncComments(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	fresh := map[Side][]Comment{}
	for _, side := range sides {
		if !r.changed(side) {
			continue
		}
		// A changed side's files are listed next, by syncAttachments.
		if _, err := r.items(ctx, side); err != nil {
			return err
		}
		cs, err := r.comments(ctx, side)
		if err != nil {
			return err
		}
		fresh[side] = r.newComments(ctx, side, cs)
		r.listed[logKey{side, kindComment}] = true
	}
	// Pair what casebridge already wrote (possibly just before a crash) with
	// its source, so it is neither written again nor mirrored back. When
	// the mapping shows every earlier write recorded, there is no such copy
	// to look for.
	for _, from := range sides {
		if to := from.Other(); len(fresh[from]) > 0 && r.takesComments(to) && !r.recorded {
			if _, err := r.comments(ctx, to); err != nil {
				return err
			}
		}
	}
	written := map[string]map[int]bool{} // "<from>:<id>" -> parts already on the target
	// Only casebridge's own comments count: a marker typed by a person
	// proves nothing was written.
	for _, side := range sides {
		rd := r.read(side)
		if !rd.commentsOK {
			continue
		}
		for _, c := range rd.comments {
			if !c.ByConnector {
				continue
			}
			mk, ok := parseMarker(c.Body)
			if !ok || mk.Kind != "Comment" || mk.From == side {
				continue
			}
			k := string(mk.From) + ":" + mk.ID
			if written[k] == nil {
				written[k] = map[int]bool{}
			}
			written[k][max(mk.Part, 1)] = true
		}
	}

	for _, from := range sides {
		to := from.Other()
		refused := &refusals{r: r, from: from, kind: kindComment}
		for _, c := range fresh[from] {
			if !r.takesComments(to) {
				// A closed Google case takes no more comments; the reopen
				// notice (or the new case) tells the CRM side.
				r.commentDone(from, c)
				continue
			}
			before := r.mirrored[logKey{to, kindComment}]
			if err := r.mirrorComment(ctx, from, c, written[string(from)+":"+c.ID]); err != nil {
				if err := refused.failed(ctx, c.ID, err, func() { r.commentDone(from, c) }); err != nil {
					return err
				}
				continue
			}
			if r.mirrored[logKey{to, kindComment}] > before {
				if err := refused.accepted(ctx); err != nil {
					return err
				}
			}
		}
		if err := refused.end(); err != nil {
			return err
		}
	}
	return nil
}

// sides are the two sides in the order a pass works through them.
var sides = []Side{SideGoogle, SideCompany}

// newComments returns the comments of one side that still need a decision,
// marking casebridge's own and, for the CRM, internal notes as done.
func (r *reconciliation) newComments(ctx context.Context, side Side, cs []Comment) []Comment {
	var out []Comment
	for _, c := range cs {
		if !r.validItem(ctx, side, "comment", c.ID) {
			continue
		}
		if r.isCommentDone(side, c) {
			continue
		}
		if c.ByConnector {
			// casebridge's own (a mirrored item or a notice), known by its
			// author. Text that merely looks like it, such as an answer
			// quoting a mirrored comment, is a person's and is mirrored.
			continue
		}
		if r.keptInternal(side, c.Public) {
			// Internal notes never leave the CRM.
			r.commentDone(side, c)
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}

// validItem reports whether an item id from an adapter is well-formed. A
// malformed one cannot be keyed or named in a marker: the item is left alone
// and logged (its id cut, never its content).
func (r *reconciliation) validItem(ctx context.Context, side Side, kind, id string) bool {
	if ValidID(id) {
		return true
	}
	r.log.WarnContext(ctx, "skipped an item with a malformed id", "side", string(side), "item", kind, "id", Quote(id))
	return false
}

func authorOf(c Comment) string {
	if c.GoogleSupport {
		if c.AuthorName == "" {
			return "Google Support"
		}
		return c.AuthorName + " (Google Support)"
	}
	return c.AuthorName
}

// mirrorComment writes c to the other side, skipping the parts that side
// already has. A CRM comment longer than one Google comment goes to Google
// in numbered parts; a Google comment fits any CRM.
func (r *reconciliation) mirrorComment(ctx context.Context, from Side, c Comment, have map[int]bool) error {
	to := from.Other()
	header := commentHeader(from, c.ID, authorOf(c))
	parts := r.partsFor(to, header, c.Body)
	posted := 0
	for i, p := range parts {
		if have[i+1] || (len(parts) == 1 && have[1]) {
			continue
		}
		body := header + "\n\n" + p
		if len(parts) > 1 {
			body = fmt.Sprintf("%s (part %d/%d)\n\n%s", header, i+1, len(parts), p)
		}
		if _, err := r.postComment(ctx, to, body, *r.cfg.GoogleCommentsPublic); err != nil {
			return err
		}
		posted++
		r.countMirrored(to, kindComment)
	}
	switch {
	case posted == 0:
	case len(parts) > 1:
		r.act("mirrored %s comment %s to %s in %d parts", sideName(from), c.ID, sideTo(to), len(parts))
	default:
		r.act("mirrored %s comment %s to %s", sideName(from), c.ID, sideTo(to))
	}
	r.commentDone(from, c)
	r.newContent = true
	return nil
}

// commentParts splits a CRM comment's body into the parts posted on
// Google, each of which fits one Google comment with its header and part
// label. At most MaxSplitParts parts are posted: past that, the last part
// says how much more there is and that it is in the CRM case.
func (r *reconciliation) commentParts(header, body string) []string {
	limit := r.cfg.MaxSplitParts
	// The widest label any part can carry, with the blank line after it.
	label := len(fmt.Sprintf(" (part %d/%d)\n\n", limit, limit))
	room := MaxGoogleCommentLen - utf8.RuneCountInString(header) - label
	parts := splitComment(body, room)
	if len(parts) <= limit {
		return parts
	}
	rest := 0
	for _, p := range parts[limit-1:] {
		rest += utf8.RuneCountInString(p)
	}
	parts = parts[:limit]
	parts[limit-1] = fmt.Sprintf("[The remaining %d characters of this comment are not copied: it is longer than %d Google comments. Read it whole on the CRM case.]", rest, limit-1)
	return parts
}
