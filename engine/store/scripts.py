"""Lua scripts in ``engine/store/lua``: read from the package once per process, registered per client."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from engine.store.coalesce import CoalescedScript

_INCLUDE = re.compile(r"^--#include (\w+)$", re.MULTILINE)


@cache
def source(name: str) -> str:
    """Text of ``engine/store/lua/<name>.lua``; cached because the files never change while a process runs.

    A line ``--#include <other>`` is replaced by the text of ``<other>.lua``: Redis scripts cannot call
    each other, so logic two scripts share lives in one file. Raises FileNotFoundError for a name that
    is not shipped with the package.
    """
    text = files("engine.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda found: source(found.group(1)), text)


def load_script(redis: aioredis.Redis, name: str) -> AsyncScript:
    """Register ``engine/store/lua/<name>.lua`` with ``redis``.

    The returned script runs by EVALSHA and reloads itself if the server lost its script cache
    (restart, SCRIPT FLUSH), so callers register once at construction and keep the object.
    """
    return redis.register_script(source(name))


class Scripts:
    """The engine's journal scripts, registered once per Redis client and shared by every batch run."""

    def __init__(self, redis: aioredis.Redis) -> None:
        # run around every provider call: sent in shared pipelines (engine/store/coalesce.py)
        self.finish_chunk = CoalescedScript(redis, load_script(redis, "finish_chunk"))
        self.mark_in_flight = CoalescedScript(redis, load_script(redis, "mark_in_flight"))
        self.await_receipts = load_script(redis, "await_receipts")
        self.finish_batch = load_script(redis, "finish_batch")
        self.freeze_verdicts = load_script(redis, "freeze_verdicts")
        self.freeze_late = load_script(redis, "freeze_late")
