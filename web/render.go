package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/onramp/onramp"
)

// pageData is what every template receives; each page uses its part.
type pageData struct {
	Title   string
	User    *onramp.User
	Scripts []string // static files run by the page, in order
	Error   string   // sign-in: why the token was refused
	Next    string   // sign-in: where to go afterwards
	Project *onramp.Project
	Message string // error pages
}

// pages holds the parsed templates, one set per page.
type pages struct {
	sets map[string]*template.Template
}

// parsePages parses every page with the layout and executes it once with
// empty data, so that a mistake fails at start-up, not at the first visit.
func parsePages(files fs.FS, a *assets) (*pages, error) {
	funcs := template.FuncMap{"static": a.url, "short": onramp.ShortRevision}
	p := &pages{sets: map[string]*template.Template{}}
	// Each page is a file in templates/, rendered inside layout.html.
	for _, name := range []string{"signin", "projects", "new", "project", "error", "reload"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		if err := t.ExecuteTemplate(io.Discard, "layout", pageData{Project: &onramp.Project{}, User: &onramp.User{}}); err != nil {
			return nil, fmt.Errorf("check page %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// render writes a page with status. It renders into a buffer first so that
// a failure sends an error page, not half of a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	var buf bytes.Buffer
	if err := h.pages.sets[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.deps.Logger.Error("render page", "page", name, "path", r.URL.Path, "error", err)
		http.Error(w, "internal error: the details are in the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// serverError logs err and shows a page that says so without its details.
// A request whose client has left is not a server error: it is logged at
// debug and counted as 499, as the API does.
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		h.deps.Logger.Debug("client left", "method", r.Method, "path", r.URL.Path, "error", err)
		w.WriteHeader(499)
		return
	}
	h.deps.Logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "error", err)
	h.render(w, r, http.StatusInternalServerError, "error", pageData{
		Title: "Something went wrong", Message: onramp.ErrorMessage(err),
	})
}

// tooMany answers a request refused by a limit with 429, Retry-After and
// page, whose Error or Message says when to try again.
func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, page string, data pageData, err error) {
	secs := int(onramp.ErrorRetryAfter(err) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	msg := fmt.Sprintf("%s (try again in %d s)", onramp.ErrorMessage(err), secs)
	if page == "signin" {
		data.Error = msg
	} else {
		data.Message = msg
	}
	h.render(w, r, http.StatusTooManyRequests, page, data)
}
