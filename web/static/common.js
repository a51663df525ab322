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

  // commitOf is the commit of a revision as Flux writes it
  // ("main@sha1:<sha>") or a bare SHA; sameRevision compares two such, a
  // prefix of seven or more characters naming the whole (onramp.SameRevision).
  function commitOf(rev) { return String(rev || "").slice(String(rev || "").lastIndexOf(":") + 1); }
  function sameRevision(a, b) {
    const ca = commitOf(a), cb = commitOf(b);
    return ca !== "" && cb !== "" && (ca === cb || (ca.length >= 7 && cb.startsWith(ca)));
  }

  // rev shows a revision as people read it, its commit's first seven
  // characters, with the whole revision on hover. The rest is in the
  // element, hidden by the stylesheet, so that the element's text is the
  // revision itself for whatever reads it; copyButton copies it whole.
  function rev(revision) {
    if (!revision) return h("span", { class: "muted" }, "—");
    const sha = commitOf(revision), at = revision.length - sha.length;
    return h("code", { class: "rev", title: revision },
      h("span", { class: "rev-x" }, revision.slice(0, at)), sha.slice(0, 7), h("span", { class: "rev-x" }, sha.slice(7)));
  }

  // copyButton copies text to the clipboard and says so on itself. Without
  // the clipboard API (a page served over plain HTTP to another host) it
  // copies through a selected, invisible text area.
  function copyButton(text, label) {
    const b = h("button", { type: "button", class: "copy", title: "Copy " + text, "aria-label": "Copy " + (label || text) }, "Copy");
    b.addEventListener("click", async () => {
      let ok = false;
      try { await navigator.clipboard.writeText(text); ok = true; } catch (e) {
        const ta = h("textarea", { class: "offscreen", readonly: true });
        ta.value = text;
        document.body.append(ta);
        ta.select();
        try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
        ta.remove();
      }
      setText(b, ok ? "Copied" : "Select it");
      setTimeout(() => setText(b, "Copy"), 1500);
    });
    return b;
  }

  // ago says how long ago a time was ("just now", "4 min ago"), with the
  // local date and time on hover.
  function ago(iso) {
    if (!iso || iso.startsWith("0001-")) return h("span", { class: "muted" }, "—");
    return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, agoText(iso));
  }

  function agoText(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 10) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    const d = Math.floor(s / 86400);
    return d + (d === 1 ? " day ago" : " days ago");
  }

  // firstLine is a commit message's subject.
  function firstLine(msg) { return String(msg || "").split("\n")[0].trim(); }

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

  return Object.freeze({ h, setText, setAttr, badge, setBadge, envStatus, shownProgress, count, clock, timeEl, duration,
    commitOf, sameRevision, rev, copyButton, ago, agoText, firstLine, api, errorMessage, banner, flash });
})();
