"""Python API for applications that submit and steer campaigns through the queue.

Each function takes an open Redis connection (an ``ArqRedis`` from ``engine.store.connection.open_queue`` for
submission) so applications control connection lifetimes; nothing here reads the environment implicitly
except ``load_settings()`` when no settings are passed.

Each function imports the stages it drives when it is called: ``koodispatch pause`` must not pay for
polars, aiohttp and the planner on every start (the command line calls these same functions).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from engine.errors import ConfigError
from engine.types import PRIORITIES, CampaignState, Channel

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from arq.connections import ArqRedis

    from engine.budget.records import RateInfo
    from engine.budget.standing import Standing
    from engine.ingest.spec import CampaignSpec
    from engine.plan.catalog import Catalog
    from engine.plan.forecast import Forecast
    from engine.plan.planner import SubmitResult
    from engine.reports.summary import Report
    from engine.runtime.settings import PriceSettings, Settings
    from engine.state.history import CampaignRow


def _spec(spec: CampaignSpec | Path | str | Mapping[str, Any]) -> CampaignSpec:
    from engine.ingest.spec import CampaignSpec, load_spec

    if isinstance(spec, CampaignSpec):
        return spec
    if isinstance(spec, Path | str):
        return load_spec(Path(spec))
    return CampaignSpec.model_validate(dict(spec))


async def submit_campaign(
    spec: CampaignSpec | Path | str | Mapping[str, Any],
    *,
    redis: ArqRedis,
    recipients: Path | None = None,
    settings: Settings | None = None,
    preflight: bool = True,
) -> SubmitResult:
    """Validate, preflight and submit a campaign; idempotent per campaign id (a resubmission skips
    preflight).

    Raises ConfigError (bad spec or a preflight error, naming the field and template id) or InputError
    (bad recipient file, naming file/row/column) before anything is written to Redis; ProviderError when
    preflight cannot reach the provider (``preflight=False`` skips it, e.g. offline).
    """
    from engine.plan import planner
    from engine.plan.preflight import Preflight, run_preflight
    from engine.runtime.settings import load_settings

    cfg, campaign = settings or load_settings(), _spec(spec)

    async def check() -> Preflight:
        return await run_preflight(campaign, cfg)

    return await planner.submit(redis, cfg, campaign, recipients, check if preflight else None)


async def preflight(spec: CampaignSpec | Path | str | Mapping[str, Any], *, settings: Settings | None = None
                    ) -> tuple[str, ...]:  # fmt: skip
    """Check a spec's templates, signature and port with the provider without submitting; returns the
    warnings. Raises ConfigError listing every error (naming field and template id), ProviderError when
    the provider cannot be reached."""
    from engine.plan.preflight import run_preflight
    from engine.runtime.settings import load_settings

    return (await run_preflight(_spec(spec), settings or load_settings())).warnings


async def plan_campaign(
    spec: CampaignSpec | Path | str | Mapping[str, Any],
    *,
    redis: aioredis.Redis,
    recipients: Path | None = None,
    settings: Settings | None = None,
    check_capability: bool = False,
    preflight: bool = True,
) -> Forecast:
    """Forecast a campaign without sending or writing campaign state: import counts, capability split,
    SMS segments, provider calls per channel, cost, duration, send-window fit and preflight findings.

    ``check_capability`` asks the provider about numbers missing from the shared verdict cache (and
    caches the answers). A provider that cannot be asked about the templates is a preflight error
    (``preflight=False``: not asked). Raises ConfigError / InputError as submit does.
    """
    from engine.dispatch.context import EngineContext
    from engine.plan.dry_run import plan
    from engine.runtime.settings import load_settings

    cfg = settings or load_settings()
    async with await EngineContext.open(cfg, redis) as ctx:
        return await plan(
            ctx, _spec(spec), recipients, check_capability=check_capability, preflight=preflight
        )


async def campaign_report(
    cid: str, *, redis: aioredis.Redis, prices: PriceSettings | None = None, opt_outs: bool = False
) -> Report:
    """Counts of a campaign so far (also its status), with ``prices`` its cost so far, with ``opt_outs``
    its recipients who opted out since submission (one lookup per recipient); raises StateError for an
    unknown id."""
    from engine.reports.summary import build_report

    return await build_report(redis, cid, prices, opt_outs=opt_outs)


campaign_status = campaign_report


async def place_in_line(cid: str, *, redis: aioredis.Redis) -> Standing:
    """What a campaign waits for now: its batches in its backlog, in the queue (behind how many jobs of
    other campaigns) and running, and its share of each channel it is asking for, next to the others."""
    from engine.budget.standing import standing

    return await standing(redis, cid)


async def resend_failed(
    cid: str,
    *,
    redis: ArqRedis,
    reasons: Collection[str] = (),
    channel: str | None = None,
    new_id: str | None = None,
    settings: Settings | None = None,
    preflight: bool = True,
    via: Literal["sms", "basic"] | None = None,
    trial: bool = False,
) -> SubmitResult:
    """Submit a new campaign with the spec of ``cid`` to its failed and undelivered numbers only.

    ``reasons`` (e.g. ``template``, ``undelivered``) and ``channel`` (the one they failed on) narrow the
    numbers taken; ``via`` sends them all by that channel alone; the trial numbers of ``cid`` get the
    message again only with ``trial``. Without
    ``new_id`` the id is derived from ``cid`` and the numbers, so a repeated call finds the first resend.
    Goes through ``submit_campaign`` (preflight included). Raises ConfigError for an unknown channel,
    StateError for an unknown campaign, InputError when no failed number matches.
    """
    from engine.plan import resend
    from engine.reports.failed import FailureFilter
    from engine.runtime.settings import load_settings

    if channel is not None and channel not in get_args(Channel):
        raise ConfigError(f"channel {channel!r}: expected one of {', '.join(get_args(Channel))}")
    cfg = settings or load_settings()

    async def submit(spec: CampaignSpec, recipients: Path) -> SubmitResult:
        return await submit_campaign(
            spec, redis=redis, recipients=recipients, settings=cfg, preflight=preflight
        )

    wanted = FailureFilter(frozenset(reasons), channel)
    return await resend.resend_failed(redis, cid, submit, wanted, new_id, via=via, trial=trial)


async def pause(cid: str, *, redis: aioredis.Redis) -> str:
    """Pause a campaign on every worker; returns the previous state."""
    from engine.state import control

    return (await control.pause(redis, cid)).value


async def resume(cid: str, *, redis: aioredis.Redis) -> str:
    """Resume a paused campaign: its unfinished batches are dispensed again; returns the previous state.

    Raises StateError while the campaign's trial send is not over.
    """
    from engine.state import campaigns, control, feeder, trial

    await trial.ensure_ended(redis, cid)
    previous = await control.resume(redis, cid)
    await feeder.restock(redis, cid, *await campaigns.batches_and_created(redis, cid))
    await feeder.feed(redis, cid)
    return previous.value


async def cancel(cid: str, *, redis: aioredis.Redis) -> str:
    """Cancel a campaign (and its trial send, if still going); returns the previous state."""
    from engine.state import control, trial

    previous = await control.cancel(redis, cid)
    await trial.cancel_with(redis, cid)
    return previous.value


async def purge(
    redis: aioredis.Redis, cid: str | None = None, *, older_than_days: float | None = None
) -> list[str]:
    """Delete the per-number data of ended campaigns now, keeping their summaries; returns their ids.

    ``cid``: that campaign (StateError when unknown or not ended); else every ended campaign older than
    ``older_than_days`` (ended that long ago), or, without it, every one whose retention is over.
    """
    import time

    from engine.state import retention

    if cid is not None:
        await retention.purge(redis, cid)
        return [cid]
    return await retention.sweep(redis, time.time(), older_than_days)


async def set_rates(
    redis: aioredis.Redis, settings: Settings, changes: Mapping[str, float]
) -> dict[Channel, RateInfo]:
    """Change shared rate budgets live (numbers per second); returns every channel's current rate.

    Raises ConfigError for an unknown channel or a rate outside its range (``engine/runtime/ranges.py``),
    before any write: a change of several channels is made whole or not at all.
    """
    from engine.budget.limiter import RateLimiter
    from engine.runtime.ranges import check_rate

    for channel, per_second in changes.items():
        check_rate(channel, per_second)
    limiter = RateLimiter(redis, settings.rates)
    await limiter.ensure_defaults()
    for channel, per_second in changes.items():
        await limiter.set_rate(channel, per_second)  # type: ignore[arg-type]
    return await limiter.get_rates()


async def set_priority(cid: str, priority: str, *, redis: aioredis.Redis) -> str:
    """Move a campaign to another class on the shared budgets (urgent, normal, bulk), for every worker at
    their next call; returns the class it had. Raises ConfigError for an unknown class, StateError for an
    unknown campaign, before any write."""
    from engine.budget import tenants
    from engine.state import campaigns

    if priority not in PRIORITIES:
        raise ConfigError(f"priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    await campaigns.load(redis, cid)
    before = await tenants.load(redis, cid)
    await tenants.register(redis, cid, replace(before, priority=priority))
    return before.priority


async def set_campaign_rates(
    cid: str, changes: Mapping[str, float], *, redis: aioredis.Redis, reset: bool = False
) -> Mapping[Channel, float]:
    """Cap a campaign's own rate per channel (numbers per second), live, on top of the shared budgets;
    ``reset`` first drops the caps it has (back to those of its spec). Returns the caps now in force.
    Raises ConfigError for an unknown channel or a rate outside its range, StateError for an unknown
    campaign, before any write."""
    from engine.budget import tenants
    from engine.runtime.ranges import check_rate
    from engine.state import campaigns

    for channel, per_second in changes.items():
        check_rate(channel, per_second)
    record = await campaigns.load(redis, cid)
    before = await tenants.load(redis, cid)
    caps = dict(record.spec.budget.max_rate) if reset else dict(before.caps)
    caps.update(cast("Mapping[Channel, float]", changes))
    await tenants.register(redis, cid, replace(before, caps=caps))
    return caps


async def list_campaigns(
    *,
    redis: aioredis.Redis,
    state: str | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[CampaignRow]:
    """Campaigns submitted ``since`` (all when None), newest first, optionally only those in ``state``.
    Raises ConfigError for an unknown state."""
    from engine.state import history

    wanted = None
    if state is not None:
        known = [s.value for s in CampaignState]
        if state not in known:
            raise ConfigError(f"state {state!r}: expected one of {', '.join(known)}")
        wanted = CampaignState(state)
    return await history.rows(redis, state=wanted, since=since, offset=offset, limit=limit)


async def reschedule(cid: str, start_at: datetime, *, redis: aioredis.Redis) -> str:
    """Move a campaign that has not started yet to another start time (timezone-aware); returns the
    previous one. Raises ConfigError for a naive time, StateError unless the campaign is scheduled."""
    from engine.state import history

    if start_at.tzinfo is None:
        raise ConfigError("--start-at: give the time zone, e.g. 2026-12-07T08:00:00+08:00")
    return await history.reschedule(redis, cid, start_at)


async def suppressed(number: str, *, redis: aioredis.Redis) -> bool:
    """Whether a number is on the shared suppression list; InputError when it is not a mobile number."""
    from engine.state import suppression

    return await suppression.contains(redis, number)


async def suppress(numbers: Collection[str], *, redis: aioredis.Redis) -> int:
    """Add numbers to the shared suppression list (every later campaign skips them); returns how many were
    new. Raises InputError, before any write, for one that is not a mobile number."""
    from engine.state import suppression

    return await suppression.add(redis, numbers)


async def unsuppress(number: str, *, redis: aioredis.Redis) -> bool:
    """Take a number off the suppression list; returns whether it was on it."""
    from engine.state import suppression

    return await suppression.remove(redis, number)


async def import_suppression(path: Path, *, redis: aioredis.Redis) -> int:
    """Add a file of opted-out numbers (.txt, one a line, or .csv); returns how many were new. Raises
    InputError for a file that cannot be read."""
    from engine.state import suppression

    return await suppression.import_file(redis, path)


async def provider_catalog(settings: Settings | None = None) -> Catalog:
    """The account's smart and basic-edition templates and its channel numbers with their signatures, as the
    provider lists them (first 100 of each), for pickers; raises ProviderError when it cannot be reached."""
    from engine.plan.catalog import catalog
    from engine.runtime.settings import load_settings

    return await catalog(settings or load_settings())
