"""arq's Worker, adapted where its defaults would let one campaign or one crash block the rest.

Two of arq's choices are replaced. A started job is keyed "in progress" for the longest job timeout plus
10 s, and arq starts nothing under such a key, so a killed worker's job would stay blocked for an hour:
here the key lasts a visibility (the job leaves the queue right after it starts, ``workers/upkeep.py``;
the key only covers a worker killed in between). And arq starts whatever job comes first in its queue, so
one campaign's batches could take every slot of a worker: here a worker runs at most ``per_campaign``
batch jobs of one campaign at once, and leaves the rest of its slots to other campaigns.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from arq import worker

from engine.state.jobs import campaign_of_job


class Worker(worker.Worker):
    """An arq worker with a short in-progress key and a per-campaign share of its job slots."""

    def __init__(self, *, per_campaign: int, in_progress_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_progress_timeout_s = in_progress_seconds
        self.per_campaign = per_campaign

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Start the jobs of ``job_ids`` (arq's poll order) that keep every campaign within its share."""
        running = Counter(campaign_of_job(job) for job, task in self.tasks.items() if not task.done())
        chosen = []
        for raw in job_ids:
            cid = campaign_of_job(raw.decode())
            if cid is not None:
                if running[cid] >= self.per_campaign:
                    continue
                running[cid] += 1
            chosen.append(raw)
        await super().start_jobs(chosen)
