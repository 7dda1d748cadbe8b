/* voicebot in-app voice button. Dependency-free; works on current Chromium.
 *
 * On a shop page:
 *   <div id="voicebot"></div>
 *   <script src="https://BOT/widget.js" data-server="https://BOT" data-token-url="/voicebot/token"
 *           data-target="#voicebot"></script>
 * data-token-url is the shop's own endpoint (behind its login) returning {"token": "..."}.
 * Optional: data-transport="auto|webrtc|websocket", data-lang="en|de|es|fr" (labels).
 *
 * States: idle, connecting, listening, bot_speaking, transferred, ended, error.
 */
(function () {
  "use strict";

  var LABELS = {
    en: { idle: "Talk to us", connecting: "Connecting…", listening: "Listening — speak now", bot_speaking: "Assistant speaking",
          transferred: "Connecting you to a colleague — stay on the line", ended: "Call ended", error: "Something went wrong",
          start: "Start voice call", end: "End call", again: "Call again", type: "Type instead of speaking…", send: "Send",
          you: "You", bot: "Assistant",
          mic_denied: "Microphone access was denied. Allow the microphone for this site in the browser's settings (the icon in the address bar), then try again.",
          mic_missing: "No microphone was found. Connect one, or use a device with a microphone, then try again.",
          mic_busy: "The microphone is in use by another application. Close it and try again.",
          insecure: "Voice calls need a secure page (https) and a browser with microphone support.",
          lost: "The connection was lost. Check your network and call again.",
          refused: "The call could not start: " },
    de: { idle: "Mit uns sprechen", connecting: "Verbinde…", listening: "Ich höre zu — bitte sprechen", bot_speaking: "Assistent spricht",
          transferred: "Sie werden mit einem Kollegen verbunden — bitte bleiben Sie dran", ended: "Anruf beendet", error: "Etwas ist schiefgelaufen",
          start: "Sprachanruf starten", end: "Auflegen", again: "Erneut anrufen", type: "Oder hier tippen…", send: "Senden", you: "Sie", bot: "Assistent" },
    es: { idle: "Hable con nosotros", connecting: "Conectando…", listening: "Le escucho — hable ahora", bot_speaking: "El asistente habla",
          transferred: "Le paso con un compañero — no cuelgue", ended: "Llamada finalizada", error: "Algo salió mal",
          start: "Iniciar llamada", end: "Colgar", again: "Llamar de nuevo", type: "O escriba aquí…", send: "Enviar", you: "Usted", bot: "Asistente" },
    fr: { idle: "Parlez-nous", connecting: "Connexion…", listening: "Je vous écoute", bot_speaking: "L'assistant parle",
          transferred: "Je vous passe un collègue — restez en ligne", ended: "Appel terminé", error: "Un problème est survenu",
          start: "Démarrer l'appel", end: "Raccrocher", again: "Rappeler", type: "Ou écrivez ici…", send: "Envoyer", you: "Vous", bot: "Assistant" }
  };

  var CSS = [
    ".vbw{font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;background:#fff;border:1px solid #dde2ea;",
    "border-radius:14px;box-shadow:0 6px 24px rgba(20,30,60,.10);width:340px;padding:16px;box-sizing:border-box}",
    ".vbw-top{display:flex;align-items:center;gap:12px}",
    ".vbw-btn{width:56px;height:56px;border-radius:50%;border:none;cursor:pointer;flex:none;display:flex;align-items:center;",
    "justify-content:center;background:#2657d9;color:#fff;transition:background .2s,box-shadow .2s}",
    ".vbw-btn svg{width:26px;height:26px;fill:currentColor}",
    ".vbw-btn:focus-visible{outline:3px solid #9bb4f5;outline-offset:2px}",
    ".vbw[data-state=connecting] .vbw-btn{background:#8a94a6;animation:vbw-pulse 1s infinite}",
    ".vbw[data-state=listening] .vbw-btn,.vbw[data-state=bot_speaking] .vbw-btn,.vbw[data-state=transferred] .vbw-btn{background:#d93a3a}",
    ".vbw[data-state=listening] .vbw-btn{box-shadow:0 0 0 6px rgba(38,160,90,.35)}",
    ".vbw[data-state=bot_speaking] .vbw-btn{box-shadow:0 0 0 6px rgba(38,87,217,.35)}",
    ".vbw[data-state=error] .vbw-btn{background:#2657d9}",
    "@keyframes vbw-pulse{50%{opacity:.6}}",
    ".vbw-state{font-weight:600}",
    ".vbw-dot{display:inline-block;width:9px;height:9px;border-radius:50%;background:#8a94a6;margin-right:6px;vertical-align:middle}",
    ".vbw[data-state=listening] .vbw-dot{background:#26a05a}.vbw[data-state=bot_speaking] .vbw-dot{background:#2657d9}",
    ".vbw[data-state=transferred] .vbw-dot{background:#e0a100}.vbw[data-state=error] .vbw-dot{background:#d93a3a}",
    ".vbw-msg{font-size:13px;color:#b02a2a;margin-top:10px;display:none}.vbw[data-state=error] .vbw-msg{display:block}",
    ".vbw-caps{margin-top:12px;max-height:260px;overflow-y:auto;display:flex;flex-direction:column;gap:6px}",
    ".vbw-cap{padding:6px 10px;border-radius:10px;max-width:88%;font-size:14px}",
    ".vbw-cap b{display:block;font-size:11px;font-weight:600;opacity:.7}",
    ".vbw-cap.caller{align-self:flex-end;background:#e8efff}.vbw-cap.bot{align-self:flex-start;background:#f1f3f6}",
    ".vbw-form{display:flex;gap:6px;margin-top:12px}",
    ".vbw-form input{flex:1;min-width:0;border:1px solid #cfd6e2;border-radius:8px;padding:7px 9px;font:inherit}",
    ".vbw-form button{border:none;border-radius:8px;padding:7px 12px;background:#eef1f6;font:inherit;cursor:pointer}",
    ".vbw-form input:disabled,.vbw-form button:disabled{opacity:.5}"
  ].join("");

  var MIC = '<svg viewBox="0 0 24 24"><path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z"/></svg>';
  var HANG = '<svg viewBox="0 0 24 24"><path d="M12 9c-1.6 0-3.15.25-4.6.72v3.1c0 .39-.23.74-.56.9-.98.49-1.87 1.12-2.66 1.85-.18.18-.43.28-.7.28-.28 0-.53-.11-.71-.29L.29 13.08a.996.996 0 0 1 0-1.41C3.34 8.78 7.46 7 12 7s8.66 1.78 11.71 4.67c.18.18.29.43.29.71 0 .28-.11.53-.29.71l-2.48 2.48c-.18.18-.43.29-.71.29-.27 0-.52-.11-.7-.28a11.3 11.3 0 0 0-2.67-1.85.996.996 0 0 1-.56-.9v-3.1C15.15 9.25 13.6 9 12 9z"/></svg>';

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }

  function Widget(root, opts) {
    this.opts = opts || {};
    this.server = (this.opts.server || "").replace(/\/$/, "");
    this.lang = LABELS[this.opts.lang] ? this.opts.lang : "en";
    this.L = function (k) { return (LABELS[this.lang] && LABELS[this.lang][k]) || LABELS.en[k] || k; };
    this.state = "idle";
    this.stats = { states: [], botVoicedMs: 0, botPeakRms: 0, captions: [], callId: null, transport: null, errors: [] };
    this.captionsByTurn = {};
    this._build(root);
    this._set("idle");
  }

  Widget.prototype._build = function (root) {
    if (!document.getElementById("vbw-style")) { var s = el("style"); s.id = "vbw-style"; s.textContent = CSS; document.head.appendChild(s); }
    var w = el("div", "vbw"); w.setAttribute("role", "region"); w.setAttribute("aria-label", "Voice assistant");
    var top = el("div", "vbw-top");
    this.btn = el("button", "vbw-btn"); this.btn.type = "button";
    var info = el("div"); this.stateEl = el("div", "vbw-state"); this.stateEl.setAttribute("aria-live", "polite");
    this.sub = el("div"); this.sub.style.cssText = "font-size:12px;color:#6b7486";
    info.appendChild(this.stateEl); info.appendChild(this.sub);
    top.appendChild(this.btn); top.appendChild(info);
    this.msg = el("div", "vbw-msg"); this.msg.setAttribute("role", "alert");
    this.caps = el("div", "vbw-caps"); this.caps.setAttribute("aria-live", "polite");
    this.form = el("form", "vbw-form");
    this.input = el("input"); this.input.type = "text"; this.input.maxLength = 500; this.input.placeholder = this.L("type");
    this.input.setAttribute("aria-label", this.L("type"));
    this.sendBtn = el("button", null, this.L("send")); this.sendBtn.type = "submit";
    this.form.appendChild(this.input); this.form.appendChild(this.sendBtn);
    w.appendChild(top); w.appendChild(this.msg); w.appendChild(this.caps); w.appendChild(this.form);
    this.audio = el("audio"); this.audio.autoplay = true; w.appendChild(this.audio);
    root.appendChild(w); this.root = w;
    var self = this;
    this.btn.addEventListener("click", function () { self.toggle(); });
    this.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.sendText(self.input.value); });
  };

  Widget.prototype._set = function (state, message) {
    if (this.state === "transferred" && (state === "listening" || state === "bot_speaking")) return;
    this.state = state; this.stats.states.push(state);
    this.root.setAttribute("data-state", state);
    var dot = '<span class="vbw-dot"></span>';
    this.stateEl.innerHTML = dot; this.stateEl.appendChild(document.createTextNode(this.L(state)));
    var live = state === "connecting" || state === "listening" || state === "bot_speaking" || state === "transferred";
    this.btn.innerHTML = live ? HANG : MIC;
    this.btn.setAttribute("aria-label", live ? this.L("end") : (state === "idle" ? this.L("start") : this.L("again")));
    this.sub.textContent = live ? this.L("end") : (state === "idle" ? this.L("start") : this.L("again"));
    var canType = state === "listening" || state === "bot_speaking" || state === "transferred";
    this.input.disabled = !canType; this.sendBtn.disabled = !canType;
    if (message !== undefined) { this.msg.textContent = message; this.stats.errors.push(message); }
  };

  Widget.prototype.toggle = function () {
    if (this.state === "idle" || this.state === "ended" || this.state === "error") this.start();
    else this.hangup();
  };

  Widget.prototype._caption = function (m) {
    this.stats.captions.push({ who: m.who, text: m.text });
    var key = m.who + ":" + m.turn_id, node = m.turn_id != null ? this.captionsByTurn[key] : null;
    if (!node) {
      node = el("div", "vbw-cap " + (m.who === "caller" ? "caller" : "bot"));
      node.appendChild(el("b", null, m.who === "caller" ? this.L("you") : this.L("bot")));
      node.appendChild(el("span"));
      this.caps.appendChild(node);
      if (m.turn_id != null) this.captionsByTurn[key] = node;
    }
    node.lastChild.textContent = m.text + (m.interrupted ? " …" : "");
    this.caps.scrollTop = this.caps.scrollHeight;
  };

  Widget.prototype._onMessage = function (m) {
    if (!m || typeof m !== "object") return;
    if (m.type === "call") { this.stats.callId = m.call_id; if (this.state === "connecting") this._set("listening"); }
    else if (m.type === "state") { if (m.state === "ended") this._ended(); else this._set(m.state); }
    else if (m.type === "caption") this._caption(m);
    else if (m.type === "clear") this._clearPlayback();
    else if (m.type === "error") this.stats.errors.push(m.code + ": " + m.message);
  };

  Widget.prototype._token = function () {
    var o = this.opts;
    if (o.token) return Promise.resolve(typeof o.token === "function" ? o.token() : o.token);
    var body = typeof o.tokenBody === "function" ? o.tokenBody() : (o.tokenBody || {});
    return fetch(o.tokenUrl, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || ("token endpoint answered " + r.status)); return j.token; }); });
  };

  Widget.prototype._micError = function (err) {
    var n = err && err.name;
    if (n === "NotAllowedError" || n === "SecurityError" || n === "PermissionDeniedError") return this.L("mic_denied");
    if (n === "NotFoundError" || n === "DevicesNotFoundError" || n === "OverconstrainedError") return this.L("mic_missing");
    if (n === "NotReadableError" || n === "TrackStartError") return this.L("mic_busy");
    return this.L("mic_missing") + " (" + (n || err) + ")";
  };

  Widget.prototype.start = function () {
    var self = this;
    this._teardown();
    this.caps.innerHTML = ""; this.captionsByTurn = {};
    this._set("connecting", "");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { this._fail(this.L("insecure")); return Promise.resolve(); }
    var transport = this.opts.transport || "auto";
    if (transport === "auto" && typeof RTCPeerConnection === "undefined") transport = "websocket";
    var constraints = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } };
    if (this.opts.rawMic) constraints.audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (mic) {
      self.mic = mic;
      return self._token().then(function (token) {
        self.stats.transport = transport === "websocket" ? "websocket" : "webrtc";
        return transport === "websocket" ? self._startWs(token) : self._startRtc(token).catch(function (e) {
          if (transport !== "auto" || self.state !== "connecting") throw e;
          self.stats.errors.push("webrtc failed, falling back: " + e.message); self.stats.transport = "websocket";
          return self._startWs(token);
        });
      });
    }, function (err) { self._fail(self._micError(err)); })
      .catch(function (e) { self._fail(self.L("refused") + (e && e.message ? e.message : e)); });
  };

  Widget.prototype._startRtc = function (token) {
    var self = this;
    var pc = new RTCPeerConnection({ iceServers: this.opts.iceServers || [] });
    this.pc = pc;
    var dc = pc.createDataChannel("voicebot", { ordered: true }); this.dc = dc;
    dc.onmessage = function (ev) { try { self._onMessage(JSON.parse(ev.data)); } catch (e) { /* not ours */ } };
    this.mic.getAudioTracks().forEach(function (t) { pc.addTrack(t, self.mic); });
    pc.ontrack = function (ev) {
      var stream = ev.streams && ev.streams[0] ? ev.streams[0] : new MediaStream([ev.track]);
      self.audio.srcObject = stream; self.audio.play().catch(function () {});
      self._analyse(function (ctx) { return ctx.createMediaStreamSource(stream); });
    };
    pc.onconnectionstatechange = function () {
      var s = pc.connectionState;
      if ((s === "failed" || s === "disconnected") && self.pc === pc && self.state !== "ended") self._fail(self.L("lost"));
    };
    return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return self._gathered(pc, 2000); })
      .then(function () {
        return fetch(self.server + "/inapp/offer", { method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: token, sdp: pc.localDescription.sdp, type: pc.localDescription.type }) });
      })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { var e = new Error((j.error && j.error.message) || ("server answered " + r.status)); e.refused = true; throw e; } return j; }); })
      .then(function (answer) { self.pcId = answer.pc_id; self.stats.callId = answer.call_id; return pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type }); })
      .then(function () { if (self.state === "connecting") self._set("listening"); })
      .catch(function (e) { if (e.refused) { self._fail(self.L("refused") + e.message); return; } throw e; });
  };

  Widget.prototype._gathered = function (pc, ms) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(function (resolve) {
      var t = setTimeout(resolve, ms);
      pc.addEventListener("icegatheringstatechange", function () { if (pc.iceGatheringState === "complete") { clearTimeout(t); resolve(); } });
    });
  };

  var WORKLET = "class C extends AudioWorkletProcessor{process(i){const c=i[0]&&i[0][0];if(c){const o=new Int16Array(c.length);" +
    "for(let k=0;k<c.length;k++){const s=Math.max(-1,Math.min(1,c[k]));o[k]=s<0?s*32768:s*32767;}this.port.postMessage(o.buffer,[o.buffer]);}return true}}" +
    "registerProcessor('vbw-capture',C);";

  Widget.prototype._startWs = function (token) {
    var self = this;
    var ctx = new AudioContext({ sampleRate: 16000 }); this.ctx = ctx; this.playAt = 0; this.sources = [];
    var url = (this.server || location.origin).replace(/^http/, "ws") + "/inapp/ws";
    return ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }))).then(function () {
      return new Promise(function (resolve, reject) {
        var ws = new WebSocket(url); ws.binaryType = "arraybuffer"; self.ws = ws;
        var opened = false, buf = [], bufLen = 0;
        ws.onopen = function () {
          opened = true;
          ws.send(JSON.stringify({ type: "start", token: token, sample_rate: 16000 }));
          var src = ctx.createMediaStreamSource(self.mic), node = new AudioWorkletNode(ctx, "vbw-capture");
          node.port.onmessage = function (ev) {  // 20 ms frames of 16-bit PCM
            buf.push(new Int16Array(ev.data)); bufLen += ev.data.byteLength / 2;
            if (bufLen >= 320 && ws.readyState === 1) {
              var out = new Int16Array(bufLen), off = 0; buf.forEach(function (b) { out.set(b, off); off += b.length; });
              ws.send(out.buffer); buf = []; bufLen = 0;
            }
          };
          src.connect(node); self.captureNode = node;
          self._analyse(function () { self.playGain = ctx.createGain(); self.playGain.connect(ctx.destination); return self.playGain; }, ctx);
          resolve();
        };
        ws.onmessage = function (ev) {
          if (typeof ev.data === "string") { try { var m = JSON.parse(ev.data); } catch (e) { return; } self._onMessage(m); if (m.type === "error" && self.state === "connecting") self._fail(self.L("refused") + m.message); return; }
          self._play(new Int16Array(ev.data));
        };
        ws.onclose = function () {
          if (!opened) reject(new Error("the voice server could not be reached"));
          else if (self.ws === ws && self.state !== "ended" && self.state !== "error") self._fail(self.L("lost"));
        };
      });
    });
  };

  Widget.prototype._play = function (pcm) {
    var ctx = this.ctx; if (!ctx || !this.playGain) return;
    var b = ctx.createBuffer(1, pcm.length, 16000), d = b.getChannelData(0);
    for (var i = 0; i < pcm.length; i++) d[i] = pcm[i] / 32768;
    var s = ctx.createBufferSource(); s.buffer = b; s.connect(this.playGain);
    var at = Math.max(ctx.currentTime + 0.06, this.playAt); s.start(at); this.playAt = at + b.duration;
    var list = this.sources; list.push(s); s.onended = function () { var k = list.indexOf(s); if (k >= 0) list.splice(k, 1); };
  };

  Widget.prototype._clearPlayback = function () {
    (this.sources || []).forEach(function (s) { try { s.stop(); } catch (e) { /* already stopped */ } });
    this.sources = []; this.playAt = 0;
  };

  /* Measures the bot's audio as it plays (for the page and its tests): voiced ms and peak level. */
  Widget.prototype._analyse = function (makeSource, ctx) {
    var self = this;
    ctx = ctx || (this.actx = this.actx || new AudioContext());
    var src = makeSource(ctx), an = ctx.createAnalyser(); an.fftSize = 2048; src.connect(an);
    var data = new Float32Array(an.fftSize), last = performance.now();
    clearInterval(this.meter);
    this.meter = setInterval(function () {
      an.getFloatTimeDomainData(data);
      var sum = 0; for (var i = 0; i < data.length; i++) sum += data[i] * data[i];
      var rms = Math.sqrt(sum / data.length), now = performance.now();
      if (rms > 0.01) self.stats.botVoicedMs += now - last;
      if (rms > self.stats.botPeakRms) self.stats.botPeakRms = rms;
      last = now;
    }, 40);
  };

  Widget.prototype._send = function (m) {
    var s = JSON.stringify(m);
    if (this.dc && this.dc.readyState === "open") { this.dc.send(s); return true; }
    if (this.ws && this.ws.readyState === 1) { this.ws.send(s); return true; }
    return false;
  };

  Widget.prototype.sendText = function (text) {
    text = (text || "").trim(); if (!text) return;
    if (this._send({ type: "text", text: text })) this.input.value = "";
  };

  Widget.prototype.hangup = function () {
    this._send({ type: "hangup" });
    var self = this; setTimeout(function () { self._teardown(); }, 150);
    this._ended();
  };

  Widget.prototype._ended = function () { if (this.state !== "error") this._set("ended"); var self = this; setTimeout(function () { self._teardown(); }, 300); };

  Widget.prototype._fail = function (message) { this._set("error", message); this._teardown(); };

  Widget.prototype._teardown = function () {
    clearInterval(this.meter);
    var pc = this.pc, ws = this.ws; this.pc = null; this.ws = null; this.dc = null;
    if (pc) try { pc.close(); } catch (e) { /* closed */ }
    if (ws) try { ws.close(); } catch (e) { /* closed */ }
    if (this.captureNode) { try { this.captureNode.disconnect(); } catch (e) { /* gone */ } this.captureNode = null; }
    if (this.mic) { this.mic.getTracks().forEach(function (t) { t.stop(); }); this.mic = null; }
    if (this.ctx) { var c = this.ctx; this.ctx = null; setTimeout(function () { c.close().catch(function () {}); }, 500); }
  };

  var api = { instances: [], mount: function (target, opts) {
    var root = typeof target === "string" ? document.querySelector(target) : target;
    var w = new Widget(root, opts); api.instances.push(w); return w;
  } };
  window.VoicebotWidget = api;

  var script = document.currentScript;
  if (script && script.getAttribute("data-token-url")) {
    var boot = function () {
      var target = script.getAttribute("data-target");
      var root = target ? document.querySelector(target) : null;
      if (!root) { root = document.createElement("div"); document.body.appendChild(root); }
      api.mount(root, { server: script.getAttribute("data-server") || "", tokenUrl: script.getAttribute("data-token-url"),
        transport: script.getAttribute("data-transport") || "auto", lang: script.getAttribute("data-lang") || "en" });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
  }
})();
