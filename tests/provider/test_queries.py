"""Every paged list of KooMessageQueries with each of its filters, against the real simulator.

Each case calls one ``list_*`` method with filters that all match one seeded row (of several), then again
with one filter at a time changed to a value that matches nothing: the row must go, so every filter reaches
the provider under its name (times converted to UTC).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.provider import LinkParam, Page
from engine.simulator import RunningSimulator
from engine.simulator.templates import DEMO_BASIC_TPL_ID, DEMO_PORT, DEMO_SMART_TPL_ID
from tests.provider.clients import CHANNEL, NUMBERS, Clients, smart_params

Filters = dict[str, object]
NO_TPL = "999999999"


@dataclass(frozen=True)
class Seeded:
    """Two smart sends, two basic-edition sends and two resolve tasks, made between ``begin`` and ``end``."""

    smart: str
    basic: str
    links: str
    begin: datetime  # aware, UTC+8
    end: datetime  # naive, taken as UTC
    day: str  # the report periods of the sends
    month: str


@dataclass(frozen=True)
class Case:
    """``method(**hits(seeded))`` lists exactly ``expected(seeded)`` (each item projected by ``item``)."""

    name: str
    method: str
    hits: Callable[[Seeded], Filters]
    misses: Filters  # per filter, a value matching nothing
    item: Callable[[Any], object]
    expected: Callable[[Seeded], list[object]]


def window(seeded: Seeded) -> Filters:
    return {"begin_time": seeded.begin, "end_time": seeded.end}


# a window that starts after the seeds were made, one that ends before
WINDOW_MISSES: Filters = {"begin_time": datetime(2100, 1, 1, tzinfo=UTC), "end_time": datetime(2000, 1, 1)}


def task_id(item: Any) -> object:
    return item.task_id


def cust_flag(item: Any) -> object:
    return item.cust_flag


def tpl_id(item: Any) -> object:
    return item.tpl_id


def template_case(kind: str, tpl: str, name_part: str) -> Case:
    """``list_<kind>_templates`` by id and by a part of the name, the demo template of ``kind``."""
    hits = {"tpl_id": tpl, "tpl_name": name_part}
    misses = {"tpl_id": NO_TPL, "tpl_name": "no such name"}
    return Case(
        f"{kind}_templates", f"list_{kind}_templates", lambda s: hits, misses, tpl_id, lambda s: [tpl]
    )


CASES = [
    Case(
        "aim_send_tasks",
        "list_aim_send_tasks",
        lambda s: {
            "task_name": "q:smart:0",
            "task_id": s.smart,
            "tpl_id": DEMO_SMART_TPL_ID,
            "task_status": "Success",
            **window(s),
        },
        {"task_name": "q:none", "task_id": "0", "tpl_id": NO_TPL, "task_status": "Fail", **WINDOW_MISSES},
        task_id,
        lambda s: [s.smart],
    ),
    Case(
        "aim_send_details",
        "list_aim_send_details",
        lambda s: {"task_id": s.smart, "cust_flag": NUMBERS[1], "tpl_id": DEMO_SMART_TPL_ID, **window(s)},
        {"task_id": "0", "cust_flag": NUMBERS[4], "tpl_id": NO_TPL, **WINDOW_MISSES},
        cust_flag,
        lambda s: [NUMBERS[1]],
    ),
    Case(
        "aim_send_reports_daily",
        "list_aim_send_reports",
        lambda s: {"tpl_id": DEMO_SMART_TPL_ID, **window(s)},
        {"tpl_id": NO_TPL, **WINDOW_MISSES},
        lambda r: (r.report_time, r.tpl_id, r.submission_count, r.send_count),
        lambda s: [(s.day, DEMO_SMART_TPL_ID, 5, 5)],
    ),
    Case(
        "aim_send_reports_monthly",
        "list_aim_send_reports",
        lambda s: {"report_type": "2", "tpl_id": DEMO_SMART_TPL_ID, **window(s)},
        {"tpl_id": NO_TPL},
        lambda r: (r.report_time, r.tpl_id, r.send_count),
        lambda s: [(s.month, DEMO_SMART_TPL_ID, 5)],
    ),
    Case(
        "resolve_tasks",
        "list_resolve_tasks",
        lambda s: {"task_id": s.links, "tpl_id": DEMO_SMART_TPL_ID, **window(s)},
        {"task_id": "0", "task_name": "q:none", "tpl_id": NO_TPL, **WINDOW_MISSES},
        task_id,
        lambda s: [s.links],
    ),
    Case(
        "resolve_details",
        "list_resolve_details",
        lambda s: {"task_id": s.links, "cust_flag": "q-link-1", "resolved_status": "unresolved", **window(s)},
        {"task_id": "0", "cust_flag": "q-link-9", "resolved_status": "success", **WINDOW_MISSES},
        lambda d: (d.task_id, d.cust_flag, d.resolved_status),
        lambda s: [(s.links, "q-link-1", "unresolved")],
    ),
    Case(
        "vms_send_tasks",
        "list_vms_send_tasks",
        lambda s: {
            "task_name": "q:basic:0",
            "task_id": s.basic,
            "tpl_id": DEMO_BASIC_TPL_ID,
            "task_status": "processing",
            **window(s),
        },
        {
            "task_name": "q:none",
            "task_id": "0",
            "tpl_id": NO_TPL,
            "task_status": "sending_complete",
            **WINDOW_MISSES,
        },
        lambda t: (t.task_id, t.total_count, t.exdata),
        lambda s: [(s.basic, 2, "q:basic:0")],
    ),
    template_case("aim", DEMO_SMART_TPL_ID, "demo"),
    template_case("vms", DEMO_BASIC_TPL_ID, "video"),
    Case(
        "port_infos",
        "list_port_infos",
        lambda s: {"port": DEMO_PORT},
        {"port": "10690009"},
        lambda p: p.port,
        lambda s: [DEMO_PORT],
    ),
]


@pytest.fixture
async def seeded(clients: Clients, simulator: RunningSimulator) -> Seeded:
    simulator.update_config({"callbacks": {"delay_ms": [600_000, 600_000]}})  # basic tasks stay "processing"
    begin = datetime.now(timezone(timedelta(hours=8))) - timedelta(hours=1)
    smart = await clients.km.create_aim_send_task(
        "q:smart:0", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[:3])
    )
    await clients.km.create_aim_send_task("q:smart:1", CHANNEL, DEMO_SMART_TPL_ID, smart_params(NUMBERS[3:5]))
    basic = await clients.km.create_vms_send_task(
        "q:basic:0", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[:2], params=["a"], exdata="q:basic:0"
    )
    await clients.km.create_vms_send_task("q:basic:1", DEMO_BASIC_TPL_ID, mobiles=NUMBERS[2:5], params=["b"])
    links = await clients.km.create_resolve_task(
        DEMO_SMART_TPL_ID, ["华为云"], [LinkParam(f"q-link-{i}", {"name": "a"}) for i in range(2)]
    )
    await clients.km.create_resolve_task(
        DEMO_SMART_TPL_ID, ["华为云"], [LinkParam("q-link-2", {"name": "b"})]
    )
    made = time.gmtime()
    end = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
    return Seeded(
        smart.task_id,
        basic.task_id,
        links.task_id,
        begin,
        end,
        time.strftime("%Y-%m-%dT00:00:00Z", made),
        time.strftime("%Y-%m-01T00:00:00Z", made),
    )


async def listed(clients: Clients, method: str, filters: Filters) -> Page[Any]:
    found: Page[Any] = await getattr(clients.km, method)(offset=0, limit=50, **filters)
    assert (found.offset, found.limit) == (0, 50)
    assert found.total == len(found.items)
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
async def test_filters_that_all_match_list_the_seeded_row(
    clients: Clients, seeded: Seeded, case: Case
) -> None:
    found = await listed(clients, case.method, case.hits(seeded))
    assert [case.item(item) for item in found.items] == case.expected(seeded)


@pytest.mark.parametrize(
    ("case", "name"),
    [pytest.param(case, name, id=f"{case.name}-{name}") for case in CASES for name in case.misses],
)
async def test_each_filter_reaches_the_provider(
    clients: Clients, seeded: Seeded, case: Case, name: str
) -> None:
    found = await listed(clients, case.method, {**case.hits(seeded), name: case.misses[name]})
    assert found.items == ()


@pytest.mark.parametrize("method", sorted({case.method for case in CASES}))
async def test_an_unknown_filter_is_refused(clients: Clients, method: str) -> None:
    """A misspelt filter would widen the list (a reconciliation finding the wrong task): refused instead."""
    times = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z") if method == "list_aim_send_reports" else ()
    with pytest.raises(TypeError, match="unexpected keyword argument 'task_nme'"):
        await getattr(clients.km, method)(*times, task_nme="q:smart:0")
