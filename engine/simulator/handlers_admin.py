"""The ``/_simulator/*`` endpoints: live config, ledger, reset (with the admin token) and health (open).

The config holds the credentials the simulator accepts and the ledger every number sent to it, and a
browser on the same machine can post to a loopback port from any web page: every endpoint but health needs
the simulator's admin token in ``X-Simulator-Token`` (a header no cross-site form or simple request can
set), and a body must say it is JSON.
"""

from __future__ import annotations

import functools
import hmac
from typing import Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import ConfigError
from engine.simulator import contract
from engine.simulator.config import LEDGER_CHANNELS
from engine.simulator.state import STATE
from engine.simulator.wire import SimError, bad, json_response

ADMIN_HEADER: Final = "X-Simulator-Token"


def guarded(handler: Handler) -> Handler:
    """``handler`` behind the admin token: 401 without it, 415 for a body that is not JSON."""

    @functools.wraps(handler)
    async def check(request: web.Request) -> web.StreamResponse:
        presented = request.headers.get(ADMIN_HEADER, "").encode()
        if not hmac.compare_digest(presented, request.app[STATE].admin_token.encode()):
            raise SimError(401, contract.APIGW_AUTH, f"admin endpoints need the simulator's {ADMIN_HEADER}")
        if request.body_exists and request.content_type != "application/json":
            raise SimError(
                415, contract.KM_INVALID_PARAMETER, "admin request bodies must be application/json"
            )
        return await handler(request)

    return check


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
    """``GET /_simulator/ledger[?channel=smart][&detail=1][&campaigns=1][&totals=1][&calls=CID]``: accepted
    numbers and call counters; ``campaigns`` adds the numbers accepted per campaign per second, ``totals``
    each campaign's accepted, distinct and duplicate numbers and its first and last acceptance time,
    ``calls`` each accepted call of one campaign as [arrived, accepted, numbers]."""
    channel = request.query.get("channel") or None
    if channel is not None and channel not in LEDGER_CHANNELS:
        bad(contract.KM_INVALID_PARAMETER, f"channel must be one of {', '.join(LEDGER_CHANNELS)}")
    detail = request.query.get("detail", "") in ("1", "true")
    campaigns = request.query.get("campaigns", "") in ("1", "true")
    totals = request.query.get("totals", "") in ("1", "true")
    calls_of = request.query.get("calls") or None
    ledger = request.app[STATE].ledger
    return json_response(ledger.snapshot(detail, channel, campaigns, totals, calls_of))


async def health(request: web.Request) -> web.Response:
    """``GET /_simulator/health``: readiness probe for scripts that start ``koodispatch simulate``."""
    return json_response({"ok": True})


ADMIN_ROUTES = (
    ("GET", "/_simulator/config", guarded(get_config)),
    ("POST", "/_simulator/config", guarded(post_config)),
    ("POST", "/_simulator/reset", guarded(reset)),
    ("GET", "/_simulator/ledger", guarded(get_ledger)),
    ("GET", "/_simulator/health", health),
)
