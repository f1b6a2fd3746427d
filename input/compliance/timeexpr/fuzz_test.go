package timeexpr_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/compliance-connect/compliance-connect/input/compliance/timeexpr"
)

// FuzzParse pins that Parse never panics, that every error is a *SyntaxError
// whose position lies inside the expression, and that String() round-trips:
// parsing it again gives an expression that resolves identically.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"now", "NOW@d", "@d", "@w1", "@w6", "-7d@d", "+128m@h", "-1q@q", "-1", "+30", "30",
		"100000000", "1764067062", "2026-11-25T10:00:00Z", "2026-11-25T12:00:00.5+02:00",
		"-7x@d", "7d", "@", "-", "", "  -1mon@mon  ", "-99999999999999999999d", "@w7", "é", "2026-11-25",
	} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 25, 10, 37, 42, 500_000_000, time.UTC)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := timeexpr.Parse(s)
		if err != nil {
			synErr, ok := errors.AsType[*timeexpr.SyntaxError](err)
			if !ok {
				t.Fatalf("Parse(%q) error %v is not a *SyntaxError", s, err)
			}
			if synErr.Pos < 0 || synErr.Pos > len(synErr.Expr) || synErr.Expr != strings.TrimSpace(s) {
				t.Fatalf("Parse(%q) error has Expr %q Pos %d", s, synErr.Expr, synErr.Pos)
			}
			return
		}
		again, err := timeexpr.Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, e.String(), err)
		}
		if again.String() != e.String() || again.IsAbsolute() != e.IsAbsolute() {
			t.Fatalf("round trip of %q changed it: %q", s, again.String())
		}
		for _, loc := range []*time.Location{time.UTC, ny} {
			if a, b := e.Resolve(now, loc), again.Resolve(now, loc); !a.Equal(b) {
				t.Fatalf("round trip of %q resolves to %v, then %v", s, a, b)
			}
		}
	})
}
