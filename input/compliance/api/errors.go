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
	// Offset is the byte offset in the body where the problem was found.
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
	fmt.Fprintf(&b, " (byte %d", e.Offset)
	if e.RequestID != "" {
		b.WriteString(", request-id ")
		b.WriteString(e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns ErrMalformed.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// IsAuth reports whether err is a 401 or 403 *Error: the key is invalid,
// revoked or lacks the read:compliance_activities scope.
func IsAuth(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && (e.Status == 401 || e.Status == 403)
}

// IsRetryable reports whether err is an *Error the retry policy classes as
// transient, so that a later request (the next scheduled job) may succeed.
// Malformed responses, cancellations and rejected requests are not.
func IsRetryable(err error) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Retryable
}
