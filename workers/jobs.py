"""Thin arq job functions: unpack the job, call the engine, report the outcome."""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry

from engine.context import EngineContext
from engine.dispatch import dispatch_batch as run_batch
from engine.lease import Leases

log = logging.getLogger(__name__)
BUSY_RETRY_SECONDS = 2.0


async def dispatch_batch(ctx: dict[str, Any], cid: str, batch: int) -> dict[str, Any]:
    """Run one batch under its lease; if another worker holds it, try again shortly (it may die)."""
    engine: EngineContext = ctx["engine"]
    leases: Leases = ctx["leases"]
    async with leases.hold(cid, batch) as held:
        if not held:
            raise Retry(defer=BUSY_RETRY_SECONDS)
        outcome = await run_batch(engine, cid, batch)
    log.info("campaign %s batch %d: %s (campaign %s)", cid, batch, outcome.result, outcome.campaign_state)
    return {"result": outcome.result, "state": outcome.campaign_state}
