"""Planner: validate a campaign, freeze its recipients as batches in Redis, enqueue one job per batch.

Everything is validated before the first write; submitting the same campaign id again changes nothing
except re-enqueuing batches whose jobs are missing (deterministic job ids make that a no-op otherwise).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from engine import campaigns, keys
from engine.batches import write_batches
from engine.campaign import CampaignSpec
from engine.campaigns import CampaignRecord
from engine.errors import ConfigError, InputError
from engine.progress import unfinished
from engine.recipients import Recipients
from engine.records import CampaignState
from engine.settings import Settings

log = logging.getLogger(__name__)
JOB_FUNCTION = "dispatch_batch"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What ``submit`` did: the campaign id, whether it was new, its batches and import counts."""

    cid: str
    created: bool
    batches: int
    counts: dict[str, int]
    state: str


def job_id(cid: str, batch: int, generation: int) -> str:
    """Deterministic arq job id; the generation changes on resume so a batch can be queued again."""
    return f"{cid}:{batch}:{generation}"


def _digest(spec: CampaignSpec, path: Path) -> str:
    h = hashlib.blake2b(spec.model_dump_json(exclude={"id"}).encode(), digest_size=8)
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def campaign_id(spec: CampaignSpec, path: Path) -> str:
    """The spec's id, or ``<name>-<digest of spec and file>`` so the same submission gets the same id."""
    if spec.id:
        return spec.id
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", spec.name).strip("-")[:40] or "campaign"
    return f"{slug}-{_digest(spec, path)}"


def recipients_path(spec: CampaignSpec, override: Path | None) -> Path:
    path = override or (Path(spec.recipients.file) if spec.recipients.file else None)
    if path is None:
        raise ConfigError("recipients.file: no recipient file given (spec or --recipients)")
    if not path.is_file():
        raise InputError(f"{path}: no such recipient file")
    return path


async def load(redis: aioredis.Redis, settings: Settings, spec: CampaignSpec, path: Path) -> Recipients:
    """Read and validate the recipient file off the event loop (opt-outs dropped); nothing is written."""
    members: set[bytes] = await redis.smembers(keys.SUPPRESSION)  # type: ignore[misc]
    suppressed = frozenset(m.decode() for m in members)
    recipients = await asyncio.to_thread(
        spec.read_recipients, settings.ingest, file=path, suppressed=suppressed
    )
    if recipients.accepted == 0:
        raise InputError(f"{path}: no number left to send to after validation, de-duplication and opt-outs")
    return recipients


def _start(spec: CampaignSpec) -> datetime | None:
    start = spec.schedule.start_at
    return start if start is not None and start > datetime.now(UTC) else None


async def enqueue(
    redis: ArqRedis, cid: str, batches: Iterable[int], generation: int, defer_until: datetime | None = None
) -> int:
    """Queue one job per batch; returns how many were newly queued (existing job ids are skipped)."""
    queued = 0
    for number in batches:
        job = await redis.enqueue_job(
            JOB_FUNCTION,
            cid,
            number,
            _job_id=job_id(cid, number, generation),
            _queue_name=keys.QUEUE,
            _defer_until=defer_until,
        )
        queued += job is not None
    return queued


async def submit(
    redis: ArqRedis, settings: Settings, spec: CampaignSpec, recipients: Path | None = None
) -> SubmitResult:
    """Validate, freeze and enqueue a campaign. Raises ConfigError / InputError before any write."""
    path = recipients_path(spec, recipients)
    cid = await asyncio.to_thread(campaign_id, spec, path)
    existing = await redis.exists(keys.campaign(cid))
    if existing:
        return await _resubmit(redis, cid)
    loaded = await load(redis, settings, spec, path)
    counts = loaded.counts
    batches = await write_batches(
        redis, cid, loaded.frame, spec.param_columns(), settings.dispatch.batch_size
    )
    start = _start(spec)
    state = CampaignState.SCHEDULED if start else CampaignState.RUNNING
    created = await campaigns.create(redis, cid, spec, state, batches, counts)
    if not created:
        return await _resubmit(redis, cid)
    await enqueue(redis, cid, range(batches), 0, start)
    log.info(
        "campaign %s submitted: %d numbers in %d batches (%s)", cid, loaded.accepted, batches, state.value
    )
    return SubmitResult(cid, True, batches, counts, state.value)


async def _queue_unfinished(redis: ArqRedis, record: CampaignRecord) -> int:
    """Queue the unfinished batches of a campaign under its current generation; returns jobs queued."""
    pending = await unfinished(redis, record.cid, record.batches)
    return await enqueue(redis, record.cid, pending, record.generation, _start(record.spec))


async def _resubmit(redis: ArqRedis, cid: str) -> SubmitResult:
    record = await campaigns.load(redis, cid)
    if not record.terminal and record.state is not CampaignState.PAUSED:
        await _queue_unfinished(redis, record)
    return SubmitResult(cid, False, record.batches, record.counts, record.state.value)


async def requeue(redis: ArqRedis, cid: str) -> int:
    """Queue the unfinished batches of a running campaign again (after resume); returns jobs queued."""
    return await _queue_unfinished(redis, await campaigns.load(redis, cid))
