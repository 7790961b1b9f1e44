"""The arq Worker that koodispatch runs: arq's own, where its defaults would let one campaign, one crash or
one signal get in the way.

- A started job is keyed "in progress" for the longest job timeout plus 10 s, and arq starts nothing under
  such a key, so a killed worker's job would stay blocked for an hour: here the key lasts a visibility (the
  job leaves the queue right after it starts, ``workers/upkeep.py``; the key only covers a worker killed
  in between).
- arq starts whatever job comes first in its queue, so one campaign's batches could take every slot of a
  worker: here a worker runs at most ``per_campaign`` batch jobs of one campaign at once, and leaves the
  rest of its slots to other campaigns.
- arq's ``handle_sig`` cancels the polling task and every job task wherever they are, also inside arq's
  own Redis pipelines around a job. Three things went wrong then: the polling task takes each job under
  WATCH, and a pipeline cancelled while it ended its WATCH kept its connection ("Unclosed Pipeline
  client"): the pool is koodispatch's Queue, whose pipelines give their connection back when cancelled
  (``engine/store/connection.py``); a job cancelled before its function started, or while arq recorded
  its end, ends cancelled, and arq's ``close`` gathers the job tasks without ``return_exceptions``: it
  raised CancelledError before ``on_shutdown``, so nothing was closed, a traceback was printed and the
  worker exited 1; and arq records a job's end under ``asyncio.shield``: when the job is cancelled
  meanwhile, the recording goes on alone, and the pool could be closed under it. ``close`` here waits for
  every job task however it ended, and for every recording, before arq's own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import arq.worker

from engine.state.jobs import campaign_of_job
from engine.store.connection import open_queue


class Worker(arq.worker.Worker):
    """arq's Worker with a short in-progress key, a per-campaign share of its job slots, and a shutdown a
    signal cannot cut short."""

    def __init__(
        self, redis_url: str, *, per_campaign: int, in_progress_seconds: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.redis_url = redis_url
        self.in_progress_timeout_s = in_progress_seconds
        self.per_campaign = per_campaign
        self._recording: set[asyncio.Task[Any]] = set()

    async def main(self) -> None:
        if self._pool is None:  # arq would make a pool of its own, with redis-py's plain pipelines
            self._pool = await open_queue(self.redis_url)
        await super().main()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Start the jobs of ``job_ids`` (arq's poll order) that keep every campaign within its share."""
        running = Counter(campaign_of_job(job) for job, task in self.tasks.items() if not task.done())
        chosen = []
        for raw in job_ids:
            cid = campaign_of_job(raw.decode())
            if cid is not None:
                if running[cid] >= self.per_campaign:
                    continue
                running[cid] += 1
            chosen.append(raw)
        await super().start_jobs(chosen)

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await self._recorded(super().finish_job(*args, **kwargs))

    async def finish_failed_job(self, *args: Any, **kwargs: Any) -> None:
        await self._recorded(super().finish_failed_job(*args, **kwargs))

    async def _recorded(self, recording: Coroutine[Any, Any, None]) -> None:
        """Run arq's recording of a job's end (in the task ``asyncio.shield`` made for it), known to close."""
        task = asyncio.current_task()
        assert task is not None  # always called from a task
        self._recording.add(task)
        try:
            await recording
        finally:
            self._recording.discard(task)

    async def close(self) -> None:
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await asyncio.gather(*self._recording, return_exceptions=True)
        self.tasks.clear()  # all ended: arq's close would raise the CancelledError of a cancelled one again
        await super().close()
