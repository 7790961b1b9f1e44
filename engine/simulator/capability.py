"""Mobile normalisation and the deterministic smart-message capability verdict.

The verdict is a pure function of the number so tests and benchmarks can compute the truth without asking
the simulator. It hashes ``"86" + 11-digit number`` with SHA-1 — the same digest a client sends with
``encryption_alg=SHA1`` — so a number gets the same verdict in plain and hashed form.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")
_SCALE = float(1 << 32)


def normalize_mobile(raw: str) -> str | None:
    """The 11-digit mainland mobile in ``raw`` (``131…``, ``86131…``, ``0086131…``, ``+86131…``) or None."""
    if type(raw) is str and len(raw) == 11 and raw.isdigit() and raw[0] == "1" and raw[1] in "3456789":
        return raw  # the common case, without the regex
    match = _MOBILE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    return match.group(1) if match else None


def mobile_digest(mobile: str) -> str:
    """SHA-1 hex of ``86`` + the 11-digit number, as KooMessage expects for ``encryption_alg=SHA1``."""
    return hashlib.sha1(("86" + mobile).encode()).hexdigest()


def _digest_capable(digest: str, share: float) -> bool:
    return int(digest[:8], 16) / _SCALE < share


def is_capable(mobile: str, share: float) -> bool:
    """Whether the simulator reports ``mobile`` as supporting smart messages.

    Any accepted spelling of a mainland mobile gives the same answer; anything else is not capable.
    """
    return bool(split_capable([mobile], share)[0])


def split_capable(mobiles: Iterable[str], share: float, hashed: bool = False) -> tuple[list[str], list[str]]:
    """``mobiles`` (SHA-1 digests if ``hashed``) split into capable and not capable, in input order.

    Plain numbers go through one loop with the digest inlined: a capability check carries up to 100
    numbers, and in benchmarks the simulator shares the cores with the engine it measures, so its CPU per
    number counts.
    """
    capable: list[str] = []
    other: list[str] = []
    if hashed:
        for digest in mobiles:
            (capable if is_capable_digest(digest, share) else other).append(digest)
        return capable, other
    limit = share * _SCALE  # head / 2**32 < share  <=>  head < share * 2**32: both sides are exact floats
    sha1 = hashlib.sha1
    for mobile in mobiles:
        number = normalize_mobile(mobile)
        # the first 4 bytes of the digest = int(mobile_digest(number)[:8], 16)
        if number is not None and int.from_bytes(sha1(b"86" + number.encode()).digest()[:4], "big") < limit:
            capable.append(mobile)
        else:
            other.append(mobile)
    return capable, other


def is_capable_digest(digest: str, share: float) -> bool:
    """The verdict for a number sent SHA-1 hashed; a malformed digest is not capable."""
    return bool(_SHA1_HEX.fullmatch(digest)) and _digest_capable(digest.lower(), share)
