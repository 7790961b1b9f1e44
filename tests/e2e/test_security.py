"""Secrets come only from the environment or a secrets file outside the project, and never reach a log;
numbers are masked; every request our client sends is signed and accepted."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.ingest.demo_data import generate_recipients
from engine.runtime.settings import PROJECT_DIR, load_settings
from engine.simulator.config import SimConfig
from engine.simulator.testing import SimulatorThread
from tests.commands import SPEC, koodispatch
from tests.processes import engine_env, sim_get, sim_post, wait_for, workers

FULL_NUMBER = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def fresh_secrets() -> dict[str, str]:
    return {
        "ak": "AK" + secrets.token_hex(8).upper(),
        "sk": "SK-" + secrets.token_urlsafe(24),
        "sms_app_key": "APP" + secrets.token_hex(8),
        "sms_app_secret": "APPSECRET-" + secrets.token_urlsafe(24),
    }


def test_a_secret_in_a_config_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "koodispatch.toml"
    config.write_text('sk = "leaked-in-a-committed-file"\n[rates]\nsmart = 500.0\n', encoding="utf-8")
    monkeypatch.setenv("KOODISPATCH_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "sk must come from the environment" in str(caught.value)
    assert "leaked-in-a-committed-file" not in str(caught.value)


def test_secrets_file_outside_the_project_is_read_and_inside_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = fresh_secrets()
    outside = tmp_path / "koodispatch.env"
    outside.write_text("".join(f"KOODISPATCH_{k.upper()}={v}\n" for k, v in values.items()), encoding="utf-8")
    monkeypatch.setenv("KOODISPATCH_ENV_FILE", str(outside))
    cfg = load_settings()
    assert cfg.sk.get_secret_value() == values["sk"] and values["sk"] not in repr(cfg)
    monkeypatch.setenv("KOODISPATCH_ENV_FILE", str(PROJECT_DIR / ".env"))
    with pytest.raises(ConfigError, match="outside the project"):
        load_settings()


def bad_configuration(case: str, tmp: Path) -> dict[str, str]:
    """The environment of one misconfiguration a command must refuse in one line."""
    if case == "secret-in-config":
        config = tmp / "koodispatch.toml"
        config.write_text('sk = "leaked-in-a-committed-file"\n', encoding="utf-8")
        return {"KOODISPATCH_CONFIG": str(config)}
    if case == "missing-env-file":
        return {"KOODISPATCH_ENV_FILE": str(tmp / "typo.env")}
    if case == "world-writable-env-file":
        env_file = tmp / "secrets.env"
        env_file.write_text("KOODISPATCH_SK=sk-from-a-file-anyone-may-edit\n", encoding="utf-8")
        env_file.chmod(0o666)
        return {"KOODISPATCH_ENV_FILE": str(env_file)}
    return {"KOODISPATCH_PROVIDER__KOOMESSAGE_URL": "https://koomessage.example.com"}  # demo credentials


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("secret-in-config", "sk must come from the environment"),
        ("missing-env-file", "typo.env: No such file"),
        ("world-writable-env-file", "every user may write"),
        ("demo-credentials-remote", "demo credentials are only for the simulator"),
    ],
)
async def test_a_configuration_refused_is_one_error_line(tmp_path: Path, case: str, expect: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOODISPATCH_") and k != "REDIS_URL"}
    run = await koodispatch("worker", "--burst", env={**env, **bad_configuration(case, tmp_path)})
    assert run.code == 2 and run.out == ""
    [line] = run.err.splitlines()
    assert line.startswith("error: configuration: ") and expect in line
    assert "leaked-in-a-committed-file" not in line and "sk-from-a-file" not in line


@pytest.mark.slow
async def test_a_whole_campaign_logs_no_secret_and_no_full_number(tmp_path: Path, redis_url: str) -> None:
    values = fresh_secrets()
    env_file = tmp_path / "secrets.env"  # a secrets file outside the project, as in production
    env_file.write_text(
        "".join(f"KOODISPATCH_{k.upper()}={v}\n" for k, v in values.items()), encoding="utf-8"
    )
    with SimulatorThread(SimConfig(seed=3, **values)) as sim:
        # error paths log too: 5xx everywhere, answers lost after accept on smart sends (reconciled)
        faults = {"error_share": 0.05}
        smart = {"smart": {"drop_after_accept_share": 0.05}}
        sim_post(sim, "/_simulator/config", {"faults": faults, "channel_faults": smart})
        truth = generate_recipients(tmp_path / "r.csv", 6_000, seed=17)
        (tmp_path / "c.toml").write_text(SPEC, encoding="utf-8")
        env = engine_env(
            redis_url,
            sim.url,
            KOODISPATCH_ENV_FILE=str(env_file),
            KOODISPATCH_PROVIDER__SMS_API="smsapi",  # plain SMS through the app key/secret API
            KOODISPATCH_RATES__SMART="20000",
            KOODISPATCH_RATES__SMS="20000",
            KOODISPATCH_RATES__CAPABILITY="50000",
        )
        env.pop("FORCE_COLOR", None)
        submitted = await koodispatch(
            "submit", str(tmp_path / "c.toml"), "--recipients", str(tmp_path / "r.csv"), env=env
        )
        assert submitted.code == 0, submitted.err
        cid = submitted.out.split()[0]
        with workers(2, env, tmp_path, ("--log-level", "DEBUG")):
            from engine.store.connection import open_queue

            redis = await open_queue(redis_url)
            try:
                report = await wait_for(redis, cid, max_wait=120)
            finally:
                await redis.aclose()
        shown = await koodispatch("report", cid, env=env)
        ledger = sim_get(sim, "/_simulator/ledger")
    assert report.state == "completed" and report.failed == 0
    assert report.sent["sms"] > 0 and ledger["sms"]["unique"] == report.sent["sms"]
    assert sum(ledger["rejected"].values()) == 0, "every request was signed and fresh"
    logs = read_logs(tmp_path)
    output = logs + submitted.out + submitted.err + shown.out + shown.err
    assert "DEBUG" in logs and len(logs) > 1000, "the workers logged nothing: the test lost its point"
    for name, value in values.items():
        assert value not in output, f"{name} reached a log or the CLI output"
    leaked = set(FULL_NUMBER.findall(output)) & set(truth.numbers.to_list())
    assert not leaked, f"{len(leaked)} full recipient numbers in logs"


def read_logs(directory: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(directory.glob("worker-*.log")))
