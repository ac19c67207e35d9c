package casesync

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Every comment casebridge writes starts with a recognisable first line, so
// that it is never mirrored back (no echo) and so that a reconciliation that
// crashed after writing can find what it wrote (exactly once).
//
//	[Google Comment 123 by Jane Doe]                    a mirrored Google comment
//	[Company Comment 42 by Bob] (part 2/3)              one part of a long CRM comment
//	[Google Attachment 0684M00000P3h1fQAB by Jane Doe]  an attachment that could not be copied
//	This case is now syncing with Company Case: 42
//	This case has not synced properly in 25m.
//	Syncing has resumed.

var markerRE = regexp.MustCompile(`^\[(Google|Company) (Comment|Attachment) ([^\s\]]+) by ([^\n]*?)\](?: \(part (\d+)/(\d+)\))?(?:\n|$)`)

// marker is the parsed origin line of a comment casebridge wrote.
type marker struct {
	From  Side   // the side the mirrored item came from
	Kind  string // "Comment" or "Attachment"
	ID    string // the item's id on its own side
	Part  int    // 1-based part number of a split comment; 0 when not split
	Parts int
}

func parseMarker(body string) (marker, bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return marker{}, false
	}
	mk := marker{From: SideGoogle, Kind: m[2], ID: m[3]}
	if m[1] == "Company" {
		mk.From = SideCompany
	}
	if m[5] != "" {
		mk.Part, _ = strconv.Atoi(m[5])
		mk.Parts, _ = strconv.Atoi(m[6])
	}
	return mk, true
}

// sideLabel is how a side is named in markers.
func sideLabel(s Side) string {
	if s == SideGoogle {
		return "Google"
	}
	return "Company"
}

func commentHeader(from Side, id, author string) string {
	return fmt.Sprintf("[%s Comment %s by %s]", sideLabel(from), id, oneLine(author))
}

func attachmentHeader(from Side, id, author string) string {
	return fmt.Sprintf("[%s Attachment %s by %s]", sideLabel(from), id, oneLine(author))
}

// oneLine keeps an author name from breaking the marker line.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', ']':
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if s == "" {
		return "unknown"
	}
	if r := []rune(s); len(r) > maxAuthorLen {
		s = string(r[:maxAuthorLen-1]) + "…"
	}
	return s
}

// maxAuthorLen bounds an author name in a marker line.
const maxAuthorLen = 120

const linkPrefix = "This case is now syncing with Company Case: "

// LinkLine is the line that ties a Google case to a CRM case: posted as a
// comment on Google cases that got a CRM case, and written into the
// description of Google cases created from a CRM case.
func LinkLine(companyCaseID string) string { return linkPrefix + companyCaseID }

// A link line counts only where casebridge writes it whole, because
// casebridge also posts text other people wrote (a copied description, a
// mirrored reply) and a line inside that text proves nothing:
//   - a comment by casebridge's identity whose whole body is the link line;
//   - the last line of the description of a Google case casebridge created
//     (newGoogleCase puts it there, after the copied description).

// commentLink returns the CRM case id a comment links to: ok only for a
// comment by casebridge's identity that is the link line and nothing else.
func commentLink(c Comment) (string, bool) {
	if !c.ByConnector {
		return "", false
	}
	id, ok := strings.CutPrefix(strings.TrimSpace(c.Body), linkPrefix)
	return id, ok && ValidID(id)
}

// descriptionLink returns the CRM case id the last line of a description
// casebridge wrote links to.
func descriptionLink(g GoogleCase) (string, bool) {
	if !g.ByConnector {
		return "", false
	}
	desc := strings.TrimSpace(g.Description)
	last := desc[strings.LastIndexByte(desc, '\n')+1:]
	id, ok := strings.CutPrefix(strings.TrimSpace(last), linkPrefix)
	return id, ok && ValidID(id)
}

// linksTo reports whether casebridge's own link comment or description on
// a Google case names companyCaseID.
func linksTo(g GoogleCase, comments []Comment, companyCaseID string) bool {
	if id, ok := descriptionLink(g); ok && id == companyCaseID {
		return true
	}
	return slices.ContainsFunc(comments, func(c Comment) bool {
		id, ok := commentLink(c)
		return ok && id == companyCaseID
	})
}

const resumedText = "Syncing has resumed."

var outageRE = regexp.MustCompile(`^This case has not synced properly in [0-9hms.]+\.$`)

// OutageText is the comment posted when a case has not synced in d.
func OutageText(d time.Duration) string {
	return fmt.Sprintf("This case has not synced properly in %s.", roundDuration(d))
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

const reopenPrefix = "This case was reopened, but its Google Cloud support case "

func reopenText(googleCase string, policy ReopenPolicy, newCase string) string {
	if policy == ReopenNewCase && newCase != "" {
		return reopenPrefix + googleCase + " is closed and cannot be reopened. A new Google Cloud support case, " + newCase + ", now syncs with this case."
	}
	return reopenPrefix + googleCase + " is closed and cannot be reopened. Comments added here are no longer sent to Google; open a new case to reach Google Cloud Support."
}

const skipPrefix = "[casebridge: "

// skipHeader is the first line of the note that says side's item id is not
// copied; a run finds its own note by it.
func skipHeader(from Side, what, id string) string {
	return fmt.Sprintf("%s%s %s %s not copied]", skipPrefix, sideName(from), what, id)
}

// skipText is the internal note on the CRM case saying that from's item id
// is not copied because the other side refused it with status while it
// took the items after it.
func skipText(from Side, what, id string, status int) string {
	to := from.Other()
	return fmt.Sprintf("%s\n\nThe %s case's %s %s could not be copied to %s: %s refused it (HTTP %d) while it took the items after it, so casebridge no longer tries. Find it on the %s case.",
		skipHeader(from, what, id), sideName(from), what, id, sideTo(to), sideTo(to), status, sideName(from))
}

// notice kinds for outage bookkeeping.
type noticeKind int

const (
	noticeNone noticeKind = iota
	noticeOutage
	noticeResumed
)

// connectorText reports whether a comment body is one casebridge writes
// (a mirrored item or one of its notices), and which notice it is.
func connectorText(body string) (bool, noticeKind) {
	if _, ok := parseMarker(body); ok {
		return true, noticeNone
	}
	b := strings.TrimSpace(body)
	switch {
	case b == resumedText:
		return true, noticeResumed
	case outageRE.MatchString(b):
		return true, noticeOutage
	case strings.HasPrefix(b, linkPrefix) && !strings.Contains(b, "\n"):
		return true, noticeNone
	case strings.HasPrefix(b, reopenPrefix), strings.HasPrefix(b, fieldNoticePrefix), strings.HasPrefix(b, skipPrefix):
		return true, noticeNone
	}
	return false, noticeNone
}

// splitComment splits text into chunks of at most limit runes, preferring to
// break after a newline or a space near the end of a chunk. Nothing is lost:
// concatenating the chunks gives text back.
func splitComment(text string, limit int) []string {
	r := []rune(text)
	if len(r) <= limit {
		return []string{text}
	}
	var parts []string
	for len(r) > limit {
		cut := limit
		for i := limit; i > limit*3/4; i-- {
			if r[i-1] == '\n' || r[i-1] == ' ' {
				cut = i
				break
			}
		}
		parts = append(parts, string(r[:cut]))
		r = r[cut:]
	}
	if len(r) > 0 {
		parts = append(parts, string(r))
	}
	return parts
}
