"""Administration: the shared rate budgets, API tokens, and the audit log (all of it, or one campaign's)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

import engine.api as api
from engine.budget.records import RateInfo
from engine.service import audit
from engine.service.audit import AuditEntry
from engine.service.models import PATH_PARAMS, AuditQuery, RateChange, TokenAnswer, TokenRequest
from engine.service.operations import Call
from engine.service.problems import HttpProblem
from engine.service.routes import API
from engine.service.routes.common import known_campaign
from engine.service.tokens import Role, TokenInfo

admin = partial(API.op, role=Role.ADMIN, tag="admin", path_params=PATH_PARAMS)


@API.op("GET", "/rates", summary="The shared rate budgets, per channel", answer=dict[str, RateInfo],
        role=Role.VIEWER, tag="admin")  # fmt: skip
async def get_rates(call: Call[Any, Any]) -> dict[str, RateInfo]:
    rates = await api.set_rates(call.services.redis, call.services.settings, {})
    return {str(channel): info for channel, info in rates.items()}


@admin("PUT", "/rates", summary="Change shared rate budgets live (numbers per second)", body=RateChange,
        answer=dict[str, RateInfo])  # fmt: skip
async def set_rates(call: Call[Any, RateChange]) -> dict[str, RateInfo]:
    changes = {str(k): v for k, v in call.body.rates.items()}
    rates = await api.set_rates(call.services.redis, call.services.settings, changes)
    await audit.record(call.services.redis, call.who, "rates", "", {"rates": changes})
    return {str(channel): info for channel, info in rates.items()}


@admin("GET", "/tokens", summary="API tokens (never the tokens themselves)", answer=list[TokenInfo])
async def list_tokens(call: Call[Any, Any]) -> list[TokenInfo]:
    return await call.services.tokens.list()


@admin("POST", "/tokens", summary="Create a token; it is shown this once", body=TokenRequest,
        answer=TokenAnswer, status=201)  # fmt: skip
async def create_token(call: Call[Any, TokenRequest]) -> TokenAnswer:
    token, info = await call.services.tokens.create(call.body.name, call.body.role)
    await audit.record(call.services.redis, call.who, "token-create", "",
                       {"id": info.id, "name": info.name, "role": info.role.value})  # fmt: skip
    return TokenAnswer(id=info.id, name=info.name, role=info.role.value, token=token)


@admin("DELETE", "/tokens/{token_id}", summary="Revoke a token at once", answer=TokenInfo)
async def revoke_token(call: Call[Any, Any]) -> TokenInfo:
    info = await call.services.tokens.revoke(call.path["token_id"])
    if info is None:
        raise HttpProblem(404, f"no token with id {call.path['token_id']!r}")
    await audit.record(call.services.redis, call.who, "token-revoke", "", {"id": info.id, "name": info.name})
    return info


def _audit_answer(found: list[AuditEntry], query: AuditQuery) -> Any:
    if query.format == "csv":
        return web.Response(text=audit.as_csv(found), content_type="text/csv")
    return found


@admin("GET", "/audit", summary="The audit log, newest first (JSON or CSV)", query=AuditQuery,
        answer=list[AuditEntry], also=("text/csv",))  # fmt: skip
async def audit_log(call: Call[AuditQuery, Any]) -> Any:
    q = call.query
    return _audit_answer(await audit.entries(call.services.redis, before=q.before or "+", limit=q.limit), q)


@API.op("GET", "/campaigns/{cid}/audit", summary="A campaign's audit log, newest first (JSON or CSV)",
        query=AuditQuery, answer=list[AuditEntry], also=("text/csv",), role=Role.VIEWER, tag="campaigns",
        path_params=PATH_PARAMS)  # fmt: skip
async def campaign_audit(call: Call[AuditQuery, Any]) -> Any:
    cid, q = await known_campaign(call), call.query
    found = await audit.entries(call.services.redis, cid, before=q.before or "+", limit=q.limit)
    return _audit_answer(found, q)
