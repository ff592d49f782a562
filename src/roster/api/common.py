"""What every dialect's router uses: the database and links, authentication, small renderers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.dto import MsgspecDTO
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from roster.api.clients import Network, client_address
from roster.api.rate_limit import RateLimit
from roster.config import Settings
from roster.core import consent, teams
from roster.core.confirmations import ConfirmLinks
from roster.core.errors import Invalid, Unauthorized
from roster.core.named import CONTROL, CONTROL_MESSAGE
from roster.core.preferences import PreferenceLinks
from roster.core.teams import Principal
from roster.core.tracking import Tracking
from roster.mail.sns import Sns
from roster.mail.transport import Mailer
from roster.storage.db import Database

if TYPE_CHECKING:
    from roster.web.signup import SignupLimits
    from roster.web.tracking import HitRecorder


@dataclass(frozen=True, slots=True)
class Services:
    """What the app holds for every request (``app.state.services``)."""

    settings: Settings
    db: Database
    links: PreferenceLinks
    rate_limit: RateLimit
    mailer: Mailer
    tracking: Tracking
    hits: HitRecorder
    sns: Sns
    confirm_links: ConfirmLinks
    confirm_expiry: timedelta
    signup_limits: SignupLimits
    trusted_proxies: tuple[Network, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler works with: the services and, behind an API key, who is calling.

    One dependency rather than several: Litestar resolves sibling dependencies in an anyio
    task group, which costs more than the database call of a GET.
    """

    settings: Settings
    db: Database
    links: PreferenceLinks
    mailer: Mailer
    principal: Principal | None

    @property
    def team_id(self) -> str:
        assert self.principal is not None, "route without api_key_auth"
        return self.principal.team_id


def provide_context(request: Request[Any, Any, Any]) -> Context:
    services: Services = request.app.state.services
    principal = request.scope.get("state", {}).get("principal")
    return Context(services.settings, services.db, services.links, services.mailer, principal)


DEPENDENCIES = {"ctx": Provide(provide_context, sync_to_thread=False)}

Ctx = NamedDependency[Context]
PathId = FromPath[str]

# How far paging may reach, in every dialect: past any team's size, and well inside the
# 64-bit integers the databases take (a larger offset was a 500).
MAX_OFFSET = 1_000_000_000
MAX_PAGE = 10_000_000  # pages of up to 100 items reach MAX_OFFSET

T = TypeVar("T", bound=msgspec.Struct)

TokenReader = Callable[[ASGIConnection[Any, Any, Any, Any]], str | None]


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def api_key_auth(read_token: TokenReader, *, full_access: bool) -> Callable[..., Awaitable[None]]:
    """A router's ``before_request`` hook: authenticate the key and check its permission.

    It runs before the request is parsed, so a caller without a valid key learns nothing
    about the body. (A hook rather than a Litestar guard: guards copy the route handler on
    every call, which costs as much as the query.)
    """

    async def authenticate(request: Request[Any, Any, Any]) -> None:
        _without_control(request)
        services: Services = request.app.state.services
        limits = services.rate_limit
        client = client_address(request.scope, services.trusted_proxies)
        await limits.check_client(client)
        try:
            principal = await teams.authenticate(services.db, read_token(request))
        except Unauthorized:
            await limits.failed(client)
            raise
        request.state.response_headers = await limits.hit(principal.key_id)
        if full_access:
            principal.require_full_access()
        request.state.principal = principal
        consent.SOURCE.set(consent.Source(consent.API, principal.key_id))

    return authenticate


def _without_control(request: Request[Any, Any, Any]) -> None:
    """Path and query values hold no control character: NUL, which PostgreSQL refuses in any
    text, or others that belong in no ID, address or search (bodies: ``StrictJSON``)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and CONTROL.search(value):
            raise Invalid(name, CONTROL_MESSAGE)
    for name, value in request.query_params.multi_items():
        if CONTROL.search(value):
            raise Invalid(name, CONTROL_MESSAGE)


class StrictJSON(MsgspecDTO[T], Generic[T]):
    """Decode a request body straight into its struct, with msgspec's strict typing.

    Litestar converts bodies leniently (``"true"`` becomes ``True``); the dialects refuse
    wrong types instead. Decode errors reach the app's exception handler as they are.
    """

    def decode_bytes(self, value: bytes) -> Any:
        json_only(self.asgi_connection)
        try:
            decoded = msgspec.json.decode(value, type=self.model_type, strict=True)
        except UnicodeDecodeError as exc:
            raise msgspec.DecodeError(f"it is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        except RecursionError:
            raise msgspec.DecodeError("it nests too deep") from None
        # JSON carries a control character only as an escape (raw ones are invalid JSON), so a
        # body without one needs no walk.
        if b"\\u00" in value:
            field = _with_control(decoded, "")
            if field is not None:
                raise Invalid(field or "body", CONTROL_MESSAGE)
        return decoded


def json_only(connection: ASGIConnection[Any, Any, Any, Any], _handler: Any = None) -> None:
    """A 415 unless the request's body is JSON by its media type: ``application/json`` or
    ``application/*+json``, or none at all (a client that names no type is taken at its word).
    Run by every struct body's decoding, and as a guard where the body is not one struct."""
    media = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if (
        media
        and media != "application/json"
        and not (media.startswith("application/") and media.endswith("+json"))
    ):
        raise HTTPException(
            status_code=415,
            detail=f"request body must be JSON (Content-Type: application/json), not `{media}`",
        )


def _with_control(value: Any, path: str) -> str | None:
    """The name of the first field of ``value`` whose text holds a control character other
    than tab, line feed and carriage return (NUL is refused by PostgreSQL, and none belongs
    in a name, an address or a message)."""
    if isinstance(value, str):
        return path if CONTROL.search(value) else None
    if isinstance(value, msgspec.Struct):
        items = [(field.encode_name, getattr(value, field.name)) for field in msgspec.structs.fields(value)]
    elif isinstance(value, dict):
        items = [(str(key), item) for key, item in value.items()]
        items += [(str(key), key) for key in value if isinstance(key, str)]
    elif isinstance(value, list | tuple):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return None
    for name, item in items:
        found = _with_control(item, f"{path}.{name}" if path else name)
        if found is not None:
            return found
    return None


def body(model: type[msgspec.Struct]) -> dict[str, Any]:
    """Handler options for a JSON body of ``model``: strict decoding, plain responses."""
    return {"dto": StrictJSON[model], "return_dto": None}  # type: ignore[valid-type]


def sent(data: msgspec.Struct, renamed: dict[str, str] | None = None) -> dict[str, Any]:
    """The fields a request body actually carried (absent ones are ``UNSET``), those the
    dialect names differently from the core under the core's name (``renamed``)."""
    names = renamed or {}
    return {
        names.get(name, name): value
        for name in data.__struct_fields__
        if (value := getattr(data, name)) is not msgspec.UNSET
    }
