// The agent desk: plain DOM, fetch and one WebSocket; no dependencies.
"use strict";
const $ = (id) => document.getElementById(id);
let me = null, current = null, ws = null;

async function api(path, body) {
  const opts = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const r = await fetch("/handoff/api/" + path, Object.assign({credentials: "same-origin"}, opts));
  const data = await r.json().catch(() => ({}));
  if (r.status === 401) { showLogin(data.detail || "signed out"); throw new Error("401"); }
  return {ok: r.ok, status: r.status, data};
}
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
function showLogin(msg) { $("app").classList.add("hidden"); $("login").classList.remove("hidden"); $("loginError").textContent = msg || ""; }

async function start() {
  const r = await api("me");
  me = r.data;
  $("login").classList.add("hidden"); $("app").classList.remove("hidden");
  $("me").textContent = `${me.name} (${me.role})`;
  $("langs").value = me.languages.join(",");
  $("status").value = me.status === "offline" ? "available" : me.status;
  connect();
  await refreshQueue();
}

function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/handoff/ws");
  ws.onmessage = async (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === "ticket") { await refreshQueue(); if (current === ev.call_id) await openCall(ev.call_id); }
    else if (ev.type === "line" && ev.call_id === current) addLine(ev.line);
  };
  ws.onclose = () => setTimeout(() => { if (me) connect(); }, 2000);
  setInterval(() => { if (ws.readyState === 1) ws.send("ping"); }, 15000);
}

async function refreshQueue() {
  const r = await api("queue");
  const q = $("queue"); q.textContent = "";
  const calls = r.data.calls.filter((c) => ["queued", "offered", "accepted", "bridged"].includes(c.state));
  if (!calls.length) q.appendChild(el("p", "No calls waiting.", "note"));
  for (const c of calls) {
    const offered = c.state === "offered" && c.offered_to === me.id;
    const d = el("div", "", "call" + (offered ? " offered" : "") + (c.agent_id === me.id ? " mine" : ""));
    d.dataset.callId = c.call_id;
    d.appendChild(el("b", `${c.language.toUpperCase()} · ${c.channel}`));
    d.appendChild(el("div", `${c.state}${offered ? " — offered to you" : ""}${c.translated ? " · live translation" : ""}`));
    if (c.reason) d.appendChild(el("div", c.reason, "note"));
    d.onclick = () => openCall(c.call_id);
    q.appendChild(d);
    if (!current && offered) openCall(c.call_id);
  }
}

function addLine(l) {
  const t = $("transcript"), d = el("div", "", "line " + l.role);
  d.appendChild(el("span", l.role, "who"));
  d.appendChild(el("span", l.text));
  if (l.translation) d.appendChild(el("span", l.translation, "tr"));
  if (l.spoken && l.spoken !== l.text) d.appendChild(el("span", "spoken: " + l.spoken, "tr"));
  if (l.note || l.translation_note) d.appendChild(el("span", l.note || l.translation_note, "note"));
  t.appendChild(d); t.scrollTop = t.scrollHeight;
}

async function openCall(id) {
  current = id;
  const r = await api("calls/" + encodeURIComponent(id));
  if (!r.ok) { $("actionMsg").textContent = r.data.detail || "call not available"; return; }
  const {ticket, card, live} = r.data, L = card.labels;
  $("noCall").classList.add("hidden"); $("callBody").classList.remove("hidden");
  $("callTitle").textContent = `${ticket.call_id} · ${ticket.state}`;
  $("accept").disabled = !["queued", "offered"].includes(ticket.state);
  const mine = ticket.agent_id === me.id && ticket.state === "bridged";
  $("backToBot").disabled = $("endCall").disabled = $("send").disabled = !mine;
  const dl = $("card"); dl.textContent = "";
  const add = (k, v) => { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); };
  const c = card.caller || {};
  add(L.caller, [c.name, c.number].filter(Boolean).join(" · ") || L.unknown);
  add(L.language, card.caller_language + (card.caller_language !== card.agent_language ? ` → ${card.agent_language}` : ""));
  add(L.orders, card.orders.join(", ") || L.none);
  add(L.intents, card.intents.join(", ") || L.none);
  add(L.sentiment, card.sentiment);
  add(L.reason, card.reason);
  if (card.promised.length) add(L.promised, card.promised.join(" · "));
  add(L.summary, card.summary[card.agent_language] || "");
  if (card.caller_language !== card.agent_language) add(`${L.summary} (${card.caller_language})`, card.summary[card.caller_language] || "");
  const n = $("notices"); n.textContent = "";
  for (const x of card.notices) n.appendChild(el("div", x, "notice"));
  $("transcriptTitle").textContent = L.transcript;
  $("transcript").textContent = "";
  for (const l of card.transcript) addLine(l);
  for (const l of live) addLine(l);
}

$("loginForm").onsubmit = async (e) => {
  e.preventDefault();
  const r = await fetch("/handoff/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({id: $("agentId").value, password: $("password").value}), credentials: "same-origin"});
  if (!r.ok) { $("loginError").textContent = (await r.json()).error || "sign in failed"; return; }
  await start();
};
$("saveStatus").onclick = () => api("status", {status: $("status").value, languages: $("langs").value.split(",")});
$("logout").onclick = async () => { await api("logout", {}); me = null; if (ws) ws.close(); showLogin("signed out"); };
$("accept").onclick = async () => {
  const r = await api(`calls/${encodeURIComponent(current)}/accept`, {});
  $("actionMsg").textContent = r.ok ? "accepted" : r.data.error;
};
$("backToBot").onclick = () => api(`calls/${encodeURIComponent(current)}/release`, {back_to_bot: true});
$("endCall").onclick = () => api(`calls/${encodeURIComponent(current)}/release`, {back_to_bot: false});
$("replyForm").onsubmit = async (e) => {
  e.preventDefault();
  const text = $("reply").value.trim(); if (!text) return;
  const r = await api(`calls/${encodeURIComponent(current)}/say`, {text});
  if (r.ok) $("reply").value = ""; else $("actionMsg").textContent = r.data.error;
};
api("me").then(start).catch(() => showLogin(""));
