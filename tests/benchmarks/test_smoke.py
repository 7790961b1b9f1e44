"""The benchmark programs run end to end at a tiny size and print their table (no timing is asserted).

``--no-record`` keeps RESULTS.md as it is; ``--cache-dir`` keeps the generated files in the test's tmp dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_program(name: str, tmp_path: Path, *args: str) -> str:
    """Run one program to its end; return its output, or fail with both streams."""
    argv = [
        sys.executable,
        str(BENCHMARKS / name),
        "--no-record",
        "--repeat",
        "1",
        "--cache-dir",
        str(tmp_path),
    ]
    # the engine of this tree, not whichever one is installed: the programs and their children import it
    path = os.pathsep.join(p for p in (str(BENCHMARKS.parent), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_ingest_prints_its_table(tmp_path: Path) -> None:
    results = (BENCHMARKS / "RESULTS.md").read_bytes() if (BENCHMARKS / "RESULTS.md").exists() else None
    out = run_program("ingest.py", tmp_path, "--rows", "2000", "--xlsx-rows", "300")
    assert "ingest: file → frozen batches in Redis" in out
    assert "ours/floor" in out and "│ csv" in out and "│ xlsx" in out
    after = (BENCHMARKS / "RESULTS.md").read_bytes() if (BENCHMARKS / "RESULTS.md").exists() else None
    assert after == results  # --no-record


def test_end_to_end_prints_its_table(tmp_path: Path) -> None:
    out = run_program("end_to_end.py", tmp_path, "--recipients", "3000", "--workers", "2")
    assert "end to end: file → every number sent once" in out
    assert "ours/floor" in out and out.count("✓ 0 dup, each once") == 2  # the simulator's ledger


def test_end_to_end_counts_cpu_per_task_kind_in_both_sides_processes(tmp_path: Path) -> None:
    out = run_program("end_to_end.py", tmp_path, "--recipients", "3000", "--task-cpu")
    table = out.split("end to end: CPU per asyncio task kind", 1)[1]
    # the floor's own process and ours' worker processes each wrote their counts
    assert "FloorRun.batch" in table and "dispatch_batch" in table and "Resolver.classify" in table
    assert "(outside any task)" in table


def test_cap_utilisation_prints_its_table(tmp_path: Path) -> None:
    out = run_program("cap_utilisation.py", tmp_path, "--recipients", "2000", "--workers", "1", "2")
    assert "cap utilisation: share of the provider's smart-message cap" in out
    assert "share of cap" in out and out.count("✓ 0 dup, each once") == 2  # one row per worker count


def test_sdk_baseline_prints_its_table(tmp_path: Path) -> None:
    out = run_program("sdk_baseline.py", tmp_path, "--recipients", "3000", "--sdk-sample", "300")
    assert "SDK baseline: official SDK loop vs koodispatch" in out
    assert "ours/SDK numbers/s" in out and "floor/SDK" in out and "EXTRAPOLATED" in out
    assert out.count("✓ 0 dup, each once") == 3  # SDK, floor and ours


def test_takeover_prints_its_table(tmp_path: Path) -> None:
    out = run_program("takeover.py", tmp_path, "--recipients", "2000", "--max-wait", "60")
    assert "takeover: kill -9 of a worker → its batch runs again" in out
    assert "running again min / median / max" in out and "kills" in out


def test_takeover_crash_loop_prints_its_table(tmp_path: Path) -> None:
    out = run_program(
        "takeover.py",
        tmp_path,
        "--kills",
        "3",
        "--interval",
        "1-1.5",
        "--recipients",
        "20000",
        "--max-wait",
        "60",
    )
    assert "takeover in a crash loop" in out
    assert "taken over min / median / max" in out and " 3 " in out


def test_service_prints_its_table(tmp_path: Path) -> None:
    out = run_program("service.py", tmp_path, "--recipients", "60000", "--seconds", "2", "--campaigns", "300")
    assert "service: the HTTP API beside a campaign at the cap" in out
    assert "GET status" in out and "SSE clients" in out and "list of 300: first page" in out  # wrk or not


def test_redis_bytes_prints_its_table(tmp_path: Path) -> None:
    out = run_program("redis_bytes.py", tmp_path, "--recipients", "2000")
    assert "Redis bytes per number" in out and "purged" in out
