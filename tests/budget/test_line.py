"""A process's budget line: turns handed on lowest order first, also past waiters that gave up."""

from __future__ import annotations

import asyncio

import pytest

from engine.budget import line as budget_line


async def test_a_turn_handed_to_a_waiter_that_was_just_cancelled_goes_on() -> None:
    line = budget_line.BudgetLine()
    await line.take((1.0, 0.0))  # held at once
    waiter = asyncio.create_task(line.take((2.0, 0.0)))
    await asyncio.sleep(0)  # in line
    line.hand_on()  # the turn is the waiter's, but it is cancelled before it resumes
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not line.held
    async with asyncio.timeout(1):
        await line.take((3.0, 0.0))  # nobody holds it: at once
