"""Reading campaigns: the list, one campaign, its status and report (JSON, HTML), its failed numbers."""

from __future__ import annotations

import asyncio
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

import engine.api as api
from engine.budget.standing import Standing
from engine.reports.html import render_html
from engine.reports.summary import Report
from engine.service.events import Progress
from engine.service.models import PATH_PARAMS, CampaignDetail, CampaignPage, ListQuery
from engine.service.operations import Call
from engine.service.problems import HttpProblem
from engine.service.routes import API
from engine.service.routes.common import known_campaign
from engine.service.tokens import Role
from engine.state import campaigns, history
from engine.types import CampaignState

view = partial(API.op, role=Role.VIEWER, tag="campaigns", path_params=PATH_PARAMS)
# the report page: its own inline styles, inline SVG, no script at all
CHUNK = 256 * 1024  # bytes of an export file sent at a time
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@view("GET", "/campaigns", summary="List campaigns, newest first", answer=CampaignPage,
        query=ListQuery)  # fmt: skip
async def list_campaigns(call: Call[ListQuery, Any]) -> CampaignPage:
    q = call.query
    where = history.Filter(
        CampaignState(q.state) if q.state else None,
        q.priority,
        q.name,
        q.since,
        q.until,
        q.template_id,
        q.signature,
    )
    found = await history.rows(call.services.redis, offset=q.offset, limit=q.limit + 1, where=where)
    more = len(found) > q.limit
    return CampaignPage(items=found[: q.limit], next_offset=q.offset + q.limit if more else None)


@view("GET", "/campaigns/{cid}", summary="One campaign: its row, spec and own rate caps",
        answer=CampaignDetail)  # fmt: skip
async def get_campaign(call: Call[Any, Any]) -> CampaignDetail:
    from engine.budget import tenants

    cid = await known_campaign(call)
    redis = call.services.redis
    record = await campaigns.load(redis, cid)
    row = await history.row(redis, cid)
    assert row is not None  # known_campaign found its record
    caps = (await tenants.load(redis, cid)).caps
    return CampaignDetail(campaign=row, spec=record.spec.model_dump(mode="json"), caps=dict(caps))


@view("GET", "/campaigns/{cid}/status", answer=Progress,
      summary="A campaign's state and counts per stage (at most 0.25 s old)")  # fmt: skip
async def campaign_status(call: Call[Any, Any]) -> Progress:
    found = await call.services.status.get(call.path["cid"])
    if found is None:
        raise HttpProblem(404, f"unknown campaign {call.path['cid']!r}")
    return found


@view("GET", "/campaigns/{cid}/report", summary="A campaign's report (JSON)", answer=Report)
async def campaign_report(call: Call[Any, Any]) -> Report:
    return await api.campaign_report(await known_campaign(call), redis=call.services.redis)


@view("GET", "/campaigns/{cid}/report.html", summary="A campaign's report as a self-contained page",
        media="text/html", answer=str)  # fmt: skip
async def campaign_report_html(call: Call[Any, Any]) -> web.Response:
    report = await api.campaign_report(await known_campaign(call), redis=call.services.redis)
    page = render_html(report)
    return web.Response(text=page, content_type="text/html", headers={"Content-Security-Policy": REPORT_CSP})


@view("GET", "/campaigns/{cid}/place", summary="What a campaign waits for: backlog, queue, shares",
        answer=Standing)  # fmt: skip
async def campaign_place(call: Call[Any, Any]) -> Standing:
    return await api.place_in_line(await known_campaign(call), redis=call.services.redis)


def _failed_export(suffix: str, media: str) -> None:
    """Register the download of a campaign's failed numbers as ``failed.<suffix>``."""

    async def handler(call: Call[Any, Any]) -> web.StreamResponse:
        from engine.reports.export import export_failed

        cid = await known_campaign(call)
        with tempfile.TemporaryDirectory(dir=call.services.limits.upload_dir) as work:
            path = Path(work) / f"failed.{suffix}"
            await export_failed(call.services.redis, cid, path)  # constant memory, whatever the count
            response = web.StreamResponse(headers={
                "Content-Type": media, "Content-Disposition": f'attachment; filename="{cid}-failed.{suffix}"'
            })  # fmt: skip
            await response.prepare(call.request)
            with path.open("rb") as source:
                while chunk := await asyncio.to_thread(source.read, CHUNK):
                    await response.write(chunk)
        await response.write_eof()
        return response

    handler.__name__ = f"failed_numbers_{suffix}"
    view("GET", f"/campaigns/{{cid}}/failed.{suffix}", summary=f"Download the failed numbers ({suffix})",
           media=media, answer=bytes)(handler)  # fmt: skip


_failed_export("csv", "text/csv")
_failed_export("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
