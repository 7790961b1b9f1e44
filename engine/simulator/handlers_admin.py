"""Unauthenticated ``/_simulator/*`` endpoints: live config, ledger, reset, health."""

from __future__ import annotations

import orjson
from aiohttp import web

from engine.errors import ConfigError
from engine.simulator import contract
from engine.simulator.config import LEDGER_CHANNELS
from engine.simulator.state import STATE
from engine.simulator.wire import bad, json_response


async def get_config(request: web.Request) -> web.Response:
    """``GET /_simulator/config``: the live config, secrets masked."""
    return json_response(request.app[STATE].config.to_dict())


async def post_config(request: web.Request) -> web.Response:
    """``POST /_simulator/config``: merge a JSON patch into the live config; 400 names a bad key."""
    state = request.app[STATE]
    try:
        changes = orjson.loads(await request.read() or b"{}")
        state.update_config(changes)
    except (orjson.JSONDecodeError, ConfigError) as exc:
        bad(contract.KM_INVALID_PARAMETER, str(exc))
    return json_response(state.config.to_dict())


async def reset(request: web.Request) -> web.Response:
    """``POST /_simulator/reset``: forget ledger, tasks and rate state (config and callbacks stay)."""
    request.app[STATE].reset()
    return json_response({"reset": True})


async def get_ledger(request: web.Request) -> web.Response:
    """``GET /_simulator/ledger[?channel=smart][&detail=1]``: accepted numbers and call counters."""
    channel = request.query.get("channel") or None
    if channel is not None and channel not in LEDGER_CHANNELS:
        bad(contract.KM_INVALID_PARAMETER, f"channel must be one of {', '.join(LEDGER_CHANNELS)}")
    detail = request.query.get("detail", "") in ("1", "true")
    return json_response(request.app[STATE].ledger.snapshot(detail=detail, channel=channel))


async def health(request: web.Request) -> web.Response:
    """``GET /_simulator/health``: readiness probe for scripts that start ``koodispatch simulate``."""
    return json_response({"ok": True})


ADMIN_ROUTES = (
    ("GET", "/_simulator/config", get_config),
    ("POST", "/_simulator/config", post_config),
    ("POST", "/_simulator/reset", reset),
    ("GET", "/_simulator/ledger", get_ledger),
    ("GET", "/_simulator/health", health),
)
