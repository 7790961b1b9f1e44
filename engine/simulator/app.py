"""``build_app``: the provider simulator as an aiohttp application (routes, middlewares, lifecycle)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.simulator import contract
from engine.simulator import handlers_account as account
from engine.simulator import handlers_basic as basic
from engine.simulator import handlers_query as query
from engine.simulator import handlers_smart as smart
from engine.simulator import handlers_sms as sms
from engine.simulator import handlers_sms_templates as sms_templates
from engine.simulator.auth import auth_middleware
from engine.simulator.callbacks import CallbackPoster
from engine.simulator.config import Channel, SimConfig
from engine.simulator.faults import fault_middleware
from engine.simulator.handlers_admin import ADMIN_ROUTES
from engine.simulator.state import STATE, SimState
from engine.simulator.wire import SimError, channel_of

MAX_BODY = 32 * 1024 * 1024  # a 5000-number basic-edition call with per-number params exceeds aiohttp's 1 MiB

# (method, path, channel, handler); the channel selects rate limit, faults and counters
API_ROUTES: tuple[tuple[str, str, Channel, Handler], ...] = (
    ("POST", "/v1/aim/mobile-capabilities/check", "capability", smart.check_mobile_capability),
    ("POST", "/v1/aim/resolve-tasks", "other", smart.create_resolve_task),
    ("GET", "/v1/aim/resolve-tasks", "other", query.list_resolve_tasks),
    ("GET", "/v1/aim/resolve-details", "other", query.list_aim_resolve_details),
    ("POST", "/v1/aim/send-tasks", "smart", smart.create_aim_send_task),
    ("GET", "/v1/aim/send-tasks", "other", query.list_aim_send_tasks),
    ("GET", "/v1/aim/send-details", "other", query.list_aim_send_details),
    ("POST", "/v1/aim/send-reports", "other", query.list_aim_send_reports),
    ("POST", "/v1/aim/template-reports/query", "other", query.list_aim_template_reports),
    ("POST", "/v1/aim/sms/messages", "sms", sms.send_aim_batch_messages),
    ("POST", "/v1/aim/sms/diff-messages", "sms", sms.send_aim_batch_different_messages),
    ("POST", "/sms/batchSendSms/v1", "sms", sms.batch_send_sms),
    ("POST", "/sms/batchSendDiffSms/v1", "sms", sms.batch_send_diff_sms),
    ("POST", "/v1/aim-basic/send-tasks", "basic", basic.create_vms_send_task),
    ("GET", "/v1/aim-basic/send-tasks", "other", basic.list_vms_send_tasks),
    ("GET", "/v1/aim-basic/templates", "other", account.list_vms_template_status),
    ("GET", "/v1/aim/templates", "other", account.list_aim_templates),
    ("POST", "/v1/aim/callbacks", "other", account.add_call_back),
    ("GET", "/v1/aim/callbacks", "other", account.list_aim_callbacks),
    ("POST", "/v1/aim-basic/callbacks", "other", account.add_vms_call_back),
    ("GET", "/v1/aim-basic/callbacks", "other", account.list_vms_callbacks),
    ("GET", "/v1/aim-sa/pubs", "other", account.list_pub_infos),
    ("GET", "/v1/aim-sa/ports", "other", account.list_port_infos),
    ("GET", "/v1/sms/templates", "other", sms_templates.list_aim_msg_template),
    ("GET", "/v1/sms/templates/{template_id}", "other", sms_templates.show_aim_msg_template_detail),
    ("GET", "/v1/sms/templates/{template_id}/variable", "other", sms_templates.show_variables),
)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: every answer gets an X-Request-Id; errors become ``{"error_code","error_msg"}`` JSON."""
    state = request.app[STATE]
    try:
        response = await handler(request)
    except SimError as exc:
        response = exc.response()
        channel = channel_of(request)
        if channel and 400 <= exc.status < 500 and exc.status != 429:
            state.ledger.rejected[channel] += 1
    except web.HTTPException as exc:  # routing: unknown path or method
        if exc.status < 400:
            raise
        code = contract.APIGW_NOT_FOUND if exc.status in (404, 405) else contract.KM_INVALID_PARAMETER
        response = SimError(exc.status, code, exc.reason).response()
    response.headers["X-Request-Id"] = state.next_request_id()
    return response


async def _callback_poster(app: web.Application) -> AsyncIterator[None]:
    """One shared ClientSession for receipts, closed (pending receipts cancelled) on shutdown."""
    state = app[STATE]
    poster = CallbackPoster(lambda: state.config.callbacks, state.ledger)
    await poster.start()
    state.poster = poster
    try:
        yield
    finally:
        state.poster = None
        await poster.close()


def build_app(config: SimConfig | None = None, admin_token: str | None = None) -> web.Application:
    """The simulator app; ``app[STATE]`` holds its config, ledger, tasks and admin token (random unless
    given)."""
    app = web.Application(
        middlewares=[error_middleware, fault_middleware, auth_middleware], client_max_size=MAX_BODY
    )
    app[STATE] = SimState(config or SimConfig())
    if admin_token:
        app[STATE].admin_token = admin_token
    for method, path, channel, handler in API_ROUTES:
        app.router.add_route(method, path, handler, name=f"{channel}:{handler.__name__}")
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, path, handler, name=f"admin:{handler.__name__}")
    app.cleanup_ctx.append(_callback_poster)
    return app
