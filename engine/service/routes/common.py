"""Helpers the route modules share: the path's campaign, known or 404."""

from __future__ import annotations

from typing import Any

from engine.service.operations import Call
from engine.service.problems import HttpProblem
from engine.store import keys


async def known_campaign(call: Call[Any, Any]) -> str:
    """The ``cid`` of the path; HttpProblem 404 when no campaign has it."""
    cid = call.path["cid"]
    if not await call.services.redis.exists(keys.campaign(cid)):
        raise HttpProblem(404, f"unknown campaign {cid!r}")
    return cid
