"""The Lua loader: files read once from the package, scripts that survive a flushed script cache."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from engine.store.scripts import load_script, source


def test_source_is_read_once_and_unknown_names_fail() -> None:
    assert source("rate") is source("rate")
    with pytest.raises(FileNotFoundError):
        source("no_such_script")


async def test_registered_script_reloads_after_a_script_flush(redis_client: aioredis.Redis) -> None:
    script = load_script(redis_client, "in_flight")
    assert await script(keys=["slots"], args=["", "a", 1, 60]) == [1, 1]
    await redis_client.script_flush()
    assert await script(keys=["slots"], args=["", "b", 1, 60]) == [0, 1]


@pytest.mark.parametrize("name", ["rate", "mark_in_flight"])
def test_shared_lua_is_included_where_a_script_asks_for_it(name: str) -> None:
    text = source(name)
    assert "local function in_flight_refused(" in text
    assert not [line for line in text.splitlines() if line.startswith("--#include")]
