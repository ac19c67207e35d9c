package servicenow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/casebridge/casebridge/shared/casesync"
	"github.com/casebridge/casebridge/shared/crmhttp"
)

// journalElements are the case's journal fields: comments are public
// (Additional comments), work_notes internal.
var journalElements = []string{"comments", "work_notes"}

// entry is one journal entry. Read from sys_journal_field it carries the
// entry's sys_id and its writer's user_name; read through the record (when
// an ACL keeps the sync user out of sys_journal_field) it carries an id of
// the adapter's making and only the writer's display name.
type entry struct {
	ID, Element, Value string
	UserName           string // sys_created_by; empty when read through the record
	Author             string // display name; empty until looked up
	Created            time.Time
}

// byUser reports whether u wrote e.
func (e entry) byUser(u user) bool {
	if e.UserName != "" {
		return strings.EqualFold(e.UserName, u.UserName)
	}
	return e.Author == u.Name
}

// journalQuery selects a case's journal entries.
func (c *Client) journalQuery(id, element, by string) string {
	q := "element_id=" + id + "^name=" + c.cfg.Table
	if element == "" {
		q += "^elementINcomments,work_notes"
	} else {
		q += "^element=" + element
	}
	if by != "" {
		q += "^sys_created_by=" + by
	}
	return q
}

// readJournal returns the case's journal entries of element ("" for both),
// only the sync user's when mine, oldest first, and whether they are known
// to be all of them.
//
// It reads sys_journal_field. The Table API applies read ACLs after the
// query, so rows an ACL hides are missing from the pages but counted in
// X-Total-Count. When every matched row was read, and at least one was,
// that is the journal, complete. When some rows were read but maybe not
// all (some hidden, or no count), those rows are returned as incomplete,
// unless whole asks for the whole journal: their ids (sys_ids) are the
// ones ListComments has always given them.
//
// Otherwise (no row read, the table refused, or whole asked for) it reads
// the record too, which also tells an unknown case (404) apart, and takes
// the journal from the record's journal fields (display values). Those
// entries are complete when the table showed that the query matched no
// row at all (read and found none), or when the record's fields could be
// read and hold at least the rows the table counted; a field the record's
// answer leaves out (a field ACL), or an empty field where the table
// counted rows or could not count them, leaves the journal unknown. A
// refusal of sys_journal_field (4xx) counts as a table that could not be
// read; any other error of either read is returned.
func (c *Client) readJournal(ctx context.Context, id, element string, mine, whole bool, me user) ([]entry, bool, error) {
	by := ""
	if mine {
		by = me.UserName
	}
	q := url.Values{
		"sysparm_query":  {c.journalQuery(id, element, by) + "^ORDERBYsys_created_on"},
		"sysparm_fields": {"sys_id,element,value,sys_created_on,sys_created_by"},
	}
	var rows []entry
	st, err := c.list(ctx, "journal.list", "/table/sys_journal_field", q, func(r record) {
		rows = append(rows, entry{ID: r.get("sys_id"), Element: r.get("element"), Value: r.get("value"),
			UserName: r.get("sys_created_by"), Created: r.time("sys_created_on")})
	})
	if err != nil && (!refused(err) || errors.Is(err, crmhttp.ErrPaging)) {
		return nil, false, err
	}
	// Every row the query matched came back.
	read := err == nil && st.counted && !st.hidden
	if len(rows) > 0 && (read || !whole) {
		return rows, read, nil
	}
	fields := journalElements
	if element != "" {
		fields = []string{element}
	}
	var rec struct {
		Result map[string]any `json:"result"`
	}
	rq := url.Values{"sysparm_fields": {strings.Join(fields, ",")}, "sysparm_display_value": {"true"}}
	if err := c.http.JSON(ctx, crmhttp.Request{Op: "journal.record", Path: c.tablePath(id), Query: rq}, &rec); err != nil {
		return nil, false, err
	}
	var out []entry
	readable := true
	for _, f := range fields {
		text, ok := rec.Result[f].(string)
		if !ok || (text == "" && !read) {
			// Left out of the answer, the field is one the sync user may
			// not read; empty, it may be blanked by an ACL as well as empty.
			readable = false
			continue
		}
		for _, e := range parseJournal(f, text) {
			if !mine || e.Author == me.Name {
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b entry) int { return a.Created.Compare(b.Created) })
	switch {
	case read:
		// The query matched no row: there is none, whatever the record says.
		return out, true, nil
	case err == nil && st.counted:
		// The journal only grows: the record holds at least the rows the
		// table counted, unless an ACL blanked or left out a field.
		return out, readable && len(out) >= st.matched, nil
	default:
		return out, readable, nil
	}
}

// journalHeader is the line that opens each entry of a journal field's
// display value: "2026-01-02 10:00:00 - Abel Tuter (Additional comments)",
// the date-time in the API user's time zone and date format (UTC,
// yyyy-MM-dd), then the writer's name and the field's label.
var journalHeader = regexp.MustCompile(`(?m)^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) - (.+) \([^()\n]*\)\n`)

// parseJournal splits a journal field's display value, newest entry first,
// each entry a header line, its text and a blank line, into entries oldest
// first. An entry's id is made of the element, its second and its place
// among the entries of that second, which stay as they are since a journal
// only grows. A header counts only at the start or after a blank line; text
// that imitates one splits an entry of the same field, so it cannot move
// words from work notes into comments.
func parseJournal(element, text string) []entry {
	var heads [][]int
	for _, m := range journalHeader.FindAllStringSubmatchIndex(text, -1) {
		if m[0] == 0 || strings.HasSuffix(text[:m[0]], "\n\n") {
			heads = append(heads, m)
		}
	}
	var out []entry
	for i := len(heads) - 1; i >= 0; i-- {
		m := heads[i]
		end := len(text)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		at, err := time.ParseInLocation(dateTime, text[m[2]:m[3]], time.UTC)
		if err != nil {
			continue
		}
		out = append(out, entry{Element: element, Value: strings.TrimSuffix(text[m[1]:end], "\n\n"),
			Author: text[m[4]:m[5]], Created: at})
	}
	// The platform shows the newest entry first, so reading backwards gives
	// oldest first; a journal shown in another order (edited, or from an
	// instance that sorts otherwise) is put oldest first too, keeping the
	// order of entries made in the same second.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	seen := map[string]int{}
	for i := range out {
		second := out[i].Created.Format("20060102150405")
		out[i].ID = fmt.Sprintf("%s-%s-%d", element, second, seen[second])
		seen[second]++
	}
	return out
}

// ListComments reads the case's journal (comments are public, work_notes
// internal), oldest first, from sys_journal_field or, when an ACL keeps the
// sync user out of it, through the record. The description is a column,
// not a journal entry, so it is not listed.
func (c *Client) ListComments(ctx context.Context, id string) ([]casesync.Comment, error) {
	if !validID(id) {
		return nil, crmhttp.NotFoundError(vendor, "journal.list", "case "+casesync.Quote(id))
	}
	me, err := c.lookupMe(ctx)
	if err != nil {
		return nil, err
	}
	entries, _, err := c.readJournal(ctx, id, "", false, false, me)
	if err != nil {
		return nil, err
	}
	entries, err = c.withAuthors(ctx, entries)
	if err != nil {
		return nil, err
	}
	out := make([]casesync.Comment, 0, len(entries))
	for _, e := range entries {
		out = append(out, casesync.Comment{
			ID:          e.ID,
			Body:        e.Value,
			AuthorName:  e.Author,
			ByConnector: e.byUser(me),
			Public:      e.Element == "comments",
			CreateTime:  e.Created,
		})
	}
	return out, nil
}

// withAuthors fills in the display names of entries read from
// sys_journal_field.
func (c *Client) withAuthors(ctx context.Context, entries []entry) ([]entry, error) {
	var userNames []string
	for _, e := range entries {
		if e.UserName != "" {
			userNames = append(userNames, e.UserName)
		}
	}
	if len(userNames) == 0 {
		return entries, nil
	}
	names, err := c.displayNames(ctx, userNames)
	if err != nil {
		return nil, err
	}
	for i := range entries {
		if entries[i].UserName != "" {
			entries[i].Author = names[entries[i].UserName]
		}
	}
	return entries, nil
}

// intent is a comment AddComment posted, or tried to post, whose journal
// entry it has not seen yet.
type intent struct {
	before  map[string]bool // the sync user's entries of the element before posting
	written bool            // the instance accepted the write
	at      time.Time
}

// intentTTL is how long an unconfirmed post is remembered; maxIntents
// bounds how many are.
const (
	intentTTL  = 24 * time.Hour
	maxIntents = 1000
)

func intentKey(id, element, body string) string {
	sum := sha256.Sum256([]byte(body))
	return id + "/" + element + "/" + hex.EncodeToString(sum[:])
}

// remember records an intent, dropping expired ones and, past maxIntents,
// the oldest.
func (c *Client) remember(key string, in *intent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.intents {
		if time.Since(v.at) > intentTTL {
			delete(c.intents, k)
		}
	}
	for len(c.intents) >= maxIntents {
		oldest := ""
		for k, v := range c.intents {
			if oldest == "" || v.at.Before(c.intents[oldest].at) {
				oldest = k
			}
		}
		delete(c.intents, oldest)
	}
	c.intents[key] = in
}

// intentFor returns the intent recorded for key, if any: the entries there
// were before and whether the instance accepted the write.
func (c *Client) intentFor(key string) (before map[string]bool, written, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.intents[key]
	if in == nil {
		return nil, false, false
	}
	if time.Since(in.at) > intentTTL {
		delete(c.intents, key)
		return nil, false, false
	}
	return in.before, in.written, true
}

func (c *Client) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.intents, key)
}

// posted finds, among the sync user's entries, the one a post of body
// wrote: an entry not there before that holds body (or body trimmed, as
// the platform may store it). Just after the post, any is the newest entry
// not there before, when none holds the text as sent.
func posted(entries []entry, before map[string]bool, body string, loose bool) (entry, bool) {
	var fresh []entry
	for _, e := range entries {
		if !before[e.ID] {
			fresh = append(fresh, e)
		}
	}
	for _, same := range []func(entry) bool{
		func(e entry) bool { return e.Value == body },
		func(e entry) bool { return strings.TrimSpace(e.Value) == strings.TrimSpace(body) },
	} {
		if i := slices.IndexFunc(fresh, same); i >= 0 {
			return fresh[i], true
		}
	}
	if loose && len(fresh) > 0 {
		return fresh[len(fresh)-1], true
	}
	return entry{}, false
}

// AddComment writes a public comment (PATCH {"comments": body}) or an
// internal work note (PATCH {"work_notes": body}), once. The PATCH answers
// with the record only, so the new journal entry is found afterwards: the
// sync user's entries of that element are read before and after the PATCH,
// and the entry that is new, holding body, is the one written (right even
// when an earlier comment has the same text). Entries are read from
// sys_journal_field or, when an ACL hides it, through the record.
//
// Before the PATCH the post is recorded as an intent. When the answer is
// lost, or the entry cannot be read back, the call fails and the intent
// stays: a retry of the same body on the same case looks for the entry
// first, and returns it instead of posting again. A post the instance
// accepted is never sent again, even when its entry stays unreadable.
func (c *Client) AddComment(ctx context.Context, id, body string, public bool) (casesync.Comment, error) {
	const op = "comments.add"
	if err := crmhttp.CheckText(vendor, op, body); err != nil {
		return casesync.Comment{}, err
	}
	if !validID(id) {
		return casesync.Comment{}, crmhttp.NotFoundError(vendor, op, "case "+casesync.Quote(id))
	}
	me, err := c.lookupMe(ctx)
	if err != nil {
		return casesync.Comment{}, err
	}
	element := "work_notes"
	if public {
		element = "comments"
	}
	toComment := func(e entry) casesync.Comment {
		return casesync.Comment{ID: e.ID, Body: body, AuthorName: me.Name, ByConnector: true, Public: public, CreateTime: e.Created}
	}
	unreadable := &casesync.APIError{Side: casesync.SideCompany, Op: op, Transient: true,
		Err: fmt.Errorf("%s: the comment was written to case %s but its journal entry is not readable yet", vendor, id)}

	key := intentKey(id, element, body)
	mine, _, err := c.readJournal(ctx, id, element, true, false, me)
	if err != nil {
		return casesync.Comment{}, err
	}
	if before, written, ok := c.intentFor(key); ok {
		if e, ok := posted(mine, before, body, false); ok {
			c.forget(key)
			return toComment(e), nil
		}
		if written {
			return casesync.Comment{}, unreadable
		}
	}
	in := &intent{before: map[string]bool{}, at: time.Now()}
	for _, e := range mine {
		in.before[e.ID] = true
	}
	c.remember(key, in)
	if _, err := c.patch(ctx, op, id, map[string]string{element: body}, crmhttp.IfRefused); err != nil {
		if refused(err) {
			c.forget(key)
		}
		return casesync.Comment{}, err
	}
	c.mu.Lock()
	in.written = true
	c.mu.Unlock()
	after, _, err := c.readJournal(ctx, id, element, true, false, me)
	if err != nil {
		return casesync.Comment{}, err
	}
	e, ok := posted(after, in.before, body, true)
	if !ok {
		return casesync.Comment{}, unreadable
	}
	c.forget(key)
	return toComment(e), nil
}

// refused reports whether the instance answered a write with a refusal
// (4xx), which writes nothing; a lost answer or a server error may have.
func refused(err error) bool {
	var ae *casesync.APIError
	return errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500
}
