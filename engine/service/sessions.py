"""Browser sessions for the console: a login with an API token gives an HttpOnly, SameSite=Strict cookie and
a CSRF token that every state change must carry in ``X-CSRF-Token``.

Redis keeps the SHA-256 of the session id (as of tokens) with the token it came from: revoking the token
ends its sessions at their next request, and a session never outlives ``SESSION_SECONDS``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.service.tokens import TokenInfo, TokenStore, digest
from engine.store import keys

SESSION_SECONDS: Final = 8 * 3600  # a working day


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: the token it logged in with, and the CSRF token its changes must carry."""

    token: TokenInfo
    csrf: str


class SessionStore:
    """Open, find and close sessions; each one is checked against its token on every request."""

    def __init__(self, redis: aioredis.Redis, tokens: TokenStore) -> None:
        self.redis = redis
        self.tokens = tokens

    async def open(self, token: str) -> tuple[str, Session] | None:
        """A new session id and its session for a valid API token; None for an unknown or revoked one."""
        info = await self.tokens.lookup(token)
        if info is None:
            return None
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        record = orjson.dumps({"token": digest(token), "csrf": csrf})
        await self.redis.set(keys.api_session(digest(session_id)), record, ex=SESSION_SECONDS)
        return session_id, Session(info, csrf)

    async def find(self, session_id: str) -> Session | None:
        """The session of a cookie's id, None when it expired, was closed or its token was revoked."""
        raw = await self.redis.get(keys.api_session(digest(session_id)))
        if raw is None:
            return None
        record = orjson.loads(raw)
        info = await self.tokens.lookup_digest(record["token"])
        return None if info is None else Session(info, record["csrf"])

    async def close(self, session_id: str) -> None:
        await self.redis.delete(keys.api_session(digest(session_id)))
