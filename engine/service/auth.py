"""Who is calling: a bearer token resolved to a ``Principal`` for every ``/api/v1`` request.

Each operation declares the role it needs (``engine/service/operations.py``); this module only finds the
caller, from one of two sources resolving to the same ``Principal``: a bearer token (scripts), or the
browser console's session cookie (``sessions.py``: HttpOnly, SameSite=Strict, a CSRF token required on
every unsafe method).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from engine.service.problems import HttpProblem
from engine.service.sessions import Session, SessionStore
from engine.service.tokens import Role, TokenStore

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="koodispatch"'}
SESSION_COOKIE = "kd_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: a token's name and role, the address it came from, and how it came."""

    name: str
    role: Role
    token_id: str
    remote: str
    via: Literal["bearer", "session"] = "bearer"


def remote_of(request: web.Request, proxies: frozenset[str] = frozenset()) -> str:
    """The client's address: the peer's, or — when the peer is one of our ``proxies`` — the nearest address
    in ``X-Forwarded-For`` that is not one of them (the client can write anything before it, not after)."""
    peer = request.remote or ""
    if peer not in proxies:
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    return next((hop for hop in reversed(hops) if hop not in proxies), peer)


async def authenticate(
    request: web.Request, tokens: TokenStore, sessions: SessionStore, proxies: frozenset[str] = frozenset()
) -> Principal:
    """The principal of ``request``: a bearer token, else a console session cookie (whose state changes
    must carry its CSRF token). Raises HttpProblem 401 without either, 403 for a change without CSRF."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpProblem(401, "an Authorization: Bearer <token> header is required", CHALLENGE)
        info = await tokens.lookup(token.strip())
        if info is None:
            raise HttpProblem(401, "unknown or revoked token", CHALLENGE)
        return Principal(info.name, info.role, info.id, remote_of(request, proxies))
    session = await _session(request, sessions)
    owner = session.token
    return Principal(owner.name, owner.role, owner.id, remote_of(request, proxies), "session")


async def _session(request: web.Request, sessions: SessionStore) -> Session:
    cookie = request.cookies.get(SESSION_COOKIE)
    session = None if not cookie else await sessions.find(cookie)
    if session is None:
        raise HttpProblem(401, "an Authorization: Bearer <token> header is required", CHALLENGE)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HttpProblem(403, f"a change from the console needs the {CSRF_HEADER} header of its session")
    return session


def require(principal: Principal, role: Role) -> None:
    """Raise HttpProblem 403 unless ``principal`` has ``role`` or a higher one."""
    if not principal.role.allows(role):
        raise HttpProblem(403, f"this needs the {role.value} role; the token has {principal.role.value}")
