package stix

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Quote writes a STIX pattern string literal.
func Quote(s string) string {
	return "'" + quoter.Replace(s) + "'"
}

var quoter = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// Comparison is one comparison of a pattern: object type, property path,
// operator and literal (strings unquoted; other literals as written).
type Comparison struct {
	ObjectType string
	Path       string // e.g. "value", "hashes.SHA-256"
	Negated    bool
	Operator   string
	Value      string
	IsString   bool
}

// Pattern is a parsed STIX pattern: its observation expressions, each a
// set of comparisons, joined by AND/OR/FOLLOWEDBY.
type Pattern struct {
	Observations [][]Comparison
	Qualifiers   []string
}

// ParsePattern parses a STIX 2.1 pattern. It accepts the whole grammar of
// observation and comparison expressions (AND, OR, FOLLOWEDBY, NOT, every
// comparison operator, list and typed literals, WITHIN/REPEATS/START-STOP
// qualifiers) and reports the first error with its offset.
func ParsePattern(s string) (*Pattern, error) {
	p := &patternParser{src: s}
	p.next()
	out := &Pattern{}
	if err := p.pattern(out); err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errorf("unexpected %q after the pattern", p.tok.text)
	}
	if len(out.Observations) == 0 {
		return nil, p.errorf("empty pattern")
	}
	return out, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tNumber
	tPunct
	tTyped // t'…', h'…', b'…'
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type patternParser struct {
	src string
	pos int
	tok token
	err error
}

func (p *patternParser) errorf(format string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	return fmt.Errorf("stix: pattern at offset %d: %s", p.tok.pos, fmt.Sprintf(format, args...))
}

func (p *patternParser) next() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{tEOF, "", start}
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '\'':
		s, ok := p.quoted()
		if !ok {
			p.tok = token{tEOF, "", start}
			p.err = fmt.Errorf("stix: pattern at offset %d: unterminated string", start)
			return
		}
		p.tok = token{tString, s, start}
	case (c == 't' || c == 'h' || c == 'b') && p.pos+1 < len(p.src) && p.src[p.pos+1] == '\'':
		p.pos++
		s, ok := p.quoted()
		if !ok {
			p.tok = token{tEOF, "", start}
			p.err = fmt.Errorf("stix: pattern at offset %d: unterminated literal", start)
			return
		}
		p.tok = token{tTyped, string(c) + s, start}
	case c == '-' || c >= '0' && c <= '9':
		p.pos++
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.') {
			p.pos++
		}
		p.tok = token{tNumber, p.src[start:p.pos], start}
	case c == '_' || unicode.IsLetter(rune(c)):
		for p.pos < len(p.src) && (p.src[p.pos] == '_' || p.src[p.pos] == '-' || p.src[p.pos] >= '0' && p.src[p.pos] <= '9' ||
			unicode.IsLetter(rune(p.src[p.pos]))) {
			p.pos++
		}
		p.tok = token{tWord, p.src[start:p.pos], start}
	default:
		for _, op := range []string{"!=", "<=", ">=", "[", "]", "(", ")", "=", "<", ">", ":", ".", ",", "*"} {
			if strings.HasPrefix(p.src[p.pos:], op) {
				p.pos += len(op)
				p.tok = token{tPunct, op, start}
				return
			}
		}
		p.tok = token{tEOF, "", start}
		p.err = fmt.Errorf("stix: pattern at offset %d: unexpected character %q", start, c)
	}
}

// quoted reads a '…' literal at p.pos with \' and \\ escapes.
func (p *patternParser) quoted() (string, bool) {
	var b strings.Builder
	for i := p.pos + 1; i < len(p.src); i++ {
		switch p.src[i] {
		case '\\':
			if i+1 >= len(p.src) || (p.src[i+1] != '\'' && p.src[i+1] != '\\') {
				return "", false
			}
			b.WriteByte(p.src[i+1])
			i++
		case '\'':
			p.pos = i + 1
			return b.String(), true
		default:
			b.WriteByte(p.src[i])
		}
	}
	return "", false
}

func (p *patternParser) is(kind tokKind, text string) bool {
	return p.tok.kind == kind && p.tok.text == text
}

func (p *patternParser) keyword(k string) bool {
	return p.tok.kind == tWord && strings.EqualFold(p.tok.text, k)
}

func (p *patternParser) expect(text string) error {
	if !p.is(tPunct, text) {
		if p.tok.kind == tEOF {
			return p.errorf("expected %q, got the end of the pattern", text)
		}
		return p.errorf("expected %q, got %q", text, p.tok.text)
	}
	p.next()
	return p.err
}

// pattern := observation (("AND"|"OR"|"FOLLOWEDBY") observation)*
func (p *patternParser) pattern(out *Pattern) error {
	for {
		if err := p.observation(out); err != nil {
			return err
		}
		if p.keyword("AND") || p.keyword("OR") || p.keyword("FOLLOWEDBY") {
			p.next()
			continue
		}
		return p.err
	}
}

// observation := "[" comparison "]" qualifier* | "(" pattern ")" qualifier*
func (p *patternParser) observation(out *Pattern) error {
	switch {
	case p.is(tPunct, "["):
		p.next()
		var cs []Comparison
		if err := p.comparisonOr(&cs); err != nil {
			return err
		}
		if err := p.expect("]"); err != nil {
			return err
		}
		out.Observations = append(out.Observations, cs)
	case p.is(tPunct, "("):
		p.next()
		if err := p.pattern(out); err != nil {
			return err
		}
		if err := p.expect(")"); err != nil {
			return err
		}
	default:
		return p.errorf("expected an observation expression starting with '[' or '('")
	}
	return p.qualifiers(out)
}

func (p *patternParser) qualifiers(out *Pattern) error {
	for {
		switch {
		case p.keyword("WITHIN"):
			p.next()
			if p.tok.kind != tNumber {
				return p.errorf("WITHIN needs a number of seconds")
			}
			n := p.tok.text
			p.next()
			if !p.keyword("SECONDS") {
				return p.errorf("WITHIN %s must be followed by SECONDS", n)
			}
			p.next()
			out.Qualifiers = append(out.Qualifiers, "WITHIN "+n+" SECONDS")
		case p.keyword("REPEATS"):
			p.next()
			if p.tok.kind != tNumber || strings.ContainsAny(p.tok.text, ".-") {
				return p.errorf("REPEATS needs a positive integer")
			}
			n := p.tok.text
			p.next()
			if !p.keyword("TIMES") {
				return p.errorf("REPEATS %s must be followed by TIMES", n)
			}
			p.next()
			out.Qualifiers = append(out.Qualifiers, "REPEATS "+n+" TIMES")
		case p.keyword("START"):
			p.next()
			if p.tok.kind != tTyped || p.tok.text[0] != 't' {
				return p.errorf("START needs a t'…' timestamp")
			}
			a := p.tok.text
			p.next()
			if !p.keyword("STOP") {
				return p.errorf("START must be followed by STOP")
			}
			p.next()
			if p.tok.kind != tTyped || p.tok.text[0] != 't' {
				return p.errorf("STOP needs a t'…' timestamp")
			}
			out.Qualifiers = append(out.Qualifiers, "START "+a+" STOP "+p.tok.text)
			p.next()
		default:
			return p.err
		}
	}
}

// comparisonOr := comparisonAnd ("OR" comparisonAnd)*
func (p *patternParser) comparisonOr(cs *[]Comparison) error {
	for {
		if err := p.comparisonAnd(cs); err != nil {
			return err
		}
		if !p.keyword("OR") {
			return p.err
		}
		p.next()
	}
}

// comparisonAnd := test ("AND" test)*
func (p *patternParser) comparisonAnd(cs *[]Comparison) error {
	for {
		if err := p.test(cs); err != nil {
			return err
		}
		if !p.keyword("AND") {
			return p.err
		}
		p.next()
	}
}

var operators = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
	"IN": true, "LIKE": true, "MATCHES": true, "ISSUBSET": true, "ISSUPERSET": true}

// test := "(" comparisonOr ")" | path ["NOT"] op literal
func (p *patternParser) test(cs *[]Comparison) error {
	if p.is(tPunct, "(") {
		p.next()
		if err := p.comparisonOr(cs); err != nil {
			return err
		}
		return p.expect(")")
	}
	var c Comparison
	if p.tok.kind != tWord {
		return p.errorf("expected an object type such as ipv4-addr")
	}
	c.ObjectType = p.tok.text
	p.next()
	if err := p.expect(":"); err != nil {
		return err
	}
	path, err := p.path()
	if err != nil {
		return err
	}
	c.Path = path
	if p.keyword("NOT") {
		c.Negated = true
		p.next()
	}
	op := p.tok.text
	if p.tok.kind == tWord {
		op = strings.ToUpper(op)
	}
	if !operators[op] || p.tok.kind == tString {
		return p.errorf("expected a comparison operator, got %q", p.tok.text)
	}
	c.Operator = op
	p.next()
	if err := p.literal(&c); err != nil {
		return err
	}
	*cs = append(*cs, c)
	return p.err
}

// path := component ("." component | "[" index "]")*
func (p *patternParser) path() (string, error) {
	var parts []string
	component := func() error {
		switch p.tok.kind {
		case tWord, tString:
			parts = append(parts, p.tok.text)
			p.next()
			return p.err
		}
		return p.errorf("expected a property name")
	}
	if err := component(); err != nil {
		return "", err
	}
	for {
		switch {
		case p.is(tPunct, "."):
			p.next()
			if err := component(); err != nil {
				return "", err
			}
		case p.is(tPunct, "["):
			p.next()
			if !(p.tok.kind == tNumber || p.is(tPunct, "*")) {
				return "", p.errorf("expected a list index or *")
			}
			parts[len(parts)-1] += "[" + p.tok.text + "]"
			p.next()
			if err := p.expect("]"); err != nil {
				return "", err
			}
		default:
			return strings.Join(parts, "."), p.err
		}
	}
}

func (p *patternParser) literal(c *Comparison) error {
	switch {
	case p.tok.kind == tString:
		c.Value, c.IsString = p.tok.text, true
	case p.tok.kind == tNumber:
		if _, err := strconv.ParseFloat(p.tok.text, 64); err != nil {
			return p.errorf("bad number %q", p.tok.text)
		}
		c.Value = p.tok.text
	case p.tok.kind == tTyped:
		c.Value = p.tok.text
	case p.keyword("true") || p.keyword("false"):
		c.Value = strings.ToLower(p.tok.text)
	case p.is(tPunct, "("):
		var items []string
		for {
			p.next()
			if p.tok.kind != tString && p.tok.kind != tNumber {
				return p.errorf("expected a string or number in the list")
			}
			items = append(items, p.tok.text)
			p.next()
			if p.is(tPunct, ")") {
				break
			}
			if !p.is(tPunct, ",") {
				return p.errorf("expected ',' or ')' in the list")
			}
		}
		c.Value = strings.Join(items, ",")
	default:
		return p.errorf("expected a literal after %s", c.Operator)
	}
	p.next()
	return p.err
}
