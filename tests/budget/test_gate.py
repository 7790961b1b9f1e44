"""The process's gate to a channel: permits go to the campaign holding the fewest when all are taken."""

from __future__ import annotations

import asyncio

import pytest

from engine.budget.gate import FairGate


async def waiter(gate: FairGate, tenant: str, got: list[str]) -> None:
    await gate.acquire(tenant)
    got.append(tenant)


async def test_a_freed_permit_goes_to_the_waiting_campaign_holding_the_fewest_not_the_first_to_wait() -> None:
    gate = FairGate(3)
    for _ in range(3):
        await gate.acquire("first")
    got: list[str] = []
    early = [asyncio.create_task(waiter(gate, "first", got)) for _ in range(5)]
    await asyncio.sleep(0)
    late = [asyncio.create_task(waiter(gate, name, got)) for name in ("second", "third")]
    await asyncio.sleep(0)
    assert gate.locked() and got == []

    for _ in range(3):
        gate.release("first")
        await asyncio.sleep(0)

    assert got == ["second", "third", "first"]  # first still waited longest, but held the most
    assert (gate.held("first"), gate.held("second"), gate.held("third")) == (1, 1, 1)
    for task in early:
        task.cancel()
    await asyncio.gather(*early, *late, return_exceptions=True)


async def test_a_waiter_that_gives_up_leaves_its_place_and_a_permit_granted_meanwhile_goes_on() -> None:
    gate = FairGate(1)
    await gate.acquire("a")
    got: list[str] = []
    quitter = asyncio.create_task(waiter(gate, "b", got))
    stayer = asyncio.create_task(waiter(gate, "c", got))
    await asyncio.sleep(0)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter

    gate.release("a")
    await stayer

    assert got == ["c"] and gate.held("c") == 1 and gate.held("b") == 0
    gate.release("c")
    assert not gate.locked()  # the permit is free again, none is lost
    await gate.acquire("d")


async def test_permits_are_never_more_than_the_gate_holds() -> None:
    gate = FairGate(4)
    inside = 0
    most = 0

    async def call(tenant: str) -> None:
        nonlocal inside, most
        await gate.acquire(tenant)
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.001)
        inside -= 1
        gate.release(tenant)

    await asyncio.gather(*(call(f"c{k % 7}") for k in range(200)))
    assert most == 4 and not gate.locked()
