"""Settle plain-SMS chunks whose answer was lost, from the status reports their numbers got.

Plain SMS has no send query, so such a chunk awaits its reports (``ChunkState.AWAITING``, listed in
``keys.awaiting``). Reports echo the chunk reference (``extend``) and are recorded per number by the receipts
service: any report for one of the chunk's numbers proves the call landed (``confirmed_by_receipts``: its
numbers count as sent); none at all ``dispatch.sms_receipt_timeout_seconds`` after the call could last have
landed, with the receipts service running then, means the provider never got it, and the chunk is sent
again through the journal like any send (``resent_after_timeout``), so a crash during the resend is settled
the same way. While no receipts service runs, a due chunk waits: a missing report proves nothing then.
One arq job per batch, deferred to the earliest due and brought forward by the receipts service when a
report for one comes.
"""

from __future__ import annotations

import logging
import time

from engine.dispatch.batch_run import UNCONFIRMED
from engine.dispatch.context import EngineContext
from engine.dispatch.late import AfterBatchRun, LateSender
from engine.dispatch.outcomes import BatchOutcome, JobResult
from engine.dispatch.senders import Chunk, Sender, fallback_sender
from engine.errors import Halt, LeaseLost, ProviderDown
from engine.provider.models import SendResult
from engine.state import campaigns, delivery, trial
from engine.state.batches import load_batch
from engine.state.progress import awaiting
from engine.state.receipts_presence import receipts_running
from engine.state.records import ChunkPath, ChunkRecord, ChunkState, Stage, chunk_ref
from engine.store import keys
from engine.types import CampaignState

log = logging.getLogger(__name__)
RECORDER_WAIT = 30.0  # seconds a due chunk waits while no receipts service runs before it looks again


class SettleRun(AfterBatchRun):
    """The awaiting SMS chunks of one batch: confirmed by a report, resent after the timeout, or kept."""

    async def settle(self) -> CampaignState | None:
        """Settle every awaiting chunk of the batch that can be settled now.

        Returns the campaign's state when this settled its last awaiting chunk of a finished batch (the
        campaign may complete), else None; ``settle_at`` says when the next one is due. Raises Halt when
        the campaign is paused (a resend waits), ProviderDown or LeaseLost as any send.
        """
        self.journal = await self.progress.chunks()
        waiting = await awaiting(self.ctx.redis, self.cid, self.batch.number)
        for field, (due, indices) in sorted(waiting.items()):
            stage, _, k = field.partition(":")
            record = self.journal.get(field)
            sender = self._sender(Stage(stage))
            if record is None or sender is None:
                continue
            chunk = Chunk(chunk_ref(self.cid, self.batch.number, sender.stage, int(k)), tuple(indices))
            await self._settle_one(sender, int(k), chunk, record, due)
        if self.settle_at is not None or not await self._batch_finished():
            return None
        state = await self.progress.finish_batch(0)  # the batch is done already: completes the campaign
        if state is CampaignState.COMPLETED:
            await trial.completed(self.ctx.redis, self.cid)
        return state

    async def _settle_one(
        self, sender: Sender, k: int, chunk: Chunk, record: ChunkRecord, due: float
    ) -> None:
        if record.state is ChunkState.IN_FLIGHT:  # a resend cut short by a crash: awaits its reports again
            await self._chunk(sender, k, chunk)
        elif record.state is not ChunkState.AWAITING:
            return
        elif await self._reported(chunk):
            landed = SendResult("", tuple(chunk.numbers(self.batch)), {})
            path = ChunkPath.CONFIRMED_BY_RECEIPTS
            await self._record(sender, k, chunk, landed, path=path, attempts=record.attempts)
        elif time.time() < due:
            self._settle_by(due)
        elif not await receipts_running(self.ctx.redis):  # no report may only mean none was recorded
            log.warning("campaign %s %s: no receipts service running; waiting for it", self.cid, chunk.ref)
            self._settle_by(time.time() + RECORDER_WAIT)
        else:
            await self._resend(sender, k, chunk, record)

    async def _resend(self, sender: Sender, k: int, chunk: Chunk, record: ChunkRecord) -> None:
        """Send a chunk no report was seen for again; a cancelled campaign fails it ``unconfirmed``."""
        log.warning("campaign %s %s: no status report in time; sending it again", self.cid, chunk.ref)
        try:
            await self._send(sender, k, chunk, record.attempts, path=ChunkPath.RESENT_AFTER_TIMEOUT)
        except Halt as halted:
            if halted.state is not CampaignState.CANCELLED:
                raise
            failed = SendResult("", (), dict.fromkeys(chunk.numbers(self.batch), UNCONFIRMED))
            path = ChunkPath.UNCONFIRMED
            await self._record(sender, k, chunk, failed, path=path, attempts=record.attempts)

    def _sender(self, stage: Stage) -> Sender | None:
        """The campaign's SMS sender under ``stage`` (``sms`` or ``late_sms``)."""
        inner = fallback_sender(
            self.record.spec, self.ctx.koomessage, self.ctx.smsapi, self.ctx.settings.provider.sms_api
        )
        if inner is None:
            return None
        sender: Sender = LateSender(inner) if stage.value.startswith("late_") else inner
        return sender if sender.stage is stage else None

    async def _reported(self, chunk: Chunk) -> bool:
        """Whether any of the chunk's numbers has a status report on its channel (first fallback and late
        stage never share a number within a batch, and each number sits in one chunk of a stage)."""
        raw = await delivery.outcomes(self.ctx.redis, self.cid, self.batch.number, "sms")
        return any(delivery.reported(raw, index) for index in chunk.indices)

    async def _batch_finished(self) -> bool:
        done = await self.ctx.redis.sismember(keys.batches_done(self.cid), str(self.batch.number))  # type: ignore[misc]
        return bool(done)


async def settle_sms(ctx: EngineContext, cid: str, number: int) -> BatchOutcome:
    """Settle the awaiting plain-SMS chunks of batch ``number`` under its lease.

    The outcome's ``settle_at`` is when to run again (chunks still awaiting); ``BUSY`` and ``POSTPONED``
    mean try again shortly or later. Raises StateLost when Redis lost the campaign.
    """
    await campaigns.ensure_alive(ctx.redis, cid)
    async with ctx.leases.hold(cid, number) as lease:
        if lease is None:
            return BatchOutcome(cid, number, JobResult.BUSY)
        record = await campaigns.load(ctx.redis, cid)
        batch = await load_batch(ctx.redis, cid, number, record.spec.param_columns())
        run = SettleRun(ctx, record, batch, lease)
        try:
            state = await run.settle()
        except (Halt, ProviderDown, LeaseLost) as stop:
            log.warning("campaign %s batch %d: settling SMS postponed: %s", cid, number, stop)
            return BatchOutcome(cid, number, JobResult.POSTPONED, settle_at=run.settle_at)
    return BatchOutcome(cid, number, JobResult.FINISHED, state, settle_at=run.settle_at)
