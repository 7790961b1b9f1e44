"""Dependency floors stay above releases with known advisories, and what is installed meets every floor.

CI cannot fetch a vulnerability database (README, "Auditing dependencies"); this is the offline part of an
audit. When an advisory lands, raise the floor in pyproject.toml and the release here together.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Final

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT: Final = Path(__file__).resolve().parents[1] / "pyproject.toml"

# the first release free of every advisory known for the package, and the advisories it fixes
KNOWN_FIXED: Final = {
    "aiohttp": (
        "3.14.3",
        "GHSA-cq5v-8q36-5273 (3.14.3: out-of-bounds read in the C parser on a malformed chunked answer); "
        "GHSA-mfx4-hv73-q22v (3.14.2: request smuggling via a WebSocket upgrade); GHSA-4fvr-rgm6-gqmc and "
        "seven more (3.14.1: unbounded pipelined requests, max_line_size bypass ...); CVE-2025-69223 and six "
        "more (3.13.3: zip bomb, chunk exhaustion ...); CVE-2025-53643 (3.12.14: request smuggling)",
    ),
    "orjson": ("3.9.15", "CVE-2024-27454 (deeply nested input exhausted the stack)"),
    "jinja2": (
        "3.1.6",
        "CVE-2025-27516 (3.1.6: sandbox escape through |attr); CVE-2024-56201 and CVE-2024-56326 (3.1.5)",
    ),
}


def floors() -> dict[str, Version]:
    """The ``>=`` floor of every runtime dependency in pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    found = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                found[requirement.name] = Version(spec.version)
    return found


@pytest.mark.parametrize("name", list(KNOWN_FIXED))
def test_the_floor_excludes_every_release_with_a_known_advisory(name: str) -> None:
    fixed, advisories = KNOWN_FIXED[name]
    assert floors()[name] >= Version(fixed), f"{name} below {fixed} has {advisories}"


def test_the_installed_packages_meet_the_floors() -> None:
    """A stale environment (a wheel older than a floor raised since) fails here, not in production."""
    below = {
        name: installed
        for name, floor in floors().items()
        if Version(installed := metadata.version(name)) < floor
    }
    assert not below, f"installed below the floor of pyproject.toml: {below}"
