// The live project page. It follows GET /api/v1/projects/{name}/events: a
// snapshot, then progress, step, log, resource and phase events, each applied
// once. When the connection drops it says so, and reconnects with the last
// event ID so that nothing is missed or applied twice.
"use strict";

(function () {
  const { api, errorMessage, banner, flash, count, setText } = onramp;
  const view = projectView;
  const root = document.getElementById("project");
  const name = root.dataset.name;
  const base = "/api/v1/projects/" + encodeURIComponent(name);
  const delays = [250, 500, 1000, 2000, 4000];
  let state = null; // the project, from the snapshot and the events since
  let lastId = 0; // the newest event applied
  let es = null, attempts = 0, lost = false, gone = false;
  const logIds = new Set();

  const handlers = {
    snapshot(p) {
      state = p;
      count(state.gitops);
      view.all(state);
      performance.mark("onramp:snapshot-rendered");
      // Read the log and history after the snapshot: the stream carries
      // every line after it, and IDs drop the overlap.
      loadLogs();
      refreshHistory();
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
      refreshHistory();
    },
    phase(d) {
      if (d.phase === "deleted") return deleted();
      state.phase = d.phase;
      view.header(state);
      view.progress(state);
      view.gitops(state); // environments say deleting
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
  setInterval(() => { if (state && !gone) view.steps(state); }, 1000);
  connect();
})();
