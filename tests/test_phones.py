"""Masking: a number reaches a log or an error only as ``130****0001``."""

from __future__ import annotations

import pytest

from engine.phones import mask


@pytest.mark.parametrize(
    ("number", "masked"),
    [("13000000001", "130****0001"), ("+8613800138000", "+86****8000"), ("123", "***"), ("", "")],
)
def test_mask(number: str, masked: str) -> None:
    assert mask(number) == masked
