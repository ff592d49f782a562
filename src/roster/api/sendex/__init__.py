"""The Sendex dialect at ``/api/v1``: Bearer keys, snake_case, ``{statusCode, name, message}`` errors."""

from __future__ import annotations

from litestar import Router

from roster.api.common import DEPENDENCIES, api_key_auth, bearer_token
from roster.api.errors import ErrorDialect
from roster.api.idempotency import idempotent
from roster.api.sendex.account import ApiKeyController, DomainController
from roster.api.sendex.audiences import AudienceController
from roster.api.sendex.contacts import ContactController
from roster.api.sendex.imports import ExportController, ImportController
from roster.api.sendex.topics import TopicController

PREFIX = "/api/v1"

errors = ErrorDialect(
    prefix=PREFIX,
    body=lambda problem: {
        "statusCode": problem.status,
        "name": problem.kind,
        "message": problem.message,
    },
)

router = Router(
    path=PREFIX,
    route_handlers=[
        AudienceController,
        ContactController,
        ImportController,
        ExportController,
        TopicController,
        DomainController,
        ApiKeyController,
    ],
    dependencies=DEPENDENCIES,
    before_request=api_key_auth(bearer_token, full_access=True),
    middleware=[idempotent(bearer_token)],
    tags=["Sendex"],
)
