"""The Audiences v1 dialect at ``/v1``: Bearer keys, camelCase, page-based lists,
``{statusCode, error, message}`` errors with every bad input a 400."""

from __future__ import annotations

from http import HTTPStatus

from litestar import Router

from roster.api.common import DEPENDENCIES, api_key_auth, bearer_token
from roster.api.errors import ErrorDialect
from roster.api.idempotency import idempotent
from roster.api.v1.routes import AudienceController, ContactController

PREFIX = "/v1"

errors = ErrorDialect(
    prefix=PREFIX,
    body=lambda problem: {
        "statusCode": problem.status,
        "error": HTTPStatus(problem.status).phrase,
        "message": problem.message,
    },
    statuses={"validation_error": 400, "invalid_json": 400},
)

router = Router(
    path=PREFIX,
    route_handlers=[AudienceController, ContactController],
    dependencies=DEPENDENCIES,
    before_request=api_key_auth(bearer_token, full_access=True),
    middleware=[idempotent(bearer_token)],
    tags=["Audiences v1"],
)
