"""Freed memory stays with the process for reuse once ``keep_freed_memory`` ran (glibc only)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.runtime.malloc_tuning import KEEP_FREED

PROGRAM = """
import os, sys
from engine.runtime.malloc_tuning import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
pieces = [bytes(50_000) + bytes([n % 256]) for n in range(2_000)]  # 100 MB in round-trip-sized pieces
held = rss()
del pieces
print(tuned, held - rss())
"""


def given_back(mode: str) -> tuple[str, int]:
    """(what keep_freed_memory returned, bytes returned to the kernel after freeing 100 MB)."""
    run = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
    tuned, released = run.stdout.split()
    return tuned, int(released)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc on Linux only")
def test_freed_memory_is_kept_for_reuse_instead_of_returned_to_the_kernel() -> None:
    tuned, kept = given_back("tuned")
    _, returned = given_back("plain")
    assert tuned == "True"
    assert returned > 90_000_000  # glibc's default: the freed heap top goes back to the kernel at once
    assert kept < 10_000_000 < KEEP_FREED  # tuned: it stays for the next round trip's objects


FAULTS = """
import resource, sys
from engine.runtime.malloc_tuning import keep_freed_memory
if sys.argv[1] == "tuned":
    keep_freed_memory()
block = 4 << 20  # a CSV encoding check's read, or a pipeline of batch fields
b"x" * block  # written all over; the first one may fault its pages in
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    b"x" * block  # made and freed again, as a loop over a file's chunks or over round trips does
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    """Minor page faults of 50 rounds of making and freeing a 4 MB block."""
    run = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
    return int(run.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc on Linux only")
def test_large_blocks_freed_in_a_loop_are_reused_not_mapped_and_faulted_in_again() -> None:
    """Raising the trim threshold switches off glibc's sliding mmap threshold: without the mmap threshold
    raised as well, every block of 128 KB or more is mapped fresh, 1,024 page faults per 4 MB."""
    assert page_faults("tuned") < 500  # 50 × 1,024 pages if each block were mapped anew
