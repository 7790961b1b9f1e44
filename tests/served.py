"""The API (and its console) served for real on loopback, on a test Redis DB and the simulator, with a token
per role: fixtures shared by tests/service and tests/console (their conftest imports them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from arq.connections import ArqRedis

from engine import api as engine_api
from engine.runtime.settings import Settings, load_settings
from engine.service.app import serve
from engine.service.tokens import Role, TokenStore
from engine.simulator.testing import SimulatorThread
from tests.specs import make_spec, numbers, write


@dataclass(frozen=True)
class Api:
    """A client of the served API: ``call`` as one role, ``url`` for tools that make their own requests."""

    url: str
    http: aiohttp.ClientSession
    tokens: dict[str, str]

    def headers(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(
        self, method: str, path: str, role: str | None = "admin", **options: Any
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        """(status, JSON body or text, headers) of one request to ``/api/v1<path>``."""
        headers = {**self.headers(role), **options.pop("headers", {})}
        async with self.http.request(method, "/api/v1" + path, headers=headers, **options) as answer:
            body = (
                await answer.json(content_type=None) if "json" in answer.content_type else await answer.text()
            )
            return answer.status, body, answer.headers


async def submit(redis: ArqRedis, settings: Settings, tmp_path: Path, cid: str, count: int,
                 **spec: object) -> str:  # fmt: skip
    """Submit campaign ``cid`` of ``count`` capable numbers straight through the engine (no preflight)."""
    body = make_spec().model_dump(mode="json") | {"id": cid, "name": f"campaign {cid}", **spec}
    path = write(tmp_path / f"{cid}.csv", {"mobile": numbers(True, count)})
    result = await engine_api.submit_campaign(body, redis=redis, recipients=path, settings=settings,
                                              preflight=False)  # fmt: skip
    return result.cid


@pytest.fixture
def settings(sim: SimulatorThread) -> Settings:
    return load_settings(provider={"koomessage_url": sim.url, "smsapi_url": sim.url})


@pytest.fixture
async def api(arq_redis: ArqRedis, settings: Settings, tmp_path: Path) -> AsyncIterator[Api]:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    async with serve(settings, arq_redis, upload_dir=uploads, tick=0.2) as url:
        store = TokenStore(arq_redis)
        tokens = {role.value: (await store.create(f"test {role.value}", role.value))[0] for role in Role}
        async with aiohttp.ClientSession(base_url=url) as http:
            yield Api(url, http, tokens)
