"""Counts CPU per asyncio task kind (``benchmarks/_task_cpu.py``) in a process started with this directory
on PYTHONPATH and ``KD_TASK_CPU_DIR`` set: how ``end_to_end.py --task-cpu`` reaches its child processes."""

import os
import sys

if os.environ.get("KD_TASK_CPU_DIR"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import _task_cpu

    _task_cpu.install(os.environ["KD_TASK_CPU_DIR"])
