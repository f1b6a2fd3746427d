package activity

import (
	"net/mail"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file recognizes what redaction removes: member names that denote an
// email address or an IP address, in any case or naming style, and the email
// and IP addresses inside free text, found by a strict tokenizer and
// confirmed by a parser (net/mail, net/netip), never by a loose pattern.

// keyWords are the words of a member name, split at separators and case
// changes: "emailAddress", "EmailAddress", "email_address", "email-address"
// and "EMAIL_ADDRESS" all give [email address]; "IPAddress" gives
// [ip address], "x_forwarded_for" [x forwarded for]. Only the last few
// words are kept (the classifiers look at the end of a name), as spans of
// the name, compared without regard to case, so splitting allocates nothing.
type keyWords struct {
	key   string
	spans [4][2]int // the last words, oldest first
	n     int       // words seen (may exceed len(spans))
}

func splitKey(key string) keyWords {
	w := keyWords{key: key}
	start := -1
	var prev, prev2 rune
	flush := func(end int) {
		if start >= 0 && end > start {
			if w.n >= len(w.spans) {
				copy(w.spans[:], w.spans[1:])
				w.spans[len(w.spans)-1] = [2]int{start, end}
			} else {
				w.spans[w.n] = [2]int{start, end}
			}
			w.n++
		}
		start = -1
	}
	for i, size := 0, 0; i < len(key); i += size {
		var r rune
		r, size = utf8.DecodeRuneInString(key[i:])
		next, _ := utf8.DecodeRuneInString(key[i+size:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			prev, prev2 = 0, 0
			continue
		}
		switch {
		case start < 0:
			start = i
		case unicode.IsLower(prev) && unicode.IsUpper(r):
			// emailAddress: a new word at the upper-case letter.
			flush(i)
			start = i
		case unicode.IsUpper(prev2) && unicode.IsUpper(prev) && unicode.IsLower(r) && !(r == 'v' && unicode.IsDigit(next)):
			// IPAddress: the acronym ended before the last upper-case
			// letter (but IPv6 is one word).
			at := i - utf8.RuneLen(prev)
			flush(at)
			start = at
		}
		prev2, prev = prev, r
	}
	flush(len(key))
	return w
}

// len returns the number of words kept.
func (w *keyWords) len() int { return min(w.n, len(w.spans)) }

// word returns the i-th kept word.
func (w *keyWords) word(i int) string { sp := w.spans[i]; return w.key[sp[0]:sp[1]] }

// last returns the last word, "" if none.
func (w *keyWords) last() string {
	if w.n == 0 {
		return ""
	}
	return w.word(w.len() - 1)
}

// endsWith reports whether the words end with tail (lower-case words),
// skip words from the end first.
func (w *keyWords) endsWith(skip int, tail ...string) bool {
	n := w.len() - skip
	if n < len(tail) {
		return false
	}
	for i, t := range tail {
		if !strings.EqualFold(w.word(n-len(tail)+i), t) {
			return false
		}
	}
	return true
}

// lastIs reports whether the last word is one of words (lower-case).
func (w *keyWords) lastIs(words ...string) bool {
	l := w.last()
	for _, x := range words {
		if strings.EqualFold(l, x) {
			return true
		}
	}
	return false
}

// IsEmailKey reports whether a member name denotes email addresses or the
// people they identify: it ends with email(s), e-mail, mail(s), email
// address(es), mail address(es), recipient(s), or is shared with.
func IsEmailKey(key string) bool { w := splitKey(key); return isEmailWords(&w) }

func isEmailWords(w *keyWords) bool {
	switch {
	case w.lastIs("email", "emails", "mail", "mails", "emailaddress", "emailaddresses", "recipient", "recipients"):
		return true
	case w.lastIs("address", "addresses"):
		return w.endsWith(1, "email") || w.endsWith(1, "mail")
	}
	return w.endsWith(0, "shared", "with")
}

// IsIPKey reports whether a member name denotes IP addresses: it ends with
// ip(s), ip address(es), ip addr, ipaddr(ess), ipv4, ipv6, remote, client
// or peer addr(ess), or is forwarded for (x_forwarded_for, X-Forwarded-For).
func IsIPKey(key string) bool { w := splitKey(key); return isIPWords(&w) }

func isIPWords(w *keyWords) bool {
	switch {
	case w.lastIs("ip", "ips", "ipaddr", "ipaddress", "ipaddresses", "ipv4", "ipv6"):
		return true
	case w.lastIs("address", "addresses", "addr", "addrs"):
		for _, before := range []string{"ip", "ipv4", "ipv6", "remote", "client", "peer"} {
			if w.endsWith(1, before) {
				return true
			}
		}
		return false
	}
	return w.endsWith(0, "forwarded", "for")
}

// span is a sensitive part of a text: s[start:end] and what it is.
type span struct {
	start, end int
	email      bool // else an IP address
	// value is the address in canonical form, for hashing: a lower-case
	// email address (a %40 decoded), an IP address as netip prints it.
	value string
}

// findSensitive returns the email addresses (when emails) and IP addresses
// (when ips) in s, in order and not overlapping.
func findSensitive(s string, emails, ips bool) []span {
	var out []span
	if emails {
		out = findEmails(s, out)
	}
	if ips {
		for _, sp := range findIPs(s, nil) {
			if !overlaps(out, sp) {
				out = append(out, sp)
			}
		}
	}
	sortSpans(out)
	return out
}

func overlaps(spans []span, sp span) bool {
	for _, o := range spans {
		if sp.start < o.end && o.start < sp.end {
			return true
		}
	}
	return false
}

func sortSpans(spans []span) {
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].start < spans[j-1].start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
}

// findEmails appends the email addresses in s. Each @ (or its URL encoding
// %40) is a candidate: the local part is the run of atext and dots before
// it (see isAtext) or a quoted string, the domain the run of dot-separated labels
// after it (or an IP literal in brackets); the candidate counts when the
// domain has at least two labels and an alphabetic or punycode top-level
// label, and net/mail parses it as an address.
func findEmails(s string, out []span) []span {
	lastEnd := 0
	for at := 0; at < len(s); at++ {
		sepLen := 0
		switch {
		case s[at] == '@':
			sepLen = 1
		case s[at] == '%' && at+2 < len(s) && s[at+1] == '4' && s[at+2] == '0':
			sepLen = 3
		default:
			continue
		}
		start := max(localStart(s, at), lastEnd)
		end, domain := domainEnd(s, at+sepLen)
		if start >= at || end == at+sepLen || s[start] == '.' {
			continue
		}
		local := s[start:at]
		addr := local + "@" + domain
		if domain[0] != '[' {
			if _, err := mail.ParseAddress(addr); err != nil {
				continue
			}
		}
		out = append(out, span{start: start, end: end, email: true, value: strings.ToLower(addr)})
		lastEnd = end
		at = end - 1
	}
	return out
}

// localStart returns where the local part ending before s[at] starts (at
// when there is none).
func localStart(s string, at int) int {
	if at > 0 && s[at-1] == '"' {
		if q := strings.LastIndexByte(s[:at-1], '"'); q >= 0 && !strings.ContainsAny(s[q+1:at-1], "\"\\\n") {
			return q
		}
		return at
	}
	i := at
	for i > 0 && isAtext(s[i-1]) {
		i--
	}
	// A local part neither starts nor ends with a dot, nor holds two in a row.
	for i < at && s[i] == '.' {
		i++
	}
	if j := strings.LastIndex(s[i:at], ".."); j >= 0 {
		i += j + 2
	}
	if i < at && s[at-1] == '.' {
		return at
	}
	return i
}

// isAtext reports whether a byte can be part of a local part: RFC 5322
// atext and dots, UTF-8 (RFC 6531), but not the URL delimiters / = ? & #,
// which in free text separate an address from what precedes it.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= utf8.RuneSelf:
		return true
	}
	return strings.IndexByte("!$%'*+-^_`{|}~.", c) >= 0
}

// domainEnd returns where the domain starting at s[i] ends and the domain
// (i when there is none).
func domainEnd(s string, i int) (int, string) {
	if i < len(s) && s[i] == '[' {
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			return i, ""
		}
		lit := s[i+1 : i+j]
		lit = strings.TrimPrefix(lit, "IPv6:")
		if _, err := netip.ParseAddr(lit); err != nil {
			return i, ""
		}
		return i + j + 1, s[i : i+j+1]
	}
	end := i
	labels := 0
	lastLabel := ""
	for pos := i; ; {
		l := labelEnd(s, pos)
		if l == pos || l-pos > 63 || s[pos] == '-' || s[l-1] == '-' {
			break
		}
		labels++
		lastLabel = s[pos:l]
		end = l
		if l+1 < len(s) && s[l] == '.' && labelEnd(s, l+1) > l+1 {
			pos = l + 1
			continue
		}
		break
	}
	if labels < 2 || !isTopLabel(lastLabel) {
		return i, ""
	}
	return end, s[i:end]
}

// labelEnd returns the end of the run of letters, digits and hyphens (any
// script, for internationalized domains) starting at s[i].
func labelEnd(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		i += size
	}
	return i
}

// isTopLabel reports whether a label can be a top-level domain: letters
// only (two or more), or punycode.
func isTopLabel(l string) bool {
	if strings.HasPrefix(strings.ToLower(l), "xn--") {
		return len(l) > 4
	}
	if utf8.RuneCountInString(l) < 2 {
		return false
	}
	for _, r := range l {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// findIPs appends the IP addresses in s: each maximal run of hex digits,
// dots and colons, bounded by characters that cannot continue a word, that
// net/netip parses as an address (or address:port), except a product
// version such as Chrome/120.0.0.0 in a user agent.
func findIPs(s string, out []span) []span {
	for i := 0; i < len(s); {
		if !isIPChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIPChar(s[j]) {
			j++
		}
		start, end := i, j
		i = j
		for end > start && (s[end-1] == '.' || s[end-1] == ':') {
			end-- // sentence punctuation, "ip: "
		}
		for start < end && s[start] == ':' && !strings.HasPrefix(s[start:end], "::") {
			start++
		}
		if start >= end || (start > 0 && isWordChar(s[start-1])) || (end < len(s) && isWordChar(s[end])) {
			continue
		}
		if isProductVersion(s, start) {
			continue
		}
		cand := s[start:end]
		if !strings.ContainsAny(cand, "0123456789abcdefABCDEF") {
			continue // "::" alone is punctuation here
		}
		if addr, err := netip.ParseAddr(cand); err == nil && (addr.Is4() || strings.Count(cand, ":") >= 2) {
			out = append(out, span{start: start, end: end, value: addr.Unmap().String()})
			continue
		}
		if ap, err := netip.ParseAddrPort(cand); err == nil && ap.Addr().Is4() {
			n := strings.LastIndexByte(cand, ':')
			out = append(out, span{start: start, end: start + n, value: ap.Addr().String()})
		}
	}
	return out
}

func isIPChar(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':'
}

func isWordChar(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= utf8.RuneSelf
}

// isProductVersion reports whether the run starting at s[i] follows
// "token/" where the token starts a word: a product and its version, as in
// a User-Agent ("Chrome/120.0.0.0"; RFC 9110 product = token "/" version),
// not a path ("/hosts/10.0.0.1") or a URL ("http://10.0.0.1").
func isProductVersion(s string, i int) bool {
	if i == 0 || s[i-1] != '/' {
		return false
	}
	j := i - 1
	for j > 0 && (isWordChar(s[j-1]) || s[j-1] == '.' || s[j-1] == '-') {
		j--
	}
	if j == i-1 {
		return false // "//" or "/" alone: a URL or a path
	}
	return j == 0 || strings.IndexByte(" \t(;,", s[j-1]) >= 0
}

// Vouchable reports whether strict redaction can keep a string: a short
// token of letters, digits and "_.:+-" (identifiers, enums, RFC 3339 times,
// UUIDs, hashes this package made) that neither is nor could be an IP
// address in any notation (netip's, or the legacy dotted and colon forms
// netip rejects) and holds no @. Free text, URLs, paths and user agents are
// not: they may hold addresses in a form no scanner recognizes.
func Vouchable(s string) bool {
	if s == "" || len(s) > 256 {
		return s == ""
	}
	digitsDots, hexColons := true, true
	dots, colons := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.':
			dots++
			hexColons = false
		case c == ':':
			colons++
			digitsDots = false
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			digitsDots = false
		case (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') || c == '_' || c == '+' || c == '-':
			digitsDots, hexColons = false, false
		default:
			return false
		}
	}
	if digitsDots && dots >= 1 && dots <= 3 && dots != len(s) {
		return false // 10.1, 10.0.1, 010.000.000.001: legacy IPv4 notations
	}
	if hexColons && colons >= 2 {
		return false
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return false // hexadecimal IPv4 notations
	}
	if digitsDots && dots == 0 && len(s) >= 8 && len(s) <= 10 {
		return false // an IPv4 address as one integer
	}
	_, err := netip.ParseAddr(s)
	return err != nil
}

// FindAddresses returns the email and IP addresses in s as the scanners find
// them (for tests and diagnostics).
func FindAddresses(s string) []string {
	var out []string
	for _, sp := range findSensitive(s, true, true) {
		out = append(out, s[sp.start:sp.end])
	}
	return out
}
