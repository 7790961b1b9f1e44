"""How fast does the engine react to an operator's commands, by the provider's clock?

    python benchmarks/control.py [--recipients 200000] [--small 1000] [--workers 2] [--repeat 5]
                                 [--cold-runs 10] [--lower 500] [--no-record]

The simulator, in its own process, enforces the provider's caps and answers after 50–200 ms, as in
``cap_utilisation.py``; N real worker processes on a fresh private Redis. Every command is the real CLI in
its own process (what an operator runs), and every time is read from the simulator's ledger: when each
accepted call arrived and when it was accepted (``/_simulator/ledger?calls=CID``, ``?totals=1``).

  submit    a campaign of ``--small`` numbers with idle workers: from the moment its record was created in
            Redis (``created_at``, the submission's last steps: budget registration and queuing follow) to
            the first accepted number (goal ≤ 0.5 s) and to the last; also from the command's start and
            from its return (it returns after queuing, so sending may have begun).
  pause     a ``--recipients`` campaign sending at the cap: from the command's return to the last number
            accepted of the calls that arrived after it (calls in flight then are left out; goal ≤ 0.5 s).
  resume    from the command's return to the first accepted number (goal ≤ 1 s).
  rate      ``rate --smart X`` (X = ``--lower``, then back to the cap): from the return to the moment the
            new rate holds (goal ≤ 1 s). It holds from h when, for every t from h + 1 s to the end of the
            observation, the smart numbers accepted in [h, t) are X·(t − h) within 5 % plus one call's
            numbers (acceptances come a call of up to 100 numbers at a time).
  cold start  each command's whole-process wall time against ``python -c pass`` run right before it (the
            same load), ``--cold-runs`` times (the way issue 19 measured it: ``from engine.cli import
            main`` as the console script does).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvloop
from _common import ROOT, Dataset, console, dataset, median_of, parser
from _report import Machine, Result, goal, publish, seconds
from _sim import Fleet, check_alive, engine_env, engine_fleet, sim_call, simulator_process
from _together import Exactness, Planned, Sent, all_exact, first_and_last, ledger_totals
from cap_utilisation import LATENCY_MS, provider_caps

from engine.cli.demo import demo_spec
from engine.provider.limits import SMART_SEND_MAX_PARAMS
from engine.runtime.settings import RateSettings
from engine.store import keys
from engine.types import TERMINAL

# the console script's own start (``koodispatch`` = ``from engine.cli import main``), as issue 19 timed it
CONSOLE: Final = "import sys; from engine.cli import main; sys.argv[0] = 'koodispatch'; main()"
GOALS: Final = {"submit": 0.5, "pause": 0.5, "resume": 1.0, "rate": 1.0}
COLD_GOAL: Final = 0.3  # seconds a command may add to a bare interpreter's start (issue 19)
HOLD_TOLERANCE: Final = 0.05  # the rate holds within 5 % (plus one call's numbers)
GRID: Final = 0.05  # seconds between the candidate moments a rate may start holding from
PAUSED_FOR: Final = 1.5  # seconds after a pause before its calls are read (the slowest answer is 0.2 s)
RESUMED_FOR: Final = 3.0  # seconds after a resume: its first calls, and the cap reached again
OBSERVE: Final = 5.0  # seconds a new rate is watched
WARMUP: Final = 3.0  # seconds the big campaign sends before the first pause
IDLE: Final = 1.0  # seconds the workers sit idle before a small campaign is submitted
MAX_WAIT: Final = 600.0
SMALL_SEEDS: Final = 400  # the small campaigns' files (+1 for each next); the big one's is 300
BARE: Final = "python -c pass"
COLUMNS: Final = ["reaction", "runs", "median", "max", "goal", "met"]

Call = tuple[float, float, int]  # one accepted call: arrived, accepted (epoch s), numbers


@dataclass(frozen=True)
class Invocation:
    """One CLI command run to its end: its epoch start and return, its CPU seconds and what it printed."""

    started: float
    returned: float
    cpu: float
    out: str

    @property
    def wall(self) -> float:
        return self.returned - self.started


class Cli:
    """The ``koodispatch`` command in a process of its own, on the fleet's Redis and the engine settings."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, **env, "PYTHONPATH": path}
        self.workdir = workdir

    def __call__(self, *args: str) -> Invocation:
        return self.timed([sys.executable, "-c", CONSOLE, *args])

    def timed(self, argv: Sequence[str]) -> Invocation:
        """Run ``argv`` to its end; its epoch start and return. A failed command fails the benchmark."""
        before = _children_cpu()
        started = time.time()
        done = subprocess.run(list(argv), capture_output=True, text=True, env=self.env, cwd=self.workdir)
        returned = time.time()
        if done.returncode != 0:
            raise RuntimeError(f"{argv[3:]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return Invocation(started, returned, _children_cpu() - before, done.stdout)

    def submit(self, name: str, data: Dataset) -> tuple[str, Invocation]:
        """Submit ``data`` as campaign ``name`` (the demo spec, SMS fallback); its id and the invocation."""
        spec = self.workdir / f"{name}.toml"
        spec.write_text(f'id = "{name}"\n{demo_spec("sms")}', encoding="utf-8")
        run = self("submit", str(spec), "--recipients", str(data.path))
        return run.out.split()[0], run


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- reading the ledger -----------------------------------------------------------------------------------


def calls_of(sim_url: str, cid: str, channels: Sequence[str] = ("smart", "sms")) -> list[Call]:
    """Every accepted call of ``cid`` on ``channels``, by acceptance time."""
    ledger = sim_call(sim_url, f"/_simulator/ledger?calls={cid}")
    calls = [tuple(call) for channel in channels for call in ledger[channel]["calls_of"]]
    return sorted(calls, key=lambda call: call[1])  # type: ignore[arg-type, return-value]


def after(calls: list[Call], moment: float) -> list[Call]:
    """The calls that arrived at the simulator after ``moment``: none of them was in flight then."""
    return [call for call in calls if call[0] >= moment]


def stopped_after(calls: list[Call], moment: float) -> float:
    """Seconds from ``moment`` to the last number accepted of the calls made after it (0: none)."""
    late = after(calls, moment)
    return max(call[1] for call in late) - moment if late else 0.0


def started_after(calls: list[Call], moment: float) -> float:
    """Seconds from ``moment`` to the first number accepted of the calls made after it."""
    late = after(calls, moment)
    if not late:
        raise RuntimeError("no call accepted after the command")
    return min(call[1] for call in late) - moment


def holds_from(calls: list[Call], moment: float, rate: float, end: float) -> float | None:
    """Seconds from ``moment`` to the first h (on a GRID) from which ``rate`` holds until ``end`` (see the
    module's doc), or None when it never does."""
    accepted = [(at, n) for _, at, n in calls if at >= moment]
    for k in range(int((end - moment - 1.0) / GRID) + 1):
        h = moment + k * GRID
        if _holds(accepted, h, rate, end):
            return h - moment
    return None


def _holds(accepted: list[tuple[float, int]], h: float, rate: float, end: float) -> bool:
    """Every t in (h + 1 s, end]: the numbers accepted in [h, t) within the tolerance of rate·(t − h)."""
    count = 0
    for at, n in accepted:
        if at < h:
            continue
        if at - h >= 1.0 and not _within(count, rate * (at - h)):  # the count just before ``at``
            return False
        count += n
    return _within(count, rate * (end - h))


def _within(count: int, expected: float) -> bool:
    return abs(count - expected) <= HOLD_TOLERANCE * expected + SMART_SEND_MAX_PARAMS


def numbers_per_second(calls: list[Call], start: float, end: float) -> float:
    return sum(n for _, at, n in calls if start <= at < end) / (end - start)


# -- the measured phases ----------------------------------------------------------------------------------


@dataclass
class Figures:
    """Each reaction's seconds, one per run, and each command's wall time."""

    reactions: dict[str, list[float]]
    walls: dict[str, list[float]]
    cpus: dict[str, list[float]]
    added: dict[str, list[float]]  # cold starts: a command's wall time less the bare run right before it

    def add(self, what: str, value: float) -> None:
        self.reactions.setdefault(what, []).append(value)

    def wall(self, what: str, run: Invocation) -> None:
        self.walls.setdefault(what, []).append(run.wall)
        self.cpus.setdefault(what, []).append(run.cpu)


def state_of(fleet: Fleet, cid: str) -> str:
    value = fleet.client.hget(keys.campaign(cid), "state")
    return value.decode() if isinstance(value, bytes) else ""


def wait_for(fleet: Fleet, what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + MAX_WAIT
    while not done():
        check_alive(fleet.procs)
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def small_campaigns(
    fleet: Fleet, cli: Cli, sim_url: str, smalls: list[Dataset], figures: Figures
) -> list[Sent]:
    """Each small campaign submitted with idle workers and followed to completed."""
    sents = []
    for i, data in enumerate(smalls):
        time.sleep(IDLE)
        cid, run = cli.submit(f"small{i}", data)
        wait_for(fleet, f"{cid} to complete", lambda cid=cid: state_of(fleet, cid) in TERMINAL_STATES)
        first, last = first_and_last(uvloop.run(ledger_totals(sim_url)), cid) or (run.returned, run.returned)
        raw = fleet.client.hget(keys.campaign(cid), "created_at")
        created = float(raw) if isinstance(raw, bytes) else run.returned
        figures.add("created → first", first - created)
        figures.add("submit → first", first - run.returned)
        figures.add("submit start → first", first - run.started)
        figures.add("submit → last", last - run.returned)
        figures.wall("submit", run)
        sents.append(Sent(cid, Planned.make(f"small{i}", data, sim_url), run.started))
    return sents


def reactions(cli: Cli, sim_url: str, cid: str, cap: float, lower: float, figures: Figures) -> None:
    """One round on the big campaign at the cap: pause, resume, rate down to ``lower``, back to ``cap``."""
    run = cli("pause", cid)
    time.sleep(PAUSED_FOR)
    calls = calls_of(sim_url, cid)
    figures.add("pause → last", stopped_after(calls, run.returned))
    figures.add("calls after pause", len(after(calls, run.returned)))
    figures.add("rate before pause", numbers_per_second(calls, run.started - 2.0, run.started))

    run = cli("resume", cid)
    time.sleep(RESUMED_FOR)
    figures.add("resume → first", started_after(calls_of(sim_url, cid), run.returned))

    for rate, what in ((lower, "rate down"), (cap, "rate up")):
        run = cli("rate", "--smart", f"{rate:g}")
        time.sleep(OBSERVE)
        smart = calls_of(sim_url, cid, ("smart",))
        held = holds_from(smart, run.returned, rate, time.time())
        figures.add(f"{what} → holding", float("inf") if held is None else held)
        figures.add(f"{what} rate", numbers_per_second(smart, run.returned + 1.0, run.returned + OBSERVE))


def cold_starts(cli: Cli, cid: str, runs: int, cap: float, figures: Figures) -> None:
    """Each command's whole-process time, each right after a bare interpreter's, so that both meet the same
    load: ``resume`` sets the campaign sending again and ``rate`` runs while it sends at the cap."""
    for _ in range(runs):
        for args in (("pause", cid), ("resume", cid), ("rate", "--smart", f"{cap:g}")):
            bare, run = cli.timed([sys.executable, "-c", "pass"]), cli(*args)
            figures.wall(BARE, bare)
            figures.wall(args[0], run)
            figures.added.setdefault(args[0], []).append(run.wall - bare.wall)


TERMINAL_STATES: Final = frozenset(state.value for state in TERMINAL)


def measure(
    args: argparse.Namespace, big: Dataset, smalls: list[Dataset], logs: Path
) -> tuple[Figures, list[Exactness]]:
    """Every phase on one fleet: the small campaigns, the big one's rounds, cold starts, then its cancel;
    each campaign judged by its own ledger entries once the workers have stopped."""
    sim_caps = provider_caps(RateSettings())
    figures = Figures({}, {}, {}, {})
    with simulator_process(logs, sim_caps, LATENCY_MS) as sim:
        env = engine_env(sim.url, sim_caps)
        with engine_fleet(args.workers, env, logs) as fleet:
            cli = Cli({**env, "REDIS_URL": fleet.url}, logs)
            sents = small_campaigns(fleet, cli, sim.url, smalls, figures)
            cid, run = cli.submit("big", big)
            sents.append(Sent(cid, Planned.make("big", big, sim.url), run.started))
            wait_for(fleet, f"{cid} to send", lambda: bool(calls_of(sim.url, cid)))
            time.sleep(WARMUP)
            for i in range(1, args.repeat + 1):
                reactions(cli, sim.url, cid, sim_caps["smart"], args.lower, figures)
                console.print(f"reactions: round {i}/{args.repeat} done", highlight=False)
            cold_starts(cli, cid, args.cold_runs, sim_caps["smart"], figures)
            if state_of(fleet, cid) not in TERMINAL_STATES:  # a small run may have completed it
                cli("cancel", cid)
            states = {sent.cid: state_of(fleet, sent.cid) for sent in sents}
        totals = uvloop.run(ledger_totals(sim.url))
    return figures, [Exactness.judge(sent, states[sent.cid], totals) for sent in sents]


def reaction_row(what: str, samples: list[float], limit: float | None) -> list[str]:
    shown = "—" if limit is None else f"≤ {limit:g} s"
    met = "" if limit is None else goal(max(samples), limit)
    return [what, str(len(samples)), seconds(median_of(samples)), seconds(max(samples)), shown, met]


def cold_row(
    what: str, walls: list[float], cpus: list[float], added: list[float], limit: float | None
) -> list[str]:
    """A command's wall time, what it adds to a bare interpreter (median), and its CPU time."""
    more = median_of(added)
    shown = "—" if limit is None else f"≤ +{limit:g} s"
    met = "" if limit is None else goal(more, limit)
    median = f"{seconds(median_of(walls))} (+{more:.2f}; CPU {median_of(cpus):.2f})"
    return [f"cold start: {what}", str(len(walls)), median, seconds(max(walls)), shown, met]


def table(args: argparse.Namespace, figures: Figures, checks: list[Exactness], small: int) -> Result:
    r, w = figures.reactions, figures.walls
    rows = [
        reaction_row(
            f"submit ({small:,} numbers): queued → first accepted", r["created → first"], GOALS["submit"]
        ),
        reaction_row("  submit returned → first accepted", r["submit → first"], None),
        reaction_row("  submit started → first accepted", r["submit start → first"], None),
        reaction_row("  submit returned → last accepted", r["submit → last"], None),
        reaction_row("pause → last accepted (calls made after it)", r["pause → last"], GOALS["pause"]),
        reaction_row("resume → first accepted", r["resume → first"], GOALS["resume"]),
        reaction_row(f"rate --smart {args.lower:g} → holding", r["rate down → holding"], GOALS["rate"]),
        reaction_row(
            f"rate --smart {RateSettings().smart:g} → holding", r["rate up → holding"], GOALS["rate"]
        ),
    ]
    bare = median_of(w[BARE])
    added = figures.added | {BARE: [0.0], "submit": [wall - bare for wall in w["submit"]]}
    rows += [
        cold_row(
            what, w[what], figures.cpus[what], added[what], None if what in (BARE, "submit") else COLD_GOAL
        )
        for what in (BARE, "pause", "resume", "rate", "submit")
    ]
    spread = ", ".join(f"{v:.2f}" for v in r["pause → last"])
    notes = [
        f"{args.workers} worker processes; simulator caps {provider_caps(RateSettings())} numbers/s, "
        f"capability uncapped, latency {LATENCY_MS} ms; engine budgets the same; every command the real "
        "CLI in its own process; times by the simulator's clock: when each accepted call arrived and was "
        "accepted (ledger ?calls=CID, ?totals=1), from the moment the command's process returned",
        f"submit: {len(r['submit → first'])} campaigns of {small:,} numbers (smart + SMS fallback) one after "
        f"another, each after the workers sat idle {IDLE:g} s; queued: the campaign record's created_at, "
        "written just before its budget registration and the queuing of its batches; the command returns "
        "after queuing them (a negative time: sending had begun), its start adds its whole run (imports, "
        "file, preflight with the provider)",
        f"pause / resume / rate: {args.repeat} rounds on a {checks[-1].expected.total:,}-number campaign at "
        f"the cap (median {median_of(r['rate before pause']):,.0f} smart + SMS numbers/s in the 2 s before "
        f"each pause); pause → last in run order: {spread} s, calls accepted after pause returned: "
        + ", ".join(f"{n:g}" for n in r["calls after pause"]),
        f"rate holding: from h when, for every t from h + 1 s to {OBSERVE:g} s after the command, the smart "
        f"numbers accepted in [h, t) are rate × (t − h) within {HOLD_TOLERANCE:.0%} + "
        f"{SMART_SEND_MAX_PARAMS} (one call); h on a {GRID:g} s grid; smart numbers/s from 1 s to "
        f"{OBSERVE:g} s after: "
        f"{median_of(r['rate down rate']):,.0f} (down), {median_of(r['rate up rate']):,.0f} (up), medians",
        f"cold start: whole-process wall time, {args.cold_runs} runs of each command ({CONSOLE!r} as the "
        "console script starts), each right after a run of python -c pass, so that both meet the same load "
        "(resume sets the campaign sending, rate runs while it sends); median (+ added: the median of each "
        "run less the bare run before it; submit: its runs above less the bare runs' median; CPU: the "
        f"process's user + system seconds, median); goal (issue 19): ≤ +{COLD_GOAL:g} s added to a bare "
        "interpreter",
        f"ledger: {all_exact(checks)} (the big campaign {checks[-1].state} at the end)",
    ]
    return Result("reactions: operator commands → the provider", COLUMNS, rows, notes)


def main(args: argparse.Namespace) -> None:
    machine = Machine.current()
    logs = args.cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    big = dataset(args.cache_dir, args.recipients, "csv", seed=300)
    rows = round(args.small / 0.93)  # the demo data: 5 % duplicates, 2 % invalid
    smalls = [dataset(args.cache_dir, rows, "csv", seed=SMALL_SEEDS + i) for i in range(args.repeat)]
    figures, checks = measure(args, big, smalls, logs)
    publish(table(args, figures, checks, checks[0].expected.total), machine, not args.no_record)
    if not all(check.exact for check in checks):
        raise SystemExit(f"the ledger breaks exactly-once: {all_exact(checks)}")


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(repeat=5)
    p.add_argument("--recipients", type=int, default=200_000, help="rows of the campaign paused and resumed")
    p.add_argument("--small", type=int, default=1_000, help="numbers of each small campaign submitted")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--lower", type=float, default=500.0, help="the smart rate set, then back to the cap")
    p.add_argument("--cold-runs", type=int, default=10, help="cold starts of each command")
    main(p.parse_args())


if __name__ == "__main__":
    cli()
