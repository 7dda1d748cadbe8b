"""The REST redirect reaches a local HTTP server standing in for api.twilio.com, through the real twilio client."""

import socket
import xml.etree.ElementTree as ET

import pytest

from voicebot.channels.twilio import twiml
from voicebot.channels.twilio.rest import RestOptions, TwilioCallControl, TwilioRestError, rebase_url


def test_rebase_url():
    assert rebase_url("https://api.twilio.com/2010-04-01/Accounts/A/Calls/C.json", "http://127.0.0.1:9/prefix/") == \
        "http://127.0.0.1:9/prefix/2010-04-01/Accounts/A/Calls/C.json"
    assert rebase_url("https://api.twilio.com/x", None) == "https://api.twilio.com/x"


async def test_redirect_with_dial_reaches_the_api_through_the_twilio_client(fake_api):
    base, seen = fake_api
    control = TwilioCallControl(RestOptions("AC123", "tok", base))
    await control.redirect("CA777", twiml.dial("sip:agent@pbx.example.com"))
    assert len(seen) == 1
    req = seen[0]
    assert req["path"] == "/2010-04-01/Accounts/AC123/Calls/CA777.json"
    assert req["ua"].startswith("twilio-python/")  # sent by the real library
    sent = ET.fromstring(req["form"]["Twiml"])
    assert sent.find("./Dial/Sip").text == "sip:agent@pbx.example.com"


async def test_redirect_with_enqueue(fake_api):
    base, seen = fake_api
    control = TwilioCallControl(RestOptions("AC123", "tok", base))
    await control.redirect("CA778", twiml.enqueue("es", twiml.hold_url("voice.example.com", "es")))
    assert ET.fromstring(seen[0]["form"]["Twiml"]).find("Enqueue").get("waitUrl").endswith("/twilio/hold?lang=es")


async def test_hang_up_and_already_ended_call(fake_api):
    base, seen = fake_api
    control = TwilioCallControl(RestOptions("AC123", "tok", base))
    await control.hang_up("CA779")
    await control.hang_up("CAgone")  # 404: already over, not an error
    assert [r["form"] for r in seen] == [{"Status": "completed"}, {"Status": "completed"}]


async def test_wrong_credentials_give_a_clear_error(fake_api):
    base, _ = fake_api
    control = TwilioCallControl(RestOptions("AC123", "wrong", base))
    with pytest.raises(TwilioRestError, match="HTTP 401.*auth_token"):
        await control.redirect("CA1", "<Response/>")


async def test_unreachable_api_gives_a_clear_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there
    control = TwilioCallControl(RestOptions("AC123", "tok", f"http://127.0.0.1:{port}", timeout_s=2))
    with pytest.raises(TwilioRestError, match="could not reach"):
        await control.redirect("CA1", "<Response/>")


def test_missing_credentials():
    with pytest.raises(TwilioRestError, match="ACCOUNT_SID"):
        TwilioCallControl(RestOptions("", "tok"))
