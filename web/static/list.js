// The projects list. It polls GET /api/v1/projects every second while the
// tab is visible and updates the rows in place, keyed by project name. One
// request covers every project and also shows new and deleted ones; an event
// stream per project would hold one of the browser's six connections to this
// host per row.
"use strict";

(function () {
  const { h, setText, setAttr, badge, envStatus, shownProgress, api, errorMessage, banner, flash } = onramp;
  const list = document.getElementById("projects");
  const rows = new Map();
  const every = 1000;
  let timer = 0, inflight = false, failing = false;

  function row(p) {
    const li = h("li", { class: "card", "data-name": p.name });
    const link = h("a", { href: "/projects/" + encodeURIComponent(p.name), class: "card-title" }, p.name);
    const phase = badge(p.phase, "phase");
    const bar = h("progress", { max: 100, value: p.progress, "aria-label": p.name + " progress" });
    const pct = h("span", { class: "progress-text" });
    const envs = h("ul", { class: "env-chips", "aria-label": "Environments" });
    const meta = h("p", { class: "muted small" });
    li.append(h("div", { class: "card-head" }, link, phase), h("div", { class: "progress-line" }, bar, pct), envs, meta);
    li.refs = { phase, bar, pct, envs, meta, envKey: "" };
    return li;
  }

  function update(li, p) {
    const r = li.refs;
    setAttr(r.phase, "class", "badge phase st-" + p.phase);
    setText(r.phase, p.phase);
    setAttr(r.bar, "value", shownProgress(p));
    setText(r.pct, shownProgress(p) + "%");
    setText(r.meta, p.template + " · created " + new Date(p.created_at).toLocaleString());
    const envs = (p.environments || []).map((e) => [e.name, envStatus(p, e)]);
    const key = JSON.stringify(envs);
    if (key !== r.envKey) {
      r.envKey = key;
      r.envs.replaceChildren(...envs.map(([name, st]) => h("li", { class: "chip" }, name + " ", badge(st))));
    }
  }

  // render puts the rows in the server's order (newest first), reusing
  // each project's row so that focus and scroll stay where they were.
  function render(projects) {
    const seen = new Set();
    let prev = null;
    for (const p of projects) {
      seen.add(p.name);
      let li = rows.get(p.name);
      if (!li) rows.set(p.name, (li = row(p)));
      update(li, p);
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== li) list.insertBefore(li, want);
      prev = li;
    }
    for (const [name, li] of rows) {
      if (!seen.has(name)) { li.remove(); rows.delete(name); }
    }
    document.getElementById("loading").hidden = true;
    document.getElementById("empty").hidden = projects.length > 0;
  }

  async function tick() {
    if (document.hidden || inflight) return;
    inflight = true;
    try {
      const r = await api("/api/v1/projects?limit=100");
      if (!r.ok) throw new Error(errorMessage(r));
      render(r.body.projects);
      document.getElementById("more").hidden = !r.body.next_cursor;
      if (failing) { failing = false; banner.restored("Connection to onramp restored; the list is live again."); }
    } catch (e) {
      if (!failing) { failing = true; banner.lost("Lost the connection to onramp (" + e.message + "); retrying every second…"); }
    } finally {
      inflight = false;
    }
    kick(every);
  }

  function kick(delay) {
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
  }

  document.addEventListener("visibilitychange", () => { if (!document.hidden) kick(0); });
  const msg = flash.take();
  if (msg) {
    const el = document.getElementById("flash");
    setText(el, msg);
    el.hidden = false;
  }
  kick(0);
})();
