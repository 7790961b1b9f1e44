"""The curated, lazily imported public API of ``engine`` and ``engine.provider``, and the worker settings."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest
from arq.worker import Worker

from engine.runtime.settings import load_settings
from engine.state.jobs import visibility
from workers.settings import build_worker, worker_kwargs


@pytest.mark.parametrize("package", ["engine", "engine.provider"])
def test_public_api_is_exactly_what_all_lists_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert dir(module) == sorted(module.__all__)
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n[0].isupper(), n))
    for name in module.__all__:
        assert not inspect.ismodule(getattr(module, name)), name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        getattr(module, "nothing_here")  # noqa: B009  (the lazy __getattr__ itself is under test)


HEAVY = ("polars", "aiohttp", "arq", "numpy", "redis", "pydantic", "rich.live")


@pytest.mark.parametrize(
    "statement",
    ["import engine", "import engine.provider.limits", "import engine.simulator", "import engine.cli"],
)
def test_importing_a_package_loads_no_heavy_library_it_does_not_use(statement: str) -> None:
    """``import engine`` loads nothing heavy; the simulator loads aiohttp (its server), not polars or arq;
    the command line registers every command without loading what only some commands use (the cold start
    of ``koodispatch --help`` or ``pause ID``, benchmarks/RESULTS.md)."""
    probe = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = {"aiohttp", "pydantic"} if statement == "import engine.simulator" else set()
    assert set(loaded) <= allowed, loaded


def test_worker_settings_are_all_real_arq_options() -> None:
    kwargs = worker_kwargs(load_settings())
    accepted = set(inspect.signature(Worker.__init__).parameters)
    assert set(kwargs) <= accepted, set(kwargs) - accepted
    names = [function.name for function in kwargs["functions"]]
    assert names == ["dispatch_batch", "late_fallback", "settle_sms"]
    assert kwargs["job_serializer"]({"a": 1}) == b'{"a":1}'
    assert kwargs["keep_result"] == 0  # job ids of finished batches are reusable after resume


async def test_a_built_worker_keys_started_jobs_for_a_visibility_not_the_job_timeout() -> None:
    """A killed worker's job must be startable again seconds later (workers/settings.py ``build_worker``)."""
    settings = load_settings()
    worker = build_worker(settings, "redis://127.0.0.1:1/0")
    assert worker.in_progress_timeout_s == visibility(settings.dispatch.lease_seconds) < 10
    assert worker.job_timeout_s is not None and worker.job_timeout_s > settings.dispatch.job_timeout
