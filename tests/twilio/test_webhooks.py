"""The webhooks on a real uvicorn server: TwiML, signatures (accepted and refused), status callbacks."""

import xml.etree.ElementTree as ET

import httpx

from .conftest import AUTH_TOKEN, PUBLIC_HOST
from benchmarks.harness.twilio_peer import sign

FORM = {"CallSid": "CA100", "AccountSid": "AC1", "From": "+15550001", "To": "+15550002", "CallStatus": "ringing"}


async def post(srv, path, form, headers):
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        return await client.post(path, data=form, headers=headers)


async def test_voice_webhook_returns_stream_twiml(start_server):
    srv = await start_server()
    r = await post(srv, "/twilio/voice", FORM, {"X-Twilio-Signature": sign(AUTH_TOKEN, f"https://{PUBLIC_HOST}/twilio/voice", FORM)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    stream = ET.fromstring(r.text).find("./Connect/Stream")
    assert stream.get("url") == f"wss://{PUBLIC_HOST}/twilio/stream"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"caller": "+15550001", "called": "+15550002", "call_sid": "CA100"}


async def test_forged_or_missing_signature_gets_403_and_nothing_else(start_server):
    srv = await start_server()
    forged = sign("not-the-token", f"https://{PUBLIC_HOST}/twilio/voice", FORM)
    for headers in ({"X-Twilio-Signature": forged}, {}):
        for path in ("/twilio/voice", "/twilio/status", "/twilio/hold?lang=es"):
            r = await post(srv, path, FORM, headers)
            assert (r.status_code, r.content) == (403, b""), path
    # signed for the request's own host instead of the public host Twilio uses: refused too
    local = sign(AUTH_TOKEN, f"{srv.base_url}/twilio/voice", FORM)
    assert (await post(srv, "/twilio/voice", FORM, {"X-Twilio-Signature": local})).status_code == 403


async def test_behind_a_proxy_forwarded_headers_give_the_signed_url(start_server):
    srv = await start_server(public_host=None)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "abc.ngrok.app",
               "X-Twilio-Signature": sign(AUTH_TOKEN, "https://abc.ngrok.app/twilio/voice", FORM)}
    r = await post(srv, "/twilio/voice", FORM, headers)
    assert r.status_code == 200
    assert ET.fromstring(r.text).find("./Connect/Stream").get("url") == "wss://abc.ngrok.app/twilio/stream"


async def test_hold_twiml_in_callers_language_get_and_post(start_server):
    srv = await start_server()
    url = f"https://{PUBLIC_HOST}/twilio/hold?lang=de"
    form = {"QueueSid": "QU1", "CallSid": "CA5"}
    r = await post(srv, "/twilio/hold?lang=de", form, {"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)})
    assert r.status_code == 200 and ET.fromstring(r.text).find("Say").get("language") == "de-DE"
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        r = await client.get("/twilio/hold?lang=es", headers={"X-Twilio-Signature": sign(AUTH_TOKEN, f"https://{PUBLIC_HOST}/twilio/hold?lang=es")})
    assert r.status_code == 200 and "espere" in r.text


async def test_verification_off_accepts_unsigned(start_server):
    srv = await start_server(verify=False)
    assert (await post(srv, "/twilio/voice", FORM, {})).status_code == 200


async def test_voice_webhook_without_call_sid_is_400_after_valid_signature(start_server):
    srv = await start_server()
    form = {"From": "+1"}
    r = await post(srv, "/twilio/voice", form, {"X-Twilio-Signature": sign(AUTH_TOKEN, f"https://{PUBLIC_HOST}/twilio/voice", form)})
    assert r.status_code == 400 and "CallSid" in r.text
