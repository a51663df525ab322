package gitserver

import (
	"errors"
	"log/slog"
	"net/http"
)

// statusWriter remembers the status of a response, for the request log and
// to know whether an error can still change it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets long responses reach the client as they are produced.
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// fail logs err and, if the response has not started, answers 400 with the
// message of a client mistake or 500 for anything else, whose details stay
// in the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, req gitRequest, err error) {
	var reqErr *requestError
	var tooLarge *http.MaxBytesError
	level, status, msg := slog.LevelError, http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &tooLarge):
		level, status, msg = slog.LevelWarn, http.StatusRequestEntityTooLarge, "request too large"
	case errors.As(err, &reqErr):
		level, status, msg = slog.LevelWarn, http.StatusBadRequest, reqErr.msg
	}
	s.logger().LogAttrs(r.Context(), level, "git request failed",
		slog.String("project", req.project), slog.String("service", req.service),
		slog.String("as", req.as()), slog.Any("err", err))
	if sw, ok := w.(*statusWriter); ok && sw.code == 0 {
		http.Error(w, msg, status)
	}
}
