// Rendering of the project page's pipeline: one card per environment in
// the project's order, the promotions waiting for approval, the audit trail
// of promotions and rollbacks, and the members. Like project-view.js it
// updates the DOM in place; buttons carry data-action and project.js
// answers their clicks.
"use strict";

var pipelineView = (function () {
  const { h, setText, setAttr, badge, setBadge, envStatus, commitOf, sameRevision, rev, copyButton, ago, agoText, firstLine } = onramp;
  const $ = (id) => document.getElementById(id);
  const active = (pr) => !["done", "failed", "superseded"].includes(pr.status);

  // stageStatus is an environment's status as its card shows it: ready
  // only when Flux is Ready at the revision the environment is meant to
  // run, reconciling while it gets there.
  function stageStatus(p, env) {
    const s = envStatus(p, env);
    if (s !== "ready" || !env.revision) return s;
    const k = ((p.gitops && p.gitops.resources) || []).find((r) => r.kind === "Kustomization" && r.environment === env.name);
    return k && k.revision && !sameRevision(k.revision, env.revision) ? "reconciling" : s;
  }

  function policyText(env, branch) {
    const pol = env.policy || {};
    if (pol.mode === "auto") return "auto: deploys every push to " + (branch || "the branch");
    const n = pol.approvals || 0;
    return "promote, " + (n === 0 ? "no approval" : n === 1 ? "1 approval" : n + " approvals");
  }

  // pipeline keeps one card per environment. promos are the project's
  // promotions, newest first.
  function pipeline(p, promos) {
    const list = $("pipeline");
    const branch = p.repository && p.repository.branch;
    p.environments.forEach((env, i) => {
      let li = list.querySelector('li.stage[data-env="' + CSS.escape(env.name) + '"]');
      if (!li || !li.refs) {
        const fresh = card(env);
        if (li) li.replaceWith(fresh); else list.append(fresh);
        li = fresh;
      }
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
      update(li, p, env, i > 0 ? p.environments[i - 1] : null, branch, promos.find((pr) => pr.environment === env.name));
    });
    for (const li of [...list.children]) {
      if (!p.environments.some((e) => e.name === li.dataset.env)) li.remove();
    }
  }

  function card(env) {
    const r = {
      status: badge("pending"), policy: h("p", { class: "stage-policy muted small" }),
      rev: h("span", { class: "stage-rev" }), commit: h("p", { class: "stage-commit" }),
      deployed: h("p", { class: "stage-deployed muted small" }), promo: h("p", { class: "stage-promo small" }),
      promote: h("button", { type: "button", class: "primary promote", "data-action": "promote", "data-env": env.name }, "Promote"),
      rollback: h("button", { type: "button", class: "rollback", "data-action": "rollback", "data-env": env.name }, "Roll back"),
      answer: h("p", { class: "stage-answer small", role: "status" }),
      revKey: null,
    };
    const li = h("li", { class: "stage", "data-env": env.name, "aria-label": "Environment " + env.name },
      h("div", { class: "stage-head" }, h("h3", {}, env.name), r.status),
      r.policy, r.rev, r.commit, r.deployed, r.promo,
      h("div", { class: "stage-actions" }, r.promote, r.rollback), r.answer);
    li.refs = r;
    return li;
  }

  function update(li, p, env, prev, branch, last) {
    const r = li.refs;
    setBadge(r.status, stageStatus(p, env));
    setText(r.policy, policyText(env, branch));
    if (r.revKey !== (env.revision || "")) {
      r.revKey = env.revision || "";
      r.rev.replaceChildren(rev(env.revision), env.revision ? " " : "", env.revision ? copyButton(env.revision, env.name + "'s revision") : "");
    }
    setText(r.commit, firstLine(env.message));
    setAttr(r.commit, "title", env.message || "");
    deployed(r.deployed, env, branch);
    lastPromotion(r.promo, last);
    const promoting = env.policy && env.policy.mode === "promote" && pipelineView.may(p, "deployer") && p.phase !== "deleting";
    r.promote.hidden = !promoting || !prev;
    r.rollback.hidden = !promoting;
    if (prev) {
      const from = prev.revision ? " " + commitOf(prev.revision).slice(0, 7) : "";
      setText(r.promote, "Promote" + from);
      setAttr(r.promote, "title", "Promote to " + env.name + " what " + prev.name + " runs" + (prev.revision ? " (" + prev.revision + ")" : ""));
    }
    setAttr(r.rollback, "title", "Roll " + env.name + " back to the revision it ran before");
  }

  function deployed(el, env, branch) {
    const key = (env.deployed_by || "") + "|" + (env.deployed_at || "");
    if (el.dataset.key === key) {
      const t = el.querySelector("time");
      if (t) setText(t, agoText(t.getAttribute("datetime")));
      return;
    }
    el.dataset.key = key;
    if (!env.revision) { el.replaceChildren("nothing deployed yet"); return; }
    const who = env.deployed_by ? h("span", { class: "who-deployed" }, "deployed by " + env.deployed_by) : "deployed by a push to " + (branch || "the branch");
    el.replaceChildren(who, env.deployed_at ? ", " : "", env.deployed_at ? ago(env.deployed_at) : "");
  }

  // lastPromotion shows where the environment's newest promotion or
  // rollback is, and why it failed.
  function lastPromotion(el, pr) {
    const key = pr ? pr.id + "|" + pr.status + "|" + (pr.approvals || []).length : "";
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    if (!pr) { el.replaceChildren(); return; }
    el.replaceChildren(pr.kind === "rollback" ? "Rollback " : "Promotion ", "#" + pr.id, " of ", rev(pr.revision), " ",
      badge(pr.status, "promo-status"),
      pr.status === "waiting-approval" ? " " + (pr.approvals || []).length + " of " + pr.approvals_needed + " approvals" : "",
      pr.error ? h("span", { class: "step-error" }, " " + pr.error) : "");
  }

  // approvals lists the promotions waiting for approval, oldest first, with
  // Approve for deployers and admins who have not approved yet.
  function approvals(p, promos, me) {
    const waiting = promos.filter((pr) => pr.status === "waiting-approval").reverse();
    $("approvals-box").hidden = waiting.length === 0;
    const list = $("approvals");
    const ids = new Set(waiting.map((pr) => String(pr.id)));
    for (const li of [...list.children]) if (!ids.has(li.dataset.id)) li.remove();
    waiting.forEach((pr, i) => {
      let li = list.querySelector('li[data-id="' + pr.id + '"]');
      if (!li) {
        li = h("li", { class: "approval card", "data-id": pr.id });
        li.refs = { body: h("div", { class: "approval-body" }),
          button: h("button", { type: "button", class: "primary approve", "data-action": "approve", "data-id": pr.id }, "Approve"),
          answer: h("p", { class: "stage-answer small", role: "status" }), key: "" };
        li.append(li.refs.body, li.refs.button, li.refs.answer);
      }
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
      const approved = (pr.approvals || []).map((a) => a.user);
      const key = pr.status + "|" + approved.join(",");
      if (li.refs.key !== key) {
        li.refs.key = key;
        li.refs.body.replaceChildren(
          h("strong", {}, (pr.kind === "rollback" ? "Rollback" : "Promotion") + " #" + pr.id + " to " + pr.environment), " of ", rev(pr.revision),
          pr.message ? h("span", { class: "approval-msg" }, " “" + firstLine(pr.message) + "”") : "",
          h("br"), h("span", { class: "muted small" }, "asked by " + pr.requested_by + " ", ago(pr.created_at),
            " · " + approved.length + " of " + pr.approvals_needed + " approvals" + (approved.length ? " (" + approved.join(", ") + ")" : "")));
      }
      li.refs.button.hidden = !pipelineView.may(p, "deployer") || approved.includes(me);
    });
  }

  const trailCols = ["#", "Environment", "Kind", "Revision", "From", "Status", "Asked by", "Approved by", "Asked", "Ready"];

  // promotions is the full audit trail, newest first.
  function promotions(promos) {
    const table = $("promotions"), tbody = table.tBodies[0];
    table.hidden = promos.length === 0;
    $("promotions-empty").hidden = promos.length > 0;
    setText($("promotions-count"), promos.length ? "(" + promos.length + ")" : "");
    promos.forEach((pr, i) => {
      let tr = tbody.querySelector('tr[data-id="' + pr.id + '"]');
      if (!tr) {
        tr = h("tr", { "data-id": pr.id });
        tr.append(...trailCols.map((c) => h("td", { "data-label": c })));
      }
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
      const key = pr.updated_at + "|" + pr.status + "|" + (pr.approvals || []).length;
      if (tr.dataset.key === key) return;
      tr.dataset.key = key;
      const approvedBy = (pr.approvals || []).map((a) => a.user).join(", ");
      const status = [badge(pr.status), pr.forced ? " forced" : "", pr.superseded_by ? " by #" + pr.superseded_by : "",
        pr.error ? h("p", { class: "step-error" }, pr.error) : "", pr.hint ? h("p", { class: "hint" }, "Hint: " + pr.hint) : ""];
      const cells = [String(pr.id), pr.environment, pr.kind, [rev(pr.revision), pr.message ? h("div", { class: "muted small" }, firstLine(pr.message)) : ""],
        rev(pr.from_revision), status, pr.requested_by, approvedBy || (pr.approvals_needed ? "—" : "not needed"),
        ago(pr.created_at), pr.ready_at ? ago(pr.ready_at) : "—"];
      [...tr.children].forEach((td, j) => { const c = cells[j]; td.replaceChildren(...(Array.isArray(c) ? c : [c])); });
    });
  }

  // members lists the owner and members; admins get Remove and the form.
  function members(p, list, me) {
    const ul = $("members");
    const admin = pipelineView.may(p, "admin");
    $("member-form").hidden = !admin;
    ul.replaceChildren(...list.map((m) => h("li", { class: "member", "data-user": m.user },
      h("strong", {}, m.user), " ", badge(m.role, "role-" + m.role), m.owner ? h("span", { class: "muted small" }, " owner") : "",
      m.user === me ? h("span", { class: "muted small" }, " (you)") : "",
      admin && !m.owner ? h("button", { type: "button", class: "link danger", "data-action": "remove-member", "data-user": m.user }, "Remove") : "")));
  }

  return Object.freeze({ pipeline, approvals, promotions, members, stageStatus, active, may: (p, need) => projectView.may(p, need) });
})();
