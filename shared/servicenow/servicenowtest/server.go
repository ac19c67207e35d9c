package servicenowtest

import (
	"fmt"
	"github.com/casebridge/casebridge/shared/simhttp"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Table names the simulator serves besides the case table.
const (
	JournalTable    = "sys_journal_field"
	UserTable       = "sys_user"
	AttachmentTable = "sys_attachment"
)

// dateTime is the layout of every date-time on the wire, read in the API
// user's time zone; the simulator's users all work in UTC.
const dateTime = "2006-01-02 15:04:05"

// Options configure a simulated instance.
type Options struct {
	// User and Password are the Basic credentials of the API (sync) user;
	// defaults "casebridge.sync" and "sync-secret".
	User, Password string
	// UserDisplayName is the API user's name (sys_user.name); default
	// "Casebridge Sync".
	UserDisplayName string
	// UserTimeZone is the API user's sys_user.time_zone; default "UTC".
	UserTimeZone string
	// Token, when set, is also accepted as "Authorization: Bearer <Token>"
	// and acts as User.
	Token string
	// Table is the case table; default "incident".
	Table string
	// SyncFlagField and GoogleCaseField are the custom columns; defaults
	// "u_gcp_sync" (boolean) and "u_gcp_case" (string).
	SyncFlagField, GoogleCaseField string
	// StateField, EscalationField, EscalationReasonField and
	// EscalationJustificationField are the columns docs/crms/servicenow.md
	// asks the administrator to add for Google's case state and escalation
	// requests: String, True/False, String and String. Defaults
	// "u_google_case_state", "u_escalate_to_google",
	// "u_google_escalation_reason" and "u_google_escalation_justification".
	StateField, EscalationField, EscalationReasonField, EscalationJustificationField string
	// WithoutStateColumns leaves those four columns out, as on an instance
	// where they were not added.
	WithoutStateColumns bool
	// MaxAttachmentBytes is com.glide.attachment.max_size in bytes; 0 means
	// the platform default of 1024 MB.
	MaxAttachmentBytes int64
	// Clock tells the time; default time.Now. Times are kept to the second,
	// as the platform keeps them.
	Clock func() time.Time
}

// Server is an in-memory ServiceNow instance serving the Table and
// Attachment APIs over HTTP.
type Server struct {
	// URL is the instance's base URL (what CRM_URL holds), without /api/now.
	URL string

	opts Options
	srv  *httptest.Server

	mu       sync.Mutex
	tables   map[string]*table
	files    map[string][]byte // attachment sys_id → bytes
	seq      int
	number   int
	faults   []Fault
	requests simhttp.Counts[int64]
	// rowACLs model read ACLs on rows that the API user fails, by table:
	// a row for which the func is true is hidden (RestrictRowReads).
	rowACLs map[string]func(map[string]string) bool
	// fieldACLs model read ACLs on fields that the API user fails, by
	// table and field (RestrictFieldReads).
	fieldACLs map[string]map[string]bool
	// refused are the tables the API user may not read at all
	// (RefuseTableReads).
	refused map[string]bool
	// rule is the webhook business rule (SetWebhookRule); sender sends
	// its deliveries.
	rule   *WebhookRule
	sender *simhttp.Sender
}

type table struct {
	columns map[string]bool
	rows    []map[string]string
	byID    map[string]map[string]string
}

// Fault makes the next Count requests (of every API) answer Status.
type Fault struct {
	Status int
	// RetryAfter is sent as Retry-After (whole seconds) with X-RateLimit-*
	// headers for a 429.
	RetryAfter time.Duration
	Count      int
}

// NewServer starts a simulated instance, closed when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Start starts a simulated instance on 127.0.0.1 outside a test (the
// sandbox runs one); Close stops it.
func Start(opts Options) *Server {
	s := newState(opts)
	// Every answer is dated by Options.Clock, as the instance dates its
	// answers by the clock that stamps its records.
	s.srv = httptest.NewServer(simhttp.Dated(s.opts.Clock, s.handler()))
	s.URL = s.srv.URL
	return s
}

// Close waits for the webhooks on their way and closes the instance.
func (s *Server) Close() {
	s.WaitWebhooks()
	s.srv.Close()
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

func newState(opts Options) *Server {
	if opts.User == "" {
		opts.User = "casebridge.sync"
	}
	if opts.Password == "" {
		opts.Password = "sync-secret"
	}
	if opts.UserDisplayName == "" {
		opts.UserDisplayName = "Casebridge Sync"
	}
	if opts.UserTimeZone == "" {
		opts.UserTimeZone = "UTC"
	}
	if opts.Table == "" {
		opts.Table = "incident"
	}
	if opts.SyncFlagField == "" {
		opts.SyncFlagField = "u_gcp_sync"
	}
	if opts.GoogleCaseField == "" {
		opts.GoogleCaseField = "u_gcp_case"
	}
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&opts.StateField, "u_google_case_state"}, {&opts.EscalationField, "u_escalate_to_google"},
		{&opts.EscalationReasonField, "u_google_escalation_reason"},
		{&opts.EscalationJustificationField, "u_google_escalation_justification"},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if opts.MaxAttachmentBytes <= 0 {
		opts.MaxAttachmentBytes = 1024 << 20
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{opts: opts, tables: map[string]*table{}, files: map[string][]byte{}, number: 10000,
		rowACLs: map[string]func(map[string]string) bool{}, fieldACLs: map[string]map[string]bool{}, refused: map[string]bool{},
		sender: newWebhookSender()}
	sys := []string{"sys_id", "sys_created_on", "sys_created_by", "sys_updated_on", "sys_updated_by", "sys_mod_count"}
	columns := append(sys, "number", "short_description", "description", "state", "active", "hold_reason",
		"impact", "urgency", "priority", "close_code", "close_notes", "comments", "work_notes",
		opts.SyncFlagField, opts.GoogleCaseField)
	if !opts.WithoutStateColumns {
		columns = append(columns, opts.StateField, opts.EscalationField, opts.EscalationReasonField, opts.EscalationJustificationField)
	}
	s.tables[opts.Table] = newTable(columns)
	s.tables[JournalTable] = newTable(append(sys, "element_id", "element", "name", "value"))
	s.tables[UserTable] = newTable(append(sys, "user_name", "name", "first_name", "last_name", "email", "time_zone", "date_format", "active"))
	s.tables[AttachmentTable] = newTable(append(sys, "table_name", "table_sys_id", "file_name", "content_type",
		"size_bytes", "size_compressed", "compressed", "download_link", "image_height", "image_width", "average_image_color", "sys_tags"))
	s.addUserLocked(opts.User, opts.UserDisplayName, opts.UserTimeZone)
	return s
}

func newTable(columns []string) *table {
	t := &table{columns: map[string]bool{}, byID: map[string]map[string]string{}}
	for _, c := range columns {
		t.columns[c] = true
	}
	return t
}

// now returns the clock's time, to the second, in the layout of the wire.
func (s *Server) nowLocked() string {
	return s.opts.Clock().UTC().Truncate(time.Second).Format(dateTime)
}

func (s *Server) newIDLocked() string {
	s.seq++
	return fmt.Sprintf("5e1f%028x", s.seq)
}

func (s *Server) insertLocked(tableName, by string, row map[string]string) map[string]string {
	now := s.nowLocked()
	row["sys_id"] = s.newIDLocked()
	row["sys_created_on"], row["sys_updated_on"] = now, now
	row["sys_created_by"], row["sys_updated_by"] = by, by
	row["sys_mod_count"] = "0"
	t := s.tables[tableName]
	t.rows = append(t.rows, row)
	t.byID[row["sys_id"]] = row
	return row
}

// touchLocked records an update of a row by user, and runs the webhook
// business rule when it is a case record.
func (s *Server) touchLocked(row map[string]string, by string) {
	row["sys_updated_on"] = s.nowLocked()
	row["sys_updated_by"] = by
	n := 0
	fmt.Sscan(row["sys_mod_count"], &n)
	row["sys_mod_count"] = fmt.Sprint(n + 1)
	s.afterWriteLocked(row, by)
}

func (s *Server) addUserLocked(userName, name, tz string) string {
	for _, u := range s.tables[UserTable].rows {
		if strings.EqualFold(u["user_name"], userName) {
			return u["sys_id"]
		}
	}
	first, last, _ := strings.Cut(name, " ")
	row := s.insertLocked(UserTable, "admin", map[string]string{"user_name": userName, "name": name,
		"first_name": first, "last_name": last, "email": userName + "@example.com", "time_zone": tz, "date_format": "", "active": "true"})
	return row["sys_id"]
}

// AddUser creates a sys_user record (or finds the one with that user_name)
// and returns its sys_id.
func (s *Server) AddUser(userName, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(userName, name, "UTC")
}

// UserNameFor returns the user_name of a human called name ("Alice Agent"
// → "alice.agent"), creating the user when needed.
func (s *Server) UserNameFor(name string) string {
	userName := strings.ToLower(strings.Join(strings.Fields(name), "."))
	s.AddUser(userName, name)
	return userName
}

// Priority returns the priority the default lookup rules compute from impact
// and urgency (1 Critical .. 5 Planning): impact + urgency - 1.
func Priority(impact, urgency string) string {
	var i, u int
	if _, err := fmt.Sscan(impact, &i); err != nil || i < 1 || i > 3 {
		i = 3
	}
	if _, err := fmt.Sscan(urgency, &u); err != nil || u < 1 || u > 3 {
		u = 3
	}
	return fmt.Sprint(i + u - 1)
}

// ImpactUrgency returns an impact and urgency pair that gives priority p
// ("1".."5") under the default lookup rules.
func ImpactUrgency(p string) (impact, urgency string, ok bool) {
	pairs := map[string][2]string{"1": {"1", "1"}, "2": {"1", "2"}, "3": {"2", "2"}, "4": {"2", "3"}, "5": {"3", "3"}}
	pair, ok := pairs[p]
	return pair[0], pair[1], ok
}

// CreateRecord creates a case-table record as user by (a user_name), as a
// human does in the UI, and returns its sys_id. fields are column values;
// "comments" and "work_notes" become journal entries.
func (s *Server) CreateRecord(by string, fields map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, _ := s.insertCaseLocked(by, fields)
	return row["sys_id"]
}

// AddJournal adds a journal entry (element "comments" or "work_notes") to a
// case as user by, bumping the record's update time as the platform does,
// and returns the entry's sys_id.
func (s *Server) AddJournal(id, element, by, value string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.tables[s.opts.Table].byID[id]
	if row == nil {
		return "", fmt.Errorf("no record %s", id)
	}
	entry := s.addJournalLocked(row, element, by, value)
	s.touchLocked(row, by)
	return entry, nil
}

func (s *Server) addJournalLocked(row map[string]string, element, by, value string) string {
	e := s.insertLocked(JournalTable, by, map[string]string{"element_id": row["sys_id"], "element": element, "name": s.opts.Table, "value": value})
	return e["sys_id"]
}

// AddAttachment attaches a file to a case as user by and returns the
// attachment's sys_id. As on the platform, the case record itself is not
// updated.
func (s *Server) AddAttachment(id, by, fileName, contentType string, data []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables[s.opts.Table].byID[id] == nil {
		return "", fmt.Errorf("no record %s", id)
	}
	return s.addAttachmentLocked(id, by, fileName, contentType, data)["sys_id"], nil
}

func (s *Server) addAttachmentLocked(id, by, fileName, contentType string, data []byte) map[string]string {
	row := s.insertLocked(AttachmentTable, by, map[string]string{"table_name": s.opts.Table, "table_sys_id": id,
		"file_name": fileName, "content_type": contentType, "size_bytes": fmt.Sprint(len(data)),
		"size_compressed": fmt.Sprint(len(data)), "compressed": "false", "image_height": "", "image_width": "",
		"average_image_color": "", "sys_tags": ""})
	row["download_link"] = s.URL + "/api/now/attachment/" + row["sys_id"] + "/file"
	s.files[row["sys_id"]] = slices.Clone(data)
	return row
}

// AttachWithNote attaches a file to a case as user by together with a
// journal entry (element "work_notes" or "comments") saying the file was
// attached, as the Attachment Note workflow activity does: the file is a
// record attachment like any other, and the note, written in the same
// moment, names it. It returns the attachment's and the note's sys_ids.
func (s *Server) AttachWithNote(id, by, element, fileName, contentType string, data []byte) (attachmentID, noteID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.tables[s.opts.Table].byID[id]
	if row == nil {
		return "", "", fmt.Errorf("no record %s", id)
	}
	noteID = s.addJournalLocked(row, element, by, "Attached file: "+fileName)
	s.touchLocked(row, by)
	return s.addAttachmentLocked(id, by, fileName, contentType, data)["sys_id"], noteID, nil
}

// RestrictJournalReads makes sys_journal_field unreadable to the API user
// (or readable again), as a read ACL the user fails does on real instances:
// RestrictRowReads on every row of the table. Listing it answers 200 with
// the rows filtered out of each page; reading one entry answers 404. The
// record's journal fields still read, as display values.
func (s *Server) RestrictJournalReads(restricted bool) {
	var hide func(map[string]string) bool
	if restricted {
		hide = func(map[string]string) bool { return true }
	}
	s.RestrictRowReads(JournalTable, hide)
}

// RestrictRowReads models a row-level read ACL on a Table API table that
// the API user fails for the rows hide picks (nil: none). As on the
// platform, the ACL is applied after the query: a listing picks its page
// by sysparm_query, sysparm_offset and sysparm_limit first and then drops
// the hidden rows from it, so a page may hold fewer rows than the limit,
// or none, while its Link header still names a next page, and
// X-Total-Count counts the hidden rows too. Reading a hidden row answers
// 404 "No Record found". hide is called with the stored row, under the
// server's lock: it must not change it or call the server.
func (s *Server) RestrictRowReads(table string, hide func(row map[string]string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if hide == nil {
		delete(s.rowACLs, table)
		return
	}
	s.rowACLs[table] = hide
}

// RestrictFieldReads models a field-level read ACL on a Table API table's
// field that the API user fails (restricted), or lifts it: the field is
// left out of every row the Table API answers, listed or read one by one,
// as values or as display values, as the platform leaves out the fields a
// user cannot read. Writes are not affected.
func (s *Server) RestrictFieldReads(table, field string, restricted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fieldACLs[table] == nil {
		s.fieldACLs[table] = map[string]bool{}
	}
	s.fieldACLs[table][field] = restricted
}

// RefuseTableReads models a table the API user has no read access to at
// all (or gives it back): reading it through the Table API, listed or one
// row at a time, answers 403 {"error":{"message":"User Not Authorized",
// "detail":"N records constrained due to ACL restrictions"}} (as some
// instances answer instead of an empty list), N being the rows the query
// matched.
func (s *Server) RefuseTableReads(table string, refused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[table] = refused
}

// readableLocked returns row as the API user may read it from table: nil
// when a row ACL hides it, else a copy without the fields it cannot read,
// restricted to fields (sysparm_fields; every column when empty).
func (s *Server) readableLocked(table string, row map[string]string, fields string) map[string]string {
	if hide := s.rowACLs[table]; hide != nil && hide(row) {
		return nil
	}
	out := project(row, fields)
	for f, restricted := range s.fieldACLs[table] {
		if restricted {
			delete(out, f)
		}
	}
	return out
}

// journalDisplayLocked renders a journal field of a case the way the Table
// API returns its display value: newest entry first, each a header line
// "yyyy-MM-dd HH:mm:ss - Name (Label)", the text and a blank line.
func (s *Server) journalDisplayLocked(id, element string) string {
	label := map[string]string{"comments": "Additional comments", "work_notes": "Work notes"}[element]
	var b strings.Builder
	rows := s.tables[JournalTable].rows
	for i := len(rows) - 1; i >= 0; i-- {
		e := rows[i]
		if e["element_id"] != id || e["element"] != element {
			continue
		}
		name := e["sys_created_by"]
		for _, u := range s.tables[UserTable].rows {
			if strings.EqualFold(u["user_name"], name) && u["name"] != "" {
				name = u["name"]
				break
			}
		}
		fmt.Fprintf(&b, "%s - %s (%s)\n%s\n\n", e["sys_created_on"], name, label, e["value"])
	}
	return b.String()
}

// Record returns a copy of a case record.
func (s *Server) Record(id string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	row := s.tables[s.opts.Table].byID[id]
	return maps.Clone(row), row != nil
}

// Journal returns copies of a case's journal entries, oldest first.
func (s *Server) Journal(id string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]string
	for _, e := range s.tables[JournalTable].rows {
		if e["element_id"] == id {
			out = append(out, maps.Clone(e))
		}
	}
	return out
}

// Attachments returns copies of a case's attachment records.
func (s *Server) Attachments(id string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]string
	for _, a := range s.tables[AttachmentTable].rows {
		if a["table_sys_id"] == id {
			out = append(out, maps.Clone(a))
		}
	}
	return out
}

// InjectFault makes the next f.Count requests answer f.Status.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	s.faults = append(s.faults, f)
}

// InjectRateLimit makes the next request answer 429 as a Rate Limit Rule
// does, with Retry-After after.
func (s *Server) InjectRateLimit(after time.Duration) {
	s.InjectFault(Fault{Status: http.StatusTooManyRequests, RetryAfter: after, Count: 1})
}

// Requests returns how many requests each "METHOD pattern" received, e.g.
// "GET /api/now/table/incident/{sys_id}" or "POST /api/now/attachment/file".
// Requests refused for authentication or by a fault count too.
func (s *Server) Requests() map[string]int64 { return s.requests.Snapshot() }

// ResetRequests clears the request counts.
func (s *Server) ResetRequests() { s.requests.Reset() }

// insertCaseLocked creates a case record with the platform's defaults.
func (s *Server) insertCaseLocked(by string, fields map[string]string) (map[string]string, error) {
	s.number++
	row := map[string]string{"number": fmt.Sprintf("INC%07d", s.number), "short_description": "", "description": "",
		"state": "1", "active": "true", "hold_reason": "", "impact": "3", "urgency": "3", "close_code": "", "close_notes": "",
		"comments": "", "work_notes": "", s.opts.SyncFlagField: "false", s.opts.GoogleCaseField: ""}
	if !s.opts.WithoutStateColumns {
		row[s.opts.StateField], row[s.opts.EscalationReasonField], row[s.opts.EscalationJustificationField] = "", "", ""
		row[s.opts.EscalationField] = "false"
	}
	journal, err := s.applyLocked(row, fields)
	if err != nil {
		s.number--
		return nil, err
	}
	row = s.insertLocked(s.opts.Table, by, row)
	for _, j := range journal {
		s.addJournalLocked(row, j[0], by, j[1])
	}
	s.afterWriteLocked(row, by)
	return row, nil
}

// dataPolicyError is the platform's answer to a write that leaves a
// mandatory field empty.
type dataPolicyError struct{ fields []string }

func (e *dataPolicyError) Error() string {
	return "Data Policy Exception: \n\tThe following fields are mandatory: " + strings.Join(e.fields, ", ") + "\n"
}

// applyLocked writes fields into row (a copy is checked first, so a refused
// write changes nothing) and returns the journal entries to add as
// (element, value) pairs. Unknown and system columns are ignored, as the
// Table API ignores them.
func (s *Server) applyLocked(row map[string]string, fields map[string]string) ([][2]string, error) {
	next := maps.Clone(row)
	var journal [][2]string
	cols := s.tables[s.opts.Table].columns
	for k, v := range fields {
		switch {
		case k == "comments" || k == "work_notes":
			if strings.TrimSpace(v) != "" {
				journal = append(journal, [2]string{k, v})
			}
		case strings.HasPrefix(k, "sys_") || k == "number" || k == "priority" || !cols[k]:
			// read-only, computed or unknown: ignored
		case k == s.opts.SyncFlagField || (k == s.opts.EscalationField && !s.opts.WithoutStateColumns):
			next[k] = normalBool(v)
		default:
			next[k] = v
		}
	}
	next["priority"] = Priority(next["impact"], next["urgency"])
	if s.opts.Table == "incident" && next["state"] == "3" && next["hold_reason"] == "" {
		return nil, &dataPolicyError{fields: []string{"On hold reason"}}
	}
	switch next["state"] {
	case "6", "7":
		var missing []string
		if next["close_code"] == "" {
			missing = append(missing, "Resolution code")
		}
		if next["close_notes"] == "" {
			missing = append(missing, "Resolution notes")
		}
		if len(missing) > 0 {
			return nil, &dataPolicyError{fields: missing}
		}
		next["active"] = "false"
	case "8":
		next["active"] = "false"
	default:
		next["active"] = "true"
	}
	// Journal fields always read back empty.
	next["comments"], next["work_notes"] = "", ""
	clear(row)
	maps.Copy(row, next)
	return journal, nil
}

func normalBool(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return "true"
	}
	return "false"
}
