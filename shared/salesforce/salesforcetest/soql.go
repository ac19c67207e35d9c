package salesforcetest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The SOQL the simulator understands (SOQL and SOSL Reference, "SOQL
// SELECT Syntax"):
//
//	SELECT field {, field | (subquery)} FROM object
//	  [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] {, ...}]
//	  [LIMIT n]
//
// where a field is an API name or a relationship path (CreatedBy.Name), a
// subquery is a SELECT over a child relationship (CaseComments,
// ContentDocumentLinks) with its own WHERE, ORDER BY and LIMIT, and a
// condition combines comparisons (=, !=, <>, <, <=, >, >=, IN (...), NOT
// IN (...)) with AND, OR, NOT and parentheses; IN and NOT IN also take a
// semi-join or anti-join, a SELECT of one id or reference field of another
// object (field IN (SELECT Id FROM Case WHERE ...)). Values are string literals
// in single quotes with backslash escapes, true, false, null, numbers, and
// datetime literals (YYYY-MM-DDThh:mm:ssZ or ±hh:mm, unquoted). Anything
// else is refused with MALFORMED_QUERY, as Salesforce refuses what it
// cannot parse.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDateTime
	tPunct
)

type token struct {
	kind tokKind
	text string // identifiers as written; strings unescaped
	t    time.Time
	pos  int
}

// queryError is a refusal of a query: its Salesforce error code and
// message.
type queryError struct{ code, msg string }

func (e *queryError) Error() string { return e.code + ": " + e.msg }

func malformed(format string, args ...any) *queryError {
	return &queryError{code: "MALFORMED_QUERY", msg: fmt.Sprintf(format, args...)}
}

func lex(s string) ([]token, *queryError) {
	var out []token
	i := 0
	for i < len(s) {
		r := rune(s[i])
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case r == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				ch := s[j]
				if ch == '\\' {
					if j+1 >= len(s) {
						return nil, malformed("unterminated escape at %d", j)
					}
					switch s[j+1] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					case 'b':
						b.WriteByte('\b')
					case 'f':
						b.WriteByte('\f')
					case '"', '\'', '\\', '_', '%':
						b.WriteByte(s[j+1])
					default:
						return nil, malformed("invalid escape sequence at %d", j)
					}
					j += 2
					continue
				}
				if ch == '\'' {
					closed = true
					break
				}
				b.WriteByte(ch)
				j++
			}
			if !closed {
				return nil, malformed("unterminated string at %d", i)
			}
			out = append(out, token{kind: tString, text: b.String(), pos: i})
			i = j + 1
		case r >= '0' && r <= '9' || r == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || strings.ContainsRune("-:.TZ+", rune(s[j]))) {
				j++
			}
			lit := s[i:j]
			if strings.Contains(lit, "T") {
				t, ok := parseDateTime(lit)
				if !ok {
					return nil, malformed("invalid datetime literal %q", lit)
				}
				out = append(out, token{kind: tDateTime, text: lit, t: t, pos: i})
			} else {
				if _, err := strconv.ParseFloat(lit, 64); err != nil {
					return nil, malformed("invalid number %q", lit)
				}
				out = append(out, token{kind: tNumber, text: lit, pos: i})
			}
			i = j
		case unicode.IsLetter(r) || r == '_':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{kind: tIdent, text: s[i:j], pos: i})
			i = j
		case strings.ContainsRune("(),", r):
			out = append(out, token{kind: tPunct, text: string(r), pos: i})
			i++
		case r == '=':
			out = append(out, token{kind: tPunct, text: "=", pos: i})
			i++
		case r == '!' || r == '<' || r == '>':
			if i+1 < len(s) && (s[i+1] == '=' || r == '<' && s[i+1] == '>') {
				out = append(out, token{kind: tPunct, text: s[i : i+2], pos: i})
				i += 2
			} else if r == '!' {
				return nil, malformed("unexpected '!' at %d", i)
			} else {
				out = append(out, token{kind: tPunct, text: string(r), pos: i})
				i++
			}
		default:
			return nil, malformed("unexpected character at %d", i)
		}
	}
	return append(out, token{kind: tEOF, pos: len(s)}), nil
}

// parseDateTime reads the documented datetime literal forms.
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// value is a literal of a condition.
type value struct {
	kind tokKind // tString, tNumber, tDateTime, or tIdent for true/false/null
	text string
	t    time.Time
}

func (v value) isNull() bool { return v.kind == tIdent && strings.EqualFold(v.text, "null") }
func (v value) isBool() bool {
	return v.kind == tIdent && (strings.EqualFold(v.text, "true") || strings.EqualFold(v.text, "false"))
}

// cond is a WHERE condition.
type cond struct {
	op          string // "and", "or", "not", or a comparison: = != < <= > >= in notin
	left, right *cond
	field       string
	values      []value
	// sub is the SELECT of a semi-join (in) or anti-join (notin).
	sub *query
}

type orderItem struct {
	field string
	desc  bool
	// nullsLast: Salesforce puts nulls first ascending, last descending,
	// unless told.
	nullsLast bool
}

// query is a parsed SELECT.
type query struct {
	fields []string
	subs   []*query // parent-to-child subqueries, in select order
	// subAt gives, for each select item, the index into subs or -1.
	object string
	where  *cond
	order  []orderItem
	limit  int // 0: none
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, k) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKeyword(k string) *queryError {
	if !p.keyword(k) {
		return malformed("expecting %s at %d", k, p.peek().pos)
	}
	return nil
}

func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "and": true, "or": true, "not": true,
	"in": true, "order": true, "by": true, "asc": true, "desc": true, "nulls": true, "first": true, "last": true,
	"limit": true, "offset": true, "true": true, "false": true, "null": true, "like": true, "group": true, "having": true}

func (p *parser) ident() (string, *queryError) {
	t := p.next()
	if t.kind != tIdent || reserved[strings.ToLower(t.text)] || strings.HasPrefix(t.text, ".") || strings.HasSuffix(t.text, ".") || strings.Contains(t.text, "..") {
		return "", malformed("unexpected token at %d", t.pos)
	}
	return t.text, nil
}

// parseQuery parses a whole SOQL statement.
func parseQuery(s string) (*query, *queryError) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err := p.selectStmt(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, malformed("unexpected token at %d", t.pos)
	}
	return q, nil
}

func (p *parser) selectStmt(sub bool) (*query, *queryError) {
	if err := p.expectKeyword("SELECT"); err != nil {
		return nil, err
	}
	q := &query{}
	for {
		if p.punct("(") {
			if sub {
				return nil, malformed("nested subqueries are not supported")
			}
			sq, err := p.selectStmt(true)
			if err != nil {
				return nil, err
			}
			if !p.punct(")") {
				return nil, malformed("expecting ')' at %d", p.peek().pos)
			}
			q.subs = append(q.subs, sq)
		} else {
			f, err := p.ident()
			if err != nil {
				return nil, err
			}
			q.fields = append(q.fields, f)
		}
		if !p.punct(",") {
			break
		}
	}
	if err := p.expectKeyword("FROM"); err != nil {
		return nil, err
	}
	obj, err := p.ident()
	if err != nil {
		return nil, err
	}
	q.object = obj
	if p.keyword("WHERE") {
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		q.where = c
	}
	if p.keyword("ORDER") {
		if err := p.expectKeyword("BY"); err != nil {
			return nil, err
		}
		for {
			f, err := p.ident()
			if err != nil {
				return nil, err
			}
			it := orderItem{field: f}
			if p.keyword("DESC") {
				it.desc = true
			} else {
				p.keyword("ASC")
			}
			it.nullsLast = it.desc
			if p.keyword("NULLS") {
				switch {
				case p.keyword("FIRST"):
					it.nullsLast = false
				case p.keyword("LAST"):
					it.nullsLast = true
				default:
					return nil, malformed("expecting FIRST or LAST at %d", p.peek().pos)
				}
			}
			q.order = append(q.order, it)
			if !p.punct(",") {
				break
			}
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tNumber || err != nil || n < 0 {
			return nil, malformed("invalid LIMIT at %d", t.pos)
		}
		q.limit = n
	}
	return q, nil
}

func (p *parser) orCond() (*cond, *queryError) {
	l, err := p.andCond()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.andCond()
		if err != nil {
			return nil, err
		}
		l = &cond{op: "or", left: l, right: r}
	}
	return l, nil
}

func (p *parser) andCond() (*cond, *queryError) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &cond{op: "and", left: l, right: r}
	}
	return l, nil
}

func (p *parser) unary() (*cond, *queryError) {
	if p.keyword("NOT") {
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &cond{op: "not", left: c}, nil
	}
	if p.punct("(") {
		c, err := p.orCond()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, malformed("expecting ')' at %d", p.peek().pos)
		}
		return c, nil
	}
	f, err := p.ident()
	if err != nil {
		return nil, err
	}
	c := &cond{field: f}
	switch {
	case p.keyword("IN"):
		c.op = "in"
	case p.keyword("NOT"):
		if err := p.expectKeyword("IN"); err != nil {
			return nil, err
		}
		c.op = "notin"
	default:
		t := p.next()
		if t.kind != tPunct || !strings.Contains("= != <> < <= > >=", t.text) || t.text == "(" || t.text == ")" || t.text == "," {
			return nil, malformed("expecting an operator at %d", t.pos)
		}
		c.op = t.text
		if c.op == "<>" {
			c.op = "!="
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.values = []value{v}
		return c, nil
	}
	if !p.punct("(") {
		return nil, malformed("expecting '(' at %d", p.peek().pos)
	}
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, "SELECT") {
		sq, err := p.selectStmt(true)
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, malformed("expecting ')' at %d", p.peek().pos)
		}
		c.sub = sq
		return c, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		c.values = append(c.values, v)
		if !p.punct(",") {
			break
		}
	}
	if !p.punct(")") {
		return nil, malformed("expecting ')' at %d", p.peek().pos)
	}
	return c, nil
}

func (p *parser) value() (value, *queryError) {
	t := p.next()
	switch t.kind {
	case tString, tNumber, tDateTime:
		return value{kind: t.kind, text: t.text, t: t.t}, nil
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false", "null":
			return value{kind: tIdent, text: strings.ToLower(t.text)}, nil
		}
	}
	return value{}, malformed("unexpected token at %d", t.pos)
}
