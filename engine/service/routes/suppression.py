"""The shared suppression list: page through, search a number, add, remove, import a file, export.

Numbers travel in bodies, never in URLs (proxies log URLs); the audit log keeps them masked.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, Field

import engine.api as api
from engine.service import audit
from engine.service.models import Changed, NumberQuery, Numbers, Suppressed, SuppressionPage, SuppressionQuery
from engine.service.operations import Call
from engine.service.problems import HttpProblem
from engine.service.routes import API
from engine.service.tokens import Role
from engine.service.uploads import multipart, stream_to
from engine.state import suppression
from engine.store import keys

admin = partial(API.op, role=Role.ADMIN, tag="suppression")


class SuppressionFile(BaseModel):
    file: bytes = Field(description="opted-out numbers: .txt one a line, or .csv with a mobile column")


@admin("GET", "/suppression", summary="Page through the suppression list", query=SuppressionQuery,
       answer=SuppressionPage)  # fmt: skip
async def list_suppressed(call: Call[SuppressionQuery, Any]) -> SuppressionPage:
    numbers, following = await suppression.page(call.services.redis, call.query.cursor, call.query.limit)
    return SuppressionPage(numbers=numbers, next_cursor=following or None)


@admin("POST", "/suppression/search", summary="Is a number on the suppression list?", body=NumberQuery,
       answer=Suppressed)  # fmt: skip
async def search_suppressed(call: Call[Any, NumberQuery]) -> Suppressed:
    return Suppressed(suppressed=await api.suppressed(call.body.number, redis=call.services.redis))


@admin("POST", "/suppression", summary="Add numbers to the suppression list", body=Numbers, answer=Changed)
async def add_suppressed(call: Call[Any, Numbers]) -> Changed:
    added = await api.suppress(call.body.numbers, redis=call.services.redis)
    await audit.record(call.services.redis, call.who, "suppress", "",
                       {"numbers": call.body.numbers, "added": added})  # fmt: skip
    return Changed(changed=added)


@admin("POST", "/suppression/remove", summary="Take numbers off the suppression list", body=Numbers,
       answer=Changed)  # fmt: skip
async def remove_suppressed(call: Call[Any, Numbers]) -> Changed:
    redis = call.services.redis
    for number in call.body.numbers:
        suppression.number_of(number)  # every number checked before the first change
    removed = sum([await api.unsuppress(number, redis=redis) for number in call.body.numbers])
    await audit.record(redis, call.who, "unsuppress", "", {"numbers": call.body.numbers, "removed": removed})
    return Changed(changed=removed)


@admin("POST", "/suppression/import", summary="Add the numbers of a file to the suppression list",
       form=SuppressionFile, answer=Changed)  # fmt: skip
async def import_suppressed(call: Call[Any, Any]) -> Changed:
    request, limits = call.request, call.services.limits
    part = await (await multipart(request, "file")).next()
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise HttpProblem(422, "expected one part named 'file'")
    suffix = Path(part.filename or "").suffix.lower()
    if suffix not in (".txt", ".csv"):
        raise HttpProblem(422, "file: a .txt or .csv file, named so")
    with tempfile.TemporaryDirectory(dir=limits.upload_dir) as work:
        path = Path(work) / f"suppression{suffix}"
        await stream_to(part, path, limits.max_upload_bytes)
        added = await api.import_suppression(path, redis=call.services.redis)
    await audit.record(call.services.redis, call.who, "suppression-import", "", {"added": added})
    return Changed(changed=added)


@admin("GET", "/suppression/export", summary="Download the suppression list, one number a line",
       media="text/plain", answer=str)  # fmt: skip
async def export_suppressed(call: Call[Any, Any]) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/plain; charset=utf-8",
        "Content-Disposition": 'attachment; filename="suppression.txt"',
    })  # fmt: skip
    await response.prepare(call.request)
    cursor = None
    while cursor != 0:  # SSCAN pages, each written as it comes: the list is never held whole
        cursor, found = await call.services.redis.sscan(keys.SUPPRESSION, cursor or 0, count=5000)
        await response.write(b"".join(number + b"\n" for number in found))
    await audit.record(call.services.redis, call.who, "suppression-export")
    await response.write_eof()
    return response
