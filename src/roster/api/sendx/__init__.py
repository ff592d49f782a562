"""The SendX dialect at ``/api/v1/rest``: ``X-Team-ApiKey``, camelCase, ``{status, message}`` errors.

Bad input fields are 400 and a body that is not JSON is 422, as SendX documents.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection

from roster.api.common import DEPENDENCIES, api_key_auth
from roster.api.errors import ErrorDialect
from roster.api.idempotency import idempotent
from roster.api.sendx.contacts import ContactController, EventController
from roster.api.sendx.resources import CustomFieldController, ListController, TagController
from roster.api.sendx.sending import (
    CampaignController,
    InboundController,
    ReportController,
    SenderController,
    TemplateController,
)
from roster.api.sendx.team import (
    MemberController,
    SegmentController,
    SuppressionController,
    WebhookController,
)

PREFIX = "/api/v1/rest"

errors = ErrorDialect(
    prefix=PREFIX,
    body=lambda problem: {"status": "error", "message": problem.message},
    statuses={"validation_error": 400, "invalid_json": 422},
)


def team_api_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return connection.headers.get("x-team-apikey", "").strip() or None


router = Router(
    path=PREFIX,
    route_handlers=[
        ContactController,
        EventController,
        ListController,
        TagController,
        CustomFieldController,
        SenderController,
        TemplateController,
        CampaignController,
        ReportController,
        InboundController,
        SegmentController,
        MemberController,
        WebhookController,
        SuppressionController,
    ],
    dependencies=DEPENDENCIES,
    before_request=api_key_auth(team_api_key, full_access=True),
    middleware=[idempotent(team_api_key)],
    tags=["SendX"],
)
