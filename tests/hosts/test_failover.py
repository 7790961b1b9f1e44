"""A Redis failover mid-campaign: ``kill -9`` of the primary, Sentinel promotes the replica, the workers go
on there by themselves, and the simulator's ledger shows every number sent exactly once
(``tests/hosts/failover.py``).

The replica is made to lag first: for 1.5 s before the kill, nothing the primary sends it arrives. So the
promoted replica lacks the primary's last writes, as asynchronous replication allows: calls admitted
meanwhile must not have been made (their in_flight marks were on no replica), and calls that ended
meanwhile are in flight again on the new primary and must be reconciled, not sent again.
"""

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
    run = await fail_over_mid_campaign(sentinel_cluster, tmp_path, 15_000, 41, kill_after=3_000, lag=1.5)
    assert_exact(sentinel_cluster.sim, run.truth, run.report)
    # while the replica lagged, and until the new primary had one, calls waited for a replica
    assert run.refused > 0, "no admission waited for a replica: the failover came too late to matter"
    # the calls that ended while it lagged: their ends were lost with the primary, found at the provider
    assert run.report.paths.get("reconciled", 0) > 0, f"nothing reconciled: {run.report.paths}"
    for log in run.logs:  # none took the promoted replica for a Redis that lost its data
        assert "Redis lost its data" not in log.read_text(), log
