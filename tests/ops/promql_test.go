package ops_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queryRefs is what one PromQL expression refers to.
type queryRefs struct {
	// metrics maps each metric name to the label names its selectors match on.
	metrics map[string][]string
	// grouping lists the label names of by/without/on/ignoring/group_left/
	// group_right clauses.
	grouping []string
}

// promqlKeywords are identifiers that are never metric names: aggregation
// operators (which may be followed by a by/without clause rather than "("),
// binary and set operators, modifiers and number literals.
var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
}

// groupingClauses are the keywords followed by a parenthesised label list.
var groupingClauses = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// parseRefs scans a PromQL expression (Grafana variables such as $label or
// ${overlap} allowed) and returns the metric names and label names it uses.
// It is a scanner, not a parser: promtool checks the syntax (see
// TestDashboardQueriesParse); this only has to find names. A selector
// without a metric name ({__name__=~"..."}) is an error, since its metrics
// cannot be checked.
func parseRefs(expr string) (queryRefs, error) {
	refs := queryRefs{metrics: map[string][]string{}}
	s := []rune(expr)
	i := 0
	skipSpace := func() {
		for i < len(s) && unicode.IsSpace(s[i]) {
			i++
		}
	}
	isIdentStart := func(r rune) bool { return r == '_' || r == ':' || unicode.IsLetter(r) }
	isIdent := func(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }
	ident := func() string {
		start := i
		for i < len(s) && isIdent(s[i]) {
			i++
		}
		return string(s[start:i])
	}
	skipString := func() error {
		quote := s[i]
		i++
		for i < len(s) && s[i] != quote {
			if s[i] == '\\' && quote != '`' {
				i++
			}
			i++
		}
		if i >= len(s) {
			return fmt.Errorf("unterminated string in %q", expr)
		}
		i++
		return nil
	}
	// labelList reads "(a, b)" after a grouping keyword.
	labelList := func() error {
		skipSpace()
		if i >= len(s) || s[i] != '(' {
			return fmt.Errorf("expected ( after a grouping keyword in %q", expr)
		}
		i++
		for {
			skipSpace()
			switch {
			case i >= len(s):
				return fmt.Errorf("unterminated label list in %q", expr)
			case s[i] == ')':
				i++
				return nil
			case s[i] == ',':
				i++
			case isIdentStart(s[i]):
				refs.grouping = append(refs.grouping, ident())
			default:
				return fmt.Errorf("unexpected %q in a label list of %q", s[i], expr)
			}
		}
	}
	// matchers reads "{a="x", b=~"y"}" and returns the label names.
	matchers := func() ([]string, error) {
		i++ // {
		var names []string
		for {
			skipSpace()
			switch {
			case i >= len(s):
				return nil, fmt.Errorf("unterminated selector in %q", expr)
			case s[i] == '}':
				i++
				return names, nil
			case s[i] == ',':
				i++
			case s[i] == '"' || s[i] == '\'' || s[i] == '`':
				if err := skipString(); err != nil {
					return nil, err
				}
			case isIdentStart(s[i]):
				names = append(names, ident())
			case strings.ContainsRune("=!~", s[i]):
				i++
			default:
				return nil, fmt.Errorf("unexpected %q in a selector of %q", s[i], expr)
			}
		}
	}
	for i < len(s) {
		r := s[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case r == '"' || r == '\'' || r == '`':
			if err := skipString(); err != nil {
				return refs, err
			}
		case r == '[':
			for i < len(s) && s[i] != ']' {
				i++
			}
			i++
		case r == '$':
			i++
			if i < len(s) && s[i] == '{' {
				for i < len(s) && s[i] != '}' {
					i++
				}
				i++
			} else {
				ident()
			}
		case unicode.IsDigit(r) || (r == '.' && i+1 < len(s) && unicode.IsDigit(s[i+1])):
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case r == '{':
			return refs, fmt.Errorf("a selector without a metric name in %q", expr)
		case isIdentStart(r):
			name := ident()
			skipSpace()
			next := rune(0)
			if i < len(s) {
				next = s[i]
			}
			lower := strings.ToLower(name)
			switch {
			case groupingClauses[lower]:
				if err := labelList(); err != nil {
					return refs, err
				}
			case next == '(' || promqlKeywords[lower]:
				// a function call, an aggregation or an operator
			default:
				labels := append([]string{}, refs.metrics[name]...)
				if next == '{' {
					names, err := matchers()
					if err != nil {
						return refs, err
					}
					labels = append(labels, names...)
				}
				slices.Sort(labels)
				refs.metrics[name] = slices.Compact(labels)
			}
		default:
			i++
		}
	}
	return refs, nil
}

func TestParseRefsFindsMetricsAndLabels(t *testing.T) {
	tests := []struct {
		name     string
		expr     string
		metrics  map[string][]string
		grouping []string
	}{
		{
			name:    "a bare metric",
			expr:    "up",
			metrics: map[string][]string{"up": {}},
		},
		{
			name:    "matchers of every kind, strings holding braces and commas",
			expr:    `compliance_jobs{outcome=~"failed|timeout", label!="a,}b", endpoint='x'}`,
			metrics: map[string][]string{"compliance_jobs": {"endpoint", "label", "outcome"}},
		},
		{
			name:     "an aggregation with by before its argument, a range with a Grafana variable",
			expr:     `sum by (label, endpoint) (rate(compliance_pages{endpoint=~"$endpoint"}[$__rate_interval]))`,
			metrics:  map[string][]string{"compliance_pages": {"endpoint"}},
			grouping: []string{"label", "endpoint"},
		},
		{
			name:     "histogram_quantile over buckets, grouping after the argument",
			expr:     `histogram_quantile(0.99, sum(rate(x_seconds_bucket[5m])) by (le))`,
			metrics:  map[string][]string{"x_seconds_bucket": {}},
			grouping: []string{"le"},
		},
		{
			name:     "set and arithmetic operators, on/ignoring/group_left, offset, numbers with exponents",
			expr:     "a - on (label) group_left (endpoint) b offset 5m > 1e6 and ignoring(x) c unless d or vector(0)",
			metrics:  map[string][]string{"a": {}, "b": {}, "c": {}, "d": {}},
			grouping: []string{"label", "endpoint", "x"},
		},
		{
			name:    "Grafana variables outside strings and time()",
			expr:    `(time() - max(compliance_last_success_timestamp)) / ${overlap} * $factor`,
			metrics: map[string][]string{"compliance_last_success_timestamp": {}},
		},
		{
			name:    "comments, bool and keywords in any case",
			expr:    "a > BOOL 3 # b is not a metric\nAND c",
			metrics: map[string][]string{"a": {}, "c": {}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refs, err := parseRefs(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.metrics, refs.metrics)
			assert.Equal(t, tt.grouping, refs.grouping)
		})
	}
}

func TestParseRefsRefusesWhatItCannotCheck(t *testing.T) {
	for _, expr := range []string{
		`{__name__=~"compliance_.*"}`,
		`sum by label (x)`,
		`x{a="unterminated}`,
	} {
		_, err := parseRefs(expr)
		assert.Error(t, err, expr)
	}
}
