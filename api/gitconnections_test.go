package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
)

// fakeChecker accepts the token "good-token" as the user "alice-git" and
// refuses every other as a provider would.
type fakeChecker struct{}

func (fakeChecker) CheckGitConnection(_ context.Context, c onramp.GitConnectionCreate) (string, error) {
	if c.Token != "good-token" {
		return "", onramp.FieldErrorf("token", "Gitea at %s refused the token (revoked, expired or mistyped): create a new token with `write:repository` and connect again", c.URL)
	}
	return "alice-git", nil
}

func TestGitConnectionsAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, func(s *api.Server) { s.GitChecker = fakeChecker{} })
		body := func(token string) string {
			return `{"name":"acme","kind":"gitea","url":"https://git.acme.dev","owner":"platform","token":"` + token + `"}`
		}
		const path = "/api/v1/git-connections"

		code, out := e.do(t, "POST", path, "application/json", body("bad-token-Zq7"))
		if code != http.StatusUnprocessableEntity || !strings.Contains(out, `"field":"token"`) || !strings.Contains(out, "refused the token") {
			t.Errorf("POST a bad token = %d %s; want 422 naming the token with the provider's reason", code, out)
		}
		code, out = e.do(t, "POST", path, "application/json", strings.Replace(body("good-token"), "gitea", "svn", 1))
		if code != http.StatusUnprocessableEntity || !strings.Contains(out, `"field":"kind"`) {
			t.Errorf("POST kind svn = %d %s; want 422 naming the kind", code, out)
		}
		code, out = e.do(t, "POST", path, "application/json", body("good-token"))
		var c onramp.GitConnection
		if code != http.StatusCreated || json.Unmarshal([]byte(out), &c) != nil || c.Login != "alice-git" || c.Owner != "platform" {
			t.Fatalf("POST = %d %s; want 201 with the connection", code, out)
		}
		if code, out := e.do(t, "POST", path, "application/json", body("good-token")); code != http.StatusConflict {
			t.Errorf("POST acme again = %d %s; want 409", code, out)
		}
		for _, p := range []string{path, path + "/acme"} {
			code, out := e.do(t, "GET", p, "", "")
			if code != http.StatusOK || !strings.Contains(out, `"name":"acme"`) {
				t.Errorf("GET %s = %d %s; want 200 with acme", p, code, out)
			}
		}

		bob, err := e.db.CreateToken(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{"GET", "DELETE"} {
			resp := e.send(t, method, path+"/acme", "", "", bob)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s alice's connection as bob = %d; want 404", method, resp.StatusCode)
			}
		}

		if code, out := e.do(t, "DELETE", path+"/acme", "", ""); code != http.StatusNoContent {
			t.Errorf("DELETE = %d %s; want 204", code, out)
		}
		if code, _ := e.do(t, "GET", path+"/acme", "", ""); code != http.StatusNotFound {
			t.Errorf("GET after DELETE = %d; want 404", code)
		}
		for _, secret := range []string{"good-token", "bad-token-Zq7"} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("the server's log holds the token %q", secret)
			}
		}
	})
}
