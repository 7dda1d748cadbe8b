import xml.etree.ElementTree as ET

import pytest

from voicebot.channels.twilio import twiml


def parse(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return root


def test_connect_stream_points_at_public_host_with_parameters_and_status_callback():
    xml = twiml.connect_stream("https://voice.example.com/", twiml.IncomingCall("CA42", "+15550001", "+15550002"))
    stream = parse(xml).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://voice.example.com/twilio/stream"
    assert stream.get("statusCallback") == "https://voice.example.com/twilio/status"
    assert stream.get("statusCallbackMethod") == "POST"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"caller": "+15550001", "called": "+15550002", "call_sid": "CA42"}


def test_incoming_call_from_form_requires_call_sid():
    call = twiml.IncomingCall.from_form({"CallSid": "CA1", "From": "+1", "To": "+2"})
    assert (call.call_sid, call.caller, call.called) == ("CA1", "+1", "+2")
    with pytest.raises(ValueError, match="CallSid"):
        twiml.IncomingCall.from_form({"From": "+1"})


def test_dial_number_and_sip_uri():
    number = parse(twiml.dial("+34911222333", caller_id="+15550002")).find("Dial")
    assert number.find("Number").text == "+34911222333" and number.get("callerId") == "+15550002"
    sip = parse(twiml.dial("sip:agent@pbx.example.com")).find("Dial")
    assert sip.find("Sip").text == "sip:agent@pbx.example.com" and sip.find("Number") is None
    with pytest.raises(ValueError):
        twiml.dial("  ")


def test_enqueue_with_hold_wait_url_in_callers_language():
    xml = twiml.enqueue("returns", twiml.hold_url("voice.example.com", "es"))
    enq = parse(xml).find("Enqueue")
    assert enq.text == "returns"
    assert enq.get("waitUrl") == "https://voice.example.com/twilio/hold?lang=es"
    assert enq.get("waitUrlMethod") == "POST"


@pytest.mark.parametrize("lang,locale,word", [("es", "es-ES", "espere"), ("de", "de-DE", "Bitte"), ("fr", "fr-FR", "patienter")])
def test_hold_says_message_in_language(lang, locale, word):
    root = parse(twiml.hold(lang))
    say = root.find("Say")
    assert say.get("language") == locale and word in say.text
    assert root.find("Pause") is not None


def test_hold_unknown_language_falls_back_to_english_and_plays_music():
    root = parse(twiml.hold("xx", music_url="https://cdn.example.com/hold.mp3"))
    assert root.find("Say").get("language") == "en-US"
    assert root.find("Play").text == "https://cdn.example.com/hold.mp3"


def test_every_dialogue_language_has_a_hold_message():
    from voicebot.dialogue.nlu_types import LANGUAGES

    from voicebot.dialogue.languages.handoff_lines import table

    for code in LANGUAGES:  # each pack's handoff.yaml: the hold message and its <Say> locale
        root = parse(twiml.hold(code))
        assert root.find("Say").text == table(code)["hold"]["text"] and root.find("Say").get("language") == table(code)["hold"]["say_locale"]
