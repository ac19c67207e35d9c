package casesync

import (
	"context"
	"fmt"
	"sort"
	"unicode/utf8"
)

func (r *reconciliation) comments(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	googleOpen := !r.g.Closed()
	var newG, newC []Comment
	if r.googleChanged() {
		cs, err := r.googleComments(ctx)
		if err != nil {
			return err
		}
		newG = r.newComments(ctx, SideGoogle, cs)
		r.listed[logKey{SideGoogle, kindComment}] = true
	}
	if r.companyChanged() {
		cs, err := r.companyComments(ctx)
		if err != nil {
			return err
		}
		newC = r.newComments(ctx, SideCompany, cs)
		r.listed[logKey{SideCompany, kindComment}] = true
	}
	// Pair what casebridge already wrote (possibly just before a crash) with
	// its source, so it is neither written again nor mirrored back.
	if len(newC) > 0 && googleOpen {
		if _, err := r.googleComments(ctx); err != nil {
			return err
		}
	}
	if len(newG) > 0 {
		if _, err := r.companyComments(ctx); err != nil {
			return err
		}
	}
	written := map[string]map[int]bool{} // "<from>:<id>" -> parts already on the target
	// Only casebridge's own comments count: a marker typed by a person
	// proves nothing was written.
	pair := func(side Side, cs []Comment) {
		for _, c := range cs {
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
	if r.gComOK {
		pair(SideGoogle, r.gCom)
	}
	if r.cComOK {
		pair(SideCompany, r.cCom)
	}

	for _, c := range newG {
		if err := r.mirrorComment(ctx, SideGoogle, c, written[string(SideGoogle)+":"+c.ID]); err != nil {
			return err
		}
	}
	for _, c := range newC {
		if !googleOpen {
			// A closed Google case takes no more comments; the reopen
			// notice (or the new case) tells the CRM side.
			r.commentDone(SideCompany, c)
			continue
		}
		if err := r.mirrorComment(ctx, SideCompany, c, written[string(SideCompany)+":"+c.ID]); err != nil {
			return err
		}
	}
	return nil
}

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
		if side == SideCompany && !c.Public && !r.cfg.SyncInternalNotes {
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
// already has.
func (r *reconciliation) mirrorComment(ctx context.Context, from Side, c Comment, have map[int]bool) error {
	header := commentHeader(from, c.ID, authorOf(c))
	if from == SideGoogle {
		if !have[1] {
			if err := r.keepLease(ctx); err != nil {
				return err
			}
			if _, err := r.crmWrite().AddComment(ctx, r.m.CompanyCaseID, header+"\n\n"+c.Body, *r.cfg.GoogleCommentsPublic); err != nil {
				return err
			}
			r.act("mirrored Google comment %s to the CRM", c.ID)
		}
		r.commentDone(SideGoogle, c)
		r.newContent = true
		return nil
	}
	parts := r.commentParts(header, c.Body)
	for i, p := range parts {
		if have[i+1] || (len(parts) == 1 && have[1]) {
			continue
		}
		body := header + "\n\n" + p
		if len(parts) > 1 {
			body = fmt.Sprintf("%s (part %d/%d)\n\n%s", header, i+1, len(parts), p)
		}
		if err := r.keepLease(ctx); err != nil {
			return err
		}
		if _, err := r.e.Google.AddComment(ctx, r.m.GoogleCase, body); err != nil {
			return err
		}
	}
	if len(parts) > 1 {
		r.act("mirrored CRM comment %s to Google in %d parts", c.ID, len(parts))
	} else {
		r.act("mirrored CRM comment %s to Google", c.ID)
	}
	r.commentDone(SideCompany, c)
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
