package api

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.JSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is the /readyz answer: each dependency and whether it answers.
type Readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	out := Readiness{Ready: true, Checks: map[string]string{}}
	for name, err := range s.Ready(ctx) {
		if err != nil {
			out.Ready = false
			out.Checks[name] = err.Error()
			continue
		}
		out.Checks[name] = "ok"
	}
	status := http.StatusOK
	if !out.Ready {
		status = http.StatusServiceUnavailable
	}
	s.JSON(w, r, status, out)
}
