package api

import (
	"net/http"
	"strconv"

	"github.com/onramp/onramp"
)

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	var c onramp.ProjectCreate
	if err := decode(w, r, &c); err != nil {
		s.Error(w, r, err)
		return
	}
	if err := c.Validate(); err != nil {
		s.Error(w, r, err)
		return
	}
	t, err := s.Templates.FindTemplate(c.Template)
	if err != nil {
		if onramp.ErrorCode(err) == onramp.ENOTFOUND {
			err = &onramp.Error{Code: onramp.EINVALID, Field: "template", Message: onramp.ErrorMessage(err)}
		}
		s.Error(w, r, err)
		return
	}
	p, err := onramp.NewProject(c, t)
	if err == nil {
		err = s.Namespaces.Check(p)
	}
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if err := s.Projects.CreateProject(r.Context(), owner(r), p); err != nil {
		s.Error(w, r, err)
		return
	}
	s.metrics.projectsCreated.Inc()
	s.logger(r).Info("project created", "project", p.Name, "owner", p.Owner, "template", p.Template, "git", p.Git)
	w.Header().Set("Location", "/api/v1/projects/"+p.Name)
	s.JSON(w, r, http.StatusAccepted, p)
}

// ProjectList is a page of projects.
type ProjectList struct {
	Projects   []*onramp.Project `json:"projects"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) {
	f := onramp.ProjectFilter{Cursor: r.URL.Query().Get("cursor")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			s.Error(w, r, onramp.FieldErrorf("limit", "limit must be a whole number from 1 to 100, not %q", v))
			return
		}
		f.Limit = n
	}
	ps, next, err := s.Projects.ListProjects(r.Context(), owner(r), f)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if ps == nil {
		ps = []*onramp.Project{}
	}
	s.JSON(w, r, http.StatusOK, ProjectList{Projects: ps, NextCursor: next})
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	p, err := s.Projects.FindProject(r.Context(), owner(r), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, p)
}

// deleteProject requests a project's deletion; ?keep_repository=true keeps
// a repository on a Git provider, removing only Flux's deploy credential.
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	var opts onramp.DeleteOptions
	if v := r.URL.Query().Get("keep_repository"); v != "" {
		keep, err := strconv.ParseBool(v)
		if err != nil {
			s.Error(w, r, onramp.FieldErrorf("keep_repository", "keep_repository must be true or false, not %q", v))
			return
		}
		opts.KeepRepository = keep
	}
	p, err := s.Projects.RequestDelete(r.Context(), owner(r), r.PathValue("name"), opts)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("project delete requested", "project", p.Name)
	s.JSON(w, r, http.StatusAccepted, p)
}

func (s *Server) retryProject(w http.ResponseWriter, r *http.Request) {
	p, err := s.Projects.RequestRetry(r.Context(), owner(r), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("project retry requested", "project", p.Name)
	s.JSON(w, r, http.StatusAccepted, p)
}

// LogList is a project's log lines.
type LogList struct {
	Lines []onramp.LogLine `json:"lines"`
}

func (s *Server) projectLogs(w http.ResponseWriter, r *http.Request) {
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.Error(w, r, onramp.FieldErrorf("after", "after must be a log line ID, not %q", v))
			return
		}
		after = n
	}
	lines, err := s.Projects.ProjectLogs(r.Context(), owner(r), r.PathValue("name"), after)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, LogList{Lines: lines})
}

// History is a project's status transitions.
type History struct {
	Transitions []onramp.StatusTransition `json:"transitions"`
}

func (s *Server) projectHistory(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Projects.ProjectHistory(r.Context(), owner(r), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, History{Transitions: ts})
}

// TemplateList is the available templates.
type TemplateList struct {
	Templates []*onramp.Template `json:"templates"`
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	s.JSON(w, r, http.StatusOK, TemplateList{Templates: s.Templates.Templates()})
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	t, err := s.Templates.FindTemplate(r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, t)
}
