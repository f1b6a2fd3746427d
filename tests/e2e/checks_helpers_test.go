package e2e_test

import (
	"fmt"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Secrets.

// pieceLen is the length of the key pieces a leak check looks for: a leak
// may be partial (an error quoting a snippet, a message cut at 1 KiB).
const pieceLen = 12

// leaks returns each line of the named texts that contains a piece of
// secret, with the piece and where it sits in the key.
func leaks(secret string, texts map[string]string) []string {
	var out []string
	for name, text := range texts {
		for line := range strings.SplitSeq(text, "\n") {
			for i := 0; i+pieceLen <= len(secret); i++ {
				piece := secret[i : i+pieceLen]
				at := strings.Index(line, piece)
				if at < 0 {
					continue
				}
				out = append(out, fmt.Sprintf("%s: %q (bytes %d..%d of the key) in %q", name, piece, i, i+pieceLen,
					line[max(0, at-100):min(len(line), at+40)]))
				break
			}
		}
	}
	return out
}

// apiKeyLeaks is leaks for the secret part of apiKey (everything after the
// public "sk-ant-api01-", which a log may name as the key's kind).
func apiKeyLeaks(what, text string) []string {
	return leaks(strings.TrimPrefix(apiKey, "sk-ant-api01-"), map[string]string{what: text})
}

// requireNoAPIKey fails when text holds a piece of the API key.
func requireNoAPIKey(t *testing.T, what, text string) {
	t.Helper()
	if found := apiKeyLeaks(what, text); len(found) > 0 {
		t.Errorf("%s contain a piece of the API key: %v", what, found)
	}
}
