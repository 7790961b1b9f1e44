"""Gateway authentication: SDK-HMAC-SHA256 over the raw request, as Huawei's API gateway checks it."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from engine.errors import SignatureError
from engine.provider.signer import verify
from engine.simulator import contract
from engine.simulator.state import STATE
from engine.simulator.wire import SimError, channel_of

SMS_API_PREFIX = "/sms/"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Verify the signature of every API call (not the admin routes); 401 APIGW.0301 when it fails.

    A POST's signature is accepted once (``state.replays``): a copy sent again within its validity window is
    refused, which the real gateway may not do; the engine's client signs a nonce with every call.

    KooMessage calls are signed with AK/SK and must carry the configured X-Project-Id; Message&SMS calls
    (``/sms/*``) with the app key / app secret and no project.
    """
    if channel_of(request) is None:
        return await handler(request)
    state = request.app[STATE]
    config = state.config
    sms_api = request.path.startswith(SMS_API_PREFIX)
    secrets = {config.sms_app_key: config.sms_app_secret} if sms_api else {config.ak: config.sk}
    url = request.rel_url
    body = await request.read()
    try:
        verify(
            secrets, request.method, url.raw_path, url.raw_query_string, request.headers, body,
            replays=state.replays,
        )  # fmt: skip
    except SignatureError as exc:
        raise SimError(401, contract.APIGW_AUTH, f"Incorrect IAM authentication information: {exc}") from None
    if not sms_api and request.headers.get("X-Project-Id") != config.project_id:
        raise SimError(
            401, contract.APIGW_AUTH, "Incorrect IAM authentication information: X-Project-Id mismatch"
        )
    return await handler(request)
