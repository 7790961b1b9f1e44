"""The campaign record in Redis: creation at submission, loading, and atomic state transitions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import WatchError

from engine.errors import StateError, StateLost
from engine.state import retention
from engine.store import keys
from engine.types import TERMINAL, CampaignState

if TYPE_CHECKING:
    from engine.ingest.spec import CampaignSpec

# Which states each command may leave from; anything else is a StateError naming both states.
ALLOWED_FROM: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.RUNNING: frozenset({CampaignState.SCHEDULED, CampaignState.PAUSED, CampaignState.RUNNING}),
    CampaignState.PAUSED: frozenset({CampaignState.RUNNING, CampaignState.SCHEDULED, CampaignState.PAUSED}),
    CampaignState.CANCELLED: frozenset(
        {CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED}
    ),
    CampaignState.COMPLETED: frozenset({CampaignState.RUNNING}),
    CampaignState.FAILED: frozenset(
        {CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.DRAFT}
    ),
}


def _spec_model() -> type[CampaignSpec]:
    """The spec model, imported on first decode: a state change (``koodispatch pause``) never decodes one,
    and building the pydantic model is a tenth of that command's start-up."""
    from engine.ingest.spec import CampaignSpec

    return CampaignSpec


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """What Redis knows about a campaign; ``counts`` are the import counts of the planner."""

    cid: str
    spec: CampaignSpec
    state: CampaignState
    batches: int
    counts: dict[str, int]
    generation: int
    created_at: float
    reason: str
    updated_at: float
    digest: str = ""  # of spec and recipient file, as submitted
    parent: str = ""  # the campaign this one resends to (``set_parent``); a trial's is in its id

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def _text(raw: dict[bytes, bytes], name: str, default: str = "") -> str:
    value = raw.get(name.encode())
    return value.decode() if value is not None else default


def decode_record(cid: str, raw: dict[bytes, bytes]) -> CampaignRecord:
    """Build a record from the campaign hash (HGETALL)."""
    return CampaignRecord(
        cid=cid,
        spec=_spec_model().model_validate_json(raw[b"spec"]),
        state=CampaignState(_text(raw, "state")),
        batches=int(_text(raw, "batches", "0")),
        counts=orjson.loads(raw.get(b"counts", b"{}")),
        generation=int(_text(raw, "generation", "0")),
        created_at=float(_text(raw, "created_at", "0")),
        reason=_text(raw, "reason"),
        updated_at=float(_text(raw, "updated_at", "0")),
        digest=_text(raw, "digest"),
        parent=_text(raw, "parent"),
    )


async def load(redis: aioredis.Redis, cid: str) -> CampaignRecord:
    """Load a campaign; StateError if unknown, StateLost if the record exists in name only.

    A campaign listed in the index whose record or epoch is gone means Redis lost data (restart without
    persistence): callers must stop rather than start the campaign again from zero.
    """
    raw: dict[bytes, bytes] = await redis.hgetall(keys.campaign(cid))  # type: ignore[misc]
    if not raw or b"spec" not in raw:
        if await redis.zscore(keys.CAMPAIGNS, cid) is not None:
            raise StateLost(f"campaign {cid}: its state is gone from Redis (restarted without persistence?)")
        raise StateError(f"unknown campaign {cid!r}")
    return decode_record(cid, raw)


async def batches_and_created(redis: aioredis.Redis, cid: str) -> tuple[int, float]:
    """A campaign's batch count and creation time, read without decoding its spec: all that ``resume``
    needs to put its batches back (the spec model costs a command a sizeable part of its start)."""
    raw = await redis.hmget(keys.campaign(cid), ["batches", "created_at"])  # type: ignore[misc]
    if raw[0] is None:
        await load(redis, cid)  # StateLost or StateError, as for a full load
    return int(raw[0]), float(raw[1] or 0)


async def set_parent(redis: aioredis.Redis, cid: str, parent: str) -> None:
    """Note that campaign ``cid`` was made from campaign ``parent`` (a resend), for its report's link."""
    await redis.hset(keys.campaign(cid), "parent", parent)  # type: ignore[misc]


async def ensure_alive(redis: aioredis.Redis, cid: str) -> None:
    """Raise StateLost when the campaign's epoch key vanished (Redis came back empty)."""
    if not await redis.exists(keys.epoch(cid)):
        raise StateLost(
            f"campaign {cid}: epoch key missing — Redis lost its data; refusing to start the campaign again"
        )


async def create(
    redis: aioredis.Redis,
    cid: str,
    spec: CampaignSpec,
    state: CampaignState,
    batches: int,
    counts: dict[str, int],
    reason: str = "",
    digest: str = "",
    window: int = 0,
    retention_days: float = retention.DEFAULT_DAYS,
) -> bool:
    """Write the record once; return False (and change nothing) if the campaign already exists.

    ``window`` is how many of its batch jobs are queued or running at once (``state/feeder.py``; 0 = the
    feeder's default); ``start_ms`` in the record holds its start time for the feeder;
    ``retention_days`` how long its per-number data is kept after it ended (``state/retention.py``).
    """
    now = time.time()
    start = spec.schedule.start_at
    fields: dict[str, Any] = {
        "spec": spec.model_dump_json(),
        "state": state.value,
        "batches": batches,
        "counts": orjson.dumps(counts),
        "generation": 0,
        "created_at": now,
        "updated_at": now,
        "reason": reason,
        "digest": digest,
        "name": spec.name,
        "start_ms": int(start.timestamp() * 1000) if start is not None else 0,
        "retention_days": retention_days,
    }
    if window:
        fields["window"] = window
    key = keys.campaign(cid)
    async with redis.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            if await pipe.exists(key):
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(key, mapping=fields)
            pipe.set(keys.epoch(cid), str(now))
            pipe.zadd(keys.CAMPAIGNS, {cid: now})
            await pipe.execute()
        except WatchError:
            return False
    return True


async def transition(
    redis: aioredis.Redis,
    cid: str,
    target: CampaignState,
    reason: str = "",
    bump_generation: bool = False,
    generation: int | None = None,
) -> CampaignState:
    """Atomically move a campaign to ``target``; return the previous state.

    Raises StateError when the move is not allowed from the current state (e.g. resume of a completed
    campaign), or when ``generation`` is given and the campaign has moved past it (a worker's verdict from
    before a resume must not pause the resumed campaign). Concurrent pause/resume/cancel serialise on WATCH:
    each either applies or retries.
    """
    key = keys.campaign(cid)
    while True:
        async with redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw_state, raw_generation = await pipe.hmget(key, ["state", "generation"])  # type: ignore[misc]
                if raw_state is None:
                    await load(redis, cid)  # raises the right error
                current = CampaignState(raw_state.decode())
                if current not in ALLOWED_FROM[target]:
                    raise StateError(f"campaign {cid} is {current.value}; cannot become {target.value}")
                if generation is not None and int(raw_generation or 0) != generation:
                    raise StateError(f"campaign {cid} was resumed since; not {target.value}")
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping={"state": target.value, "reason": reason, "updated_at": time.time()})
                if bump_generation:
                    pipe.hincrby(key, "generation", 1)
                await pipe.execute()
            except WatchError:
                continue
            if target in TERMINAL:
                await retention.expire_detail(redis, cid)
            return current


async def state_of(redis: aioredis.Redis, cid: str) -> CampaignState:
    """The current state, read on every control check (one HGET)."""
    raw = await redis.hget(keys.campaign(cid), "state")  # type: ignore[misc]
    if raw is None:
        await load(redis, cid)
        raise StateError(f"unknown campaign {cid!r}")
    return CampaignState(raw.decode())
