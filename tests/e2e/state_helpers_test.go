package e2e_test

import "time"

// ts formats a checkpoint time as the document stores it (RFC 3339, UTC).
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
