// Package api serves onramp's HTTP API: JSON over net/http, bearer-token
// authentication on everything but health, and Server-Sent Events.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onramp/onramp"
)

// Server is the HTTP API. Its fields are set by main.
type Server struct {
	Projects  onramp.ProjectService
	Templates onramp.TemplateService
	Auth      onramp.AuthService
	Logger    *slog.Logger
	// Ready reports whether the database and the cluster are reachable.
	Ready func(ctx context.Context) map[string]error
	// Registry collects the metrics served on /metrics.
	Registry *prometheus.Registry
	// Git serves the built-in Git server under /git/, if any.
	Git http.Handler
	// Web serves the pages under /, if any.
	Web http.Handler
	// Heartbeat is the event stream's keep-alive interval.
	Heartbeat time.Duration
	// Poll is how often the event stream looks for new events.
	Poll time.Duration
	// Changed, if set, returns a channel closed at the next write of the
	// project's events: its event streams then look at once rather than at
	// their next poll.
	Changed func(projectID int64) <-chan struct{}
	// Namespaces are the namespaces no project may use.
	Namespaces onramp.NamespacePolicy

	metrics *metrics
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.Registry)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	api("POST /api/v1/projects", s.createProject)
	api("GET /api/v1/projects", s.listProjects)
	api("GET /api/v1/projects/{name}", s.getProject)
	api("DELETE /api/v1/projects/{name}", s.deleteProject)
	api("POST /api/v1/projects/{name}/retry", s.retryProject)
	api("GET /api/v1/projects/{name}/logs", s.projectLogs)
	api("GET /api/v1/projects/{name}/history", s.projectHistory)
	api("GET /api/v1/projects/{name}/events", s.projectEvents)
	api("GET /api/v1/templates", s.listTemplates)
	api("GET /api/v1/templates/{name}", s.getTemplate)
	mux.Handle("/api/", s.authenticate(func(w http.ResponseWriter, r *http.Request) {
		s.Error(w, r, onramp.Errorf(onramp.ENOTFOUND, "no API endpoint %s %s", r.Method, r.URL.Path))
	}))
	if s.Git != nil {
		mux.Handle("/git/", s.Git)
	}
	if s.Web != nil {
		mux.Handle("/", s.Web)
	}
	return s.instrument(mux)
}

// authenticate requires a valid bearer token, or a browser session cookie,
// and puts its user in the context.
func (s *Server) authenticate(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			token, ok = session(r)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp"`)
			s.Error(w, r, onramp.Errorf(onramp.EUNAUTHORIZED, "missing API token: send `Authorization: Bearer <token>`; create one with `onramp token create --user NAME`"))
			return
		}
		u, err := s.Auth.Authenticate(r.Context(), token)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		next(w, r.WithContext(onramp.NewContextWithUser(r.Context(), u)))
	})
}

func bearer(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return "", false
	}
	return h[len(prefix):], true
}

// session returns the token of a browser session. Requests that change
// something must come from onramp's own pages: the cookie is SameSite=Strict
// and the Origin, when sent, must be this host.
func session(r *http.Request) (string, bool) {
	c, err := r.Cookie(onramp.SessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
			return "", false
		}
	}
	return c.Value, true
}

func owner(r *http.Request) string { return onramp.UserFromContext(r.Context()).Name }
