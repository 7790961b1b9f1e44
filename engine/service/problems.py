"""Errors as ``application/problem+json`` (RFC 9457): the one place the engine's error tree becomes HTTP.

Handlers raise; this middleware answers. ``Problem`` is also the schema the OpenAPI document gives every
error response, so a client reads one shape whatever went wrong.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field, ValidationError
from redis.exceptions import RedisError

from engine.errors import (
    ConfigError,
    DispatchError,
    InputError,
    ProviderError,
    StateError,
    Unauthorized,
)
from engine.phones import mask_numbers

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An error answer: ``title`` says the kind, ``detail`` the case (naming the field or row at fault)."""

    type: str = Field("about:blank", description="always about:blank: the status and title say the kind")
    title: str
    status: int
    detail: str = ""
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="one entry per invalid field of a request: loc, msg"
    )


class HttpProblem(Exception):
    """A handler's own refusal (unknown campaign, missing role, conflicting idempotency key …)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def problem(
    status: int,
    detail: str = "",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A problem+json response; any phone number in ``detail`` masked (it may come from a file's row)."""
    body = Problem(title=_title(status), status=status, detail=mask_numbers(detail), errors=errors or [])
    return web.Response(
        status=status, body=orjson.dumps(body.model_dump()), content_type=MEDIA_TYPE, headers=headers
    )  # fmt: skip


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def status_of(exc: DispatchError) -> int:
    """The HTTP status of an engine error, by its class."""
    if isinstance(exc, ConfigError | InputError):
        return 422
    if isinstance(exc, StateError):
        return 409
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, ProviderError):
        return 502
    return 500


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as ``{loc, msg}`` (no input echoed back: it may hold numbers)."""
    return [{"loc": ".".join(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors()]


@web.middleware
async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer every error as problem+json; an unexpected one is logged and answered 500 without details."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except HttpProblem as exc:
        return problem(exc.status, exc.detail, headers=exc.headers)
    except ValidationError as exc:
        return problem(422, "the request does not match its schema", validation_errors(exc))
    except DispatchError as exc:
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc)
        return problem(status, str(exc))
    except web.HTTPException as exc:  # aiohttp's own: unknown path, wrong method, body too large
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return problem(exc.status, exc.reason, headers=allow)
    except HttpProcessingError as exc:  # a malformed multipart part, found while a handler reads it
        return problem(exc.code if 400 <= exc.code < 500 else 400, exc.message)
    except RedisError as exc:
        log.error("%s %s: Redis: %s", request.method, request.path, exc)
        return problem(503, "Redis is unavailable")
    except Exception:  # a bug: logged with its trace, answered without it
        log.exception("%s %s failed", request.method, request.path)
        return problem(500, "internal error (logged)")
