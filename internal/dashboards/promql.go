package dashboards

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Selector is one series selector of a PromQL expression.
type Selector struct {
	Metric string
	// Matchers are the label names the selector matches on (job="…").
	Matchers []string
	// Grouping are the labels of the aggregations around it (sum by (shard)).
	Grouping []string
	// Range is true for a range selector (x[5m]).
	Range bool
}

// Labels are the label names a selector needs its series to have.
func (s Selector) Labels() []string {
	out := append(slices.Clone(s.Matchers), s.Grouping...)
	slices.Sort(out)
	return slices.Compact(out)
}

// The PromQL the dashboards use: aggregations with by/without, the functions
// below, selectors with matchers and ranges, numbers and arithmetic. This is
// a parser of that subset, strict enough that a typo fails a test (an
// unknown function, an unbalanced bracket, a range where a function takes an
// instant vector, a missing argument), not a full PromQL implementation.
var (
	aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "count": true, "group": true,
		"stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true}
	// aggregationParam: these take a parameter before the vector.
	aggregationParam = map[string]bool{"topk": true, "bottomk": true, "quantile": true}
	// functions maps a function to its argument kinds: v instant vector, r
	// range vector, s scalar.
	functions = map[string]string{
		"rate": "r", "irate": "r", "increase": "r", "delta": "r", "deriv": "r", "max_over_time": "r", "avg_over_time": "r",
		"histogram_quantile": "sv", "abs": "v", "clamp_min": "vs", "clamp_max": "vs", "vector": "s", "scalar": "v",
	}
	durationRE = regexp.MustCompile(`^(\d+(ms|s|m|h|d|w|y))+$|^\$__(rate_interval|interval|range)$`)
)

// ParsePromQL parses expr and returns its selectors.
func ParsePromQL(expr string) ([]Selector, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	p := &promParser{toks: toks}
	kind, err := p.expr(nil)
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if err == nil && kind == 'r' {
		err = fmt.Errorf("the expression is a range vector; a graph needs an instant vector")
	}
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	if len(p.sels) == 0 {
		return nil, fmt.Errorf("%q selects no series", expr)
	}
	return p.sels, nil
}

type promToken struct {
	kind byte // 'i' identifier, 'n' number, 's' string, 'p' punctuation or operator
	text string
}

func lexPromQL(s string) ([]promToken, error) {
	var toks []promToken
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '_' || c == ':' || unicode.IsLetter(c):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == ':' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			toks = append(toks, promToken{'i', s[i:j]})
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			toks = append(toks, promToken{'n', s[i:j]})
			i = j
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != s[i] {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, promToken{'s', s[i+1 : j]})
			i = j + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated range at %d", i)
			}
			d := strings.TrimSpace(s[i+1 : i+j])
			if !durationRE.MatchString(d) {
				return nil, fmt.Errorf("range [%s] is not a duration", d)
			}
			toks = append(toks, promToken{'p', "["}, promToken{'n', d}, promToken{'p', "]"})
			i += j + 1
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "!=", "=~", "!~", "==", ">=", "<=":
				toks = append(toks, promToken{'p', two})
				i += 2
				continue
			}
			if !strings.ContainsRune("(){},=+-*/%^<>", c) {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
			toks = append(toks, promToken{'p', string(c)})
			i++
		}
	}
	return toks, nil
}

type promParser struct {
	toks []promToken
	pos  int
	sels []Selector
}

func (p *promParser) peek() promToken {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return promToken{}
}

func (p *promParser) next() promToken { t := p.peek(); p.pos++; return t }

func (p *promParser) expect(text string) error {
	if t := p.next(); t.text != text || t.kind != 'p' {
		return fmt.Errorf("want %q, got %q", text, t.text)
	}
	return nil
}

var binaryOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "^": true,
	"==": true, "!=": true, ">": true, "<": true, ">=": true, "<=": true}

// expr parses a binary expression and returns its kind: 'v', 'r' or 's'.
func (p *promParser) expr(grouping []string) (byte, error) {
	kind, err := p.unary(grouping)
	if err != nil {
		return 0, err
	}
	for {
		t := p.peek()
		if !(t.kind == 'p' && binaryOps[t.text]) && !(t.kind == 'i' && (t.text == "and" || t.text == "or" || t.text == "unless")) {
			return kind, nil
		}
		p.next()
		right, err := p.unary(grouping)
		if err != nil {
			return 0, err
		}
		if kind == 'r' || right == 'r' {
			return 0, fmt.Errorf("arithmetic on a range vector")
		}
		if right == 'v' {
			kind = 'v'
		}
	}
}

func (p *promParser) unary(grouping []string) (byte, error) {
	if t := p.peek(); t.kind == 'p' && (t.text == "-" || t.text == "+") {
		p.next()
	}
	return p.primary(grouping)
}

func (p *promParser) primary(grouping []string) (byte, error) {
	t := p.next()
	switch {
	case t.kind == 'n':
		return 's', nil
	case t.kind == 'p' && t.text == "(":
		kind, err := p.expr(grouping)
		if err != nil {
			return 0, err
		}
		return kind, p.expect(")")
	case t.kind == 'p' && t.text == "{":
		return p.selector("", grouping)
	case t.kind == 'i' && aggregations[t.text]:
		return p.aggregation(t.text, grouping)
	case t.kind == 'i' && p.peek().text == "(":
		args, ok := functions[t.text]
		if !ok {
			return 0, fmt.Errorf("unknown function %s", t.text)
		}
		p.next()
		for i, want := range args {
			if i > 0 {
				if err := p.expect(","); err != nil {
					return 0, fmt.Errorf("%s: %w", t.text, err)
				}
			}
			kind, err := p.expr(grouping)
			if err != nil {
				return 0, err
			}
			if kind != byte(want) && !(want == 'v' && kind == 's' && t.text == "vector") {
				return 0, fmt.Errorf("%s: argument %d is a %s, want a %s", t.text, i+1, kindName(kind), kindName(byte(want)))
			}
		}
		if err := p.expect(")"); err != nil {
			return 0, fmt.Errorf("%s: %w", t.text, err)
		}
		if t.text == "scalar" {
			return 's', nil
		}
		return 'v', nil
	case t.kind == 'i':
		return p.selector(t.text, grouping)
	}
	return 0, fmt.Errorf("unexpected %q", t.text)
}

func kindName(k byte) string {
	switch k {
	case 'v':
		return "instant vector"
	case 'r':
		return "range vector"
	}
	return "scalar"
}

func (p *promParser) aggregation(op string, outer []string) (byte, error) {
	var labels []string
	clause := func() error {
		if t := p.peek(); t.kind == 'i' && (t.text == "by" || t.text == "without") {
			p.next()
			ls, err := p.labelList()
			if err != nil {
				return err
			}
			if t.text == "by" {
				labels = append(labels, ls...)
			}
		}
		return nil
	}
	if err := clause(); err != nil {
		return 0, err
	}
	if err := p.expect("("); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if aggregationParam[op] {
		if kind, err := p.expr(outer); err != nil || kind != 's' {
			return 0, fmt.Errorf("%s needs a scalar parameter first", op)
		}
		if err := p.expect(","); err != nil {
			return 0, err
		}
	}
	start := len(p.sels)
	kind, err := p.expr(outer)
	if err != nil {
		return 0, err
	}
	if kind != 'v' {
		return 0, fmt.Errorf("%s of a %s", op, kindName(kind))
	}
	if err := p.expect(")"); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if err := clause(); err != nil {
		return 0, err
	}
	for i := start; i < len(p.sels); i++ {
		p.sels[i].Grouping = append(p.sels[i].Grouping, labels...)
	}
	return 'v', nil
}

func (p *promParser) labelList() ([]string, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	var out []string
	for {
		t := p.next()
		if t.kind != 'i' {
			return nil, fmt.Errorf("want a label name, got %q", t.text)
		}
		out = append(out, t.text)
		switch sep := p.next(); sep.text {
		case ",":
		case ")":
			return out, nil
		default:
			return nil, fmt.Errorf("want , or ) in a label list, got %q", sep.text)
		}
	}
}

func (p *promParser) selector(metric string, _ []string) (byte, error) {
	s := Selector{Metric: metric}
	if metric != "" && p.peek().text == "{" {
		p.next()
	} else if metric != "" {
		return p.rangeOf(s)
	}
	for p.peek().text != "}" {
		name := p.next()
		if name.kind != 'i' {
			return 0, fmt.Errorf("want a label name in a selector, got %q", name.text)
		}
		op := p.next()
		if op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~" {
			return 0, fmt.Errorf("want a matcher after %s, got %q", name.text, op.text)
		}
		if v := p.next(); v.kind != 's' {
			return 0, fmt.Errorf("want a string after %s%s, got %q", name.text, op.text, v.text)
		}
		if name.text == "__name__" {
			return 0, fmt.Errorf("select metrics by name, not __name__")
		}
		s.Matchers = append(s.Matchers, name.text)
		if p.peek().text == "," {
			p.next()
		}
	}
	p.next()
	if s.Metric == "" {
		return 0, fmt.Errorf("a selector without a metric name")
	}
	return p.rangeOf(s)
}

func (p *promParser) rangeOf(s Selector) (byte, error) {
	kind := byte('v')
	if p.peek().text == "[" {
		p.next()
		p.next() // the duration, checked by the lexer
		if err := p.expect("]"); err != nil {
			return 0, err
		}
		s.Range, kind = true, 'r'
	}
	p.sels = append(p.sels, s)
	return kind, nil
}
