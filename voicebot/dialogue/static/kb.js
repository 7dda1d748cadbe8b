// The knowledge-base page: list entries, edit one in every served language, save (checked by the server).
"use strict";
const $ = (id) => document.getElementById(id);
const FIELDS = {policy: ["text"], fact: ["text"], product: ["name", "keywords", "text"], country: ["name"], attribute: ["keywords"]};
let data = null;
let current = null; // the entry being edited (null: a new one)

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) { if (k === "text") e.textContent = v; else e.setAttribute(k, v); }
  for (const c of children) e.append(c);
  return e;
}

async function api(method, path, body) {
  const r = await fetch(path, {method, headers: body ? {"Content-Type": "application/json"} : {},
    body: body ? JSON.stringify(body) : undefined, credentials: "same-origin"});
  let json = {};
  try { json = await r.json(); } catch (e) { json = {}; }
  if (r.status === 401 || r.status === 403) { location.reload(); }
  return {ok: r.ok && json.ok !== false, status: r.status, json};
}

function preview(e) {
  const lang = data.languages[0];
  const t = (e.text && (e.text[lang] || e.text.en)) || (e.name && (e.name[lang] || e.name.en)) ||
    (e.keywords && (e.keywords[lang] || e.keywords.en || []).join(", ")) || "";
  return t.length > 90 ? t.slice(0, 90) + "…" : t;
}

function renderList() {
  const q = $("search").value.trim().toLowerCase();
  const kind = $("kind").value;
  const body = document.querySelector("#entries tbody");
  body.replaceChildren();
  let n = 0;
  for (const e of data.entries) {
    if (kind && e.kind !== kind) continue;
    if (q && !(e.id.toLowerCase().includes(q) || JSON.stringify(e.text || {}).toLowerCase().includes(q) ||
               JSON.stringify(e.name || {}).toLowerCase().includes(q))) continue;
    n++;
    const badge = el("span", {class: "badge " + (e.origin === "shop" ? "shop" : e.origin === "shop only" ? "only" : ""), text: e.origin});
    const tr = el("tr", {"data-id": e.id}, el("td", {}, el("b", {text: e.id}), el("br"), el("span", {class: "note", text: e.kind + " "}), badge),
                  el("td", {text: preview(e)}));
    if (current && current.id === e.id) tr.classList.add("selected");
    tr.onclick = () => edit(e);
    body.append(tr);
  }
  $("count").textContent = `${n} of ${data.entries.length} entries`;
}

function valueRow(key = "", value = "") {
  const k = el("input", {class: "vkey", size: "14", value: key, "aria-label": "value name"});
  const v = el("input", {class: "vval", size: "20", value: String(value), "aria-label": "value"});
  const rm = el("button", {type: "button", text: "remove"});
  const tr = el("tr", {}, el("td", {}, k), el("td", {}, v), el("td", {}, rm));
  rm.onclick = () => { tr.remove(); };
  $("values").querySelector("tbody").append(tr);
}

function renderTranslations(e) {
  const box = $("translations");
  box.replaceChildren();
  const kind = $("entryKind").value;
  for (const lang of data.languages) {
    const fs = el("fieldset", {"data-lang": lang}, el("legend", {text: lang}));
    for (const f of FIELDS[kind] || ["text"]) {
      const value = f === "keywords" ? ((e.keywords || {})[lang] || []).join(", ") : ((e[f] || {})[lang] || "");
      const input = f === "text" ? el("textarea", {name: f, "aria-label": `${f} (${lang})`}) :
        el("input", {name: f, class: "wide", "aria-label": `${f} (${lang})`});
      input.value = value;
      fs.append(el("label", {text: f === "keywords" ? "Keywords (comma-separated)" : f === "name" ? "Name" : "Text"}, input));
    }
    box.append(fs);
  }
}

function edit(e) {
  current = e;
  $("empty").classList.add("hidden");
  $("editor").classList.remove("hidden");
  $("problems").textContent = ""; $("saved").textContent = "";
  $("entryId").value = e ? e.id : "";
  $("entryId").readOnly = !!e;
  $("entryKind").value = e ? e.kind : "policy";
  $("entryKind").disabled = !!e;
  $("origin").textContent = e ? e.origin : "new";
  const req = e && data.required[e.id];
  $("required").textContent = req ? `The call flows say this entry${req.length ? " and read " + req.join(", ") + " from its values" : ""}.` : "";
  $("values").querySelector("tbody").replaceChildren();
  for (const [k, v] of Object.entries((e && e.values) || {})) valueRow(k, typeof v === "object" ? JSON.stringify(v) : v);
  renderTranslations(e || {});
  $("revert").classList.toggle("hidden", !(e && e.origin === "shop"));
  $("delete").classList.toggle("hidden", !(e && e.origin === "shop only"));
  renderList();
}

function collect() {
  const values = {};
  for (const tr of $("values").querySelectorAll("tbody tr")) {
    const k = tr.querySelector(".vkey").value.trim();
    const raw = tr.querySelector(".vval").value.trim();
    if (!k) continue;
    let value = raw !== "" && !isNaN(Number(raw)) ? Number(raw) : raw;
    if (/^[[{]/.test(raw)) { try { value = JSON.parse(raw); } catch (e) { value = raw; } }
    values[k] = value;
  }
  const entry = {kind: $("entryKind").value, values, text: {}, name: {}, keywords: {}};
  for (const fs of $("translations").querySelectorAll("fieldset")) {
    const lang = fs.dataset.lang;
    for (const input of fs.querySelectorAll("[name]")) {
      if (input.name === "keywords") entry.keywords[lang] = input.value.split(",").map((w) => w.trim()).filter(Boolean);
      else entry[input.name][lang] = input.value;
    }
  }
  return entry;
}

function showProblems(problems) {
  const box = $("problems");
  box.replaceChildren(el("p", {text: "Not saved — fix these first:"}), el("ul", {}, ...problems.map((p) => el("li", {text: p}))));
}

async function load(selectId) {
  const r = await api("GET", "/shop/api/kb");
  if (!r.ok) return;
  data = r.json;
  $("shop").textContent = data.shop;
  $("languages").textContent = data.languages.join(", ");
  $("folder").textContent = data.folder;
  $("current").textContent = data.problems.length ? `The files on disk have ${data.problems.length} problem(s): ${data.problems.slice(0, 3).join("; ")}` : "";
  const kinds = $("kind"), entryKind = $("entryKind");
  if (kinds.options.length === 1) for (const k of data.kinds) { kinds.append(el("option", {value: k, text: k})); entryKind.append(el("option", {value: k, text: k})); }
  const again = selectId && data.entries.find((e) => e.id === selectId);
  if (again) edit(again); else renderList();
}

$("search").oninput = renderList;
$("kind").onchange = renderList;
$("new").onclick = () => edit(null);
$("addValue").onclick = () => valueRow();
$("entryKind").onchange = () => renderTranslations(collect());
$("editor").onsubmit = async (ev) => {
  ev.preventDefault();
  const id = $("entryId").value.trim();
  $("saved").textContent = ""; $("problems").textContent = "";
  const r = await api("PUT", `/shop/api/kb/entries/${encodeURIComponent(id)}`, collect());
  if (!r.ok) { showProblems(r.json.problems || [`the server answered ${r.status}`]); return; }
  await load(id);
  $("saved").textContent = `Saved to ${r.json.saved}; new calls use it now.`;
};
$("revert").onclick = async () => {
  const r = await api("DELETE", `/shop/api/kb/entries/${encodeURIComponent(current.id)}`);
  if (!r.ok) { showProblems(r.json.problems || [`the server answered ${r.status}`]); return; }
  const id = current.id;
  await load(id);
  $("saved").textContent = "The built-in version is back; new calls use it now.";
};
$("delete").onclick = async () => {
  if (!confirm(`Delete ${current.id}?`)) return;
  const r = await api("DELETE", `/shop/api/kb/entries/${encodeURIComponent(current.id)}`);
  if (!r.ok) { showProblems(r.json.problems || [`the server answered ${r.status}`]); return; }
  current = null; $("editor").classList.add("hidden"); $("empty").classList.remove("hidden");
  await load();
};
$("reload").onclick = async () => {
  const r = await api("POST", "/shop/api/kb/reload", {});
  $("current").textContent = r.ok ? `Reloaded: ${r.json.entries} entries are live.` : `Not reloaded, the bot keeps the previous version: ${(r.json.problems || []).join("; ")}`;
  if (r.ok) await load(current && current.id);
};
load();
