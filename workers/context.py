"""The one object koodispatch keeps in arq's job context: the engine, the job upkeep, why the worker stops.

arq hands every job function a plain dict; keeping our state under one key as one typed object means a job
reads ``worker_context(ctx).engine``, checked by mypy, instead of untyped ``ctx["engine"]`` lookups.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Final

from engine.dispatch.context import EngineContext
from engine.errors import StateLost
from workers.upkeep import Upkeep

KEY: Final = "koodispatch"  # where the WorkerContext sits in arq's ctx dict


@dataclass
class WorkerContext:
    """What a worker process opened at start-up, closed at shutdown; ``fatal`` says why it stopped itself."""

    engine: EngineContext
    upkeep: Upkeep
    loop: asyncio.Task[None] | None = None
    fatal: StateLost | None = field(default=None)

    def stop(self, lost: StateLost) -> None:
        """Stop this worker process for good: Redis lost the campaign state (``fatal`` keeps why).

        SIGTERM goes through arq's own graceful shutdown; the CLI then exits non-zero with the reason.
        """
        if self.fatal is None:
            self.fatal = lost
            os.kill(os.getpid(), signal.SIGTERM)

    async def close(self) -> None:
        """Stop the upkeep loop, then close the engine (provider sessions, the limiter's slots)."""
        if self.loop is not None:
            self.loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.loop
        await self.engine.close()


def worker_context(ctx: dict[str, Any]) -> WorkerContext:
    """The worker's context in arq's ``ctx``; KeyError before start-up ran (a bug)."""
    found: WorkerContext = ctx[KEY]
    return found


def fatal_of(ctx: dict[str, Any]) -> StateLost | None:
    """Why the worker stopped itself, if it did (None also when start-up never completed)."""
    state: WorkerContext | None = ctx.get(KEY)
    return state.fatal if state is not None else None
