package salesforcetest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Field types of the simulated schema.
const (
	ftID       = "id"
	ftString   = "string"
	ftTextArea = "textarea"
	ftPicklist = "picklist"
	ftBool     = "boolean"
	ftDateTime = "datetime"
	ftInt      = "int"
	ftRef      = "reference" // a relationship to another object
)

// fieldDef describes one field of an object.
type fieldDef struct {
	typ string
	// max is a text field's length limit (bytes for CommentBody, characters
	// otherwise); 0 none.
	max int
	// writable on insert and update through the REST API.
	writable bool
	// to is the object a reference field's relationship leads to, and rel
	// the relationship's name (CreatedById -> CreatedBy).
	to, rel string
}

// rec is one record: its field values by API name (canonical spelling).
type rec struct {
	object string
	vals   map[string]any
}

func (r *rec) id() string { s, _ := r.vals["Id"].(string); return s }

// schema returns the simulated objects' fields.
func (s *Server) schema(object string) map[string]fieldDef {
	switch object {
	case "Case":
		m := map[string]fieldDef{
			"Id": {typ: ftID}, "CaseNumber": {typ: ftString},
			"Subject": {typ: ftString, max: 255, writable: true}, "Description": {typ: ftTextArea, max: 32000, writable: true},
			"Status": {typ: ftPicklist, writable: true}, "IsClosed": {typ: ftBool}, "Priority": {typ: ftPicklist, writable: true},
			"Origin":      {typ: ftPicklist, writable: true},
			"CreatedDate": {typ: ftDateTime}, "LastModifiedDate": {typ: ftDateTime}, "SystemModstamp": {typ: ftDateTime},
			"CreatedById": {typ: ftRef, to: "User", rel: "CreatedBy"}, "LastModifiedById": {typ: ftRef, to: "User", rel: "LastModifiedBy"},
		}
		for name, typ := range s.opts.CustomFields {
			def := fieldDef{typ: typ, writable: true}
			switch typ {
			case ftString:
				def.max = 255
			case ftTextArea:
				def.max = 32768
			}
			m[name] = def
		}
		return m
	case "CaseComment":
		return map[string]fieldDef{
			"Id": {typ: ftID}, "ParentId": {typ: ftRef, to: "Case", rel: "Parent", writable: true},
			"CommentBody": {typ: ftTextArea, max: 4000, writable: true}, "IsPublished": {typ: ftBool, writable: true},
			"IsDeleted": {typ: ftBool}, "CreatedDate": {typ: ftDateTime}, "LastModifiedDate": {typ: ftDateTime},
			"SystemModstamp": {typ: ftDateTime}, "CreatedById": {typ: ftRef, to: "User", rel: "CreatedBy"},
		}
	case "ContentDocumentLink":
		return map[string]fieldDef{
			"Id": {typ: ftID}, "ContentDocumentId": {typ: ftRef, to: "ContentDocument", rel: "ContentDocument"},
			"LinkedEntityId": {typ: ftRef, to: "Case", rel: "LinkedEntity"}, "Visibility": {typ: ftPicklist},
			"ShareType": {typ: ftPicklist}, "IsDeleted": {typ: ftBool}, "SystemModstamp": {typ: ftDateTime},
		}
	case "ContentDocument":
		return map[string]fieldDef{
			"Id": {typ: ftID}, "Title": {typ: ftString}, "FileExtension": {typ: ftString}, "FileType": {typ: ftString},
			"ContentSize": {typ: ftInt}, "LatestPublishedVersionId": {typ: ftRef, to: "ContentVersion", rel: "LatestPublishedVersion"},
			"CreatedById": {typ: ftRef, to: "User", rel: "CreatedBy"}, "CreatedDate": {typ: ftDateTime},
			"SystemModstamp": {typ: ftDateTime}, "SharingPrivacy": {typ: ftPicklist},
		}
	case "ContentVersion":
		return map[string]fieldDef{
			"Id": {typ: ftID}, "ContentDocumentId": {typ: ftRef, to: "ContentDocument", rel: "ContentDocument"},
			"FirstPublishLocationId": {typ: ftRef, to: "Case", rel: "FirstPublishLocation"}, "Title": {typ: ftString},
			"PathOnClient": {typ: ftString}, "ContentSize": {typ: ftInt}, "IsLatest": {typ: ftBool},
			"CreatedById": {typ: ftRef, to: "User", rel: "CreatedBy"}, "CreatedDate": {typ: ftDateTime},
			"SystemModstamp": {typ: ftDateTime},
		}
	case "CaseStatus":
		return map[string]fieldDef{
			"Id": {typ: ftID}, "ApiName": {typ: ftString}, "MasterLabel": {typ: ftString}, "IsClosed": {typ: ftBool},
			"IsDefault": {typ: ftBool}, "SortOrder": {typ: ftInt},
		}
	case "User":
		return map[string]fieldDef{"Id": {typ: ftID}, "Name": {typ: ftString}, "Username": {typ: ftString}}
	}
	return nil
}

// childRelationships are the parent-to-child relationships a subquery may
// name.
var childRelationships = map[string]struct{ parent, child, field string }{
	"casecomments":         {"Case", "CaseComment", "ParentId"},
	"contentdocumentlinks": {"Case", "ContentDocumentLink", "LinkedEntityId"},
}

// canonical finds a field's canonical spelling (API names are not case
// sensitive in SOQL).
func canonical(defs map[string]fieldDef, name string) (string, fieldDef, bool) {
	for k, d := range defs {
		if strings.EqualFold(k, name) {
			return k, d, true
		}
	}
	return "", fieldDef{}, false
}

// recordsLocked returns every record of an object, as stored.
func (s *Server) recordsLocked(object string) []*rec {
	switch object {
	case "Case":
		return s.cases
	case "CaseComment":
		return s.comments
	case "ContentDocumentLink":
		return s.links
	case "ContentDocument":
		return s.docs
	case "ContentVersion":
		return s.versionRecs
	case "CaseStatus":
		return s.statusRecs
	case "User":
		return s.users
	}
	return nil
}

// byID finds a record of object by id (15 or 18 characters).
func (s *Server) byIDLocked(object, id string) *rec {
	if len(id) != 15 && len(id) != 18 {
		return nil
	}
	for _, r := range s.recordsLocked(object) {
		if r.id()[:15] == id[:15] {
			return r
		}
	}
	return nil
}

// resolve reads a field path of a record: "Name", or "CreatedBy.Name"
// through reference fields. ok is false for a path the schema lacks.
func (s *Server) resolveLocked(r *rec, object, path string) (val any, typ string, ok bool) {
	parts := strings.Split(path, ".")
	if len(parts) > 1 && strings.EqualFold(parts[0], object) {
		parts = parts[1:] // SELECT Case.Subject FROM Case
	}
	cur, obj := r, object
	for i, p := range parts {
		defs := s.schema(obj)
		if i == len(parts)-1 {
			name, def, ok := canonical(defs, p)
			if !ok {
				return nil, "", false
			}
			if cur == nil {
				return nil, def.typ, true
			}
			return cur.vals[name], def.typ, true
		}
		var next string
		found := false
		for name, def := range defs {
			if def.typ == ftRef && strings.EqualFold(def.rel, p) {
				next, found = def.to, true
				if cur != nil {
					idv, _ := cur.vals[name].(string)
					cur = s.byIDLocked(def.to, idv)
				}
				break
			}
		}
		if !found {
			return nil, "", false
		}
		obj = next
	}
	return nil, "", false
}

// checkFields checks every field path a query names, and its subqueries'.
func (s *Server) checkQueryLocked(q *query, object string) *queryError {
	return s.checkLocked(q, object, false)
}

// checkNestedLocked checks a sub-select, which may hold no join.
func (s *Server) checkNestedLocked(q *query, object string) *queryError {
	return s.checkLocked(q, object, true)
}

func (s *Server) checkLocked(q *query, object string, nested bool) *queryError {
	defs := s.schema(object)
	if defs == nil {
		return &queryError{code: "INVALID_TYPE", msg: fmt.Sprintf("sObject type '%s' is not supported.", object)}
	}
	check := func(f string) *queryError {
		if _, _, ok := s.resolveLocked(nil, object, f); !ok {
			return &queryError{code: "INVALID_FIELD", msg: fmt.Sprintf("No such column '%s' on entity '%s'.", f, object)}
		}
		return nil
	}
	for _, f := range q.fields {
		if err := check(f); err != nil {
			return err
		}
	}
	for _, o := range q.order {
		if err := check(o.field); err != nil {
			return err
		}
	}
	// joined says whether the WHERE may hold a semi-join or anti-join:
	// only the outer query's may, and not under OR or NOT (SOQL and SOSL
	// Reference, "Comparison Operators", semi-join and anti-join
	// restrictions).
	var walk func(c *cond, joined bool) *queryError
	walk = func(c *cond, joined bool) *queryError {
		if c == nil {
			return nil
		}
		switch c.op {
		case "and":
			if err := walk(c.left, joined); err != nil {
				return err
			}
			return walk(c.right, joined)
		case "or":
			if err := walk(c.left, false); err != nil {
				return err
			}
			return walk(c.right, false)
		case "not":
			return walk(c.left, false)
		}
		if err := check(c.field); err != nil {
			return err
		}
		_, typ, _ := s.resolveLocked(nil, object, c.field)
		if c.sub != nil {
			return s.checkJoinLocked(c, typ, joined && !nested)
		}
		for _, v := range c.values {
			if err := typeCheck(c.field, typ, c.op, v); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(q.where, true)
}

// checkJoinLocked checks a semi-join or anti-join: its left field is an id
// or reference, and its SELECT names one id or reference field of another
// object, without ORDER BY, LIMIT, subqueries or joins of its own.
func (s *Server) checkJoinLocked(c *cond, typ string, allowed bool) *queryError {
	if !allowed {
		return malformed("Semi join or anti join sub-selects are not allowed here (under OR or NOT, or in a sub-select).")
	}
	if typ != ftID && typ != ftRef {
		return &queryError{code: "INVALID_FIELD", msg: fmt.Sprintf("The left operand field '%s' of a semi join must be an id or a reference.", c.field)}
	}
	sq := c.sub
	if len(sq.fields) != 1 || len(sq.subs) > 0 || len(sq.order) > 0 || sq.limit > 0 {
		return malformed("A semi join sub-select names one field and has no ORDER BY, LIMIT or sub-selects.")
	}
	obj, ok, _ := canonicalObject(sq.object)
	if !ok {
		return &queryError{code: "INVALID_TYPE", msg: fmt.Sprintf("sObject type '%s' is not supported.", sq.object)}
	}
	sq.object = obj
	if err := s.checkNestedLocked(sq, obj); err != nil {
		return err
	}
	if _, t, _ := s.resolveLocked(nil, obj, sq.fields[0]); t != ftID && t != ftRef {
		return &queryError{code: "INVALID_FIELD", msg: fmt.Sprintf("Semi join sub-selects can only query id fields, cannot use: '%s'", sq.fields[0])}
	}
	return nil
}

// typeCheck refuses a literal of the wrong type for its field, as
// Salesforce does.
func typeCheck(field, typ, op string, v value) *queryError {
	bad := func(what string) *queryError {
		return &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("value of filter criterion for field '%s' must be of type %s", field, what)}
	}
	if v.isNull() {
		if op == "=" || op == "!=" || op == "in" || op == "notin" {
			return nil
		}
		return bad("non-null")
	}
	switch typ {
	case ftBool:
		if !v.isBool() || (op != "=" && op != "!=") {
			return bad("boolean and should not be enclosed in quotes")
		}
	case ftDateTime:
		if v.kind != tDateTime {
			return bad("dateTime and should not be enclosed in quotes")
		}
	case ftInt:
		if v.kind != tNumber {
			return bad("int")
		}
	case ftID, ftRef:
		if v.kind != tString {
			return bad("id")
		}
		if !idRE.MatchString(v.text) {
			return &queryError{code: "INVALID_QUERY_FILTER_OPERATOR", msg: fmt.Sprintf("invalid ID field: %s", v.text)}
		}
	default:
		if v.kind != tString {
			return bad("string")
		}
	}
	return nil
}

// match evaluates a condition on a record.
func (s *Server) matchLocked(c *cond, r *rec, object string) bool {
	if c == nil {
		return true
	}
	switch c.op {
	case "and":
		return s.matchLocked(c.left, r, object) && s.matchLocked(c.right, r, object)
	case "or":
		return s.matchLocked(c.left, r, object) || s.matchLocked(c.right, r, object)
	case "not":
		return !s.matchLocked(c.left, r, object)
	}
	v, typ, _ := s.resolveLocked(r, object, c.field)
	switch c.op {
	case "in", "notin":
		in := slices.ContainsFunc(c.values, func(x value) bool { return compare(v, typ, x) == 0 })
		return in == (c.op == "in")
	}
	x := c.values[0]
	if x.isNull() {
		null := v == nil || v == ""
		return null == (c.op == "=")
	}
	if v == nil || v == "" {
		return c.op == "!="
	}
	d := compare(v, typ, x)
	switch c.op {
	case "=":
		return d == 0
	case "!=":
		return d != 0
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	}
	return false
}

// compare compares a stored value with a literal: text without regard to
// case, ids by their 15-character form, datetimes as stored.
func compare(v any, typ string, x value) int {
	switch typ {
	case ftBool:
		b, _ := v.(bool)
		xb := x.text == "true"
		switch {
		case b == xb:
			return 0
		case !b:
			return -1
		}
		return 1
	case ftDateTime:
		t, _ := v.(time.Time)
		return t.Compare(x.t)
	case ftInt:
		n, _ := v.(int64)
		var xn int64
		fmt.Sscan(x.text, &xn)
		switch {
		case n < xn:
			return -1
		case n > xn:
			return 1
		}
		return 0
	case ftID, ftRef:
		sv, _ := v.(string)
		if len(sv) >= 15 && len(x.text) >= 15 {
			return strings.Compare(sv[:15], x.text[:15])
		}
		return strings.Compare(sv, x.text)
	}
	if v == nil {
		v = ""
	}
	sv, _ := v.(string)
	if x.isNull() {
		return strings.Compare(sv, "")
	}
	return strings.Compare(strings.ToLower(sv), strings.ToLower(x.text))
}

// sortRecords orders records by the ORDER BY items.
func (s *Server) sortLocked(rs []*rec, object string, order []orderItem) {
	sort.SliceStable(rs, func(i, j int) bool {
		for _, o := range order {
			a, typ, _ := s.resolveLocked(rs[i], object, o.field)
			b, _, _ := s.resolveLocked(rs[j], object, o.field)
			an, bn := a == nil || a == "", b == nil || b == ""
			if an || bn {
				if an == bn {
					continue
				}
				return an != o.nullsLast
			}
			d := compareValues(a, b, typ)
			if d == 0 {
				continue
			}
			if o.desc {
				return d > 0
			}
			return d < 0
		}
		return false
	})
}

func compareValues(a, b any, typ string) int {
	switch typ {
	case ftDateTime:
		return a.(time.Time).Compare(b.(time.Time))
	case ftInt:
		x, y := a.(int64), b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case ftBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return strings.Compare(strings.ToLower(fmt.Sprint(a)), strings.ToLower(fmt.Sprint(b)))
}

// runLocked runs a parsed query and renders its rows as Salesforce does.
func (s *Server) runLocked(q *query) ([]map[string]any, *queryError) {
	if err := s.checkQueryLocked(q, q.object); err != nil {
		return nil, err
	}
	object, _, _ := canonicalObject(q.object)
	if object == "ContentDocumentLink" && !filtersLinks(q.where) {
		return nil, malformed("Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.")
	}
	subs := make([]struct {
		name     string
		q        *query
		rel      struct{ parent, child, field string }
		childObj string
	}, len(q.subs))
	for i, sq := range q.subs {
		rel, ok := childRelationships[strings.ToLower(sq.object)]
		if !ok || rel.parent != object {
			return nil, &queryError{code: "INVALID_TYPE", msg: fmt.Sprintf("Didn't understand relationship '%s' in FROM part of query call.", sq.object)}
		}
		if err := s.checkNestedLocked(sq, rel.child); err != nil {
			return nil, err
		}
		subs[i].name, subs[i].q, subs[i].rel = relName(sq.object), sq, rel
	}
	rows := s.matchingLocked(q, object)
	s.sortLocked(rows, object, q.order)
	if q.limit > 0 && len(rows) > q.limit {
		rows = rows[:q.limit]
	}
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		m := s.renderLocked(r, object, q.fields)
		for _, sub := range subs {
			var kids []*rec
			for _, k := range s.recordsLocked(sub.rel.child) {
				if pid, _ := k.vals[sub.rel.field].(string); pid == r.id() && s.matchLocked(sub.q.where, k, sub.rel.child) {
					kids = append(kids, k)
				}
			}
			s.sortLocked(kids, sub.rel.child, sub.q.order)
			if sub.q.limit > 0 && len(kids) > sub.q.limit {
				kids = kids[:sub.q.limit]
			}
			if len(kids) == 0 {
				m[sub.name] = nil
				continue
			}
			var krows []map[string]any
			for _, k := range kids {
				krows = append(krows, s.renderLocked(k, sub.rel.child, sub.q.fields))
			}
			batch := s.subqueryBatch()
			page := map[string]any{"totalSize": len(krows), "done": true}
			if len(krows) > batch {
				page["done"] = false
				page["nextRecordsUrl"] = s.newLocatorLocked(krows, batch)
				krows = krows[:batch]
			}
			page["records"] = krows
			m[sub.name] = page
		}
		out = append(out, m)
	}
	return out, nil
}

// matchingLocked returns the records of object that q's WHERE selects
// and the sync user may query, after running its semi-joins.
func (s *Server) matchingLocked(q *query, object string) []*rec {
	s.joinLocked(q.where)
	hideShared := (object == "ContentVersion" || object == "ContentDocument") && !s.opts.QueryAllFiles && !filtersFileIDs(q.where)
	var rows []*rec
	for _, r := range s.recordsLocked(object) {
		if !s.matchLocked(q.where, r, object) {
			continue
		}
		// Without an id filter a file query returns the files the user
		// owns, not those it reaches only through a record they are
		// shared with (Object Reference, ContentVersion and
		// ContentDocument), unless it has Query All Files.
		if by, _ := r.vals["CreatedById"].(string); hideShared && by != s.syncUser.id() {
			continue
		}
		rows = append(rows, r)
	}
	return rows
}

// joinLocked runs the semi-joins and anti-joins of a WHERE, turning each
// into the list of ids its sub-select gives.
func (s *Server) joinLocked(c *cond) {
	if c == nil {
		return
	}
	s.joinLocked(c.left)
	s.joinLocked(c.right)
	if c.sub == nil {
		return
	}
	c.values = []value{}
	for _, r := range s.matchingLocked(c.sub, c.sub.object) {
		v, _, _ := s.resolveLocked(r, c.sub.object, c.sub.fields[0])
		if id, _ := v.(string); id != "" {
			c.values = append(c.values, value{kind: tString, text: id})
		}
	}
}

// filtersFileIDs reports whether a ContentVersion or ContentDocument query
// names the files it wants by id (Id, or ContentDocumentId) with = or IN
// at its top level.
func filtersFileIDs(c *cond) bool {
	if c == nil {
		return false
	}
	switch c.op {
	case "and":
		return filtersFileIDs(c.left) || filtersFileIDs(c.right)
	case "=", "in":
		return strings.EqualFold(c.field, "Id") || strings.EqualFold(c.field, "ContentDocumentId")
	}
	return false
}

// relName gives a child relationship's canonical name.
func relName(s string) string {
	switch strings.ToLower(s) {
	case "casecomments":
		return "CaseComments"
	case "contentdocumentlinks":
		return "ContentDocumentLinks"
	}
	return s
}

var objects = []string{"Case", "CaseComment", "ContentDocumentLink", "ContentDocument", "ContentVersion", "CaseStatus", "User"}

func canonicalObject(s string) (string, bool, bool) {
	for _, o := range objects {
		if strings.EqualFold(o, s) {
			return o, true, true
		}
	}
	return s, false, false
}

// filtersLinks reports whether a ContentDocumentLink query filters on
// LinkedEntityId or ContentDocumentId with = or IN at its top level.
func filtersLinks(c *cond) bool {
	if c == nil {
		return false
	}
	switch c.op {
	case "and":
		return filtersLinks(c.left) || filtersLinks(c.right)
	case "=", "in":
		return strings.EqualFold(c.field, "LinkedEntityId") || strings.EqualFold(c.field, "ContentDocumentId")
	}
	return false
}

// renderLocked renders a record's selected fields: attributes first,
// relationship paths as nested objects, datetimes in Salesforce's form.
func (s *Server) renderLocked(r *rec, object string, fields []string) map[string]any {
	m := map[string]any{"attributes": s.attributes(object, r.id())}
	for _, f := range fields {
		parts := strings.Split(f, ".")
		if len(parts) > 1 && strings.EqualFold(parts[0], object) {
			parts = parts[1:]
		}
		cur, obj, into := r, object, m
		for i, p := range parts {
			defs := s.schema(obj)
			if i == len(parts)-1 {
				name, _, _ := canonical(defs, p)
				var v any
				if cur != nil {
					v = cur.vals[name]
				}
				into[name] = jsonValue(v)
				break
			}
			for name, def := range defs {
				if def.typ == ftRef && strings.EqualFold(def.rel, p) {
					var next *rec
					if cur != nil {
						idv, _ := cur.vals[name].(string)
						next = s.byIDLocked(def.to, idv)
					}
					if next == nil {
						into[def.rel] = nil
						cur = nil
						break
					}
					sub, ok := into[def.rel].(map[string]any)
					if !ok {
						sub = map[string]any{"attributes": s.attributes(def.to, next.id())}
						into[def.rel] = sub
					}
					cur, obj, into = next, def.to, sub
					break
				}
			}
			if cur == nil {
				break
			}
		}
	}
	return m
}

func (s *Server) attributes(object, id string) map[string]any {
	return map[string]any{"type": object, "url": s.api() + "/sobjects/" + object + "/" + id}
}

// jsonValue renders a stored value.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return formatTime(x)
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

// formatTime writes a datetime as Salesforce's REST API does, with
// milliseconds (always .000 for stored values).
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }
