"""The bare floor: the engine's provider calls from one asyncio process, without Redis or the engine.

Shared by ``end_to_end.py`` (limits lifted, no latency) and ``sdk_baseline.py`` (50 ms per call): the fastest
any engine could make these calls on this machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import Final, Literal, TypeVar, get_args

import polars as pl
import uvloop
from _common import Stopwatch, bench_spec, floor_recipients, report_to_parent

from engine.dispatch.batch_run import CHUNKS_IN_PARALLEL
from engine.dispatch.senders import Chunk, Sender, SmartSender, cut, fallback_sender
from engine.provider.http import ProviderHttp
from engine.provider.koomessage import KooMessageClient
from engine.provider.limits import CAPABILITY_MAX_MOBILES
from engine.provider.smsapi import SmsApiClient
from engine.resolve.resolver import CHECKS_IN_PARALLEL
from engine.runtime.gc_tuning import tune_for_service
from engine.runtime.settings import Settings, load_settings
from engine.state.batches import Batch, iter_batches
from engine.state.records import chunk_ref
from engine.types import Channel

T = TypeVar("T")
FLOOR_CID: Final = "bench-" + "0" * 16  # as long as a derived campaign id, so request bodies match in size


# --------------------------------------------------


class FloorRun:
    """The engine's provider calls without the engine: no Redis, no journal, no budget, no retries.

    Same batches, same calls in the same order within a batch, same concurrency shape: ``workers ×
    worker_concurrency`` batches at once, up to CHECKS_IN_PARALLEL capability checks and CHUNKS_IN_PARALLEL
    sends per stage of a batch, ``max_in_flight`` calls per channel.
    """

    def __init__(
        self,
        settings: Settings,
        workers: int,
        koo: KooMessageClient,
        smsapi: SmsApiClient,
        fallback: Literal["sms", "skip"] = "sms",
    ) -> None:
        spec = bench_spec(fallback)
        self.spec = spec
        self.koo = koo
        self.smart = SmartSender(koo, spec)
        self.fallback = fallback_sender(spec, koo, smsapi, settings.provider.sms_api)
        self.jobs = asyncio.Semaphore(workers * settings.dispatch.worker_concurrency)
        self.slots = {c: asyncio.Semaphore(settings.rates.max_in_flight) for c in get_args(Channel)}

    async def call(self, channel: Channel, op: Awaitable[T]) -> T:
        async with self.slots[channel]:
            return await op

    async def batch(self, number: int, part: pl.DataFrame) -> None:
        async with self.jobs:
            numbers = part["mobile"].cast(pl.Utf8).to_list()
            params = {c: part[c].to_list() for c in self.spec.param_columns()}
            batch = Batch(FLOOR_CID, number, numbers, params)
            capable: set[str] = set()
            tpl = self.spec.smart.template_id
            checks = asyncio.Semaphore(CHECKS_IN_PARALLEL)

            async def check(chunk: list[str]) -> None:
                async with checks:
                    found = await self.call("capability", self.koo.check_capability(chunk, tpl))
                capable.update(found.supported)

            step = CAPABILITY_MAX_MOBILES
            await asyncio.gather(*(check(numbers[at : at + step]) for at in range(0, len(numbers), step)))
            smart = [i for i, n in enumerate(numbers) if n in capable]
            others = [i for i, n in enumerate(numbers) if n not in capable]
            await self.stage(self.smart, batch, smart)
            if self.fallback is not None:
                await self.stage(self.fallback, batch, others)

    async def stage(self, sender: Sender, batch: Batch, indices: list[int]) -> None:
        prefix = chunk_ref(batch.cid, batch.number, sender.stage, 0).rsplit(":", 1)[0]
        gate = asyncio.Semaphore(CHUNKS_IN_PARALLEL)

        async def one(chunk: Chunk) -> None:
            async with gate:
                await self.call(sender.channel, sender.send(chunk, batch))

        await asyncio.gather(*(one(chunk) for chunk in cut(prefix, indices, sender.chunk_size)))


def measure_floor(path: Path, workers: int, fallback: Literal["sms", "skip"] = "sms") -> None:
    """Child side: ingest floor + every provider call; the parent gave us the simulator in our env."""
    settings = load_settings()

    async def go() -> None:
        tune_for_service()  # the collector the engine's services run with: the ratio is about the engine
        with Stopwatch() as watch:
            frame = floor_recipients(path, bench_spec(fallback).param_columns())
            async with ProviderHttp(settings) as http:
                run = FloorRun(
                    settings,
                    workers,
                    KooMessageClient.from_settings(http, settings),
                    SmsApiClient.from_settings(http, settings),
                    fallback,
                )
                parts = iter_batches([frame], settings.dispatch.batch_size)
                await asyncio.gather(*(run.batch(n, part) for n, part in enumerate(parts)))
        report_to_parent({"seconds": watch.seconds, "cpu": watch.cpu})  # what was sent: see the ledger

    uvloop.run(go())
