package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

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
}

// StatusCode returns the HTTP status for an application error code.
func StatusCode(code string) int {
	if s, ok := statusCodes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// Error writes err as JSON; internal errors are logged, never shown.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := onramp.ErrorCode(err)
	if code == onramp.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
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

// decode reads a JSON body of at most maxBody bytes into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return onramp.Errorf(onramp.EMALFORMED, "Content-Type %q is not application/json", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var appErr *onramp.Error
	switch {
	case err == nil:
	case errors.As(err, &appErr):
		return appErr
	case errors.As(err, &tooLarge):
		return onramp.Errorf(onramp.ETOOLARGE, "request body is larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return onramp.Errorf(onramp.EMALFORMED, "request body is empty; send a JSON object")
	case errors.As(err, &typeErr):
		return &onramp.Error{Code: onramp.EINVALID, Field: typeErr.Field, Message: "field " + typeErr.Field + " must be a JSON " + typeErr.Type.String()}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &onramp.Error{Code: onramp.EINVALID, Field: field, Message: "unknown field " + field}
	default:
		return onramp.Errorf(onramp.EMALFORMED, "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return onramp.Errorf(onramp.EMALFORMED, "request body has data after the JSON object")
	}
	return nil
}

// logger returns the server's logger with the request's attributes.
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.Logger.With("method", r.Method, "path", r.URL.Path)
}
