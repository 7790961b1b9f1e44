"""Live events as Server-Sent Events: one campaign's progress and state, or the whole list's."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from engine.service.events import LIST_TOPIC
from engine.service.models import PATH_PARAMS
from engine.service.operations import Call
from engine.service.routes import API
from engine.service.routes.common import known_campaign
from engine.service.tokens import Role

watch = partial(API.op, role=Role.VIEWER, tag="events", media="text/event-stream", answer=str)
RETRY_MS = 2000  # how soon a browser's EventSource reconnects (with Last-Event-ID) after a drop


async def _stream(call: Call[Any, Any], topic: str) -> web.StreamResponse:
    """Send the topic's events until the client goes away."""
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })  # fmt: skip
    await response.prepare(call.request)
    await response.write(b"retry: %d\n\n" % RETRY_MS)
    async with call.services.hub.watch(topic) as events:
        try:
            while True:
                await response.write((await events.get()).encode())
        except ConnectionResetError:  # the client went away: the usual end of a stream
            return response


@watch("GET", "/events", summary="Live changes of the campaign list (SSE)")
async def list_events(call: Call[Any, Any]) -> web.StreamResponse:
    return await _stream(call, LIST_TOPIC)


@watch("GET", "/campaigns/{cid}/events", summary="Live progress and state of one campaign (SSE)",
        path_params=PATH_PARAMS)  # fmt: skip
async def campaign_events(call: Call[Any, Any]) -> web.StreamResponse:
    return await _stream(call, await known_campaign(call))
