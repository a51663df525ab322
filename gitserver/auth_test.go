package gitserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/store/storetest"
)

// TestExistenceHidden runs the server with onramp's real authorizer on
// each database engine and checks that a caller without valid credentials
// gets the same answer for an existing project as for a missing one, and
// that the credentials it sent, in any position, stay out of the log.
func TestExistenceHidden(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, engine)
			p := &onramp.Project{Name: storetest.Name("hidden"), Template: "web-service", Environments: []onramp.Environment{
				{Name: "development", Type: onramp.Development, Namespace: "x", Path: "./deploy/overlays/development"}}}
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				t.Fatal(err)
			}
			bob, err := db.CreateToken(ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			logs := &testutil.Buffer{}
			srv := &gitserver.Server{Root: t.TempDir(), Auth: db, Logger: slog.New(slog.NewTextHandler(logs, nil))}
			ts := httptest.NewServer(srv)
			t.Cleanup(ts.Close)
			callers := []struct {
				name, user, password string
				want                 int
			}{
				{name: "anonymous", want: http.StatusUnauthorized},
				{name: "wrong token", user: "x", password: "onr_guess_guess", want: http.StatusUnauthorized},
				{name: "token as user name", user: bob, want: http.StatusUnauthorized},
				{name: "wrong read credential", user: onramp.GitReadUser, password: "guess", want: http.StatusUnauthorized},
				{name: "another owner", user: "bob", password: bob, want: http.StatusNotFound},
			}
			for _, c := range callers {
				var answers []string
				for _, project := range []string{p.Name, storetest.Name("missing")} {
					code, body := gitGet(t, ts.URL+"/git/"+project+".git/info/refs?service=git-upload-pack", c.user, c.password)
					if code != c.want {
						t.Errorf("%s: GET %s = %d; want %d", c.name, project, code, c.want)
					}
					answers = append(answers, body)
				}
				if answers[0] != answers[1] {
					t.Errorf("%s: existing project answered %q, missing one %q; want the same", c.name, answers[0], answers[1])
				}
			}
			if strings.Contains(logs.String(), bob) || strings.Contains(logs.String(), "guess") {
				t.Errorf("server log holds a credential:\n%s", logs)
			}
		})
	}
}

// gitGet sends a GET with basic credentials when user is set and returns
// the status and body.
func gitGet(t *testing.T, url, user, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
