"""What a benchmark reports: the machine, the commit, figures formatted for tables, and RESULTS.md."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl
from _common import GB, ROOT, console
from rich.table import Table

RESULTS: Final = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Machine:
    """What a reader needs to compare results across machines (no paths, no host names)."""

    cpu: str
    cores: int
    memory_gib: float
    load_1min: float  # other work on the machine at the start of the run: results are only as quiet
    python: str
    polars: str

    @classmethod
    def current(cls) -> Machine:
        """Facts of this machine now; call before measuring so the load is not our own."""
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return cls(
            cpu=_cpu_model(),
            cores=os.cpu_count() or 1,
            memory_gib=round(memory / 2**30, 1),
            load_1min=round(os.getloadavg()[0], 2),
            python=platform.python_version(),
            polars=pl.__version__,
        )

    def describe(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.memory_gib:g} GiB; load {self.load_1min:g} at start; "
            f"Python {self.python}, polars {self.polars}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str:
    """Short commit of the working tree, ``+dirty`` when it has uncommitted changes (other than to
    RESULTS.md: a program that records several tables has changed it itself by the second)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        results = f":!{RESULTS.relative_to(ROOT)}"
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", results)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def command_line() -> str:
    """How this run was started, with the program path relative to the repository (no machine paths)."""
    program = Path(sys.argv[0]).resolve()
    shown = program.relative_to(ROOT) if program.is_relative_to(ROOT) else Path(program.name)
    return shlex.join(["python", str(shown), *sys.argv[1:]])


def goal(value: float, limit: float, *, at_least: bool = False) -> str:
    """``✓ met`` or ``✗ missed``: whether ``value`` is within ``limit`` (lower is better unless
    ``at_least``, as for a share of a cap or a speed-up)."""
    met = value >= limit if at_least else value <= limit
    return "✓ met" if met else "✗ missed"


def percent(share: float) -> str:
    return f"{share * 100:.2f} %"


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def per_second(count: float, elapsed: float) -> str:
    rate = count / elapsed if elapsed > 0 else float("inf")
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:,.1f} k/s"


def size(nbytes: float) -> str:
    return f"{nbytes / GB:.2f} GB"


def ratio(ours: float, floor: float) -> str:
    return f"{ours / floor:.2f}×"


def pair_ratios(ours: Sequence[float], floors: Sequence[float]) -> str:
    """The ratio of each interleaved pair, in run order: how far one run's ratio strays from the medians'
    on this machine (the shared cores' speed drifts by a fifth within minutes)."""
    return ", ".join(ratio(o, f) for o, f in zip(ours, floors, strict=True))


@dataclass(frozen=True)
class Result:
    """One program's answer: a titled table plus notes, printed and (unless told not to) recorded."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]

    def print(self) -> None:
        table = Table(title=self.title, title_justify="left")
        for column in self.columns:
            table.add_column(column, justify="left" if column == self.columns[0] else "right")
        for row in self.rows:
            table.add_row(*row)
        console.print(table)
        for note in self.notes:
            console.print(f"  {note}", highlight=False)

    def markdown(self, machine: Machine) -> str:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"## {self.title} — {when}",
            "",
            f"`{command_line()}`  ",
            f"commit {git_commit()}; {machine.describe()}",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|",
            *("| " + " | ".join(row) + " |" for row in self.rows),
            "",
            *(f"- {note}" for note in self.notes),
        ]
        return "\n".join(lines).rstrip() + "\n\n"


def publish(result: Result, machine: Machine, record: bool) -> None:
    """Print the table; append it to RESULTS.md unless ``record`` is off (the smoke test, trial runs)."""
    result.print()
    if not record:
        return
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by the programs in this directory; newest last.\n\n"
        )
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(result.markdown(machine))
    console.print(f"appended to {RESULTS.relative_to(ROOT)}", highlight=False)
