/* voicebot in-app voice button. Dependency-free; works on current Chromium.
 *
 * On a shop page:
 *   <div id="voicebot"></div>
 *   <script src="https://BOT/widget.js" data-server="https://BOT" data-token-url="/voicebot/token"
 *           data-target="#voicebot"></script>
 * data-token-url is the shop's own endpoint (behind its login) returning {"token": "..."}.
 * Optional: data-transport="auto|webrtc|websocket"; data-lang="es" (labels and errors; default: the
 * token's language, else the page's <html lang>, else the browser's); data-mode="text" (a chat box only).
 * Typing works without a voice call too (no microphone, or permission denied): a typed session
 * over the WebSocket path, the bot's replies shown as text.
 *
 * States: idle, connecting, listening, bot_speaking, transferred, agent (a person has the call),
 * no_agent (nobody on shift: what happens instead is shown), ended, error.
 */
(function () {
  "use strict";

  /* Every label and message in the caller's language (the page's, the token's, or data-lang).
   * Languages without a table here fall back to English. {name}, {when}, {min}: filled in. */
  var LABELS = {
    en: { idle: "Talk to us", connecting: "Connecting…", listening: "Listening — speak now", bot_speaking: "Assistant speaking",
          typing: "Assistant is replying…", text: "Chat with the assistant — type below",
          transferred: "Connecting you to a colleague — stay on the line", agent: "Connected with {name}", agent_default: "Colleague",
          no_agent: "Nobody from our team is available right now", ended: "Call ended", error: "Something went wrong",
          start: "Start voice call", end: "End call", end_chat: "End chat", again: "Call again", type: "Type your message…", send: "Send",
          you: "You", bot: "Assistant", wait: "Estimated wait: about {min} min.", translated: "Their messages are translated for you automatically.",
          back: "Our team is back {when}.", instead_voicemail: "Please leave a message after the tone, then press End call.",
          instead_callback: "We will call you back during opening hours.", instead_bot: "The assistant keeps helping you meanwhile.",
          text_instead: "You can still type your question below.",
          mic_denied: "Microphone access was denied. Allow the microphone for this site in the browser's settings (the icon in the address bar), then try again.",
          mic_missing: "No microphone was found. Connect one, or use a device with a microphone, then try again.",
          mic_busy: "The microphone is in use by another application. Close it and try again.",
          insecure: "Voice calls need a secure page (https) and a browser with microphone support.",
          lost: "The connection was lost. Check your network and try again.", refused: "The call could not start: ",
          busy: "All our lines are busy. Please try again in a minute.", token: "Your session has expired. Please reload the page.",
          origin: "This page may not start calls with the assistant.", unreachable: "The assistant cannot be reached right now. Please try again later." },
    es: { idle: "Hable con nosotros", connecting: "Conectando…", listening: "Le escucho — hable ahora", bot_speaking: "El asistente habla",
          typing: "El asistente está respondiendo…", text: "Chat con el asistente — escriba abajo",
          transferred: "Le paso con un compañero — no cuelgue", agent: "Conectado con {name}", agent_default: "Compañero",
          no_agent: "Ahora no hay nadie de nuestro equipo disponible", ended: "Llamada finalizada", error: "Algo salió mal",
          start: "Iniciar llamada", end: "Colgar", end_chat: "Terminar chat", again: "Llamar de nuevo", type: "Escriba su mensaje…", send: "Enviar",
          you: "Usted", bot: "Asistente", wait: "Espera estimada: unos {min} min.", translated: "Sus mensajes se le traducen automáticamente.",
          back: "Nuestro equipo vuelve {when}.", instead_voicemail: "Deje su mensaje después de la señal y pulse Colgar.",
          instead_callback: "Le llamaremos en horario de atención.", instead_bot: "Mientras tanto, el asistente sigue ayudándole.",
          text_instead: "Puede escribir su consulta abajo.",
          mic_denied: "Se ha denegado el acceso al micrófono. Permita el micrófono para este sitio en la configuración del navegador (el icono de la barra de direcciones) e inténtelo de nuevo.",
          mic_missing: "No se ha encontrado ningún micrófono. Conecte uno o use un dispositivo con micrófono e inténtelo de nuevo.",
          mic_busy: "Otra aplicación está usando el micrófono. Ciérrela e inténtelo de nuevo.",
          insecure: "Las llamadas de voz necesitan una página segura (https) y un navegador con micrófono.",
          lost: "Se ha perdido la conexión. Compruebe su red e inténtelo de nuevo.", refused: "No se pudo iniciar la llamada: ",
          busy: "Todas nuestras líneas están ocupadas. Inténtelo de nuevo en un minuto.", token: "Su sesión ha caducado. Vuelva a cargar la página.",
          origin: "Esta página no puede iniciar llamadas con el asistente.", unreachable: "Ahora no se puede contactar con el asistente. Inténtelo más tarde." },
    de: { idle: "Mit uns sprechen", connecting: "Verbinde…", listening: "Ich höre zu — bitte sprechen", bot_speaking: "Assistent spricht",
          typing: "Der Assistent antwortet…", text: "Chat mit dem Assistenten — unten tippen",
          transferred: "Sie werden mit einem Kollegen verbunden — bitte bleiben Sie dran", agent: "Verbunden mit {name}", agent_default: "Kollege",
          no_agent: "Gerade ist niemand aus unserem Team erreichbar", ended: "Anruf beendet", error: "Etwas ist schiefgelaufen",
          start: "Sprachanruf starten", end: "Auflegen", end_chat: "Chat beenden", again: "Erneut anrufen", type: "Nachricht eingeben…", send: "Senden",
          you: "Sie", bot: "Assistent", wait: "Geschätzte Wartezeit: etwa {min} Min.", translated: "Die Nachrichten werden automatisch für Sie übersetzt.",
          back: "Unser Team ist {when} wieder da.", instead_voicemail: "Bitte sprechen Sie nach dem Ton eine Nachricht und drücken Sie dann Auflegen.",
          instead_callback: "Wir rufen Sie während der Öffnungszeiten zurück.", instead_bot: "Der Assistent hilft Ihnen in der Zwischenzeit weiter.",
          text_instead: "Sie können Ihre Frage unten eintippen.",
          mic_denied: "Der Zugriff auf das Mikrofon wurde verweigert. Erlauben Sie das Mikrofon für diese Seite in den Browsereinstellungen (Symbol in der Adressleiste) und versuchen Sie es erneut.",
          mic_missing: "Es wurde kein Mikrofon gefunden. Schließen Sie eines an oder nutzen Sie ein Gerät mit Mikrofon.",
          mic_busy: "Das Mikrofon wird von einer anderen Anwendung verwendet. Schließen Sie sie und versuchen Sie es erneut.",
          insecure: "Sprachanrufe brauchen eine sichere Seite (https) und einen Browser mit Mikrofon.",
          lost: "Die Verbindung wurde unterbrochen. Prüfen Sie Ihr Netzwerk und versuchen Sie es erneut.", refused: "Der Anruf konnte nicht starten: ",
          busy: "Alle Leitungen sind belegt. Bitte versuchen Sie es in einer Minute erneut.", token: "Ihre Sitzung ist abgelaufen. Bitte laden Sie die Seite neu.",
          origin: "Diese Seite darf keine Anrufe mit dem Assistenten starten.", unreachable: "Der Assistent ist gerade nicht erreichbar. Bitte versuchen Sie es später." },
    fr: { idle: "Parlez-nous", connecting: "Connexion…", listening: "Je vous écoute", bot_speaking: "L'assistant parle",
          typing: "L'assistant répond…", text: "Discussion avec l'assistant — écrivez ci-dessous",
          transferred: "Je vous passe un collègue — restez en ligne", agent: "En ligne avec {name}", agent_default: "Collègue",
          no_agent: "Personne de notre équipe n'est disponible pour le moment", ended: "Appel terminé", error: "Un problème est survenu",
          start: "Démarrer l'appel", end: "Raccrocher", end_chat: "Terminer", again: "Rappeler", type: "Écrivez votre message…", send: "Envoyer",
          you: "Vous", bot: "Assistant", wait: "Attente estimée : environ {min} min.", translated: "Ses messages vous sont traduits automatiquement.",
          back: "Notre équipe est de retour {when}.", instead_voicemail: "Laissez un message après le bip, puis appuyez sur Raccrocher.",
          instead_callback: "Nous vous rappellerons pendant les heures d'ouverture.", instead_bot: "En attendant, l'assistant continue de vous aider.",
          text_instead: "Vous pouvez écrire votre question ci-dessous.",
          mic_denied: "L'accès au micro a été refusé. Autorisez le micro pour ce site dans les réglages du navigateur (l'icône de la barre d'adresse), puis réessayez.",
          mic_missing: "Aucun micro n'a été trouvé. Branchez-en un ou utilisez un appareil avec micro, puis réessayez.",
          mic_busy: "Le micro est utilisé par une autre application. Fermez-la et réessayez.",
          insecure: "Les appels vocaux nécessitent une page sécurisée (https) et un navigateur avec micro.",
          lost: "La connexion a été perdue. Vérifiez votre réseau et réessayez.", refused: "L'appel n'a pas pu démarrer : ",
          busy: "Toutes nos lignes sont occupées. Réessayez dans une minute.", token: "Votre session a expiré. Rechargez la page.",
          origin: "Cette page ne peut pas démarrer d'appel avec l'assistant.", unreachable: "L'assistant est injoignable pour le moment. Réessayez plus tard." },
    pt: { idle: "Fale connosco", connecting: "A ligar…", listening: "Estou a ouvir — pode falar", bot_speaking: "O assistente está a falar",
          typing: "O assistente está a responder…", text: "Conversa com o assistente — escreva abaixo",
          transferred: "Vou passá-lo a um colega — não desligue", agent: "Ligado a {name}", agent_default: "Colega",
          no_agent: "Neste momento ninguém da nossa equipa está disponível", ended: "Chamada terminada", error: "Algo correu mal",
          start: "Iniciar chamada", end: "Desligar", end_chat: "Terminar conversa", again: "Ligar de novo", type: "Escreva a sua mensagem…", send: "Enviar",
          you: "Você", bot: "Assistente", wait: "Espera estimada: cerca de {min} min.", translated: "As mensagens são traduzidas automaticamente.",
          back: "A nossa equipa volta {when}.", instead_voicemail: "Deixe uma mensagem depois do sinal e carregue em Desligar.",
          instead_callback: "Ligaremos de volta no horário de atendimento.", instead_bot: "Entretanto, o assistente continua a ajudá-lo.",
          text_instead: "Pode escrever a sua pergunta abaixo.",
          mic_denied: "O acesso ao microfone foi recusado. Permita o microfone para este site nas definições do navegador (o ícone na barra de endereço) e tente de novo.",
          mic_missing: "Não foi encontrado nenhum microfone. Ligue um ou use um dispositivo com microfone e tente de novo.",
          mic_busy: "O microfone está a ser usado por outra aplicação. Feche-a e tente de novo.",
          insecure: "As chamadas de voz precisam de uma página segura (https) e de um navegador com microfone.",
          lost: "A ligação perdeu-se. Verifique a rede e tente de novo.", refused: "Não foi possível iniciar a chamada: ",
          busy: "Todas as linhas estão ocupadas. Tente de novo daqui a um minuto.", token: "A sua sessão expirou. Recarregue a página.",
          origin: "Esta página não pode iniciar chamadas com o assistente.", unreachable: "O assistente não está acessível agora. Tente mais tarde." },
    it: { idle: "Parla con noi", connecting: "Connessione…", listening: "Ti ascolto — parla pure", bot_speaking: "L'assistente sta parlando",
          typing: "L'assistente sta rispondendo…", text: "Chat con l'assistente — scrivi qui sotto",
          transferred: "Ti passo un collega — resta in linea", agent: "In linea con {name}", agent_default: "Collega",
          no_agent: "Al momento nessuno del nostro team è disponibile", ended: "Chiamata terminata", error: "Qualcosa è andato storto",
          start: "Avvia chiamata", end: "Riaggancia", end_chat: "Chiudi chat", again: "Richiama", type: "Scrivi il tuo messaggio…", send: "Invia",
          you: "Tu", bot: "Assistente", wait: "Attesa stimata: circa {min} min.", translated: "I suoi messaggi vengono tradotti automaticamente.",
          back: "Il nostro team torna {when}.", instead_voicemail: "Lascia un messaggio dopo il segnale, poi premi Riaggancia.",
          instead_callback: "Ti richiameremo durante l'orario di apertura.", instead_bot: "Nel frattempo l'assistente continua ad aiutarti.",
          text_instead: "Puoi scrivere la tua domanda qui sotto.",
          mic_denied: "L'accesso al microfono è stato negato. Consenti il microfono per questo sito nelle impostazioni del browser (l'icona nella barra degli indirizzi) e riprova.",
          mic_missing: "Nessun microfono trovato. Collegane uno o usa un dispositivo con microfono, poi riprova.",
          mic_busy: "Il microfono è usato da un'altra applicazione. Chiudila e riprova.",
          insecure: "Le chiamate vocali richiedono una pagina sicura (https) e un browser con microfono.",
          lost: "La connessione si è interrotta. Controlla la rete e riprova.", refused: "Impossibile avviare la chiamata: ",
          busy: "Tutte le linee sono occupate. Riprova tra un minuto.", token: "La sessione è scaduta. Ricarica la pagina.",
          origin: "Questa pagina non può avviare chiamate con l'assistente.", unreachable: "L'assistente non è raggiungibile ora. Riprova più tardi." }
  };
  // Server refusal codes -> the label that explains them (the server's own message is English, for logs).
  var CODES = { busy: "busy", expired: "token", token_used: "token", bad_signature: "token", missing: "token", malformed: "error",
                wrong_origin: "origin", call_not_found: "lost", bad_sdp: "error", too_large: "error", no_start: "error" };
  var HELD = { transferred: 1, agent: 1 };  // hand-off states the bot's own listening/speaking states must not replace

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
    ".vbw-cap.agent{align-self:flex-start;background:#e6f6ea}",
    ".vbw-note{font-size:13px;color:#5b4500;background:#fff6d6;border-radius:8px;padding:6px 9px;margin-top:10px;display:none}",
    ".vbw[data-state=agent] .vbw-dot{background:#26a05a}.vbw[data-state=no_agent] .vbw-dot{background:#e0a100}",
    ".vbw[data-state=agent] .vbw-btn,.vbw[data-state=no_agent] .vbw-btn{background:#d93a3a}",
    ".vbw[data-mode=text][data-state=listening] .vbw-btn,.vbw[data-mode=text][data-state=bot_speaking] .vbw-btn{background:#8a94a6;box-shadow:none}",
    ".vbw-form{display:flex;gap:6px;margin-top:12px}",
    ".vbw-form input{flex:1;min-width:0;border:1px solid #cfd6e2;border-radius:8px;padding:7px 9px;font:inherit}",
    ".vbw-form button{border:none;border-radius:8px;padding:7px 12px;background:#eef1f6;font:inherit;cursor:pointer}",
    ".vbw-form input:disabled,.vbw-form button:disabled{opacity:.5}"
  ].join("");

  var MIC = '<svg viewBox="0 0 24 24"><path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z"/></svg>';
  var HANG = '<svg viewBox="0 0 24 24"><path d="M12 9c-1.6 0-3.15.25-4.6.72v3.1c0 .39-.23.74-.56.9-.98.49-1.87 1.12-2.66 1.85-.18.18-.43.28-.7.28-.28 0-.53-.11-.71-.29L.29 13.08a.996.996 0 0 1 0-1.41C3.34 8.78 7.46 7 12 7s8.66 1.78 11.71 4.67c.18.18.29.43.29.71 0 .28-.11.53-.29.71l-2.48 2.48c-.18.18-.43.29-.71.29-.27 0-.52-.11-.7-.28a11.3 11.3 0 0 0-2.67-1.85.996.996 0 0 1-.56-.9v-3.1C15.15 9.25 13.6 9 12 9z"/></svg>';

  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; }

  function pickLang(wanted) {
    var tries = [wanted, document.documentElement.getAttribute("lang"), navigator.language];
    for (var i = 0; i < tries.length; i++) {
      var code = (tries[i] || "").toLowerCase().slice(0, 2);
      if (LABELS[code]) return code;
    }
    return "en";
  }

  /* The language a session token was issued for (its claims are readable; only the server can check them). */
  function tokenLang(token) {
    try {
      var b = (token || "").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(b + "===".slice((b.length + 3) % 4))))).lang || null;
    } catch (e) { return null; }
  }

  function Widget(root, opts) {
    this.opts = opts || {};
    this.server = (this.opts.server || "").replace(/\/$/, "");
    this.lang = pickLang(this.opts.lang);
    this.state = "idle";
    this.mode = null;  // "voice" or "text" while a session is live
    this.held = null;  // a hand-off state shown until the caller is back with the bot
    this.stats = { states: [], botVoicedMs: 0, botPeakRms: 0, captions: [], callId: null, transport: null, errors: [], agent: null, noAgent: null };
    this.captionsByTurn = {};
    this._build(root);
    this._set("idle");
  }

  Widget.prototype.L = function (k, values) {
    var text = (LABELS[this.lang] && LABELS[this.lang][k]) || LABELS.en[k] || k;
    return text.replace(/\{(\w+)\}/g, function (_, name) { return values && values[name] != null ? values[name] : ""; });
  };

  Widget.prototype._build = function (root) {
    if (!document.getElementById("vbw-style")) { var s = el("style"); s.id = "vbw-style"; s.textContent = CSS; document.head.appendChild(s); }
    var w = el("div", "vbw"); w.setAttribute("role", "region"); w.setAttribute("lang", this.lang);
    var top = el("div", "vbw-top");
    this.btn = el("button", "vbw-btn"); this.btn.type = "button";
    var info = el("div"); this.stateEl = el("div", "vbw-state"); this.stateEl.setAttribute("aria-live", "polite");
    this.sub = el("div"); this.sub.style.cssText = "font-size:12px;color:#6b7486";
    info.appendChild(this.stateEl); info.appendChild(this.sub);
    top.appendChild(this.btn); top.appendChild(info);
    this.msg = el("div", "vbw-msg"); this.msg.setAttribute("role", "alert");
    this.note = el("div", "vbw-note"); this.note.setAttribute("role", "status");
    this.caps = el("div", "vbw-caps"); this.caps.setAttribute("aria-live", "polite");
    this.form = el("form", "vbw-form");
    this.input = el("input"); this.input.type = "text"; this.input.maxLength = 500;
    this.sendBtn = el("button"); this.sendBtn.type = "submit";
    this.form.appendChild(this.input); this.form.appendChild(this.sendBtn);
    w.appendChild(top); w.appendChild(this.msg); w.appendChild(this.note); w.appendChild(this.caps); w.appendChild(this.form);
    this.audio = el("audio"); this.audio.autoplay = true; w.appendChild(this.audio);
    root.appendChild(w); this.root = w;
    if (this.opts.mode === "text") this.btn.style.display = "none";  // a text-only widget: no voice button at all
    var self = this;
    this.btn.addEventListener("click", function () { self.toggle(); });
    this.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.sendText(self.input.value); });
    this._labels();
  };

  /* (Re)writes every fixed label: at start, and when the token says the caller's language. */
  Widget.prototype._labels = function () {
    this.root.setAttribute("lang", this.lang);
    this.root.setAttribute("aria-label", this.L("bot"));
    this.input.placeholder = this.L("type"); this.input.setAttribute("aria-label", this.L("type"));
    this.sendBtn.textContent = this.L("send");
  };

  Widget.prototype._setLang = function (lang) {
    if (!lang || !LABELS[lang] || lang === this.lang) return;
    this.lang = lang; this._labels(); this._set(this.state);
  };

  Widget.prototype._stateText = function (state, m) {
    if (state === "agent") return this.L("agent", { name: (m && m.agent_name) || this.stats.agent || this.L("agent_default") });
    if (state === "bot_speaking" && this.mode === "text") return this.L("typing");
    if (state === "listening" && this.mode === "text") return this.L("text");
    return this.L(state);
  };

  Widget.prototype._set = function (state, message, m) {
    if (this.held && (state === "listening" || state === "bot_speaking")) return;  // a person has (or is about to have) the caller
    this.state = state; this.stats.states.push(state);
    this.root.setAttribute("data-state", state);
    if (this.mode) this.root.setAttribute("data-mode", this.mode);
    var dot = '<span class="vbw-dot"></span>';
    this.stateEl.innerHTML = dot; this.stateEl.appendChild(document.createTextNode(this._stateText(state, m)));
    var live = state === "connecting" || state === "listening" || state === "bot_speaking" || state === "transferred" || state === "agent" || state === "no_agent";
    this.btn.innerHTML = live ? HANG : MIC;
    var action = live ? (this.mode === "text" ? this.L("end_chat") : this.L("end")) : (state === "idle" ? this.L("start") : this.L("again"));
    this.btn.setAttribute("aria-label", action); this.sub.textContent = action;
    var busy = state === "connecting";
    this.input.disabled = busy; this.sendBtn.disabled = busy;  // typing works with or without a voice call
    if (message !== undefined) { this.msg.textContent = message; if (message) this.stats.errors.push(message); }
  };

  Widget.prototype._notice = function (text) { this.note.textContent = text || ""; this.note.style.display = text ? "block" : "none"; };

  Widget.prototype.toggle = function () {
    if (this.state === "idle" || this.state === "ended" || this.state === "error") this.start();
    else this.hangup();
  };

  Widget.prototype._caption = function (m) {
    this.stats.captions.push({ who: m.who, text: m.text, name: m.name || null });
    var key = m.who + ":" + m.turn_id, node = m.turn_id != null ? this.captionsByTurn[key] : null;
    if (!node) {
      node = el("div", "vbw-cap " + (m.who === "caller" ? "caller" : m.who === "agent" ? "agent" : "bot"));
      var who = m.who === "caller" ? this.L("you") : m.who === "agent" ? (m.name || this.L("agent_default")) : this.L("bot");
      node.appendChild(el("b", null, who));
      node.appendChild(el("span"));
      this.caps.appendChild(node);
      if (m.turn_id != null) this.captionsByTurn[key] = node;
    }
    node.lastChild.textContent = m.text + (m.interrupted ? " …" : "");
    this.caps.scrollTop = this.caps.scrollHeight;
  };

  /* "on Monday 09:00" in the caller's language and their own time zone, from the server's ISO time. */
  Widget.prototype._when = function (iso) {
    var at = new Date(iso); if (isNaN(at)) return "";
    try { return new Intl.DateTimeFormat(this.lang, { weekday: "long", hour: "2-digit", minute: "2-digit" }).format(at); }
    catch (e) { return at.toLocaleString(); }
  };

  Widget.prototype._handoff = function (m) {
    if (m.state === "agent") {
      this.held = "agent"; this.stats.agent = m.agent_name || null;
      this._notice(m.translated ? this.L("translated") : "");
    } else if (m.state === "transferred") {
      this.held = "transferred";
      this._notice(m.wait_s ? this.L("wait", { min: Math.max(1, Math.round(m.wait_s / 60)) }) : "");
    } else if (m.state === "no_agent") {
      this.stats.noAgent = { instead: m.instead, nextOpen: m.next_open };
      var instead = m.instead === "voicemail" && this.mode !== "text" ? "voicemail" : m.instead === "callback" ? "callback" : "bot";
      this.held = instead === "voicemail" ? "no_agent" : null;
      this._notice([m.next_open ? this.L("back", { when: this._when(m.next_open) }) : "", this.L("instead_" + instead)].join(" ").trim());
    }
    if (m.back_to_bot) { this.held = null; this._notice(""); }
  };

  Widget.prototype._onMessage = function (m) {
    if (!m || typeof m !== "object") return;
    if (m.type === "call") { this.stats.callId = m.call_id; if (this.state === "connecting") this._set("listening"); this._ready(); }
    else if (m.type === "state") {
      if (m.state === "ended") { this._ended(); return; }
      if (m.state === "agent" || m.state === "transferred" || m.state === "no_agent" || m.back_to_bot) this._handoff(m);
      this._set(m.state, undefined, m);
    }
    else if (m.type === "caption") this._caption(m);
    else if (m.type === "clear") this._clearPlayback();
    else if (m.type === "error") {
      this.stats.errors.push(m.code + ": " + m.message);
      if (this.state === "connecting") this._fail(this._refusal(m.code));
    }
  };

  Widget.prototype._refusal = function (code) { return this.L(CODES[code] || "error"); };

  Widget.prototype._token = function () {
    var o = this.opts, self = this;
    var got = o.token ? Promise.resolve(typeof o.token === "function" ? o.token() : o.token) : fetch(o.tokenUrl, {
      method: "POST", credentials: "include", headers: { "content-type": "application/json" },
      body: JSON.stringify(typeof o.tokenBody === "function" ? o.tokenBody() : (o.tokenBody || {})) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { var e = new Error((j.error && j.error.message) || ("token endpoint answered " + r.status)); e.code = j.error && j.error.code; throw e; } return j.token; }); },
            function () { var e = new Error("token endpoint unreachable"); e.code = "unreachable"; throw e; });
    return got.then(function (token) { self._setLang(tokenLang(token)); return token; });
  };

  Widget.prototype._micError = function (err) {
    var n = err && err.name;
    if (n === "NotAllowedError" || n === "SecurityError" || n === "PermissionDeniedError") return this.L("mic_denied");
    if (n === "NotFoundError" || n === "DevicesNotFoundError" || n === "OverconstrainedError") return this.L("mic_missing");
    if (n === "NotReadableError" || n === "TrackStartError") return this.L("mic_busy");
    return this.L("mic_missing");
  };

  /* A refusal before the session ran: the label for its code (the server's English message goes to stats only). */
  Widget.prototype._startFailed = function (e) {
    this.stats.errors.push("start failed: " + (e && e.message ? e.message : e));
    this._fail(e && e.code === "unreachable" ? this.L("unreachable") : e && e.code ? this._refusal(e.code) : this.L("refused") + this.L("unreachable"));
  };

  Widget.prototype.start = function () {
    var self = this;
    this._teardown();
    this.caps.innerHTML = ""; this.captionsByTurn = {}; this.held = null; this._notice(""); this._pending = [];
    this.mode = "voice";
    this._set("connecting", "");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { this._noMic(this.L("insecure")); return Promise.resolve(); }
    var transport = this.opts.transport || "auto";
    if (transport === "auto" && typeof RTCPeerConnection === "undefined") transport = "websocket";
    var constraints = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } };
    if (this.opts.rawMic) constraints.audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 };
    return navigator.mediaDevices.getUserMedia(constraints).then(function (mic) {
      self.mic = mic;
      return self._token().then(function (token) {
        self.stats.transport = transport === "websocket" ? "websocket" : "webrtc";
        return transport === "websocket" ? self._startWs(token) : self._startRtc(token).catch(function (e) {
          if (transport !== "auto" || self.state !== "connecting" || e.refused) throw e;
          self.stats.errors.push("webrtc failed, falling back: " + e.message); self.stats.transport = "websocket";
          return self._startWs(token);
        });
      });
    }, function (err) { self._noMic(self._micError(err)); })
      .catch(function (e) { self._startFailed(e); });
  };

  /* No microphone (missing, denied, insecure page): say why, in the caller's language, and keep the text box. */
  Widget.prototype._noMic = function (message) {
    this.stats.micError = message;
    this._fail(message + " " + this.L("text_instead"));
  };

  /* A typed session over the WebSocket path: no microphone, no audio, the bot's replies as captions. */
  Widget.prototype.startText = function (first) {
    var self = this;
    this._teardown();
    this.caps.innerHTML = ""; this.captionsByTurn = {}; this.held = null; this._notice("");
    this.mode = "text"; this.stats.transport = "text"; this._pending = first ? [first] : [];
    this._set("connecting", "");
    return this._token().then(function (token) { return self._openWs(token, "text"); }).catch(function (e) { self._startFailed(e); });
  };

  Widget.prototype._ready = function () {
    var queued = this._pending || []; this._pending = [];
    for (var i = 0; i < queued.length; i++) this._send({ type: "text", text: queued[i] });
  };

  Widget.prototype._startRtc = function (token) {
    var self = this;
    var pc = new RTCPeerConnection({ iceServers: this.opts.iceServers || [] });
    this.pc = pc;
    var dc = pc.createDataChannel("voicebot", { ordered: true }); this.dc = dc;
    dc.onmessage = function (ev) { try { self._onMessage(JSON.parse(ev.data)); } catch (e) { /* not ours */ } };
    dc.onopen = function () { self._ready(); };  // text typed before the channel opened goes now
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
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { var e = new Error((j.error && j.error.message) || ("server answered " + r.status)); e.refused = true; e.code = j.error && j.error.code; throw e; } return j; }); })
      .then(function (answer) { self.pcId = answer.pc_id; self.stats.callId = answer.call_id; return pc.setRemoteDescription({ sdp: answer.sdp, type: answer.type }); })
      .then(function () { if (self.state === "connecting") self._set("listening"); });
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
    return ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }))).then(function () {
      return self._openWs(token, "voice", function (ws) {
        var buf = [], bufLen = 0;
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
      });
    });
  };

  /* The WebSocket path: a voice call's PCM fallback (``mode`` "voice") or a typed session ("text"). */
  Widget.prototype._openWs = function (token, mode, onOpen) {
    var self = this, url = (this.server || location.origin).replace(/^http/, "ws") + "/inapp/ws";
    return new Promise(function (resolve, reject) {
      var ws = new WebSocket(url); ws.binaryType = "arraybuffer"; self.ws = ws;
      var opened = false;
      ws.onopen = function () {
        opened = true;
        ws.send(JSON.stringify(mode === "text" ? { type: "start", token: token, mode: "text" } : { type: "start", token: token, sample_rate: 16000 }));
        if (onOpen) onOpen(ws);
        resolve();
      };
      ws.onmessage = function (ev) {
        if (typeof ev.data === "string") { try { var m = JSON.parse(ev.data); } catch (e) { return; } self._onMessage(m); return; }
        if (mode !== "text") self._play(new Int16Array(ev.data));
      };
      ws.onclose = function () {
        if (!opened) { var e = new Error("the voice server could not be reached"); e.code = "unreachable"; reject(e); }
        else if (self.ws === ws && self.state !== "ended" && self.state !== "error") self._fail(self.L("lost"));
      };
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

  /* Typed text goes into the live call or chat; with none (no microphone, or not started) it opens a typed session. */
  Widget.prototype.sendText = function (text) {
    text = (text || "").trim(); if (!text) return;
    this.input.value = "";
    if (this._send({ type: "text", text: text })) return;
    if (this.pc || this.ws || this.state === "connecting") { (this._pending = this._pending || []).push(text); return; }  // sent once open
    this.startText(text);
  };

  Widget.prototype.hangup = function () {
    this._send({ type: "hangup" });
    var self = this; setTimeout(function () { self._teardown(); }, 150);
    this._ended();
  };

  Widget.prototype._ended = function () {
    this.held = null;
    if (this.state !== "error") this._set("ended");
    var self = this; setTimeout(function () { self._teardown(); }, 300);
  };

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
        transport: script.getAttribute("data-transport") || "auto", lang: script.getAttribute("data-lang") || null,
        mode: script.getAttribute("data-mode") || null });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
  }
})();
