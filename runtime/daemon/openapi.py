"""The OpenAPI 3.1 document of stackd's API, generated from the route table and the types.

    python -m runtime.daemon.openapi --write    # refresh schemas/openapi.json

The committed file must equal ``build_document()`` (a unit test checks), so
the document can never drift from what the server does.
"""

from __future__ import annotations

import argparse
import collections.abc
import json
import sys
import typing
from pathlib import Path
from typing import Any

from runtime.daemon import codec
from runtime.daemon.connection import PING_PATH
from runtime.daemon.routes import ROUTES, STREAM_CONTENT_TYPE, Param, Route
from runtime.daemon.system import API_VERSION
from runtime.errors import HTTP_STATUS

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
REF = "#/components/schemas/"

_DESCRIPTION = """\
The engine API of `stackd`, served as JSON over HTTP on a unix socket (default
/run/stack/stackd.sock) or over TLS TCP with client certificates or a bearer
token. Errors are `{"category", "message"}` with the status of their category.
Streaming routes answer `application/x-ndjson`: one JSON value per line; an
item stream may end with a line `{"error": {...}}`; a progress stream sends
`{"progress": ...}` lines, then one `{"result": ...}` or `{"error": ...}`.
The attach routes (`container_exec_attach`, `container_attach`) are WebSockets:
they answer 101.
Generated from runtime/daemon/routes.py; do not edit by hand."""


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "category": {"type": "string", "enum": sorted(HTTP_STATUS)},
                "message": {"type": "string"},
            },
            "required": ["category", "message"],
            "additionalProperties": False,
        },
    }
    paths: dict[str, Any] = {
        PING_PATH: {"get": {
            "operationId": "ping", "summary": "Answer OK when the daemon serves",
            "responses": {"200": {"description": "OK",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
    }
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "stackd engine API", "version": API_VERSION,
                 "description": _DESCRIPTION},
        "servers": [{"url": "http://localhost"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "responses": {"Error": {
                "description": "An engine error",
                "content": {"application/json": {"schema": {"$ref": REF + "Error"}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }


def _schema(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    return codec.json_schema(tp, ref_prefix=REF, components=components)


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary,
                          "tags": [route.name.split("_", 1)[0] if "_" in route.name
                                   and route.name.split("_", 1)[0] in
                                   ("image", "container", "network", "volume") else "system"]}
    parameters = [_parameter(p, components) for p in route.params if p.where != "body"]
    if parameters:
        op["parameters"] = parameters
    body = [p for p in route.params if p.where == "body"]
    if route.method == "POST":
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: _schema(p.type, components) for p in body},
            "additionalProperties": False,
        }
        required = [p.name for p in body if p.required]
        if required:
            schema["required"] = required
        op["requestBody"] = {"required": bool(required),
                             "content": {"application/json": {"schema": schema}}}
    op["responses"] = _responses(route, components)
    return op


def _parameter(p: Param, components: dict[str, Any]) -> dict[str, Any]:
    base = codec.strip_optional(p.type)
    if typing.get_origin(base) in (dict, collections.abc.Mapping):
        schema: dict[str, Any] = {"type": "array",
                                  "items": {"type": "string", "pattern": "^[^=]+=.*$"}}
        out = {"name": p.name, "in": p.where, "required": False, "schema": schema,
               "style": "form", "explode": True,
               "description": "key=value pairs, one per repetition"}
        return out
    if typing.get_origin(base) in (list, tuple, collections.abc.Sequence):
        return {"name": p.name, "in": p.where, "required": p.required,
                "schema": _schema(base, components), "style": "form", "explode": True}
    schema = _schema(base, components)
    if base is float:
        schema = {"type": "number", "minimum": -1e15, "maximum": 1e15}
    if base is str and p.where == "path":
        schema = {"type": "string", "minLength": 1}
    return {"name": p.name, "in": p.where, "required": p.where == "path" or p.required,
            "schema": schema}


def _responses(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    error = {"$ref": "#/components/responses/Error"}
    responses: dict[str, Any] = {}
    if route.stream == "items":
        responses["200"] = {"description": "One JSON value per line",
                            "content": {STREAM_CONTENT_TYPE: {
                                "schema": _schema(route.item_type, components)}}}
    elif route.stream == "progress":
        line = {"oneOf": [
            _wrapped("progress", _schema(route.progress_type, components)),
            _wrapped("result", _schema(route.return_type, components)),
            _wrapped("error", {"$ref": REF + "Error"}),
        ]}
        responses["200"] = {"description": "Progress lines, then the result or an error",
                            "content": {STREAM_CONTENT_TYPE: {"schema": line}}}
    elif route.stream == "attach":
        responses["101"] = {"description": (
            "Switched to a WebSocket. Client to server: binary frames are stdin; text "
            "frames are JSON {\"resize\": [rows, cols]} or {\"eof\": true}. Server to "
            "client: binary frames are one stream byte (1 stdout, 2 stderr) then data; "
            "the last text frame is JSON {\"exit\": code}.")}
    elif route.return_type is None or route.return_type is type(None):
        responses["204"] = {"description": "Done"}
    else:
        responses["200"] = {"description": "OK", "content": {
            "application/json": {"schema": _schema(route.return_type, components)}}}
    for status in sorted({str(s) for s in HTTP_STATUS.values()} | {"405"}):
        responses[status] = error
    return responses


def _wrapped(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {key: schema}, "required": [key],
            "additionalProperties": False}


def render() -> str:
    return json.dumps(build_document(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.daemon.openapi")
    parser.add_argument("--write", action="store_true", help=f"write {DOCUMENT_PATH}")
    args = parser.parse_args(argv)
    if args.write:
        DOCUMENT_PATH.write_text(render())
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
