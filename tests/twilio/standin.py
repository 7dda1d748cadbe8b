"""Stand-ins: a fixed-reply call pipeline driving the stream handler's StreamCall API, and
(below) Twilio's REST API with its side of the calls the bot places.

It greets with a real TTS recording in two "sentences" (a mark after each), collects the
caller's audio and digits, and writes a record on every path, like CallSession will.
DTMF ``#``: says goodbye and hangs up once Twilio has echoed the goodbye's mark.
DTMF ``*``: barge-in, sends ``clear``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from yarl import URL

from benchmarks.harness.twilio_peer import TwilioStreamClient, sign
from voicebot.channels.twilio.stream import StreamInfo, TwilioMediaSender

CHUNK = 320  # 20 ms of PCM16 at 8 kHz


@dataclass
class CallRecord:
    call_sid: str
    caller: str
    called: str
    reason: str = ""
    caller_pcm: bytearray = field(default_factory=bytearray)
    audio_pushes: int = 0
    digits: list[str] = field(default_factory=list)
    marks_played: list[str] = field(default_factory=list)
    marks_unplayed: list[str] = field(default_factory=list)
    goodbye_heard_before_hangup: bool | None = None


class StandInBot:
    def __init__(self, info: StreamInfo, sender: TwilioMediaSender, greeting: bytes, goodbye: bytes,
                 records: dict[str, CallRecord]) -> None:
        self.info = info
        self.sender = sender
        self.greeting = greeting
        self.goodbye = goodbye
        self.records = records
        self.rec = CallRecord(info.call_sid, info.caller, info.called)
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        sender.on_mark = self._on_mark

    def _on_mark(self, name: str, played: bool) -> None:
        (self.rec.marks_played if played else self.rec.marks_unplayed).append(name)

    async def _say(self, pcm: bytes, mark: str) -> None:
        for i in range(0, len(pcm), CHUNK):
            await self.sender.send_audio(pcm[i : i + CHUNK], 8000)
        await self.sender.send_mark(mark)

    async def push_audio(self, pcm16: bytes, sample_rate: int) -> None:
        assert sample_rate == 8000
        self.rec.caller_pcm += pcm16
        self.rec.audio_pushes += 1

    async def push_dtmf(self, digit: str) -> None:
        self.rec.digits.append(digit)
        if digit == "*":
            await self.sender.clear()
        elif digit == "#":
            self._commands.put_nowait("goodbye")

    async def far_end_hung_up(self, reason: str) -> None:
        self.rec.reason = reason
        self._commands.put_nowait("end")

    async def run(self) -> None:
        try:
            half = len(self.greeting) // 2 // CHUNK * CHUNK
            await self._say(self.greeting[:half], "greet-1")
            await self._say(self.greeting[half:], "greet-2")
            while True:
                command = await self._commands.get()
                if command == "end":
                    return
                if command == "goodbye":
                    await self._say(self.goodbye, "goodbye")
                    self.rec.goodbye_heard_before_hangup = await self.sender.wait_played(10)
                    self.rec.reason = "bot_hangup"
                    await self.sender.close()
                    return
        finally:
            self.records[self.info.call_sid] = self.rec


# --- Twilio's REST API and its side of a call, for calls the bot places ------------------------
# Built from Twilio's documented Calls resource (POST /2010-04-01/Accounts/{AccountSid}/Calls.json:
# To, From, Url, Method, StatusCallback, StatusCallbackEvent, StatusCallbackMethod, Timeout;
# 201 with the call's JSON, 400 with {code, message, more_info, status} on a bad request), its
# voice webhook (signed form POST to Url: CallSid, AccountSid, From, To, CallStatus, Direction,
# ApiVersion), its status callbacks (signed, CallStatus initiated/ringing/in-progress/completed or
# busy/no-answer/failed/canceled, SipResponseCode on failures, CallDuration at the end) and Media
# Streams (benchmarks.harness.twilio_peer plays Twilio's side of the WebSocket).

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass
class Callee:
    """What happens at the dialled number: ``answer`` (then ``audio``, mu-law 8 kHz, is what the
    callee says, ``digits`` are (seconds after answer, digit) and the callee hangs up after
    ``hangup_after_s`` unless the bot does first), ``busy``, ``no-answer``, ``failed`` (with a
    ``sip_code``), or ``silent`` (Twilio never reports anything: a call that never connects)."""

    kind: str = "answer"
    audio: bytes = b""
    digits: list[tuple[float, str]] = field(default_factory=list)
    hangup_after_s: float = 30.0
    sip_code: int = 0


@dataclass
class PlacedCall:
    sid: str
    to: str
    from_: str
    url: str
    status_callback: str
    events: list[str]
    form: dict
    statuses: list[str] = field(default_factory=list)  # what we posted, in order
    status_replies: list[int] = field(default_factory=list)
    twiml: str = ""
    stream: TwilioStreamClient | None = None
    stream_started_at: float = 0.0  # loop time of the first media frame (the callee's audio starts)
    ended_by: str = ""  # bot | callee | twilio
    done: asyncio.Event = field(default_factory=asyncio.Event)


class TwilioRestStandIn:
    """``await start()`` -> base URL for ``twilio.api_base_url``. ``callees[number]`` scripts each
    number; ``public_host`` is mapped to ``bot_base`` (what Twilio reaches as https/wss)."""

    def __init__(self, account_sid: str, auth_token: str, public_host: str, bot_base: str) -> None:
        self.account_sid, self.auth_token, self.public_host, self.bot_base = account_sid, auth_token, public_host, bot_base.rstrip("/")
        self.callees: dict[str, Callee] = {}
        self.calls: dict[str, PlacedCall] = {}
        self.requests: list[dict] = []
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._seq = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._create)
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    def _error(self, http: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": http},
                                  status=http)

    def _authorized(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == expected and request.match_info["account"] == self.account_sid

    async def _create(self, request: web.Request) -> web.Response:
        post = await request.post()
        form = {k: post.getall(k) if len(post.getall(k)) > 1 else post.get(k) for k in post}
        self.requests.append({"path": request.path, "form": form, "ua": request.headers.get("User-Agent", "")})
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        to, from_, url = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Url", ""))
        if not from_:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to):
            return self._error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not url and not form.get("Twiml"):
            return self._error(400, 21205, "Url parameter is required.")
        self._seq += 1
        sid = f"CA{self._seq:032x}"
        events = form.get("StatusCallbackEvent") or []
        call = PlacedCall(sid, to, from_, url, str(form.get("StatusCallback", "")), events if isinstance(events, list) else [events], form)
        self.calls[sid] = call
        self._spawn(self._run(call, self.callees.get(to, Callee(kind="no-answer"))))
        return web.json_response({"sid": sid, "account_sid": self.account_sid, "to": to, "from": from_, "status": "queued",
                                   "direction": "outbound-api", "api_version": "2010-04-01",
                                   "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        post = await request.post()
        self.requests.append({"path": request.path, "form": dict(post)})
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        if post.get("Status") in ("completed", "canceled"):
            call.ended_by = call.ended_by or "bot_rest"
            call.done.set()
        return web.json_response({"sid": call.sid, "status": post.get("Status") or "in-progress"})

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _local(self, url: str, websocket: bool = False) -> str:
        parts = urlsplit(url)
        assert parts.netloc == self.public_host, f"Twilio only reaches {self.public_host}, not {parts.netloc}"
        base = self.bot_base.replace("http://", "ws://") if websocket else self.bot_base
        return base + parts.path + (f"?{parts.query}" if parts.query else "")

    async def _post(self, url: str, params: dict[str, str]) -> tuple[int, str]:
        headers = {"X-Twilio-Signature": sign(self.auth_token, url, params)}
        # encoded=True: Twilio requests the URL byte for byte as given (yarl would turn %3A into ":",
        # and the signature is over the URL as given)
        async with aiohttp.ClientSession() as s, s.post(URL(self._local(url), encoded=True), data=params, headers=headers) as r:
            return r.status, await r.text()

    async def _status(self, call: PlacedCall, status: str, **extra: str) -> None:
        event = {"in-progress": "answered"}.get(status, status)
        final = status in ("completed", "busy", "no-answer", "failed", "canceled")
        if not call.status_callback or (not final and event not in call.events):
            return
        params = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_, "To": call.to, "CallStatus": status,
                  "Direction": "outbound-api", "ApiVersion": "2010-04-01", "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000"), **extra}
        code, _ = await self._post(call.status_callback, params)
        call.statuses.append(status)
        call.status_replies.append(code)

    async def _run(self, call: PlacedCall, callee: Callee) -> None:
        try:
            await self._status(call, "initiated")
            if callee.kind == "silent":
                await call.done.wait()  # nothing ever comes back
                return
            await self._status(call, "ringing")
            if callee.kind in ("busy", "no-answer", "failed"):
                await asyncio.sleep(0.05)
                extra = {"SipResponseCode": str(callee.sip_code)} if callee.sip_code else {}
                await self._status(call, callee.kind, CallDuration="0", **extra)
                return
            await self._answer(call, callee)
        finally:
            call.done.set()

    async def _answer(self, call: PlacedCall, callee: Callee) -> None:
        params = {"CallSid": call.sid, "AccountSid": self.account_sid, "From": call.from_, "To": call.to, "CallStatus": "in-progress",
                  "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        await self._status(call, "in-progress")
        code, call.twiml = await self._post(call.url, params)
        stream = ET.fromstring(call.twiml).find("./Connect/Stream") if code == 200 else None
        started = asyncio.get_running_loop().time()
        if stream is None:  # <Hangup/> or an error: Twilio ends the call
            call.ended_by = "twiml"
            await self._status(call, "completed", CallDuration="0")
            return
        custom = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
        client = TwilioStreamClient(self._local(stream.get("url"), websocket=True), call_sid=call.sid, stream_sid="MZ" + call.sid[2:],
                                    account_sid=self.account_sid, player=True)
        call.stream = client
        await client.connect({"X-Twilio-Signature": sign(self.auth_token, stream.get("url"))})
        await client.send_connected()
        await client.send_start(custom)
        loop = asyncio.get_running_loop()
        frames = [callee.audio[i : i + 160].ljust(160, b"\xff") for i in range(0, len(callee.audio), 160)]
        digits = sorted(callee.digits)
        t0, i = loop.time(), 0
        call.stream_started_at = t0
        while not client.closed.is_set() and not call.done.is_set():
            now = loop.time()
            if now - t0 >= callee.hangup_after_s:
                call.ended_by = "callee"
                await client.send_stop()
                break
            await client.advance(now)
            while digits and now - t0 >= digits[0][0]:
                await client.send_dtmf(digits.pop(0)[1])
            await client.send_media(frames[i] if i < len(frames) else b"\xff" * 160)
            i += 1
            await asyncio.sleep(max(0.0, t0 + i * 0.02 - loop.time()))
        if client.closed.is_set() and not call.ended_by:
            call.ended_by = "bot"  # the bot closed the stream: with nothing after <Connect>, Twilio hangs up
        await client.close()
        await self._status(call, "completed", CallDuration=str(round(loop.time() - started)))
