"""HTTP plumbing shared by every simulator handler: error shape, JSON I/O, times, paging, request ids."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import orjson
from aiohttp import web

from engine.simulator import contract
from engine.simulator.config import CHANNELS, Channel

Page = tuple[int, int]  # offset, limit
# the envelope of the {status, message, data} responses; the provider documents no values, these are ours
STATUS_OK: Final = {"status": "200", "message": "success"}


class SimError(Exception):
    """An error answer in the one shape the SDK maps: ``{"error_code", "error_msg"}`` plus X-Request-Id."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = {"error_code": self.code, "error_msg": self.message}
        return json_response(body, status=self.status, headers=self.headers)


def bad(code: str, message: str) -> NoReturn:
    """Reject the whole call with HTTP 400 and a KM code."""
    raise SimError(400, code, message)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; empty body or object: KM.90016414, anything else malformed: KM.00000400."""
    raw = await request.read()
    if not raw.strip():
        bad(contract.KM_EMPTY_INPUT, "request body is empty")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        bad(contract.KM_INVALID_PARAMETER, "request body is not valid JSON")
    if not isinstance(body, dict):
        bad(contract.KM_INVALID_PARAMETER, "request body must be a JSON object")
    if not body:
        bad(contract.KM_EMPTY_INPUT, "request body is empty")
    return body


def iso(moment: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``, the provider's time format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def iso_ms(moment: float) -> str:
    """UTC with milliseconds (``2019-10-12T07:20:50.522Z``), as creation_time is documented."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment * 1000) % 1000:03d}Z"


def parse_time(value: Any, name: str) -> float:
    """Epoch seconds of an ISO time such as ``2024-01-01T00:00:00Z``; KM.00000400 when malformed."""
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        bad(contract.KM_INVALID_PARAMETER, f"{name} must look like 2024-01-01T00:00:00Z")
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def time_window(source: Mapping[str, Any], prefix: str = "") -> tuple[float, float] | None:
    """``(begin, end)`` when both ``<prefix>begin_time`` and ``<prefix>end_time`` are given, else None."""
    begin, end = source.get(prefix + "begin_time"), source.get(prefix + "end_time")
    if begin is None or end is None:
        return None
    return parse_time(begin, prefix + "begin_time"), parse_time(end, prefix + "end_time")


def _int_field(source: Mapping[str, Any], name: str, default: int | None) -> int:
    value = source.get(name)
    if value is None:
        if default is None:
            bad(contract.KM_INVALID_PARAMETER, f"{name} is required")
        return default
    if isinstance(value, bool):
        bad(contract.KM_INVALID_PARAMETER, f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        bad(contract.KM_INVALID_PARAMETER, f"{name} must be an integer")


def page_params(source: Mapping[str, Any], required: bool = False) -> Page:
    """Validated ``(offset, limit)``: offset >= 0, 1 <= limit <= 100, offset + limit <= 10000."""
    offset = _int_field(source, "offset", None if required else 0)
    limit = _int_field(source, "limit", None if required else contract.PAGE_LIMIT_DEFAULT)
    if offset < 0 or not 1 <= limit <= contract.PAGE_LIMIT_MAX:
        bad(contract.KM_INVALID_PARAMETER, f"offset must be >= 0 and limit 1-{contract.PAGE_LIMIT_MAX}")
    if offset + limit > contract.LIST_WINDOW_MAX:
        bad(contract.KM_INVALID_PARAMETER, f"offset + limit must be at most {contract.LIST_WINDOW_MAX}")
    return offset, limit


def page_info(page: Page, total: int) -> dict[str, int]:
    return {"offset": page[0], "limit": page[1], "total": total}


def channel_of(request: web.Request) -> Channel | None:
    """The channel a matched API route belongs to (route names are ``<channel>:<operation>``)."""
    name = request.match_info.route.name
    channel = name.partition(":")[0] if name else None
    return channel if channel in CHANNELS else None
