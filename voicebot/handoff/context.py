"""The context card an agent reads: who is calling, in what language, what was said and done.

``build_card(packet, agent_language, translator)`` turns the dialogue's context packet
(:meth:`voicebot.dialogue.session.CustomerServiceSession.context_packet`; the minimal dialogue sends
none, then the call's own transcript is used) into a card with its labels and summary in the
agent's language *and* the caller's. Transcript lines in another language than the agent's
carry a translation when the translator can give one, else a notice saying it cannot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .translate import Translator

LABELS: dict[str, dict[str, str]] = {
    "en": {"caller": "Caller", "language": "Language", "verified": "Identity verified", "not_verified": "Identity not verified",
           "intents": "Asked about", "orders": "Orders", "sentiment": "Sentiment", "bot_said": "The bot said",
           "promised": "Promised", "transcript": "Transcript", "reason": "Transfer reason", "summary": "Summary", "none": "none",
           "unknown": "unknown caller"},
    "es": {"caller": "Cliente", "language": "Idioma", "verified": "Identidad verificada", "not_verified": "Identidad no verificada",
           "intents": "Consultó", "orders": "Pedidos", "sentiment": "Ánimo", "bot_said": "El bot dijo",
           "promised": "Prometido", "transcript": "Transcripción", "reason": "Motivo del traspaso", "summary": "Resumen",
           "none": "ninguno", "unknown": "llamante desconocido"},
    "de": {"caller": "Anrufer", "language": "Sprache", "verified": "Identität geprüft", "not_verified": "Identität nicht geprüft",
           "intents": "Anliegen", "orders": "Bestellungen", "sentiment": "Stimmung", "bot_said": "Der Bot sagte",
           "promised": "Zugesagt", "transcript": "Verlauf", "reason": "Grund der Übergabe", "summary": "Zusammenfassung",
           "none": "keine", "unknown": "unbekannter Anrufer"},
    "fr": {"caller": "Appelant", "language": "Langue", "verified": "Identité vérifiée", "not_verified": "Identité non vérifiée",
           "intents": "Demandes", "orders": "Commandes", "sentiment": "Humeur", "bot_said": "Le bot a dit",
           "promised": "Promis", "transcript": "Transcription", "reason": "Motif du transfert", "summary": "Résumé",
           "none": "aucune", "unknown": "appelant inconnu"},
}
# Closed vocabularies (intent and reason names) translated by table, not by a model.
TERMS: dict[str, dict[str, str]] = {
    "es": {"human_agent": "hablar con una persona", "order_status": "estado del pedido", "caller_asked": "lo pidió el cliente",
           "frustration": "frustración", "not_understood": "no entendido", "return_request": "devolución", "refund_request": "reembolso",
           "shipping_delay": "retraso del envío", "not_received": "no recibido", "payment_issue": "problema de pago",
           "complaint": "queja", "greeting": "saludo", "neutral": "neutral", "negative": "negativo", "angry": "enfadado",
           "positive": "positivo", "policy": "política"},
    "de": {"human_agent": "Mitarbeiter verlangt", "order_status": "Bestellstatus", "caller_asked": "vom Anrufer gewünscht",
           "frustration": "Frust", "not_understood": "nicht verstanden", "neutral": "neutral", "negative": "negativ", "angry": "verärgert"},
    "fr": {"human_agent": "parler à une personne", "order_status": "statut de commande", "caller_asked": "demandé par l'appelant",
           "frustration": "frustration", "not_understood": "pas compris", "neutral": "neutre", "negative": "négatif", "angry": "en colère"},
}


def term(word: str, lang: str) -> str:
    return TERMS.get(lang, {}).get(word, word.replace("_", " "))


@dataclass
class Line:
    role: str  # "caller" | "bot" | "agent"
    text: str
    language: str
    translation: str | None = None  # into the agent's language
    translation_note: str | None = None  # why there is none, when one was needed


@dataclass
class Card:
    call_id: str
    caller_language: str
    agent_language: str
    caller: dict[str, Any]
    orders: list[str]
    intents: list[str]
    sentiment: str
    reason: str
    promised: list[str]
    bot_said: list[str]
    transcript: list[Line] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # in the agent's language
    caller_labels: dict[str, str] = field(default_factory=dict)  # in the caller's language
    summary: dict[str, str] = field(default_factory=dict)  # language -> summary text
    notices: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _summary(lang: str, caller: dict[str, Any], intents: list[str], orders: list[str], sentiment: str, reason: str) -> str:
    lab = LABELS.get(lang, LABELS["en"])
    who = caller.get("name") or caller.get("number") or lab["unknown"]
    verified = lab["verified"] if caller.get("verified") else lab["not_verified"]
    asked = ", ".join(dict.fromkeys(term(i, lang) for i in intents)) or lab["none"]
    return (f"{who} — {verified}. {lab['intents']}: {asked}. {lab['orders']}: {', '.join(orders) or lab['none']}. "
            f"{lab['sentiment']}: {term(sentiment, lang)}. {lab['reason']}: {term(reason, lang)}.")


async def build_card(call_id: str, packet: dict[str, Any], caller_language: str, agent_language: str,
                     translator: Translator | None = None, fallback_transcript: list[dict[str, Any]] | None = None) -> Card:
    """The card for one agent. ``packet`` may be empty (a dialogue that sends no context)."""
    caller = dict(packet.get("caller") or {})
    intents = [i for i in packet.get("intents", []) if i not in ("affirm", "deny", "out_of_scope")]
    orders = [str(o) for o in packet.get("orders", [])]
    sentiment = str(packet.get("sentiment") or "neutral")
    reason = str(packet.get("reason") or "caller_asked")
    raw = packet.get("transcript") or fallback_transcript or []
    card = Card(call_id=call_id, caller_language=caller_language, agent_language=agent_language, caller=caller, orders=orders,
                intents=intents, sentiment=sentiment, reason=reason, promised=list(packet.get("promised", [])),
                bot_said=list(packet.get("bot_said", [])),
                labels=LABELS.get(agent_language, LABELS["en"]), caller_labels=LABELS.get(caller_language, LABELS["en"]))
    for langs in {agent_language, caller_language}:
        card.summary[langs] = _summary(langs, caller, intents, orders, sentiment, reason)
    if packet.get("summary"):
        card.summary["bot"] = str(packet["summary"])  # the dialogue's own (English) summary
    for h in raw:
        text = str(h.get("text") or (f"[DTMF {h['dtmf']}]" if h.get("dtmf") else ""))
        line = Line(role=str(h.get("role", "caller")), text=text, language=str(h.get("language") or caller_language))
        if text and line.language != agent_language and translator is not None:
            result = await translator.text(text, line.language, agent_language)
            line.translation, line.translation_note = result.text, result.notice
        card.transcript.append(line)
    if caller_language != agent_language and translator is not None and translator.notice:
        card.notices.append(translator.notice)
    return card
