"""Worker metrics: a real worker's Prometheus endpoint agrees with the report and the simulator's ledger."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine import api
from engine.errors import ProviderUnavailable
from engine.ingest.demo_data import generate_recipients
from engine.runtime.metrics import REGISTRY, provider_call, provider_error
from engine.runtime.settings import load_settings
from engine.store.connection import open_queue
from tests.conftest import SHARE
from tests.processes import HTTP, engine_env, sim_get, sim_post, spec, wait_for, workers

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(text: str) -> Samples:
    """``{(sample name, labels): value}`` of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape_local() -> Samples:
    """This process's own registry (the one ``engine.runtime.metrics.serve`` exposes)."""
    return scrape(generate_latest(REGISTRY).decode())


def test_a_failed_call_counts_as_a_call_and_an_error_by_code() -> None:
    before = value(scrape_local(), "koodispatch_provider_calls_total", channel="basic")
    try:
        with provider_call("basic"):
            assert value(scrape_local(), "koodispatch_provider_calls_in_flight", channel="basic") == 1
            raise ProviderUnavailable("down", code=503, provider_code="KM.00000500")
    except ProviderUnavailable as exc:
        provider_error("basic", exc)
    samples = scrape_local()
    assert value(samples, "koodispatch_provider_calls_total", channel="basic") == before + 1
    assert value(samples, "koodispatch_provider_calls_in_flight", channel="basic") == 0
    errors = {"channel": "basic", "error": "ProviderUnavailable", "code": "KM.00000500"}
    assert value(samples, "koodispatch_provider_errors_total", **errors) >= 1


async def test_worker_metrics_match_the_report_and_the_provider(
    tmp_path: Path, redis_url: str, simulator_thread: Any
) -> None:
    sim = simulator_thread
    sim_post(sim, "/_simulator/reset", {})
    sim_post(
        sim,
        "/_simulator/config",
        {"capable_share": SHARE, "rates": {"smart": None, "sms": None}, "faults": {"error_share": 0.1}},
    )
    generate_recipients(tmp_path / "r.csv", 3000, seed=9)
    port = free_port()
    env = engine_env(
        redis_url,
        sim.url,
        KOODISPATCH_RATES__SMART="2000",  # 2100 smart numbers: about a second of shared budget to wait for
        KOODISPATCH_RATES__CAPABILITY="50000",
        KOODISPATCH_DISPATCH__RETRY_BASE_DELAY="0.02",
    )
    redis = await open_queue(redis_url)
    try:
        result = await api.submit_campaign(
            spec("sms"),
            redis=redis,
            recipients=tmp_path / "r.csv",
            settings=load_settings(dispatch={"batch_size": 1000}),
            preflight=False,
        )
        with workers(1, env, tmp_path, ["--metrics-port", str(port)]):
            report = await wait_for(redis, result.cid, max_wait=60)
            samples = scrape(HTTP.request("GET", f"http://127.0.0.1:{port}/metrics").data.decode())
    finally:
        await redis.aclose()
    ledger = sim_get(sim, "/_simulator/ledger")

    assert report.state == "completed"
    for channel in ("smart", "sms"):
        assert value(samples, "koodispatch_sent_numbers_total", channel=channel) == report.sent[channel]
    for channel in ("capability", "smart", "sms"):
        assert value(samples, "koodispatch_provider_calls_total", channel=channel) == ledger["calls"][channel]
        errors = {"channel": channel, "error": "ProviderUnavailable", "code": "KM.00000500"}
        assert (
            value(samples, "koodispatch_provider_errors_total", **errors)
            == ledger["faults"]["error"][channel]
        )
        assert value(samples, "koodispatch_provider_calls_in_flight", channel=channel) == 0
    assert sum(ledger["faults"]["error"].values()) > 0
    assert value(samples, "koodispatch_rate_wait_seconds_count", channel="smart", kind="budget") > 0
    assert value(samples, "koodispatch_rate_wait_seconds_sum", channel="smart", kind="budget") > 0
    assert (
        value(samples, "koodispatch_batch_duration_seconds_count", result="finished") == report.batches == 3
    )


def answers(host: str, port: int) -> bool:
    """Whether something accepts a TCP connection at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.parametrize(
    ("args", "listening", "unreachable"),
    [([], "127.0.0.1", "127.0.0.2"), (["--metrics-host", "127.0.0.2"], "127.0.0.2", "127.0.0.1")],
    ids=["default-loopback-only", "metrics-host"],
)
def test_metrics_listen_on_loopback_unless_told_otherwise(
    tmp_path: Path, redis_url: str, args: list[str], listening: str, unreachable: str
) -> None:
    """The endpoint is unauthenticated: by default it answers on 127.0.0.1 only, not on every address
    (127.0.0.2 stands for any other interface: a socket bound to 0.0.0.0 would accept it)."""
    port = free_port()
    env = engine_env(redis_url, "http://127.0.0.1:9")  # an idle worker: it never calls the provider
    with workers(1, env, tmp_path, ["--metrics-port", str(port), *args]):
        deadline = time.monotonic() + 30
        while not answers(listening, port):
            assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()
            time.sleep(0.05)
        body = HTTP.request("GET", f"http://{listening}:{port}/metrics").data.decode()
        assert "koodispatch_" in body
        assert not answers(unreachable, port)
