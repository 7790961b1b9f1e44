"""Creating campaigns: submit an upload (idempotent), forecast it without submitting, preflight a spec."""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import BaseModel

import engine.api as api
from engine.ingest.spec import CampaignSpec
from engine.plan.forecast import Forecast
from engine.plan.planner import SubmitResult
from engine.service import audit, idempotency
from engine.service.operations import Answer, Call
from engine.service.routes import API
from engine.service.tokens import Role
from engine.service.uploads import CampaignForm, read_upload

operate = partial(API.op, role=Role.OPERATOR, tag="submit")


class PreflightAnswer(BaseModel):
    """What preflight found worth a look; errors come back as a 422 problem naming the field."""

    warnings: list[str]


@operate("POST", "/campaigns", summary="Submit a campaign (spec + recipient file); Idempotency-Key honoured",
         form=CampaignForm, answer=SubmitResult, status=201, also_status=(200,))  # fmt: skip
async def create_campaign(call: Call[Any, Any]) -> Answer:
    services = call.services
    async with read_upload(call.request, services.limits) as upload:
        await idempotency.claim(services.redis, call.request.headers.get("Idempotency-Key"), upload.digest)
        result = await api.submit_campaign(
            upload.spec, redis=services.redis, recipients=upload.recipients, settings=services.settings,
            preflight=upload.flags.get("preflight", True),
        )  # fmt: skip
    if result.created:
        detail = {"name": upload.spec.name, "batches": result.batches, **result.counts}
        await audit.record(services.redis, call.who, "create", result.cid, detail)
    return Answer(result, 201 if result.created else 200)


@operate("POST", "/plan", summary="Forecast a campaign without submitting it (a dry run)", form=CampaignForm,
         answer=Forecast)  # fmt: skip
async def plan_campaign(call: Call[Any, Any]) -> Forecast:
    services = call.services
    async with read_upload(call.request, services.limits) as upload:
        return await api.plan_campaign(
            upload.spec, redis=services.redis, recipients=upload.recipients, settings=services.settings,
            check_capability=upload.flags.get("check_capability", False),
        )  # fmt: skip


@operate("POST", "/preflight", summary="Check a spec's templates, signature and port with the provider",
         body=CampaignSpec, answer=PreflightAnswer)  # fmt: skip
async def preflight(call: Call[Any, CampaignSpec]) -> PreflightAnswer:
    return PreflightAnswer(warnings=list(await api.preflight(call.body, settings=call.services.settings)))
