"""What every dialect's router uses: the database and links, authentication, small renderers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.dto import MsgspecDTO
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from roster.core import teams
from roster.core.preferences import PreferenceLinks
from roster.core.teams import Principal
from roster.storage.db import Database


def provide_db(request: Request[Any, Any, Any]) -> Database:
    db: Database = request.app.state.db
    return db


def provide_links(request: Request[Any, Any, Any]) -> PreferenceLinks:
    links: PreferenceLinks = request.app.state.links
    return links


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    principal: Principal = request.state.principal
    return principal


DEPENDENCIES = {
    "db": Provide(provide_db, sync_to_thread=False),
    "links": Provide(provide_links, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=False),
}

Db = NamedDependency[Database]
Links = NamedDependency[PreferenceLinks]
Caller = NamedDependency[Principal]
PathId = FromPath[str]

T = TypeVar("T", bound=msgspec.Struct)

TokenReader = Callable[[ASGIConnection[Any, Any, Any, Any]], str | None]


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def api_key_guard(read_token: TokenReader, *, full_access: bool) -> Callable[..., Any]:
    """A guard that authenticates the key before the request is parsed, and checks its permission."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        db: Database = connection.app.state.db
        principal = await db.read(teams.authenticate, read_token(connection))
        if full_access:
            principal.require_full_access()
        connection.state.principal = principal

    return guard


class StrictJSON(MsgspecDTO[T], Generic[T]):
    """Decode a request body straight into its struct, with msgspec's strict typing.

    Litestar converts bodies leniently (``"true"`` becomes ``True``); the dialects refuse
    wrong types instead. Decode errors reach the app's exception handler as they are.
    """

    def decode_bytes(self, value: bytes) -> Any:
        return msgspec.json.decode(value, type=self.model_type, strict=True)


def body(model: type[msgspec.Struct]) -> dict[str, Any]:
    """Handler options for a JSON body of ``model``: strict decoding, plain responses."""
    return {"dto": StrictJSON[model], "return_dto": None}  # type: ignore[valid-type]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: ``2025-02-05T08:00:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sent(data: msgspec.Struct) -> dict[str, Any]:
    """The fields a request body actually carried (absent ones are ``UNSET``)."""
    return {
        name: value for name in data.__struct_fields__ if (value := getattr(data, name)) is not msgspec.UNSET
    }
