"""Operations declared once — method, path, role, request and answer types — and served and documented
from that one declaration: the same pydantic types validate a request and make the OpenAPI document.

A handler takes a ``Call`` and returns a value of its declared ``answer`` type (serialised by pydantic) or
a ready ``web.StreamResponse`` (files, HTML, events).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from engine.service.auth import Principal, remote_of, require
from engine.service.context import SERVICES, Services
from engine.service.problems import HttpProblem
from engine.service.tokens import Role

PREFIX: Final = "/api/v1"
MAX_JSON_BYTES: Final = 1024 * 1024
Q = TypeVar("Q", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call(Generic[Q, B]):
    """One request as a handler sees it: caller, path parameters, validated query and body."""

    request: web.Request
    who: Principal
    services: Services
    path: Mapping[str, str]
    query: Q
    body: B


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's value with a success status other than its operation's own (one of ``also_status``)."""

    value: Any
    status: int


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


class NoParams(BaseModel):
    """The query or body of an operation that takes none."""


@dataclass(frozen=True)
class Operation:
    """One method on one path, with everything the server and the OpenAPI document need to know."""

    method: str
    path: str  # under PREFIX, with {name} parameters
    handler: Handler
    role: Role
    summary: str
    tag: str
    query: type[BaseModel] = NoParams
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart/form-data, read by the handler itself; schema only
    answer: Any = None  # a type pydantic can serialise; None for a handler that answers itself
    media: str = "application/json"  # of the answer
    also: tuple[str, ...] = ()  # other media types the answer may come in (e.g. text/csv on ?format=csv)
    status: int = 200
    also_status: tuple[int, ...] = ()  # other success statuses, with the same answer (``Answer``)
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    public: bool = False  # no caller to find (the console's login); ``who`` is then anonymous

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.answer)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def parameter_names(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)


class Api:
    """The registry of operations that a route module fills with ``@api.op(...)``."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def op(self, method: str, path: str, *, role: Role, summary: str, tag: str, **options: Any
           ) -> Callable[[Handler], Handler]:  # fmt: skip
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, handler, role, summary, tag, **options))
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for operation in self.operations:
            app.router.add_route(operation.method, PREFIX + operation.path, _serve(operation))


def _serve(operation: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        services = request.app[SERVICES]
        if operation.public:
            who = Principal("anonymous", operation.role, "", remote_of(request, services.proxies))
        else:
            who = await services.authenticate(request)
            require(who, operation.role)
        query = operation.query.model_validate_strings(dict(request.query))
        body = await _body(request, operation.body) if operation.body is not None else NoParams()
        call = Call(request, who, services, request.match_info, query, body)
        result = await operation.handler(call)
        if isinstance(result, web.StreamResponse):
            return result
        status = operation.status
        if isinstance(result, Answer):
            status, result = result.status, result.value
        return web.Response(
            status=status, body=operation.adapter.dump_json(result), content_type=operation.media
        )

    handle.__name__ = operation.operation_id
    return handle


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    """The JSON body validated by ``model``; 415 for another media type, 413 past the cap; text that is not
    JSON fails validation (422)."""
    if request.content_type != "application/json":
        raise HttpProblem(415, "send the body as application/json")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise HttpProblem(413, f"a JSON body may hold at most {MAX_JSON_BYTES} bytes")
    return model.model_validate_json(raw)
