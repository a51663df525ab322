package web_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/web"
)

// fixture is the pages over a real SQLite store, with alice's token and a
// session she started with it, and a project "bobs" that belongs to bob.
type fixture struct {
	h       http.Handler
	alice   string // her token
	session string // her session's ID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storetest.Open(t, store.SQLite)
	ctx := context.Background()
	alice, err := db.CreateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &onramp.Template{Name: "t", Environments: []onramp.TemplateEnvironment{{Type: onramp.Development, Path: "dev"}}}
	for owner, name := range map[string]string{"bob": "bobs", "alice": "shop"} {
		if _, err := db.CreateToken(ctx, owner); err != nil {
			t.Fatal(err)
		}
		p, err := onramp.NewProject(onramp.ProjectCreate{Name: name, Template: "t",
			Environments: []onramp.EnvironmentSpec{{Name: "development", Type: onramp.Development}}}, tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateProject(ctx, owner, p); err != nil {
			t.Fatal(err)
		}
	}
	session, _, err := db.StartSession(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: web.New(web.Deps{Projects: db, Auth: db}), alice: alice, session: session}
}

// do serves one request; cookie is a session ID, or "".
func (f *fixture) do(method, target, cookie string, form url.Values, header ...string) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: onramp.SessionCookie, Value: cookie})
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if strings.HasPrefix(target, "https://") {
		r.TLS = &tls.ConnectionState{}
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Result()
}

func text(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebPagesNeedASession(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path, cookie, want string
	}{
		{"list", "/", "", "/signin"},
		{"new", "/new", "", "/signin?next=%2Fnew"},
		{"project", "/projects/shop", "", "/signin?next=%2Fprojects%2Fshop"},
		{"unknown path", "/nope", "", "/signin?next=%2Fnope"},
		{"bad session", "/", "ons_nope_nope", "/signin"},
		{"a token as the session", "/", f.alice, "/signin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do("GET", tt.path, tt.cookie, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tt.want {
				t.Errorf("GET %s = %d %q; want 303 %q", tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.want)
			}
			if tt.cookie != "" && !clears(resp) {
				t.Errorf("GET %s with a bad session did not clear the cookie: %q", tt.path, resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// A link from another site comes without the SameSite=Strict cookie: the
// page reopens itself from this site, which sends it, instead of asking a
// signed-in user to sign in again.
func TestWebLinkFromAnotherSiteReopens(t *testing.T) {
	f := newFixture(t)
	resp := f.do("GET", "/projects/shop", "", nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
	if body := text(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `<meta http-equiv="refresh" content="0">`) {
		t.Errorf("cross-site link = %d:\n%s\nwant 200 and a page that reopens itself", resp.StatusCode, body)
	}
	resp = f.do("GET", "/projects/shop", "", nil, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin navigation without a session = %d; want 303 to sign in", resp.StatusCode)
	}
}

func clears(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == onramp.SessionCookie && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestWebSignInForm(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, target, token, next string
		header                    []string
		wantStatus                int
		wantLocation              string
		wantSecure                bool
	}{
		{name: "good", target: "http://onramp.test/signin", token: f.alice, next: "/new", wantStatus: 303, wantLocation: "/new"},
		{name: "good over TLS", target: "https://onramp.test/signin", token: f.alice, wantStatus: 303, wantLocation: "/", wantSecure: true},
		{name: "good behind a TLS proxy", target: "http://onramp.test/signin", token: f.alice, header: []string{"X-Forwarded-Proto", "https"}, wantStatus: 303, wantLocation: "/", wantSecure: true},
		{name: "good behind a plain proxy", target: "http://onramp.test/signin", token: f.alice, header: []string{"X-Forwarded-Proto", "http"}, wantStatus: 303, wantLocation: "/"},
		{name: "next to another site", target: "/signin", token: f.alice, next: "//evil.example/x", wantStatus: 303, wantLocation: "/"},
		{name: "next with a tab", target: "/signin", token: f.alice, next: "/\t/evil.example", wantStatus: 303, wantLocation: "/"},
		{name: "bad token", target: "/signin", token: f.alice + "x", wantStatus: 401},
		{name: "empty", target: "/signin", token: "  ", wantStatus: 422},
		{name: "cross-site form", target: "/signin", token: f.alice, header: []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do("POST", tt.target, "", url.Values{"token": {tt.token}, "next": {tt.next}}, tt.header...)
			body := text(t, resp)
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
				t.Fatalf("sign in = %d %q; want %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation, body)
			}
			if strings.TrimSpace(tt.token) != "" && strings.Contains(body, strings.TrimSpace(tt.token)) {
				t.Error("the answer shows the token")
			}
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == onramp.SessionCookie {
					session = c
				}
			}
			if tt.wantStatus != 303 {
				if session != nil {
					t.Errorf("a refused sign-in set the cookie %v", session)
				}
				return
			}
			if session == nil || !strings.HasPrefix(session.Value, "ons_") || strings.Contains(session.Value, tt.token) || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Secure != tt.wantSecure {
				t.Errorf("session cookie = %+v; want a session ID (not the token), HttpOnly, SameSite=Strict, Path=/, Secure=%v", session, tt.wantSecure)
			}
		})
	}
}

// Signing out ends the session on the server: a copy of the cookie kept
// elsewhere is refused too.
func TestWebSignOutEndsTheSession(t *testing.T) {
	f := newFixture(t)
	resp := f.do("POST", "/signout", f.session, url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" || !clears(resp) {
		t.Errorf("sign out = %d %q cookies %q; want 303 /signin and a cleared cookie", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Values("Set-Cookie"))
	}
	if resp := f.do("GET", "/", f.session, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Errorf("GET / with the signed-out session = %d %q; want 303 /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestWebPages(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path       string
		wantStatus int
		want       string
	}{
		{"/", 200, `<ul id="projects"`},
		{"/new", 200, `<form id="new-project"`},
		{"/projects/shop", 200, `data-name="shop"`},
		{"/projects/bobs", 404, "Project not found"},
		{"/projects/none", 404, "Project not found"},
		{"/nope", 404, "Page not found"},
	}
	inline := regexp.MustCompile(`(?i)<script>|<script[^>]*>[^<]|\son[a-z]+=|style=`)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := f.do("GET", tt.path, f.session, nil)
			body := text(t, resp)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s = %d, want %d containing %q:\n%s", tt.path, resp.StatusCode, tt.wantStatus, tt.want, body)
			}
			if m := inline.FindString(body); m != "" {
				t.Errorf("GET %s has inline code or style %q; the CSP allows none", tt.path, m)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("GET %s: Content-Security-Policy %q", tt.path, csp)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("GET %s: Cache-Control %q; want no-store for a signed-in page", tt.path, cc)
			}
			if strings.Contains(body, f.alice) || strings.Contains(body, f.session) {
				t.Errorf("GET %s shows the token or the session ID", tt.path)
			}
		})
	}
}

func TestWebStaticFiles(t *testing.T) {
	f := newFixture(t)
	page := text(t, f.do("GET", "/", f.session, nil))
	link := regexp.MustCompile(`/static/list\.js\?v=[0-9a-f]+`).FindString(page)
	if link == "" {
		t.Fatalf("the list page links no versioned list.js:\n%s", page)
	}
	resp := f.do("GET", link, "", nil, "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET %s = %d %v; want 200, gzip, immutable, text/javascript", link, resp.StatusCode, resp.Header)
	}
	etag := resp.Header.Get("ETag")
	if resp := f.do("GET", "/static/list.js", "", nil, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned GET with If-None-Match = %d %q; want 304 no-cache", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if resp := f.do("GET", "/static/nope.js", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /static/nope.js = %d; want 404", resp.StatusCode)
	}
}
