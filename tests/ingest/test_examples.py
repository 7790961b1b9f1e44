"""The shipped example campaigns load, and point a reader to the README rather than to Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ingest.spec import load_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "config" / "campaigns").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_campaign_loads(path: Path) -> None:
    assert load_spec(path).name


def test_the_example_points_to_the_readme_not_to_load_spec() -> None:
    text = (EXAMPLES[0].parent / "example.toml").read_text(encoding="utf-8")
    assert "README.md" in text and "load_spec" not in text and "sms_param_count" not in text
