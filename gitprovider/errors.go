package gitprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// ErrUnavailable matches, with errors.Is, every error after which a retry
// may succeed: no answer, a timeout, a 5xx, a rate limit.
var ErrUnavailable = errors.New("git provider unavailable")

// Error is a provider's failure, classified for the caller: an onramp code
// and a message that says what to do (errors.As finds it as *onramp.Error),
// whether to retry, and until when a rate limit holds. Its text never holds
// the connection's token.
type Error struct {
	// Op is what onramp was doing: "create repository platform/shop".
	Op string
	// Status is the provider's HTTP status; 0 when it did not answer.
	Status int
	// Code is an onramp error code.
	Code string
	// Message is what the user reads: what happened and what to do.
	Message string
	// Retry says that the same call may succeed later.
	Retry bool
	// Reset is when the provider said a rate limit ends; zero otherwise.
	Reset time.Time

	detail string // the provider's own words, redacted
	cause  error  // for errors.Is (context errors); its text is not shown
}

// Error is the message with the operation and the provider's words.
func (e *Error) Error() string {
	s := e.Op + ": " + e.Message
	if e.detail != "" && !strings.Contains(e.Message, e.detail) {
		s += " (" + e.detail + ")"
	}
	return s
}

// Unwrap gives errors.As the onramp error and errors.Is the cause.
func (e *Error) Unwrap() []error {
	errs := []error{&onramp.Error{Code: e.Code, Message: e.Message}}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Is makes a retryable error match ErrUnavailable.
func (e *Error) Is(target error) bool { return target == ErrUnavailable && e.Retry }

// Temporary reports whether a retry may succeed.
func (e *Error) Temporary() bool { return e.Retry }

// RetryAfter is when the provider said its rate limit ends, or the zero
// time: callers that know no provider ask errors for it by this method.
func (e *Error) RetryAfter() time.Time { return e.Reset }

// RetryAt returns when to try err's call again: the announced end of a rate
// limit, or the zero time when the caller's own backoff applies. ok is
// false when a retry cannot help.
func RetryAt(err error) (at time.Time, ok bool) {
	var e *Error
	if errors.As(err, &e) && e.Retry {
		return e.Reset, true
	}
	return time.Time{}, false
}

// newError returns an Error of the given status with message; a status of
// 409 is ECONFLICT, 404 ENOTFOUND, 422 or 400 EINVALID, 401 or 403
// EUNAUTHORIZED.
func newError(op string, status int, message string, cause error) *Error {
	code := onramp.EINTERNAL
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		code = onramp.EUNAUTHORIZED
	case http.StatusConflict:
		code = onramp.ECONFLICT
	case http.StatusNotFound:
		code = onramp.ENOTFOUND
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		code = onramp.EINVALID
	}
	return &Error{Op: op, Status: status, Code: code, Message: message, cause: cause}
}

// classifier turns an HTTP exchange with one provider into an Error.
type classifier struct {
	name   string // "Gitea at https://git.acme.dev"
	token  string // removed from every text
	scopes string // the scopes to grant, for hints: "`write:repository`"
	now    func() time.Time
}

// fail classifies a failed call. resp is nil when the provider did not
// answer; apiErr is the client's error, whose text may quote the provider.
func (c classifier) fail(op string, resp *http.Response, apiErr error) error {
	if apiErr != nil && (errors.Is(apiErr, context.Canceled)) {
		return &Error{Op: op, Code: onramp.EUNAVAILABLE, Message: "cancelled", Retry: true, cause: apiErr}
	}
	detail := c.redact(errText(apiErr))
	if resp == nil {
		return &Error{Op: op, Code: onramp.EUNAVAILABLE, Retry: true, detail: detail, cause: apiErr,
			Message: fmt.Sprintf("%s did not answer: onramp tries again", c.name)}
	}
	if reset, limited := c.rateLimit(resp); limited {
		return c.limited(op, resp.StatusCode, reset, apiErr)
	}
	e := &Error{Op: op, Status: resp.StatusCode, detail: detail, cause: apiErr}
	switch s := resp.StatusCode; {
	case s >= 500:
		e.Code, e.Retry = onramp.EUNAVAILABLE, true
		e.Message = fmt.Sprintf("%s answered %d: onramp tries again", c.name, s)
	case s == http.StatusUnauthorized:
		e.Code = onramp.EUNAUTHORIZED
		e.Message = fmt.Sprintf("%s refused the token (revoked, expired or mistyped): create a new token with %s and connect again", c.name, c.scopes)
	case s == http.StatusForbidden:
		e.Code = onramp.EUNAUTHORIZED
		e.Message = fmt.Sprintf("%s refused to %s with this token: give the token %s, and its user the right to manage the owner's repositories", c.name, op, c.scopes)
	default:
		ne := newError(op, s, strings.TrimSpace(fmt.Sprintf("%s answered %d %s", c.name, s, detail)), apiErr)
		ne.detail = ""
		return ne
	}
	return e
}

// limited is the error for a rate limit that ends at reset.
func (c classifier) limited(op string, status int, reset time.Time, cause error) *Error {
	return &Error{Op: op, Status: status, Code: onramp.EUNAVAILABLE, Retry: true, Reset: reset, cause: cause,
		Message: fmt.Sprintf("%s rate-limits this token until %s: onramp waits until then", c.name, reset.UTC().Format(time.RFC3339))}
}

// rateLimit reports whether resp announces a rate limit, and until when:
// 429, or a 403 with no requests remaining (GitHub's primary limit) or a
// Retry-After (GitHub's secondary limit).
func (c classifier) rateLimit(resp *http.Response) (time.Time, bool) {
	h := resp.Header
	exhausted := h.Get("X-RateLimit-Remaining") == "0" || h.Get("RateLimit-Remaining") == "0"
	retryAfter := h.Get("Retry-After")
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode == http.StatusForbidden && (exhausted || retryAfter != ""):
	default:
		return time.Time{}, false
	}
	now := c.now()
	if secs, err := strconv.Atoi(retryAfter); err == nil {
		return now.Add(time.Duration(secs) * time.Second), true
	}
	if t, err := http.ParseTime(retryAfter); err == nil {
		return t, true
	}
	for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
		if unix, err := strconv.ParseInt(h.Get(k), 10, 64); err == nil && unix > 0 {
			return time.Unix(unix, 0), true
		}
	}
	return now.Add(time.Minute), true
}

// redact removes the token from s.
func (c classifier) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[token]")
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
