package timeexpr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDurationSeconds parses a Cribl-style duration such as job_timeout: a
// bare integer is seconds ("30" = 30s, "0" = 0, which callers treat as
// unlimited), anything else is a Go duration ("45s", "15m", "1h30m").
// Negative values are an error.
func ParseDurationSeconds(s string) (time.Duration, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fmt.Errorf("invalid duration %q: empty (want seconds such as \"30\" or a duration such as \"45s\", \"15m\", \"1h30m\")", s)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid duration %q: negative", s)
		}
		if n > maxCount[unitSecond] {
			return 0, fmt.Errorf("invalid duration %q: too large (at most about 292 years)", s)
		}
		return time.Duration(n) * time.Second, nil
	} else if digits := strings.TrimLeft(v[:1], "+-") + v[1:]; digits != "" && isDigits(digits) {
		return 0, fmt.Errorf("invalid duration %q: out of range (at most about 292 years)", s)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds such as \"30\" or a duration such as \"45s\", \"15m\", \"1h30m\": %w", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return d, nil
}
