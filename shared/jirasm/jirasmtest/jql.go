package jirasmtest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// query is a parsed JQL query: a condition and an order.
type query struct {
	where   node // nil: every issue
	orderBy string
	desc    bool
}

// node is a JQL condition.
type node interface {
	match(s *Server, is *issue) (bool, error)
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ n node }

// clause is "field op value".
type clause struct {
	field string // lower case; custom fields as customfield_N
	op    string // = != < <= > >= ~ !~ is "is not"
	value string
	empty bool // the value is EMPTY / NULL
}

func (n andNode) match(s *Server, is *issue) (bool, error) {
	l, err := n.l.match(s, is)
	if err != nil || !l {
		return false, err
	}
	return n.r.match(s, is)
}

func (n orNode) match(s *Server, is *issue) (bool, error) {
	l, err := n.l.match(s, is)
	if err != nil || l {
		return l, err
	}
	return n.r.match(s, is)
}

func (n notNode) match(s *Server, is *issue) (bool, error) {
	m, err := n.n.match(s, is)
	return !m, err
}

func (q query) match(s *Server, is *issue) (bool, error) {
	if q.where == nil {
		return true, nil
	}
	return q.where.match(s, is)
}

// sort orders issues as the ORDER BY clause asks (default: created, newest
// first, as Jira does), ties broken by id.
func (q query) sort(list []*issue) {
	by, desc := q.orderBy, q.desc
	if by == "" {
		by, desc = "created", true
	}
	slices.SortStableFunc(list, func(a, b *issue) int {
		var c int
		switch by {
		case "updated":
			c = a.updated.Compare(b.updated)
		case "created":
			c = a.created.Compare(b.created)
		}
		if c == 0 {
			c = strings.Compare(fmt.Sprintf("%012s", a.id), fmt.Sprintf("%012s", b.id))
		}
		if desc {
			c = -c
		}
		return c
	})
}

func unsupported(op, field string) error {
	return fmt.Errorf("The operator '%s' is not supported by the '%s' field.", op, field)
}

func (c clause) match(s *Server, is *issue) (bool, error) {
	switch c.field {
	case "project":
		if c.op != "=" && c.op != "!=" {
			return false, unsupported(c.op, c.field)
		}
		eq := strings.EqualFold(c.value, s.opts.ProjectKey) || c.value == "10000"
		return eq == (c.op == "="), nil
	case "key", "issuekey", "id":
		if c.op != "=" && c.op != "!=" {
			return false, unsupported(c.op, c.field)
		}
		eq := strings.EqualFold(c.value, is.key) || c.value == is.id
		return eq == (c.op == "="), nil
	case "updated", "created", "updateddate", "createddate":
		t := is.updated
		if strings.HasPrefix(c.field, "created") {
			t = is.created
		}
		if c.empty {
			return false, unsupported(c.op, c.field)
		}
		at, err := s.jqlTime(c.value, c.field)
		if err != nil {
			return false, err
		}
		switch c.op {
		case "=":
			return t.Equal(at), nil
		case "!=":
			return !t.Equal(at), nil
		case "<":
			return t.Before(at), nil
		case "<=":
			return !t.After(at), nil
		case ">":
			return t.After(at), nil
		case ">=":
			return !t.Before(at), nil
		}
		return false, unsupported(c.op, c.field)
	case s.opts.SyncFlagField:
		switch {
		case c.op == "is" && c.empty:
			return !is.syncFlag, nil
		case c.op == "is not" && c.empty:
			return is.syncFlag, nil
		case c.op == "=" || c.op == "!=":
			if !strings.EqualFold(c.value, s.opts.SyncFlagValue) {
				return false, fmt.Errorf("The option '%s' for field '%s' does not exist.", c.value, c.field)
			}
			return is.syncFlag == (c.op == "="), nil
		}
		return false, unsupported(c.op, c.field)
	case s.opts.GoogleCaseField:
		switch {
		case c.op == "is" && c.empty:
			return is.googleCase == "", nil
		case c.op == "is not" && c.empty:
			return is.googleCase != "", nil
		case c.op == "~" || c.op == "!~":
			phrase := strings.Trim(c.value, `"`)
			has := phrase != "" && strings.Contains(strings.ToLower(is.googleCase), strings.ToLower(phrase))
			return has == (c.op == "~"), nil
		}
		return false, unsupported(c.op, c.field)
	}
	return false, fmt.Errorf("Field '%s' does not exist or you do not have permission to view it.", c.field)
}

// jqlTime reads a JQL date in the sync user's time zone, at the minute
// granularity JQL allows.
func (s *Server) jqlTime(v, field string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04", "2006/01/02 15:04", "2006-01-02", "2006/01/02"} {
		if t, err := time.ParseInLocation(layout, v, s.opts.TimeZone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v, field)
}

// token kinds of the lexer.
type token struct {
	text   string
	quoted bool
}

var cfPattern = regexp.MustCompile(`^cf\[(\d+)\]$`)

func lex(s string) ([]token, error) {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')' || r == ',':
			out = append(out, token{text: string(r)})
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("Error in the JQL Query: The quoted string has not been completed.")
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		case strings.ContainsRune("=!<>~", r):
			j := i + 1
			for j < len(rs) && strings.ContainsRune("=~", rs[j]) {
				j++
			}
			out = append(out, token{text: string(rs[i:j])})
			i = j
		default:
			j := i
			for j < len(rs) && !unicode.IsSpace(rs[j]) && !strings.ContainsRune(`()=!<>~,"'`, rs[j]) {
				j++
			}
			out = append(out, token{text: string(rs[i:j])})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) keyword(words ...string) bool {
	t, ok := p.peek()
	if !ok || t.quoted {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

func parseJQL(jql string) (query, error) {
	toks, err := lex(jql)
	if err != nil {
		return query{}, err
	}
	p := &parser{toks: toks}
	var q query
	if !p.keyword("order") && len(toks) > 0 {
		q.where, err = p.or()
		if err != nil {
			return query{}, err
		}
	}
	if p.keyword("order") {
		p.pos++
		if !p.keyword("by") {
			return query{}, fmt.Errorf("Error in the JQL Query: Expecting 'by' but got the end of the query.")
		}
		p.pos++
		t, ok := p.peek()
		if !ok {
			return query{}, fmt.Errorf("Error in the JQL Query: Expecting a field name after 'order by'.")
		}
		q.orderBy = strings.ToLower(t.text)
		if q.orderBy != "updated" && q.orderBy != "created" && q.orderBy != "key" {
			return query{}, fmt.Errorf("Not able to sort using field '%s'.", t.text)
		}
		if q.orderBy == "key" {
			q.orderBy = "created" // keys follow creation
		}
		p.pos++
		if p.keyword("asc", "desc") {
			q.desc = p.keyword("desc")
			p.pos++
		}
	}
	if t, ok := p.peek(); ok {
		return query{}, fmt.Errorf("Error in the JQL Query: Expecting either 'OR' or 'AND' but got '%s'.", t.text)
	}
	return q, nil
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		p.pos++
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary() (node, error) {
	if p.keyword("not") {
		p.pos++
		n, err := p.unary()
		return notNode{n}, err
	}
	if t, ok := p.peek(); ok && !t.quoted && t.text == "(" {
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.text != ")" {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting ')' before the end of the query.")
		}
		p.pos++
		return n, nil
	}
	return p.clause()
}

func (p *parser) clause() (node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("Error in the JQL Query: Expecting a field name but got the end of the query.")
	}
	p.pos++
	field := strings.ToLower(t.text)
	if m := cfPattern.FindStringSubmatch(field); m != nil {
		field = "customfield_" + m[1]
	}
	var c clause
	c.field = field
	switch {
	case p.keyword("is"):
		p.pos++
		c.op = "is"
		if p.keyword("not") {
			p.pos++
			c.op = "is not"
		}
		if !p.keyword("empty", "null") {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting 'EMPTY' or 'NULL' after '%s'.", c.op)
		}
		p.pos++
		c.empty = true
		return c, nil
	default:
		op, ok := p.peek()
		if !ok || op.quoted || !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">=", "~", "!~"}, op.text) {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting operator after '%s'.", t.text)
		}
		p.pos++
		c.op = op.text
		v, ok := p.peek()
		if !ok {
			return nil, fmt.Errorf("Error in the JQL Query: Expecting either a value, list or function but got the end of the query.")
		}
		p.pos++
		c.value = v.text
		if !v.quoted && (strings.EqualFold(v.text, "empty") || strings.EqualFold(v.text, "null")) {
			c.empty = true
		}
		return c, nil
	}
}
