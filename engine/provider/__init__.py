"""Async clients of the KooMessage and Message&SMS APIs over one shared, signed HTTP session.

Exported lazily (PEP 562), so ``engine.provider.limits`` or ``engine.provider.signer`` alone do not load
aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.provider.codes import Reason as Reason
    from engine.provider.codes import call_error as call_error
    from engine.provider.codes import reason as reason
    from engine.provider.http import ProviderHttp as ProviderHttp
    from engine.provider.koomessage import KooMessageClient as KooMessageClient
    from engine.provider.models import AimTemplateInfo as AimTemplateInfo
    from engine.provider.models import CallbackInfo as CallbackInfo
    from engine.provider.models import CapabilityResult as CapabilityResult
    from engine.provider.models import LinkParam as LinkParam
    from engine.provider.models import Page as Page
    from engine.provider.models import PortInfo as PortInfo
    from engine.provider.models import ResolveDetail as ResolveDetail
    from engine.provider.models import ResolveResult as ResolveResult
    from engine.provider.models import ResolveTaskInfo as ResolveTaskInfo
    from engine.provider.models import SendDetail as SendDetail
    from engine.provider.models import SendReport as SendReport
    from engine.provider.models import SendResult as SendResult
    from engine.provider.models import SendTaskInfo as SendTaskInfo
    from engine.provider.models import ShortLink as ShortLink
    from engine.provider.models import SmartParam as SmartParam
    from engine.provider.models import SmsChannel as SmsChannel
    from engine.provider.models import SmsTemplateInfo as SmsTemplateInfo
    from engine.provider.models import SmsTemplateVariable as SmsTemplateVariable
    from engine.provider.models import VmsTaskInfo as VmsTaskInfo
    from engine.provider.models import VmsTemplateInfo as VmsTemplateInfo
    from engine.provider.signer import Credentials as Credentials
    from engine.provider.smsapi import SmsApiClient as SmsApiClient

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
__getattr__, __dir__, __all__ = exports(__name__, _EXPORTS)
