"""Contact-frequency caps across campaigns, on a real Redis: who is capped, who is counted, how the rolling
windows move, what is exempt, that a batch is decided once, and what the store costs per number."""

from __future__ import annotations

import random

import pytest
import redis
import redis.asyncio as aioredis

from engine.budget import contacts, tenants
from engine.budget.contacts import ContactCaps
from engine.runtime.redis_server import RedisServer
from engine.runtime.settings import ContactSettings
from engine.state.campaigns import CampaignRecord
from engine.state.trial import trial_id
from engine.store import keys
from engine.types import CampaignState, Channel
from tests.specs import make_spec

NUMBERS = [f"1380013{i:04d}" for i in range(40)]


def record(cid: str, **budget: object) -> CampaignRecord:
    spec = make_spec()
    spec = spec.model_copy(update={"budget": spec.budget.model_copy(update=budget)})
    return CampaignRecord(cid, spec, CampaignState.RUNNING, 1, {}, 1, 0.0, "", 0.0)


def caps(client: aioredis.Redis, buckets: int = 1024, **limits: list[str]) -> ContactCaps:
    return ContactCaps(client, ContactSettings(buckets=buckets, **limits))


def plant(client: redis.Redis, number: str, minutes_ago: int, buckets: int = 1024) -> None:
    """A contact ``minutes_ago`` written the way the store keeps it (engine/store/lua/contact_counts.lua)."""
    seconds, _ = client.time()
    at = seconds // 60 - minutes_ago
    day, minute = divmod(at, 1440)
    m = int(number) - 13_000_000_000
    client.set(f"{keys.CONTACTS}{day}:b", buckets, nx=True)
    key = f"{keys.CONTACTS}{day}:{m % buckets}"
    field = m // buckets
    client.hset(key, str(field), (client.hget(key, str(field)) or b"") + bytes(divmod(minute, 256)))


async def test_a_number_at_its_limit_is_capped_by_the_next_campaign_and_counted_once(
    redis_client: aioredis.Redis,
) -> None:
    store = caps(redis_client, smart=["2/24h"])
    smart: list[Channel | None] = ["smart"] * len(NUMBERS)
    assert await store.decide(record("a"), 0, NUMBERS, smart) == {}
    assert await store.decide(record("b"), 0, NUMBERS[:20], smart[:20]) == {}
    third = await store.decide(record("c"), 0, NUMBERS, smart)
    assert third == {i: "smart" for i in range(20)}  # the first 20 had two messages; the rest one
    assert await store.forecast(NUMBERS, smart) == (40, True)  # now every number had two


async def test_a_batch_is_decided_once_whoever_runs_it_again(redis_client: aioredis.Redis) -> None:
    """A resumed or taken-over batch gets its first decision back and counts nobody a second time, even
    under other settings."""
    store = caps(redis_client, smart=["1/24h"])
    smart: list[Channel | None] = ["smart"] * len(NUMBERS)
    await store.decide(record("a"), 0, NUMBERS[:10], smart[:10])
    first = await store.decide(record("b"), 3, NUMBERS, smart)
    assert first == {i: "smart" for i in range(10)}
    assert await store.decide(record("b"), 3, NUMBERS, smart) == first
    assert await caps(redis_client).decide(record("b"), 3, NUMBERS, smart) == first  # limits since removed
    assert await store.forecast(NUMBERS, smart) == (40, True)  # each counted once: 10 by a, 30 by b


async def test_limits_apply_per_channel_and_numbers_not_sent_are_never_counted(
    redis_client: aioredis.Redis,
) -> None:
    store = caps(redis_client, sms=["1/7d"])  # no limit on smart
    channels: list[Channel | None] = ["smart", "sms", None, "basic"] * 10
    assert await store.decide(record("a"), 0, NUMBERS, channels) == {}
    again = await store.decide(record("b"), 0, NUMBERS, channels)
    assert again == {i: "sms" for i in range(1, 40, 4)}
    smart_now: list[Channel | None] = ["sms"] * len(NUMBERS)
    assert await store.forecast(NUMBERS, smart_now) == (10, True)  # only the sms ones were counted


async def test_a_new_bucket_count_leaves_contacts_already_counted_found(
    redis_client: aioredis.Redis,
) -> None:
    smart: list[Channel | None] = ["smart"] * len(NUMBERS)
    await caps(redis_client, buckets=7, smart=["1/24h"]).decide(record("a"), 0, NUMBERS, smart)
    assert await caps(redis_client, buckets=1000, smart=["1/24h"]).forecast(NUMBERS, smart) == (40, True)


@pytest.mark.parametrize(
    ("limit", "minutes_ago", "capped"),
    [
        ("1/24h", 24 * 60 - 2, True),  # inside the rolling day, on the previous UTC day
        ("1/24h", 24 * 60 + 1, False),  # just out of it
        ("2/24h", 30, False),  # one of two
        ("1/7d", 7 * 1440 - 5, True),  # a week back, 7 or 8 day hashes away
        ("1/7d", 7 * 1440 + 5, False),
        ("1/90m", 89, True),
        ("1/90m", 91, False),
    ],
)
async def test_windows_roll_by_the_minute_across_days(
    redis_url: str, redis_client: aioredis.Redis, limit: str, minutes_ago: int, capped: bool
) -> None:
    sync = redis.Redis.from_url(redis_url)
    plant(sync, NUMBERS[0], minutes_ago)
    sync.close()
    store = caps(redis_client, smart=[limit])
    assert await store.forecast(NUMBERS[:1], ["smart"]) == (int(capped), True)
    decided = await store.decide(record("a"), 0, NUMBERS[:1], ["smart"])
    assert decided == ({0: "smart"} if capped else {})


async def test_urgent_transactional_and_trial_sends_are_exempt_and_not_counted(
    redis_client: aioredis.Redis,
) -> None:
    store = caps(redis_client, smart=["1/24h"])
    smart: list[Channel | None] = ["smart"] * len(NUMBERS)
    await tenants.register(redis_client, "urgent", tenants.Tenant("urgent"))
    for exempt in (record("urgent"), record("notice", transactional=True), record(trial_id("a"))):
        assert await store.decide(exempt, 0, NUMBERS, smart) == {}
    assert await store.forecast(NUMBERS, smart) == (0, True)
    assert await store.decide(record("a"), 0, NUMBERS, smart) == {}
    assert await store.decide(record("b"), 0, NUMBERS, smart) == dict.fromkeys(range(40), "smart")
    assert await store.decide(record("notice2", transactional=True), 0, NUMBERS, smart) == {}


async def test_a_long_list_is_forecast_from_a_spread_sample(
    redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = caps(redis_client, smart=["1/24h"])
    many = [str(13_900_000_000 + 7 * i) for i in range(3000)]
    smart: list[Channel | None] = ["smart"] * len(many)
    await store.decide(record("a"), 0, many[::2], smart[::2])
    monkeypatch.setattr(contacts, "FORECAST_SAMPLE", 1000)
    over, exact = await store.forecast(many, smart)
    assert not exact
    assert over == pytest.approx(1500, rel=0.1)


@pytest.mark.parametrize("per_bucket", [38, 76, 114])  # 10M, 20M, 30M numbers a day at the default buckets
async def test_the_store_costs_at_most_16_bytes_per_number_per_day(per_bucket: int) -> None:
    """Measured on a Redis of its own (nothing else allocating): used memory grown by 100k numbers
    counted in 5000-number batches, at the numbers-per-hash of a day of 10M to 60M numbers at the
    default bucket count."""
    count = 100_000
    rng = random.Random(per_bucket)
    buckets = count // per_bucket
    # spread over as many numbers as the default buckets spread 7e9 mobiles: the same 2-byte fields
    spread = 7_000_000_000 * buckets // 262144
    numbers = [str(n) for n in rng.sample(range(13_000_000_000, 13_000_000_000 + spread), count)]
    server = RedisServer()
    server.start()
    try:
        client = aioredis.Redis.from_url(server.url)
        store = caps(client, buckets=buckets, smart=["1/24h", "3/7d"])
        await store.decide(record("warm"), 0, numbers[:1], ["smart"])  # scripts loaded, first key made
        before = (await client.info("memory"))["used_memory"]
        for start in range(1, count, 5000):
            part = numbers[start : start + 5000]
            await store.decide(record("a"), start, part, ["smart"] * len(part))
        grown = (await client.info("memory"))["used_memory"] - before
        batches = range(1, count, 5000)
        decisions = sum([await client.memory_usage(keys.contact_decision("a", b)) or 0 for b in batches])
        await client.aclose()
    finally:
        server.close()
    per_number = (grown - decisions) / (count - 1)
    print(f"{per_bucket} numbers per hash: {per_number:.1f} bytes per number")
    assert per_number <= 16
