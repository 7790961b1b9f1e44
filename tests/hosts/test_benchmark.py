"""``cap_utilisation.py --hosts`` runs on the namespace harness at a tiny size (no figure is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks.test_smoke import run_program
from tests.hosts.conftest import require_namespaces

pytestmark = pytest.mark.slow


def test_cap_utilisation_across_hosts_prints_its_table(tmp_path: Path) -> None:
    require_namespaces()
    size = ("--recipients", "2000", "--hosts", "3", "--workers", "2")
    out = run_program("cap_utilisation.py", tmp_path, *size)
    assert "│ 3 hosts × 2" in out and "✓ 0 dup, each once" in out  # the simulator's ledger
