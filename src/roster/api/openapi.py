"""One OpenAPI document per dialect (``/api/v1/openapi.json``, ``/api/v1/rest/openapi.json``,
``/v1/openapi.json``), cut from the app's combined document and corrected where Litestar's
generator does not say what the server does: each dialect's security scheme and error body,
the error statuses every operation can answer, request bodies as the server decodes them
(msgspec's own schemas, with the dialect's field names), and schema names without module paths.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Litestar, Request, get
from litestar.response import Response, Stream

REF = re.compile(r'"#/components/schemas/([^"]+)"')
BODY_METHODS = ("post", "put", "patch")
ERRORS = {
    "400": "The request is malformed: bad JSON, a bad value or parameter",
    "401": "No API key, or one that is not valid",
    "403": "The API key may not do this (a sending_access key)",
    "404": "No such object for this team, or no such route",
    "405": "The route does not take this method",
    "409": "It conflicts with what exists (a name or email taken, a state that does not allow it)",
    "413": "The request body is too large",
    "415": "The request body is not JSON",
    "422": "The request is well formed but its values are refused",
    "429": "Too many requests for this API key, or too many failed keys from this client",
    "500": "An unexpected error; its request ID is in the message and in X-Request-ID",
}


@dataclass(frozen=True, slots=True)
class Dialect:
    title: str
    prefix: str
    security: dict[str, Any]
    error: dict[str, Any]
    excluded: tuple[str, ...] = field(default=())

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefix + "/") and not path.startswith(self.excluded)


def _error(**properties: dict[str, Any]) -> dict[str, Any]:
    """A dialect's error body: these fields and a message, all always present."""
    fields = {**properties, "message": {"type": "string"}}
    return {"type": "object", "properties": fields, "required": list(fields)}


_BEARER = {"bearer": {"type": "http", "scheme": "bearer", "description": "sk_… API key"}}
_NUMBER, _TEXT = {"type": "integer"}, {"type": "string"}
DIALECTS = (
    Dialect(
        "Sendex", "/api/v1", _BEARER, _error(statusCode=_NUMBER, name=_TEXT), excluded=("/api/v1/rest/",)
    ),
    Dialect(
        "SendX",
        "/api/v1/rest",
        {
            "apiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Team-ApiKey",
                "description": "sk_… API key",
            }
        },
        _error(status={"type": "string", "enum": ["error"]}),
    ),
    Dialect("Audiences v1", "/v1", _BEARER, _error(statusCode=_NUMBER, error=_TEXT)),
)


def _body_models(app: Litestar) -> dict[tuple[str, str], type[msgspec.Struct]]:
    """(path, method) → the struct a route's JSON body is decoded into."""
    found: dict[tuple[str, str], type[msgspec.Struct]] = {}
    for route in app.routes:
        for method, (handler, _) in getattr(route, "route_handler_map", {}).items():
            model = getattr(getattr(handler, "dto", None), "model_type", None)
            if isinstance(model, type) and issubclass(model, msgspec.Struct):
                found[(route.path_format, method.lower())] = model
    return found


def _streams(app: Litestar) -> set[tuple[str, str]]:
    """(path, method) of the routes answering a file (CSV or NDJSON) rather than JSON."""
    return {
        (route.path_format, method.lower())
        for route in app.routes
        for method, (handler, _) in getattr(route, "route_handler_map", {}).items()
        if handler.parsed_fn_signature.return_type.annotation is Stream
    }


FILES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/x-ndjson": {"schema": {"type": "string"}},
}


def _any(kind: type) -> dict[str, Any]:
    """Fields typed ``object`` take any JSON value (custom fields, event data)."""
    if kind is object:
        return {"description": "any JSON value"}
    raise NotImplementedError(kind)


def document(app: Litestar, dialect: Dialect) -> dict[str, Any]:
    combined = app.openapi_schema.to_schema()
    models = _body_models(app)
    streams = _streams(app)
    used = sorted(
        {model for (path, _), model in models.items() if dialect.owns(path)}, key=lambda m: m.__name__
    )
    _, body_schemas = msgspec.json.schema_components(
        used, schema_hook=_any, ref_template="#/components/schemas/{name}"
    )
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    paths: dict[str, Any] = {}
    for path, operations in combined["paths"].items():
        if not dialect.owns(path):
            continue
        kept = copy.deepcopy(operations)
        for method, operation in kept.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operation["security"] = [{name: []} for name in dialect.security]
            responses = {
                code: answer
                for code, answer in operation.get("responses", {}).items()
                if code.startswith("2")
            }
            for code, description in ERRORS.items():
                if code == "415" and method not in BODY_METHODS:
                    continue
                responses[code] = {"description": description, **copy.deepcopy(error)}
            responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
            if (path, method) in streams:
                responses["200"] = {"description": "The file, CSV or NDJSON as asked", "content": FILES}
            operation["responses"] = responses
            model = models.get((path, method))
            if model is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
                    },
                }
        paths[path] = kept
    schemas = {**combined.get("components", {}).get("schemas", {}), **body_schemas, "Error": dialect.error}
    doc = {
        "openapi": combined["openapi"],
        "info": {**combined["info"], "title": f"Roster: {dialect.title} API"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": dialect.security},
        "security": [{name: []} for name in dialect.security],
    }
    return _tidy(doc)


def _tidy(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep only the schemas the paths use, named without their module path
    (``sendex_schemas_Audience`` → ``Audience``) where that name is free."""
    schemas = doc["components"]["schemas"]
    needed: set[str] = set()
    pending = set(REF.findall(json.dumps(doc["paths"])))
    while pending:
        name = pending.pop()
        if name in needed or name not in schemas:
            continue
        needed.add(name)
        pending |= set(REF.findall(json.dumps(schemas[name])))
    renamed: dict[str, str] = {}
    for name in sorted(needed):
        short = re.sub(r"^(?:sendex|sendx|v1)_schemas_", "", name)
        if short != name and short not in needed and short not in renamed.values():
            renamed[name] = short
    text = json.dumps(
        {**doc, "components": {**doc["components"], "schemas": {n: schemas[n] for n in needed}}}
    )
    text = REF.sub(lambda m: f'"#/components/schemas/{renamed.get(m.group(1), m.group(1))}"', text)
    tidy: dict[str, Any] = json.loads(text)
    tidy["components"]["schemas"] = {renamed.get(n, n): s for n, s in tidy["components"]["schemas"].items()}
    return tidy


def _route(dialect: Dialect) -> Any:
    @get(
        f"{dialect.prefix}/openapi.json",
        include_in_schema=False,
        name=f"openapi{dialect.prefix}",
        sync_to_thread=False,
    )
    def openapi_document(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        cache = request.app.state.setdefault("openapi_documents", {})
        if dialect.prefix not in cache:
            cache[dialect.prefix] = document(request.app, dialect)
        return Response(cache[dialect.prefix], media_type="application/json")

    return openapi_document


routes = [_route(dialect) for dialect in DIALECTS]
