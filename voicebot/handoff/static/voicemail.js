// The desk's voicemail panel: messages callers left outside hours, with a player and "mark done".
// Independent of desk.js: it fills <section id="voicemails"> once the agent is signed in, and
// refreshes every 15 s (and when the desk appears). Plain DOM and fetch; no dependencies.
"use strict";
(() => {
  const root = document.getElementById("voicemails");
  if (!root) return;
  const css = document.createElement("style");
  css.textContent = "#voicemails{margin:0 1em 1em}#voicemails .vm{border:1px solid #ccd;border-radius:4px;padding:.5em;margin:.4em 0}" +
    "#voicemails .vm.done{opacity:.6}#voicemails .vm audio{display:block;margin:.3em 0;width:100%;max-width:28em}" +
    "#voicemails .meta{font-weight:600}#voicemails .sub{color:#555;font-size:.9em}#voicemails .tr{font-style:italic;margin:.2em 0}";
  document.head.appendChild(css);
  let showDone = false, timer = null;

  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const mmss = (s) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
  const when = (t) => new Date(t * 1000).toLocaleString();

  async function load() {
    const r = await fetch("/handoff/api/voicemails?status=" + (showDone ? "all" : "new"), {credentials: "same-origin"});
    if (r.status === 401) { root.classList.add("hidden"); root.textContent = ""; return; }
    if (!r.ok) { render(null, `Voicemail unavailable (${r.status})`); return; }
    render((await r.json()).voicemails);
  }

  function render(items, error) {
    root.classList.remove("hidden");
    root.textContent = "";
    const head = el("h2", "Voicemail");
    const toggle = el("label", " show done", "sub");
    const box = el("input"); box.type = "checkbox"; box.checked = showDone; box.id = "vmShowDone";
    box.onchange = () => { showDone = box.checked; load(); };
    toggle.prepend(box);
    root.append(head, toggle);
    if (error) { root.appendChild(el("p", error, "note")); return; }
    const fresh = items.filter((v) => v.status === "new").length;
    head.textContent = `Voicemail (${fresh} new)`;
    if (!items.length) { root.appendChild(el("p", "No voicemails.", "note")); return; }
    for (const v of items) {
      const d = el("div", "", "vm" + (v.status === "done" ? " done" : ""));
      d.dataset.callId = v.call_id;
      d.appendChild(el("div", `${(v.language || "?").toUpperCase()} · ${v.caller || "unknown caller"} · ${mmss(v.duration_s)} · ${when(v.created_at)}`, "meta"));
      if (v.summary) d.appendChild(el("div", v.summary, "sub"));
      if (v.transcript) d.appendChild(el("div", `“${v.transcript}”`, "tr"));
      const player = el("audio"); player.controls = true; player.preload = "none"; player.src = v.audio_url;
      d.appendChild(player);
      const btn = el("button", v.status === "done" ? `Done (${v.done_by || ""}) — reopen` : "Mark done", "vmDone");
      btn.onclick = async () => {
        btn.disabled = true;
        const r = await fetch(`/handoff/api/voicemails/${encodeURIComponent(v.call_id)}/done`, {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json"}, body: JSON.stringify({done: v.status !== "done"})});
        if (!r.ok) { btn.disabled = false; btn.textContent = "failed; retry"; return; }
        await load();
      };
      d.appendChild(btn);
      root.appendChild(d);
    }
  }

  function start() { if (timer === null) timer = setInterval(() => load().catch(() => {}), 15000); load().catch(() => {}); }
  const app = document.getElementById("app");
  if (app) new MutationObserver(() => { if (!app.classList.contains("hidden")) load().catch(() => {}); }).observe(app, {attributes: true, attributeFilter: ["class"]});
  start();
})();
