"""Preflight: ask the provider whether a campaign's templates, parameters and channel number will work.

Run by ``submit`` before anything is frozen and shown by ``koodispatch plan``: a send that would fail on
every number (missing or unapproved template, wrong parameter count, unbound channel number) becomes one
ConfigError naming the spec field and the template id instead of a campaign full of failures.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar

from engine.errors import BadRequest, ConfigError
from engine.ingest.spec import CampaignSpec
from engine.plan.forecast import SmsText
from engine.provider import limits
from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.provider.models import (
    AimTemplateInfo,
    PortInfo,
    SmsTemplateInfo,
    SmsTemplateVariable,
    VmsTemplateInfo,
)
from engine.provider.queries import KooMessageQueries
from engine.runtime.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

SMS_APPROVED: Final = "Adopted"  # flow_status of an approved KooMessage SMS template
PROMOTION: Final = "PROMOTION_TYPE"
SMART_ENABLED, SMART_APPROVED = 1, 2  # AIMTemplate tpl_state / audit_state of a usable template
BASIC_USABLE: Final = 0  # VmsTemplateStatus audit_state 0 正常可用
PORT_BOUND: Final = 1
# "拒收请回复R", "回T退订", "退订回TD", "回复TD退订": the carriers' opt-out hint for marketing SMS
UNSUBSCRIBE_HINT: Final = re.compile(
    r"拒收请?回复?\s*[A-Za-z]+|回复?\s*[A-Za-z]+\s*退订|退订\s*回复?\s*[A-Za-z]+"
)


@dataclass(frozen=True, slots=True)
class SmsTemplate:
    """A KooMessage SMS template with its variables, as preflight and the forecast read it."""

    info: SmsTemplateInfo
    variables: tuple[SmsTemplateVariable, ...]

    @property
    def links(self) -> int:
        """Short-link (NEWTEXT) variables: filled by the provider, not by the spec."""
        return sum(v.variable_type == limits.SMS_LINK_VARIABLE for v in self.variables)

    @property
    def params(self) -> int:
        """Variables the spec fills, in index order."""
        return len(self.variables) - self.links


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the provider said about a campaign; ``None`` = not found (or, for ``port``, not asked)."""

    smart: AimTemplateInfo | None
    sms: Mapping[str, SmsTemplate | None]  # KooMessage SMS templates by id
    basic: VmsTemplateInfo | None
    port: PortInfo | None
    fallback_via: str  # the API carrying the plain-SMS fallback


@dataclass(frozen=True, slots=True)
class Preflight:
    """Problems that would fail every send (``errors``) and ones worth a look (``warnings``)."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    inspection: Inspection

    def sms_texts(self, signature: str) -> dict[str, SmsText | None]:
        """The SMS texts read, by template id (None: the template was not found), with ``signature``."""
        return {
            tpl: SmsText.of(tpl, found.info.template_content, signature, found.links) if found else None
            for tpl, found in self.inspection.sms.items()
        }

    def raise_for_errors(self) -> None:
        """Raise one ConfigError listing every error, each naming its spec field and template id."""
        if self.errors:
            raise ConfigError(f"preflight: {'; '.join(self.errors)}")


def sms_template_ids(spec: CampaignSpec, fallback_via: str) -> list[str]:
    """The KooMessage SMS templates a campaign sends with (the fallback's only through KooMessage)."""
    ids = [spec.sms_channel.sms_template_id]
    if spec.fallback.policy == "sms" and fallback_via == "koomessage":
        ids.append(spec.fallback_sms_template_id)
    return list(dict.fromkeys(ids))


async def inspect(spec: CampaignSpec, client: KooMessageQueries, default_via: str) -> Inspection:
    """Read the campaign's templates (and its channel number when the spec asks) from the provider.

    Raises what the client raises for anything but "not found" (e.g. ProviderUnavailable, AuthFailed).
    """
    via = spec.fallback.via or default_via
    smart = (await client.list_aim_templates(spec.smart.template_id, limit=1)).items
    sms = {tpl: await _sms_template(client, tpl) for tpl in sms_template_ids(spec, via)}
    basic: tuple[VmsTemplateInfo, ...] = ()
    if spec.fallback.policy == "basic" and spec.fallback.basic_template_id:
        basic = (await client.list_vms_templates(spec.fallback.basic_template_id, limit=1)).items
    port: tuple[PortInfo, ...] = ()
    if spec.sms_channel.require_service_number:
        port = (await client.list_port_infos(port=spec.sms_channel.channel_number, limit=1)).items
    return Inspection(_first(smart), sms, _first(basic), _first(port), via)


async def _sms_template(client: KooMessageQueries, template_id: str) -> SmsTemplate | None:
    try:
        info = await client.show_sms_template(template_id)
    except BadRequest as exc:
        if exc.provider_code == limits.KM_TEMPLATE_NOT_FOUND or exc.code == 404:
            return None
        raise
    return SmsTemplate(info, await client.list_sms_template_variables(template_id))


def _first(items: tuple[T, ...]) -> T | None:
    return items[0] if items else None


def findings(spec: CampaignSpec, found: Inspection) -> Preflight:
    """Judge an inspection against the spec (pure: no I/O)."""
    errors: list[str] = []
    warnings: list[str] = []
    for check in _CHECKS:
        check(spec, found, errors, warnings)
    return Preflight(tuple(errors), tuple(warnings), found)


def _smart(spec: CampaignSpec, found: Inspection, errors: list[str], _: list[str]) -> None:
    tpl, info = spec.smart.template_id, found.smart
    if info is None:
        errors.append(f"smart.template_id: template {tpl} not found")
        return
    if info.tpl_state != SMART_ENABLED or info.audit_state != SMART_APPROVED:
        errors.append(
            f"smart.template_id: template {tpl} is not approved and enabled "
            f"(audit_state {info.audit_state}, tpl_state {info.tpl_state})"
        )
    wanted, mapped = sorted(info.params), sorted(spec.smart.dync_params)
    if wanted != mapped:
        errors.append(
            f"smart.dync_params: template {tpl} has {len(wanted)} variables {wanted}, the spec maps "
            f"{len(mapped)} {mapped}"
        )


def _carrier_sms(spec: CampaignSpec, found: Inspection, errors: list[str], warnings: list[str]) -> None:
    tpl = spec.sms_channel.sms_template_id
    template = _usable_sms(found, tpl, "sms_channel.sms_template_id", errors, warnings)
    if template is None:
        return
    if not template.links:
        errors.append(f"sms_channel.sms_template_id: SMS template {tpl} has no short-link variable (NEWTEXT)")
    _param_count("smart.sms_params", tpl, template, len(spec.smart.sms_params), errors)


def _fallback_sms(spec: CampaignSpec, found: Inspection, errors: list[str], warnings: list[str]) -> None:
    if spec.fallback.policy != "sms":
        return
    tpl = spec.fallback_sms_template_id
    if found.fallback_via != "koomessage":
        warnings.append(
            f"fallback.sms_template_id: Message&SMS template {tpl} not checked "
            "(the send API offers no template query)"
        )
        return
    same = tpl == spec.sms_channel.sms_template_id  # existence and approval already judged above
    field = "fallback.sms_template_id"
    template = found.sms.get(tpl) if same else _usable_sms(found, tpl, field, errors, warnings)
    if template is not None:
        _param_count("fallback.sms_params", tpl, template, len(spec.fallback.sms_params), errors)


def _param_count(field: str, tpl: str, template: SmsTemplate, mapped: int, errors: list[str]) -> None:
    if template.params != mapped:
        errors.append(
            f"{field}: SMS template {tpl} has {template.params} variables besides the short link, "
            f"the spec maps {mapped}"
        )


def _usable_sms(
    found: Inspection, tpl: str, field: str, errors: list[str], warnings: list[str]
) -> SmsTemplate | None:
    """The template if it exists; errors when missing or unapproved, a warning without an opt-out hint."""
    template = found.sms.get(tpl)
    if template is None:
        errors.append(f"{field}: SMS template {tpl} not found")
        return None
    info = template.info
    if info.flow_status != SMS_APPROVED:
        errors.append(f"{field}: SMS template {tpl} is not approved (flow_status {info.flow_status or '?'})")
    if info.template_type == PROMOTION and not UNSUBSCRIBE_HINT.search(info.template_content):
        warnings.append(f"{field}: promotion SMS template {tpl} has no unsubscribe hint (e.g. 拒收请回复R)")
    return template


def _basic(spec: CampaignSpec, found: Inspection, errors: list[str], _: list[str]) -> None:
    if spec.fallback.policy != "basic":
        return
    tpl, info = spec.fallback.basic_template_id, found.basic
    if info is None:
        errors.append(f"fallback.basic_template_id: template {tpl} not found")
        return
    if info.audit_state != BASIC_USABLE:
        errors.append(
            f"fallback.basic_template_id: template {tpl} is not usable (audit_state {info.audit_state})"
        )
    mapped = len(spec.fallback.basic_params)
    if len(info.variables) != mapped:
        errors.append(
            f"fallback.basic_params: template {tpl} has {len(info.variables)} variables "
            f"{list(info.variables)}, the spec maps {mapped}"
        )


def _port(spec: CampaignSpec, found: Inspection, errors: list[str], warnings: list[str]) -> None:
    channel = spec.sms_channel
    if not channel.require_service_number:
        return
    port = found.port
    if port is None or port.is_bind != PORT_BOUND:
        state = "is not registered" if port is None else "is not bound to a service number"
        errors.append(f"sms_channel.channel_number: channel number {channel.channel_number} {state}")
        return
    if port.signs and channel.signature not in port.signs:
        warnings.append(
            f"sms_channel.signature: {channel.signature!r} is not among the signatures of channel number "
            f"{channel.channel_number} ({', '.join(port.signs)})"
        )


_CHECKS: Final[tuple[Callable[[CampaignSpec, Inspection, list[str], list[str]], None], ...]] = (
    _smart,
    _carrier_sms,
    _fallback_sms,
    _basic,
    _port,
)


async def check(spec: CampaignSpec, client: KooMessageQueries, default_via: str) -> Preflight:
    """Inspect and judge; the caller decides whether errors stop it (see ``Preflight.raise_for_errors``)."""
    result = findings(spec, await inspect(spec, client, default_via))
    for warning in result.warnings:
        log.warning("preflight %s: %s", spec.name, warning)
    return result


async def run_preflight(spec: CampaignSpec, settings: Settings) -> Preflight:
    """Preflight on its own HTTP session: raises ConfigError listing every error, else returns warnings.

    Provider failures (unreachable, bad credentials) propagate as ProviderErrors.
    """
    async with ProviderHttp(settings) as http:
        client = KooMessageClient.from_settings(http, settings)
        result = await check(spec, client, settings.provider.sms_api)
    result.raise_for_errors()
    return result
