package gitserver

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/onramp/onramp"
)

// Git smart HTTP services.
const (
	uploadPack  = "git-upload-pack"
	receivePack = "git-receive-pack"
)

// Request body limits: a fetch request is a list of hashes; a push carries
// a pack, and onramp's repositories hold rendered manifests, not assets.
const (
	maxUploadRequest = 8 << 20
	maxPushBytes     = 256 << 20
)

// Server serves the repositories under Root over Git smart HTTP:
//
//	GET  /git/{project}.git/info/refs?service=git-upload-pack|git-receive-pack
//	POST /git/{project}.git/git-upload-pack
//	POST /git/{project}.git/git-receive-pack
//
// Every request needs HTTP basic credentials that Auth accepts for the
// project; pushing (receive-pack) asks Auth for write access.
type Server struct {
	// Root is the directory that holds <project>.git repositories.
	Root string
	// Auth decides who may read and write each repository.
	Auth onramp.GitAuthorizer
	// Logger receives one line per request and the details of failures;
	// nil discards them. Credentials are never logged, in the password or
	// in the user name.
	Logger *slog.Logger
	// OnPush, if set, is called after a push moved the branch HEAD points
	// at, so that the new revision is deployed and judged at once.
	OnPush func(ctx context.Context, project string)
}

// gitRequest is a routed request: which repository and which service.
type gitRequest struct {
	project   string
	service   string
	advertise bool // GET info/refs rather than POST to the service
	// username is the basic-auth user name. It is never logged: a client
	// may put its token there (http://TOKEN:@host/…); as() says what may be.
	username string
	hasAuth  bool
}

// as names the kind of credential a request came with, for the log: "flux"
// for the read-only identity, "token" for any other user name (whose
// password must be an API token), "anonymous" without credentials.
func (req gitRequest) as() string {
	switch {
	case !req.hasAuth:
		return "anonymous"
	case req.username == onramp.GitReadUser:
		return onramp.GitReadUser
	}
	return "token"
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ServeHTTP routes, authenticates and authorizes a Git request, then runs
// the service on the project's repository.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	req, ok := s.route(sw, r)
	if ok {
		s.serve(sw, r, req)
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "git request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("service", req.service), slog.String("as", req.as()),
		slog.Int("status", sw.status()), slog.Duration("duration", time.Since(start)))
}

// route parses the path, method and service of r and checks credentials.
// It answers r itself and returns false when r goes no further.
func (s *Server) route(w http.ResponseWriter, r *http.Request) (gitRequest, bool) {
	req, ok := parsePath(r)
	if !ok || !validName(req.project) {
		http.Error(w, "repository not found", http.StatusNotFound)
		return req, false
	}
	if status, msg := checkMethod(r, req); status != 0 {
		http.Error(w, msg, status)
		return req, false
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		unauthorized(w)
		return req, false
	}
	req.username, req.hasAuth = user, true
	return req, s.authorize(w, r, req, password)
}

// parsePath splits /git/{project}.git/{info/refs|git-upload-pack|git-receive-pack}.
func parsePath(r *http.Request) (gitRequest, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/git/")
	if !ok {
		return gitRequest{}, false
	}
	repo, action, _ := strings.Cut(rest, "/")
	project, ok := strings.CutSuffix(repo, ".git")
	if !ok {
		return gitRequest{}, false
	}
	switch action {
	case "info/refs":
		return gitRequest{project: project, service: r.URL.Query().Get("service"), advertise: true}, true
	case uploadPack, receivePack:
		return gitRequest{project: project, service: action}, true
	}
	return gitRequest{project: project}, false
}

// checkMethod returns the status and message that refuse r, or 0.
func checkMethod(r *http.Request, req gitRequest) (int, string) {
	switch {
	case req.advertise && r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "use GET"
	case !req.advertise && r.Method != http.MethodPost:
		return http.StatusMethodNotAllowed, "use POST"
	case req.service != uploadPack && req.service != receivePack:
		return http.StatusForbidden, "only the Git smart HTTP protocol is served"
	}
	return 0, ""
}

// authorize asks Auth whether user may use the repository and answers r
// when not: 401 for bad credentials, 404 for a project the user may not
// see, so that its existence is not revealed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, req gitRequest, password string) bool {
	if s.Auth == nil {
		s.logger().Error("git server has no authorizer")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return false
	}
	err := s.Auth.AuthorizeGit(r.Context(), req.project, req.username, password, req.service == receivePack)
	switch onramp.ErrorCode(err) {
	case "":
		allowTransfer(w)
		return true
	case onramp.EUNAUTHORIZED:
		unauthorized(w)
	case onramp.ENOTFOUND:
		http.Error(w, "repository not found", http.StatusNotFound)
	case onramp.ETOOMANY:
		w.Header().Set("Retry-After", strconv.Itoa(int(onramp.ErrorRetryAfter(err)/time.Second)))
		http.Error(w, onramp.ErrorMessage(err), http.StatusTooManyRequests)
	default:
		if r.Context().Err() != nil { // the client left: not a server error
			s.logger().Debug("authorize git request", "project", req.project, "as", req.as(), "err", err)
			return false
		}
		s.logger().Error("authorize git request", "project", req.project, "as", req.as(), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
	return false
}

// maxTransfer bounds an authorized clone or push, which may take longer
// than the server's read and write timeouts allow a request.
const maxTransfer = 15 * time.Minute

// allowTransfer lets an authorized request read and write for maxTransfer
// from now. Where the writer cannot set deadlines, there are none to lift.
func allowTransfer(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	end := time.Now().Add(maxTransfer)
	rc.SetReadDeadline(end)
	rc.SetWriteDeadline(end)
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="onramp"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
}

// serve runs the requested service on the repository.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, req gitRequest) {
	release, err := func() {}, error(nil)
	if req.service == uploadPack && !req.advertise {
		release, err = readLock(s.Root, req.project)
	}
	var sto *filesystem.Storage
	if err == nil {
		defer release()
		sto, err = openRepo(s.Root, req.project)
	}
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		http.Error(w, "repository not found", http.StatusNotFound)
		return
	} else if err != nil {
		s.fail(w, r, req, err)
		return
	}
	defer sto.Close()
	noCache(w)
	if req.advertise {
		err = s.advertise(w, r, req, sto)
	} else if err = checkContentType(r, req.service); err == nil {
		err = s.runService(w, r, req, sto)
	}
	if err != nil {
		s.fail(w, r, req, err)
	}
}

// runService decodes the request body and runs the service on it.
func (s *Server) runService(w http.ResponseWriter, r *http.Request, req gitRequest, sto *filesystem.Storage) error {
	limit := int64(maxUploadRequest)
	if req.service == receivePack {
		limit = maxPushBytes
	}
	body, err := requestBody(w, r, limit)
	if err != nil {
		return err
	}
	defer body.Close()
	w.Header().Set("Content-Type", "application/x-"+req.service+"-result")
	if req.service == receivePack {
		return s.serveReceivePack(r.Context(), w, body, req, sto)
	}
	return serveUploadPack(w, body, sto)
}

// requestBody returns r's body, decompressed when the client gzipped it
// (the git CLI does for large fetch negotiations), and at most limit bytes.
func requestBody(w http.ResponseWriter, r *http.Request, limit int64) (io.ReadCloser, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, badRequest("read gzip body: %v", err)
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(zr, limit), body}, nil
	}
	return nil, badRequest("unsupported Content-Encoding %q", r.Header.Get("Content-Encoding"))
}

func checkContentType(r *http.Request, service string) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-"+service+"-request" {
		return badRequest("Content-Type must be application/x-%s-request, not %q", service, ct)
	}
	return nil
}

// noCache keeps proxies from serving stale references, as git-http-backend
// does.
func noCache(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
}

// requestError is a client mistake, answered with 400 and its message.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}
