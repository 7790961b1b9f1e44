"""Dispatcher: one batch from frozen numbers to journaled provider calls, exactly once per number.

Order per batch: control check → resolve (frozen verdicts) → smart sends for capable numbers → fallback
sends for the rest by policy → batch finished (the last batch completes the campaign).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from engine import campaigns, control
from engine.batches import Batch, load_batch
from engine.campaigns import CampaignRecord
from engine.context import EngineContext
from engine.errors import (
    Ambiguous,
    ProviderError,
    ProviderUnavailable,
    StateError,
    StateLost,
    TerminalError,
)
from engine.progress import Failure, Progress
from engine.provider.codes import reason as reason_of
from engine.provider.models import SendResult
from engine.records import CampaignState, ChunkRecord, ChunkState, Stage, Verdict, chunk_ref
from engine.retry import ProviderDown, call_with_retry
from engine.senders import Chunk, Sender, SmartSender, Unconfirmable, cut, fallback_sender

log = logging.getLogger(__name__)
UNCONFIRMED = "unconfirmed"  # the provider could not say whether the call landed
LOCAL_REASONS = frozenset({UNCONFIRMED})
CHUNKS_IN_PARALLEL = 4  # per batch; the shared in-flight cap bounds the total


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one run of a batch job ended with: ``finished``, ``halted:<state>`` or ``provider_down``."""

    cid: str
    batch: int
    result: str
    campaign_state: str


class BatchRun:
    """Runs one batch; a new instance per job so no state leaks between batches."""

    def __init__(self, ctx: EngineContext, record: CampaignRecord, batch: Batch) -> None:
        self.ctx = ctx
        self.record = record
        self.batch = batch
        self.cid = record.cid
        self.progress = Progress(ctx.redis, ctx.scripts, self.cid, batch.number)
        self.journal: dict[str, ChunkRecord] = {}

    async def checkpoint(self) -> None:
        await self.ctx.states.checkpoint(self.cid)

    async def run(self) -> str:
        """Resolve and send the whole batch; returns the campaign state after the batch finished."""
        self.journal = await self.progress.chunks()
        spec = self.record.spec
        verdicts = await self.ctx.resolver.verdicts(
            self.cid, self.batch.number, self.batch.numbers, spec.smart.template_id, self.checkpoint
        )
        capable = [i for i, v in enumerate(verdicts) if v == Verdict.CAPABLE.value]
        others = [i for i, v in enumerate(verdicts) if v == Verdict.NOT_CAPABLE.value]
        await self._stage(SmartSender(self.ctx.koomessage, spec), capable)
        fallback = fallback_sender(
            spec, self.ctx.koomessage, self.ctx.smsapi, self.ctx.settings.provider.sms_api
        )
        skipped = len(others)
        if fallback is not None:
            await self._stage(fallback, others)
            skipped = 0
        await self._mark_invalid(verdicts)
        return await self.progress.finish_batch(skipped)

    async def _stage(self, sender: Sender, indices: list[int]) -> None:
        prefix = chunk_ref(self.cid, self.batch.number, sender.stage, 0).rsplit(":", 1)[0]
        chunks = cut(prefix, indices, sender.chunk_size)
        gate = asyncio.Semaphore(CHUNKS_IN_PARALLEL)

        stops: list[Exception] = []

        async def one(k: int, chunk: Chunk) -> None:
            # a halt or outage seen by one chunk must not cancel a sibling mid-call (its request may
            # have landed): each chunk stops at its own next checkpoint instead
            async with gate:
                try:
                    await self._chunk(sender, k, chunk)
                except (control.Halt, ProviderDown) as stop:
                    stops.append(stop)

        try:
            async with asyncio.TaskGroup() as group:
                for k, chunk in enumerate(chunks):
                    group.create_task(one(k, chunk))
        except BaseExceptionGroup as failed:
            raise _first(failed) from None
        if stops:
            raise stops[0]

    async def _chunk(self, sender: Sender, k: int, chunk: Chunk) -> None:
        previous = self.journal.get(f"{sender.stage.value}:{k}")
        if previous is not None and previous.state is not ChunkState.IN_FLIGHT:
            return  # done or failed in an earlier run: never again
        attempts = previous.attempts if previous else 0
        if previous is not None:
            found = await self._reconcile(sender, chunk)
            if found is not None:
                await self._record(sender, k, chunk, found, path="reconciled", attempts=attempts)
                return
        await self._send(sender, k, chunk, attempts, path="resent" if previous else "sent")

    async def _reconcile(self, sender: Sender, chunk: Chunk) -> SendResult | None:
        """Ask the provider whether an in-flight call landed; None means it has no record of it."""
        try:
            return await call_with_retry(
                lambda: sender.find(chunk, self.batch),
                channel="capability",
                count=1,
                limiter=self.ctx.limiter,
                policy=self.ctx.retry_policy,
                checkpoint=self.checkpoint,
                retry_ambiguous=True,
            )
        except Unconfirmable:
            # Never resend blindly: the numbers are reported as unconfirmed instead of risking duplicates.
            return SendResult(
                task_id="", accepted=(), failed=dict.fromkeys(chunk.numbers(self.batch), UNCONFIRMED)
            )

    async def _send(self, sender: Sender, k: int, chunk: Chunk, attempts: int, path: str) -> None:
        numbers = len(chunk.indices)

        async def attempt() -> SendResult:
            # journaled after the budget and control checks, right before the bytes leave: a halt or a
            # wait for budget never leaves a chunk in_flight that was not sent
            nonlocal attempts, path
            attempts += 1
            await self.progress.in_flight(sender.stage, k, chunk.ref, numbers, attempts)
            try:
                return await sender.send(chunk, self.batch)
            except Ambiguous as exc:
                log.warning("campaign %s %s: ambiguous answer (%s); reconciling", self.cid, chunk.ref, exc)
                found = await self._reconcile(sender, chunk)
                if found is None:  # surely not landed: retried with backoff and the outage limit
                    path = "resent"
                    raise ProviderUnavailable(f"{chunk.ref}: the provider has no record of it") from exc
                path = "reconciled"
                return found

        try:
            result = await call_with_retry(
                attempt,
                channel=sender.channel,
                count=numbers,
                limiter=self.ctx.limiter,
                policy=self.ctx.retry_policy,
                checkpoint=self.checkpoint,
            )
        except TerminalError as exc:
            code = exc.provider_code if isinstance(exc, ProviderError) else ""
            failed = SendResult("", (), dict.fromkeys(chunk.numbers(self.batch), code))
            await self._record(sender, k, chunk, failed, path=path, attempts=attempts, reason=str(exc))
            return
        await self._record(sender, k, chunk, result, path=path, attempts=attempts)

    async def _record(
        self,
        sender: Sender,
        k: int,
        chunk: Chunk,
        result: SendResult,
        *,
        path: str,
        attempts: int,
        reason: str = "",
    ) -> None:
        failures = {n: _failure(sender.channel, code) for n, code in result.failed.items()}
        state = ChunkState.FAILED if reason or (not result.accepted and failures) else ChunkState.DONE
        record = ChunkRecord(state, chunk.ref, len(chunk.indices), result.task_id, reason, path, attempts)
        await self.progress.finish(sender.stage, k, record, len(result.accepted), failures)

    async def _mark_invalid(self, verdicts: str) -> None:
        """Numbers the provider called invalid are failed once, under the resolve stage."""
        invalid = [i for i, v in enumerate(verdicts) if v == Verdict.INVALID.value]
        if not invalid or f"{Stage.RESOLVE.value}:0" in self.journal:
            return
        ref = chunk_ref(self.cid, self.batch.number, Stage.RESOLVE, 0)
        failures = {self.batch.numbers[i]: Failure("capability", "invalid_number") for i in invalid}
        record = ChunkRecord(ChunkState.DONE, ref, len(invalid))
        await self.progress.finish(Stage.RESOLVE, 0, record, 0, failures)


def _failure(channel: str, code: str) -> Failure:
    """A provider code becomes an outcome reason; our own reasons (``unconfirmed``) carry no code."""
    if code in LOCAL_REASONS:
        return Failure(channel, code)
    return Failure(channel, reason_of(code).value, code)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a TaskGroup failure: control halts and outages surface as themselves."""
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


async def dispatch_batch(ctx: EngineContext, cid: str, number: int) -> BatchOutcome:
    """Run batch ``number`` of campaign ``cid`` to the end, or until control halts it.

    Raises StateLost when Redis lost the campaign (never restarts it from zero). A provider outage longer
    than the configured limit pauses the campaign with the reason instead of burning retries.
    """
    await campaigns.ensure_alive(ctx.redis, cid)
    record = await campaigns.load(ctx.redis, cid)
    if record.state is CampaignState.SCHEDULED:
        await campaigns.transition(ctx.redis, cid, CampaignState.RUNNING)
        record = await campaigns.load(ctx.redis, cid)
    try:
        batch = await load_batch(ctx.redis, cid, number, record.spec.param_columns())
    except KeyError:
        raise StateLost(f"campaign {cid}: batch {number} is gone from Redis") from None
    try:
        state = await BatchRun(ctx, record, batch).run()
    except control.Halt as halted:
        return BatchOutcome(cid, number, f"halted:{halted.state.value}", halted.state.value)
    except ProviderDown as down:
        log.error("campaign %s: pausing, %s", cid, down)
        with contextlib.suppress(StateError):  # already paused or cancelled by someone else
            await control.pause(ctx.redis, cid, reason=f"provider down: {down}")
        return BatchOutcome(cid, number, "provider_down", "paused")
    return BatchOutcome(cid, number, "finished", state)
