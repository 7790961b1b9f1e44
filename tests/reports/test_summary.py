"""The report: funnel figures from the counters, the failed-number export, the self-contained HTML page."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from arq.connections import ArqRedis

from engine.errors import ConfigError
from engine.reports import export
from engine.reports.export import export_failed
from engine.reports.failed import FailureFilter
from engine.reports.html import render_html
from engine.reports.summary import build_report
from engine.runtime.settings import load_settings
from engine.state.progress import counters
from engine.store import keys
from tests.commands import FULL_NUMBER, cli_env, koodispatch, report_json
from tests.failures import (
    NUMBERS,
    PARAMS,
    accept,
    embedded,
    partial_files,
    read_export,
    typical_outcome,
    with_params,
)
from tests.failures import submit_small as submit


async def test_funnel_per_channel_equals_the_counters(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    c = await counters(arq_redis, cid)

    report = await build_report(arq_redis, cid)

    for channel in ("smart", "sms"):
        funnel = report.funnel[channel]
        assert funnel.accepted == c[f"sent:{channel}"] == report.sent[channel]
        assert funnel.failed == c[f"failed_on:{channel}"]
        assert funnel.submitted == funnel.accepted + funnel.failed
        assert funnel.delivered == c[f"delivered:{channel}"]
        assert funnel.undelivered == c[f"undelivered:{channel}"]
        assert funnel.awaiting == funnel.accepted - funnel.delivered - funnel.undelivered
    assert [f.steps() for f in report.funnel.values()] == [
        [
            ("submitted", 8),
            ("accepted", 6),
            ("delivered", 3),
            ("undelivered", 1),
            ("awaiting", 2),
            ("failed", 2),
        ],
        [
            ("submitted", 4),
            ("accepted", 3),
            ("delivered", 1),
            ("undelivered", 1),
            ("awaiting", 1),
            ("failed", 1),
        ],
        [
            ("submitted", 0),
            ("accepted", 0),
            ("delivered", 0),
            ("undelivered", 0),
            ("awaiting", 0),
            ("failed", 0),
        ],
    ]
    assert report.funnel["smart"].undelivered_by_status == {"UNDELIV": 1}
    assert report.funnel["sms"].undelivered_by_status == {"EXPIRED": 1}
    for channel in ("smart", "sms"):
        reasons = report.funnel[channel].failed_by_reason
        assert sum(reasons.values()) == report.funnel[channel].failed and set(reasons) <= set(
            report.failed_by_reason
        )
    assert list(report.used_channels()) == ["smart", "sms"]
    assert report.failed_by_reason == {"invalid_number": 1, "rejected": 1, "template": 1}
    assert report.to_dict()["funnel"]["sms"]["undelivered_by_status"] == {"EXPIRED": 1}


async def test_without_receipts_all_accepted_numbers_await_them(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    await accept(arq_redis, cid, "smart", 7)

    funnel = (await build_report(arq_redis, cid)).funnel["smart"]

    assert (funnel.delivered, funnel.undelivered, funnel.awaiting) == (0, 0, 7)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_export_holds_send_failures_and_undelivered_numbers(
    suffix: str, arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    path = tmp_path / f"failed{suffix}"

    written = await export_failed(arq_redis, cid, path)

    assert written == len(expected)
    # each row carries the recipient's parameter columns of the spec, as its recipient file had them
    assert read_export(path) == [(*export.COLUMNS, *PARAMS), *with_params(expected)]
    assert partial_files(tmp_path) == []


async def test_export_filters_like_resend(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    path = tmp_path / "f.csv"

    await export_failed(arq_redis, cid, path, FailureFilter(frozenset({"undelivered", "template"}), "smart"))

    wanted = [row for row in expected if row[1] == "smart" and row[3] in ("undelivered", "template")]
    assert read_export(path)[1:] == with_params(wanted) and len(wanted) == 2


async def test_xlsx_export_continues_on_a_new_sheet_when_one_is_full(
    arq_redis: ArqRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet
    path = tmp_path / "failed.xlsx"

    await export_failed(arq_redis, cid, path)

    sheets = pl.read_excel(path, sheet_id=0, infer_schema_length=0)
    assert list(sheets) == ["failed", "failed 2", "failed 3"]
    assert [tuple(r) for frame in sheets.values() for r in frame.iter_rows()] == with_params(expected)


async def test_export_of_a_campaign_without_failures_is_the_header_only(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    await accept(arq_redis, cid, "smart", len(NUMBERS))

    assert await export_failed(arq_redis, cid, tmp_path / "f.csv") == 0
    assert read_export(tmp_path / "f.csv") == [export.header(PARAMS)]


async def test_export_refuses_an_unknown_file_type_before_writing(
    arq_redis: ArqRedis, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    with pytest.raises(ConfigError, match=r"failed\.txt.*\.csv or \.xlsx"):
        await export_failed(arq_redis, cid, tmp_path / "failed.txt")
    assert not (tmp_path / "failed.txt").exists()


async def test_export_logs_never_show_a_full_number(
    arq_redis: ArqRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cid = await submit(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    with caplog.at_level(logging.DEBUG):
        await export_failed(arq_redis, cid, tmp_path / "f.xlsx")
    assert caplog.records and not FULL_NUMBER.search(caplog.text)


async def test_html_is_self_contained_and_embeds_the_report(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    await typical_outcome(arq_redis, cid)
    start = 1_765_000_000  # 10-second buckets, as finish_chunk.lua writes them
    await arq_redis.hset(keys.timeline(cid), mapping={f"{start}:smart": 3000, f"{start + 20}:smart": 1200})
    await arq_redis.hset(keys.timeline(cid), mapping={f"{start + 10}:sms": 600, f"{start}:evil</script>": 1})
    report = await build_report(arq_redis, cid)

    page = render_html(report)

    assert embedded(page) == orjson.loads(orjson.dumps(report.to_dict()))
    assert page.count("</script>") == 1  # data that looks like markup cannot close the script early
    for external in ("http:", "https:", "src=", "<link", "@import", "url("):
        assert external not in page
    assert page.count("<svg") == 4  # send rate, the funnels of smart and sms, failure reasons
    assert "<polyline" in page and "undelivered: UNDELIV" in page and "template" in page
    assert not FULL_NUMBER.search(page)


async def test_html_of_a_campaign_that_sent_nothing_yet(arq_redis: ArqRedis, tmp_path: Path) -> None:
    cid = await submit(arq_redis, tmp_path)
    page = render_html(await build_report(arq_redis, cid))
    assert "nothing sent yet" in page and "no failures" in page and page.count("<svg") == 0


def without_duration(report: dict[str, Any]) -> dict[str, Any]:
    """A running campaign's duration grows until it ends: two reports a moment apart differ in it only."""
    return {**report, "timing": {k: v for k, v in report["timing"].items() if k != "duration_seconds"}}


# -- the command line -----------------------------------------------------------------------------------


async def test_report_command_writes_the_export_and_the_page(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    env = cli_env(redis_url, "http://127.0.0.1:1")  # the report never calls the provider
    out, page = tmp_path / "failed.csv", tmp_path / "report.html"

    run = await koodispatch("report", cid, "--json", "--failed-out", str(out), "--html", str(page), env=env)

    data = report_json(run)
    built = await build_report(arq_redis, cid, load_settings().prices, opt_outs=True)
    assert without_duration(data) == without_duration(orjson.loads(orjson.dumps(built.to_dict())))
    assert data["funnel"]["smart"]["awaiting"] == 2
    assert read_export(out)[1:] == with_params(expected)
    assert without_duration(embedded(page.read_text(encoding="utf-8"))) == without_duration(data)
    assert "5 failed numbers written to" in run.err and "HTML report written to" in run.err
    assert not FULL_NUMBER.search(run.err)

    table = await koodispatch("report", cid, env=env)
    assert table.code == 0, table.err
    assert "delivery funnel" in table.out and "provider-invalid" in table.out
    assert re.search(r"↳ UNDELIV +1\b", table.out) and re.search(r"\nsms +4 +3 +1 +1 +1 +1\n", table.out)

    # the prices of the settings: 6 smart and 3 plain SMS accepted, one segment each (submitted offline)
    priced = await koodispatch("report", cid, env={**env, "KOODISPATCH_PRICES__SMART": "0.05"})
    assert priced.code == 0, priced.err
    assert (
        "times in    Asia/Shanghai (UTC+08:00)" in priced.out
        and "cost        0.30 CNY: smart 0.30" in priced.out
    )
    assert "0 more opted out since (replied 退订)" in priced.out


async def test_report_command_leaves_the_parameter_columns_out_when_asked(
    arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    expected = await typical_outcome(arq_redis, cid)
    out = tmp_path / "failed.xlsx"

    run = await koodispatch(
        "report", cid, "--failed-out", str(out), "--no-params", env=cli_env(redis_url, "http://127.0.0.1:1")
    )

    assert run.code == 0, run.err
    assert read_export(out) == [export.COLUMNS, *expected]


def test_a_parameter_column_named_like_a_failure_column_is_told_apart() -> None:
    assert export.header(["name", "reason"])[-2:] == ("name", "reason (recipient file)")


@pytest.mark.parametrize("target", ["failed.txt", "failed"])
async def test_report_command_refuses_an_unknown_export_type(
    target: str, arq_redis: ArqRedis, redis_url: str, tmp_path: Path
) -> None:
    cid = await submit(arq_redis, tmp_path)
    env = cli_env(redis_url, "http://127.0.0.1:1")

    run = await koodispatch("report", cid, "--failed-out", str(tmp_path / target), env=env)

    assert run.code == 2 and run.out == ""
    [line] = run.err.splitlines()
    assert line.startswith("error: ") and ".csv or .xlsx" in line
    assert not (tmp_path / target).exists()
