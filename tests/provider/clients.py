"""Helpers of the provider tests: both clients pointed at the real simulator, and the numbers they send."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.provider import (
    KooMessageClient,
    ProviderHttp,
    SmartParam,
    SmsApiClient,
    SmsChannel,
)
from engine.runtime.settings import Settings, load_settings

CHANNEL = SmsChannel("10690000", "sms_tpl_1", "华为云", "app1")


NUMBERS = [f"1380000{i:04d}" for i in range(100)]


FULL_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def settings_for(url: str, sim_config: Any, **provider: object) -> Settings:
    """Settings pointing both APIs at the simulator, with its credentials."""
    return load_settings(
        provider={
            "koomessage_url": url,
            "smsapi_url": url,
            "connect_timeout": 1.0,
            "read_timeout": 0.5,
            **provider,
        },
        ak=sim_config.ak,
        sk=sim_config.sk,
        project_id=sim_config.project_id,
        sms_app_key=sim_config.sms_app_key,
        sms_app_secret=sim_config.sms_app_secret,
    )


@dataclass
class Clients:
    http: ProviderHttp
    km: KooMessageClient
    sms: SmsApiClient
    settings: Settings


def smart_params(numbers: list[str]) -> list[SmartParam]:
    return [SmartParam(n, ("20240101",), {"name": "张三"}) for n in numbers]
