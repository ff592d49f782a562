"""``/confirm/{token}``: the page a double opt-in confirmation link opens. No login, no API key.

GET only shows the page and its button (mail scanners fetch every link); the button's POST
confirms. Expired, used, tampered or foreign links show what they are and change nothing.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get, post

from roster.api.common import DEPENDENCIES, Ctx, PathId
from roster.core import clock, confirmations
from roster.core.errors import NotFound
from roster.web.pages import html_page, not_found_page


@get("/{token:str}")
async def show(request: Request[Any, Any, Any], ctx: Ctx, token: PathId) -> Response[str]:
    links, expiry = request.app.state.services.confirm_links, request.app.state.services.confirm_expiry
    try:
        audience_id, contact_id, issued = links.parse(token)
        outcome, row = await ctx.db.read(
            confirmations.state, audience_id, contact_id, issued, clock.now(), expiry
        )
    except NotFound:
        return not_found_page()
    return html_page("confirm.html", outcome=outcome, list_name=row.name)


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
