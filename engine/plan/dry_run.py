"""Plan a campaign without sending: load its recipients, classify them, read its templates, forecast.

Nothing is written to campaign state. Verdicts come from the shared capability cache; with
``check_capability`` the numbers missing from it are checked (batch by batch, ≤100 per call, as the
dispatcher would) and remembered there, so the run reuses them instead of checking again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from engine.dispatch.context import EngineContext
from engine.errors import ProviderError
from engine.ingest.spec import CampaignSpec
from engine.plan import planner
from engine.plan.forecast import UNKNOWN, Forecast, Inputs, forecast
from engine.plan.preflight import Preflight, check
from engine.provider.limits import CAPABILITY_MAX_MOBILES
from engine.state.records import Verdict
from engine.types import Channel

FALLBACK_CHANNELS: dict[str, Channel] = {"sms": "sms", "basic": "basic"}  # by fallback policy

log = logging.getLogger(__name__)


async def _carry_on() -> None:
    """A plan has no campaign to pause or cancel: capability checks never stop for control."""


async def plan(
    ctx: EngineContext, spec: CampaignSpec, recipients: Path | None = None, *, check_capability: bool = False
) -> Forecast:
    """Forecast ``spec`` over its recipient file (or ``recipients``).

    Raises ConfigError / InputError like submit does; ProviderErrors only from capability checks (a
    provider that cannot be asked about templates becomes a warning instead).
    """
    path = planner.recipients_path(spec, recipients)
    loaded = await planner.load(ctx.redis, ctx.settings, spec, path)
    numbers: list[str] = loaded.frame["mobile"].to_list()
    verdicts, checked = await _verdicts(ctx, spec, numbers, check_capability)
    preflight, notes = await _preflight(ctx, spec)
    rates = {channel: info.rate for channel, info in (await ctx.limiter.get_rates()).items()}
    given = Inputs(
        spec=spec,
        counts=loaded.counts,
        frame=loaded.frame,
        verdicts=verdicts,
        batch_size=planner.batch_size(ctx.settings, spec),
        sms_via=ctx.settings.provider.sms_api,
        rates=rates,
        prices=ctx.settings.prices,
        texts=preflight.sms_texts(spec.sms_channel.signature) if preflight else {},
        recheck=check_capability and ctx.resolver.cache.ttl <= 0,
        checked_calls=checked,
        frequency_capped=await _frequency_capped(ctx, spec, numbers, verdicts),
        notes=[*notes, *(preflight.warnings if preflight else ())],
        errors=preflight.errors if preflight else (),
    )
    return forecast(given)


async def _verdicts(
    ctx: EngineContext, spec: CampaignSpec, numbers: Sequence[str], check_capability: bool
) -> tuple[str, int]:
    """One verdict character per number (UNKNOWN when neither cached nor checked) and the calls made."""
    size = planner.batch_size(ctx.settings, spec)
    tpl = spec.smart.template_id
    parts: list[str] = []
    calls = 0
    for start in range(0, len(numbers), size):
        batch = numbers[start : start + size]
        known = await ctx.resolver.classify(batch, tpl, _carry_on, check=False)
        missing = UNKNOWN
        if check_capability:
            unknown = [n for n in batch if n not in known]
            if unknown:
                known.update(await ctx.resolver.classify(unknown, tpl, _carry_on))
            calls += -(-len(unknown) // CAPABILITY_MAX_MOBILES)
            missing = Verdict.INVALID.value  # checked but not answered for: the run calls it invalid too
        parts.append("".join(known.get(n, missing) for n in batch))
    return "".join(parts), calls


async def _frequency_capped(
    ctx: EngineContext, spec: CampaignSpec, numbers: Sequence[str], verdicts: str
) -> tuple[int, bool]:
    """Numbers at a contact-frequency limit of the channel they would get now (unknown ones: smart)."""
    if spec.budget.transactional or spec.budget.priority == "urgent":
        return 0, True
    fallback: Channel | None = FALLBACK_CHANNELS.get(spec.fallback.policy)
    by_verdict: dict[str, Channel | None] = {Verdict.CAPABLE.value: "smart", UNKNOWN: "smart"}
    by_verdict[Verdict.NOT_CAPABLE.value] = fallback
    channels = [by_verdict.get(v) for v in verdicts]
    return await ctx.contacts.forecast(numbers, channels)


async def _preflight(ctx: EngineContext, spec: CampaignSpec) -> tuple[Preflight | None, list[str]]:
    try:
        return await check(spec, ctx.koomessage, ctx.settings.provider.sms_api), []
    except ProviderError as exc:
        log.warning("plan %s: templates not checked: %s", spec.name, exc)
        return None, [f"templates not checked, the provider did not answer: {exc}"]
