package api

import (
	"net/http"

	"github.com/onramp/onramp"
)

// GitConnectionList is the caller's Git connections, without their tokens.
type GitConnectionList struct {
	Connections []*onramp.GitConnection `json:"connections"`
}

// createGitConnection checks the connection's token with its provider and
// records it; the answer never holds the token.
func (s *Server) createGitConnection(w http.ResponseWriter, r *http.Request) {
	var c onramp.GitConnectionCreate
	if err := decode(w, r, &c); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := c.Validate(); err != nil {
		s.Error(w, r, err)
		return
	}
	if _, err := s.GitConnections.FindGitConnection(r.Context(), owner(r), c.Name); err == nil {
		s.Error(w, r, onramp.Errorf(onramp.ECONFLICT, "you already have a git connection named %s: choose another name, or `onramp git disconnect %s` first", c.Name, c.Name))
		return
	}
	login, err := s.GitChecker.CheckGitConnection(r.Context(), c)
	if err != nil {
		s.logger(r).Info("git connection refused", "owner", owner(r), "connection", c, "error", onramp.ErrorMessage(err))
		s.Error(w, r, err)
		return
	}
	conn, err := s.GitConnections.CreateGitConnection(r.Context(), owner(r), c, login)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("git connection created", "owner", owner(r), "connection", c, "login", login)
	w.Header().Set("Location", "/api/v1/git-connections/"+conn.Name)
	s.JSON(w, r, http.StatusCreated, conn)
}

func (s *Server) listGitConnections(w http.ResponseWriter, r *http.Request) {
	list, err := s.GitConnections.GitConnections(r.Context(), owner(r))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if list == nil {
		list = []*onramp.GitConnection{}
	}
	s.JSON(w, r, http.StatusOK, GitConnectionList{Connections: list})
}

func (s *Server) getGitConnection(w http.ResponseWriter, r *http.Request) {
	c, err := s.GitConnections.FindGitConnection(r.Context(), owner(r), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, c)
}

// deleteGitConnection removes a connection no project uses (409 while
// one does); another user's is 404.
func (s *Server) deleteGitConnection(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.GitConnections.DeleteGitConnection(r.Context(), owner(r), name); err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("git connection deleted", "owner", owner(r), "connection", name)
	w.WriteHeader(http.StatusNoContent)
}
