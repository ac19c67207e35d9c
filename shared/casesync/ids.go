package casesync

import (
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// Ids and names from outside (messages, API answers, CRM fields) are checked
// against these forms before they reach a URL, a store key, a query or a
// log line.

// MaxIDLen bounds every id casebridge accepts from outside: CRM case ids,
// comment and attachment ids, mapping ids.
const MaxIDLen = 128

// googleCaseNameRE is a Cloud Support case name: a project (by id, which
// may be domain-scoped as "example.com:my-project", or by number) or an
// organization, then the case number.
// The domain of a domain-scoped project is dot-separated labels, each
// starting with a letter or digit, so a name never holds "..".
var googleCaseNameRE = regexp.MustCompile(`^(projects/(?:[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*:)?[a-z0-9][a-z0-9-]{0,62}|organizations/[0-9]{1,20})/cases/[0-9]{1,20}$`)

// maxGoogleCaseName bounds a case name: the longest project id with a
// domain of up to 63 characters, and a 20-digit case number.
const maxGoogleCaseName = len("projects/") + 63 + 1 + 63 + len("/cases/") + 20

// ValidGoogleCaseName reports whether name is a well-formed Cloud Support
// case name, e.g. "projects/my-project/cases/43595344" or
// "organizations/123/cases/43595344". Anything else (extra segments, "..",
// escapes, spaces) is refused.
func ValidGoogleCaseName(name string) bool {
	return len(name) <= maxGoogleCaseName && googleCaseNameRE.MatchString(name)
}

// GoogleCaseParent returns the parent of a well-formed case name
// ("projects/P" or "organizations/N"), or "" for a malformed one.
func GoogleCaseParent(name string) string {
	if !ValidGoogleCaseName(name) {
		return ""
	}
	m := googleCaseNameRE.FindStringSubmatch(name)
	return m[1]
}

// idRE is the form of CRM case ids, comment and attachment ids and mapping
// ids: ticket numbers, keys such as "SUP-12", sys_ids, Firestore ids.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)

// ValidID reports whether id is a well-formed id of a CRM case, comment,
// attachment or mapping: 1 to MaxIDLen characters of letters, digits and
// ". _ : -", starting with a letter or digit.
func ValidID(id string) bool { return len(id) <= MaxIDLen && idRE.MatchString(id) }

// Validate checks a case reference from a message: a known side and a
// well-formed id for it, or a well-formed mapping id. The error is an
// *InputError (permanent) that quotes at most a short prefix of a bad value.
func (r CaseRef) Validate() error {
	if r.MappingID != "" {
		if !ValidID(r.MappingID) {
			return &InputError{Reason: fmt.Sprintf("mapping id %s is malformed", Quote(r.MappingID))}
		}
		if r.ID == "" && r.Side == "" {
			return nil
		}
	}
	switch {
	case !r.Side.Valid():
		return &InputError{Reason: fmt.Sprintf("case reference needs a side (google or company), got %s", Quote(string(r.Side)))}
	case r.ID == "":
		return &InputError{Reason: "case reference names no case id"}
	case r.Side == SideGoogle && !ValidGoogleCaseName(r.ID):
		return &InputError{Reason: fmt.Sprintf("Google case name %s is malformed: want projects/P/cases/N or organizations/N/cases/N", Quote(r.ID))}
	case r.Side == SideCompany && !ValidID(r.ID):
		return &InputError{Reason: fmt.Sprintf("CRM case id %s is malformed", Quote(r.ID))}
	case r.Item != "" && !ValidID(r.Item):
		return &InputError{Reason: fmt.Sprintf("item id %s is malformed", Quote(r.Item))}
	}
	return nil
}

// maxQuoted is how many bytes of escaped text a log line or error quotes
// of an outside value.
const maxQuoted = 80

// Quote renders an outside value for a log line or an error: quoted, with
// control characters and invalid bytes escaped, and, when the escaped text
// is longer than maxQuoted bytes, cut to a prefix of at most that many
// escaped bytes followed by the value's full length. The result is at most
// about 120 bytes of valid UTF-8 whatever the value. Use it for ids and
// names, never for case text.
func Quote(s string) string {
	b := make([]byte, 0, maxQuoted+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		// Each character (or invalid byte) is escaped on its own, as
		// strconv.Quote escapes it within the whole value.
		esc := strconv.Quote(s[i : i+size])
		esc = esc[1 : len(esc)-1]
		if len(b)-1+len(esc) > maxQuoted {
			return string(b) + `"… (` + strconv.Itoa(len(s)) + " bytes)"
		}
		b = append(b, esc...)
		i += size
	}
	return string(append(b, '"'))
}
