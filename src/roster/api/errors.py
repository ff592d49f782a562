"""From any exception to a ``Problem``, and from a problem to each dialect's error body.

Every dialect shares one classification (core errors and the framework's own), then
chooses its status codes and body shape. The app picks the dialect by the request path,
so unknown routes and wrong methods also answer in the dialect's shape.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)

from roster.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from roster.logs import REQUEST_ID

log = logging.getLogger("roster.api")


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    kind: str
    message: str
    headers: Mapping[str, str] | None = None


def _validation_message(exc: ValidationException) -> str:
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for detail in details:
        key, message = detail.get("key"), str(detail.get("message", ""))
        if key == "data" and message == "'data'":
            parts.append("request body is required")
        elif detail.get("source") == "body" and key == "data":
            parts.append(message)
        elif message.startswith("Missing required"):
            parts.append(f"`{key}` is required")
        else:
            parts.append(f"`{key}`: {message}")
    return "; ".join(parts) or str(exc.detail)


def _snake(phrase: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


def classify(exc: Exception, request: Request[Any, Any, Any]) -> Problem:
    if isinstance(exc, NotFound):
        return Problem(404, "not_found", exc.message)
    if isinstance(exc, Invalid):
        return Problem(422, "validation_error", exc.message)
    if isinstance(exc, Conflict):
        return Problem(409, "conflict", exc.message)
    if isinstance(exc, Unauthorized):
        return Problem(401, "missing_api_key" if exc.missing else "invalid_api_key", exc.message)
    if isinstance(exc, Forbidden):
        return Problem(403, "restricted_api_key", exc.message)
    if isinstance(exc, msgspec.ValidationError):
        return Problem(422, "validation_error", str(exc))
    if isinstance(exc, msgspec.DecodeError):
        return Problem(400, "invalid_json", f"request body is not valid JSON: {exc}")
    # Litestar's own JSON decoding of a body (routes whose body is not a struct)
    if isinstance(exc, UnicodeDecodeError):
        return Problem(
            400, "invalid_json", f"request body is not valid UTF-8 ({exc.reason} at byte {exc.start})"
        )
    if isinstance(exc, RecursionError) and "deserializing" in str(exc):
        return Problem(400, "invalid_json", "request body is not valid JSON: it nests too deep")
    if isinstance(exc, ValidationException):
        return Problem(422, "validation_error", _validation_message(exc))
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return Problem(400, "invalid_json", f"request body is not valid JSON: {exc.__cause__}")
    if isinstance(exc, NotFoundException):
        return Problem(404, "not_found", f"no route for {request.method} {request.url.path}")
    if isinstance(exc, MethodNotAllowedException):
        return Problem(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
    if isinstance(exc, HTTPException):
        phrase = HTTPStatus(exc.status_code).phrase
        return Problem(exc.status_code, _snake(phrase), str(exc.detail), exc.headers)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(
        500,
        "internal_server_error",
        f"an unexpected error occurred; it has been logged with request ID {REQUEST_ID.get() or '-'}",
    )


@dataclass(frozen=True, slots=True)
class ErrorDialect:
    """How one API family reports errors: its status codes and its body."""

    prefix: str
    body: Callable[[Problem], Mapping[str, Any]]
    statuses: Mapping[str, int] = field(default_factory=dict)

    def respond(self, problem: Problem) -> Response[Any]:
        status = self.statuses.get(problem.kind, problem.status)
        body = self.body(Problem(status, problem.kind, problem.message))
        return Response(body, status_code=status, media_type="application/json", headers=problem.headers)


PLAIN = ErrorDialect(
    prefix="/",
    body=lambda problem: {
        "statusCode": problem.status,
        "error": problem.kind,
        "message": problem.message,
    },
)


def exception_handler(
    dialects: list[ErrorDialect],
) -> Callable[[Request[Any, Any, Any], Exception], Response[Any]]:
    """One handler for the app: the longest matching prefix decides the shape."""
    ordered = sorted([*dialects, PLAIN], key=lambda dialect: len(dialect.prefix), reverse=True)

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        path = request.url.path
        dialect = next(d for d in ordered if path == d.prefix or path.startswith(d.prefix.rstrip("/") + "/"))
        return dialect.respond(classify(exc, request))

    return handle
