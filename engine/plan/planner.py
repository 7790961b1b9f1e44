"""Planner: validate a campaign, freeze its recipients as batches in Redis, enqueue one job per batch.

Everything is validated before the first write; submitting the same campaign id again changes nothing
except re-enqueuing batches whose jobs are missing (deterministic job ids make that a no-op otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from blake3 import blake3

from engine.budget import tenants
from engine.budget.tenants import Tenant
from engine.errors import ConfigError, InputError
from engine.ingest.files import check_file, read_errors
from engine.ingest.recipients import Recipients, for_campaign
from engine.ingest.spec import CampaignSpec
from engine.plan import trial as trial_freeze
from engine.plan.forecast import planned_segments
from engine.plan.preflight import Preflight
from engine.runtime.settings import Settings
from engine.state import campaigns, feeder, jobs, reached, trial, window
from engine.state.batches import write_batches
from engine.state.receipts_presence import receipts_running
from engine.store import keys
from engine.types import CampaignState

log = logging.getLogger(__name__)
CLAIM_SECONDS = 600  # how long a submission holds its new campaign id against other content
_HASH_BUFFER = 4 << 20  # bytes of the recipient file hashed at a time


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What ``submit`` did: the campaign id, whether it was new, its batches and import counts."""

    cid: str
    created: bool
    batches: int
    counts: dict[str, int]
    state: str
    warnings: tuple[str, ...] = ()  # preflight's, when the API ran it


def _digest(spec: CampaignSpec, path: Path) -> str:
    """16 hex digits of BLAKE3 over spec and file. It is read while polars reads the same file on every
    core: BLAKE3 needs a third of SHA-256's CPU for it (0.09 s against 0.24 s for a 10M-row file), and is
    as collision-resistant. The file is read through one reused buffer, not mapped: every page of a mapped
    file counts in the process' RSS until it is unmapped (+1.2 GB of peak RSS at 30M rows)."""
    h = blake3(spec.model_dump_json(exclude={"id"}).encode())
    buffer = bytearray(_HASH_BUFFER)
    view = memoryview(buffer)
    with read_errors(path), path.open("rb", buffering=0) as file:
        while size := file.readinto(buffer):
            h.update(view[:size])
    return h.hexdigest()[:16]


def identify(spec: CampaignSpec, path: Path) -> tuple[str, str]:
    """The campaign id and the digest of spec and file.

    The id is the spec's own, or ``<name>-<digest>`` so the same submission gets the same id. The digest is
    kept with the campaign: the same id submitted with another spec or file is refused, not ignored.
    """
    digest = _digest(spec, path)
    if spec.id:
        return spec.id, digest
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", spec.name).strip("-")[:40] or "campaign"
    return f"{slug}-{digest}", digest


def recipients_path(spec: CampaignSpec, override: Path | None) -> Path:
    """The recipient file to read: a readable CSV or xlsx file (InputError otherwise), or ConfigError."""
    path = override or (Path(spec.recipients.file) if spec.recipients.file else None)
    if path is None:
        raise ConfigError("recipients.file: no recipient file given (spec or --recipients)")
    check_file(path)
    return path


async def load(redis: aioredis.Redis, settings: Settings, spec: CampaignSpec, path: Path) -> Recipients:
    """Read and validate the recipient file off the event loop (opt-outs dropped); nothing is written."""
    members: set[bytes] = await redis.smembers(keys.SUPPRESSION)  # type: ignore[misc]
    suppressed = frozenset(m.decode() for m in members)
    recipients = await asyncio.to_thread(
        for_campaign, spec, settings.ingest, file=path, suppressed=suppressed
    )
    if recipients.accepted == 0:
        raise InputError(f"{path}: no number left to send to after validation, de-duplication and opt-outs")
    return recipients


async def _claim(redis: aioredis.Redis, cid: str, digest: str) -> bool:
    """Hold ``cid`` for this spec and file while its batches are written (the claim expires, never freed);
    False when a submission with other content holds it.

    Two submissions of one new id with different content would otherwise both write its batch keys, and the
    loser's could overwrite the winner's before ``campaigns.create`` picks the winner. The same content
    submitted twice at once writes the same keys and values, so it may go on. The caller checks again,
    under the claim, that no campaign was created meanwhile.
    """
    for _ in range(3):  # the claim may expire between the two commands: ask again
        if await redis.set(keys.claim(cid), digest, nx=True, ex=CLAIM_SECONDS):
            return True
        held = await redis.get(keys.claim(cid))
        if held is not None:
            return bool(held.decode() == digest)
    return False


async def _discard(reading: asyncio.Future[Recipients]) -> None:
    """Let a read that is no longer needed finish; its outcome, an error for a bad file too, is dropped."""
    await asyncio.gather(reading, return_exceptions=True)


async def sms_settling(redis: aioredis.Redis, spec: CampaignSpec) -> tuple[str, ...]:
    """The warning that plain SMS is sent at most once while no receipts service runs: it has no send
    query, so only status reports can settle a call whose answer was lost."""
    if spec.fallback.policy != "sms" or await receipts_running(redis):
        return ()
    return (
        "fallback policy sms and no receipts service running (`koodispatch receipts` on this Redis): an SMS "
        "call whose answer is lost is failed 'unconfirmed' and never sent again (at most once); with it, "
        "such a call is confirmed by its status reports or sent again after "
        "dispatch.sms_receipt_timeout_seconds without any",
    )


async def submit(
    redis: ArqRedis,
    settings: Settings,
    spec: CampaignSpec,
    recipients: Path | None = None,
    preflight: Callable[[], Awaitable[Preflight]] | None = None,
) -> SubmitResult:
    """Validate, freeze and enqueue a campaign. Raises ConfigError / InputError before any write.

    ``preflight`` (provider checks raising on errors) runs for a new campaign once its recipients are
    valid and before the first write, so a bad file costs no provider call; the SMS texts it read give
    the campaign's planned segments (``forecast.planned_segments``, kept in its counts for the report).
    """
    path = recipients_path(spec, recipients)
    # the file is hashed while it is read (each takes seconds for millions of rows); only a resubmission
    # (a rare, existing id) reads it for nothing
    loading = asyncio.ensure_future(load(redis, settings, spec, path))
    try:
        cid, digest = await asyncio.to_thread(identify, spec, path)
        existing = await redis.exists(keys.campaign(cid))
    except BaseException:
        await _discard(loading)
        raise
    if existing:
        await _discard(loading)
        return await _resubmit(redis, cid, digest)
    loaded = await loading
    checked = await preflight() if preflight is not None else None
    warnings = (*(checked.warnings if checked is not None else ()), *await sms_settling(redis, spec))
    closed = window.closed_warning(spec.schedule, window.utc_now())
    warnings = (*warnings, closed) if closed else warnings
    claimed = await _claim(redis, cid, digest)
    if await redis.exists(keys.campaign(cid)):  # created meanwhile, by a submission that held the claim
        return await _resubmit(redis, cid, digest)
    if not claimed:
        raise ConfigError(
            f"campaign id {cid!r} is being submitted right now with a different spec or recipient file; "
            "give the new campaign another id (nothing was changed)"
        )
    try:
        counts, first, batches = await _freeze(redis, settings, cid, spec, loaded, checked)
    finally:
        loaded.close()
    start = jobs.start_time(spec)
    held = first is not None  # the list waits, paused, until the trial is sent and the campaign resumed
    state = CampaignState.PAUSED if held else CampaignState.SCHEDULED if start else CampaignState.RUNNING
    reason = trial.SENDING if held else ""
    queued = settings.dispatch.campaign_window
    created = await campaigns.create(
        redis, cid, spec, state, batches, counts, reason, digest, queued, settings.retention.days
    )
    if not created:
        return await _resubmit(redis, cid, digest)
    tenant = Tenant(spec.budget.priority, spec.budget.weight, spec.budget.max_rate)
    for each in (cid, first.cid) if first is not None else (cid,):
        await tenants.register(redis, each, tenant)  # before its first call can ask for budget
    now = time.time()
    await feeder.add(redis, cid, range(batches), now)  # a campaign held for its trial is fed once resumed
    if first is not None:
        await feeder.add(redis, first.cid, range(first.batches), now)
    await feeder.feed(redis, first.cid if first is not None else cid)
    log.info(
        "campaign %s submitted: %d numbers in %d batches (%s)", cid, loaded.accepted, batches, state.value
    )
    return SubmitResult(cid, True, batches, counts, state.value, warnings)


async def _freeze(
    redis: ArqRedis,
    settings: Settings,
    cid: str,
    spec: CampaignSpec,
    loaded: Recipients,
    checked: Preflight | None,
) -> tuple[dict[str, int], trial_freeze.Trial | None, int]:
    """The campaign's counts, its trial (None without trial numbers) and batch count, its batches written
    from the recipients a part of the file at a time; the numbers added to the opt-out index."""
    counts = loaded.counts
    if checked is not None:
        texts = checked.sms_texts(spec.sms_channel.signature)
        counts |= await asyncio.to_thread(planned_segments, spec, loaded.chunks(), texts)
    first = await trial_freeze.prepare(redis, settings, cid, spec, loaded.chunks())
    index = reached.Records(settings.receipts.opt_out_window_days)

    def kept() -> Iterator[pl.DataFrame]:  # run by write_batches' encoding thread, beside the writes
        for chunk in loaded.chunks():
            index.add(chunk["mobile"].to_numpy())
            yield chunk

    batches = await write_batches(redis, cid, kept(), spec.param_columns(), batch_size(settings, spec))
    await index.write(redis, time.time())
    return counts, first, batches


def batch_size(settings: Settings, spec: CampaignSpec) -> int:
    """Numbers per batch: an urgent campaign's batches are smaller, so its first messages leave sooner."""
    size = settings.dispatch.batch_size
    return min(size, settings.dispatch.urgent_batch_size) if spec.budget.priority == "urgent" else size


async def _resubmit(redis: ArqRedis, cid: str, digest: str) -> SubmitResult:
    """Submitting an existing campaign again re-queues missing jobs; with other content it is refused."""
    record = await campaigns.load(redis, cid)
    if record.digest and record.digest != digest:
        raise ConfigError(
            f"campaign id {cid!r} already exists with a different spec or recipient file; "
            "give the new campaign another id (nothing was changed)"
        )
    for each in (record, await trial.load(redis, record)):  # a trial whose job went missing is queued too
        if each is not None and not each.terminal:
            await feeder.restock(redis, each.cid, each.batches, each.created_at)
            await feeder.feed(redis, each.cid)
    return SubmitResult(cid, False, record.batches, record.counts, record.state.value)
