"""CPU per asyncio task kind in the measured processes: where the engine's time goes, for ``--task-cpu``.

A task factory wraps each task's coroutine and adds the thread's CPU time (``time.thread_time()``) of each
of its steps to the task's kind, the qualified name of its coroutine; at exit the process writes the sums
to ``<dir>/<pid>.json``, with its whole event loop's CPU, so that what ran outside any task (I/O callbacks,
the loop itself) shows too. py-spy and cProfile charged the wall clock of socket writes to the writer on
2 busy cores, and yappi multiplied the workers' CPU by six: this counts the CPU the thread used.

It is switched on in a process by ``task_cpu/sitecustomize.py`` (a directory on PYTHONPATH) when
``KD_TASK_CPU_DIR`` names the output directory, and hooks ``uvloop.run``, which the engine's services and
the floor start their loop with. The wrapping costs a few per cent of CPU: its figures are for finding
where time goes, not for the recorded ratios.
"""

from __future__ import annotations

import asyncio
import atexit
import collections.abc
import os
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Coroutine, Generator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import uvloop

ENV: str = "KD_TASK_CPU_DIR"
OUTSIDE = "(outside any task)"
HOOK = Path(__file__).resolve().parent / "task_cpu"  # the sitecustomize that calls install()
T = TypeVar("T")


class _Counted(collections.abc.Coroutine):  # type: ignore[type-arg]
    """A task's coroutine whose every step adds its thread CPU time to ``kind``."""

    __slots__ = ("_coro", "_cpu", "_kind", "_steps")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], kind: str, cpu: defaultdict[str, float], steps: Counter[str]
    ) -> None:
        self._coro, self._kind, self._cpu, self._steps = coro, kind, cpu, steps

    def send(self, value: Any) -> Any:
        return self._step(self._coro.send, value)

    def throw(self, *error: Any) -> Any:
        return self._step(self._coro.throw, *error)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()

    def _step(self, step: Any, *args: Any) -> Any:
        started = time.thread_time()
        try:
            return step(*args)
        finally:
            self._cpu[self._kind] += time.thread_time() - started
            self._steps[self._kind] += 1


def install(directory: str) -> None:
    """Count this process's task CPU from its ``uvloop.run`` on, and write it to ``directory`` at exit."""
    cpu: defaultdict[str, float] = defaultdict(float)
    steps: Counter[str] = Counter()
    loop_started: list[float] = []
    run = uvloop.run

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        kind = getattr(coro, "__qualname__", type(coro).__name__)
        return asyncio.Task(_Counted(coro, kind, cpu, steps), loop=loop, **kwargs)

    def counted_run(main: Awaitable[T], **kwargs: Any) -> T:
        async def counting() -> T:
            asyncio.get_running_loop().set_task_factory(factory)
            loop_started.append(time.thread_time())
            return await main

        return run(counting(), **kwargs)

    def write() -> None:
        if not loop_started:
            return
        loop_cpu = time.thread_time() - loop_started[0]
        kinds: dict[str, tuple[float, int]] = {kind: (seconds, steps[kind]) for kind, seconds in cpu.items()}
        kinds[OUTSIDE] = (loop_cpu - sum(cpu.values()), 0)
        Path(directory, f"{os.getpid()}.json").write_bytes(orjson.dumps(kinds))

    uvloop.run = counted_run
    atexit.register(write)


def read(directory: Path) -> dict[str, tuple[float, int]]:
    """The CPU seconds and steps per task kind, summed over every process that wrote to ``directory``."""
    seconds: defaultdict[str, float] = defaultdict(float)
    steps: Counter[str] = Counter()
    for path in directory.glob("*.json"):
        for kind, (cpu, count) in orjson.loads(path.read_bytes()).items():
            seconds[kind] += cpu
            steps[kind] += count
    ranked = sorted(seconds.items(), key=lambda item: -item[1])
    return {kind: (cpu, steps[kind]) for kind, cpu in ranked}
