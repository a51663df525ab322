// Rendering of the project page from the project's state. Every function
// updates the DOM in place (same rows, changed cells only), so that live
// updates do not move focus or scroll. project.js calls them on each event.
"use strict";

var projectView = (function () {
  const { h, setText, setAttr, badge, setBadge, envStatus, shownProgress, timeEl, duration, rev, commitOf } = onramp;
  const $ = (id) => document.getElementById(id);
  const isDelete = (s) => s.name.startsWith("delete_");

  // may reports whether the caller's role allows what needs role need; a
  // project read without a role is the caller's own.
  const ranks = { viewer: 1, deployer: 2, admin: 3 };
  function may(p, need) { return !p.role || (ranks[p.role] || 0) >= ranks[need]; }

  // header shows the phase and the actions that make sense now and that
  // the caller's role allows.
  function header(p) {
    setBadge($("phase"), p.phase);
    setText($("role"), p.role ? "you are " + p.role : "");
    $("retry").hidden = !(p.phase === "failed" || p.phase === "degraded") || !may(p, "deployer");
    $("delete").hidden = !may(p, "admin");
    $("delete").disabled = p.phase === "deleting";
    setText($("repo-url"), (p.repository && p.repository.url) || "not created yet");
    const revision = (p.repository && p.repository.revision) || "";
    setText($("repo-revision"), revision ? commitOf(revision).slice(0, 7) : "none yet");
    setAttr($("repo-revision"), "title", revision);
  }

  // progress shows the initialization's progress, or the deletion's while
  // the project is being deleted, and the current step.
  function progress(p) {
    const value = shownProgress(p), label = p.phase === "deleting" ? "Deleting" : "Progress";
    // Once set up, the pipeline says how the environments are.
    $("progress-box").hidden = ["ready", "provisioned", "degraded"].includes(p.phase);
    setAttr($("progress"), "value", value);
    setText($("progress"), value + "%");
    setText($("progress-text"), value + "%");
    setText($("progress-label"), label);
    setText($("current-step"), currentStep(p));
    failure(p);
  }

  function currentStep(p) {
    const steps = p.phase === "deleting" ? p.steps.filter(isDelete) : p.steps.filter((s) => !isDelete(s));
    const running = steps.find((s) => s.status === "running");
    const failed = steps.find((s) => s.status === "failed");
    if (failed && !running) return "Stopped at " + failed.name;
    if (running) return "Running " + running.name + "…";
    switch (p.phase) {
      case "deleting": return "Waiting for the deletion to start…";
      case "initializing": return p.progress > 0 ? "Between steps…" : "Waiting for a worker…";
      case "provisioned": return "Every resource exists; waiting for Flux to report each environment ready.";
      case "ready": return "Deployed: Flux reports every environment ready.";
      case "degraded": return "An environment is failing or stalled; see its resources below.";
      default: return "";
    }
  }

  function failure(p) {
    const active = p.phase === "deleting" ? p.steps.filter(isDelete) : p.steps.filter((s) => !isDelete(s));
    const f = active.find((s) => s.status === "failed");
    $("failure").hidden = !f;
    if (!f) return;
    setText($("failure-step"), f.name);
    setText($("failure-error"), f.error);
    setText($("failure-hint"), f.hint ? "Hint: " + f.hint : "");
  }

  // steps keeps one list item per step, in the server's order.
  function steps(p) {
    const list = $("steps");
    p.steps.forEach((s, i) => {
      let li = list.children[i];
      if (!li || li.dataset.step !== s.name) {
        li = h("li", { class: "step", "data-step": s.name });
        li.refs = { status: badge(s.status), name: h("code", {}, s.name), dur: h("span", { class: "muted dur" }),
          error: h("p", { class: "step-error" }), hint: h("p", { class: "hint" }) };
        li.append(h("div", { class: "step-line" }, li.refs.status, li.refs.name, li.refs.dur), li.refs.error, li.refs.hint);
        list.insertBefore(li, list.children[i] || null);
      }
      setAttr(li, "class", "step step-" + s.status);
      setBadge(li.refs.status, s.status);
      setText(li.refs.dur, stepDuration(s));
      setText(li.refs.error, s.error || "");
      setText(li.refs.hint, s.hint ? "Hint: " + s.hint : "");
    });
    while (list.children.length > p.steps.length) list.lastChild.remove();
  }

  function stepDuration(s) {
    if (!s.started_at) return "";
    const start = Date.parse(s.started_at);
    if (s.finished_at) return duration(Date.parse(s.finished_at) - start);
    return s.status === "running" ? "running for " + duration(Date.now() - start) : "";
  }

  // gitops shows the counts and one table per environment.
  function gitops(p) {
    setText($("count-namespaces"), p.gitops.namespaces);
    setText($("count-gitrepositories"), p.gitops.gitRepositories);
    setText($("count-kustomizations"), p.gitops.kustomizations);
    const box = $("environments");
    const names = p.environments.map((e) => e.name);
    for (const r of p.gitops.resources) if (!names.includes(r.environment)) names.push(r.environment);
    for (const name of names) {
      const env = p.environments.find((e) => e.name === name) || { name, status: "pending", namespace: "", path: "" };
      environment(box, p, env);
    }
  }

  function environment(box, p, env) {
    const id = "env-" + env.name;
    let sec = document.getElementById(id);
    if (!sec) {
      const status = badge("pending");
      const tbody = h("tbody");
      const table = h("table", { class: "table stack", hidden: true },
        h("thead", {}, h("tr", {}, ...["Kind", "Name", "Status", "Reason", "Message", "Revision", "Observed"].map((c) => h("th", { scope: "col" }, c)))),
        tbody);
      const none = h("p", { class: "muted" });
      sec = h("section", { id, class: "env", "aria-label": "Environment " + env.name },
        h("h3", {}, env.name + " ", status),
        h("p", { class: "muted small" }, "namespace ", h("code", {}, env.namespace || "—"), " · path ", h("code", {}, env.path || "—")),
        none, h("div", { class: "table-wrap" }, table));
      sec.refs = { status, tbody, table, none, rows: new Map() };
      box.append(sec);
    }
    setBadge(sec.refs.status, envStatus(p, env));
    const res = p.gitops.resources.filter((r) => r.environment === env.name).sort(byApplyOrder);
    sec.refs.table.hidden = res.length === 0;
    sec.refs.none.hidden = res.length > 0;
    setText(sec.refs.none, p.phase === "deleting" ? "Nothing of this environment is left in the cluster."
      : "No resources yet: they appear here as onramp creates them.");
    res.forEach((r, i) => resourceRow(sec.refs, r, i));
    // A resource its project's deletion saw gone leaves its row.
    const keys = new Set(res.map(rowKey));
    for (const [key, tr] of sec.refs.rows) {
      if (!keys.has(key)) { tr.remove(); sec.refs.rows.delete(key); }
    }
  }

  function rowKey(r) { return r.kind + "/" + (r.namespace || "") + "/" + r.name; }

  // Resources are listed in the order onramp applies them.
  const kinds = ["Namespace", "ServiceAccount", "RoleBinding", "Secret", "GitRepository", "Kustomization"];
  function rank(kind) { const i = kinds.indexOf(kind); return i < 0 ? kinds.length : i; }
  function byApplyOrder(a, b) { return rank(a.kind) - rank(b.kind) || a.name.localeCompare(b.name); }

  const cols = ["Kind", "Name", "Status", "Reason", "Message", "Revision", "Observed"];

  function resourceRow(refs, r, i) {
    const key = rowKey(r);
    let tr = refs.rows.get(key);
    if (!tr) {
      tr = h("tr", { "data-key": key });
      tr.cells2 = cols.map((c) => h("td", { "data-label": c }));
      tr.append(...tr.cells2);
      refs.rows.set(key, tr);
    }
    if (refs.tbody.children[i] !== tr) refs.tbody.insertBefore(tr, refs.tbody.children[i] || null);
    const [kind, name, status, reason, message, revision, observed] = tr.cells2;
    setText(kind, r.kind);
    setText(name, r.name);
    replaceIfChanged(status, r.status, () => badge(r.status));
    setText(reason, r.reason || "");
    replaceIfChanged(message, (r.message || "") + "\n" + (r.hint || ""), () => [r.message || "", r.hint ? h("p", { class: "hint" }, "Hint: " + r.hint) : ""]);
    replaceIfChanged(revision, r.revision || "", () => rev(r.revision));
    replaceIfChanged(observed, r.observed_at, () => timeEl(r.observed_at));
  }

  // replaceIfChanged rebuilds a cell's children only when key changed.
  function replaceIfChanged(el, key, build) {
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    const c = build();
    el.replaceChildren(...(Array.isArray(c) ? c : [c]));
  }

  // logLine returns the list item of one log line; lines are kept in ID order.
  function addLog(line) {
    const list = $("log");
    const follow = list.scrollHeight - list.scrollTop - list.clientHeight < 8;
    const li = h("li", { class: "log-" + line.level, "data-id": line.id },
      timeEl(line.time), " ", h("span", { class: "level" }, line.level), " ",
      line.step ? h("code", { class: "muted" }, line.step) : "", line.step ? " " : "", line.message);
    let before = null;
    for (let c = list.lastElementChild; c && Number(c.dataset.id) > line.id; c = c.previousElementSibling) before = c;
    list.insertBefore(li, before);
    if (follow) list.scrollTop = list.scrollHeight;
  }

  // history shows the status transitions, newest first.
  function history(transitions) {
    const tbody = $("history").tBodies[0];
    $("history").hidden = transitions.length === 0;
    $("history-empty").hidden = transitions.length > 0;
    const have = new Set([...tbody.children].map((tr) => tr.dataset.id));
    const fresh = transitions.filter((t) => !have.has(String(t.id))).sort((a, b) => a.id - b.id);
    for (const t of fresh) {
      const cells = [timeEl(t.at), t.kind + " " + (t.namespace ? t.namespace + "/" : "") + t.name,
        h("span", {}, badge(t.from || "new"), " → ", badge(t.to)), t.reason || "", t.message || "", t.revision ? rev(t.revision) : ""];
      const labels = ["When", "Resource", "Change", "Reason", "Message", "Revision"];
      tbody.prepend(h("tr", { "data-id": t.id }, ...cells.map((c, i) => h("td", { "data-label": labels[i] }, c))));
    }
  }

  function all(p) {
    header(p);
    steps(p);
    progress(p);
    gitops(p);
  }

  return Object.freeze({ all, header, progress, steps, gitops, addLog, history, may });
})();
