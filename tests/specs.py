"""Small campaign specs and recipient files for tests that call the engine in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from engine.ingest.spec import CampaignSpec
from engine.simulator.capability import is_capable
from tests.conftest import SHARE


def numbers(capable: bool, count: int, start: int = 13800000000) -> list[str]:
    """``count`` numbers whose simulator verdict is ``capable``."""
    found: list[str] = []
    n = start
    while len(found) < count:
        if is_capable(str(n), SHARE) == capable:
            found.append(str(n))
        n += 1
    return found


def write(path: Path, rows: dict[str, list[str]]) -> Path:
    pl.DataFrame(rows).write_csv(path)
    return path


def make_spec(policy: str = "sms", **smart: Any) -> CampaignSpec:
    return CampaignSpec.model_validate(
        {
            "name": "dispatch",
            "smart": {"template_id": "100000001", **smart},
            "sms_channel": {
                "channel_number": "10690000",
                "sms_template_id": "sms_tpl_1",
                "signature": "华为云",
                "app_name": "t",
            },
            "fallback": {"policy": policy, "basic_template_id": "200000001"},
        }
    )
