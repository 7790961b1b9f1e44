"""Late fallback: the campaign's fallback channel for smart messages not delivered ``after_minutes`` later.

Per batch, one arq job with a deterministic id, deferred by ``fallback.after_minutes`` from the end of the
batch. It freezes the batch indices whose smart message was accepted but has no delivered receipt (failed
receipt or none at all) with SETNX, so a re-run sends to the same list even if receipts arrived meanwhile,
then sends them through ``BatchRun``'s stage machinery under the ``late_sms`` / ``late_basic`` stage:
deterministic chunks, journaled in_flight → done, counted as ``sent:<channel>`` — each number once.
Before it freezes, every report that came before the batch finished must be recorded: receipts that came
before their task was mapped are recorded by the receipts service from ``keys.RECEIPTS_READY``, so while a
task of the batch is still listed there the job looks again ``DRAIN_RETRY_SECONDS`` later — up to
``dispatch.sms_receipt_timeout_seconds`` past the job's due time (counted from the task's mapping, which
came before the batch finished); then it freezes anyway and logs a warning (no receipts service drains).
"""

from __future__ import annotations

import logging
import time
from typing import Final

from engine.dispatch.batch_run import BatchRun
from engine.dispatch.context import EngineContext
from engine.dispatch.outcomes import JobResult, LateOutcome
from engine.dispatch.senders import Chunk, Sender, fallback_sender
from engine.errors import Halt, LeaseLost, ProviderDown, WindowClosed
from engine.provider.models import SendResult
from engine.state import campaigns, delivery, early_receipts
from engine.state.batches import Batch, load_batch
from engine.state.records import Stage, Verdict, pack_indices, unpack_indices
from engine.store import keys
from engine.types import CampaignState

log = logging.getLogger(__name__)
SENDABLE: Final = frozenset({CampaignState.RUNNING, CampaignState.COMPLETED})
DRAIN_RETRY_SECONDS: Final = 2.0  # a batch with kept receipts not recorded yet: look again this much later


class LateSender:
    """The campaign's fallback sender under its late stage: the same calls, own journal fields and refs."""

    def __init__(self, inner: Sender) -> None:
        self.inner = inner
        self.stage = Stage(f"late_{inner.stage.value}")
        self.channel = inner.channel
        self.chunk_size = inner.chunk_size

    async def send(self, chunk: Chunk, batch: Batch) -> SendResult:
        return await self.inner.send(chunk, batch)

    async def find(self, chunk: Chunk, batch: Batch) -> SendResult | None:
        return await self.inner.find(chunk, batch)


class AfterBatchRun(BatchRun):
    """Sends of a batch after it finished (the late stage, SMS chunks settled after their receipt timeout)."""

    sendable = SENDABLE

    async def checkpoint(self) -> None:
        """These sends happen after the last batch completed the campaign: completed may still send."""
        self.lease.check()
        state = await campaigns.state_of(self.ctx.redis, self.cid)
        if state not in self.sendable:
            raise Halt(self.cid, state)
        self.ctx.states.check_window(self.cid, self.record.spec.schedule)


class LateRun(AfterBatchRun):
    """The late stage of one finished batch."""

    async def send_late(self) -> int:
        """Freeze (once) and send the late fallback of the batch; returns how many numbers it covers."""
        await self.checkpoint()
        inner = fallback_sender(
            self.record.spec, self.ctx.koomessage, self.ctx.smsapi, self.ctx.settings.provider.sms_api
        )
        if inner is None:  # the spec forbids after_minutes without a fallback channel
            return 0
        sender = LateSender(inner)
        self.journal = await self.progress.chunks()
        indices = await self._freeze(sender.channel)
        await self._stage(sender, indices)
        return len(indices)

    async def drain_wait(self) -> float | None:
        """Seconds to wait before the list may be frozen (kept receipts of the batch are not recorded yet),
        or None to go on: frozen already, nothing kept, or waited past the bound (logged)."""
        redis = self.ctx.redis
        if await redis.exists(keys.late(self.cid, self.batch.number)):
            return None
        since = await early_receipts.waiting_since(redis, self.cid, self.batch.number)
        if since is None:
            return None
        minutes = self.record.spec.fallback.after_minutes or 0.0
        if time.time() < since + minutes * 60 + self.ctx.settings.dispatch.sms_receipt_timeout_seconds:
            return DRAIN_RETRY_SECONDS
        log.warning(
            "campaign %s batch %d: receipts that came before their task was mapped are still not recorded "
            "(is a receipts service running?); the late fallback goes on without them",
            self.cid,
            self.batch.number,
        )
        return None

    async def _freeze(self, channel: str) -> list[int]:
        """The frozen late list: computed now if no earlier run froze one, else the earlier one."""
        undelivered = await self._undelivered()
        frozen = await self.ctx.scripts.freeze_late(
            keys=[keys.late(self.cid, self.batch.number), keys.counters(self.cid)],
            args=[pack_indices(undelivered), f"late:{channel}", len(undelivered)],
        )
        return unpack_indices(frozen)

    async def _undelivered(self) -> list[int]:
        """Indices of numbers whose smart message was accepted but is not confirmed delivered."""
        verdicts: bytes | None = await self.ctx.redis.get(keys.verdicts(self.cid, self.batch.number))
        capable = Verdict.CAPABLE.positions((verdicts or b"").decode())
        numbers = [self.batch.numbers[i] for i in capable]
        if not numbers:
            return []
        pipe = self.ctx.redis.pipeline(transaction=False)
        pipe.get(keys.delivery(self.cid, self.batch.number, "smart"))
        pipe.hmget(keys.failed(self.cid), numbers)
        receipts, failed = await pipe.execute()
        return [
            i
            for i, failure in zip(capable, failed, strict=True)
            if failure is None and not delivery.delivered(receipts or b"", i)
        ]


async def late_fallback(ctx: EngineContext, cid: str, number: int) -> LateOutcome:
    """Send the late fallback of batch ``number``; a paused campaign, busy batch or outage retries later.

    Raises StateLost when Redis lost the campaign.
    """
    await campaigns.ensure_alive(ctx.redis, cid)
    async with ctx.leases.hold(cid, number) as lease:
        if lease is None:
            return LateOutcome(JobResult.BUSY, retry=True)
        record = await campaigns.load(ctx.redis, cid)
        batch = await load_batch(ctx.redis, cid, number, record.spec.param_columns())
        run = LateRun(ctx, record, batch, lease)
        if (wait := await run.drain_wait()) is not None:
            return LateOutcome(JobResult.POSTPONED, retry_in=wait)
        try:
            sent = await run.send_late()
        except Halt as halted:
            later = halted.state is CampaignState.PAUSED or isinstance(halted, WindowClosed)
            return LateOutcome(JobResult.HALTED, retry=later, settle_at=run.settle_at)
        except (ProviderDown, LeaseLost) as stop:
            log.warning("campaign %s batch %d: late fallback postponed: %s", cid, number, stop)
            return LateOutcome(JobResult.POSTPONED, retry=True, settle_at=run.settle_at)
    return LateOutcome(JobResult.FINISHED, sent, settle_at=run.settle_at)
