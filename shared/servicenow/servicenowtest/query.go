package servicenowtest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// An encoded query as ServiceNow reads it (sysparm_query):
//
//	field=value^field2>=value^ORfield3ISNOTEMPTY^NQfield4=x^ORDERBYfield^ORDERBYDESCother
//
// "^" joins conditions with AND, "^OR" joins a condition to the one before it
// with OR and binds tighter than AND (a^b^ORc is a AND (b OR c)), and "^NQ"
// starts a new query whose results are added (OR of whole queries).
// ORDERBY / ORDERBYDESC clauses sort. A condition naming a column the table
// does not have is dropped, as the platform does by default
// (glide.invalid_query.returns_no_rows=false).
type query struct {
	groups []group // OR of groups; none means every row
	order  []orderBy
}

// group is an AND of terms; each term is an OR of conditions.
type group [][]condition

type condition struct {
	field, op, value string
}

type orderBy struct {
	field string
	desc  bool
}

// operators, longest first so that "!=" wins over "=" and ">=" over ">".
var operators = []string{"ISNOTEMPTY", "ISEMPTY", "NOT IN", "NOTLIKE", "STARTSWITH", "ENDSWITH", "LIKE", "IN", "!=", ">=", "<=", "=", ">", "<"}

func parseQuery(s string, columns map[string]bool) query {
	var q query
	for _, part := range strings.Split(s, "^NQ") {
		var g group
		for _, tok := range strings.Split(part, "^") {
			switch {
			case tok == "" || tok == "EQ":
				continue
			case strings.HasPrefix(tok, "ORDERBYDESC"):
				q.order = append(q.order, orderBy{field: tok[len("ORDERBYDESC"):], desc: true})
				continue
			case strings.HasPrefix(tok, "ORDERBY"):
				q.order = append(q.order, orderBy{field: tok[len("ORDERBY"):]})
				continue
			}
			or := strings.HasPrefix(tok, "OR")
			if or {
				tok = tok[2:]
			}
			c, ok := parseCondition(tok)
			if !ok || !columns[c.field] {
				continue // dropped, as the platform drops an invalid condition
			}
			if or && len(g) > 0 {
				g[len(g)-1] = append(g[len(g)-1], c)
			} else {
				g = append(g, []condition{c})
			}
		}
		q.groups = append(q.groups, g)
	}
	return q
}

func parseCondition(tok string) (condition, bool) {
	i := 0
	for i < len(tok) && (tok[i] == '_' || tok[i] == '.' || (tok[i] >= 'a' && tok[i] <= 'z') || (tok[i] >= '0' && tok[i] <= '9')) {
		i++
	}
	if i == 0 {
		return condition{}, false
	}
	rest := tok[i:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op) {
			return condition{field: tok[:i], op: op, value: rest[len(op):]}, true
		}
	}
	return condition{}, false
}

// matches reports whether row satisfies the query.
func (q query) matches(row map[string]string) bool {
	if len(q.groups) == 0 {
		return true
	}
	for _, g := range q.groups {
		if g.matches(row) {
			return true
		}
	}
	return false
}

func (g group) matches(row map[string]string) bool {
	for _, term := range g {
		if !slices.ContainsFunc(term, func(c condition) bool { return c.matches(row) }) {
			return false
		}
	}
	return true
}

func (c condition) matches(row map[string]string) bool {
	v := row[c.field]
	switch c.op {
	case "ISEMPTY":
		return v == ""
	case "ISNOTEMPTY":
		return v != ""
	case "IN":
		return slices.Contains(strings.Split(c.value, ","), v)
	case "NOT IN":
		return !slices.Contains(strings.Split(c.value, ","), v)
	case "LIKE":
		return strings.Contains(strings.ToLower(v), strings.ToLower(c.value))
	case "NOTLIKE":
		return !strings.Contains(strings.ToLower(v), strings.ToLower(c.value))
	case "STARTSWITH":
		return strings.HasPrefix(strings.ToLower(v), strings.ToLower(c.value))
	case "ENDSWITH":
		return strings.HasSuffix(strings.ToLower(v), strings.ToLower(c.value))
	}
	d := compareValues(v, c.value)
	switch c.op {
	case "=":
		return d == 0
	case "!=":
		return d != 0
	case ">":
		return d > 0
	case ">=":
		return d >= 0
	case "<":
		return d < 0
	case "<=":
		return d <= 0
	}
	return false
}

// compareValues compares numerically when both are numbers and as strings
// otherwise; "yyyy-MM-dd HH:mm:ss" date-times compare correctly as strings.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// sortRows orders rows by the query's ORDERBY clauses; rows that tie keep
// their insertion order.
func (q query) sortRows(rows []map[string]string) {
	if len(q.order) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b map[string]string) int {
		for _, o := range q.order {
			d := compareValues(a[o.field], b[o.field])
			if o.desc {
				d = -d
			}
			if d != 0 {
				return d
			}
		}
		return 0
	})
}
