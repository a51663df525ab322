package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
	"github.com/onramp/onramp/web"
)

// env is the API with the pages on a real listener, over a real database.
type env struct {
	url   string
	db    *store.DB
	srv   *api.Server
	token string // alice's
	logs  *testutil.Buffer
	// gitRoot holds the Git server's repositories.
	gitRoot string
	http    *http.Server
}

// newEnv starts the API, its pages, its event streams and the Git server
// as onramp serves them (the real http.Server and listener, with their
// limits) on engine's database; configure, if given, changes the server
// before it starts.
func newEnv(t testing.TB, engine string, configure ...func(*api.Server)) *env {
	t.Helper()
	db := storetest.Open(t, engine)
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	token, err := db.CreateToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := &api.Server{
		Projects: db, Templates: tmpl, Auth: db, Logger: logger, Registry: prometheus.NewRegistry(),
		Ready:   func(context.Context) map[string]error { return nil },
		Changed: db.Changed, GitConnections: db,
	}
	for _, c := range configure {
		c(srv)
	}
	auth := api.NewAuthLimiter(srv.Auth, db, srv.Limits.AuthFailuresPerMinute)
	srv.Auth = auth
	srv.Web = web.New(web.Deps{Projects: db, Auth: auth, Logger: logger})
	gitRoot := t.TempDir()
	srv.Git = &gitserver.Server{Root: gitRoot, Auth: auth, Logger: logger}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	go hs.Serve(srv.LimitListener(ln))
	t.Cleanup(func() { hs.Close() })
	return &env{url: "http://" + ln.Addr().String(), db: db, srv: srv, token: token, logs: logs, gitRoot: gitRoot, http: hs}
}

// do sends a request with alice's token and returns the status and body.
func (e *env) do(t testing.TB, method, path, contentType, body string) (int, string) {
	t.Helper()
	resp := e.send(t, method, path, contentType, body, e.token)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// send sends a request with token, if any, and returns the response.
func (e *env) send(t testing.TB, method, path, contentType, body, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// metrics returns the server's /metrics text.
func (e *env) metrics(t testing.TB) string {
	t.Helper()
	code, body := e.do(t, "GET", "/metrics", "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	return body
}

// forEachEngine runs fn against each database engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, engine string)) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, engine)
		})
	}
}

// errorBody decodes an error answer.
func errorBody(t testing.TB, body string) api.ErrorBody {
	t.Helper()
	var b api.ErrorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("error answer %q is not JSON: %v", body, err)
	}
	return b
}
