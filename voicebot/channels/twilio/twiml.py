"""TwiML documents the bot serves to Twilio, built with the ``twilio`` library's VoiceResponse.

Pure functions: they take URLs and values, return the XML text. No request, no settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

from voicebot.dialogue.languages.handoff_lines import line as handoff_line

STREAM_PATH = "/twilio/stream"
STATUS_PATH = "/twilio/status"
HOLD_PATH = "/twilio/hold"

# Stream <Parameter> names: Twilio hands them back in the `start` message's customParameters.
PARAM_CALLER = "caller"
PARAM_CALLED = "called"
PARAM_CALL_SID = "call_sid"


def public_url(public_host: str, path: str, scheme: str = "https", query: dict[str, str] | None = None) -> str:
    """``scheme://public_host/path[?query]``; ``public_host`` may carry a scheme, it is dropped."""
    host = public_host.split("://", 1)[-1].rstrip("/")
    url = f"{scheme}://{host}{path}"
    return f"{url}?{urlencode(query)}" if query else url


@dataclass(frozen=True)
class IncomingCall:
    """The parts of Twilio's voice webhook (form fields) the stream TwiML needs."""

    call_sid: str
    caller: str = ""  # From
    called: str = ""  # To

    @staticmethod
    def from_form(form: dict[str, str]) -> IncomingCall:
        sid = form.get("CallSid", "")
        if not sid:
            raise ValueError("voice webhook without CallSid: not a Twilio call request")
        return IncomingCall(call_sid=sid, caller=form.get("From", ""), called=form.get("To", ""))


def connect_stream(public_host: str, call: IncomingCall, parameters: dict[str, str] | None = None) -> str:
    """``<Connect><Stream url="wss://host/twilio/stream">`` with the call's numbers and SID.

    The Stream's statusCallback (stream-started/stopped/error) goes to ``/twilio/status``,
    the same endpoint as the call status callback configured on the number. ``parameters``
    are more <Parameter>s (an outbound call's plan); Twilio returns them in ``start``.
    """
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(
        url=public_url(public_host, STREAM_PATH, scheme="wss"),
        status_callback=public_url(public_host, STATUS_PATH),
        status_callback_method="POST",
    )
    stream.parameter(name=PARAM_CALLER, value=call.caller)
    stream.parameter(name=PARAM_CALLED, value=call.called)
    stream.parameter(name=PARAM_CALL_SID, value=call.call_sid)
    for name, value in (parameters or {}).items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def dial(target: str, *, caller_id: str | None = None, timeout_s: int = 30) -> str:
    """Hand-off: ``<Dial>`` a phone number (E.164) or a SIP URI (``sip:agent@pbx.example``)."""
    target = target.strip()
    if not target:
        raise ValueError("dial target is empty: give an E.164 number or a sip: URI")
    response = VoiceResponse()
    d = Dial(caller_id=caller_id, timeout=timeout_s)
    if target.lower().startswith(("sip:", "sips:")):
        d.sip(target)
    else:
        d.number(target)
    response.append(d)
    return str(response)


def hold_url(public_host: str, language: str) -> str:
    return public_url(public_host, HOLD_PATH, query={"lang": language})


def enqueue(queue: str, wait_url: str) -> str:
    """Hand-off: ``<Enqueue waitUrl=...>queue</Enqueue>``; the wait URL plays the hold message."""
    if not queue.strip():
        raise ValueError("queue name is empty")
    response = VoiceResponse()
    response.enqueue(queue.strip(), wait_url=wait_url, wait_url_method="POST")
    return str(response)


def hold(language: str, *, music_url: str | None = None, pause_s: int = 10) -> str:
    """Wait-URL TwiML: the hold message in the caller's language, then music or a pause.

    Twilio fetches the wait URL again when this document ends, so the message repeats.
    Unknown languages fall back to English.
    """
    said = handoff_line("hold", "text", language)  # the language pack's handoff.yaml
    response = VoiceResponse()
    response.say(said.text, language=handoff_line("hold", "say_locale", said.language).text)
    if music_url:
        response.play(music_url)
    else:
        response.pause(length=pause_s)
    return str(response)
