"""Steering a campaign: pause, resume, cancel, confirm its trial, move its class, start time and rate caps,
resend its failed numbers. Each change goes through ``engine.api`` and into the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import redis.asyncio as aioredis

import engine.api as api
from engine.plan.planner import SubmitResult
from engine.service import audit
from engine.service.models import (
    PATH_PARAMS,
    CampaignRates,
    PriorityAnswer,
    PriorityChange,
    RateChange,
    Reschedule,
    RescheduleAnswer,
    ResendRequest,
    Transition,
)
from engine.service.operations import Call
from engine.service.routes import API
from engine.service.routes.common import known_campaign
from engine.service.tokens import Role

operate = partial(API.op, role=Role.OPERATOR, tag="control", path_params=PATH_PARAMS)
Action = Callable[..., Awaitable[str]]


def _transition(verb: str, action: Action, summary: str) -> None:
    """Register ``POST /campaigns/{cid}/<verb>`` for a state change of ``engine.api``."""

    async def handler(call: Call[Any, Any]) -> Transition:
        cid = await known_campaign(call)
        redis: aioredis.Redis = call.services.redis
        previous = await action(cid, redis=redis)
        await audit.record(redis, call.who, verb, cid, {"previous": previous})
        return Transition(campaign=cid, previous=previous)

    handler.__name__ = verb.replace("-", "_") + "_campaign"
    operate("POST", f"/campaigns/{{cid}}/{verb}", summary=summary, answer=Transition)(handler)


_transition("pause", api.pause, "Pause a campaign on every worker")
_transition("resume", api.resume, "Resume a paused campaign where it stopped")
_transition("cancel", api.cancel, "Cancel a campaign (and its trial send)")
# a trial send leaves its campaign paused until someone who saw the trial messages says go
_transition("confirm-trial", api.resume, "Confirm a trial send: the campaign goes on to its whole list")


@operate("PUT", "/campaigns/{cid}/priority", summary="Move a campaign to another class",
        body=PriorityChange, answer=PriorityAnswer)  # fmt: skip
async def set_priority(call: Call[Any, PriorityChange]) -> PriorityAnswer:
    cid = await known_campaign(call)
    previous = await api.set_priority(cid, call.body.priority, redis=call.services.redis)
    await audit.record(call.services.redis, call.who, "priority", cid, {"previous": previous,
                       "priority": call.body.priority})  # fmt: skip
    return PriorityAnswer(campaign=cid, previous=previous, priority=call.body.priority)


@operate("PUT", "/campaigns/{cid}/schedule", summary="Move a campaign that has not started",
        body=Reschedule, answer=RescheduleAnswer)  # fmt: skip
async def reschedule(call: Call[Any, Reschedule]) -> RescheduleAnswer:
    cid = await known_campaign(call)
    previous = await api.reschedule(cid, call.body.start_at, redis=call.services.redis)
    await audit.record(call.services.redis, call.who, "reschedule", cid,
                       {"previous": previous, "start_at": call.body.start_at.isoformat()})  # fmt: skip
    return RescheduleAnswer(campaign=cid, previous=previous, start_at=call.body.start_at)


@operate("PUT", "/campaigns/{cid}/rates", summary="Cap a campaign's own rate per channel, live",
        body=RateChange, answer=CampaignRates)  # fmt: skip
async def set_campaign_rates(call: Call[Any, RateChange]) -> CampaignRates:
    cid = await known_campaign(call)
    changes = {str(k): v for k, v in call.body.rates.items()}
    caps = await api.set_campaign_rates(cid, changes, redis=call.services.redis, reset=call.body.reset)
    await audit.record(call.services.redis, call.who, "campaign-rates", cid,
                       {"rates": changes, "reset": call.body.reset})  # fmt: skip
    return CampaignRates(campaign=cid, caps=dict(caps))


@operate("POST", "/campaigns/{cid}/resend-failed", summary="Resend to the failed numbers as a new campaign",
        body=ResendRequest, answer=SubmitResult, status=201)  # fmt: skip
async def resend_failed(call: Call[Any, ResendRequest]) -> SubmitResult:
    cid = await known_campaign(call)
    b = call.body
    result = await api.resend_failed(
        cid, redis=call.services.redis, reasons=b.reasons, channel=b.channel, new_id=b.new_id,
        settings=call.services.settings, preflight=b.preflight,
    )  # fmt: skip
    await audit.record(call.services.redis, call.who, "resend-failed", cid,
                       {**b.model_dump(), "new_campaign": result.cid})  # fmt: skip
    return result
