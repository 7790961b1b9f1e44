"""Mobile normalisation and the deterministic smart-message capability verdict.

The verdict is a pure function of the number so tests and benchmarks can compute the truth without asking
the simulator. It hashes ``"86" + 11-digit number`` with SHA-1 — the same digest a client sends with
``encryption_alg=SHA1`` — so a number gets the same verdict in plain and hashed form.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")
_NORMAL_RUN = re.compile(r"(?:1[3-9][0-9]{9})*")
_SCALE = float(1 << 32)


def normalize_mobile(raw: str) -> str | None:
    """The 11-digit mainland mobile in ``raw`` (``131…``, ``86131…``, ``0086131…``, ``+86131…``) or None."""
    if type(raw) is str and len(raw) == 11 and raw.isdigit() and raw[0] == "1" and raw[1] in "3456789":
        return raw  # the common case, without the regex
    match = _MOBILE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    return match.group(1) if match else None


def all_normal(raws: list[str]) -> bool:
    """Whether every item is already an 11-digit mainland mobile, so that :func:`normalize_mobile` returns
    it unchanged: three passes in C over a call's numbers instead of one call per number."""
    return (
        set(map(type, raws)) == {str}
        and set(map(len, raws)) == {11}
        and _NORMAL_RUN.fullmatch("".join(raws)) is not None
    )


def mobile_digest(mobile: str) -> str:
    """SHA-1 hex of ``86`` + the 11-digit number, as KooMessage expects for ``encryption_alg=SHA1``."""
    return hashlib.sha1(("86" + mobile).encode()).hexdigest()


def is_capable(mobile: str, share: float) -> bool:
    """Whether the simulator reports ``mobile`` as supporting smart messages.

    Any accepted spelling of a mainland mobile gives the same answer; anything else is not capable.
    """
    return bool(split_capable([mobile], share)[0])


def split_capable(mobiles: Iterable[str], share: float, hashed: bool = False) -> tuple[list[str], list[str]]:
    """``mobiles`` (SHA-1 digests if ``hashed``) split into capable and not capable, in input order.

    Plain numbers are normalised one by one only when some of the call's are not normal already, and the
    digest is inlined: a capability check carries up to 100 numbers, and in benchmarks the simulator shares
    the cores with the engine it measures, so its CPU per number counts.
    """
    capable: list[str] = []
    other: list[str] = []
    bound = _digest_bound(share)
    if hashed:
        for digest in mobiles:
            (capable if _hashed_capable(digest, bound) else other).append(digest)
        return capable, other
    sha1 = hashlib.sha1
    raws = list(mobiles)
    numbers = raws if all_normal(raws) else list(map(normalize_mobile, raws))
    for raw, number in zip(raws, numbers, strict=True):
        verdict = number is not None and sha1(b"86" + number.encode()).digest() < bound
        (capable if verdict else other).append(raw)
    return capable, other


def _digest_bound(share: float) -> bytes:
    """The 20-byte digests below this bound are the capable ones: ``int(digest[:8], 16) / 2**32 < share``
    (a uniform draw from the digest's head), by one bytes comparison per number, plain or hashed.

    For an integer head, ``head / 2**32 < share`` (exact floats) <=> ``head < ceil(share * 2**32)``; a digest
    is below that 4-byte head followed by zeros exactly when its own first 4 bytes are.
    """
    head = math.ceil(share * _SCALE)
    return head.to_bytes(4, "big") + bytes(16) if head < 1 << 32 else b"\xff" * 21


def is_capable_digest(digest: str, share: float) -> bool:
    """The verdict for a number sent SHA-1 hashed; a malformed digest is not capable."""
    return _hashed_capable(digest, _digest_bound(share))


def _hashed_capable(digest: str, bound: bytes) -> bool:
    return bool(_SHA1_HEX.fullmatch(digest)) and bytes.fromhex(digest) < bound
