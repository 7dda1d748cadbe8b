"""One browser connection driving one :class:`~.channel.InappCall`: WebRTC (pipecat's
SmallWebRTC connection over aiortc) or the WebSocket fallback. Whatever ends the connection —
the caller's hang-up, a closed or failed peer connection, the browser's audio stopping, a
broken socket — ends the call with a reason, and the call's record is kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

from voicebot.logs import get_logger

from .channel import (
    BotAudioTrack,
    InappCall,
    TypedOutput,
    WebRTCOutput,
    WebSocketOutput,
    call_context,
    read_track,
)
from .protocol import BadMessage, error_message, parse_client_message
from .service import (
    InappCalls,
    InappOptions,
    Refused,
    admit,
    new_call_id,
    parse_message_or_error,
    summarize,
)
from .tokens import SessionClaims

log = get_logger(__name__)

CLOSE_GRACE_S = 0.3  # lets the last data-channel message and audio leave before the peer connection closes


class HostCandidateConnection(SmallWebRTCConnection):
    """pipecat's SmallWebRTC connection, optionally offering only the given host addresses.

    aioice never offers 127.0.0.1 and has no option to choose interfaces; on a loopback-only
    machine (the tests) the browser could not reach us. The hook is the one point between
    ``setRemoteDescription`` (which creates the ICE gatherers) and gathering.
    """

    def __init__(self, ice_addresses: tuple[str, ...] = (), **kwargs: Any) -> None:
        self._ice_addresses = ice_addresses
        super().__init__(**kwargs)

    def force_transceivers_to_send_recv(self) -> None:
        super().force_transceivers_to_send_recv()
        if self._ice_addresses:
            restrict_host_candidates(self.pc, self._ice_addresses)


def restrict_host_candidates(pc: Any, addresses: tuple[str, ...]) -> None:
    gatherers = []
    for t in pc.getTransceivers():
        dtls = t.receiver.transport or t.sender.transport
        if dtls is not None:
            gatherers.append(dtls.transport.iceGatherer)
    if pc.sctp is not None:
        gatherers.append(pc.sctp.transport.transport.iceGatherer)
    for gatherer in gatherers:
        conn = gatherer._connection

        async def gather(conn: Any = conn) -> None:
            if conn._local_candidates_start:
                return
            conn._local_candidates_start = True
            for component in conn._components:
                conn._local_candidates += await conn.get_component_candidates(component=component, addresses=list(addresses))
            conn._local_candidates_end = True

        conn.gather_candidates = gather


class WebRTCLink:
    """A WebRTC in-app call: signalling answered, media and data channel wired to the call."""

    def __init__(self, runtime: Any, options: InappOptions, live: InappCalls, claims: SessionClaims, origin: str | None,
                 *, spec: Any = None, transcriber: Any = None, session_factory: Any = None) -> None:
        self.runtime = runtime
        self._session_factory = session_factory
        self.options = options
        self.live = live
        self.claims = claims
        self.origin = origin
        self._spec = spec
        self._transcriber = transcriber
        self.pc_id = ""
        self.task: asyncio.Task | None = None
        self._closing = False

    def send(self, msg: dict[str, Any]) -> None:
        self.conn.send_app_message(msg)

    async def answer(self, sdp: str, kind: str) -> dict[str, Any]:
        self.conn = HostCandidateConnection(self.options.ice_addresses, ice_servers=list(self.options.ice_servers) or None,
                                            connection_timeout_secs=int(self.options.connect_timeout_s))
        try:
            await self.conn.initialize(sdp=sdp, type=kind)
        except Exception:
            await self.conn.disconnect()  # no half-made peer connection is left behind
            raise
        ctx = call_context(new_call_id("webrtc"), self.claims, "webrtc", self.origin)
        self.call = InappCall(self.runtime, ctx, self.send, lambda state, call: WebRTCOutput(state, self._bot_hung_up),
                              spec=self._spec, transcriber=self._transcriber, session_factory=self._session_factory)
        self.track = BotAudioTrack(self.call.output)  # type: ignore[arg-type]
        self.conn.replace_audio_track(self.track)

        @self.conn.event_handler("app-message")
        async def _message(_conn: Any, message: Any) -> None:
            await self._on_message(message)

        for state, reason in (("closed", "caller_hung_up"), ("failed", "ice_failed"), ("disconnected", "ice_disconnected")):
            self.conn.add_event_handler(state, self._ender(reason))
        answer = self.conn.get_answer()
        if answer is None:
            raise RuntimeError("aiortc produced no SDP answer")
        self.pc_id = answer["pc_id"]
        await self.conn.connect()
        self.live.add(self)
        self.send({"type": "call", "call_id": ctx.call_id, "channel": "webrtc"})
        self.task = asyncio.create_task(self._run(), name=f"inapp-{ctx.call_id}")
        log.info("in-app call (webrtc)", extra={"call_id": ctx.call_id, "origin": self.origin, "customer": self.claims.customer_id})
        return {**answer, "call_id": ctx.call_id}

    def _ender(self, reason: str):
        async def handler(_conn: Any) -> None:
            if not self._closing:
                await self.call.end(reason)
        return handler

    def _bot_hung_up(self) -> None:
        self._closing = True  # the pipeline ends by itself (EndWorkerFrame); the peer closes after it

    async def _on_message(self, message: Any) -> None:
        try:
            msg = parse_client_message(json.dumps(message))
        except BadMessage as exc:
            self.send(error_message(exc.code, str(exc)))
            return
        if msg["type"] == "text":
            await self.call.push_text(msg["text"])
        elif msg["type"] == "hangup":
            await self.call.end("caller_hung_up")

    async def _run(self) -> None:
        receiver = self.conn.pc.getTransceivers()[0].receiver
        reader = asyncio.create_task(read_track(receiver.track, self.call, self.options.media_timeout_s,
                                                self.options.connect_timeout_s, self.call.end))
        try:
            await self.call.run()
        except Exception:
            log.exception("in-app call failed", extra={"call_id": self.call.call_id})
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            self._closing = True
            await asyncio.sleep(CLOSE_GRACE_S)
            with contextlib.suppress(Exception):
                await self.conn.disconnect()
            self.live.finish(self, summarize(self.call))


class WebSocketLink:
    """The fallback: 16-bit PCM both ways on a WebSocket, JSON control messages as text frames."""

    MAX_FRAME_BYTES = 32_000  # 1 s at 16 kHz

    def __init__(self, ws: Any, runtime: Any, options: InappOptions, live: InappCalls, own_origin: str | None,
                 *, spec: Any = None, transcriber: Any = None) -> None:
        self.ws = ws
        self.runtime = runtime
        self.options = options
        self.live = live
        self.own_origin = own_origin
        self._spec = spec
        self._transcriber = transcriber
        self._out: asyncio.Queue[bytes | dict | None] = asyncio.Queue(maxsize=2000)
        self._rate = 16000
        self.text_only = False

    def send(self, msg: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._out.put_nowait(msg)

    async def send_bytes(self, pcm: bytes) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a page that stopped reading loses audio, not memory
            self._out.put_nowait(pcm)

    async def _writer(self) -> None:
        while True:
            item = await self._out.get()
            if item is None:
                return
            try:
                if isinstance(item, bytes):
                    await self.ws.send_bytes(item)
                else:
                    await self.ws.send_text(json.dumps(item))
            except Exception:  # noqa: BLE001 - a browser's bad input or a dead socket must not end the server
                return

    async def _refuse(self, code: str, message: str, close_code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(json.dumps(error_message(code, message)))
            await self.ws.close(code=close_code, reason=code)

    async def run(self) -> None:
        origin = self.ws.headers.get("origin")
        try:
            first = await asyncio.wait_for(self.ws.receive(), self.options.ws_start_timeout_s)
        except TimeoutError:
            await self._refuse("no_start", "no start message: send {type: start, token} first", 4400)
            return
        raw = first.get("text") if first.get("type") == "websocket.receive" else None
        try:
            msg = parse_client_message(raw or "")
            if msg["type"] != "start":
                raise BadMessage("malformed", "the first message must be {type: 'start', token}")
            claims = admit(self.options, msg["token"], origin, self.own_origin)
            if len(self.live) >= self.options.max_calls:
                raise Refused(503, "busy", "all lines are busy; please try again in a minute")
            self.live.claim_token(msg["token"], claims)
        except BadMessage as exc:
            await self._refuse(exc.code, str(exc), 4400)
            return
        except Refused as exc:
            await self._refuse(exc.code, str(exc), 4000 + exc.status)
            log.warning("in-app websocket refused", extra={"code": exc.code, "origin": origin})
            return
        self._rate = msg["sample_rate"]
        self.text_only = msg["mode"] == "text"
        ctx = call_context(new_call_id("ws"), claims, "websocket", origin, msg["mode"])
        self.call = InappCall(self.runtime, ctx, self.send,
                              lambda state, call: TypedOutput(state, self.send) if self.text_only
                              else WebSocketOutput(state, self.send_bytes, self.send, lambda: None),
                              spec=self._spec, transcriber=self._transcriber)
        self.live.add(self)
        self.send({"type": "call", "call_id": ctx.call_id, "channel": "websocket", "sample_rate": 16000, "mode": msg["mode"]})
        log.info("in-app call (websocket)", extra={"call_id": ctx.call_id, "origin": origin, "customer": claims.customer_id,
                                                   "mode": msg["mode"]})
        writer = asyncio.create_task(self._writer())
        run = asyncio.create_task(self.call.run())
        reader = asyncio.create_task(self._read())
        clock = asyncio.create_task(self.call.run_text_clock()) if self.text_only else None
        try:
            await asyncio.wait({run, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                await asyncio.wait({run}, timeout=15)
        finally:
            reader.cancel()
            if clock is not None:
                clock.cancel()
            if not run.done():
                run.cancel()
            for t in (reader, run, *([clock] if clock else [])):
                with contextlib.suppress(BaseException):
                    await t
            with contextlib.suppress(asyncio.QueueFull):
                self._out.put_nowait(None)  # the writer stops after what is queued
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(writer, 2)
            writer.cancel()
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.live.finish(self, summarize(self.call))

    async def _read(self) -> None:
        """Caller audio and messages until the page hangs up, the socket drops, or audio stops
        (a typed session: until nothing is typed for ``text_idle_timeout_s``)."""
        timeout = self.options.text_idle_timeout_s if self.text_only else self.options.media_timeout_s
        while not self.call.done.is_set():
            try:
                message = await asyncio.wait_for(self.ws.receive(), timeout)
            except TimeoutError:
                await self.call.end("idle_timeout" if self.text_only else "media_timeout")
                return
            except Exception:  # noqa: BLE001 - a browser's bad input or a dead socket must not end the server
                await self.call.end("connection_lost")
                return
            if message.get("type") == "websocket.disconnect":
                await self.call.end("connection_lost")
                return
            data = message.get("bytes")
            if data is not None and self.text_only:
                self.send(error_message("malformed", "this is a typed session: send text messages, not audio"))
                continue
            if data is not None:
                if len(data) % 2 or len(data) > self.MAX_FRAME_BYTES:
                    self.send(error_message("malformed", f"audio frames must be 16-bit PCM of at most {self.MAX_FRAME_BYTES} bytes"))
                    continue
                await self.call.push_audio(data, self._rate)
                continue
            msg = parse_message_or_error(message.get("text") or "", self.send)
            if msg is None:
                continue
            if msg["type"] == "text":
                await self.call.push_text(msg["text"])
            elif msg["type"] == "hangup":
                await self.call.end("caller_hung_up")
                return
