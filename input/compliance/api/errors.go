package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrMalformed is wrapped by every *MalformedError, so
// errors.Is(err, api.ErrMalformed) detects a response the client could not
// decode.
var ErrMalformed = errors.New("malformed response")

// Error is a request that failed for good: a non-retryable status, a transport
// failure, or a retryable one that outlived the retry limit. It never holds
// the API key or any request header.
type Error struct {
	// Status is the HTTP status of the last attempt; 0 when no response
	// arrived (see Err).
	Status int
	// Type and Message are error.type and error.message from the response
	// body; for a body that is not the documented JSON, Type is empty and
	// Message is the status text.
	Type, Message string
	// RequestID is the request-id header of the last response, if any.
	RequestID string
	// Attempts is the number of attempts made.
	Attempts int
	// Retryable reports whether the retry policy classes this failure as
	// transient (429, 5xx in the policy, timeouts, resets): a later request
	// may succeed. It is false for a rejected request (400/401/403/404/409,
	// x-should-retry: false, a status outside the policy's codes).
	Retryable bool
	// Err is the transport cause when no response arrived, else nil.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("compliance api: ")
	if e.Status == 0 {
		b.WriteString("request failed")
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
	} else {
		b.WriteString(strconv.Itoa(e.Status))
		if e.Type != "" {
			b.WriteString(" ")
			b.WriteString(e.Type)
		}
		if e.Message != "" {
			b.WriteString(": ")
			b.WriteString(e.Message)
		}
		switch scopes := e.NeededScopes(); {
		case e.keyRefused404():
			b.WriteString(" (the API's answer to a missing key or one that is not a Compliance Access Key)")
		case len(scopes) == 1:
			b.WriteString(" (the key lacks the scope ")
			b.WriteString(scopes[0])
			b.WriteString(")")
		case len(scopes) > 1:
			b.WriteString(" (the key needs one of the scopes ")
			b.WriteString(strings.Join(scopes, ", "))
			b.WriteString(")")
		}
	}
	b.WriteString(" (")
	if e.RequestID != "" {
		b.WriteString("request-id ")
		b.WriteString(e.RequestID)
		b.WriteString(", ")
	}
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt)")
	} else {
		b.WriteString(" attempts)")
	}
	return b.String()
}

// Unwrap returns the transport cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// MalformedError is a response body that is not a valid Activity Feed page:
// not JSON, truncated JSON, a wrong envelope, or an activity without a usable
// id, type or created_at. It is never retried.
type MalformedError struct {
	// Field is the JSON path at fault, e.g. "has_more" or
	// "data[17].created_at"; empty when the document as a whole is bad.
	Field string
	// Index is the activity index within data, or -1.
	Index int
	// Offset is the byte offset in the body where the problem was found;
	// -1 when unknown (records of the directory and content endpoints).
	Offset int
	// Reason says what is wrong.
	Reason string
	// RequestID is the request-id header of the response.
	RequestID string
}

func (e *MalformedError) Error() string {
	var b strings.Builder
	b.WriteString("compliance api: malformed response: ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	switch {
	case e.Offset >= 0:
		fmt.Fprintf(&b, " (byte %d", e.Offset)
		if e.RequestID != "" {
			b.WriteString(", request-id ")
			b.WriteString(e.RequestID)
		}
		b.WriteString(")")
	case e.RequestID != "":
		b.WriteString(" (request-id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ErrMalformed.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// IsAuth reports whether err is an *Error refusing the key: a 401 (invalid,
// revoked or expired), a 403 (a scope is missing, or an Admin key on an
// endpoint other than the Activity Feed), or a 404 "Not found", which the
// newer API answers to a missing key or one that is not a Compliance Access
// Key (and to an unknown path, which a client of documented paths does not
// send).
func IsAuth(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && (e.Status == 401 || e.Status == 403 || e.keyRefused404())
}

// IsNotFound reports whether err is a 404 for a resource (a chat, file,
// organization, ... that does not exist or was deleted), not a refused key.
func IsNotFound(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Status == 404 && !e.keyRefused404()
}

// keyRefused404 reports the 404 "Not found" of a missing or non-Compliance
// key.
func (e *Error) keyRefused404() bool {
	return e.Status == 404 && (e.Type == "not_found_error" || e.Type == "") && strings.TrimSpace(e.Message) == "Not found"
}

// NeededScopes returns the scopes a 403 says the key needs, from either
// form of the message: "Missing required scopes. Got: [...] Needed: ['a']"
// (older) or "... Needed one of: ['a', 'read:org_audit']" (newer, any one
// suffices). It returns nil for any other error.
func (e *Error) NeededScopes() []string {
	if e.Status != 403 {
		return nil
	}
	for _, marker := range []string{"Needed one of:", "Needed:"} {
		if _, rest, ok := strings.Cut(e.Message, marker); ok {
			return parseScopeList(rest)
		}
	}
	return nil
}

// GotScopes returns the scopes a 403 says the key has ("Got: [...]"), or
// nil.
func (e *Error) GotScopes() []string {
	if e.Status != 403 {
		return nil
	}
	if _, rest, ok := strings.Cut(e.Message, "Got:"); ok {
		return parseScopeList(rest)
	}
	return nil
}

// parseScopeList reads a Python-style list at the start of s:
// ['a', "b"] → [a b]; [] → []; anything else → nil.
func parseScopeList(s string) []string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") {
		return nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return nil
	}
	out := []string{}
	for item := range strings.SplitSeq(s[1:end], ",") {
		if item = strings.Trim(strings.TrimSpace(item), `'"`); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// IsRetryable reports whether err is an *Error the retry policy classes as
// transient, so that a later request (the next scheduled job) may succeed.
// Malformed responses, cancellations and rejected requests are not.
func IsRetryable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Retryable
}

// ErrTooLarge is wrapped by every *TooLargeError.
var ErrTooLarge = errors.New("file larger than the size cap")

// TooLargeError is a download refused or stopped because the file is larger
// than DownloadOptions.MaxBytes. Nothing past the cap was read.
type TooLargeError struct {
	// ID is the file id.
	ID string
	// Size is the size the response announced (Content-Length), or the
	// bytes read when the stream passed the cap; -1 when unknown.
	Size int64
	// Max is the cap.
	Max int64
}

func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("compliance api: file %s: %d bytes exceed the cap of %d bytes", e.ID, e.Size, e.Max)
	}
	return fmt.Sprintf("compliance api: file %s exceeds the cap of %d bytes", e.ID, e.Max)
}

// Unwrap returns ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// ErrChecksum is wrapped by every *ChecksumError.
var ErrChecksum = errors.New("checksum mismatch")

// ChecksumError is a download whose bytes do not match the MD5 the API
// announced (Content-MD5, or the metadata's md5 when the header is absent).
// Its bytes must be discarded.
type ChecksumError struct {
	// ID is the file id.
	ID string
	// Want and Got are the announced and computed MD5, in hex.
	Want, Got string
	// Source names where Want came from: "Content-MD5" or "metadata md5".
	Source string
	// Bytes is the number of bytes read.
	Bytes int64
	// RequestID is the request-id of the download.
	RequestID string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("compliance api: file %s: MD5 of the %d bytes received is %s, %s says %s (request-id %s)",
		e.ID, e.Bytes, e.Got, e.Source, e.Want, e.RequestID)
}

// Unwrap returns ErrChecksum.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }
