"""A campaign's failed numbers over HTTP: the CSV and xlsx downloads, and resending them as a new campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
from arq.connections import ArqRedis

from tests.failures import read_export, typical_outcome
from tests.failures import submit_small as submit
from tests.service.conftest import Api


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_the_failed_numbers_download_as_the_cli_exports_them(
    api: Api, arq_redis: ArqRedis, tmp_path: Path, suffix: str
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    async with api.http.get(f"/api/v1/campaigns/{cid}/failed.{suffix}", headers=api.headers("viewer")) as got:
        assert got.status == 200 and f'filename="{cid}-failed.{suffix}"' in got.headers["Content-Disposition"]
        saved = tmp_path / f"failed.{suffix}"
        saved.write_bytes(await got.read())
    rows = read_export(saved)
    assert [row[0] for row in rows[1:]] == [row[0] for row in expected]
    assert not any((tmp_path / "uploads").iterdir())


async def test_resend_failed_makes_a_new_campaign_of_them_and_audits_it(
    api: Api, arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    status, made, _ = await api.call("POST", f"/campaigns/{cid}/resend-failed", role="operator",
                                     json={"preflight": False, "new_id": "again"})  # fmt: skip
    assert status == 201 and made["cid"] == "again" and made["counts"]["accepted"] == len(expected)
    status, problem, _ = await api.call("POST", f"/campaigns/{cid}/resend-failed", role="operator",
                                        json={"preflight": False, "channel": "basic"})  # fmt: skip
    assert status == 422 and "basic" in problem["detail"]  # no failed number on that channel
    _, entries, _ = await api.call("GET", f"/campaigns/{cid}/audit")
    assert [(e["action"], e["detail"]["new_campaign"]) for e in entries] == [("resend-failed", "again")]
