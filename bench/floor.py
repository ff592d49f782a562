"""The framework floor: Litestar on granian with the same route shapes as Roster's Sendex
hot paths (a before_request hook, one dependency, path and query parameters, a JSON body,
msgspec structs out) and no database at all. What Roster spends above this is its own work.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Litestar, Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from roster.api.common import body
from roster.api.sendex.schemas import Contact, ContactCreate, ContactList

CANNED = Contact(
    "contact_0", "a@example.com", "A", "B", True, "2025-01-01T00:00:00.000Z", "http://x/unsubscribe/t", False
)


async def hook(request: Request[Any, Any, Any]) -> None:
    request.state.principal = request.headers.get("authorization")


def provide(request: Request[Any, Any, Any]) -> str:
    return "ctx"


@get("/{audience_id:str}/contacts/{contact_id:str}")
async def get_contact(
    ctx: NamedDependency[str], audience_id: FromPath[str], contact_id: FromPath[str]
) -> Contact:
    return CANNED


@get("/{audience_id:str}/contacts")
async def list_contacts(
    ctx: NamedDependency[str],
    audience_id: FromPath[str],
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
) -> ContactList:
    return ContactList([CANNED] * limit, 100_000, limit, offset)


@post("/{audience_id:str}/contacts", **body(ContactCreate))
async def add_contact(
    ctx: NamedDependency[str], audience_id: FromPath[str], data: JSONBody[ContactCreate]
) -> Contact:
    return CANNED


app = Litestar(
    [
        Router(
            "/api/v1/audiences",
            route_handlers=[get_contact, list_contacts, add_contact],
            before_request=hook,
            dependencies={"ctx": Provide(provide, sync_to_thread=False)},
        )
    ]
)
