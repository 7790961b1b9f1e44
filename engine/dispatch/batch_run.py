"""Dispatcher: one batch from frozen numbers to journaled provider calls, exactly once per number.

Order per batch: control check → resolve (frozen verdicts) → smart sends for capable numbers → fallback
sends for the rest by policy → batch finished (the last batch completes the campaign).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time

from engine.budget.contacts import FREQUENCY_CAP
from engine.budget.records import ANONYMOUS, Caller, Order
from engine.budget.retry import call_with_retry
from engine.dispatch.context import EngineContext
from engine.dispatch.outcomes import BatchOutcome, JobResult
from engine.dispatch.senders import Chunk, Sender, SmartSender, cut, fallback_sender
from engine.errors import (
    Ambiguous,
    Halt,
    LeaseLost,
    ProviderDown,
    ProviderError,
    ProviderUnavailable,
    StateError,
    TerminalError,
    TransientError,
    Unconfirmable,
    WindowClosed,
)
from engine.provider.codes import reason as reason_of
from engine.provider.models import SendResult
from engine.runtime import metrics
from engine.state import campaigns, control, retention, trial
from engine.state.batches import Batch, load_batch
from engine.state.campaigns import CampaignRecord
from engine.state.lease import Lease
from engine.state.progress import Failure, Progress
from engine.state.receipts_presence import receipts_running
from engine.state.records import ChunkPath, ChunkRecord, ChunkState, Stage, Verdict, chunk_ref
from engine.types import CampaignState, Channel

log = logging.getLogger(__name__)
UNCONFIRMED = ChunkPath.UNCONFIRMED.value  # failure reason: no one could say whether the call landed
LOCAL_REASONS = frozenset({UNCONFIRMED})
# Sends of one batch in flight at once (the channel's shared in-flight cap bounds the total): with 50 ms
# answers, 8 batches per worker at 4 each left the cap half used while every batch sat in the same stage.
CHUNKS_IN_PARALLEL = 8
INVALID_CHUNK, CAPPED_CHUNK = 0, 1  # journal chunks of the resolve stage: numbers failed before any send


class BatchRun:
    """Runs one batch; a new instance per job so no state leaks between batches.

    Its provider calls are made as one :class:`Caller`: under its lease's token (so a takeover frees their
    slots) and at ``order`` in its process's budget line (see :func:`dispatch_batch`). A send is admitted
    only while the campaign is in one of the ``sendable`` states, read in the admission itself.
    """

    sendable: frozenset[CampaignState] = frozenset({CampaignState.RUNNING})

    def __init__(
        self,
        ctx: EngineContext,
        record: CampaignRecord,
        batch: Batch,
        lease: Lease,
        order: Order = ANONYMOUS.order,
    ) -> None:
        self.ctx = ctx
        self.lease = lease
        self.caller = Caller(lease.token, order, tenant=record.cid)
        self.record = record
        self.batch = batch
        self.cid = record.cid
        self.progress = Progress(ctx.redis, ctx.scripts, self.cid, batch.number)
        self.journal: dict[str, ChunkRecord] = {}
        self.settle_at: float | None = None  # earliest due of the batch's chunks awaiting status reports
        self.sending = True  # False once cancelled: the run only asks the provider about calls left in flight

    async def checkpoint(self) -> None:
        """Before every provider call: stop if the lease lapsed or the campaign must not send now."""
        self.lease.check()
        if self.sending:
            await self.ctx.states.checkpoint(self.cid, self.record.spec.schedule)

    async def settle_cancelled(self) -> None:
        """Settle what a cancel left open: nothing is sent any more, but a call a dead worker left in flight
        may have landed, and only the provider knows. Each such chunk is reconciled (queries only), so the
        report counts every number that reached the provider; one it has no record of once the call's
        deadline passed never landed and is journaled ``not_landed`` (its numbers count as not sent).

        Sends imply frozen verdicts and contact decisions, so the run below makes no capability check.
        """
        self.journal = await self.progress.chunks()
        if not any(record.state is ChunkState.IN_FLIGHT for record in self.journal.values()):
            return
        self.sending = False
        await self.run()

    async def run(self) -> CampaignState:
        """Resolve and send the whole batch; returns the campaign state after the batch finished.

        Redis may lose the last records a run wrote (a failover to a replica that had not received them):
        a chunk this run saw end is then in flight again in the journal, and the batch does not finish
        (``finish_batch.lua``) until the run went through it again, reconciling that chunk with the
        provider (its in_flight mark was on the replica before the call: ``engine/store/coalesce.py``).
        """
        while (state := await self._once()) is None:
            log.warning(
                "campaign %s batch %d: Redis lost chunks' ends (failover?); reconciling",
                self.cid,
                self.batch.number,
            )
        return state

    async def _once(self) -> CampaignState | None:
        """One pass through the batch from its journal; None while the journal shows a chunk in flight."""
        self.journal = await self.progress.chunks()
        spec = self.record.spec
        if spec.fallback.only:  # every number by the fallback channel, no capability check
            not_capable = Verdict.NOT_CAPABLE.value * len(self.batch.numbers)
            verdicts = await self.ctx.resolver.freeze(self.cid, self.batch.number, not_capable)
        else:
            verdicts = await self.ctx.resolver.verdicts(
                self.cid,
                self.batch.number,
                self.batch.numbers,
                spec.smart.template_id,
                self.checkpoint,
                self.caller,
            )
        fallback = fallback_sender(
            spec, self.ctx.koomessage, self.ctx.smsapi, self.ctx.settings.provider.sms_api
        )
        capable = Verdict.CAPABLE.positions(verdicts)
        others = Verdict.NOT_CAPABLE.positions(verdicts)
        channels: list[Channel | None] = [None] * len(verdicts)
        for i in capable:
            channels[i] = "smart"
        for i in others:
            channels[i] = fallback.channel if fallback is not None else None
        capped = await self.ctx.contacts.decide(self.record, self.batch.number, self.batch.numbers, channels)
        if capped:
            capable = [i for i in capable if i not in capped]
            others = [i for i in others if i not in capped]
        await self._stage(SmartSender(self.ctx.koomessage, spec), capable)
        skipped = len(others)
        if fallback is not None:
            await self._stage(fallback, others)
            skipped = 0
        if not self.sending:
            return CampaignState.CANCELLED
        invalid = Verdict.INVALID.positions(verdicts)
        await self._fail_unsent(INVALID_CHUNK, {i: Failure("capability", "invalid_number") for i in invalid})
        await self._fail_unsent(
            CAPPED_CHUNK, {i: Failure(channel, FREQUENCY_CAP) for i, channel in sorted(capped.items())}
        )
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
                except (Halt, ProviderDown, LeaseLost) as stop:
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
        if previous is not None and previous.state is ChunkState.AWAITING:
            self._settle_by(previous.deadline)  # the settle job confirms it by a report or resends it
            return
        if previous is not None and previous.state is not ChunkState.IN_FLIGHT:
            return  # done or failed in an earlier run: never again
        if previous is None and not self.sending:
            return  # never started, and the campaign was cancelled
        attempts = previous.attempts if previous else 0
        if previous is not None:
            try:
                found = await self._reconcile_until(sender, chunk, previous.deadline)
            except Unconfirmable:
                await self._unconfirmed(sender, k, chunk, attempts, previous.deadline)
                return
            if found is not None:
                await self._record(sender, k, chunk, found, path=ChunkPath.RECONCILED, attempts=attempts)
                return
            if not self.sending:
                nothing = SendResult("", (), {})
                await self._record(sender, k, chunk, nothing, path=ChunkPath.NOT_LANDED, attempts=attempts)
                return
        await self._send(sender, k, chunk, attempts, path=ChunkPath.RESENT if previous else ChunkPath.SENT)

    async def _unconfirmed(
        self, sender: Sender, k: int, chunk: Chunk, attempts: int, deadline: float
    ) -> None:
        """A call whose answer was lost on a channel with no send query (plain SMS).

        With a receipts service running the chunk awaits its status reports, which echo its reference
        (``extend``): the settle job (``engine/dispatch/settle.py``) confirms it by any report or, with none
        ``dispatch.sms_receipt_timeout_seconds`` after the call could last have landed, sends it again.
        Without receipts its numbers are failed ``unconfirmed``, never resent blindly (at most once).
        """
        settings = self.ctx.settings
        if not await receipts_running(self.ctx.redis):
            failed = SendResult("", (), dict.fromkeys(chunk.numbers(self.batch), UNCONFIRMED))
            await self._record(sender, k, chunk, failed, path=ChunkPath.UNCONFIRMED, attempts=attempts)
            return
        due = max(deadline, time.time()) + settings.dispatch.sms_receipt_timeout_seconds
        record = ChunkRecord(
            ChunkState.AWAITING, chunk.ref, len(chunk.indices), attempts=attempts, deadline=due
        )
        await self.progress.await_receipts(self.lease, sender.stage, k, record, chunk.indices)
        log.warning(
            "campaign %s %s: answer lost; awaiting its status reports until %s",
            self.cid,
            chunk.ref,
            time.strftime("%H:%M:%S", time.gmtime(due)),
        )
        self._settle_by(due)

    def _settle_by(self, due: float) -> None:
        """Note that a chunk of the batch awaits its reports until ``due`` (the job schedules the settle)."""
        self.settle_at = due if self.settle_at is None else min(self.settle_at, due)

    async def _reconcile_until(self, sender: Sender, chunk: Chunk, deadline: float) -> SendResult | None:
        """Reconcile a call whose answer was lost: left in flight by a dead worker, or ambiguous just now.

        Most such calls landed, so ask at once. If the provider has no record yet but the call could still
        be outstanding (its deadline is ahead), ask again once the deadline passed: only then is "no record"
        proof that it never landed, and only then may the chunk be sent again.
        """
        clock = self.ctx.clock  # deadlines are in Redis's time: the dead holder's host clock may be off
        found = await self._reconcile(sender, chunk)
        while found is None and clock.now() < deadline:
            await asyncio.sleep(min(1.0, deadline - clock.now()))
            await self.checkpoint()
            if clock.now() >= deadline:
                found = await self._reconcile(sender, chunk)
        return found

    async def _reconcile(self, sender: Sender, chunk: Chunk) -> SendResult | None:
        """Ask the provider whether an in-flight call landed; None means it has no record of it.

        Raises Unconfirmable when the channel has no query (plain SMS): never resend blindly.
        """
        return await call_with_retry(
            lambda: sender.find(chunk, self.batch),
            channel="capability",
            count=1,
            limiter=self.ctx.limiter,
            policy=self.ctx.retry_policy,
            checkpoint=self.checkpoint,
            retry_ambiguous=True,
            caller=self.caller,
        )

    async def _send(self, sender: Sender, k: int, chunk: Chunk, attempts: int, path: ChunkPath) -> None:
        numbers = len(chunk.indices)
        provider = self.ctx.settings.provider
        record = ChunkRecord(ChunkState.IN_FLIGHT, chunk.ref, numbers)
        marked = 0.0  # time.monotonic() of the mark its admission wrote

        def in_flight() -> ChunkRecord:
            # journaled by the admission that lets the call go (after the budget and control checks,
            # right before the bytes leave): a halt or a wait for budget never leaves a chunk in_flight
            # that was not sent
            nonlocal record, marked
            marked = time.monotonic()
            deadline = self.ctx.clock.now() + provider.call_lifetime
            record = ChunkRecord(
                ChunkState.IN_FLIGHT, chunk.ref, numbers, attempts=attempts + 1, deadline=deadline
            )
            return record

        async def attempt() -> SendResult:
            nonlocal attempts, path
            attempts, deadline = record.attempts, record.deadline  # of the mark its admission wrote
            try:
                self._still_admitted(chunk, marked + provider.answer_grace)
                return await sender.send(chunk, self.batch)
            except TransientError:  # answered (5xx, 429): this call did not land and nothing is outstanding
                settled = dataclasses.replace(record, deadline=0.0)
                await self.progress.in_flight(self.lease, sender.stage, k, settled)
                raise
            except Ambiguous as exc:
                log.warning("campaign %s %s: ambiguous answer (%s); reconciling", self.cid, chunk.ref, exc)
                found = await self._reconcile_until(sender, chunk, deadline)  # Unconfirmable: plain SMS
                if found is None:  # surely not landed: retried with backoff and the outage limit
                    path = ChunkPath.RESENT
                    raise ProviderUnavailable(f"{chunk.ref}: the provider has no record of it") from exc
                path = ChunkPath.RECONCILED
                return found

        try:
            result = await call_with_retry(
                attempt,
                channel=sender.channel,
                count=numbers,
                limiter=self.ctx.limiter,
                policy=self.ctx.retry_policy,
                checkpoint=self.checkpoint,
                mark=self.progress.mark(self.lease, sender.stage, k, in_flight, self.sendable),
                caller=self.caller,
            )
        except Unconfirmable:
            await self._unconfirmed(sender, k, chunk, attempts, record.deadline)
            return
        except TerminalError as exc:
            code = exc.provider_code if isinstance(exc, ProviderError) else ""
            failed = SendResult("", (), dict.fromkeys(chunk.numbers(self.batch), code))
            await self._record(sender, k, chunk, failed, path=path, attempts=attempts, reason=str(exc))
            return
        await self._record(sender, k, chunk, result, path=path, attempts=attempts)

    def _still_admitted(self, chunk: Chunk, latest: float) -> None:
        """Raise ProviderUnavailable (the call is not made; retried under a new mark) unless the lease is
        surely still ours and the mark's deadline still covers the whole call (``latest``, monotonic).

        The admission checked the lease inside Redis, but its answer may come late: a host cut off from
        Redis reads it when it is back, a frozen process when it thaws. By then a successor may own the
        batch and, the mark's deadline passed with no record at the provider, have sent the chunk again.
        """
        now = time.monotonic()
        if now >= self.lease.valid_until or now > latest:
            late = now - min(self.lease.valid_until, latest)
            log.warning("campaign %s %s: admitted %.1fs too late; not sent", self.cid, chunk.ref, late)
            raise ProviderUnavailable(f"{chunk.ref}: admitted {late:.1f}s too late; not sent")

    async def _record(
        self,
        sender: Sender,
        k: int,
        chunk: Chunk,
        result: SendResult,
        *,
        path: ChunkPath,
        attempts: int,
        reason: str = "",
    ) -> None:
        failures = {n: _failure(sender.channel, code) for n, code in result.failed.items()}
        state = ChunkState.FAILED if reason or (not result.accepted and failures) else ChunkState.DONE
        record = ChunkRecord(state, chunk.ref, len(chunk.indices), result.task_id, reason, path, attempts)
        if await self.progress.finish(sender.stage, k, record, len(result.accepted), failures):
            metrics.recorded(sender.channel, len(result.accepted), (f.reason for f in failures.values()))

    async def _fail_unsent(self, k: int, failures: dict[int, Failure]) -> None:
        """Numbers of the batch never sent (called invalid by the provider, at a contact limit) are failed
        once, under chunk ``k`` of the resolve stage."""
        if not failures or f"{Stage.RESOLVE.value}:{k}" in self.journal:
            return
        ref = chunk_ref(self.cid, self.batch.number, Stage.RESOLVE, k)
        record = ChunkRecord(ChunkState.DONE, ref, len(failures))
        by_number = {self.batch.numbers[i]: failure for i, failure in failures.items()}
        await self.progress.finish(Stage.RESOLVE, k, record, 0, by_number)


def _failure(channel: str, code: str) -> Failure:
    """A provider code becomes an outcome reason; our own reasons (``unconfirmed``) carry no code."""
    if code in LOCAL_REASONS:
        return Failure(channel, code)
    return Failure(channel, reason_of(code).value, code)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf of a TaskGroup failure: control halts and outages surface as themselves."""
    leaf = group.exceptions[0]
    return _first(leaf) if isinstance(leaf, BaseExceptionGroup) else leaf


async def dispatch_batch(ctx: EngineContext, cid: str, number: int, queued_at: float = 0.0) -> BatchOutcome:
    """Run batch ``number`` of campaign ``cid`` under its lease, to the end or until control halts it.

    Where a budget binds, its calls wait behind those of the batches this process got from further up the
    queue (``queued_at``: the job's score, an hour early for a taken-over batch), and of those queued at the
    same time, the ones it started earlier (``Caller.order``): so a worker's batches move
    through their stages staggered, and a taken-over batch goes on at once.

    Returns result ``busy`` when another worker holds the batch (the caller tries again shortly: the holder
    may be dead) and ``lease_lost`` when this worker stalled past the lease TTL (a successor continues).
    Raises StateLost when Redis lost the campaign (never restarts it from zero). A provider outage longer
    than the configured limit pauses the campaign with the reason instead of burning retries.
    """
    await campaigns.ensure_alive(ctx.redis, cid)
    order = (queued_at, time.monotonic())
    async with ctx.leases.hold(cid, number) as lease:
        if lease is None:
            return BatchOutcome(cid, number, JobResult.BUSY)
        try:
            return await _run_batch(ctx, cid, number, lease, order)
        except LeaseLost as lost:
            log.error("%s", lost)
            return BatchOutcome(cid, number, JobResult.LEASE_LOST)


async def _run_batch(ctx: EngineContext, cid: str, number: int, lease: Lease, order: Order) -> BatchOutcome:
    record = await campaigns.load(ctx.redis, cid)
    if record.state is CampaignState.SCHEDULED:
        await campaigns.transition(ctx.redis, cid, CampaignState.RUNNING)
        record = await campaigns.load(ctx.redis, cid)
    batch = await load_batch(ctx.redis, cid, number, record.spec.param_columns())
    run = BatchRun(ctx, record, batch, lease, order)
    outcome = await _ended(ctx, run)
    return dataclasses.replace(outcome, settle_at=run.settle_at)


async def _ended(ctx: EngineContext, run: BatchRun) -> BatchOutcome:
    """Run the batch; how it ended."""
    cid, number = run.cid, run.batch.number
    try:
        state = await run.run()
    except WindowClosed as closed:  # not a halt: the batch runs again when the window opens
        wait = (closed.opens_at - ctx.states.clock()).total_seconds()
        return BatchOutcome(cid, number, JobResult.WINDOW, CampaignState.RUNNING, max(wait, 0.0))
    except Halt as halted:
        if halted.state is CampaignState.CANCELLED:
            await run.settle_cancelled()
        return BatchOutcome(cid, number, JobResult.HALTED, halted.state)
    except ProviderDown as down:
        log.error("campaign %s: pausing, %s", cid, down)
        with contextlib.suppress(StateError):  # already paused or cancelled by someone else
            await control.pause(
                ctx.redis, cid, reason=f"provider down: {down}", generation=run.record.generation
            )
        return BatchOutcome(cid, number, JobResult.PROVIDER_DOWN, CampaignState.PAUSED)
    if state == CampaignState.COMPLETED:
        await retention.expire_detail(ctx.redis, cid)
        await trial.completed(ctx.redis, cid)
    return BatchOutcome(cid, number, JobResult.FINISHED, state)
