// The live project page. It follows GET /api/v1/projects/{name}/events: a
// snapshot, then progress, step, log, resource, phase, promotion and member
// events, each applied once. When the connection drops it says so, and reconnects with the last
// event ID so that nothing is missed or applied twice.
"use strict";

(function () {
  const { api, errorMessage, banner, flash, count, setText, sameRevision } = onramp;
  const view = projectView, pipe = pipelineView;
  const root = document.getElementById("project");
  const name = root.dataset.name, me = root.dataset.user;
  const base = "/api/v1/projects/" + encodeURIComponent(name);
  const delays = [250, 500, 1000, 2000, 4000];
  let state = null; // the project, from the snapshot and the events since
  let lastId = 0; // the newest event applied
  let es = null, attempts = 0, lost = false, gone = false;
  const logIds = new Set();
  const promos = new Map(); // the promotions by ID, kept newest by updated_at
  let members = [];

  const handlers = {
    snapshot(p) {
      state = p;
      count(state.gitops);
      view.all(state);
      showPipeline();
      performance.mark("onramp:snapshot-rendered");
      // Read the log, history, promotions and members after the snapshot:
      // the stream carries every change after it, and IDs drop the overlap.
      loadLogs();
      refreshHistory();
      loadTeam();
    },
    progress(d) {
      state.progress = Math.max(state.progress, d.progress);
      view.progress(state);
    },
    step(s) {
      const i = state.steps.findIndex((x) => x.name === s.name);
      if (i >= 0) state.steps[i] = s; else state.steps.push(s);
      view.steps(state);
      view.progress(state);
      // The repository's address and revision change with these steps and
      // have no event of their own.
      if (s.status === "succeeded" && (s.name === "create_repository" || s.name === "push_commit")) refreshRepository();
    },
    log(line) { addLog(line); },
    resource(r) {
      const res = state.gitops.resources;
      const i = res.findIndex((x) => x.kind === r.kind && x.namespace === r.namespace && x.name === r.name);
      if (r.status === "deleted") { if (i >= 0) res.splice(i, 1); }
      else if (i >= 0) res[i] = r; else res.push(r);
      count(state.gitops);
      view.gitops(state);
      view.header(state);
      showPipeline();
      refreshHistory();
      // Flux at a revision the environment was not known to want: a push
      // moved it, so read what it is meant to run now.
      const env = state.environments.find((e) => e.name === r.environment);
      if (r.kind === "Kustomization" && env && r.revision && !sameRevision(r.revision, env.revision || "")) refreshProject();
    },
    promotion(pr) {
      keepPromotion(pr);
      showPromotions();
      // A promotion that moves changes its environment's revision, message
      // and who deployed it, which have no event of their own.
      refreshProject();
    },
    member(m) {
      const i = members.findIndex((x) => x.user === m.user);
      if (!m.role) { if (i >= 0) members.splice(i, 1); }
      else if (i >= 0) members[i] = m; else members.push(m);
      pipe.members(state, members, me);
      if (m.user === me) refreshProject(); // my role changed
    },
    phase(d) {
      if (d.phase === "deleted") return deleted();
      state.phase = d.phase;
      view.header(state);
      view.progress(state);
      view.gitops(state); // environments say deleting
      showPipeline();
    },
  };

  function onEvent(e) {
    const id = Number(e.lastEventId) || 0;
    const data = JSON.parse(e.data);
    if (e.type === "phase" && data.phase === "deleted") return deleted();
    if (e.type !== "snapshot" && (id <= lastId || !state)) return;
    lastId = Math.max(lastId, id);
    handlers[e.type](data);
  }

  function connect() {
    const url = base + "/events" + (state ? "?last_event_id=" + lastId : "");
    es = new EventSource(url);
    es.onopen = () => {
      attempts = 0;
      if (lost) { lost = false; banner.restored("Live updates are back; nothing was missed."); }
    };
    es.onerror = () => {
      es.close();
      es = null;
      if (gone) return;
      if (!lost) { lost = true; banner.lost("Live connection lost. Reconnecting…"); }
      setTimeout(reconnect, delays[Math.min(attempts++, delays.length - 1)]);
    };
    for (const type of Object.keys(handlers)) es.addEventListener(type, onEvent);
  }

  // reconnect first asks whether the project still exists, so that a deleted
  // project or an ended session is not retried for ever.
  async function reconnect() {
    if (gone) return;
    try {
      const r = await api(base);
      if (r.status === 404) return deleted();
    } catch (e) {
      // Still unreachable: connect() fails again and schedules the next try.
    }
    connect();
  }

  async function refreshRepository() {
    try {
      const r = await api(base);
      if (r.ok && state) { state.repository = r.body.repository; view.header(state); }
    } catch (e) { /* shown at the next step */ }
  }

  function deleted() {
    if (gone) return;
    gone = true;
    if (es) es.close();
    flash.set("Project " + name + " was deleted: everything onramp created for it is gone.");
    setText(document.getElementById("action-status"), "Deleted. Going back to your projects…");
    setTimeout(() => location.replace("/"), 800);
  }

  function addLog(line) {
    if (logIds.has(line.id)) return;
    logIds.add(line.id);
    view.addLog(line);
  }

  async function loadLogs() {
    try {
      const r = await api(base + "/logs");
      if (r.ok) r.body.lines.forEach(addLog);
    } catch (e) { /* the stream's lines still arrive */ }
  }

  // refreshHistory reloads the status history, at most one request at a
  // time, and once more if resources changed while it ran.
  let historyBusy = false, historyAgain = false;
  async function refreshHistory() {
    if (historyBusy) { historyAgain = true; return; }
    historyBusy = true;
    try {
      const r = await api(base + "/history");
      if (r.ok) view.history(r.body.transitions || []);
    } catch (e) { /* next resource event tries again */ }
    historyBusy = false;
    if (historyAgain) { historyAgain = false; refreshHistory(); }
  }

  function sorted() { return [...promos.values()].sort((a, b) => b.id - a.id); }

  function showPipeline() {
    if (!state) return;
    const list = sorted();
    pipe.pipeline(state, list);
    pipe.approvals(state, list, me);
  }

  function showPromotions() {
    showPipeline();
    pipe.promotions(sorted());
  }

  // keepPromotion keeps the newer of what it has and pr: a list read while
  // events arrived may be older than them.
  function keepPromotion(pr) {
    const had = promos.get(pr.id);
    if (!had || Date.parse(pr.updated_at) >= Date.parse(had.updated_at)) promos.set(pr.id, pr);
  }

  async function loadTeam() {
    try {
      const [pr, ms] = await Promise.all([api(base + "/promotions"), api(base + "/members")]);
      if (pr.ok) pr.body.promotions.forEach(keepPromotion);
      showPromotions();
      if (ms.ok) { members = ms.body.members; pipe.members(state, members, me); }
    } catch (e) { /* the stream's promotion events still arrive */ }
  }

  // refreshProject reads the project again for what has no event of its
  // own: the environments' revisions, the repository, the caller's role.
  // At most one request at a time, and once more if asked meanwhile.
  let projectBusy = false, projectAgain = false;
  async function refreshProject() {
    if (projectBusy) { projectAgain = true; return; }
    projectBusy = true;
    try {
      const r = await api(base);
      if (r.ok && state) {
        state.environments = r.body.environments;
        state.repository = r.body.repository;
        state.role = r.body.role;
        view.header(state);
        showPipeline();
        pipe.members(state, members, me);
      }
    } catch (e) { /* the next event tries again */ }
    projectBusy = false;
    if (projectAgain) { projectAgain = false; refreshProject(); }
  }

  // post sends a JSON request for a button and shows the answer in out:
  // what the API did, or its error's message.
  async function post(button, out, path, body, done) {
    button.disabled = true;
    setText(out, "Sending…");
    out.classList.remove("bad");
    try {
      const r = await api(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
      if (r.ok) { setText(out, done(r.body)); return r.body; }
      setText(out, errorMessage(r));
      out.classList.add("bad");
    } catch (e) {
      setText(out, "Could not reach onramp: " + e.message);
      out.classList.add("bad");
    } finally {
      button.disabled = false;
    }
    return null;
  }

  function said(pr) {
    const what = (pr.kind === "rollback" ? "Rollback" : "Promotion") + " #" + pr.id + " of " + onramp.commitOf(pr.revision).slice(0, 7) + " to " + pr.environment;
    if (pr.status === "waiting-approval") {
      const n = pr.approvals_needed - (pr.approvals || []).length;
      return what + " waits for " + n + (n === 1 ? " approval" : " approvals") + " from a deployer or admin other than " + pr.requested_by + ".";
    }
    return what + ": " + pr.status + ".";
  }

  document.getElementById("pipeline").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-action]");
    if (!b) return;
    const out = b.closest("li.stage").refs.answer;
    const path = b.dataset.action === "rollback" ? "/rollbacks" : "/promotions";
    const pr = await post(b, out, path, { environment: b.dataset.env }, said);
    if (pr) { keepPromotion(pr); showPromotions(); }
  });

  document.getElementById("approvals").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-action=approve]");
    if (!b) return;
    const li = b.closest("li.approval");
    const pr = await post(b, li.refs.answer, "/promotions/" + b.dataset.id + "/approve", null,
      (p) => "Approved. " + (p.status === "waiting-approval" ? "It still waits for more." : "It is " + p.status + "."));
    if (pr) { keepPromotion(pr); showPromotions(); }
  });

  const memberOut = document.getElementById("members-status");
  document.getElementById("member-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target;
    const m = await post(document.getElementById("member-add"), memberOut, "/members",
      { user: f.user.value.trim(), role: f.role.value }, (m) => m.user + " is " + m.role + ".");
    if (m) { f.user.value = ""; handlers.member(m); }
  });
  document.getElementById("members").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-action=remove-member]");
    if (!b) return;
    b.disabled = true;
    try {
      const r = await api(base + "/members/" + encodeURIComponent(b.dataset.user), { method: "DELETE" });
      setText(memberOut, r.status === 204 ? b.dataset.user + " is no longer a member." : errorMessage(r));
      if (r.status === 204) handlers.member({ user: b.dataset.user });
    } catch (err) {
      setText(memberOut, "Could not reach onramp: " + err.message);
    }
    b.disabled = false;
  });

  async function action(method, path, doing) {
    const status = document.getElementById("action-status");
    setText(status, doing);
    try {
      const r = await api(base + path, { method });
      if (r.status !== 202) { setText(status, errorMessage(r)); return; }
      if (state && r.body && r.body.phase) { state.phase = r.body.phase; view.header(state); view.progress(state); }
    } catch (e) {
      setText(status, "Could not reach onramp: " + e.message);
    }
  }

  document.getElementById("retry").addEventListener("click", () => action("POST", "/retry", "Retry requested: resuming from the failed step…"));
  const dialog = document.getElementById("confirm-delete");
  document.getElementById("delete").addEventListener("click", () => { dialog.returnValue = ""; dialog.showModal(); });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "delete") action("DELETE", "", "Deleting: following the deletion until everything is gone…");
  });
  // Running steps show how long they have been running.
  // Running steps show how long they have been running; cards, since when.
  setInterval(() => { if (state && !gone) { view.steps(state); showPipeline(); } }, 1000);
  connect();
})();
