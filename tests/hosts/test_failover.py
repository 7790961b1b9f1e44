"""A Redis failover mid-campaign: ``kill -9`` of the primary, Sentinel promotes the replica, the workers go
on there by themselves, and the simulator's ledger shows every number sent exactly once
(``tests/hosts/failover.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dispatch.crashes import assert_exact
from tests.hosts.conftest import Cluster
from tests.hosts.failover import fail_over_mid_campaign

pytestmark = pytest.mark.slow


async def test_the_primary_killed_mid_campaign_fails_over_and_nothing_is_sent_twice_or_lost(
    tmp_path: Path, sentinel_cluster: Cluster
) -> None:
    run = await fail_over_mid_campaign(sentinel_cluster, tmp_path, 15_000, 41, kill_after=3_000)
    assert_exact(sentinel_cluster.sim, run.truth, run.report)
    # the new primary had no replica at first: calls waited for one rather than risk a mark it could lose
    assert run.refused > 0, "no admission waited for a replica: the failover came too late to matter"
    for log in run.logs:  # none took the promoted replica for a Redis that lost its data
        assert "Redis lost its data" not in log.read_text(), log
