// Helpers shared by onramp's pages. This file defines one global, `onramp`.
// No script ever sees the session token: the cookie is HttpOnly and the
// browser sends it by itself on same-origin requests.
"use strict";

var onramp = (function () {
  // h builds an element; attrs "class" and "text" are shortcuts, false and
  // null attributes are left out, and children may be strings.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c !== null && c !== undefined && c !== false) el.append(c);
    }
    return el;
  }

  // setText and setAttr change the DOM only when the value differs, so that
  // a live update does not disturb what is unchanged (focus, selection).
  function setText(el, text) {
    text = text === null || text === undefined ? "" : String(text);
    if (el.textContent !== text) el.textContent = text;
  }

  function setAttr(el, name, value) {
    value = String(value);
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function badge(status, extra) {
    return h("span", { class: "badge st-" + status + (extra ? " " + extra : "") }, status || "unknown");
  }

  function setBadge(el, status) {
    setAttr(el, "class", "badge st-" + status);
    setText(el, status);
  }

  // envStatus is an environment's live status: deleting while the project
  // is, else its Kustomization's, which resource events keep current, else
  // what the server last recorded.
  function envStatus(project, env) {
    if (project.phase === "deleting") return "deleting";
    const res = (project.gitops && project.gitops.resources) || [];
    const k = res.find((r) => r.kind === "Kustomization" && r.environment === env.name);
    return k ? k.status : env.status;
  }

  // shownProgress is what a project's bar shows: the initialization's
  // progress, or while it is being deleted the weight of the deletion's
  // finished steps (Project.ShownProgress on the server).
  function shownProgress(p) {
    if (p.phase !== "deleting") return p.progress;
    return p.steps.filter((s) => s.name.startsWith("delete_") && s.status === "succeeded").reduce((n, s) => n + (s.weight || 0), 0);
  }

  // count recomputes the per-kind counts from the resources.
  function count(gitops) {
    const n = { Namespace: 0, GitRepository: 0, Kustomization: 0 };
    for (const r of gitops.resources || []) if (r.kind in n) n[r.kind]++;
    gitops.namespaces = n.Namespace;
    gitops.gitRepositories = n.GitRepository;
    gitops.kustomizations = n.Kustomization;
  }

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }

  // clock shows a time as the local HH:MM:SS.
  function clock(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function timeEl(iso) {
    if (!iso || iso.startsWith("0001-")) return h("span", { class: "muted" }, "—");
    return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, clock(iso));
  }

  // duration shows milliseconds as "850 ms", "12.3 s" or "4 min 05 s".
  function duration(ms) {
    if (ms < 0) ms = 0;
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    const s = Math.round(ms / 1000);
    return Math.floor(s / 60) + " min " + pad(s % 60) + " s";
  }

  // api calls the JSON API with the session cookie. A lost session sends
  // the browser to sign in; any answer is returned as {status, ok, body}.
  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    const res = await fetch(path, opts);
    if (res.status === 401) {
      location.assign("/signin?next=" + encodeURIComponent(location.pathname));
      throw new Error("signed out");
    }
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    return { status: res.status, ok: res.ok, body: body };
  }

  // errorMessage is the message of an API error answer.
  function errorMessage(r) {
    return (r.body && r.body.error && r.body.error.message) || "HTTP " + r.status;
  }

  // banner tells the user that the live connection dropped or came back.
  const banner = {
    timer: 0,
    lost(text) { banner.show("lost", text); },
    restored(text) {
      banner.show("restored", text);
      banner.timer = setTimeout(banner.hide, 4000);
    },
    show(kind, text) {
      const el = document.getElementById("banner");
      clearTimeout(banner.timer);
      el.className = "banner banner-" + kind;
      setText(el, text);
      el.hidden = false;
    },
    hide() { document.getElementById("banner").hidden = true; },
  };

  // flash keeps one message for the next page of this tab (for example,
  // "deleted"), so that no message can be planted through a link.
  const flash = {
    set(text) { try { sessionStorage.setItem("onramp.flash", text); } catch (e) { /* private mode */ } },
    take() {
      try {
        const t = sessionStorage.getItem("onramp.flash");
        sessionStorage.removeItem("onramp.flash");
        return t;
      } catch (e) { return null; }
    },
  };

  return Object.freeze({ h, setText, setAttr, badge, setBadge, envStatus, shownProgress, count, clock, timeEl, duration, api, errorMessage, banner, flash });
})();
