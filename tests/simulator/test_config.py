"""SimConfig patching, the capability verdict, the GCRA limiter and the ``simulate`` command."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import urllib.request

import pytest

from engine.errors import ConfigError
from engine.runtime.settings import DEMO_AK
from engine.simulator import SimConfig, is_capable, normalize_mobile
from engine.simulator.capability import is_capable_digest
from engine.simulator.config import RateConfig
from engine.simulator.handlers_admin import ADMIN_HEADER
from engine.simulator.ratelimit import RateLimiter


def test_update_merges_nested_sections_and_masks_secrets() -> None:
    config = SimConfig.from_dict({"rates": {"sms": 500}, "faults": {"latency_ms": 20}, "seed": 1})
    config.update({"rates": {"basic": 0}, "callbacks": {"outcomes": {"DELIVRD": 1}}})
    assert (config.rates.smart, config.rates.sms, config.rates.rate("basic")) == (1000.0, 500.0, None)
    assert config.faults.latency_ms == (20.0, 20.0)
    dumped = config.to_dict()
    assert dumped["sk"] == dumped["sms_app_secret"] == "***"
    assert dumped["faults"]["latency_ms"] == [20.0, 20.0]
    assert config.to_dict(secrets=True)["sk"] == config.sk


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ratez": {}}, "ratez"),
        ({"rates": {"smrt": 1}}, "rates.'smrt'"),
        ({"rates": {"smart": "fast"}}, "rates.smart"),
        ({"rates": {"smart": -1}}, "rates.smart"),
        ({"capable_share": 1.5}, "capable_share"),
        ({"faults": {"error_share": 0.6, "drop_share": 0.6}}, "add up"),
        ({"faults": {"latency_ms": [50, 10]}}, "latency_ms"),
        ({"faults": {"outage_mode": "explode"}}, "outage_mode"),
        ({"channel_faults": {"email": {"error_share": 1}}}, "email"),
        ({"channel_faults": {"smart": {"eror_share": 1}}}, "eror_share"),
        ({"callbacks": {"outcomes": {}}}, "outcomes"),
        ({"templates": {"smart": [{"tpl_id": "1"}]}}, "templates"),
        ({"strict_templates": "yes"}, "strict_templates"),
    ],
)
def test_bad_changes_are_rejected_and_leave_the_config_alone(
    changes: dict[str, object], message: str
) -> None:
    config = SimConfig()
    before = config.to_dict(secrets=True)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", ".")):
        config.update(changes)
    assert config.to_dict(secrets=True) == before


def test_channel_faults_override_global_and_can_be_removed() -> None:
    config = SimConfig.from_dict(
        {"faults": {"error_share": 0.1}, "channel_faults": {"smart": {"drop_share": 0.2}}}
    )
    assert (config.fault_for("smart").error_share, config.fault_for("smart").drop_share) == (0.1, 0.2)
    assert config.fault_for("sms").drop_share == 0.0
    config.update({"faults": {"error_share": 0.3}})
    assert config.fault_for("smart").error_share == 0.3  # the override only pins what it names
    config.update({"channel_faults": {"smart": None}})
    assert config.fault_for("smart").drop_share == 0.0


def test_credentials_default_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOODISPATCH_AK", raising=False)
    assert SimConfig().ak == DEMO_AK
    monkeypatch.setenv("KOODISPATCH_AK", "ENVAK")
    assert SimConfig().ak == "ENVAK"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("13912345678", "13912345678"),
        ("8613912345678", "13912345678"),
        ("008613912345678", "13912345678"),
        ("+8613912345678", "13912345678"),
        (" 13912345678 ", "13912345678"),
        ("12912345678", None),
        ("1391234567", None),
        ("+4413912345678", None),
        ("", None),
    ],
)
def test_normalize_mobile(raw: str, normalised: str | None) -> None:
    assert normalize_mobile(raw) == normalised


def test_capability_is_deterministic_across_spellings_and_digests() -> None:
    numbers = [f"1381234{i:04d}" for i in range(2000)]
    capable = [n for n in numbers if is_capable(n, 0.7)]
    assert 0.65 < len(capable) / len(numbers) < 0.75
    for n in numbers[:200]:
        digest = hashlib.sha1(f"86{n}".encode()).hexdigest()
        assert is_capable(n, 0.7) == is_capable("+86" + n, 0.7) == is_capable_digest(digest.upper(), 0.7)
    assert not any(is_capable(n, 0.0) for n in numbers) and all(is_capable(n, 1.0) for n in numbers)
    assert not is_capable("12345", 1.0) and not is_capable_digest("xyz", 1.0)


def test_gcra_limiter_admits_the_rate_and_a_burst() -> None:
    limiter, rates = RateLimiter(), RateConfig(smart=1000, burst_seconds=0.5)
    assert [limiter.charge(rates, "smart", 100, now=0.0) for _ in range(5)] == [0.0] * 5
    assert limiter.charge(rates, "smart", 100, now=0.0) == pytest.approx(0.1)
    assert limiter.charge(rates, "smart", 100, now=0.1) == 0.0  # 100 numbers drained in 0.1 s
    assert limiter.charge(rates, "smart", 5000, now=100.0) == 0.0  # an idle channel takes one large call
    assert limiter.charge(rates, "smart", 1, now=100.0) > 4.0
    assert limiter.charge(rates, "sms", 10**6, now=0.0) == 0.0  # unlimited by default


def test_simulate_command_runs_until_interrupted() -> None:
    command = [sys.executable, "-c", "from engine.cli import main; main()", "simulate", "--port", "0"]
    command += ["--smart-rate", "5", "--latency-ms", "1-2", "--error-rate", "0.1", "--seed", "4"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            listening = process.stdout.readline()
            url = listening.split(" listening on ")[1].split()[0]
            assert url.startswith("http://127.0.0.1:") and "/_simulator/)" not in listening  # no page
            announced = process.stdout.readline()
            token = announced.split("admin token: ")[1].split()[0]
            assert "no web page" in announced and "receipts: off" in process.stdout.readline()
            request = urllib.request.Request(f"{url}/_simulator/config", headers={ADMIN_HEADER: token})
            with urllib.request.urlopen(request, timeout=5) as response:
                config = json.load(response)
            assert (config["rates"]["smart"], config["faults"]["latency_ms"], config["seed"]) == (
                5.0,
                [1.0, 2.0],
                4,
            )
            assert config["faults"]["error_share"] == 0.1 and config["sk"] == "***"
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=10)
            assert process.returncode == 0, errors
        finally:
            if process.poll() is None:
                process.kill()
