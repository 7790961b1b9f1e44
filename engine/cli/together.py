"""``koodispatch demo --campaigns N``: several campaigns of three classes sharing one account's caps, live.

A big ``bulk`` campaign and ``normal`` ones start together and share the smart budget by class and weight;
a small ``urgent`` one arrives a few seconds later and takes the budget at once, leaving the others their
minimum share until it is done. The board (``engine/cli/board.py``) shows each one's rate and share.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rich.table import Table

from engine.cli.board import board
from engine.cli.common import console, queue, run, settings
from engine.types import CampaignState

URGENT_AFTER: Final = 4.0  # seconds after the others that the urgent campaign is submitted


@dataclass(frozen=True, slots=True)
class Lineup:
    """One campaign of the demo: its name, class, weight, size and when it is submitted."""

    name: str
    priority: str
    weight: int
    rows: int
    after: float = 0.0

    def spec(self, base: str) -> str:
        """``base`` (the single demo's spec) under this campaign's name, with its ``[budget]``."""
        named = base.replace('name = "demo"', f'name = "{self.name}"', 1)
        return f'{named}\n[budget]\npriority = "{self.priority}"\nweight = {self.weight}\n'


def lineup(count: int, rows: int) -> list[Lineup]:
    """``count`` campaigns (≥ 2): a bulk one of ``rows``, normal ones of half that with weights 1, 2, …,
    and a small urgent one submitted last."""
    normals = [Lineup(f"normal-{k + 1}", "normal", k + 1, max(rows // 2, 10)) for k in range(count - 2)]
    urgent = Lineup("urgent", "urgent", 1, max(rows // 20, 10), after=URGENT_AFTER)
    return [Lineup("bulk", "bulk", 1, rows), *normals, urgent]


def summary(rows: list[tuple[Lineup, str, dict[str, int], str]]) -> Table:
    """What each campaign sent, per channel, and how it ended."""
    grid = Table("campaign", "class", "smart", "sms", "basic", "state", "id")
    for plan, cid, sent, state in rows:
        cells = (f"{sent.get(c, 0):,}" for c in ("smart", "sms", "basic"))
        grid.add_row(plan.name, f"{plan.priority} ×{plan.weight}", *cells, state, cid)
    return grid


def demo_campaigns(
    count: int,
    rows: int,
    workers: int,
    base_spec: str,
    env: Mapping[str, str],
    beside: Callable[[str], AbstractContextManager[object]] | None = None,
) -> int:
    """Generate, submit and run ``count`` campaigns with ``workers`` local workers on a private Redis (or
    ``REDIS_URL``), showing the board until every one has ended; 0 when all completed. ``beside(url)`` runs
    along on that Redis from before the first submission (the demo's web console)."""
    from engine import api
    from engine.cli.service import worker_processes
    from engine.ingest.demo_data import generate_recipients
    from engine.runtime.redis_server import redis_url_or_private

    workdir = Path(tempfile.mkdtemp(prefix="koodispatch-demo-"))
    plans = lineup(count, rows)
    for seed, plan in enumerate(plans):
        generate_recipients(workdir / f"{plan.name}.csv", plan.rows, seed=seed)
        (workdir / f"{plan.name}.toml").write_text(plan.spec(base_spec), encoding="utf-8")
        console.print(f"{plan.name}: {plan.rows:,} rows, {plan.priority} ×{plan.weight}", highlight=False)
    cfg = settings()
    with redis_url_or_private(cfg.redis_address, appendonly=True) as url:
        logs = workdir / "logs"
        logs.mkdir()
        with (
            beside(url) if beside is not None else contextlib.nullcontext(),
            worker_processes(workers, url, env, logs),
        ):

            async def go() -> list[tuple[Lineup, str, dict[str, int], str]]:
                async with queue(url) as redis:
                    cids: list[str] = []

                    async def submit(plan: Lineup) -> None:
                        await asyncio.sleep(plan.after)
                        spec, data = workdir / f"{plan.name}.toml", workdir / f"{plan.name}.csv"
                        result = await api.submit_campaign(spec, recipients=data, settings=cfg, redis=redis)
                        cids.append(result.cid)

                    submitting = asyncio.gather(*(submit(plan) for plan in plans))
                    while True:  # the board ends when those shown have ended: again until all were shown
                        shown = await board(redis, cids, follow=True) if cids else []
                        if submitting.done():
                            submitting.result()  # a refused submission ends the demo with its error
                            if len(shown) == len(plans):
                                break
                        await asyncio.sleep(0.2)
                    by_cid = {row.cid: row for row in shown}
                    names = {row.name: row.cid for row in shown}
                    return [
                        (plan, cid, by_cid[cid].report.sent, by_cid[cid].report.state)
                        for plan in plans
                        for cid in [names[plan.name]]
                    ]

            outcome = run(go)
    console.print(summary(outcome))
    console.print(f"[dim]files and worker logs: {workdir}[/]", highlight=False)
    return 0 if all(state == CampaignState.COMPLETED.value for *_, state in outcome) else 1
