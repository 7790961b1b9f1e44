"""The OpenAPI 3.1 document, generated from the operations' own declarations and pydantic types.

Nothing here is written by hand per operation: paths, parameters, bodies and answers come from
``Operation``; schemas from the very types that validate requests and serialise answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from engine.service.operations import PREFIX, NoParams, Operation
from engine.service.problems import MEDIA_TYPE, Problem

REF: Final = "#/components/schemas/{model}"
Key = tuple[str, str]


def document(operations: Sequence[Operation], version: str) -> dict[str, Any]:
    """The whole document for ``operations``."""
    inputs: list[tuple[Key, JsonSchemaMode, TypeAdapter[Any]]] = [(("problem", ""), "serialization",
                                                                  TypeAdapter(Problem))]  # fmt: skip
    for op in operations:
        if op.answer is not None:
            inputs.append(((op.operation_id, "answer"), "serialization", op.adapter))
        for part, model in (("query", op.query), ("body", op.body), ("form", op.form)):
            if model is not None and model is not NoParams:
                inputs.append(((op.operation_id, part), "validation", TypeAdapter(model)))
    schemas, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op, schemas, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "koodispatch", "version": version,
                 "description": "Bulk campaigns of KooMessage smart messages: submit, steer, watch."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from `koodispatch tokens create`"}},
        },
        "security": [{"bearer": []}],
    }  # fmt: skip


def _operation(op: Operation, schemas: dict[tuple[Key, JsonSchemaMode], Any], defs: dict[str, Any]
               ) -> dict[str, Any]:  # fmt: skip
    key = op.operation_id
    out: dict[str, Any] = {
        "operationId": key,
        "summary": op.summary,
        "tags": [op.tag],
        "description": f"Needs the `{op.role.value}` role (or a higher one).",
        "x-role": op.role.value,
        "parameters": _path_parameters(op) + _query_parameters(op, schemas, defs),
        "responses": {**{str(s): _answer(op, schemas) for s in (op.status, *op.also_status)}, "default": {
            "description": "an error, as RFC 9457 problem details",
            "content": {MEDIA_TYPE: {"schema": schemas[(("problem", ""), "serialization")]}},
        }},
    }  # fmt: skip
    if op.public:
        out["security"] = []
        out["description"] = "Needs no token."
    if op.body is not None:
        body = schemas[((key, "body"), "validation")]
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if op.form is not None:
        form = schemas[((key, "form"), "validation")]
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    return out


def _answer(op: Operation, schemas: dict[tuple[Key, JsonSchemaMode], Any]) -> dict[str, Any]:
    if op.answer is None:  # no body (204)
        return {"description": op.summary}
    if op.media == "application/json":
        schema = schemas[((op.operation_id, "answer"), "serialization")]
    else:
        schema = {"type": "string", **({"format": "binary"} if op.answer is bytes else {})}
    content = {op.media: {"schema": schema}} | {m: {"schema": {"type": "string"}} for m in op.also}
    return {"description": op.summary, "content": content}


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": op.path_params[name]}
            for name in op.parameter_names()]  # fmt: skip


def _query_parameters(op: Operation, schemas: dict[tuple[Key, JsonSchemaMode], Any], defs: dict[str, Any]
                      ) -> list[dict[str, Any]]:  # fmt: skip
    if op.query is NoParams:
        return []
    model: type[BaseModel] = op.query
    ref = schemas[((op.operation_id, "query"), "validation")]["$ref"]
    schema = defs["$defs"][ref.rsplit("/", 1)[1]]
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop,
             "description": model.model_fields[name].description or ""}
            for name, prop in schema["properties"].items()]  # fmt: skip
