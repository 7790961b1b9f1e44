"""Who is calling: a bearer token resolved to a ``Principal`` for every ``/api/v1`` request.

Each operation declares the role it needs (``engine/service/operations.py``); this module only finds the
caller. The browser console will add a second source here — an HttpOnly, SameSite=Strict session cookie
made by a login form, with a CSRF token required on every unsafe method — resolving to the same
``Principal``, so no operation changes when it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from engine.service.problems import HttpProblem
from engine.service.tokens import Role, TokenStore

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="koodispatch"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: a token's name and role, and the address it came from."""

    name: str
    role: Role
    token_id: str
    remote: str
    via: Literal["bearer"] = "bearer"


def remote_of(request: web.Request) -> str:
    """The client's address as this process saw it (behind a proxy: the proxy's; see README)."""
    return request.remote or ""


async def authenticate(request: web.Request, tokens: TokenStore) -> Principal:
    """The principal of ``request``; raises HttpProblem 401 without a valid bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpProblem(401, "an Authorization: Bearer <token> header is required", CHALLENGE)
    info = await tokens.lookup(token.strip())
    if info is None:
        raise HttpProblem(401, "unknown or revoked token", CHALLENGE)
    return Principal(info.name, info.role, info.id, remote_of(request))


def require(principal: Principal, role: Role) -> None:
    """Raise HttpProblem 403 unless ``principal`` has ``role`` or a higher one."""
    if not principal.role.allows(role):
        raise HttpProblem(403, f"this needs the {role.value} role; the token has {principal.role.value}")
