"""``/confirm/{token}``: the page a double opt-in confirmation link opens. No login, no API key.

GET only shows the page and its button (mail scanners fetch every link); the button's POST
confirms. Expired, used, tampered or foreign links show what they are and change nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post
from sqlalchemy import Connection, select

from roster.api.common import DEPENDENCIES, Ctx, PathId
from roster.core import clock, confirmations
from roster.core.errors import NotFound
from roster.storage.tables import audiences, memberships
from roster.web.pages import html_page, not_found_page


def _state(conn: Connection, audience_id: str, contact_id: str, issued: Any, expiry: Any) -> tuple[str, str]:
    """What the page shows before anything is confirmed: ``ask``, ``already`` or ``expired``."""
    row = conn.execute(
        select(memberships.c.pending_since, audiences.c.name)
        .join(audiences, audiences.c.id == memberships.c.audience_id)
        .where(memberships.c.audience_id == audience_id, memberships.c.contact_id == contact_id)
    ).first()
    if row is None:
        raise NotFound("page")
    if row.pending_since is None:
        return confirmations.ALREADY, row.name
    if clock.now() - issued > expiry:
        return confirmations.EXPIRED, row.name
    return "ask", row.name


@get("/{token:str}")
async def show(request: Request[Any, Any, Any], ctx: Ctx, token: PathId) -> Response[str]:
    links, expiry = request.app.state.services.confirm_links, request.app.state.services.confirm_expiry
    try:
        audience_id, contact_id, issued = links.parse(token)
        outcome, name = await ctx.db.read(_state, audience_id, contact_id, issued, expiry)
    except NotFound:
        return not_found_page()
    return html_page("confirm.html", outcome=outcome, list_name=name)


@post("/{token:str}", status_code=200)
async def confirm(request: Request[Any, Any, Any], ctx: Ctx, token: PathId) -> Response[str]:
    links, expiry = request.app.state.services.confirm_links, request.app.state.services.confirm_expiry
    try:
        audience_id, contact_id, issued = links.parse(token)
        outcome, name = await ctx.db.write(
            confirmations.confirm, audience_id, contact_id, issued, clock.now(), expiry
        )
    except NotFound:
        return not_found_page()
    return html_page("confirm.html", outcome=outcome, list_name=name)


router = Router(
    path="/confirm",
    route_handlers=[show, confirm],
    dependencies=DEPENDENCIES,
    include_in_schema=False,
    request_max_body_size=16 * 1024,
)
