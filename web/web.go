// Package web serves onramp's pages: sign-in, the projects list, the new
// project form and the live project page. Templates and static files are
// embedded in the binary; the pages read live data from the JSON API and its
// event stream, which accept the session cookie that sign-in sets here.
package web

import (
	"embed"
	"log/slog"
	"net/http"

	"github.com/onramp/onramp"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Deps are what the pages need; main sets them.
type Deps struct {
	Projects onramp.ProjectService
	Auth     onramp.AuthService
	Logger   *slog.Logger
}

// Handler serves the pages, the sign-in and sign-out forms and the static
// files under /static/.
type Handler struct {
	deps   Deps
	pages  *pages
	assets *assets
	mux    *http.ServeMux
}

// New parses and checks the embedded templates and returns the pages'
// handler. It panics if they do not parse or execute: they are part of the
// binary, so that is a build defect, which the package's tests catch.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := newAssets(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	p, err := parsePages(templateFiles, a)
	if err != nil {
		panic(err)
	}
	h := &Handler{deps: d, pages: p, assets: a}
	h.routes()
	return h
}

// routes registers every path the pages answer, in one place.
func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	forms := http.NewCrossOriginProtection()
	h.mux.HandleFunc("GET /signin", h.signinPage)
	h.mux.Handle("POST /signin", forms.Handler(http.HandlerFunc(h.signin)))
	h.mux.Handle("POST /signout", forms.Handler(http.HandlerFunc(h.signout)))
	h.mux.Handle("GET /static/{file...}", h.assets)
	h.mux.HandleFunc("GET /{$}", h.page(h.projectsPage))
	h.mux.HandleFunc("GET /new", h.page(h.newPage))
	h.mux.HandleFunc("GET /projects/{name}", h.page(h.projectPage))
	h.mux.HandleFunc("/", h.page(h.notFoundPage))
}

// ServeHTTP sets the headers every page carries and routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Scripts and styles come only from /static/: no inline code, so a
	// value that slipped through escaping could still not run.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}
