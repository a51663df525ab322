package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/riverqueue/river"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/web/webtest"
)

// recorder runs at the start of every page, before the page's scripts, and
// keeps what the project page shows each time its progress bar changes:
// the value, the GitOps counts and the phase at that very moment.
const recorder = `
window.__rec = {origin: performance.timeOrigin, seen: [], at100: null};
document.addEventListener("readystatechange", () => {
  const bar = document.getElementById("progress");
  if (document.readyState !== "interactive" || !bar) return;
  const text = (id) => document.getElementById(id).textContent.trim();
  const note = () => {
    const s = {v: Number(bar.getAttribute("value")), ns: text("count-namespaces"),
      repos: text("count-gitrepositories"), ks: text("count-kustomizations"), phase: text("phase")};
    const seen = window.__rec.seen;
    if (!seen.length || seen[seen.length - 1].v !== s.v) seen.push(s);
    if (s.v === 100 && !window.__rec.at100) window.__rec.at100 = s;
  };
  note();
  new MutationObserver(note).observe(bar, {attributes: true});
});`

// shown is one state of the project page, as the recorder saw it.
type shown struct {
	V     int    `json:"v"`
	NS    string `json:"ns"`
	Repos string `json:"repos"`
	KS    string `json:"ks"`
	Phase string `json:"phase"`
}

type recording struct {
	Origin float64 `json:"origin"`
	Seen   []shown `json:"seen"`
	At100  *shown  `json:"at100"`
}

func record(b *webtest.Browser) recording {
	return webtest.Eval[recording](b, "window.__rec")
}

// signIn signs b in with token through the sign-in form.
func signIn(t testing.TB, b *webtest.Browser, token string) {
	t.Helper()
	b.Open("/signin")
	b.Do(chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Submit(chromedp.ID("token")))
	b.Wait("the projects list", `location.pathname === "/" && document.querySelector("h1").textContent === "Projects"`, 30*time.Second)
}

func TestWebSignIn(t *testing.T) {
	s := startMain(t, "serve", storetest.URL(t, store.SQLite), nil)
	alice := s.token(t, "alice")
	bob := s.token(t, "bob")
	call(t, "POST", s.url+"/api/v1/projects", bob, createBody("bobs"), nil)

	// No session: the server sends the browser to sign in.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Errorf("GET / without a session = %d Location %q; want 303 /signin", resp.StatusCode, resp.Header.Get("Location"))
	}

	b := webtest.New(t, s.url)
	b.Open("/")
	if loc := b.Location(); loc != s.url+"/signin" {
		t.Errorf("browser at / without a session is at %s; want %s/signin", loc, s.url)
	}

	// A bad token: the form says so, and never shows the token again.
	bad := alice[:len(alice)-4] + "xxxx"
	b.Do(chromedp.SendKeys(chromedp.ID("token"), bad), chromedp.Submit(chromedp.ID("token")))
	b.Wait("the bad token's error", `document.getElementById("token-error")`, 10*time.Second)
	if msg := webtest.Eval[string](b, `document.getElementById("token-error").textContent`); !strings.Contains(msg, "not valid") {
		t.Errorf("bad token message = %q; want it to say the token is not valid", msg)
	}
	if webtest.Eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, bad)) {
		t.Error("the sign-in page shows the refused token")
	}

	signIn(t, b, alice)
	if webtest.Eval[bool](b, fmt.Sprintf(`document.cookie.includes(%q) || document.documentElement.outerHTML.includes(%q)`, alice, alice)) {
		t.Error("the token is readable from the page (cookie not HttpOnly, or written into the HTML)")
	}

	// A link from another site still finds the session, though the browser
	// does not send a SameSite=Strict cookie with it.
	b.Do(chromedp.Navigate(`data:text/html,<a id="go" href="` + s.url + `/new">new project</a>`))
	b.Do(chromedp.Click(chromedp.ID("go")))
	b.Wait("the new project form, signed in", `location.pathname === "/new" && document.getElementById("new-project")`, 10*time.Second)

	// Bob's project is not found for alice, with a 404.
	if code := b.Open("/projects/bobs"); code != http.StatusNotFound {
		t.Errorf("alice opening bob's project: status %d; want 404", code)
	}
	if title := webtest.Eval[string](b, `document.getElementById("error-title").textContent`); title != "Project not found" {
		t.Errorf("alice opening bob's project: title %q; want %q", title, "Project not found")
	}

	// Signing out ends the session: / sends to sign in again.
	b.Open("/")
	b.Do(chromedp.Click(chromedp.CSS("form.signout button")))
	b.Wait("the sign-in page", `location.pathname === "/signin"`, 10*time.Second)
	b.Open("/")
	b.Wait("the sign-in page after signing out", `location.pathname === "/signin"`, 10*time.Second)
}

// apiError returns the error the API gives for body, to compare with what
// the form shows.
func apiError(t *testing.T, s *server, token string, body map[string]any) (field, message string) {
	t.Helper()
	var e struct{ Error onramp.Error }
	if code := call(t, "POST", s.url+"/api/v1/projects", token, body, &e); code != http.StatusUnprocessableEntity {
		t.Fatalf("API create %v = %d; want 422", body, code)
	}
	return e.Error.Field, e.Error.Message
}

// fieldError returns the text of the form's message for a field.
func fieldError(b *webtest.Browser, errID string) string {
	return webtest.Eval[string](b, fmt.Sprintf(`(e => e && !e.hidden ? e.textContent : "")(document.getElementById(%q))`, errID))
}

// fillNewProject fills the new project form: name, template and exactly
// the environments given.
func fillNewProject(t *testing.T, b *webtest.Browser, name, template string, envs ...string) {
	t.Helper()
	b.Wait("the templates", `!document.getElementById("create").disabled`, 30*time.Second)
	b.Do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[name=template][value=%q]`, template))))
	webtest.Eval[bool](b, fmt.Sprintf(`(() => {
		const want = new Set(%s);
		for (const c of document.querySelectorAll("input[name=environments]")) if (!c.disabled && c.checked !== want.has(c.value)) c.click();
		return true; })()`, jsonString(envs)))
	setValue(b, "#name", name)
}

// setValue replaces an input's value by typing, as a user would.
func setValue(b *webtest.Browser, css, value string) {
	webtest.Eval[bool](b, fmt.Sprintf(`(e => { e.value = ""; return true })(document.querySelector(%q))`, css))
	b.Do(chromedp.SendKeys(chromedp.CSS(css), value))
}

func jsonString(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// TestWebProjectWithoutCluster follows a project through the pages of a
// server that has no cluster: the form's errors, creation, the live page
// up to the failure at setup_gitops, a dropped connection, the live list
// and deletion.
func TestWebProjectWithoutCluster(t *testing.T) {
	s := startMain(t, "serve", storetest.URL(t, store.SQLite), nil, "--templates-dir", "testdata/templates")
	alice := s.token(t, "alice")
	proxy := webtest.NewProxy(t, strings.TrimPrefix(s.url, "http://"))
	b := webtest.New(t, proxy.URL)
	b.OnNewDocument(recorder)
	signIn(t, b, alice)

	createWithForm(t, s, b, alice)
	watchFailure(t, s, b, alice)
	dropConnection(t, s, b, proxy, alice)
	preflightFailure(t, s, b, alice)
	narrowScreens(t, b)
	liveList(t, s, b, alice)
	deleteFromPage(t, s, b, alice, "shop")
}

// createWithForm shows the API's messages next to their fields, then
// creates "shop" with the keyboard.
func createWithForm(t *testing.T, s *server, b *webtest.Browser, token string) {
	// Hold the workers, so that the project page opens before the job runs
	// and shows every step of it; watchFailure lets them go. (The producer
	// sees the pause a few milliseconds later: long before the form is sent.)
	if err := s.app.Queue.QueuePause(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}
	b.Open("/new")
	fillNewProject(t, b, "Bad_Name", "web-service", "development", "production")
	b.Do(chromedp.Click(chromedp.ID("create")))
	b.Wait("the name's error", `!document.getElementById("err-name").hidden`, 10*time.Second)
	envs := []map[string]string{{"name": "development", "type": "development"}}
	field, msg := apiError(t, s, token, map[string]any{"name": "Bad_Name", "template": "web-service", "environments": envs})
	if got := fieldError(b, "err-name"); field != "name" || got != msg {
		t.Errorf("name error = %q; want the API's %q (field %s)", got, msg, field)
	}
	if !webtest.Eval[bool](b, `document.activeElement.id === "name" && document.getElementById("name").getAttribute("aria-invalid") === "true"`) {
		t.Error("the invalid name field is not focused and marked invalid")
	}

	setValue(b, "#name", "shop")
	setValue(b, "input[name=port]", "99999")
	b.Do(chromedp.Click(chromedp.ID("create")))
	errID := webtest.Eval[string](b, `document.querySelector("input[name=port]").dataset.errorId`)
	b.Wait("the port's error", fmt.Sprintf(`!document.getElementById(%q).hidden`, errID), 10*time.Second)
	field, msg = apiError(t, s, token, map[string]any{"name": "shop", "template": "web-service", "environments": envs, "params": map[string]string{"port": "99999"}})
	if got := fieldError(b, errID); field != "params.port" || got != msg {
		t.Errorf("port error = %q; want the API's %q (field %s)", got, msg, field)
	}
	if got := fieldError(b, "err-name"); got != "" {
		t.Errorf("the name still shows an error after it was fixed: %q", got)
	}

	setValue(b, "input[name=port]", "8080")
	b.Do(chromedp.SendKeys(chromedp.ID("name"), kb.Enter))
	b.Wait("the project page", `location.pathname === "/projects/shop" && performance.getEntriesByName("onramp:snapshot-rendered").length`, 30*time.Second)
	b.Screenshot("during")
}

// watchFailure follows the page, without reload, to the failed step.
func watchFailure(t *testing.T, s *server, b *webtest.Browser, token string) {
	b.Wait("the project waiting for a worker", `document.getElementById("phase").textContent === "initializing" &&
		document.getElementById("current-step").textContent.startsWith("Waiting for a worker")`, 10*time.Second)
	origin := record(b).Origin
	if err := s.app.Queue.QueueResume(context.Background(), river.QueueDefault, nil); err != nil {
		t.Fatal(err)
	}
	b.Wait("the failed phase", `document.getElementById("phase").textContent === "failed" && !document.getElementById("failure").hidden`, time.Minute)
	b.Screenshot("after")
	p, _ := getProject(t, s, token, "shop")
	rec := record(b)
	t.Logf("progress shown: %+v", rec.Seen)
	if rec.Origin != origin {
		t.Error("the project page reloaded; it must update in place")
	}
	for i := 1; i < len(rec.Seen); i++ {
		if rec.Seen[i].V < rec.Seen[i-1].V {
			t.Errorf("progress went backwards: %+v", rec.Seen)
		}
	}
	if last := rec.Seen[len(rec.Seen)-1]; last.V != p.Progress || p.Progress != 30 {
		t.Errorf("page progress = %d, API %d; want both 30 (render, repository, push)", last.V, p.Progress)
	}
	if len(rec.Seen) < 3 || rec.Seen[0].V != 0 || rec.Seen[0].Phase != "initializing" {
		t.Errorf("the progress bar did not move from 0%% through the steps to 30%%: %+v", rec.Seen)
	}
	step := p.Steps[3]
	got := webtest.Eval[[]string](b, `["failure-step", "failure-error", "failure-hint"].map(id => document.getElementById(id).textContent)`)
	if got[0] != "setup_gitops" || step.Name != "setup_gitops" || got[1] != step.Error || got[2] != "Hint: "+step.Hint || !strings.Contains(got[2], "KUBECONFIG") {
		t.Errorf("failure shown = %q; want setup_gitops, %q, Hint: %q", got, step.Error, step.Hint)
	}
	if cls := webtest.Eval[string](b, `document.querySelector('#steps li[data-step="setup_gitops"]').className`); !strings.Contains(cls, "step-failed") {
		t.Errorf("setup_gitops in the timeline has class %q; want step-failed", cls)
	}
	var logs struct{ Lines []onramp.LogLine }
	call(t, "GET", s.url+"/api/v1/projects/shop/logs", token, nil, &logs)
	b.Wait("every log line", fmt.Sprintf(`document.querySelectorAll("#log li").length === %d`, len(logs.Lines)), 10*time.Second)
	if !webtest.Eval[bool](b, `!document.getElementById("retry").hidden`) {
		t.Error("a failed project offers no retry")
	}
}

// preflightFailure shows a template that does not build failing at its
// first step, with the message and the hint.
func preflightFailure(t *testing.T, s *server, b *webtest.Browser, token string) {
	b.Open("/new")
	fillNewProject(t, b, "broken", "param-base", "development")
	setValue(b, "input[name=base]", "../../missing")
	b.Do(chromedp.Click(chromedp.ID("create")))
	b.Wait("the failed first step", `location.pathname === "/projects/broken" && document.getElementById("phase").textContent === "failed" &&
		document.getElementById("failure-step").textContent === "render_template"`, time.Minute)
	p, _ := getProject(t, s, token, "broken")
	step := p.Steps[0]
	got := webtest.Eval[[]string](b, `["failure-error", "failure-hint"].map(id => document.getElementById(id).textContent)`)
	if got[0] != step.Error || got[1] != "Hint: "+step.Hint || step.Hint == "" || !strings.Contains(got[0], `environment "development"`) {
		t.Errorf("preflight failure shown = %q; want %q and Hint: %q", got, step.Error, step.Hint)
	}
	b.Screenshot("preflight")
}

// dropConnection cuts the page's connection: the page says so, and once it
// is back it shows the lines written meanwhile, each exactly once.
func dropConnection(t *testing.T, s *server, b *webtest.Browser, proxy *webtest.Proxy, token string) {
	origin := record(b).Origin
	proxy.Cut()
	b.Wait("the connection-lost banner", `(e => !e.hidden && e.classList.contains("banner-lost"))(document.getElementById("banner"))`, 10*time.Second)
	b.Screenshot("connection-lost")
	p, err := s.app.DB.FindProject(context.Background(), "alice", "shop")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.app.DB.Log(context.Background(), p.ID, "", "info", fmt.Sprintf("written while the page was cut off (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Restore()
	b.Wait("the connection-restored banner", `(e => !e.hidden && e.classList.contains("banner-restored"))(document.getElementById("banner"))`, 20*time.Second)
	b.Wait("the lines written while cut off", `[...document.querySelectorAll("#log li")].filter(li => li.textContent.includes("while the page was cut off")).length === 3`, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // time for a duplicate to show, if any
	var logs struct{ Lines []onramp.LogLine }
	call(t, "GET", s.url+"/api/v1/projects/shop/logs", token, nil, &logs)
	ids := webtest.Eval[[]string](b, `[...document.querySelectorAll("#log li")].map(li => li.dataset.id)`)
	if len(ids) != len(logs.Lines) {
		t.Errorf("the page shows %d log lines after reconnecting; the API has %d", len(ids), len(logs.Lines))
	}
	for i, l := range logs.Lines {
		if i < len(ids) && ids[i] != fmt.Sprint(l.ID) {
			t.Errorf("log line %d on the page is #%s; want #%d (in order, once each)", i, ids[i], l.ID)
			break
		}
	}
	if record(b).Origin != origin {
		t.Error("the page reloaded to recover from the cut")
	}
}

// narrowScreens checks that no page scrolls sideways on a phone.
func narrowScreens(t *testing.T, b *webtest.Browser) {
	b.Do(chromedp.EmulateViewport(360, 780, chromedp.EmulateMobile, chromedp.EmulateTouch))
	defer b.Do(chromedp.EmulateViewport(1280, 900))
	for _, path := range []string{"/projects/shop", "/", "/new"} {
		b.Open(path)
		b.Wait("the page's content", `document.querySelector("main").textContent.trim() && !document.querySelector("#loading:not([hidden])")`, 10*time.Second)
		time.Sleep(300 * time.Millisecond)
		wide := webtest.Eval[[]string](b, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).map(e => e.tagName + "#" + e.id + "." + e.className)`)
		if len(wide) > 0 {
			t.Errorf("%s on a 360px screen: elements stick out on the right: %q", path, wide)
		}
		b.Screenshot("narrow-" + strings.Trim(strings.ReplaceAll(path, "/", "-"), "-"))
	}
}

// liveList checks that the list shows a project created elsewhere, newest
// first, without reload.
func liveList(t *testing.T, s *server, b *webtest.Browser, token string) {
	b.Open("/")
	b.Wait("shop in the list", `document.querySelector('li[data-name="shop"] .badge.phase').textContent === "failed"`, 10*time.Second)
	origin := record(b).Origin
	if code := call(t, "POST", s.url+"/api/v1/projects", token, createBody("other"), nil); code != http.StatusAccepted {
		t.Fatalf("create other = %d", code)
	}
	b.Wait("the new project, first", `document.querySelector("#projects li").dataset.name === "other"`, 10*time.Second)
	if record(b).Origin != origin {
		t.Error("the list reloaded; it must update in place")
	}
	if got := webtest.Eval[string](b, `document.querySelector('li[data-name="shop"] .progress-text').textContent`); got != "30%" {
		t.Errorf("shop's progress in the list = %q; want 30%%", got)
	}
}

// deleteFromPage deletes a project with its page's button, using the
// keyboard, and follows it until it is gone and the list no longer has it.
func deleteFromPage(t *testing.T, s *server, b *webtest.Browser, token, name string) {
	b.Open("/projects/" + name)
	b.Wait("the delete button", `!document.getElementById("delete").disabled`, 10*time.Second)
	// With the keyboard: the dialog opens on Cancel, the safe choice.
	b.Do(chromedp.Focus(chromedp.ID("delete")), chromedp.KeyEvent(kb.Enter))
	b.Wait("the confirmation, on Cancel", `document.getElementById("confirm-delete").open && document.activeElement.value === "cancel"`, 5*time.Second)
	b.Do(chromedp.KeyEvent(kb.Tab))
	b.Wait("the focus on Delete", `document.activeElement.id === "confirm-delete-button"`, 5*time.Second)
	had := webtest.Eval[string](b, `document.getElementById("count-kustomizations").textContent`) != "0"
	b.Do(chromedp.KeyEvent(kb.Enter))
	if had {
		// Kustomizations go first and Namespaces take seconds: meanwhile
		// the page counts down with the cluster and no environment is
		// said ready.
		b.Wait("the Kustomizations gone and every environment deleting",
			`document.getElementById("count-kustomizations").textContent === "0" && `+envBadges+`.split(",").every(s => s === "deleting")`, time.Minute)
	}
	b.Wait("the list after deletion", `location.pathname === "/" && !document.getElementById("flash").hidden`, 2*time.Minute)
	if msg := webtest.Eval[string](b, `document.getElementById("flash").textContent`); !strings.Contains(msg, name+" was deleted") {
		t.Errorf("flash after deletion = %q", msg)
	}
	b.Wait("the list without "+name, fmt.Sprintf(`document.getElementById("loading").hidden && !document.querySelector('li[data-name=%q]')`, name), 10*time.Second)
	if _, code := getProject(t, s, token, name); code != http.StatusNotFound {
		t.Errorf("GET %s after the page said deleted = %d; want 404", name, code)
	}
}

// envBadges is the status badge of each environment on the project page.
const envBadges = `[...document.querySelectorAll("#environments .env h3 .badge")].map(e => e.textContent).join(",")`

// explainFailure logs what the API says of the project if the test fails,
// to tell a page that lags from a project that never got there.
func explainFailure(t *testing.T, s *server, token, name string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		p, code := getProject(t, s, token, name)
		t.Logf("the API says (%d): phase %s, %d%%, environments %+v", code, p.Phase, p.Progress, p.Environments)
		for _, r := range p.GitOps.Resources {
			if r.Kind == onramp.KindKustomization || r.Kind == onramp.KindGitRepository {
				t.Logf("  %s %s/%s: %s %s %q revision %s", r.Kind, r.Namespace, r.Name, r.Status, r.Reason, r.Message, r.Revision)
			}
		}
	})
}

// TestWebSeedPlan initializes a project end to end, in a real browser against a
// real control plane with Flux: create a project with three environments in
// the form and, without reload, watch the bar move; when it first shows
// 100%, the page already shows 3 namespaces, 3 git repositories and 3
// kustomizations; then each environment turns ready as Flux reports it.
func TestWebSeedPlan(t *testing.T) {
	s := startCluster(t, store.SQLite)
	token := s.token(t, "alice")
	b := webtest.New(t, s.url)
	b.OnNewDocument(recorder)
	signIn(t, b, token)
	name := uniqueName("seed")
	explainFailure(t, s, token, name)

	b.Open("/new")
	fillNewProject(t, b, name, "web-service", "development", "staging", "production")
	b.Do(chromedp.Click(chromedp.ID("create")))
	b.Wait("the project page", fmt.Sprintf(`location.pathname === "/projects/%s" && performance.getEntriesByName("onramp:snapshot-rendered").length`, name), 30*time.Second)
	origin := record(b).Origin
	b.Screenshot("during")
	b.Wait("100%", `document.getElementById("progress").getAttribute("value") === "100"`, 2*time.Minute)
	rec := record(b)
	t.Logf("progress shown: %+v", rec.Seen)
	if len(rec.Seen) < 3 {
		t.Errorf("the progress bar did not move step by step: %+v", rec.Seen)
	}
	for i := 1; i < len(rec.Seen); i++ {
		if rec.Seen[i].V < rec.Seen[i-1].V {
			t.Errorf("progress went backwards: %+v", rec.Seen)
		}
	}
	if a := rec.At100; a == nil || a.NS != "3" || a.Repos != "3" || a.KS != "3" {
		t.Errorf("at the first moment of 100%% the page showed %+v; want 3 namespaces, 3 git repositories, 3 kustomizations", a)
	}

	b.Wait("every environment ready", envBadges+` === "ready,ready,ready" && document.getElementById("phase").textContent === "ready"`, 3*time.Minute)
	b.Screenshot("after")
	if record(b).Origin != origin {
		t.Error("the project page reloaded; it must update in place")
	}
	p, _ := getProject(t, s, token, name)
	revs := webtest.Eval[[]string](b, `[...document.querySelectorAll('#environments tr[data-key^="Kustomization/"] td:nth-child(6)')].map(td => td.textContent)`)
	if p.Phase != onramp.PhaseReady || len(revs) != 3 {
		t.Errorf("API phase %s, page Kustomization revisions %q; want ready and 3", p.Phase, revs)
	}
	for _, r := range revs {
		if r != p.Repository.Revision {
			t.Errorf("page shows a Kustomization at %q; want the pushed %q", r, p.Repository.Revision)
		}
	}
	b.Wait("the status history", `document.querySelectorAll("#history tbody tr").length > 0`, 10*time.Second)

	deleteFromPage(t, s, b, token, name)
	if left := clusterObjects(t, kubeClient(t), name); len(left[onramp.KindNamespace])+len(left[onramp.KindKustomization]) > 0 {
		t.Errorf("the list dropped %s but the cluster still has %v", name, left)
	}
}

// TestWebDegradedThenRetry moves a Kustomization's path behind onramp's
// back: the page turns degraded without reload, names the cause, and its
// Retry button brings the project back to ready.
func TestWebDegradedThenRetry(t *testing.T) {
	s := startCluster(t, store.SQLite)
	token := s.token(t, "alice")
	name := readyProject(t, s, token)
	explainFailure(t, s, token, name)
	b := webtest.New(t, s.url)
	b.OnNewDocument(recorder)
	signIn(t, b, token)
	b.Open("/projects/" + name)
	b.Wait("the ready project", `document.getElementById("phase").textContent === "ready"`, 30*time.Second)
	origin := record(b).Origin

	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name}}
	patch := []byte(`{"spec":{"path":"./deploy/overlays/moved"},"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := kubeClient(t).Patch(context.Background(), ks, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	row := `document.querySelector('#env-development tr[data-key^="Kustomization/"]')`
	b.Wait("the degraded project", `document.getElementById("phase").textContent === "degraded" && `+row+`.cells[2].textContent === "failed"`, 2*time.Minute)
	b.Screenshot("degraded")
	if msg := webtest.Eval[string](b, row+`.cells[4].textContent`); !strings.Contains(msg, "kustomization path not found") || !strings.Contains(msg, "Hint: ") {
		t.Errorf("the Kustomization's message on the page = %q; want the path not found and a hint", msg)
	}
	b.Wait("the failure in the history", `[...document.querySelectorAll("#history tbody tr")].some(tr => tr.textContent.includes("→ failed"))`, 10*time.Second)

	b.Do(chromedp.Click(chromedp.ID("retry")))
	b.Wait("the repaired project", `document.getElementById("phase").textContent === "ready" && `+envBadges+` === "ready"`, 2*time.Minute)
	b.Screenshot("repaired")
	if record(b).Origin != origin {
		t.Error("the project page reloaded; it must update in place")
	}
}

// latencyProbe records, for each log line the page adds, the time from the
// server writing it (the line's own timestamp) to the page showing it: the
// DOM insertion, and the next animation frame, when it is painted.
const latencyProbe = `(() => {
  window.__lat = [];
  const server = (iso) => {
    const frac = /\.(\d+)Z$/.exec(iso);
    return Date.parse(iso.replace(/\.\d+Z$/, "Z")) + (frac ? Number("0." + frac[1]) * 1000 : 0);
  };
  new MutationObserver((muts) => {
    const inserted = performance.timeOrigin + performance.now();
    for (const m of muts) for (const n of m.addedNodes) {
      if (!n.textContent || !n.textContent.includes("bench line")) continue;
      const at = server(n.querySelector("time").getAttribute("datetime"));
      requestAnimationFrame(() => window.__lat.push({dom: inserted - at, shown: performance.timeOrigin + performance.now() - at}));
    }
  }).observe(document.getElementById("log"), {childList: true});
  return true;
})()`

// BenchmarkWebLiveUpdates prints, measured in a real browser on loopback:
// the time from the server writing an event to the project page showing it
// (p50 and p99 over 200 events per iteration), and the project page's weight
// and time to first render with an empty cache. Run it with
//
//	go test ./cmd/onramp -run '^$' -bench WebLiveUpdates -benchtime 1x
func BenchmarkWebLiveUpdates(b *testing.B) {
	s := startMain(b, "serve", storetest.URL(b, store.SQLite), nil)
	token := s.token(b, "alice")
	if code := call(b, "POST", s.url+"/api/v1/projects", token, createBody("bench"), nil); code != http.StatusAccepted {
		b.Fatalf("create = %d", code)
	}
	waitFor(b, func() bool { p, _ := getProject(b, s, token, "bench"); return p.Phase == onramp.PhaseFailed })
	br := webtest.New(b, s.url)
	signIn(b, br, token)
	br.DisableCache()
	br.Open("/projects/bench")
	br.Wait("the live page", `performance.getEntriesByName("onramp:snapshot-rendered").length && document.querySelectorAll("#log li").length`, 30*time.Second)
	w := webtest.PageWeight(br, "onramp:snapshot-rendered")
	webtest.Eval[bool](br, latencyProbe)
	p, err := s.app.DB.FindProject(context.Background(), "alice", "bench")
	if err != nil {
		b.Fatal(err)
	}

	const perRound = 200
	b.ResetTimer()
	for round := range b.N {
		for i := range perRound {
			if err := s.app.DB.Log(context.Background(), p.ID, "", "info", fmt.Sprintf("bench line %d.%d", round, i)); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Duration(7*i%31) * time.Millisecond) // spread over the stream's polls
		}
		br.Wait("every line", fmt.Sprintf(`window.__lat.length === %d`, (round+1)*perRound), 30*time.Second)
	}
	b.StopTimer()
	type sample struct{ DOM, Shown float64 }
	lat := webtest.Eval[[]sample](br, `window.__lat`)
	dom, shown := make([]float64, len(lat)), make([]float64, len(lat))
	for i, l := range lat {
		dom[i], shown[i] = l.DOM, l.Shown
	}
	b.ReportMetric(webtest.Percentile(shown, 50), "p50-shown-ms")
	b.ReportMetric(webtest.Percentile(shown, 99), "p99-shown-ms")
	b.ReportMetric(float64(w.Total()), "page-bytes")
	b.ReportMetric(w.FCP, "first-paint-ms")
	b.ReportMetric(w.Mark, "live-ms")
	b.Logf("event to page over %d events: shown p50 %.1f ms, p99 %.1f ms; in the DOM p50 %.1f ms, p99 %.1f ms",
		len(lat), webtest.Percentile(shown, 50), webtest.Percentile(shown, 99), webtest.Percentile(dom, 50), webtest.Percentile(dom, 99))
	b.Logf("project page, empty cache: %d bytes (HTML %d, static %d, API %d); first contentful paint %.0f ms, snapshot rendered %.0f ms",
		w.Total(), w.HTML, w.Static, w.API, w.FCP, w.Mark)
}

// TestWebNewProjectOnGitConnection offers the user's git connections on
// the new project form, and creates the project on the one chosen.
func TestWebNewProjectOnGitConnection(t *testing.T) {
	s := startMain(t, "serve", storetest.URL(t, store.SQLite), nil, "--templates-dir", "testdata/templates", "--workers", "0")
	alice := s.token(t, "alice")
	in := onramp.GitConnectionCreate{Name: "acme", Kind: "gitea", URL: "https://git.acme.test", Owner: "platform", Token: "never-shown-3f9a"}
	if _, err := s.app.DB.CreateGitConnection(context.Background(), "alice", in, "alice"); err != nil {
		t.Fatal(err)
	}
	b := webtest.New(t, s.url)
	signIn(t, b, alice)
	b.Open("/new")
	b.Wait("the connection offered", `[...document.querySelectorAll("#git option")].some(o => o.value === "acme")`, 10*time.Second)
	if webtest.Eval[bool](b, `document.body.innerHTML.includes("never-shown-3f9a")`) {
		t.Error("the page shows the connection's token")
	}
	fillNewProject(t, b, "on-acme", "web-service", "development")
	webtest.Eval[bool](b, `(s => { s.value = "acme"; return true })(document.getElementById("git"))`)
	b.Do(chromedp.Click(chromedp.ID("create")))
	b.Wait("the project page", `location.pathname === "/projects/on-acme"`, 30*time.Second)
	if p, code := getProject(t, s, alice, "on-acme"); code != 200 || p.Git != "acme" {
		t.Errorf("the project created with the form: %d, git %q; want it on acme", code, p.Git)
	}
}
