"""The real ``koodispatch`` command line, run as a subprocess against a test Redis DB and the simulator."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from engine.budget.limiter import RateLimiter
from engine.ingest.demo_data import generate_recipients
from engine.reports.summary import Report, build_report
from engine.runtime.settings import RateSettings
from engine.simulator import SimulatorThread
from engine.simulator.capability import is_capable
from engine.store import keys
from tests.commands import (
    FULL_NUMBER,
    GOOD,
    REPORT_KEYS,
    SPEC,
    BadInput,
    cli_env,
    folder,
    koodispatch,
    lifted,
    locked,
    locked_in,
    recipients_case,
    report_json,
    spec_case,
    spec_naming,
    submit_args,
    unknown_campaign,
    unprivileged,
    unreadable,
    write,
    xlsx,
    xlsx_file,
)
from tests.conftest import SHARE
from tests.processes import wait_for, workers

# -- bad input: one line on stderr, exit code != 0, nothing in Redis, nothing sent ----------------------


RATE_RANGE = ("--smart: 1e-09 is outside the allowed range of 0.01 to 1,000,000 numbers per second",)

BAD_INPUT = [
    pytest.param(recipients_case("empty.csv", "", "empty"), id="empty-file"),
    pytest.param(recipients_case("header.csv", "mobile,name\n", "no data rows"), id="header-only"),
    pytest.param(
        recipients_case("nomobile.csv", "phone,name\n13000000001,a\n", "'mobile'", "not found"),
        id="missing-mobile-column",
    ),
    pytest.param(
        recipients_case("noname.csv", "mobile,city\n13000000001,a\n", "'name'", "not found"),
        id="missing-parameter-column",
    ),
    pytest.param(
        recipients_case("numbered.csv", "tel 13000000001,name\n13000000002,a\n", "'mobile'", "130****0001"),
        id="number-in-header-is-masked",
    ),
    pytest.param(
        recipients_case("corrupt.xlsx", random.Random(0).randbytes(4096), "xlsx"), id="corrupt-xlsx"
    ),
    pytest.param(
        BadInput(xlsx(200), ("big.xlsx", "0.001 MB limit"), (("KOODISPATCH_INGEST__MAX_XLSX_MB", "0.001"),)),
        id="xlsx-over-size-limit",
    ),
    pytest.param(
        recipients_case(
            "novalid.csv",
            "mobile,name\n12000000001,a\nabc,b\n,c\n",
            "no valid mobile",
            "row 2",
            "120****0001",
        ),
        id="no-valid-number",
    ),
    pytest.param(
        BadInput(lambda tmp: submit_args(tmp, tmp / "missing.csv"), ("missing.csv", "no such")),
        id="no-recipient-file",
    ),
    pytest.param(
        recipients_case(
            "twice.csv", "mobile,name,mobile\n13000000001,a,13000000002\n", "2 times (columns 1 and 3)"
        ),
        id="mobile-column-twice",
    ),
    pytest.param(
        BadInput(
            lambda tmp: submit_args(
                tmp, xlsx_file(tmp / "twice.xlsx", ["mobile", "mobile"], ["13000000001"] * 2)
            ),
            ("twice.xlsx", "'mobile' is in the header 2 times (columns 1 and 2)"),
        ),
        id="mobile-column-twice-xlsx",
    ),
    pytest.param(
        recipients_case(
            "u16.csv", GOOD.encode("utf-16-le"), "UTF-16 (little-endian) text without a byte-order mark"
        ),
        id="utf-16-without-bom",
    ),
    pytest.param(
        recipients_case("wide.csv", ",".join(f"c{i}" for i in range(40_000)), "not found", "and 39,995 more"),
        id="40000-columns-no-mobile",
    ),
    pytest.param(recipients_case("line.csv", "x" * 10_000_000, "'mobile' not found"), id="10-MB-header"),
    pytest.param(
        BadInput(lambda tmp: submit_args(tmp, folder(tmp / "dir.csv")), ("dir.csv", "is a directory")),
        id="recipient-file-is-a-directory",
    ),
    pytest.param(
        unreadable(lambda tmp: submit_args(tmp, locked(write(tmp / "r.csv", GOOD))), "r.csv: cannot read"),
        id="unreadable-recipient-file",
    ),
    pytest.param(
        unreadable(lambda tmp: submit_args(tmp, locked_in(tmp / "in", "r.csv", GOOD)), "r.csv: cannot read"),
        id="recipient-file-in-a-locked-folder",
    ),
    pytest.param(
        unreadable(spec_naming("submit", lambda p: locked(write(p, GOOD))), "r.csv: cannot read"),
        id="unreadable-file-of-the-spec",  # `plan`: tests/plan/test_forecast.py
    ),
    pytest.param(
        BadInput(
            spec_naming("submit", lambda p: p.symlink_to(p)), ("r.csv", "Too many levels of symbolic links")
        ),
        id="recipient-file-symlink-loop",
    ),
    pytest.param(
        unreadable(
            lambda tmp: ["submit", str(locked(write(tmp / "spec.toml", SPEC)))], "spec.toml", "cannot read"
        ),
        id="unreadable-spec",
    ),
    pytest.param(
        spec_case(SPEC.replace('"100000001"', '"123"'), "spec.toml", "smart.template_id", "9 digits"),
        id="bad-template-id",
    ),
    pytest.param(
        spec_case('colour = "red"\n' + SPEC, "spec.toml", "colour", "unknown field"), id="unknown-key"
    ),
    pytest.param(
        spec_case(SPEC.replace("[smart]\n", "[smart]\nsms_param_count = 2\n"), "sms_param_count", "unknown"),
        id="sms-param-count-is-len-of-sms-params",
    ),
    pytest.param(
        BadInput(lambda tmp: ["submit", str(tmp / "nowhere.toml")], ("nowhere.toml", "cannot read")),
        id="no-spec-file",
    ),
    *(
        pytest.param(unknown_campaign(command), id=f"{command}-unknown")
        for command in ("report", "pause", "resume", "cancel", "status")
    ),
    pytest.param(BadInput(lambda _: ["rate", "--smart", "0"], ("--smart: 0 is outside",)), id="rate-zero"),
    pytest.param(BadInput(lambda _: ["rate", "--smart", "1e-9"], RATE_RANGE), id="rate-below-range"),
    pytest.param(BadInput(lambda _: ["rate", "--basic", "nan"], ("--basic: nan is outside",)), id="rate-nan"),
    pytest.param(
        BadInput(lambda _: ["rate"], ("rates.smart",), (("KOODISPATCH_RATES__SMART", "fast"),)),
        id="bad-setting",
    ),
    pytest.param(
        BadInput(
            lambda _: ["rate"],
            ("configuration: rates.burst_seconds: 61 is outside the allowed range of 0.01 to 60 seconds",),
            (("KOODISPATCH_RATES__BURST_SECONDS", "61"),),
        ),
        id="setting-out-of-range",
    ),
    pytest.param(
        BadInput(
            lambda _: ["report", "some-id"],
            ("cannot reach Redis", "127.0.0.1:1"),
            (("REDIS_URL", "redis://kd:s3cret@127.0.0.1:1/0"),),
            absent=("s3cret",),
        ),
        id="redis-unreachable",
    ),
    pytest.param(
        BadInput(lambda _: ["status", "some-id"], ("REDIS_URL", "scheme"), (("REDIS_URL", "http://x/0"),)),
        id="not-a-redis-url",
    ),
    pytest.param(
        BadInput(
            lambda _: ["report", "some-id"],
            ("cannot reach Redis at redis+sentinel://127.0.0.1:1/kd/0", "no sentinel named the primary 'kd'"),
            (
                ("REDIS_URL", ""),
                ("REDIS_SENTINELS", "127.0.0.1:1"),
                ("REDIS_SENTINEL_MASTER", "kd"),
                ("REDIS_PASSWORD", "s3cret"),
                ("REDIS_SENTINEL_PASSWORD", "t0psecret"),
            ),
            absent=("s3cret", "t0psecret"),
        ),
        id="sentinels-unreachable",
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT)
async def test_bad_input_is_one_error_line_and_writes_nothing(
    case: BadInput, tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url, COLUMNS="50", **dict(case.env))  # a narrow terminal must not wrap
    prefix = unprivileged() if case.unprivileged else ()
    run = await koodispatch(*case.make(tmp_path), env=env, prefix=prefix)

    assert run.code != 0
    assert run.out == ""
    [line] = run.err.splitlines()
    assert line.startswith("error: ") and len(line) <= 1024
    for fragment in case.expect:
        assert fragment in line
    for secret in case.absent:
        assert secret not in line
    assert not FULL_NUMBER.search(line), "phone numbers in errors must be masked"
    assert await redis_client.dbsize() == 0
    assert sum(sim.ledger()["calls"].values()) == 0


# -- the happy paths ------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_submit_is_idempotent_and_two_workers_complete_with_the_true_counts(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    truth = generate_recipients(tmp_path / "r.csv", 8_000, seed=11)  # two batches, one per worker
    env = cli_env(redis_url, sim.url, **lifted())
    args = submit_args(tmp_path, tmp_path / "r.csv")

    first = await koodispatch(*args, env=env)
    assert first.code == 0, first.err
    cid, note = first.out.splitlines()[:2]
    assert re.fullmatch(r"cli-test-[0-9a-f]{16}", cid) and note.startswith("submitted")
    keys_after_submit = await redis_client.dbsize()

    again = await koodispatch(*args, env=env)
    assert again.code == 0, again.err
    assert again.out.splitlines()[0] == cid and "nothing changed" in again.out
    assert await redis_client.dbsize() == keys_after_submit

    pending = report_json(await koodispatch("report", cid, "--json", env=env))
    assert set(pending) >= REPORT_KEYS and set(pending["sent"]) == {"smart", "sms", "basic"}
    assert pending["state"] == "running" and pending["unsent"] == truth.imported

    with workers(2, env, tmp_path):
        await wait_for(redis_client, cid, max_wait=120)
    done = report_json(await koodispatch("report", cid, "--json", env=env))

    capable = sum(is_capable(n, SHARE) for n in truth.numbers.to_list())
    assert done["state"] == "completed" and done["campaign"] == cid
    assert (done["imported"], done["duplicates"], done["invalid"], done["suppressed"]) == (
        truth.imported, truth.duplicates, truth.invalid, 0,
    )  # fmt: skip
    assert (done["capable"], done["not_capable"]) == (capable, truth.imported - capable)
    assert done["sent"] == {"smart": capable, "sms": truth.imported - capable, "basic": 0}
    assert (done["skipped"], done["failed"], done["failed_by_reason"], done["unsent"]) == (0, 0, {}, 0)
    ledger = sim.ledger()
    assert ledger["smart"]["unique"] == capable and ledger["smart"]["duplicates"] == 0
    assert ledger["sms"]["unique"] == truth.imported - capable and ledger["sms"]["duplicates"] == 0


async def test_status_prints_stage_bars_and_state(
    tmp_path: Path, redis_url: str, sim: SimulatorThread
) -> None:
    generate_recipients(tmp_path / "r.csv", 2_000)
    env = cli_env(redis_url, sim.url)
    submitted = await koodispatch(*submit_args(tmp_path, tmp_path / "r.csv"), env=env)
    assert submitted.code == 0, submitted.err
    cid = submitted.out.splitlines()[0]

    run = await koodispatch("status", cid, env=env)

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["numbers", "resolve", "smart", "batches"]
    assert lines[4].startswith("0/1,8") and "numbers  rate 0/s (last 2 s)  ETA —" in lines[4]  # no worker
    assert lines[5] == "running — 0 batches running, 1 queued"  # its place in line


async def test_rate_changes_the_shared_budget(
    redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url)

    changed = await koodispatch("rate", "--smart", "800", env=env)
    shown = await koodispatch("rate", env=env)

    assert changed.code == 0 and shown.code == 0, changed.err + shown.err
    for run in (changed, shown):
        rates = {line.split()[0]: line.split()[1] for line in run.out.splitlines()}
        assert set(rates) == {"capability", "smart", "sms", "basic"} and rates["smart"] == "800/s"
    info = await RateLimiter(redis_client, RateSettings()).get_rate("smart")
    assert info.rate == 800


async def test_a_rate_out_of_range_changes_no_budget_already_set(
    redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url)
    assert (await koodispatch("rate", "--smart", "800", env=env)).code == 0
    before = {channel: await redis_client.hgetall(keys.rate(channel)) for channel in ("smart", "sms")}

    refused = await koodispatch("rate", "--sms", "500", "--smart", "1e-9", env=env)

    assert (refused.code, refused.out) == (2, "")
    assert refused.err.splitlines() == [f"error: {RATE_RANGE[0]}"]
    assert {channel: await redis_client.hgetall(keys.rate(channel)) for channel in before} == before


async def test_callbacks_register_puts_our_receipt_urls_at_the_provider(
    redis_url: str, sim: SimulatorThread
) -> None:
    env = cli_env(redis_url, sim.url, KOODISPATCH_RECEIPTS_TOKEN="tok-cli-0123456789")
    base = "https://receipts.example.com/kd"

    done = await koodispatch("callbacks", "register", "--url", base, env=env)

    assert done.code == 0, done.err
    registered = sim.call(lambda running: {k: list(v.values()) for k, v in running.store.callbacks.items()})
    urls = [str(record) for records in registered.values() for record in records]
    assert registered["smart"] and registered["basic"], registered
    assert all(f"{base}/receipts/" in u for u in urls), urls
    assert "registered" in done.out and "SMS" in done.out
    missing = await koodispatch("callbacks", "register", env={**env, "KOODISPATCH_RECEIPTS_TOKEN": ""})
    assert missing.code != 0 and ("--url" in missing.err or "TOKEN" in missing.err), missing.err


@pytest.mark.slow
async def test_cancel_stops_a_running_campaign_and_reports_what_was_not_sent(
    tmp_path: Path, redis_url: str, redis_client: aioredis.Redis, sim: SimulatorThread
) -> None:
    sim.update_config({"rates": {"smart": 500}})  # slow enough that the campaign is still running
    generate_recipients(tmp_path / "r.csv", 10_000, seed=5)
    env = cli_env(redis_url, sim.url, **lifted(KOODISPATCH_RATES__SMART="500"))
    submitted = await koodispatch(*submit_args(tmp_path, tmp_path / "r.csv"), env=env)
    assert submitted.code == 0, submitted.err
    cid = submitted.out.splitlines()[0]

    with workers(2, env, tmp_path) as procs:
        await _until(redis_client, cid, lambda r: r.sent["smart"] > 0)
        cancelled = await koodispatch("cancel", cid, env=env)
        assert cancelled.code == 0, cancelled.err
        assert cancelled.out.strip() == f"{cid}: running → cancelled"
        await _queue_drained(redis_client)  # both batch jobs have ended: the workers stopped sending
        ledger = sim.ledger()
        assert all(proc.poll() is None for proc in procs)  # stopped sending, still serving

    report = report_json(await koodispatch("report", cid, "--json", env=env))
    sent = sum(report["sent"].values())
    assert report["state"] == "cancelled" and report["unsent"] > 0
    assert sent + report["skipped"] + report["failed"] + report["unsent"] == report["accepted"]
    assert report["sent"]["smart"] == ledger["smart"]["unique"] and ledger["smart"]["duplicates"] == 0
    assert report["sent"]["sms"] == ledger["sms"]["unique"]
    resumed = await koodispatch("resume", cid, env=env)
    assert resumed.code != 0 and resumed.err.startswith("error: ") and "cancelled" in resumed.err


async def _queue_drained(redis: aioredis.Redis, max_wait: float = 60) -> None:
    """Wait until the arq queue holds no job: every batch job has returned (halted or finished)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while await redis.zcard(keys.QUEUE):
        assert loop.time() < deadline, f"batch jobs still queued or running after {max_wait}s"
        await asyncio.sleep(0.05)


async def _until(
    redis: aioredis.Redis, cid: str, done: Callable[[Report], bool], max_wait: float = 60
) -> Report:
    """Poll the report until ``done`` holds for it; fail with the last report after ``max_wait`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    while not done(report := await build_report(redis, cid)):
        assert loop.time() < deadline, f"campaign {cid}: condition not reached in {max_wait}s: {report}"
        await asyncio.sleep(0.05)
    return report
