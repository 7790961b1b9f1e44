"""Async clients of the KooMessage and Message&SMS APIs over one shared, signed HTTP session."""

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
