package web

import (
	"net/http"

	"github.com/onramp/onramp"
)

// projectsPage lists the user's projects; list.js keeps it current.
func (h *Handler) projectsPage(w http.ResponseWriter, r *http.Request, u *onramp.User) {
	h.render(w, r, http.StatusOK, "projects", pageData{
		Title: "Projects", User: u, Scripts: []string{"common.js", "list.js"},
	})
}

// newPage is the new project form; new.js builds it from the templates API.
func (h *Handler) newPage(w http.ResponseWriter, r *http.Request, u *onramp.User) {
	h.render(w, r, http.StatusOK, "new", pageData{
		Title: "New project", User: u, Scripts: []string{"common.js", "new.js"},
	})
}

// projectPage shows one of the user's projects. The server renders what it
// knows now, so the page is useful at first paint; project.js then follows
// the event stream. A project the user neither owns nor is a member of is
// not found, as in the API.
func (h *Handler) projectPage(w http.ResponseWriter, r *http.Request, u *onramp.User) {
	p, err := h.deps.Projects.FindProject(r.Context(), u.Name, r.PathValue("name"))
	switch onramp.ErrorCode(err) {
	case "":
	case onramp.ENOTFOUND:
		h.render(w, r, http.StatusNotFound, "error", pageData{
			Title: "Project not found", User: u,
			Message: "There is no project " + quote(r.PathValue("name")) + " among your projects.",
		})
		return
	default:
		h.serverError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "project", pageData{
		Title: p.Name, User: u, Project: p,
		Scripts: []string{"common.js", "project-view.js", "project-pipeline.js", "project.js"},
	})
}

// notFoundPage answers any other path.
func (h *Handler) notFoundPage(w http.ResponseWriter, r *http.Request, u *onramp.User) {
	h.render(w, r, http.StatusNotFound, "error", pageData{
		Title: "Page not found", User: u, Message: "There is no page at " + r.URL.Path + ".",
	})
}

func quote(s string) string { return "“" + s + "”" }
