package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBadBytes checks that NUL bytes and invalid UTF-8 in a token, a path,
// a query or the sign-in form are refused as the client's mistake, before
// the database, which on PostgreSQL answers them with an error.
func TestBadBytes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		paths := []struct {
			path string
			want int
		}{
			{"/api/v1/projects/%00", 400},
			{"/api/v1/projects/%FF", 400},
			{"/api/v1/projects/a%C3%28b/logs", 400},
			{"/api/v1/projects/a%00b/events", 400},
			{"/api/v1/projects/shop/history%00", 400},
			{"/api/v1/templates/%FE", 400},
			{"/api/v1/projects?cursor=%00", 400},
			{"/api/v1/projects?cursor=%FF%FF", 400},
			{"/api/v1/projects/shop/logs?after=%00", 400},
			{"/projects/%00", 400},
			{"/git/%FF.git/info/refs?service=git-upload-pack", 400},
			{"/api/v1/projects/no-such", 404},
		}
		for _, p := range paths {
			if code, body := e.do(t, "GET", p.path, "", ""); code != p.want {
				t.Errorf("GET %s = %d %s; want %d", p.path, code, body, p.want)
			}
		}
		for _, token := range []string{"onr_\xff\xfe_x", "onr_a_\xc3\x28", "\xff", "onr_" + strings.Repeat("\xe2\x82", 3) + "_x"} {
			resp := e.send(t, "GET", "/api/v1/projects", "", "", token)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/v1/projects with token %q = %d; want 401", token, resp.StatusCode)
			}
		}
		for _, token := range []string{"onr_\x00_x", "onr_\xff\xfe_x", "\x00", "onr_a\x00b_c\xff"} {
			resp, err := http.PostForm(e.url+"/signin", url.Values{"token": {token}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST /signin with token %q = %d; want 401", token, resp.StatusCode)
			}
		}
		if logs := e.logs.String(); strings.Contains(logs, "level=ERROR") {
			t.Errorf("bad bytes logged errors:\n%s", logs)
		}
	})
}
