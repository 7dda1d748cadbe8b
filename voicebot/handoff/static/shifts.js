// The desk's shifts: who is on shift per queue (and, when nobody is, until when and what callers get
// instead), the signed-in agent's own shift and status, and for a supervisor every agent's.
// Independent of desk.js: it fills #coverage and #shifts once signed in, refreshes every 30 s and on
// presence events (window "desk:presence"). Plain DOM and fetch; no dependencies.
"use strict";
(() => {
  const cov = document.getElementById("coverage"), root = document.getElementById("shifts");
  if (!cov || !root) return;
  const css = document.createElement("style");
  css.textContent = "#coverage{margin:0 1em}#coverage .q{padding:.45em .7em;border-radius:4px;margin:.4em 0}" +
    "#coverage .q.closed{background:#fde8c8;border-left:4px solid #c77700}#coverage .q.open{background:#e6f6ea;border-left:4px solid #1a8f3c}" +
    "#shifts{margin:0 1em 1em}#shifts table{border-collapse:collapse;width:100%}#shifts td,#shifts th{padding:.3em;border-bottom:1px solid #eee;text-align:left;font-size:.9em}" +
    "#shifts input{width:100%;box-sizing:border-box}#shifts .off{color:#a04000;font-weight:600}#shifts .on{color:#1a7f37;font-weight:600}" +
    "#shifts .err{color:#b00020}";
  document.head.appendChild(css);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const INSTEAD = {voicemail: "leave a voicemail", callback: "are promised a callback", bot: "stay with the bot, which keeps helping"};
  let timer = null;

  async function get(path) {
    const r = await fetch("/handoff/api/" + path, {credentials: "same-origin"});
    if (r.status === 401) return null;
    return r.ok ? r.json() : {error: (await r.json().catch(() => ({}))).detail || r.status};
  }

  function coverageLine(q) {
    const d = el("div", "", "q " + (q.on_shift.length ? "open" : "closed"));
    d.dataset.queue = q.queue;
    if (q.on_shift.length) {
      d.textContent = `Queue ${q.queue}: on shift ${q.on_shift.join(", ")}` + (q.available.length ? ` (free: ${q.available.join(", ")})` : " (all busy or away)");
      return d;
    }
    const back = q.next_open_text ? ` — next on shift ${q.next_open_text}` : "";
    d.appendChild(el("b", `Nobody on shift for queue ${q.queue}${back}.`));
    if (q.why) d.appendChild(el("span", ` (${q.why})`));
    const i = q.instead || {};
    d.appendChild(el("div", `Meanwhile phone callers ${INSTEAD[i.phone] || i.phone} (without a known number: ${INSTEAD[i.phone_unknown_number] || i.phone_unknown_number}); ` +
      `web voice callers ${INSTEAD[i.web_voice] || i.web_voice}; web chats ${INSTEAD[i.web_text] || i.web_text}.`));
    return d;
  }

  function shiftText(a) {
    if (a.on_shift) return [`On shift now${a.shift_ends_text ? ", until " + a.shift_ends_text : ""}`, "on"];
    return [`Off shift${a.next_shift_text ? " — next shift " + a.next_shift_text : " — no shift in the coming year"}`, "off"];
  }

  function agentRow(a, you, supervisor) {
    const tr = el("tr"); tr.dataset.agent = a.id;
    const input = (name, value, size) => { const i = el("input"); i.name = name; i.value = value; if (size) i.size = size; return i; };
    const status = el("select"); status.name = "status";
    for (const s of ["available", "away", "busy", "offline"]) { const o = el("option", s); o.value = s; status.appendChild(o); }
    status.value = a.status;
    const [text, cls] = shiftText(a);
    const cells = [el("b", a.id === you ? `${a.name} (you)` : a.name), status, input("languages", a.languages.join(","), 6),
                   input("skills", a.skills.join(","), 10), input("hours", a.hours, 24), input("timezone", a.timezone, 14)];
    for (const c of cells) { const td = el("td"); td.appendChild(c); tr.appendChild(td); }
    const state = el("td"); state.appendChild(el("span", text, "shift " + cls));
    if (a.closed_queues && a.closed_queues.length) state.appendChild(el("div", `queue closed now: ${a.closed_queues.join(", ")}`, "off"));
    tr.appendChild(state);
    const save = el("button", "Save"), msg = el("span", "", "err");
    save.onclick = async () => {
      const body = {};
      for (const f of tr.querySelectorAll("input,select")) body[f.name] = f.value;
      const r = await fetch(`/handoff/api/agents/${encodeURIComponent(a.id)}`, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { msg.textContent = data.detail || `not saved (${r.status})`; return; }
      msg.textContent = ""; await load();
    };
    const td = el("td"); td.appendChild(save); td.appendChild(msg); tr.appendChild(td);
    if (!supervisor && a.id !== you) tr.querySelectorAll("input,select,button").forEach((x) => { x.disabled = true; });
    return tr;
  }

  async function load() {
    const [c, ag] = await Promise.all([get("coverage"), get("agents")]);
    if (c === null || ag === null) { cov.classList.add("hidden"); root.classList.add("hidden"); return; }
    cov.classList.remove("hidden"); root.classList.remove("hidden");
    cov.textContent = "";
    if (c.error) cov.appendChild(el("div", `Shift coverage unavailable: ${c.error}`, "q closed"));
    else for (const q of c.queues) cov.appendChild(coverageLine(q));
    root.textContent = "";
    root.appendChild(el("h2", ag.supervisor ? "Agents and shifts" : "Your shift"));
    root.appendChild(el("p", "Hours are a weekly rota in the agent's time zone, e.g. \"mon-fri 09:00-17:00; sat 10:00-14:00\", " +
      "\"sun-thu 22:00-06:00\" (overnight) or \"24/7\". Calls are offered only on shift (and inside the queue's business hours).", "note"));
    const table = el("table"), head = el("tr");
    for (const h of ["agent", "status", "languages", "skills", "hours", "time zone", "shift", ""]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const a of ag.agents || []) table.appendChild(agentRow(a, ag.you, ag.supervisor));
    root.appendChild(table);
  }

  function start() { load(); clearInterval(timer); timer = setInterval(load, 30000); }
  window.addEventListener("desk:presence", load);
  window.addEventListener("desk:signedin", start);
  fetch("/handoff/api/me", {credentials: "same-origin"}).then((r) => { if (r.ok) start(); });
})();
