"""The one HTTP boundary of the provider layer: signs, sends, and turns every failure into an engine error.

    no connection (refused, DNS, TLS, connect/pool timeout)  → ProviderUnavailable  never reached the provider
    connection lost or read timeout after the request went   → Ambiguous            may have been accepted
    2xx with a body that is not a JSON object                → Ambiguous            accepted, answer unknown
    5xx                                                      → ProviderUnavailable
    4xx with a known code (codes.CALL_ERRORS)                → that class           KM.90016301 TooManyNumbers
    429                                                      → Throttled            retry_after: Retry-After
    401 / 403                                                → AuthFailed
    any other non-2xx                                        → BadRequest

aiohttp and timeout exceptions never escape this module.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import struct
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Final, NamedTuple, Self
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from engine.errors import Ambiguous, ConfigError, ProviderError, ProviderUnavailable
from engine.provider.codes import call_error
from engine.provider.shaping import mask_text
from engine.provider.signer import HEADER_NONCE, Credentials, canonical_query, query_pairs, sign
from engine.runtime.settings import Settings

log = logging.getLogger(__name__)

JSON_TYPE: Final = "application/json"
FORM_TYPE: Final = "application/x-www-form-urlencoded"
USER_AGENT: Final = "koodispatch/0.1"
_MESSAGE_MAX: Final = 200
# keys that carry an error's code and message, in the order the official SDK looks for them
_CODE_KEYS: Final = ("error_code", "errorCode", "code", "status")
_MESSAGE_KEYS: Final = ("error_msg", "errorMsg", "message", "description", "error_message")


class Endpoint(NamedTuple):
    """A validated base URL: what to prefix the path with, the Host header to sign, the path prefix."""

    origin: str
    host: str
    prefix: str


@lru_cache(maxsize=16)
def endpoint(base_url: str) -> Endpoint:
    """Parse a configured base URL once. Raises ConfigError unless it is http(s)://host[:port][/prefix]."""
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host or url.query_string or url.fragment:
        raise ConfigError(f"provider URL must be http(s)://host[:port][/path], got {base_url!r}")
    return Endpoint(f"{url.scheme}://{url.raw_authority}", url.raw_authority, url.raw_path.rstrip("/"))


ABORT_ON_CLOSE: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close discards unsent bytes (RST)


def abortive_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """A provider connection whose close discards what it has not delivered yet.

    A call that timed out is closed; with a normal close the kernel would keep retransmitting its request
    (a host cut off, then healed), and the provider could accept it after the call's deadline, when a
    successor that found no record of it has already sent the chunk again. Closed this way, a call's bytes
    can reach the provider only while the call lives (``provider.call_lifetime``).
    """
    family, kind, proto = addr_info[0], addr_info[1], addr_info[2]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT_ON_CLOSE)
    return sock


class ProviderHttp:
    """Owns the process's one aiohttp session; every provider call of every client goes through ``call``.

    Use as ``async with ProviderHttp(settings) as http`` or ``http = await ProviderHttp.open(settings)`` …
    ``await http.close()``. Keep-alive connections are pooled up to ``provider.max_connections``.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings.provider
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    async def open(cls, settings: Settings) -> ProviderHttp:
        """Create and start a client (inside the running event loop)."""
        http = cls(settings)
        await http.__aenter__()
        return http

    async def __aenter__(self) -> Self:
        if self._session is None:
            cfg = self._settings
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=cfg.max_connections, socket_factory=abortive_socket),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=cfg.connect_timeout,
                    sock_connect=cfg.connect_timeout,
                    sock_read=cfg.read_timeout,
                ),
                raise_for_status=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # the provider APIs set no cookies: no jar work per call
            )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pooled connections; safe to call twice."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def call(
        self,
        creds: Credentials,
        base_url: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        json: object = None,
        form: Mapping[str, str] | None = None,
        project_id: str | None = None,
    ) -> dict[str, Any]:
        """Send one signed request and return its JSON object.

        The query string sent is the canonical one that was signed, the headers sent are the ones signed.
        Raises ProviderUnavailable, Ambiguous, Throttled, AuthFailed, TooManyNumbers or BadRequest (see the
        module docstring), ConfigError for a malformed base URL, RuntimeError when the session is closed.
        """
        if self._session is None:
            raise RuntimeError("ProviderHttp is not open")
        where = f"{method} {path}"
        url, headers, body = build_request(creds, base_url, method, path, query, json, form, project_id)
        started = time.perf_counter()
        try:
            async with self._session.request(
                method, url, data=body or None, headers=headers, allow_redirects=False
            ) as resp:
                raw = await resp.read()
                status, request_id = resp.status, resp.headers.get("X-Request-Id", "")
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("%s failed after %.1f ms: %s", where, elapsed, type(exc).__name__)
            raise transport_error(exc, where) from exc
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s -> %d in %.1f ms request_id=%s", where, status, elapsed, request_id)
        if 200 <= status < 300:
            return success_body(raw, where, status, request_id)
        raise answer_error(where, status, raw, request_id, retry_after)


def build_request(
    creds: Credentials,
    base_url: str,
    method: str,
    path: str,
    query: Mapping[str, object] | None,
    json: object,
    form: Mapping[str, str] | None,
    project_id: str | None,
) -> tuple[URL, dict[str, str], bytes]:
    """The exact URL (canonical sorted query, not re-encoded), signed headers and body of one call.

    JSON bodies are signed by hash; a form body is declared UNSIGNED-PAYLOAD by ``sign()``, as the SDK does.
    """
    target = endpoint(base_url)
    pairs = query_pairs(query) if query else []
    headers = {
        "Content-Type": JSON_TYPE,
        "User-Agent": USER_AGENT,
        "Host": target.host,
        HEADER_NONCE: os.urandom(8).hex(),
    }
    if form is not None:
        headers["Content-Type"] = FORM_TYPE
        body = urlencode(form).encode()
    else:
        body = b"" if json is None else orjson.dumps(json)
    if project_id:
        headers["X-Project-Id"] = project_id
    full_path = target.prefix + path
    signed = sign(creds, method, target.host, full_path, pairs, headers, body)
    query_string = f"?{canonical_query(pairs)}" if pairs else ""
    return URL(f"{target.origin}{full_path}{query_string}", encoded=True), signed, body


def transport_error(exc: BaseException, where: str) -> ProviderError:
    """Classify an aiohttp/timeout failure by whether the request can have reached the provider."""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return ProviderUnavailable(f"{where}: could not connect ({type(exc).__name__})")
    if isinstance(exc, TimeoutError):
        return Ambiguous(f"{where}: no answer within the read timeout")
    return Ambiguous(f"{where}: connection lost after the request was sent ({type(exc).__name__})")


def success_body(raw: bytes, where: str, status: int, request_id: str) -> dict[str, Any]:
    """The JSON object of a 2xx answer; anything else means we cannot tell what was accepted."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise Ambiguous(f"{where}: answer is not a JSON object", code=status, request_id=request_id)
    return data


def answer_error(
    where: str, status: int, raw: bytes, request_id: str, retry_after: str | None
) -> ProviderError:
    """The engine error for a non-2xx answer, with the provider's code, message and request id."""
    provider_code, message = error_fields(raw)
    cls = call_error(status, provider_code)
    return cls(
        f"{where}: {mask_text(message)[:_MESSAGE_MAX] or 'HTTP error'}",
        code=status,
        provider_code=provider_code,
        retry_after=parse_retry_after(retry_after),
        request_id=request_id,
    )


def error_fields(raw: bytes) -> tuple[str, str]:
    """(code, message) from an error body: flat or nested ``error_code/error_msg`` and the SDK's variants."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "", raw[:_MESSAGE_MAX].decode(errors="replace")
    return _find_error(data) or ("", "")


def _find_error(data: object) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return None
    code = next(
        (data[key] for key in _CODE_KEYS if isinstance(data.get(key), str | int) and data[key] != ""), None
    )
    if code is not None and not isinstance(code, bool):
        message = next((str(data[key]) for key in _MESSAGE_KEYS if data.get(key)), "")
        return str(code), message
    for value in data.values():
        found = _find_error(value)
        if found:
            return found
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable.

    ``inf`` or ``nan`` count as unreadable: an infinite wait would hold the channel's budget shut for good.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
