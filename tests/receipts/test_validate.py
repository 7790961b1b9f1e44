"""The chunk check: which numbers a journaled chunk sent to, as the batch run cut them."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from engine.receipts.batch_index import BatchIndex
from engine.receipts.validate import ChunkCheck, ChunkRef, parse_ref
from engine.state.batches import pack
from engine.state.progress import Failure
from engine.state.records import ChunkRecord, ChunkState, Stage, chunk_field, chunk_ref
from engine.store import keys

CID = "chk"
NUMBERS = [f"1350000{i:04d}" for i in range(260)]
VERDICTS = "c" * 250 + "n" * 10  # 250 smart (chunks of 100: 100, 100, 50), 10 fallback
CAPPED = "0" * 5 + "1" + "0" * 254  # number 5 is at a contact limit: never sent


@pytest.fixture
async def check(redis_client: aioredis.Redis) -> ChunkCheck:
    await redis_client.hset(keys.batch(CID, 0), "n", pack(NUMBERS))  # type: ignore[misc]
    await redis_client.set(keys.verdicts(CID, 0), VERDICTS)
    await redis_client.set(keys.contact_decision(CID, 0), CAPPED)
    for k, count in enumerate((100, 100, 49)):
        record = ChunkRecord(ChunkState.DONE, chunk_ref(CID, 0, Stage.SMART, k), count)
        await redis_client.hset(keys.journal(CID, 0), chunk_field(Stage.SMART, k), record.encode())  # type: ignore[misc]
    return ChunkCheck(redis_client, BatchIndex(redis_client))


@pytest.mark.parametrize(
    ("chunk", "position", "admitted"),
    [
        (0, 0, True),
        (0, 5, False),  # at a contact limit: in no chunk
        (0, 100, True),  # the 100th sent number: position 5 was skipped
        (1, 100, False),
        (1, 101, True),
        (2, 249, True),  # the shorter last chunk
        (2, 201, True),
        (2, 200, False),
        (1, 255, False),  # a fallback number
    ],
)
async def test_a_number_is_admitted_only_for_its_own_chunk(
    check: ChunkCheck, chunk: int, position: int, admitted: bool
) -> None:
    result = await check.admit(ChunkRef(CID, 0, Stage.SMART, chunk), "smart", [NUMBERS[position]])
    assert (result.positions == [position]) is admitted
    assert sum(result.rejected.values()) == (0 if admitted else 1)


async def test_before_chunk_0_is_journaled_either_place_of_chunk_k_is_taken(
    check: ChunkCheck, redis_client: aioredis.Redis
) -> None:
    await redis_client.hdel(keys.journal(CID, 0), chunk_field(Stage.SMART, 0))  # type: ignore[misc]
    last = ChunkRef(CID, 0, Stage.SMART, 2)
    found = await check.admit(last, "smart", [NUMBERS[p] for p in (201, 249, 99, 50)])
    assert found.positions == [
        201,
        249,
        99,
        None,
    ]  # from 2 x 49 = 98 (98th sent: position 99), or the last 49


async def test_an_unjournaled_chunk_or_another_channel_is_rejected(check: ChunkCheck) -> None:
    unjournaled = await check.admit(ChunkRef(CID, 0, Stage.SMART, 3), "smart", [NUMBERS[0]])
    assert unjournaled.rejected == {"unknown_chunk": 1}
    wrong = await check.admit(ChunkRef(CID, 0, Stage.SMART, 0), "basic", [NUMBERS[0]])
    assert wrong.rejected == {"channel": 1}
    assert parse_ref(f"{CID}:0:nonsense:0") is None and parse_ref("a:b:c") is None


@pytest.mark.parametrize(("reason", "admitted"), [("rejected", False), ("unconfirmed", True)])
async def test_a_number_the_provider_refused_at_send_gets_no_receipt(
    check: ChunkCheck, redis_client: aioredis.Redis, reason: str, admitted: bool
) -> None:
    """Refused when its chunk was sent: no receipt can follow; unconfirmed (answer lost): one may."""
    failure = Failure("smart", reason).encode()
    await redis_client.hset(keys.failed(CID), NUMBERS[1], failure)  # type: ignore[misc]
    result = await check.admit(ChunkRef(CID, 0, Stage.SMART, 0), "smart", [NUMBERS[1], NUMBERS[2]])
    assert result.positions == [1 if admitted else None, 2]
    assert result.rejected == ({} if admitted else {"failed_at_send": 1})
