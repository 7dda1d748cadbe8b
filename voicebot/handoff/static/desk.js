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
function showLogin(msg) {
  $("app").classList.add("hidden"); $("login").classList.remove("hidden");
  $("loginError").textContent = msg || (nextPage() ? "Sign in to see the QA pages." : "");
}

async function start() {
  const r = await api("me");
  me = r.data;
  $("login").classList.add("hidden"); $("app").classList.remove("hidden");
  $("me").textContent = `${me.name} (${me.role})`;
  $("langs").value = me.languages.join(",");
  $("status").value = me.status === "offline" ? "available" : me.status;
  connect();
  window.dispatchEvent(new Event("desk:signedin"));
  await refreshQueue();
}

// Sent here to sign in by another page (the QA pages: /desk?next=/qa/...): back there afterwards, same site only.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/qa(\/|\?|$)/.test(next) ? next : null;
}

function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/handoff/ws");
  ws.onmessage = async (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === "ticket") {
      if (ev.call_id === talk.callId && ev.state !== "bridged") endTalk("ended", TALK_TEXT.call_over);
      await refreshQueue(); if (current === ev.call_id) await openCall(ev.call_id);
    }
    else if (ev.type === "line" && ev.call_id === current) addLine(ev.line);
    else if (ev.type === "presence") window.dispatchEvent(new Event("desk:presence"));
    else if (ev.type === "talk" && ev.state === "ended" && ev.call_id === talk.callId && talk.pc) {
      endTalk(ev.reason && ev.reason.startsWith("agent_") && ev.reason !== "agent_hung_up_talk" ? "lost" : "ended",
              ev.reason && ev.reason.startsWith("agent_") && ev.reason !== "agent_hung_up_talk" ? TALK_TEXT.lost : TALK_TEXT.call_over);
    }
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

let callLabels = {caller: "Caller", bot: "Bot"};
function addLine(l) {
  const t = $("transcript"), d = el("div", "", "line " + l.role);
  // the agent's own lines by their name; the caller and the bot by the card's labels
  const who = l.role === "agent" ? (l.agent_name || (me && me.name) || "Agent") : (callLabels[l.role] || l.role);
  d.appendChild(el("span", who, "who"));
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
  openTalk = mine ? ticket.call_id : null;
  renderTalk();
  const dl = $("card"); dl.textContent = "";
  const add = (k, v) => { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); };
  const c = card.caller || {};
  add(L.caller, [c.name, c.number].filter(Boolean).join(" · ") || L.unknown);
  callLabels = {caller: L.caller, bot: "Bot"};
  add(L.language, card.caller_language + (card.caller_language !== card.agent_language
    ? ` → ${card.agent_language} (translated where this bot can; see the notice)` : " (you speak it: no translation)"));
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
  const next = nextPage();
  if (next) { location.assign(next); return; }
  await start();
};
$("saveStatus").onclick = () => api("status", {status: $("status").value, languages: $("langs").value.split(",")});
$("logout").onclick = async () => { if (talk.pc) await hangUpTalk(); await api("logout", {}); me = null; if (ws) ws.close(); showLogin("signed out"); };
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

// ---- Talk: the agent's microphone to the caller, the caller's audio to the agent (WebRTC to the bot) ----
const TALK_TEXT = {
  idle: "Talk to the caller with your microphone, or type below.",
  connecting: "Connecting your microphone…",
  talking: "Talking — the caller hears you.",
  muted: "Muted — the caller does not hear you.",
  mic_denied: "Microphone access was denied. Allow the microphone for this site in the browser's settings (the icon in the address bar), then press Talk again. You can still type replies.",
  mic_missing: "No microphone was found. Connect one and press Talk again; you can still type replies.",
  mic_busy: "The microphone is in use by another application. Close it and press Talk again.",
  lost: "The voice connection was lost; the caller went back to the bot.",
  call_over: "Talk ended.",
};
const talk = {state: "idle", callId: null, pc: null, mic: null, actx: null, meter: null,
  stats: {clickedAt: null, firstCallerAudioMs: null, callerVoicedMs: 0, callerPeakRms: 0, bytesReceived: 0, audioLevel: 0}};
window.deskTalk = talk;  // read by the page's tests
let openTalk = null;  // the open call, when it is the agent's own live call

function setTalk(state, message) { talk.state = state; renderTalk(message); }
function renderTalk(message) {
  const live = talk.pc !== null, here = live && talk.callId === current;
  $("talkPanel").dataset.state = live && !here ? "idle" : talk.state;
  $("talk").textContent = here ? "Hang up talk" : "Talk";
  $("talk").classList.toggle("on", here);
  $("talk").disabled = here ? false : (live || !openTalk || talk.state === "connecting");
  $("mute").classList.toggle("hidden", !here || talk.state === "connecting");
  $("mute").textContent = talk.state === "muted" ? "Unmute" : "Mute";
  if (message !== undefined) $("talkState").textContent = message;
  else if (live && !here) $("talkState").textContent = "Talking on another call.";
  else $("talkState").textContent = TALK_TEXT[talk.state] || talk.state;
}
function micState(err) {
  const n = err && err.name;
  if (n === "NotAllowedError" || n === "SecurityError" || n === "PermissionDeniedError") return "mic_denied";
  if (n === "NotReadableError" || n === "TrackStartError") return "mic_busy";
  return "mic_missing";
}
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") { clearTimeout(t); resolve(); } });
  });
}
function meterCaller(stream) {
  const ctx = talk.actx, src = ctx.createMediaStreamSource(stream), an = ctx.createAnalyser();
  an.fftSize = 1024; src.connect(an);
  const data = new Float32Array(an.fftSize); let last = performance.now();
  talk.meter = setInterval(async () => {
    an.getFloatTimeDomainData(data);
    let sum = 0; for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
    const rms = Math.sqrt(sum / data.length), now = performance.now(), st = talk.stats;
    if (rms > 0.01) { st.callerVoicedMs += now - last; if (st.firstCallerAudioMs === null) st.firstCallerAudioMs = now - st.clickedAt; }
    st.callerPeakRms = Math.max(st.callerPeakRms, rms); last = now;
    if (talk.pc) for (const r of (await talk.pc.getStats()).values()) {
      if (r.type === "inbound-rtp" && r.kind === "audio") { st.bytesReceived = r.bytesReceived || 0; st.audioLevel = r.audioLevel || 0; }
    }
  }, 20);
}
async function startTalk() {
  const callId = current;
  talk.callId = callId;
  talk.stats = {clickedAt: performance.now(), firstCallerAudioMs: null, callerVoicedMs: 0, callerPeakRms: 0, bytesReceived: 0, audioLevel: 0};
  talk.actx = talk.actx || new AudioContext();  // made in the click: allowed to play
  talk.actx.resume().catch(() => {});
  setTalk("connecting");
  let mic;
  try {
    mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true}});
  } catch (err) { talk.callId = null; setTalk(micState(err)); return; }
  const pc = new RTCPeerConnection({iceServers: []});
  talk.pc = pc; talk.mic = mic;
  mic.getAudioTracks().forEach((t) => pc.addTrack(t, mic));
  pc.ontrack = (ev) => {
    const stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
    $("callerAudio").srcObject = stream; $("callerAudio").play().catch(() => {});
    meterCaller(stream);
  };
  pc.onconnectionstatechange = () => {
    if (talk.pc === pc && pc.connectionState === "failed") endTalk("lost", TALK_TEXT.lost);  // "disconnected" may recover
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    const r = await fetch(`/handoff/api/calls/${encodeURIComponent(callId)}/talk`, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({sdp: pc.localDescription.sdp, type: pc.localDescription.type})});
    const data = await r.json().catch(() => ({}));
    if (talk.pc !== pc) return;  // hung up meanwhile
    if (!r.ok) { endTalk("error", "Talk refused: " + (data.error || data.detail || r.status)); return; }
    await pc.setRemoteDescription({sdp: data.sdp, type: data.type});
    setTalk("talking");
  } catch (err) { if (talk.pc === pc) endTalk("error", "Talk failed: " + (err.message || err)); }
}
function endTalk(state, message) {
  const pc = talk.pc;
  clearInterval(talk.meter); talk.meter = null;
  talk.pc = null; talk.callId = null;
  if (pc) try { pc.close(); } catch (e) { /* closed */ }
  if (talk.mic) { talk.mic.getTracks().forEach((t) => t.stop()); talk.mic = null; }
  $("callerAudio").srcObject = null;
  setTalk(state, message);
}
async function hangUpTalk() {
  const callId = talk.callId;
  await fetch(`/handoff/api/calls/${encodeURIComponent(callId)}/talk`, {method: "DELETE", credentials: "same-origin"}).catch(() => {});
  endTalk("ended", TALK_TEXT.call_over);  // the server closed its side first: no "lost" on our close
}
$("talk").onclick = () => (talk.pc && talk.callId === current ? hangUpTalk() : startTalk());
$("mute").onclick = () => {
  const muted = talk.state !== "muted";
  if (talk.mic) talk.mic.getAudioTracks().forEach((t) => { t.enabled = !muted; });
  setTalk(muted ? "muted" : "talking");
};
window.addEventListener("pagehide", () => { if (talk.pc) endTalk("ended"); });

api("me").then(start).catch(() => showLogin(""));
