package csapitest

import (
	"strings"
	"time"
	"unicode"
)

// caseView is what a filter sees of one case: the case as the index (or the
// store) knows it, its update time and the comment bodies visible with it.
type caseView struct {
	c        *caseSnapshot
	comments []string
}

// caseSnapshot holds the fields filters read.
type caseSnapshot struct {
	displayName, description, state, priority, creatorEmail string
	updated                                                 time.Time
}

type predicate func(caseView) bool

func matchAll(caseView) bool { return true }

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokEq
	tokGt
	tokLParen
	tokRParen
	tokAnd
	tokOr
)

type token struct {
	kind tokenKind
	text string
}

func isIdentRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-'
}

func tokenize(q string) ([]token, *APIError) {
	var out []token
	rs := []rune(q)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '=':
			out = append(out, token{kind: tokEq, text: "="})
			i++
		case r == '>':
			out = append(out, token{kind: tokGt, text: ">"})
			i++
		case r == '(':
			out = append(out, token{kind: tokLParen, text: "("})
			i++
		case r == ')':
			out = append(out, token{kind: tokRParen, text: ")"})
			i++
		case r == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(rs) {
				c := rs[i]
				if c == '\\' && i+1 < len(rs) {
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				b.WriteRune(c)
				i++
			}
			if !closed {
				return nil, errInvalid("Invalid query: unterminated string.")
			}
			out = append(out, token{kind: tokString, text: b.String()})
		case isIdentRune(r):
			start := i
			for i < len(rs) && isIdentRune(rs[i]) {
				i++
			}
			word := string(rs[start:i])
			switch word {
			case "AND":
				out = append(out, token{kind: tokAnd, text: word})
			case "OR":
				out = append(out, token{kind: tokOr, text: word})
			default:
				out = append(out, token{kind: tokIdent, text: word})
			}
		default:
			return nil, errInvalid("Invalid query: unexpected character %q.", r)
		}
	}
	return out, nil
}

type queryParser struct {
	toks   []token
	pos    int
	search bool // cases.search grammar (update_time and full text) rather than cases.list
	depth  int  // parentheses open at pos
}

// maxQueryDepth bounds the nesting of parentheses, so that a query of
// nothing but "(" cannot exhaust the parser's stack.
const maxQueryDepth = 32

func (p *queryParser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *queryParser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.pos++
	}
	return t, ok
}

// parseFilter compiles a cases.list filter (search=false) or a cases.search
// query (search=true). Anything outside the documented grammar is an
// INVALID_ARGUMENT error.
//
// The grammar is Google's list-filter language as Cloud Support documents
// it: comparisons joined by AND, where priority comparisons may also be
// joined by OR ("priority=P1 OR priority=P2", the documentation's own
// example, with or without parentheses). As in that language, OR binds
// tighter than AND: "state=OPEN AND priority=P0 OR priority=P1" is
// "state=OPEN AND (priority=P0 OR priority=P1)". Parentheses group.
func parseFilter(q string, search bool) (predicate, *APIError) {
	if strings.TrimSpace(q) == "" {
		return matchAll, nil
	}
	toks, err := tokenize(q)
	if err != nil {
		return nil, err
	}
	p := &queryParser{toks: toks, search: search}
	pred, _, err := p.conjunction()
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		return nil, errInvalid("Invalid query: expected AND, got %q.", t.text)
	}
	return pred, nil
}

// conjunction reads factors joined by AND. onlyPriority reports whether it
// is a single factor of priority comparisons, which OR may then join.
func (p *queryParser) conjunction() (pred predicate, onlyPriority bool, err *APIError) {
	var preds []predicate
	for {
		pr, prio, err := p.disjunction()
		if err != nil {
			return nil, false, err
		}
		preds = append(preds, pr)
		onlyPriority = prio && len(preds) == 1
		t, ok := p.peek()
		if !ok || t.kind != tokAnd {
			break
		}
		p.pos++
	}
	if len(preds) == 1 {
		return preds[0], onlyPriority, nil
	}
	return func(v caseView) bool {
		for _, pr := range preds {
			if !pr(v) {
				return false
			}
		}
		return true
	}, false, nil
}

// disjunction reads terms joined by OR; only priority comparisons may be.
func (p *queryParser) disjunction() (predicate, bool, *APIError) {
	var alts []predicate
	onlyPriority := true
	for {
		pr, prio, err := p.term()
		if err != nil {
			return nil, false, err
		}
		alts = append(alts, pr)
		onlyPriority = onlyPriority && prio
		t, ok := p.peek()
		if !ok || t.kind != tokOr {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], onlyPriority, nil
	}
	if !onlyPriority {
		return nil, false, errInvalid("Invalid query: only priority comparisons may be combined with OR.")
	}
	return func(v caseView) bool {
		for _, a := range alts {
			if a(v) {
				return true
			}
		}
		return false
	}, true, nil
}

// term reads a parenthesized group, a comparison or (cases.search only) a
// quoted full-text term; it reports whether it holds priority comparisons
// only.
func (p *queryParser) term() (predicate, bool, *APIError) {
	t, ok := p.peek()
	if !ok {
		return nil, false, errInvalid("Invalid query: unexpected end of query.")
	}
	switch t.kind {
	case tokLParen:
		p.pos++
		if p.depth++; p.depth > maxQueryDepth {
			return nil, false, errInvalid("Invalid query: parentheses nested too deep.")
		}
		pr, prio, err := p.conjunction()
		p.depth--
		if err != nil {
			return nil, false, err
		}
		if n, ok := p.next(); !ok || n.kind != tokRParen {
			return nil, false, errInvalid("Invalid query: missing ')'.")
		}
		return pr, prio, nil
	case tokString:
		if !p.search {
			return nil, false, errInvalid("Invalid filter: full-text terms are only supported by cases.search.")
		}
		p.pos++
		term := strings.ToLower(t.text)
		return func(v caseView) bool {
			if strings.Contains(strings.ToLower(v.c.displayName), term) || strings.Contains(strings.ToLower(v.c.description), term) {
				return true
			}
			for _, body := range v.comments {
				if strings.Contains(strings.ToLower(body), term) {
					return true
				}
			}
			return false
		}, false, nil
	case tokIdent:
		pr, err := p.comparison()
		return pr, err == nil && t.text == "priority", err
	default:
		return nil, false, errInvalid("Invalid query: unexpected %q.", t.text)
	}
}

func (p *queryParser) comparison() (predicate, *APIError) {
	field, _ := p.next()
	op, ok := p.next()
	if !ok {
		return nil, errInvalid("Invalid query: %q needs an operator.", field.text)
	}
	val, ok := p.next()
	if !ok || (val.kind != tokIdent && val.kind != tokString) {
		return nil, errInvalid("Invalid query: %q needs a value.", field.text)
	}
	switch field.text {
	case "state":
		if op.kind != tokEq {
			return nil, errInvalid("Invalid query: state supports only '='.")
		}
		switch val.text {
		case "OPEN":
			return func(v caseView) bool { return v.c.state != "CLOSED" }, nil
		case "CLOSED":
			return func(v caseView) bool { return v.c.state == "CLOSED" }, nil
		}
		return nil, errInvalid("Invalid query: state must be OPEN or CLOSED.")
	case "priority":
		if op.kind != tokEq {
			return nil, errInvalid("Invalid query: priority supports only '='.")
		}
		if !validPriority(val.text) {
			return nil, errInvalid("Invalid query: priority must be one of P0, P1, P2, P3, P4.")
		}
		want := val.text
		return func(v caseView) bool { return v.c.priority == want }, nil
	case "creator.email":
		if op.kind != tokEq || val.kind != tokString {
			return nil, errInvalid("Invalid query: use creator.email=\"address\".")
		}
		want := strings.ToLower(val.text)
		return func(v caseView) bool { return strings.ToLower(v.c.creatorEmail) == want }, nil
	case "update_time":
		if !p.search {
			return nil, errInvalid("Invalid filter: update_time is only supported by cases.search.")
		}
		if op.kind != tokGt {
			return nil, errInvalid("Invalid query: update_time supports only '>'.")
		}
		if val.kind != tokString {
			return nil, errInvalid("Invalid query: update_time needs a quoted RFC 3339 timestamp.")
		}
		ts, err := time.Parse(time.RFC3339Nano, val.text)
		if err != nil {
			return nil, errInvalid("Invalid query: update_time %q is not an RFC 3339 timestamp with a time zone.", val.text)
		}
		return func(v caseView) bool { return v.c.updated.After(ts) }, nil
	}
	return nil, errInvalid("Invalid query: unknown field %q.", field.text)
}

func validPriority(p string) bool {
	switch p {
	case "P0", "P1", "P2", "P3", "P4":
		return true
	}
	return false
}
