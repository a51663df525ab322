package onramp

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. Each maps to one HTTP status in the api package.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	ETOOLARGE     = "too_large"
	EUNAVAILABLE  = "unavailable"
	EMALFORMED    = "malformed"
	ETOOMANY      = "too_many"
	EFORBIDDEN    = "forbidden"
)

// Error is an error a user can act on: a code, a message that says what to
// change, and optionally the input field it concerns.
type Error struct {
	Code    string
	Message string
	Field   string
	// RetryAfter, for ETOOMANY, is when the client may try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an application error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID error about one input field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// TooManyf returns an ETOOMANY error: a limit was met, and the client may
// try again after retryAfter.
func TooManyf(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Code: ETOOMANY, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
}

// ErrorRetryAfter returns when the client of an ETOOMANY error may try
// again, rounded up to whole seconds as Retry-After says it, and at least
// one second.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter <= time.Second {
		return time.Second
	}
	d := e.RetryAfter
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

// ErrorCode returns the code of an application error, or EINTERNAL for any
// other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the user-facing message of an application error, or a
// generic message for internal errors, whose details are only logged.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error: the details are in the server log"
}

// ErrorField returns the input field an application error concerns, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
