// The new project form, built from GET /api/v1/templates. It posts JSON to
// the API and shows the API's own message next to the field it names.
"use strict";

(function () {
  const { h, setText, api, errorMessage } = onramp;
  const form = document.getElementById("new-project");
  const types = ["development", "staging", "production"];
  let templates = [];
  let paramInputs = new Map(); // parameter name -> input

  function templateChoice(t, i) {
    const id = "template-" + i;
    return h("div", { class: "choice" },
      h("input", { type: "radio", name: "template", id, value: t.name, checked: i === 0, "aria-describedby": id + "-desc" }),
      h("label", { for: id }, h("strong", {}, t.name)),
      h("p", { id: id + "-desc", class: "help" }, t.description || ""));
  }

  function paramField(p, i) {
    const id = "param-" + i;
    const help = (p.description || "") + (p.default !== undefined && p.default !== "" ? " Default: " + p.default + "." : "");
    const input = p.type === "bool"
      ? h("select", { id, name: p.name, "aria-describedby": id + "-help err-" + id },
          h("option", { value: "true", selected: p.default === "true" }, "true"),
          h("option", { value: "false", selected: p.default !== "true" }, "false"))
      : h("input", { id, name: p.name, value: p.default || "", autocomplete: "off", spellcheck: "false",
          inputmode: p.type === "int" ? "numeric" : null, required: p.required && !p.default,
          "aria-describedby": id + "-help err-" + id });
    input.dataset.errorId = "err-" + id;
    paramInputs.set(p.name, input);
    return h("div", { class: "field" },
      h("label", { for: id }, p.name, h("span", { class: "type" }, " " + (p.type || "string"))),
      input,
      h("p", { id: id + "-help", class: "help" }, help),
      h("p", { id: "err-" + id, class: "field-error", hidden: true }));
  }

  function envChoice(type, supported) {
    const id = "env-" + type;
    return h("div", { class: "choice" + (supported ? "" : " unsupported") },
      h("input", { type: "checkbox", name: "environments", id, value: type, checked: supported, disabled: !supported }),
      h("label", { for: id }, type, supported ? "" : h("span", { class: "muted" }, " (not offered by this template)")));
  }

  function selected() {
    const v = (form.querySelector("input[name=template]:checked") || {}).value;
    return templates.find((t) => t.name === v) || templates[0];
  }

  // showTemplate rebuilds the parameters and environments for the chosen
  // template: only its parameters, only the environments it has overlays for.
  function showTemplate() {
    const t = selected();
    paramInputs = new Map();
    const params = (t.parameters || []).map(paramField);
    document.getElementById("params").replaceChildren(...(params.length ? params : [h("p", { class: "muted" }, "This template takes no parameters.")]));
    const have = new Set((t.environments || []).map((e) => e.type));
    document.getElementById("environments").replaceChildren(...types.map((ty) => envChoice(ty, have.has(ty))));
    clearErrors();
  }

  function body() {
    const params = {};
    for (const [name, input] of paramInputs) params[name] = input.value.trim();
    const envs = [...form.querySelectorAll("input[name=environments]:checked")].map((c) => ({ name: c.value, type: c.value }));
    const b = { name: document.getElementById("name").value.trim(), template: selected().name, environments: envs, params };
    const git = document.getElementById("git").value;
    if (git) b.git = git;
    return b;
  }

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) { el.hidden = true; el.textContent = ""; }
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  // placeOf maps the API's error field to where its message goes and what
  // gets focus: "name", "template", "params.port", "environments[1].type".
  function placeOf(field, code) {
    if (field === "name" || (!field && code === "conflict")) return ["err-name", document.getElementById("name")];
    if (field === "git") return ["err-git", document.getElementById("git")];
    if (field === "template") return ["err-template", form.querySelector("input[name=template]:checked")];
    if (field && field.startsWith("params.")) {
      const input = paramInputs.get(field.slice(7));
      if (input) return [input.dataset.errorId, input];
    }
    if (field && field.startsWith("environments")) {
      const m = /^environments\[(\d+)\]/.exec(field);
      const boxes = form.querySelectorAll("input[name=environments]:checked");
      const box = (m && boxes[Number(m[1])]) || form.querySelector("input[name=environments]:not(:disabled)");
      return ["err-environments", box];
    }
    return ["err-form", null];
  }

  function showError(r) {
    const e = (r.body && r.body.error) || {};
    const [errId, input] = placeOf(e.field, e.code);
    const el = document.getElementById(errId);
    setText(el, errorMessage(r));
    el.hidden = false;
    el.setAttribute("role", "alert");
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }

  async function submit(ev) {
    ev.preventDefault();
    clearErrors();
    const button = document.getElementById("create");
    button.disabled = true;
    setText(document.getElementById("form-status"), "Creating…");
    try {
      const b = body();
      const r = await api("/api/v1/projects", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(b) });
      if (r.status === 202) {
        location.assign("/projects/" + encodeURIComponent(r.body.name));
        return;
      }
      showError(r);
    } catch (e) {
      showError({ status: 0, body: { error: { message: "Could not reach onramp: " + e.message } } });
    }
    setText(document.getElementById("form-status"), "");
    button.disabled = false;
  }

  // loadConnections offers the caller's Git connections; without any (or
  // when they cannot be read) the built-in Git server is the one choice.
  async function loadConnections() {
    try {
      const r = await api("/api/v1/git-connections");
      if (!r.ok) return;
      const select = document.getElementById("git");
      for (const c of r.body.connections || []) {
        select.append(h("option", { value: c.name }, c.name + " (" + c.kind + ", " + c.url + ", owner " + c.owner + ")"));
      }
    } catch (e) {
      // The built-in Git server stays the one choice.
    }
  }

  async function load() {
    loadConnections();
    const box = document.getElementById("templates");
    try {
      const r = await api("/api/v1/templates");
      if (!r.ok) throw new Error(errorMessage(r));
      templates = r.body.templates || [];
    } catch (e) {
      box.replaceChildren(h("p", { class: "field-error" }, "Could not load the templates: " + e.message + ". Reload the page to try again."));
      return;
    }
    if (!templates.length) {
      box.replaceChildren(h("p", { class: "field-error" }, "onramp has no templates. Add some with ONRAMP_TEMPLATES_DIR."));
      return;
    }
    box.replaceChildren(...templates.map(templateChoice));
    box.addEventListener("change", showTemplate);
    showTemplate();
    document.getElementById("create").disabled = false;
  }

  form.addEventListener("submit", submit);
  load();
})();
