package api

import (
	"net/http"
	"time"

	"github.com/onramp/onramp"
)

// TokenList is the caller's tokens, without their secrets.
type TokenList struct {
	Tokens []*onramp.Token `json:"tokens"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Auth.ListTokens(r.Context(), owner(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if ts == nil {
		ts = []*onramp.Token{}
	}
	s.JSON(w, r, http.StatusOK, TokenList{Tokens: ts})
}

// tokenRequest is the body of POST /api/v1/tokens. expires_in is read as
// text here so that a bad duration is a 422 naming the field.
type tokenRequest struct {
	Name      string `json:"name"`
	ExpiresIn string `json:"expires_in"`
}

// createToken issues the caller a token and answers its secret, once.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	c := onramp.TokenCreate{Name: req.Name}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil {
			s.Error(w, r, onramp.FieldErrorf("expires_in", "expires_in must be a duration such as 720h or 90m, not %q", req.ExpiresIn))
			return
		}
		c.ExpiresIn = onramp.Duration(d)
	}
	t, err := s.Auth.IssueToken(r.Context(), owner(r), c)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("token created", "owner", owner(r), "token", t.ID)
	w.Header().Set("Cache-Control", "no-store")
	s.JSON(w, r, http.StatusCreated, t)
}

// revokeToken revokes one of the caller's tokens; another user's is 404.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.Auth.RevokeToken(r.Context(), owner(r), id); err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("token revoked", "owner", owner(r), "token", id)
	w.WriteHeader(http.StatusNoContent)
}
