"""Many campaigns at once: does an urgent one get through a bulk one at once, do two share the cap by
weight, do twenty small ones all finish by weight?

    python benchmarks/multi_campaign.py [--scenario urgent|pair|many|all] [--scale 1] [--workers 1 2 4]
                                        [--fleet 2] [--window SECONDS] [--after 3] [--json FILE]
                                        [--no-record]

Caps as in ``cap_utilisation.py``: the simulator, in its own process, enforces the provider's caps (smart
1,000 numbers/s, SMS 1,000/s, basic 5,000/s; the engine budgets the same, its defaults) and answers after
50–200 ms. Real worker processes on a fresh private Redis per run. Every campaign is the benchmarks' smart
message with SMS fallback, on a recipient file of its own. The simulator's ledger is the judge: times
come from its clock (each campaign's first and last accepted call, ``?totals=1``), and every campaign must
get exactly its own numbers (a cancelled one: none twice, none beyond its own).

  urgent  a 1M-row ``bulk`` campaign sends at the cap; five ``urgent`` 2,000-row campaigns are submitted
          one after another. Seconds from submit to each one's first accepted number (goal: median ≤ 1 s,
          max ≤ 2 s) and to its last (goal: ≤ its numbers / cap + 2 s); bulk's smart numbers/s in the
          ``--after`` seconds before, while the urgent one sends, and after. Then bulk is cancelled.
          (``--fleet`` workers)
  pair    two ``normal`` campaigns of 300k and 1M rows, weights 1:1 then 3:1 (the 300k one's first), with
          each ``--workers`` count. The 300k one's share of both's smart numbers over the steady overlap
          (goal: ± 5 points of 50 % / 75 %), both together as a share of the cap (goal ≥ 98 %), throttled
          calls (goal ≤ 0.1 %); the overlap is measured until the 300k one completes (or for ``--window``
          seconds), then both are cancelled.
  many    twenty ``normal`` campaigns of 1k, 2k … 20k rows, weights 1, 3, 1, 3 …, submitted at once
          (``--fleet`` workers). Goals: all complete exactly; each within ± 25 % of its fair share by
          weight; none starved (its first number ≤ 2 s after its submit).

``--scale`` multiplies every size (the smoke test runs at 0.01); ``--json FILE`` writes every figure and
each campaign's ledger verdict. At scale 1, about 3 min for urgent, 4–7 min per pair run (six runs; the
overlap is paced by the cap), 3 min for many.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Final

import _scenario_many
import _scenario_pair
import _scenario_urgent
import orjson
from _common import console, parser
from _report import Machine, Result, publish
from _sim import engine_env, simulator_process
from _together import Setup
from cap_utilisation import LATENCY_MS, provider_caps

from engine.runtime.settings import RateSettings

SCENARIOS: Final = ("urgent", "pair", "many")


def measure(name: str, setup: Setup, args: argparse.Namespace) -> tuple[Result, dict[str, Any]]:
    """One scenario's table and JSON figures."""
    console.print(f"scenario {name} …", highlight=False)
    if name == "urgent":
        return _scenario_urgent.scenario(setup, args.fleet, args.after)
    if name == "pair":
        return _scenario_pair.scenario(setup, args.workers, args.window)
    return _scenario_many.scenario(setup, args.fleet)


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    logs = args.cache_dir / "logs"  # simulator and worker logs of the latest run, for when one fails
    logs.mkdir(parents=True, exist_ok=True)
    caps = provider_caps(RateSettings())
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    figures: dict[str, Any] = {"scale": args.scale, "machine": machine.describe()}
    with simulator_process(logs, caps, LATENCY_MS) as sim:
        setup = Setup(sim.url, engine_env(sim.url, caps), args.cache_dir, logs, args.scale, caps["smart"])
        for name in names:
            result, figures[name] = measure(name, setup, args)
            publish(result, machine, not args.no_record)
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all", help="what to measure (all)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every campaign's size (1)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="pair: worker-process counts (1 2 4)"
    )
    p.add_argument("--fleet", type=int, default=2, help="urgent and many: worker processes (2)")
    p.add_argument("--window", type=float, help="pair: measure at most this many seconds of the overlap")
    p.add_argument("--after", type=float, default=3.0, help="urgent: seconds of bulk alone around each (3)")
    p.add_argument("--json", type=Path, help="write every figure to this file")
    main(p.parse_args())


if __name__ == "__main__":
    cli()
