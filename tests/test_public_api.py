"""The curated public API of ``engine`` and the declarative worker settings."""

from __future__ import annotations

import inspect

from arq.worker import Worker

import engine
from engine.runtime.settings import load_settings
from workers.settings import worker_kwargs


def test_public_api_is_exactly_what_all_lists() -> None:
    public = {
        name for name in vars(engine) if not name.startswith("_") and not inspect.ismodule(vars(engine)[name])
    }
    assert public == set(engine.__all__)
    assert engine.__all__ == sorted(engine.__all__, key=lambda n: (not n[0].isupper(), n))


def test_worker_settings_are_all_real_arq_options() -> None:
    kwargs = worker_kwargs(load_settings(), "redis://127.0.0.1:1/0")
    accepted = set(inspect.signature(Worker.__init__).parameters)
    assert set(kwargs) <= accepted, set(kwargs) - accepted
    assert [function.name for function in kwargs["functions"]] == ["dispatch_batch", "late_fallback"]
    assert kwargs["job_serializer"]({"a": 1}) == b'{"a":1}'
    assert kwargs["keep_result"] == 0  # job ids of finished batches are reusable after resume
