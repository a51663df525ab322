package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// statusCodes maps application error codes to HTTP statuses, in one place.
var statusCodes = map[string]int{
	onramp.ECONFLICT:     http.StatusConflict,
	onramp.EINTERNAL:     http.StatusInternalServerError,
	onramp.EINVALID:      http.StatusUnprocessableEntity,
	onramp.ENOTFOUND:     http.StatusNotFound,
	onramp.EUNAUTHORIZED: http.StatusUnauthorized,
	onramp.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	onramp.EUNAVAILABLE:  http.StatusServiceUnavailable,
	onramp.EMALFORMED:    http.StatusBadRequest,
	onramp.ETOOMANY:      http.StatusTooManyRequests,
	onramp.EFORBIDDEN:    http.StatusForbidden,
}

// StatusCode returns the HTTP status for an application error code.
func StatusCode(code string) int {
	if s, ok := statusCodes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryAfter is the Retry-After header's value for an ETOOMANY error:
// whole seconds.
func RetryAfter(err error) string {
	return strconv.Itoa(int(onramp.ErrorRetryAfter(err) / time.Second))
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// statusClientGone is the status recorded, as nginx does, for a request
// whose client left before its answer: not a server error.
const statusClientGone = 499

// Error writes err as JSON; internal errors are logged, never shown. A
// request whose client has left (its context canceled) is not a server
// error: it is logged at debug and counted as 499.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := onramp.ErrorCode(err)
	if code == onramp.EINTERNAL && r.Context().Err() != nil {
		s.Logger.Debug("client left", "method", r.Method, "path", r.URL.Path, "error", err)
		w.WriteHeader(statusClientGone)
		return
	}
	if code == onramp.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if code == onramp.ETOOMANY {
		w.Header().Set("Retry-After", RetryAfter(err))
	}
	var body ErrorBody
	body.Error.Code, body.Error.Message, body.Error.Field = code, onramp.ErrorMessage(err), onramp.ErrorField(err)
	s.JSON(w, r, StatusCode(code), body)
}

// JSON writes v with status.
func (s *Server) JSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.Logger.Debug("write response", "path", r.URL.Path, "error", err)
	}
}

// decode reads a JSON object of at most maxBody bytes into v. A body that
// is not one JSON object (trailing data, another kind of value, an empty
// key) is EMALFORMED; a value of the wrong type is EINVALID naming its
// field with indexes, as in environments[2].name.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return onramp.Errorf(onramp.ETOOLARGE, "request body is larger than %d bytes", maxBody)
	case err != nil:
		return onramp.Errorf(onramp.EMALFORMED, "read request body: %v", err)
	}
	doc, err := parseObject(body)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return decodeError(dec.Decode(v), doc)
}

// checkJSONType refuses a body that says it is not JSON. A missing
// Content-Type is taken as JSON.
func checkJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return onramp.Errorf(onramp.EMALFORMED, "Content-Type %q is not application/json: send -H 'Content-Type: application/json'", ct)
	}
	return nil
}

// parseObject checks that body is exactly one JSON object without empty
// keys, and returns it parsed, to name fields in later errors.
func parseObject(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, onramp.Errorf(onramp.EMALFORMED, "request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, onramp.Errorf(onramp.EMALFORMED, "request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, onramp.Errorf(onramp.EMALFORMED, "request body has data after the JSON object; send one object")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, onramp.Errorf(onramp.EMALFORMED, "request body is a JSON %s; send a JSON object", jsonKind(doc))
	}
	if path, ok := emptyKey(obj, ""); ok {
		return nil, onramp.Errorf(onramp.EMALFORMED, "request body has an empty key in %s; every key needs a name", orTop(path))
	}
	return obj, nil
}

// decodeError turns an error of decoding doc's text into a struct into
// an application error.
func decodeError(err error, doc map[string]any) error {
	var typeErr *json.UnmarshalTypeError
	var appErr *onramp.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &appErr):
		return appErr
	case errors.As(err, &typeErr):
		field := fieldPath(doc, typeErr)
		return &onramp.Error{Code: onramp.EINVALID, Field: field, Message: "field " + field + " must be a JSON " + typeName(typeErr.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &onramp.Error{Code: onramp.EINVALID, Field: field, Message: "unknown field " + field}
	}
	return onramp.Errorf(onramp.EMALFORMED, "request body is not valid JSON: %v", err)
}

// logger returns the server's logger with the request's attributes.
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.Logger.With("method", r.Method, "path", r.URL.Path)
}
