"""API tokens with roles, stored hashed in Redis: a leaked dump of Redis holds no usable token.

A token is shown once, when created (``koodispatch tokens create``); Redis keeps the SHA-256 of it (a token
has 256 random bits, so a plain hash is as good as a slow one) with its id, name and role.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson
import redis.asyncio as aioredis

from engine.errors import ConfigError
from engine.store import keys

PREFIX: Final = "kdt_"  # makes a token recognisable to secret scanners and in a mistaken paste


class Role(StrEnum):
    """What a token may do; each role may do everything of those before it."""

    VIEWER = "viewer"  # read campaigns, reports, events, the audit log
    OPERATOR = "operator"  # submit and control campaigns
    ADMIN = "admin"  # tokens, shared rates, the suppression list

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: str
    name: str
    role: Role
    created_at: float


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Create, look up, list and revoke API tokens in one Redis hash."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def create(self, name: str, role: str) -> tuple[str, TokenInfo]:
        """A new token and its record; raises ConfigError for an unknown role or an empty name."""
        if role not in {r.value for r in Role}:
            raise ConfigError(f"role {role!r}: expected one of {', '.join(Role)}")
        if not name.strip():
            raise ConfigError("name: give the token a name (who or what uses it)")
        token = PREFIX + secrets.token_urlsafe(32)
        hashed = digest(token)
        info = TokenInfo(hashed[:12], name.strip(), Role(role), time.time())
        record = {"id": info.id, "name": info.name, "role": info.role.value, "created_at": info.created_at}
        await self.redis.hset(keys.API_TOKENS, hashed, orjson.dumps(record).decode())  # type: ignore[misc]
        return token, info

    async def lookup(self, token: str) -> TokenInfo | None:
        """The record of a token, None when it is unknown or revoked."""
        return await self.lookup_digest(digest(token))

    async def lookup_digest(self, hashed: str) -> TokenInfo | None:
        """The record of a token by its SHA-256 (as a session keeps it), None when revoked."""
        raw = await self.redis.hget(keys.API_TOKENS, hashed)  # type: ignore[misc]
        return None if raw is None else _info(raw)

    async def list(self) -> list[TokenInfo]:
        raw: dict[bytes, bytes] = await self.redis.hgetall(keys.API_TOKENS)  # type: ignore[misc]
        return sorted((_info(v) for v in raw.values()), key=lambda info: info.created_at)

    async def revoke(self, token_id: str) -> TokenInfo | None:
        """Revoke the token of id ``token_id`` at once; None when no token has that id."""
        raw: dict[bytes, bytes] = await self.redis.hgetall(keys.API_TOKENS)  # type: ignore[misc]
        for hashed, value in raw.items():
            info = _info(value)
            if info.id == token_id:
                await self.redis.hdel(keys.API_TOKENS, hashed.decode())  # type: ignore[misc]
                return info
        return None


def _info(raw: bytes) -> TokenInfo:
    record = orjson.loads(raw)
    return TokenInfo(record["id"], record["name"], Role(record["role"]), float(record["created_at"]))
