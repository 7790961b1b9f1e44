"""The arq Worker that koodispatch runs: arq's own, stopped cleanly by SIGTERM wherever it was."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import arq.worker

from engine.store.connection import open_queue


class Worker(arq.worker.Worker):
    """arq's Worker, whose shutdown a signal cannot cut short.

    arq's ``handle_sig`` cancels the polling task and every job task wherever they are, also inside arq's
    own Redis pipelines around a job. Three things went wrong then:

    - the polling task takes each job under WATCH, and a pipeline cancelled while it ended its WATCH kept
      its connection ("Unclosed Pipeline client"): the pool is koodispatch's Queue, whose pipelines give
      their connection back when cancelled (``engine/store/connection.py``);
    - a job cancelled before its function started, or while arq recorded its end, ends cancelled, and
      arq's ``close`` gathers the job tasks without ``return_exceptions``: it raised CancelledError before
      ``on_shutdown``, so nothing was closed, a traceback was printed and the worker exited 1;
    - arq records a job's end under ``asyncio.shield``: when the job is cancelled meanwhile, the recording
      goes on alone, and the pool could be closed under it.

    ``close`` here waits for every job task however it ended, and for every recording, before arq's own.
    """

    def __init__(self, redis_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.redis_url = redis_url
        self._recording: set[asyncio.Task[Any]] = set()

    async def main(self) -> None:
        if self._pool is None:  # arq would make a pool of its own, with redis-py's plain pipelines
            self._pool = await open_queue(self.redis_url)
        await super().main()

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
