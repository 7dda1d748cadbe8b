"""A minimal dialogue engine: greets, acknowledges, hands over or hangs up on request.

Used by ``pipelines/minimal.yaml`` and the pipeline's own tests, so the call pipeline can be
tested without the full customer-service dialogue (``voicebot.dialogue.engine``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voicebot.core import CallContext, HangUp, Transfer

from voicebot.dialogue.api import CallerTurn, DialogueReply

GREETINGS = {
    "en": "Hello, this is the customer service assistant. How can I help you today?",
    "de": "Hallo, hier ist der Kundenservice-Assistent. Wie kann ich Ihnen helfen?",
    "es": "Hola, le atiende el asistente de atención al cliente. ¿En qué puedo ayudarle?",
    "fr": "Bonjour, ici l'assistant du service client. Comment puis-je vous aider ?",
}
HEARD = {
    "en": "I heard you. Let me look into that.",
    "de": "Ich habe Sie verstanden. Ich sehe mir das an.",
    "es": "Le he entendido. Déjeme revisarlo.",
    "fr": "Je vous ai entendu. Je regarde cela.",
}
BYE = {"en": "Thank you for calling. Goodbye!", "de": "Danke für Ihren Anruf. Auf Wiederhören!", "es": "Gracias por llamar. ¡Adiós!", "fr": "Merci de votre appel. Au revoir !"}
AGENT = {"en": "I am connecting you to a colleague now.", "de": "Ich verbinde Sie jetzt mit einem Kollegen.", "es": "Le paso ahora con un compañero.", "fr": "Je vous passe un collègue."}


@dataclass
class MinimalSession:
    ctx: CallContext
    greetings: dict[str, str]
    history: list[tuple[str, str]] = field(default_factory=list)

    def _lang(self, lang: str | None) -> str:
        return lang if lang in HEARD else "en"

    async def greet(self) -> DialogueReply:
        lang = self._lang(self.ctx.language)
        text = self.greetings.get(lang) or GREETINGS[lang]
        self.history.append(("bot", text))
        return DialogueReply(text=text, language=lang, intent="greeting")

    async def respond(self, turn: CallerTurn) -> DialogueReply:
        lang = self._lang(turn.language)
        self.history.append(("caller", turn.text or f"[dtmf {turn.dtmf}]"))
        words = (turn.text or "").lower()
        if turn.dtmf == "0" or any(w in words for w in ("agent", "human", "person", "persona", "mensch")):
            reply = DialogueReply(text=AGENT[lang], language=lang, intent="human_agent", actions=(Transfer(reason="caller_asked", queue=lang),))
        elif any(w in words for w in ("bye", "adiós", "tschüss", "au revoir")):
            reply = DialogueReply(text=BYE[lang], language=lang, intent="goodbye", actions=(HangUp(),))
        else:
            reply = DialogueReply(text=HEARD[lang], language=lang, intent="out_of_scope")
        self.history.append(("bot", reply.text))
        return reply

    def snapshot(self) -> object:
        return list(self.history)

    def restore(self, snapshot: object) -> None:
        self.history = list(snapshot)  # type: ignore[call-overload]

    def bot_was_interrupted(self, heard_text: str) -> None:
        if self.history and self.history[-1][0] == "bot":
            self.history[-1] = ("bot", heard_text)


class MinimalEngine:
    def __init__(self, greetings: dict[str, str] | None = None) -> None:
        self.greetings = greetings or {}

    def new_session(self, call: CallContext) -> MinimalSession:
        return MinimalSession(ctx=call, greetings=self.greetings)
