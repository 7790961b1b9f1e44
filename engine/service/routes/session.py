"""The console's login and logout: an API token exchanged for a session cookie and its CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from engine.service import audit
from engine.service.auth import SESSION_COOKIE, Principal
from engine.service.operations import Call
from engine.service.problems import HttpProblem
from engine.service.routes import API
from engine.service.sessions import SESSION_SECONDS
from engine.service.tokens import Role


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=1, max_length=200)]


class LoggedIn(BaseModel):
    """Who logged in, and the CSRF token every change from this session must send in X-CSRF-Token."""

    name: str
    role: str
    csrf: str


@API.op("POST", "/session", role=Role.VIEWER, tag="session", public=True, body=Login, answer=LoggedIn,
        summary="Log the console in with an API token: sets an HttpOnly, SameSite=Strict cookie")  # fmt: skip
async def login(call: Call[Any, Login]) -> web.Response:
    opened = await call.services.sessions.open(call.body.token)
    if opened is None:
        raise HttpProblem(401, "unknown or revoked token")
    session_id, session = opened
    who = Principal(session.token.name, session.token.role, session.token.id, call.who.remote, "session")
    await audit.record(call.services.redis, who, "login")
    answer = LoggedIn(name=session.token.name, role=session.token.role.value, csrf=session.csrf)
    response = web.json_response(answer.model_dump())
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_SECONDS, path="/", httponly=True,
                        samesite="Strict", secure=call.request.secure)  # fmt: skip
    return response


@API.op("DELETE", "/session", role=Role.VIEWER, tag="session", answer=None, status=204,
        summary="Log the console out: the session ends at once")  # fmt: skip
async def logout(call: Call[Any, Any]) -> web.Response:
    cookie = call.request.cookies.get(SESSION_COOKIE)
    if cookie:
        await call.services.sessions.close(cookie)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
