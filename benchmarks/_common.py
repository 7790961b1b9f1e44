"""Helpers shared by the benchmark programs: the bare-floor ingest, cached data, measured child processes
and the command line (reporting: ``_report.py``).

Every program answers one question by measuring ours against a floor in ONE run, so the two numbers saw
the same machine, the same load and the same data; these helpers keep that part identical across programs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import orjson
import polars as pl
from rich.console import Console

# ``python benchmarks/<program>.py`` puts benchmarks/ first on sys.path, not the checkout: without this, the
# submitting process would import whichever ``engine`` is installed (an editable install of another
# checkout) while the workers and the simulator, started with ``python -m engine.cli`` from the checkout,
# run this one's. Every program imports this module before ``engine``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine.ingest.demo_data
from engine.ingest.demo_data import Format, generate_recipients
from engine.ingest.numbers import normalise_expr
from engine.ingest.spec import CampaignSpec

ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_CACHE: Final = Path(tempfile.gettempdir()) / "koodispatch-bench"
CHILD_RESULT: Final = "KD-BENCH-RESULT "  # prefix of the one stdout line a measured child reports on
GB: Final = 1e9
START_TIMEOUT: Final = 60.0  # seconds a helper process may take to come up
T = TypeVar("T")
U = TypeVar("U")
console = Console(width=None if sys.stdout.isatty() else 300)  # piped: one line per table row


# -- the campaign and the data ----------------------------------------------------------------------------


def bench_spec(
    fallback: Literal["sms", "skip"] = "sms", name: str = "bench", **budget: str | float
) -> CampaignSpec:
    """The campaign every benchmark submits: personalised smart message, per-recipient plain-SMS fallback
    (``skip``: smart messages only, the calls a bare SDK loop makes).

    It reads two parameter columns, so ingest carries real text per row, not only numbers. ``name`` tells
    campaigns sent at once apart (their ids start with it); ``budget`` is their ``[budget]`` section
    (``priority``, ``weight``).
    """
    return CampaignSpec.model_validate(
        {
            "name": name,
            "budget": budget,
            "smart": {"template_id": "100000001", "sms_params": ["name"], "expiration_days": 3},
            "sms_channel": {
                "channel_number": "10690000",
                "sms_template_id": "sms_tpl_1",
                "signature": "华为云",
                "app_name": "bench",
            },
            "fallback": {"policy": fallback, "sms_params": ["name", "amount"]},
            "recipients": {"mobile_column": "mobile"},
        }
    )


@dataclass(frozen=True)
class Dataset:
    """A generated recipient file and the counts a correct ingest must report for it."""

    path: Path
    rows: int
    imported: int
    duplicates: int
    invalid: int


def dataset(cache: Path, rows: int, fmt: Format, seed: int = 0) -> Dataset:
    """The demo-data file of ``rows`` rows, generated once and reused (10M CSV rows take ~30 s, xlsx
    ~40k rows/s). The name carries a digest of the generator, so a changed generator never reuses a file.
    """
    version = hashlib.blake2b(Path(engine.ingest.demo_data.__file__).read_bytes(), digest_size=4).hexdigest()
    path = cache / f"recipients-{rows}-s{seed}-{version}.{fmt}"
    meta = path.with_name(path.name + ".json")
    if path.is_file() and meta.is_file():
        return Dataset(path=path, **orjson.loads(meta.read_bytes()))
    cache.mkdir(parents=True, exist_ok=True)
    console.print(f"generating {rows:,} {fmt} rows (cached for later runs) …", highlight=False)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # a killed run leaves no half file
    truth = generate_recipients(partial, rows, seed=seed, fmt=fmt)
    counts = {
        "rows": truth.rows,
        "imported": truth.imported,
        "duplicates": truth.duplicates,
        "invalid": truth.invalid,
    }
    partial.replace(path)
    meta.write_bytes(orjson.dumps(counts))
    return Dataset(path=path, **counts)


def floor_recipients(path: Path, columns: Sequence[str], mobile: str = "mobile") -> pl.DataFrame:
    """The bare floor of ingest: read, normalise, drop invalid, keep each number's first row. Nothing else.

    The same normalisation as the engine (``normalise_expr``) and the same output (first occurrence with
    its parameter columns, in file order, the number as a uint64 key) in the fastest plain polars we know.
    """
    wanted = [c for c in dict.fromkeys(columns) if c != mobile]
    if path.suffix.lower() == ".xlsx":
        sheets = pl.read_excel(path, sheet_id=0, engine="calamine", read_options={"dtypes": "string"})
        frame = pl.concat([s.select(mobile, *wanted) for s in sheets.values()]).lazy()
    else:
        frame = pl.scan_csv(path, infer_schema=False)
    key = normalise_expr(mobile).cast(pl.UInt64).alias(mobile)
    return (
        frame.select(key, *wanted)
        .drop_nulls(mobile)
        .unique(subset=mobile, keep="first", maintain_order=True)
        .collect(engine="streaming")
    )


# -- measured child processes -----------------------------------------------------------------------------


def child_argv(program: str, *args: str) -> list[str]:
    """The command line that re-runs a benchmark program in child mode."""
    return [sys.executable, str(Path(program).resolve()), *args]


def run_child(argv: Sequence[str], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run a measured child to its end and return the report it printed (see :func:`report_to_parent`).

    The child's stderr passes through to ours; a failed child fails the benchmark.
    """
    done = subprocess.run(list(argv), stdout=subprocess.PIPE, env=None if env is None else dict(env))
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed with exit code {done.returncode}: {shlex.join(argv)}")
    lines = [line for line in done.stdout.decode().splitlines() if line.startswith(CHILD_RESULT)]
    if not lines:
        raise RuntimeError(f"benchmark child printed no result: {shlex.join(argv)}")
    report: dict[str, Any] = orjson.loads(lines[-1].removeprefix(CHILD_RESULT))
    return report


def report_to_parent(report: Mapping[str, Any]) -> None:
    """The child side of :func:`run_child`: one prefixed JSON line on stdout, with ``peak_rss`` added."""
    line = orjson.dumps({**report, "peak_rss": peak_rss()}).decode()
    sys.stdout.write(f"{CHILD_RESULT}{line}\n")
    sys.stdout.flush()


def peak_rss() -> int:
    """Peak resident set of this process in bytes: ``VmHWM`` of its own address space (Linux).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark into a child across fork and exec, so a
    child of a parent that generated 10M rows would report the parent's peak, not its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class Stopwatch:
    """Wall-clock seconds of a ``with`` block, and the CPU seconds this process spent in it."""

    seconds: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._started[0]
        self.cpu = time.process_time() - self._started[1]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far; Linux ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_of(samples: Sequence[float]) -> float:
    """The median: with a noisy shared machine, one slow sample should not decide a ratio."""
    return statistics.median(samples)


@contextmanager
def stopped_on_exit(
    proc: subprocess.Popen[bytes], timeout: float = 10.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Terminate (then kill) a helper process we started, and reap it, however the block ends."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(ready: Callable[[], T | None], procs: list[subprocess.Popen[bytes]], what: str) -> T:
    """Poll ``ready`` until it returns something true, and return that; fail at once if a process we wait
    on died, or after a minute."""
    deadline = time.monotonic() + START_TIMEOUT
    while not (value := ready()):
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"a process exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


# -- machine, command line, goals -------------------------------------------------------------------------


# -- output -----------------------------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    """Options of every program (``--repeat``, ``--no-record``, ``--cache-dir``) and the hidden child mode."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--repeat", type=int, default=3, help="measure each side N times, interleaved; report medians"
    )
    p.add_argument("--no-record", action="store_true", help="print the table only; leave RESULTS.md alone")
    p.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE, help="where generated data files are kept"
    )
    # internal: the program re-runs itself with --child to take one measurement in a fresh process
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p


def interleaved(
    label: str, repeat: int, floor: Callable[[], T], ours: Callable[[], U], baseline: str = "floor"
) -> tuple[list[T], list[U]]:
    """Floor and ours ``repeat`` times each, alternating, so drifting machine load hits both alike;
    ``baseline`` names the floor side in the progress lines."""
    floors: list[T] = []
    ourses: list[U] = []
    for i in range(1, repeat + 1):
        floors.append(_timed(f"{label}: {baseline} {i}/{repeat}", floor))
        ourses.append(_timed(f"{label}: ours {i}/{repeat}", ours))
    return floors, ourses


def _timed(what: str, measure: Callable[[], T]) -> T:
    """Run one measured side and print how long it took (progress for a long benchmark)."""
    with Stopwatch() as watch:
        result = measure()
    console.print(f"{what} took {watch.seconds:.1f} s", highlight=False)
    return result
