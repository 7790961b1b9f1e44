"""``callbacks register`` on the simulator: a URL registered before is shown, kept unless replaced."""

from __future__ import annotations

import pytest

from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.receipts.register import AlreadyRegistered, register_callbacks
from engine.runtime.settings import load_settings
from engine.simulator import RunningSimulator

OURS, THEIRS = "our-token-0123456789abcdef", "their-token-0123456789abcd"


async def test_a_registration_made_elsewhere_is_shown_and_replaced_only_when_asked(
    simulator: RunningSimulator,
) -> None:
    settings = load_settings(provider={"koomessage_url": simulator.url, "smsapi_url": simulator.url})
    async with ProviderHttp(settings) as http:
        client = KooMessageClient.from_settings(http, settings)
        await register_callbacks(client, "https://old.example.com", THEIRS)
        with pytest.raises(AlreadyRegistered) as refused:
            await register_callbacks(client, "https://new.example.com", OURS)
        shown = str(refused.value)
        assert "https://old.example.com/receipts/***" in shown and "--replace" in shown
        assert THEIRS not in shown
        assert {c.callback_url for c in await client.list_callbacks()} == {
            f"https://old.example.com/receipts/{THEIRS}/smart"
        }
        await register_callbacks(client, "https://new.example.com", OURS, replace=True)
        await register_callbacks(client, "https://new.example.com", OURS)  # the same URLs again: harmless
        registered = {c.callback_url for c in await client.list_vms_callbacks()}
    assert registered == {
        f"https://new.example.com/receipts/{OURS}/basic",
        f"https://new.example.com/receipts/{OURS}/basic-uplink",
    }
