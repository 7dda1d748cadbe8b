"""Live-call control through Twilio's REST API, with the real ``twilio`` client.

``redirect`` replaces what a live call is doing with new TwiML (a hand-off ``<Dial>`` or
``<Enqueue>``); ``hang_up`` ends it. Both go through ``twilio.rest.Client`` and
``calls(sid).update_async``, so what reaches Twilio is what the library sends.

Pointing the client elsewhere (tests, a Twilio-API-compatible server): the library's
``edge``/``region`` options only rewrite the host *inside* twilio.com
(``api.{edge}.{region}.twilio.com``, see ``ClientBase.get_hostname``), so they cannot reach
a local server. The supported extension point is a custom ``http_client``: the one here is the
library's own ``AsyncTwilioHttpClient`` that swaps the ``https://api.twilio.com`` origin for
``api_base_url`` before sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from aiohttp import BasicAuth, ClientError, ClientSession, ClientTimeout
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from voicebot.config_types import reveal
from voicebot.logs import get_logger

log = get_logger(__name__)


class TwilioRestError(RuntimeError):
    """A REST call to Twilio failed; the message says what to check."""


class TwilioCallRefused(TwilioRestError):
    """Twilio answered a call creation with an error (``code``: Twilio's error code, e.g. 21211
    invalid 'To' number, 21215 geographic permission; ``status``: the HTTP status)."""

    def __init__(self, message: str, status: int, code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class OutboundCall:
    """What ``POST /Accounts/{sid}/Calls.json`` needs for a call the bot places (Twilio's Calls API):
    Twilio dials ``to`` from ``from_``, fetches ``url`` for TwiML when answered, and posts the
    call's progress to ``status_callback``."""

    to: str
    from_: str
    url: str
    status_callback: str
    timeout_s: int = 30  # ring time (Twilio's Timeout, 5..600)
    time_limit_s: int = 1800


@dataclass(frozen=True)
class RestOptions:
    account_sid: str
    auth_token: str
    api_base_url: str | None = None  # None = Twilio itself (https://api.twilio.com)
    timeout_s: float = 10.0


def rebase_url(url: str, base_url: str | None) -> str:
    """Replace the scheme and host of a twilio.com API URL with ``base_url`` (keeping its path)."""
    if not base_url:
        return url
    src = urlsplit(url)
    dst = urlsplit(base_url.rstrip("/"))
    return urlunsplit((dst.scheme, dst.netloc, dst.path + src.path, src.query, src.fragment))


class BaseUrlHttpClient(AsyncTwilioHttpClient):
    """The library's async HTTP client, sending to ``base_url`` instead of api.twilio.com.

    ``request`` is re-implemented (same aiohttp call as the parent) because the parent, without
    a pooled session, leaks its temporary ``ClientSession`` when the request raises (host
    unreachable); here the session is always closed, and nothing is bound to an event loop
    between requests.
    """

    def __init__(self, base_url: str | None, timeout_s: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout_s)
        self.base_url = base_url

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        kwargs = {
            "method": method.upper(),
            "url": rebase_url(url, self.base_url),
            "params": params,
            "data": data,
            "headers": headers,
            "auth": BasicAuth(login=auth[0], password=auth[1]) if auth else None,
            "timeout": ClientTimeout(total=timeout or self.timeout),
            "allow_redirects": allow_redirects,
        }
        self.log_request(kwargs)
        async with ClientSession() as session, session.request(**kwargs) as response:
            text = await response.text()
            self.log_response(response.status, response)
            return Response(response.status, text, response.headers)


class TwilioCallControl:
    """Redirect or end live calls of one Twilio account."""

    def __init__(self, options: RestOptions) -> None:
        if not options.account_sid or not options.auth_token:
            raise TwilioRestError(
                "Twilio REST needs twilio.account_sid and twilio.auth_token "
                "(VOICEBOT_TWILIO__ACCOUNT_SID / VOICEBOT_TWILIO__AUTH_TOKEN)"
            )
        self.options = options
        self.client = Client(
            options.account_sid,
            reveal(options.auth_token),
            http_client=BaseUrlHttpClient(options.api_base_url, options.timeout_s),
            environment={},  # never pick up TWILIO_EDGE/REGION from the process environment
        )

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Make the live call ``call_sid`` execute ``twiml`` now (ends its media stream)."""
        await self._update(call_sid, "redirect", twiml=twiml)

    async def hang_up(self, call_sid: str) -> None:
        """End the call; a call that has already ended (Twilio 404/20404) is not an error."""
        try:
            await self._update(call_sid, "hang_up", status="completed")
        except TwilioRestError as exc:
            if isinstance(exc.__cause__, TwilioRestException) and exc.__cause__.status == 404:
                log.info("call already ended at Twilio", extra={"call_id": call_sid})
                return
            raise

    async def create(self, call: OutboundCall) -> str:
        """Place a call; returns its CallSid. :class:`TwilioCallRefused` when Twilio refuses it
        (bad number, no permission), :class:`TwilioRestError` when Twilio cannot be reached."""
        try:
            created = await self.client.calls.create_async(
                to=call.to, from_=call.from_, url=call.url, method="POST", status_callback=call.status_callback,
                status_callback_method="POST", status_callback_event=["initiated", "ringing", "answered", "completed"],
                timeout=call.timeout_s, time_limit=call.time_limit_s,
            )
        except TwilioRestException as exc:
            raise TwilioCallRefused(f"Twilio refused the call to {call.to}: HTTP {exc.status} code {exc.code}: {exc.msg}", exc.status, exc.code) from exc
        except (TwilioException, OSError, TimeoutError, ClientError) as exc:
            raise TwilioRestError(f"could not reach Twilio's API to call {call.to}: {exc!r} "
                                  f"(base URL {self.options.api_base_url or 'https://api.twilio.com'})") from exc
        log.info("twilio call created", extra={"call_id": created.sid, "to": call.to})
        return str(created.sid)

    async def cancel(self, call_sid: str) -> None:
        """Stop a call that has not been answered yet (Status=canceled); an ended call is not an error."""
        try:
            await self._update(call_sid, "cancel", status="canceled")
        except TwilioRestError as exc:
            if isinstance(exc.__cause__, TwilioRestException) and exc.__cause__.status == 404:
                return
            raise

    async def _update(self, call_sid: str, what: str, **fields: str) -> None:
        try:
            await self.client.calls(call_sid).update_async(**fields)
        except TwilioRestException as exc:
            raise TwilioRestError(
                f"Twilio refused {what} of call {call_sid}: HTTP {exc.status} code {exc.code}: {exc.msg} "
                "(check twilio.account_sid/auth_token and that the call is still live)"
            ) from exc
        except (TwilioException, OSError, TimeoutError, ClientError) as exc:
            raise TwilioRestError(
                f"could not reach Twilio's API for {what} of call {call_sid}: {exc!r} "
                f"(base URL {self.options.api_base_url or 'https://api.twilio.com'})"
            ) from exc
        log.info("twilio call updated", extra={"call_id": call_sid, "what": what})
