"""Fixtures of the provider tests: both clients pointed at the real simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.provider import (
    KooMessageClient,
    ProviderHttp,
    SmsApiClient,
)
from engine.simulator import RunningSimulator
from tests.provider.clients import Clients, settings_for


@pytest.fixture
async def clients(simulator: RunningSimulator) -> AsyncIterator[Clients]:
    settings = settings_for(simulator.url, simulator.config)
    async with ProviderHttp(settings) as http:
        yield Clients(
            http,
            KooMessageClient.from_settings(http, settings),
            SmsApiClient.from_settings(http, settings),
            settings,
        )
