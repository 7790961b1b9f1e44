"""Is the HTTP API fast enough beside a campaign at the provider's cap, and is the list cheap at 10,000?

    python benchmarks/service.py [--recipients 150000] [--seconds 20] [--campaigns 10000] [--no-record]

One private Redis, the simulator in its own process enforcing the provider's caps (smart 1,000 numbers/s,
SMS 1,000/s, 50–200 ms per answer), one real worker process, one real ``koodispatch serve`` process. A
campaign is submitted and sends at the smart cap; once it is steady (5 % of its smart numbers accepted):

  status        a load generator in its own process sends ``GET /campaigns/{id}/status`` at 500 requests/s
                from 50 concurrent clients (open loop: each request has a scheduled time, latency counts
                from it, so a stalled server cannot hide its queue) for ``--seconds``. Goal p99 ≤ 20 ms.
  events        200 SSE clients watch the campaign for ``--seconds``. Goal: every client gets an update at
                least once a second (its largest gap between two events ≤ 1 s).
  share of cap  during each phase, the campaign's smart numbers/s (simulator ledger) ÷ the cap. Goal ≥ 98 %.
  list          10,000 campaigns seeded in a second Redis DB (records as the planner writes them), a second
                serve process on it: the first page (50 rows) of ``GET /campaigns``, 200 times one after the
                other (the baseline 20 times). Goal ≤ 100 ms. The baseline is the same page filtered by a
                name no campaign has: it reads every record, which is what every page cost before the list
                read the index (``history.rows``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import aiohttp
import orjson
import redis
import uvloop
from _common import (
    bench_spec,
    child_argv,
    console,
    dataset,
    parser,
    report_to_parent,
    run_child,
    stopped_on_exit,
    wait_until,
)
from _report import Machine, Result, goal, percent, publish
from _sim import dataset_split, engine_env, sim_call, simulator_process, submit

from engine.cli.service import worker_processes
from engine.runtime.redis_server import RedisServer, free_port
from engine.runtime.settings import RateSettings
from engine.service.tokens import TokenStore
from engine.store import keys
from engine.store.connection import open_queue

T = TypeVar("T")
LATENCY_MS: Final = "50-200"
STATUS_RATE: Final = 500
STATUS_CLIENTS: Final = 50
SSE_CLIENTS: Final = 200
P99_GOAL_MS: Final = 20.0
GAP_GOAL_S: Final = 1.0
SHARE_GOAL: Final = 0.98
LIST_GOAL_MS: Final = 100.0
LIST_REQUESTS: Final = 200
BASELINE_REQUESTS: Final = 20  # each reads all 10,000 records
COLUMNS: Final = ["measure", "figure", "goal", "met", "share of cap meanwhile", "≥ 98 %"]


# -- the measuring children (their own processes: they must not share a loop with what they measure) ---


async def status_load(url: str, token: str, seconds: float) -> dict[str, Any]:
    """Open-loop GETs at STATUS_RATE from STATUS_CLIENTS clients; latency from each scheduled send time."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=STATUS_CLIENTS)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        start = time.perf_counter() + 0.5
        period = STATUS_CLIENTS / STATUS_RATE

        async def client(k: int) -> None:
            nonlocal errors
            due = start + k * period / STATUS_CLIENTS
            while due < start + seconds:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                async with http.get(url) as answer:
                    await answer.read()
                    errors += answer.status != 200
                latencies.append(time.perf_counter() - due)
                due += period

        await asyncio.gather(*(client(k) for k in range(STATUS_CLIENTS)))
    ordered = sorted(latencies)
    return {"requests": len(ordered), "errors": errors, "p50": ordered[len(ordered) // 2],
            "p99": ordered[int(len(ordered) * 0.99)], "max": ordered[-1],
            "rate": len(ordered) / seconds}  # fmt: skip


async def sse_watchers(url: str, token: str, seconds: float) -> dict[str, Any]:
    """SSE_CLIENTS streams for ``seconds``; each client's largest gap between events and its event count."""
    headers = {"Authorization": f"Bearer {token}"}

    async def watch(http: aiohttp.ClientSession) -> tuple[float, int]:
        arrivals: list[float] = []
        async with http.get(url) as stream:
            end = time.perf_counter() + seconds
            while (left := end - time.perf_counter()) > 0:
                try:
                    line = await asyncio.wait_for(stream.content.readline(), left)
                except TimeoutError:
                    break
                if line.startswith(b"data: "):
                    arrivals.append(time.perf_counter())
        gaps = [b - a for a, b in itertools.pairwise(arrivals)] or [seconds]
        return max(gaps), len(arrivals)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        found = await asyncio.gather(*(watch(http) for _ in range(SSE_CLIENTS)))
    gaps = sorted(gap for gap, _ in found)
    return {"clients": len(found), "worst_gap": gaps[-1], "median_gap": statistics.median(gaps),
            "fewest_events": min(n for _, n in found)}  # fmt: skip


async def list_pages(base: str, token: str) -> dict[str, Any]:
    """The first page LIST_REQUESTS times, then BASELINE_REQUESTS times with a filter that reads every
    record."""
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=headers) as http:
        sides = (("first page", "?limit=50", LIST_REQUESTS),
                 ("every record read", "?limit=50&name=zz-none", BASELINE_REQUESTS))  # fmt: skip
        for label, query, count in sides:
            times = []
            for _ in range(count):
                started = time.perf_counter()
                async with http.get(base + "/api/v1/campaigns" + query) as answer:
                    assert answer.status == 200, await answer.text()
                    await answer.read()
                times.append(time.perf_counter() - started)
            times.sort()
            out[label] = {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99)]}
    return out


WRK_SCRIPT: Final = """
function delay()
   return {delay}
end
"""


def status_wrk(url: str, token: str, seconds: float, work: Path) -> dict[str, Any] | None:
    """The same load from wrk (C, a fraction of the CPU of a Python client), each of STATUS_CLIENTS
    connections waiting 1/(STATUS_RATE/STATUS_CLIENTS) s between requests: latency from each send (wrk is
    closed loop). None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    script = work / "pace.lua"
    script.write_text(WRK_SCRIPT.format(delay=int(1000 * STATUS_CLIENTS / STATUS_RATE)))
    argv = ["wrk", "-t", "2", "-c", str(STATUS_CLIENTS), "-d", f"{seconds:g}s", "--latency",
            "-s", str(script), "-H", f"Authorization: Bearer {token}", url]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found = {m[0]: _wrk_seconds(m[1]) for m in re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": found["50"], "p99": found["99"], "rate": rate, "errors": int(errors[1]) if errors else 0}


def _wrk_seconds(text: str) -> float:
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * scale
    raise ValueError(f"wrk latency {text!r}")


def child(args: argparse.Namespace) -> None:
    kind, url, token = args.child, args.url, args.token
    work = {"status": lambda: status_load(url, token, args.seconds),
            "events": lambda: sse_watchers(url, token, args.seconds),
            "list": lambda: list_pages(url, token)}[kind]  # fmt: skip
    report_to_parent(uvloop.run(work()))


# -- the parent -----------------------------------------------------------------------------------------


@contextmanager
def serve_process(redis_url: str, env: dict[str, str], log: Path) -> Iterator[str]:
    """``koodispatch serve`` on a free loopback port; yields its base URL once it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--log-level", "WARNING"]
    with log.open("wb") as out, subprocess.Popen(argv, env={**env, "REDIS_URL": redis_url}, stdout=out,
                                                 stderr=out) as proc, stopped_on_exit(proc):  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), [proc], "serve to answer")
        yield base


def _healthy(base: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def smart_accepted(sim_url: str) -> tuple[float, int]:
    return time.monotonic(), int(sim_call(sim_url, "/_simulator/ledger")["smart"]["accepted"])


async def _token(url: str) -> str:
    client = redis.asyncio.Redis.from_url(url)
    try:
        return (await TokenStore(client).create("benchmark", "admin"))[0]
    finally:
        await client.aclose()


async def _submit(url: str, path: Path) -> str:
    queue = await open_queue(url)
    try:
        return (await submit(queue, bench_spec(), path)).cid
    finally:
        await queue.aclose()


def seed_campaigns(url: str, count: int) -> None:
    """``count`` finished campaigns as the planner and workers leave them: record, counters, index."""
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for k in range(count):
        cid, at = f"seeded-{k:05d}", now - count + k
        pipe.hset(keys.campaign(cid), mapping={
            "state": "completed", "created_at": at, "finished_at": at + 60, "updated_at": at + 60,
            "name": f"campaign {k}", "counts": orjson.dumps({"accepted": 5000}), "reason": ""})  # fmt: skip
        pipe.hset(keys.counters(cid), mapping={"sent:smart": 3500, "sent:sms": 1500, "failed": 0})
        pipe.zadd(keys.CAMPAIGNS, {cid: at})
    pipe.execute()
    client.close()


def phase(sim_url: str, measure: Callable[[], T]) -> tuple[T, float]:
    """Take one measurement; return it and the smart numbers/s the campaign sent meanwhile."""
    t0, n0 = smart_accepted(sim_url)
    found = measure()
    t1, n1 = smart_accepted(sim_url)
    return found, (n1 - n0) / (t1 - t0)


def main(args: argparse.Namespace) -> None:
    if args.child:
        child(args)
        return
    machine = Machine.current()
    data = dataset(args.cache_dir, args.recipients, "csv")
    logs = args.cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    caps = RateSettings()
    sim_caps = {"smart": caps.smart, "sms": caps.sms, "basic": caps.basic}
    server = RedisServer()
    server.start()
    try:
        with simulator_process(logs, sim_caps, LATENCY_MS) as sim:
            env = engine_env(sim.url, {"smart": caps.smart, "sms": caps.sms, "basic": caps.basic})
            expected = dataset_split(data, sim.url)
            sim_call(sim.url, "/_simulator/reset", {})
            campaign_db, list_db = server.url, server.url.rsplit("/", 1)[0] + "/1"
            with worker_processes(1, campaign_db, env, logs) as procs, \
                    serve_process(campaign_db, env, logs / "serve.log") as base:  # fmt: skip
                token = asyncio.run(_token(campaign_db))
                cid = asyncio.run(_submit(campaign_db, data.path))
                wait_until(
                    lambda: smart_accepted(sim.url)[1] > 0.05 * expected.smart, procs, "a steady campaign"
                )
                status_url = f"{base}/api/v1/campaigns/{cid}/status"
                common = ["--token", token, "--seconds", str(args.seconds)]
                paced, wrk_share = phase(sim.url, lambda: status_wrk(status_url, token, args.seconds, logs))
                console.print(f"status (wrk): {paced}", highlight=False)
                status_argv = child_argv(__file__, "--child", "status", "--url", status_url, *common)
                status, status_share = phase(sim.url, lambda: run_child(status_argv))
                console.print(f"status: {status}", highlight=False)
                events_url = f"{base}/api/v1/campaigns/{cid}/events"
                events_argv = child_argv(__file__, "--child", "events", "--url", events_url, *common)
                events, events_share = phase(sim.url, lambda: run_child(events_argv))
                console.print(f"events: {events}", highlight=False)
                if smart_accepted(sim.url)[1] >= expected.smart:
                    raise RuntimeError("the campaign ended before the phases did: give more --recipients")
            seed_campaigns(list_db, args.campaigns)
            with serve_process(list_db, env, logs / "serve-list.log") as base:
                listing = run_child(child_argv(__file__, "--child", "list", "--url", base, "--token",
                                               asyncio.run(_token(list_db))))  # fmt: skip
    finally:
        server.close()
    cap, ms, full = caps.smart, 1000.0, listing["every record read"]
    rows = [
        [f"GET status, open loop (aiohttp) at {status['rate']:.0f} req/s, {STATUS_CLIENTS} clients: "
         "p99 (p50, max)",
         f"{status['p99'] * ms:.1f} ms ({status['p50'] * ms:.1f}, {status['max'] * ms:.1f})",
         f"≤ {P99_GOAL_MS:g} ms", goal(status["p99"] * ms, P99_GOAL_MS),
         percent(status_share / cap), goal(status_share / cap, SHARE_GOAL, at_least=True)],
        [f"{SSE_CLIENTS} SSE clients: largest gap between updates (median client)",
         f"{events['worst_gap']:.2f} s ({events['median_gap']:.2f} s)", f"≤ {GAP_GOAL_S:g} s",
         goal(events["worst_gap"], GAP_GOAL_S), percent(events_share / cap),
         goal(events_share / cap, SHARE_GOAL, at_least=True)],
        [f"list of {args.campaigns:,}: first page p99 (p50)",
         f"{listing['first page']['p99'] * ms:.1f} ms ({listing['first page']['p50'] * ms:.1f})",
         f"≤ {LIST_GOAL_MS:g} ms", goal(listing["first page"]["p99"] * ms, LIST_GOAL_MS), "—", "—"],
        [f"list of {args.campaigns:,}: every record read (the old cost of a page) p99 (p50)",
         f"{full['p99'] * ms:.1f} ms ({full['p50'] * ms:.1f})",
         "baseline", "—", "—", "—"],
    ]  # fmt: skip
    if paced is not None:
        rows.insert(0, [
            f"GET status, wrk at {paced['rate']:.0f} req/s, {STATUS_CLIENTS} connections: p99 (p50)",
            f"{paced['p99'] * ms:.1f} ms ({paced['p50'] * ms:.1f})", f"≤ {P99_GOAL_MS:g} ms",
            goal(paced["p99"] * ms, P99_GOAL_MS), percent(wrk_share / cap),
            goal(wrk_share / cap, SHARE_GOAL, at_least=True)])  # fmt: skip
    notes = [
        f"{status['requests']:,} status requests over {args.seconds:g} s, {status['errors']} not 200; "
        "open loop: latency from each request's scheduled time; wrk: from each send (closed loop, each "
        f"connection pausing {1000 * STATUS_CLIENTS / STATUS_RATE:g} ms between requests), "
        f"{paced['errors'] if paced else '—'} not 2xx",
        f"{events['clients']} SSE clients, the fewest events one got: {events['fewest_events']} in "
        f"{args.seconds:g} s",
        f"simulator caps (numbers/s) {sim_caps}, latency {LATENCY_MS} ms; engine budgets the same; 1 worker, "
        f"1 serve process; {expected.smart:,} smart + {expected.sms:,} SMS numbers",
        f"list: {LIST_REQUESTS} requests of the first page ({BASELINE_REQUESTS} of the baseline), one at a "
        "time, 50 rows a page",
    ]
    publish(Result("service: the HTTP API beside a campaign at the cap", COLUMNS, rows, notes), machine,
            not args.no_record)  # fmt: skip


def cli() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=150_000, help="rows in the campaign's recipient file")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the status and events phases")
    p.add_argument("--campaigns", type=int, default=10_000, help="campaigns seeded for the list")
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    main(p.parse_args())


if __name__ == "__main__":
    cli()
