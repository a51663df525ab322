// Package api serves onramp's HTTP API: JSON over net/http, bearer-token
// authentication on everything but health, and Server-Sent Events.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onramp/onramp"
)

// Server is the HTTP API. Its fields are set by main.
type Server struct {
	Projects onramp.ProjectService
	// Team serves members and promotions; without it those endpoints are 404.
	Team      onramp.TeamService
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
	// Recheck is how often an open event stream checks its credential
	// again, ending when it is revoked, expired or signed out (2s if 0).
	Recheck time.Duration
	// Changed, if set, returns a channel closed at the next write of the
	// project's events: its event streams then look at once rather than at
	// their next poll.
	Changed func(projectID int64) <-chan struct{}
	// Namespaces are the namespaces no project may use.
	Namespaces onramp.NamespacePolicy
	// GitConnections and GitChecker serve /api/v1/git-connections; without
	// them those endpoints are 404.
	GitConnections onramp.GitConnectionService
	GitChecker     onramp.GitConnectionChecker
	// GitHook, if set, receives Git providers' push deliveries at
	// POST /hooks/git/{project}, without a token: each is verified by its
	// signature.
	GitHook http.Handler
	// Limits bound what one client can hold of the server.
	Limits Limits

	metrics *metrics
	streams counter // open event streams by user
	// closing is closed when the server shuts down: event streams then
	// tell their clients to reconnect, and end.
	closing   chan struct{}
	closeOnce sync.Once
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(s.Registry)
	s.closing = make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))

	if s.GitHook != nil {
		mux.Handle("POST /hooks/git/{project}", http.MaxBytesHandler(s.GitHook, 4<<20))
	}
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.authenticate(h)) }
	api("POST /api/v1/projects", s.createProject)
	api("GET /api/v1/projects", s.listProjects)
	api("GET /api/v1/projects/{name}", s.getProject)
	api("DELETE /api/v1/projects/{name}", s.deleteProject)
	api("POST /api/v1/projects/{name}/retry", s.retryProject)
	api("GET /api/v1/projects/{name}/logs", s.projectLogs)
	api("GET /api/v1/projects/{name}/history", s.projectHistory)
	api("GET /api/v1/projects/{name}/events", s.projectEvents)
	if s.Team != nil {
		api("GET /api/v1/projects/{name}/members", s.listMembers)
		api("POST /api/v1/projects/{name}/members", s.setMember)
		api("DELETE /api/v1/projects/{name}/members/{user}", s.removeMember)
		api("POST /api/v1/projects/{name}/promotions", s.promote)
		api("POST /api/v1/projects/{name}/rollbacks", s.rollback)
		api("GET /api/v1/projects/{name}/promotions", s.listPromotions)
		api("GET /api/v1/projects/{name}/promotions/{id}", s.getPromotion)
		api("POST /api/v1/projects/{name}/promotions/{id}/approve", s.approve)
	}
	api("GET /api/v1/tokens", s.listTokens)
	api("POST /api/v1/tokens", s.createToken)
	api("DELETE /api/v1/tokens/{id}", s.revokeToken)
	if s.GitConnections != nil && s.GitChecker != nil {
		api("POST /api/v1/git-connections", s.createGitConnection)
		api("GET /api/v1/git-connections", s.listGitConnections)
		api("GET /api/v1/git-connections/{name}", s.getGitConnection)
		api("DELETE /api/v1/git-connections/{name}", s.deleteGitConnection)
	}
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
	// instrument reads the route the mux sets on its request: nothing between
	// them may copy the request.
	return withClient(s.instrument(s.refuseOverLimit(s.refuseBadBytes(mux))))
}

// authenticate requires a valid bearer token, or a browser session cookie,
// and puts its user, and the credential for later checks (checkAgain), in
// the context.
func (s *Server) authenticate(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := bearer(r)
		if !ok {
			c, ok = session(r)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="onramp"`)
			s.Error(w, r, onramp.Errorf(onramp.EUNAUTHORIZED, "missing API token: send `Authorization: Bearer <token>`; create one with `onramp token create --user NAME`"))
			return
		}
		u, err := s.check(r.Context(), c)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		ctx := context.WithValue(onramp.NewContextWithUser(r.Context(), u), credentialKey{}, c)
		next(w, r.WithContext(ctx))
	})
}

// credential is what a request authenticated with: an API token, or the
// ID of a web session. Both are checked through Auth, the AuthLimiter.
type credential struct {
	secret  string
	session bool
}

type credentialKey struct{}

// check returns the user of c.
func (s *Server) check(ctx context.Context, c credential) (*onramp.User, error) {
	if c.session {
		return s.Auth.AuthenticateSession(ctx, c.secret)
	}
	return s.Auth.Authenticate(ctx, c.secret)
}

// checkAgain checks once more the credential that authenticated ctx's
// request, for a request that lasts (an event stream): a token revoked or
// expired since, or a session ended, is refused.
func (s *Server) checkAgain(ctx context.Context) error {
	c, ok := ctx.Value(credentialKey{}).(credential)
	if !ok {
		return onramp.Errorf(onramp.EUNAUTHORIZED, "the request has no credential")
	}
	_, err := s.check(ctx, c)
	return err
}

func bearer(r *http.Request) (credential, bool) {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return credential{}, false
	}
	return credential{secret: h[len(prefix):]}, true
}

// session returns the session ID of a signed-in browser. Requests that
// change something must come from onramp's own pages: the cookie is
// SameSite=Strict and the Origin, when sent, must be this host.
func session(r *http.Request) (credential, bool) {
	c, err := r.Cookie(onramp.SessionCookie)
	if err != nil || c.Value == "" {
		return credential{}, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
			return credential{}, false
		}
	}
	return credential{secret: c.Value, session: true}, true
}

func owner(r *http.Request) string { return onramp.UserFromContext(r.Context()).Name }
