"""Injected latency and failures, decided per call before authentication, as a flaky network would."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.simulator import contract
from engine.simulator.config import FaultConfig
from engine.simulator.ledger import RECEIVED
from engine.simulator.state import STATE
from engine.simulator.wire import SimError, channel_of

DROPPED_STATUS = 499  # never reaches the client: the transport is aborted first


def draw_fault(rng: random.Random, faults: FaultConfig) -> str | None:
    """Which fault (if any) hits this call: one uniform draw partitioned by the configured shares."""
    shares = (
        ("drop", faults.drop_share),
        ("error", faults.error_share),
        ("timeout", faults.timeout_share),
        ("drop_after_accept", faults.drop_after_accept_share),
    )
    if not any(share for _, share in shares):
        return None
    roll = rng.random()
    for kind, share in shares:
        if roll < share:
            return kind
        roll -= share
    return None


def drop(request: web.Request) -> web.Response:
    """Close the connection without an answer; the client sees a reset / server disconnect."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=DROPPED_STATUS)


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the call and note when it arrived (the ledger keeps it with an accepted call), then apply
    outage, latency and at most one drawn fault for its channel."""
    channel = channel_of(request)
    if channel is None:
        return await handler(request)
    state = request.app[STATE]
    state.ledger.calls[channel] += 1
    RECEIVED.set(time.time())
    faults = state.config.fault_for(channel)
    if faults.outage:
        state.ledger.faults["outage"][channel] += 1
        if faults.outage_mode == "drop":
            return drop(request)
        raise SimError(503, contract.KM_UNAVAILABLE, "service unavailable (simulated outage)")
    if faults.latency_ms[1] > 0:
        await asyncio.sleep(state.rng.uniform(*faults.latency_ms) / 1000.0)
    kind = draw_fault(state.rng, faults)
    if kind is None:
        return await handler(request)
    state.ledger.faults[kind][channel] += 1
    if kind == "drop":
        return drop(request)
    if kind == "error":
        raise SimError(500, contract.KM_INTERNAL, "internal error (simulated)")
    if kind == "timeout":
        return await _late(request, handler, faults)
    with contextlib.suppress(SimError):  # drop_after_accept: the call is applied, the answer is lost
        await handler(request)
    return drop(request)


async def _late(request: web.Request, handler: Handler, faults: FaultConfig) -> web.StreamResponse:
    """Answer only after ``timeout_sleep_s``; apply the call first unless ``timeout_applies`` is off."""
    if not faults.timeout_applies:
        await asyncio.sleep(faults.timeout_sleep_s)
        raise SimError(504, contract.KM_GATEWAY_TIMEOUT, "gateway timeout (simulated)")
    try:
        response = await handler(request)
    except SimError:
        await asyncio.sleep(faults.timeout_sleep_s)
        raise
    await asyncio.sleep(faults.timeout_sleep_s)
    return response
