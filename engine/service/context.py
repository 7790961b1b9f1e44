"""What every handler reaches through the app: Redis, settings, tokens, the event hub, upload limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from arq.connections import ArqRedis

from engine.runtime.settings import Settings
from engine.service.auth import Principal, authenticate
from engine.service.events import Hub, ProgressCache
from engine.service.sessions import SessionStore
from engine.service.tokens import TokenStore


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps of the service: an uploaded recipient file, and where uploads wait while they are read."""

    max_upload_bytes: int
    upload_dir: Path


@dataclass(frozen=True, slots=True)
class Services:
    """The service's shared state, one per app."""

    redis: ArqRedis
    settings: Settings
    tokens: TokenStore
    sessions: SessionStore
    hub: Hub
    status: ProgressCache
    limits: Limits
    proxies: frozenset[str]  # addresses of our reverse proxies, whose X-Forwarded-For is believed

    async def authenticate(self, request: web.Request) -> Principal:
        return await authenticate(request, self.tokens, self.sessions, self.proxies)


SERVICES: web.AppKey[Services] = web.AppKey("koodispatch_services", Services)
