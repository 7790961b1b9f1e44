"""Every Redis key koodispatch uses, in one place.

Keys of one campaign share the hash tag ``{cid}`` so that a Redis Cluster keeps a campaign on one slot.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "kd"
QUEUE: Final = "kd:queue"  # the arq queue of batch jobs
CAMPAIGNS: Final = "kd:campaigns"  # sorted set: campaign id -> submission time
SUPPRESSION: Final = "kd:suppression"  # set of opted-out numbers (11-digit strings)
CONTROL_CHANNEL: Final = "kd:control"  # pub/sub: control changes broadcast to workers
RUNNING: Final = "kd:running"  # hash "<cid>:<batch>" -> lease token of the last run that took it
RUNNING_JOBS: Final = "kd:jobs:running"  # sorted set: arq job id -> visibility deadline (ms, Redis time)
TENANTS: Final = "kd:tenants"  # hash: campaign id -> "rank weight", "<cid>:<channel>" -> its own cap
FEEDING: Final = "kd:feeding"  # sorted set: campaign id -> submission time, while its batches are dispensed
INSTANCE: Final = "kd:instance"  # random id set once per Redis dataset; a change means Redis lost its data
RECEIPT_STATS: Final = "kd:receipts:stats"  # hash: receipts received, recorded, duplicate, unmatched, ...
RECEIPTS_ALIVE: Final = (
    "kd:receipts:alive"  # string with a TTL: a receipts service is running (its heartbeat)
)
RECEIPTS_READY: Final = (
    "kd:receipts:ready"  # hash: task id -> "<chunk ref> <unix s>", mapped tasks whose early receipts wait
)
CONTACTS: Final = f"{PREFIX}:fc:"  # + "<UTC day>:<bucket>": hash, number -> its contacts that day
CAP_CACHE: Final = f"{PREFIX}:caplist:"  # + UTC day number: list of packed verdict records
API_TOKENS: Final = "kd:api:tokens"  # hash: sha256 of an API token -> orjson {id, name, role, created_at}
AUDIT: Final = "kd:audit"  # stream: every state change made through the HTTP API (who, when, what, where)


def reach(day: int, bucket: int) -> str:
    """String of 3-byte records: numbers submitted on UTC day ``day`` in ``bucket`` (``state/reached.py``)."""
    return f"{PREFIX}:reach:{day}:{bucket}"


def campaign(cid: str) -> str:
    """Hash: spec, state, counts of import, batch total, timestamps."""
    return f"{PREFIX}:{{{cid}}}:campaign"


def claim(cid: str) -> str:
    """String: the digest of the submission writing this campaign's batches now (expires)."""
    return f"{PREFIX}:{{{cid}}}:claim"


def epoch(cid: str) -> str:
    """Written at submission; its absence under a known job means Redis lost the campaign."""
    return f"{PREFIX}:{{{cid}}}:epoch"


def batch(cid: str, number: int) -> str:
    """Hash of one frozen batch: packed numbers and per-number template parameters."""
    return f"{PREFIX}:{{{cid}}}:batch:{number}"


def journal(cid: str, number: int) -> str:
    """Hash of one batch's provider calls: ``<stage>:<chunk>`` -> orjson chunk record."""
    return f"{PREFIX}:{{{cid}}}:journal:{number}"


def contact_decision(cid: str, number: int) -> str:
    """String: which numbers of batch ``number`` are at a contact-frequency limit ('0'/'1' each)."""
    return f"{PREFIX}:{{{cid}}}:contacts:{number}"


def verdicts(cid: str, number: int) -> str:
    """String of one byte per number of a batch: the frozen capability verdicts."""
    return f"{PREFIX}:{{{cid}}}:verdicts:{number}"


def counters(cid: str) -> str:
    """Hash of campaign counters (capable, sent:smart, failed, failed:<reason> ...)."""
    return f"{PREFIX}:{{{cid}}}:counters"


def failed(cid: str) -> str:
    """Hash number -> orjson {channel, reason} of every number that could not be sent."""
    return f"{PREFIX}:{{{cid}}}:failed"


def delivery(cid: str, number: int, channel: str) -> str:
    """String of one batch's status reports on ``channel``: one byte per batch position, 0 none yet, 1
    delivered, else the undelivered status's code in ``statuses`` (``engine/state/delivery.py``)."""
    return f"{PREFIX}:{{{cid}}}:delivery:{number}:{channel}"


def resolved(cid: str, number: int) -> str:
    """String of one batch's short-link resolve receipts: one byte per batch position, 1 once resolved."""
    return f"{PREFIX}:{{{cid}}}:resolved:{number}"


def statuses(cid: str) -> str:
    """Hash: undelivered status -> its one-byte code in the campaign's ``delivery`` strings."""
    return f"{PREFIX}:{{{cid}}}:statuses"


def late(cid: str, number: int) -> str:
    """String: the frozen batch indices (uint16 each) that get the fallback after a smart non-delivery."""
    return f"{PREFIX}:{{{cid}}}:late:{number}"


def task(task_id: str) -> str:
    """String: provider task id -> chunk reference, so receipts that carry only a task id find their batch."""
    return f"{PREFIX}:task:{task_id}"


def pending_receipts(task_id: str) -> str:
    """List: receipts of a task that came before its chunk was journaled; recorded by the receipts service
    once it is (``RECEIPTS_READY``, ``engine/receipts/early.py``)."""
    return f"{PREFIX}:task:{task_id}:pending"


def awaiting(cid: str) -> str:
    """Sorted set ``<batch>/<stage>:<chunk>`` -> due (unix s): plain-SMS chunks whose answer was lost,
    awaiting their status reports (``engine/dispatch/settle.py``); the campaign completes when it is empty."""
    return f"{PREFIX}:{{{cid}}}:awaiting"


def awaiting_indices(cid: str) -> str:
    """Hash: awaiting member -> the chunk's batch indices (uint16 each), to resend it without re-planning."""
    return f"{PREFIX}:{{{cid}}}:awaiting:indices"


def backlog(cid: str) -> str:
    """Sorted set: batch -> batch, the batches not yet dispensed as jobs (``state/feeder.py``)."""
    return f"{PREFIX}:{{{cid}}}:backlog"


def dispensed(cid: str) -> str:
    """Sorted set: arq job id -> batch, the campaign's batch jobs queued or running now."""
    return f"{PREFIX}:{{{cid}}}:dispensed"


def batches_done(cid: str) -> str:
    """Set of batch numbers whose every stage is done or failed."""
    return f"{PREFIX}:{{{cid}}}:batches_done"


def lease(cid: str, number: int) -> str:
    """String: the worker currently running a batch, with a TTL renewed by its heartbeat."""
    return f"{PREFIX}:{{{cid}}}:lease:{number}"


def events(cid: str) -> str:
    """Stream of campaign events (state changes, per-minute send counts) for status and reports."""
    return f"{PREFIX}:{{{cid}}}:events"


def audit(cid: str) -> str:
    """Stream: the audit entries of one campaign (a copy of those in ``AUDIT`` that name it)."""
    return f"{PREFIX}:{{{cid}}}:audit"


def idempotency(key_digest: str) -> str:
    """String: a campaign creation's ``Idempotency-Key`` -> orjson {body digest, campaign id} (expires)."""
    return f"{PREFIX}:api:idem:{key_digest}"


def api_session(session_digest: str) -> str:
    """String: a console session (SHA-256 of its cookie) -> orjson {token digest, csrf} (expires)."""
    return f"{PREFIX}:api:session:{session_digest}"


def rate(channel: str) -> str:
    """Hash of a channel's GCRA state (tat) and live settings (rate, burst, throttle factor)."""
    return f"{PREFIX}:rate:{{{channel}}}"


def rate_buckets(channel: str) -> str:
    """Hash of each campaign's own bucket on a channel: ``<cid>:t`` (its tat), ``<cid>:a`` (the share it was
    charged at), ``<cid>:c`` (the tat of its own cap)."""
    return f"{PREFIX}:rate:{{{channel}}}:buckets"


def rate_active(channel: str) -> str:
    """Sorted set of the campaigns asking for a channel's budget, scored by when they last asked."""
    return f"{PREFIX}:rate:{{{channel}}}:active"


def in_flight(channel: str) -> str:
    """Sorted set of in-flight call tokens of a channel, scored by their expiry time."""
    return f"{PREFIX}:inflight:{{{channel}}}"


def timeline(cid: str) -> str:
    """Hash ``<unix second>:<channel>`` -> numbers accepted in the 10-second bucket starting then (rates)."""
    return f"{PREFIX}:{{{cid}}}:timeline"
