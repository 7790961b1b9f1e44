"""A campaign's place in line (``koodispatch status``): its share of each channel next to the campaigns
asking with it, computed by the admission's own script, and its batches on the way to a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from arq.connections import ArqRedis

from engine import api
from engine.budget import tenants
from engine.budget.standing import channel_share, standing
from engine.budget.tenants import Tenant
from engine.runtime.settings import RateSettings, load_settings
from tests.budget.limiters import MakeLimiter
from tests.processes import spec
from tests.specs import write

SHARED = RateSettings(smart=1000.0, max_in_flight=1000, min_share=0.05)


async def test_shares_are_the_admissions_and_say_what_holds_a_campaign_back(
    arq_redis: ArqRedis, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(SHARED)
    await limiter.set_rate("smart", 1000.0)
    for cid, tenant in {
        "alert": Tenant("urgent"),
        "big": Tenant("normal", 3.0),
        "small": Tenant("normal", 1.0),
        "promo": Tenant("bulk"),
        "capped": Tenant("bulk", caps={"smart": 10.0}),
    }.items():
        await tenants.register(arq_redis, cid, tenant)
        await limiter._admit("smart", 1, f"token-{cid}", None, cid)  # asking now, as a batch would
    share = await channel_share(arq_redis, "smart")
    given = {s.cid: s.rate for s in share.sharers}
    # urgent first; each lower class keeps 5 %: normal 50 split 3:1, bulk 50 of which the capped one 10
    assert given == pytest.approx({"alert": 900, "big": 37.5, "small": 12.5, "promo": 40, "capped": 10})
    assert share.sharers[0].priority == "urgent"
    assert share.note("big") == "smart 4% (normal: the minimum share while 1 urgent campaign sends)"
    assert share.note("alert") == "smart 90% (urgent, weight 1, with 4 others)"
    assert (await standing(arq_redis, "promo")).shares["smart"].of("promo") is not None
    assert (await standing(arq_redis, "nobody")).shares == {}


async def test_batches_on_the_way_and_the_jobs_ahead(tmp_path: Path, arq_redis: ArqRedis) -> None:
    settings = load_settings(dispatch={"batch_size": 10, "campaign_window": 4})
    for name, count in (("first", 30), ("second", 70)):
        path = write(
            tmp_path / f"{name}.csv",
            {"mobile": [str(13_800_000_000 + i) for i in range(count)], "name": ["x"] * count},
        )
        await api.submit_campaign(
            {**spec("skip"), "name": name},
            redis=arq_redis,
            recipients=path,
            settings=settings,
            preflight=False,
        )
    first, second = [r.cid for r in await api.list_campaigns(redis=arq_redis)][::-1]
    mine = await standing(arq_redis, second)
    assert (mine.queued, mine.running, mine.backlog, mine.ahead) == (4, 0, 3, 3)
    assert mine.note(second) == "0 batches running, 4 queued behind 3 of other campaigns, 3 waiting"
    theirs = await standing(arq_redis, first)
    assert (theirs.queued, theirs.backlog, theirs.ahead) == (3, 0, 0)
