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
    "AimTemplateInfo": "engine.provider.models",
    "CallbackInfo": "engine.provider.models",
    "CapabilityResult": "engine.provider.models",
    "Credentials": "engine.provider.signer",
    "KooMessageClient": "engine.provider.koomessage",
    "LinkParam": "engine.provider.models",
    "Page": "engine.provider.models",
    "PortInfo": "engine.provider.models",
    "ProviderHttp": "engine.provider.http",
    "Reason": "engine.provider.codes",
    "ResolveDetail": "engine.provider.models",
    "ResolveResult": "engine.provider.models",
    "ResolveTaskInfo": "engine.provider.models",
    "SendDetail": "engine.provider.models",
    "SendReport": "engine.provider.models",
    "SendResult": "engine.provider.models",
    "SendTaskInfo": "engine.provider.models",
    "ShortLink": "engine.provider.models",
    "SmartParam": "engine.provider.models",
    "SmsApiClient": "engine.provider.smsapi",
    "SmsChannel": "engine.provider.models",
    "SmsTemplateInfo": "engine.provider.models",
    "SmsTemplateVariable": "engine.provider.models",
    "VmsTaskInfo": "engine.provider.models",
    "VmsTemplateInfo": "engine.provider.models",
    "call_error": "engine.provider.codes",
    "reason": "engine.provider.codes",
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
