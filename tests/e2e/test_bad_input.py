"""Bad input never loses or corrupts recorded state: refused submissions, unknown and duplicate campaign ids,
and pause/resume/cancel racing each other all leave Redis exactly as they found it, or consistent."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import xlsxwriter
from arq.connections import ArqRedis

from engine import api
from engine.errors import ConfigError, DispatchError, InputError, StateError
from engine.runtime.settings import load_settings
from engine.state import campaigns
from engine.state.batches import load_batch
from engine.store import keys
from engine.types import CampaignState
from tests.specs import make_spec, numbers, write


async def snapshot(redis: ArqRedis) -> dict[bytes, bytes]:
    """Every key with its serialised value (DUMP), to compare before and after."""
    found = {}
    async for key in redis.scan_iter(count=1000):
        found[key] = await redis.dump(key)
    return found


async def submit(redis: ArqRedis, path: Path, cid: str = "kept") -> str:
    spec = make_spec("sms", sms_params=["name"]).model_copy(update={"id": cid})
    result = await api.submit_campaign(
        spec, redis=redis, recipients=path, settings=load_settings(), preflight=False
    )
    return result.cid


def twice_xlsx(path: Path) -> None:
    """The mobile column twice (calamine named the second ``mobile_1``: its numbers were never sent)."""
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["mobile", "name", "mobile"])
        sheet.write_row(1, 0, ["13800000000", "a", "13800000001"])


BAD_FILES: dict[str, tuple[str, str | Callable[[Path], None]]] = {
    "formula cells only": ("bad.csv", 'mobile\n=HYPERLINK("x")\n=1+1\n'),
    "not a csv": ("bad.csv", "\x00\x01\x02\x03"),
    "huge cell": ("bad.csv", "mobile,name\n13800000000," + "y" * 5_000_000 + "\n"),
    "odd numbers only": ("bad.csv", "mobile\n+86 (0)138-0000\n0086-1380\n１３８\n"),
    "mobile column twice": ("bad.csv", "mobile,name,mobile\n13800000000,a,13800000001\n"),
    "mobile column twice (xlsx)": ("bad.xlsx", twice_xlsx),
}


@pytest.mark.parametrize(("name", "content"), BAD_FILES.values(), ids=BAD_FILES.keys())
async def test_a_refused_submission_leaves_recorded_campaigns_untouched(
    tmp_path: Path, arq_redis: ArqRedis, name: str, content: str | Callable[[Path], None]
) -> None:
    await submit(arq_redis, write(tmp_path / "good.csv", {"mobile": numbers(True, 50), "name": ["a"] * 50}))
    before = await snapshot(arq_redis)
    bad = tmp_path / name
    if isinstance(content, str):
        bad.write_text(content, encoding="utf-8")
    else:
        content(bad)
    with pytest.raises(InputError) as caught:
        await submit(arq_redis, bad, cid="other")
    assert name in str(caught.value)
    with pytest.raises(ConfigError):
        await api.submit_campaign(
            {"name": "x", "smart": {"template_id": "12"}}, redis=arq_redis, recipients=bad, preflight=False
        )
    assert await snapshot(arq_redis) == before


async def test_the_same_id_with_other_content_is_refused_and_changes_nothing(
    tmp_path: Path, arq_redis: ArqRedis
) -> None:
    first = write(tmp_path / "a.csv", {"mobile": numbers(True, 20), "name": ["a"] * 20})
    await submit(arq_redis, first)
    before = await snapshot(arq_redis)
    again = await submit(arq_redis, first)  # the same submission again: idempotent
    assert again == "kept"
    other = write(tmp_path / "b.csv", {"mobile": numbers(True, 21), "name": ["a"] * 21})
    with pytest.raises(ConfigError, match="already exists with a different spec or recipient file"):
        await submit(arq_redis, other)
    assert await snapshot(arq_redis) == before


async def test_one_new_id_submitted_at_once_with_other_content_keeps_one_batch_set(
    tmp_path: Path, arq_redis: ArqRedis
) -> None:
    """The loser is refused before it writes a batch, so the winner's batches hold the winner's numbers."""
    files = {
        "a": numbers(True, 20),
        "b": numbers(True, 20, start=13900000000),  # another file, the same batch keys
    }
    paths = [write(tmp_path / f"{n}.csv", {"mobile": m, "name": [n] * 20}) for n, m in files.items()]
    results = await asyncio.gather(
        *(submit(arq_redis, path, cid="race") for path in paths), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, ConfigError)]
    assert len(refused) == 1 and results.count("race") == 1, results
    winner = "a" if results[0] == "race" else "b"
    batch = await load_batch(arq_redis, "race", 0, ["name"])
    assert batch.numbers == files[winner] and set(batch.params["name"]) == {winner}


@pytest.mark.parametrize("action", ["pause", "resume", "cancel", "campaign_report", "campaign_status"])
async def test_unknown_campaign_ids_are_a_clear_error_and_write_nothing(
    arq_redis: ArqRedis, action: str
) -> None:
    with pytest.raises(StateError, match="unknown campaign 'no-such-campaign'"):
        await getattr(api, action)("no-such-campaign", redis=arq_redis)
    assert await arq_redis.dbsize() == 0


async def test_racing_pause_resume_cancel_leave_a_consistent_campaign(
    tmp_path: Path, arq_redis: ArqRedis
) -> None:
    cid = await submit(
        arq_redis, write(tmp_path / "r.csv", {"mobile": numbers(True, 30), "name": ["a"] * 30})
    )
    rng = random.Random(9)
    actions = [rng.choice(["pause", "resume"]) for _ in range(60)] + ["cancel"] * 3
    rng.shuffle(actions)
    outcomes = await asyncio.gather(
        *(getattr(api, a)(cid, redis=arq_redis) for a in actions), return_exceptions=True
    )
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, StateError) for e in errors), errors  # refused moves are clear errors
    record = await campaigns.load(arq_redis, cid)
    assert record.state is CampaignState.CANCELLED  # cancel is final, whatever raced it
    applied = [a for a, o in zip(actions, outcomes, strict=True) if not isinstance(o, BaseException)]
    assert applied.count("cancel") == 1, "exactly one cancel applies"
    assert record.generation == applied.count("resume")
    assert await arq_redis.exists(keys.epoch(cid)) and record.batches == 1
    with pytest.raises(DispatchError):
        await api.resume(cid, redis=arq_redis)
