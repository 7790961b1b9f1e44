"""Async clients of the KooMessage and Message&SMS APIs over one shared, signed HTTP session.

Exported lazily (PEP 562), so ``engine.provider.limits`` or ``engine.provider.signer`` alone do not load
aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.provider.codes import Reason, call_error, reason
    from engine.provider.http import ProviderHttp
    from engine.provider.koomessage import KooMessageClient
    from engine.provider.models import (
        AimTemplateInfo,
        CallbackInfo,
        CapabilityResult,
        LinkParam,
        Page,
        PortInfo,
        ResolveDetail,
        ResolveResult,
        ResolveTaskInfo,
        SendDetail,
        SendReport,
        SendResult,
        SendTaskInfo,
        ShortLink,
        SmartParam,
        SmsChannel,
        SmsTemplateInfo,
        SmsTemplateVariable,
        VmsTaskInfo,
        VmsTemplateInfo,
    )
    from engine.provider.signer import Credentials
    from engine.provider.smsapi import SmsApiClient

_EXPORTS = {
    "engine.provider.codes": ("Reason", "call_error", "reason"),
    "engine.provider.http": ("ProviderHttp",),
    "engine.provider.koomessage": ("KooMessageClient",),
    "engine.provider.models": (
        "AimTemplateInfo",
        "CallbackInfo",
        "CapabilityResult",
        "LinkParam",
        "Page",
        "PortInfo",
        "ResolveDetail",
        "ResolveResult",
        "ResolveTaskInfo",
        "SendDetail",
        "SendReport",
        "SendResult",
        "SendTaskInfo",
        "ShortLink",
        "SmartParam",
        "SmsChannel",
        "SmsTemplateInfo",
        "SmsTemplateVariable",
        "VmsTaskInfo",
        "VmsTemplateInfo",
    ),
    "engine.provider.signer": ("Credentials",),
    "engine.provider.smsapi": ("SmsApiClient",),
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
__all__ = [
    "AimTemplateInfo",
    "CallbackInfo",
    "CapabilityResult",
    "Credentials",
    "KooMessageClient",
    "LinkParam",
    "Page",
    "PortInfo",
    "ProviderHttp",
    "Reason",
    "ResolveDetail",
    "ResolveResult",
    "ResolveTaskInfo",
    "SendDetail",
    "SendReport",
    "SendResult",
    "SendTaskInfo",
    "ShortLink",
    "SmartParam",
    "SmsApiClient",
    "SmsChannel",
    "SmsTemplateInfo",
    "SmsTemplateVariable",
    "VmsTaskInfo",
    "VmsTemplateInfo",
    "call_error",
    "reason",
]
