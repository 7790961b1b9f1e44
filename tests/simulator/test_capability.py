"""The simulator's capability verdicts: deterministic per number, in every spelling and hashed alike."""

from __future__ import annotations

import pytest

from engine.simulator.capability import is_capable, is_capable_digest, mobile_digest, split_capable
from tests.simulator.test_limits import numbers


@pytest.mark.parametrize("offset", [0, 1])
def test_the_capable_share_bounds_the_digest_head_strictly(offset: int) -> None:
    """A number is capable when its digest's first 4 bytes / 2**32 < share: exactly at the share it is
    not, one step above it is, in every spelling and hashed alike."""
    number = "13900000001"
    share = (int(mobile_digest(number)[:8], 16) + offset) / 2**32
    expected = offset == 1
    assert is_capable(number, share) is expected and is_capable("+86" + number, share) is expected
    assert is_capable_digest(mobile_digest(number), share) is expected


@pytest.mark.parametrize(("share", "capable"), [(0.0, 0), (0.3, None), (1.0, 300)])
def test_plain_and_hashed_verdicts_agree_at_any_share(share: float, capable: int | None) -> None:
    plain = numbers(300, start=7000)
    supported, unsupported = split_capable([*plain, "12345"], share)
    assert unsupported[-1] == "12345"
    assert split_capable([mobile_digest(n) for n in plain], share, hashed=True)[0] == [
        mobile_digest(n) for n in supported
    ]
    assert len(supported) == capable if capable is not None else 0 < len(supported) < len(plain)
