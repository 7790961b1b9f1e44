#!/usr/bin/env bash
# Every figure of the scale-and-cost goals (issue 23) in one run, one program after another; ~80 minutes on
# 2 cores. Run it on a quiet machine: the ratios compare processes that share the cores. Each program records
# its own section in RESULTS.md; this prints the time, the load average and the engine commit before each.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
step() {
    echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) at $(git rev-parse --short HEAD): $*"
    python "$@"
}
step benchmarks/control.py                                                 # reactions and CLI cold start
step benchmarks/ingest.py --rows 10000000 --xlsx-rows 1000000 --repeat 3   # 10M CSV and 1M xlsx
step benchmarks/ingest.py --rows 30000000 --xlsx-rows 0 --repeat 3         # 30M: memory, time, linearity
step benchmarks/end_to_end.py --repeat 5                                   # overhead at 1M, 5 pairs
step benchmarks/end_to_end.py --recipients 10000000 --repeat 5             # and at 10M
step benchmarks/growth.py --repeat 1 --delete-data                         # the growth table
echo "== $(date -u +%FT%TZ) done"
