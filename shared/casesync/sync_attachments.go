package casesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// syncAttachments copies each side's new files to the other, once each.
func (r *reconciliation) syncAttachments(ctx context.Context) error {
	if !r.m.Linked() {
		return nil
	}
	fresh := map[Side][]Attachment{}
	for _, side := range sides {
		if !r.changed(side) {
			continue
		}
		as, err := r.attachments(ctx, side)
		if err != nil {
			return err
		}
		fresh[side] = r.newAttachments(ctx, side, as)
		r.listed[logKey{side, kindAttachment}] = true
	}
	for _, from := range sides {
		to := from.Other()
		refused := &refusals{r: r, from: from, kind: kindAttachment}
		for _, a := range fresh[from] {
			if r.isFileDone(from, a) {
				continue // paired while handling an earlier one
			}
			if !r.takesComments(to) {
				// A closed Google case takes nothing more.
				r.fileDone(from, a)
				continue
			}
			before := r.mirrored[logKey{to, kindAttachment}]
			if err := r.mirrorAttachment(ctx, from, a); err != nil {
				if err := refused.failed(ctx, a.ID, err, func() { r.fileDone(from, a) }); err != nil {
					return err
				}
				continue
			}
			if r.mirrored[logKey{to, kindAttachment}] > before {
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

// newAttachments returns the files of one side that still need a decision,
// marking, for the CRM, the files of internal notes as done.
func (r *reconciliation) newAttachments(ctx context.Context, side Side, as []Attachment) []Attachment {
	var out []Attachment
	for _, a := range as {
		if !r.validItem(ctx, side, "attachment", a.ID) {
			continue
		}
		if r.isFileDone(side, a) {
			continue
		}
		if !a.ByConnector && r.keptInternal(side, a.Public) {
			// Files of internal notes, and files whose visibility the
			// adapter cannot tell, stay in the CRM like the notes' text.
			// casebridge's own uploads go on to be paired with their source.
			r.fileDone(side, a)
			continue
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}

// mirrorAttachment copies a to the other side unless that side already has
// an unpaired file of the same name and size (written by an earlier attempt
// that crashed before recording it, or uploaded there too), in which case the
// two are paired. A file casebridge uploaded itself is paired the same way
// and never copied back.
func (r *reconciliation) mirrorAttachment(ctx context.Context, from Side, a Attachment) error {
	to := from.Other()
	others, err := r.attachments(ctx, to)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Filename == a.Filename && o.Size == a.Size && !r.isFileDone(to, o) {
			r.fileDone(to, o)
			r.fileDone(from, a)
			return nil
		}
	}
	if a.ByConnector {
		// Ours, but its counterpart is gone: never copy it back.
		r.fileDone(from, a)
		return nil
	}
	r.newContent = true
	if a.Size > r.cfg.MaxAttachmentBytes {
		return r.attachmentNotice(ctx, from, a, false)
	}
	if err := r.keepLease(ctx); err != nil {
		return err
	}
	rc, err := r.download(ctx, from, a.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	body := &limitedReader{r: rc, left: r.cfg.MaxAttachmentBytes}
	mime := a.MimeType
	if mime == "" {
		mime = "application/octet-stream"
	}
	w, err := r.upload(ctx, to, a.Filename, mime, body)
	if errors.Is(err, errTooLarge) || body.over || refusedAsTooLarge(body.srcErr) {
		// Over casebridge's limit, or over the limit the source side's
		// adapter enforces on the bytes it actually reads.
		return r.attachmentNotice(ctx, from, a, false)
	}
	if refusedAsTooLarge(err) {
		// The other side's own limit is lower than casebridge's.
		return r.attachmentNotice(ctx, from, a, true)
	}
	if err != nil {
		return err
	}
	r.countMirrored(to, kindAttachment)
	r.fileDone(to, w)
	r.fileDone(from, a)
	r.act("copied %s attachment %s (%d bytes) to the other side", from, a.ID, a.Size)
	return nil
}

// refusedAsTooLarge reports whether a side refused an upload as too large
// (HTTP 413): no retry can copy the file.
func refusedAsTooLarge(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge && !ae.Transient
}

// attachmentNotice tells the other side that a file was not copied, once.
// refused says the receiving side refused it as too large, below
// casebridge's own limit.
func (r *reconciliation) attachmentNotice(ctx context.Context, from Side, a Attachment, refused bool) error {
	to := from.Other()
	header := attachmentHeader(from, a.ID, a.AuthorName)
	coms, err := r.comments(ctx, to)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(coms, func(c Comment) bool { return c.ByConnector && strings.HasPrefix(c.Body, header) }) {
		why := fmt.Sprintf("it is larger than the %d-byte limit for copied attachments", r.cfg.MaxAttachmentBytes)
		if refused {
			why = "this side refused it as larger than it accepts"
		}
		text := fmt.Sprintf("%s\n\nThe file %q (%d bytes) was not copied from the %s case: %s. Find it on the %s case.",
			header, cutName(a.Filename), a.Size, strings.ToLower(sideLabel(from)), why, strings.ToLower(sideLabel(from)))
		if _, err := r.postComment(ctx, to, text, true); err != nil {
			return err
		}
		r.act("noted on the other side that %s attachment %s is over the size limit", from, a.ID)
	}
	r.fileDone(from, a)
	return nil
}

// cutName bounds a file name quoted in a notice, so the notice always fits
// one Google comment.
func cutName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if r := []rune(name); len(r) > maxFileNameLen {
		return string(r[:maxFileNameLen-1]) + "…"
	}
	return name
}

// maxFileNameLen bounds a file name in a notice.
const maxFileNameLen = 255

var errTooLarge = errors.New("attachment is larger than the configured limit")

// limitedReader fails once more than left bytes have been read, so a file
// whose listed size was wrong cannot exceed the limit.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
	// srcErr is the first error reading the source gave, other than EOF.
	srcErr error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF && l.srcErr == nil {
		l.srcErr = err
	}
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, errTooLarge
	}
	return n, err
}
