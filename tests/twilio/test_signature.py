import logging

from starlette.datastructures import FormData, Headers
from twilio.request_validator import RequestValidator

from voicebot.channels.twilio.signature import SignatureVerifier, url_as_signed

TOKEN = "secret-token"
FORM = {"CallSid": "CA1", "From": "+15550001", "To": "+15550002", "AccountSid": "AC1"}


def sig(url, params=None, token=TOKEN):
    return RequestValidator(token).compute_signature(url, params or {})


def test_url_as_signed_prefers_public_host():
    url = url_as_signed("http://127.0.0.1:8080/twilio/voice?x=1", Headers({"x-forwarded-host": "evil"}), "bot.example.com")
    assert url == "https://bot.example.com/twilio/voice?x=1"
    ws = url_as_signed("ws://127.0.0.1:8080/twilio/stream", Headers({}), "https://bot.example.com/", websocket=True)
    assert ws == "wss://bot.example.com/twilio/stream"


def test_url_as_signed_uses_forwarded_headers_behind_a_proxy():
    h = Headers({"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "abc.ngrok.app, 10.0.0.1"})
    assert url_as_signed("http://10.0.0.5:8080/twilio/hold?lang=es", h) == "https://abc.ngrok.app/twilio/hold?lang=es"
    assert url_as_signed("ws://10.0.0.5:8080/twilio/stream", h, websocket=True) == "wss://abc.ngrok.app/twilio/stream"
    assert url_as_signed("http://127.0.0.1:8080/a", Headers({})) == "http://127.0.0.1:8080/a"


def test_valid_signature_accepted_on_public_url_with_form():
    v = SignatureVerifier(TOKEN, "bot.example.com")
    headers = Headers({"X-Twilio-Signature": sig("https://bot.example.com/twilio/voice", FORM)})
    result = v.check("http://127.0.0.1:8080/twilio/voice", headers, FormData(FORM))
    assert result.ok and result.reason == "valid"


def test_forged_missing_and_tampered_signatures_rejected():
    v = SignatureVerifier(TOKEN, "bot.example.com")
    url = "http://127.0.0.1:8080/twilio/voice"
    forged = Headers({"X-Twilio-Signature": sig("https://bot.example.com/twilio/voice", FORM, token="other")})
    assert v.check(url, forged, FORM).reason == "invalid"
    assert v.check(url, Headers({}), FORM).reason == "missing"
    good = Headers({"X-Twilio-Signature": sig("https://bot.example.com/twilio/voice", FORM)})
    assert v.check(url, good, {**FORM, "From": "+19990000"}).reason == "invalid"  # body changed
    assert not v.check("http://127.0.0.1:8080/twilio/status", good, FORM).ok  # other URL


def test_handshake_signed_on_wss_url_without_params():
    v = SignatureVerifier(TOKEN, "bot.example.com")
    good = Headers({"X-Twilio-Signature": sig("wss://bot.example.com/twilio/stream")})
    assert v.check("ws://127.0.0.1:9/twilio/stream", good, None, websocket=True).ok
    https_sig = Headers({"X-Twilio-Signature": sig("https://bot.example.com/twilio/stream")})
    assert not v.check("ws://127.0.0.1:9/twilio/stream", https_sig, None, websocket=True).ok


def test_hmac_sha256_signature_settings_header():
    url = "https://bot.example.com/twilio/status"
    s = RequestValidator(TOKEN).compute_signature(url, FORM, "HMAC_SHA256")
    headers = Headers({"X-Twilio-Signature": s, "X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"})
    assert SignatureVerifier(TOKEN, "bot.example.com").check("http://x/twilio/status", headers, FORM).ok


def test_no_auth_token_refuses_everything_and_says_what_to_set(caplog):
    with caplog.at_level(logging.ERROR):
        v = SignatureVerifier(None, "bot.example.com")
    assert "VOICEBOT_TWILIO__AUTH_TOKEN" in caplog.text
    assert v.check("http://x/twilio/voice", Headers({"X-Twilio-Signature": "abc"}), FORM).reason == "no_auth_token"


def test_verification_off_only_explicitly_and_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        v = SignatureVerifier(TOKEN, None, verify=False)
    assert any(r.levelno == logging.WARNING and "VERIFICATION IS OFF" in r.getMessage() for r in caplog.records)
    assert v.check("http://x/twilio/voice", Headers({}), FORM).reason == "disabled"
