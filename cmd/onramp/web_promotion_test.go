package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/web/webtest"
)

// stage is the pipeline card of an environment, as a JavaScript expression.
func stage(env string) string {
	return fmt.Sprintf(`document.querySelector('#pipeline .stage[data-env=%q]')`, env)
}

// readyAt is true when env's card says ready at rev, shown as its short
// form with the whole revision on hover.
func readyAt(env, rev string) string {
	return fmt.Sprintf(`(s => s.querySelector(".stage-head .badge").textContent === "ready" && s.querySelector(".stage-rev .rev").title === %q &&
		s.querySelector(".stage-rev .rev").innerText === %q)(%s)`, rev, onramp.ShortRevision(rev), stage(env))
}

// openProject opens the project page and waits for its pipeline, its
// promotions and its members.
func openProject(b *webtest.Browser, name string) {
	b.Open("/projects/" + name)
	b.Wait("the pipeline and the members", `performance.getEntriesByName("onramp:snapshot-rendered").length &&
		document.querySelectorAll("#pipeline .stage .stage-head").length === 3 && document.querySelectorAll("#members li").length === 3`, 30*time.Second)
}

// TestWebPromotion promotes and approves on the project page, against the
// real control plane and Flux: alice promotes a pushed commit to staging,
// then to production, where it waits; her own approval is refused with the
// API's reason; bob approves from his own browser and both pages show
// production Ready at the commit without reload; carol, a viewer, gets no
// Promote or Roll back button.
func TestWebPromotion(t *testing.T) {
	start := time.Now()
	tm := newTeam(t, storetest.Engines()[0])
	explainFailure(t, tm.s, tm.alice, tm.name)
	t.Logf("ready three-environment project in %s", time.Since(start).Round(time.Millisecond))

	a := webtest.New(t, tm.s.url)
	a.OnNewDocument(recorder)
	signIn(t, a, tm.alice)
	openProject(a, tm.name)
	a.Wait("every environment ready at the initial revision", readyAt("development", tm.initial)+" && "+readyAt("staging", tm.initial)+" && "+
		readyAt("production", tm.initial), time.Minute)
	origin := record(a).Origin
	if got := webtest.Eval[[]bool](a, `[...document.querySelectorAll("#pipeline .stage")].map(s => !s.querySelector("button.promote").hidden)`); fmt.Sprint(got) != "[false true true]" {
		t.Errorf("Promote shown per environment = %v; want on staging and production only", got)
	}

	// A push reaches development only; the page follows it.
	c1 := tm.push(t, "Say hello\n\nwith a body the card leaves out", false)
	a.Wait("development ready at the pushed commit", readyAt("development", c1)+` && `+stage("development")+`.querySelector(".stage-commit").textContent === "Say hello"`, time.Minute)
	if got := webtest.Eval[string](a, stage("staging")+`.querySelector("button.promote").textContent`); got != "Promote "+onramp.ShortRevision(c1) {
		t.Errorf("staging's button = %q; want it to name development's revision", got)
	}

	// Staging: no approval needed, done when Flux is Ready there.
	a.Do(chromedp.Click(chromedp.CSS(`#pipeline .stage[data-env="staging"] button.promote`)))
	a.Wait("staging's promotion done and staging ready at the commit", readyAt("staging", c1)+` && `+stage("staging")+
		`.querySelector(".stage-promo .badge").textContent === "done"`, time.Minute)
	if got := webtest.Eval[string](a, stage("staging")+`.querySelector(".stage-deployed").textContent`); !strings.HasPrefix(got, "deployed by alice") {
		t.Errorf("staging's card says %q; want deployed by alice", got)
	}

	// Production waits for a teammate's approval; alice's own is refused.
	a.Do(chromedp.Click(chromedp.CSS(`#pipeline .stage[data-env="production"] button.promote`)))
	a.Wait("the promotion waiting for approval", `!document.getElementById("approvals-box").hidden && document.querySelectorAll("#approvals li").length === 1`, 10*time.Second)
	if got := webtest.Eval[string](a, stage("production")+`.querySelector(".stage-answer").textContent`); !strings.Contains(got, "waits for 1 approval") {
		t.Errorf("production's answer = %q; want it to wait for 1 approval", got)
	}
	pr := tm.latest(t, "production")
	if pr.Status != onramp.PromotionWaiting || pr.Revision != c1 {
		t.Fatalf("production's promotion = %s at %s; want waiting at %s", pr.Status, pr.Revision, c1)
	}
	_, want := tm.approve(t, tm.alice, pr.ID) // the API's reason, to compare
	a.Do(chromedp.Click(chromedp.CSS(`#approvals button.approve`)))
	a.Wait("the refusal of alice's own approval", `document.querySelector("#approvals .stage-answer").classList.contains("bad")`, 10*time.Second)
	if got := webtest.Eval[string](a, `document.querySelector("#approvals .stage-answer").textContent`); got != want || want == "" {
		t.Errorf("alice's approval shows %q; want the API's %q", got, want)
	}

	// Bob approves from his own browser.
	b := webtest.New(t, tm.s.url)
	signIn(t, b, tm.bob)
	openProject(b, tm.name)
	b.Wait("the waiting promotion", fmt.Sprintf(`document.querySelector('#approvals li[data-id="%d"] button.approve:not([hidden])')`, pr.ID), 10*time.Second)
	b.Do(chromedp.Click(chromedp.CSS(`#approvals button.approve`)))
	b.Wait("production ready at the commit on bob's page", readyAt("production", c1)+` && document.getElementById("approvals-box").hidden`, time.Minute)
	a.Wait("production ready at the commit on alice's page", readyAt("production", c1)+` && document.getElementById("approvals-box").hidden && `+
		stage("production")+`.querySelector(".stage-promo .badge").textContent === "done"`, 30*time.Second)
	if got := tm.applied(t, "production"); got != c1 {
		t.Errorf("production's Kustomization applied %s; want %s", got, c1)
	}
	if record(a).Origin != origin {
		t.Error("alice's page reloaded; it must update in place")
	}
	a.Do(chromedp.Click(chromedp.CSS(`#promotions-box summary`)))
	if got := webtest.Eval[string](a, `[...document.querySelectorAll("#promotions tbody tr")].map(tr => tr.cells[1].textContent + " " + tr.cells[5].textContent + " " + tr.cells[7].textContent).join("; ")`); got != "production done bob; staging done not needed" {
		t.Errorf("the audit trail on the page = %q; want production done approved by bob, then staging", got)
	}
	a.Screenshot("promoted")

	// Carol, a viewer, sees the pipeline without its buttons.
	b.Do(chromedp.Click(chromedp.CSS("form.signout button")))
	b.Wait("the sign-in page", `location.pathname === "/signin"`, 10*time.Second)
	signIn(t, b, tm.carol)
	openProject(b, tm.name)
	b.Wait("production ready at the commit on carol's page", readyAt("production", c1), 10*time.Second)
	if n := webtest.Eval[int](b, `[...document.querySelectorAll("#pipeline button.promote, #pipeline button.rollback, #retry, #delete")].filter(e => !e.hidden).length`); n != 0 {
		t.Errorf("a viewer sees %d Promote, Roll back, Retry or Delete buttons; want none", n)
	}
	if !webtest.Eval[bool](b, `document.getElementById("member-form").hidden`) {
		t.Error("a viewer is offered the members form")
	}
	t.Logf("promoted and approved on the page in %s", time.Since(start).Round(time.Millisecond))
}

// latest is env's newest promotion.
func (tm *team) latest(t *testing.T, env string) onramp.Promotion {
	t.Helper()
	var trail struct{ Promotions []onramp.Promotion }
	if code := call(t, "GET", tm.s.url+"/api/v1/projects/"+tm.name+"/promotions?environment="+env, tm.alice, nil, &trail); code != 200 || len(trail.Promotions) == 0 {
		t.Fatalf("%s's promotions = %d, %d of them", env, code, len(trail.Promotions))
	}
	return trail.Promotions[0]
}
