"""``/unsubscribe/{token}``: a page for one contact in one audience. No login, no API key.

GET only shows (mail scanners fetch every link). POST applies the form, or, with the body
``List-Unsubscribe=One-Click`` (RFC 8058), unsubscribes from the audience and answers 200.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, Router, get, post

from roster.api.common import DEPENDENCIES, Ctx, PathId
from roster.core import consent, preferences
from roster.core.errors import NotFound

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

# The token is the credential: keep it out of referrers, caches and search engines.
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}

_MESSAGES = {
    "save": "Your topic preferences were saved.",
    "leave": "You have left this list. You will get no more mail from it.",
    "rejoin": "Welcome back: you are subscribed again.",
    "everything": "You are unsubscribed from everything we send.",
}


def _html(body: str, status: int = 200) -> Response[str]:
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)


def html_page(template: str, status: int = 200, **values: Any) -> Response[str]:
    """A public page from ``templates/``, with the headers every public page sends."""
    return _html(_templates.get_template(template).render(**values), status=status)


def not_found_html() -> str:
    return _templates.get_template("not_found.html").render()


def not_found_page() -> Response[str]:
    return _html(not_found_html(), status=404)


def _page(prefs: preferences.Preferences, message: str | None = None) -> Response[str]:
    return _html(_templates.get_template("preferences.html").render(prefs=prefs, message=message))


@get("/{token:str}")
async def show(ctx: Ctx, token: PathId) -> Response[str]:
    try:
        audience_id, contact_id = ctx.links.parse(token)
        return _page(await ctx.db.read(preferences.load, audience_id, contact_id))
    except NotFound:
        return not_found_page()


_LEAVING = {"leave": preferences.leave, "everything": preferences.unsubscribe_everywhere}


@post("/{token:str}", status_code=200)
async def change(request: Request[Any, Any, Any], ctx: Ctx, token: PathId) -> Response[str]:
    try:
        audience_id, contact_id = ctx.links.parse(token)
        campaign_id = ctx.links.campaign(audience_id, contact_id, request.query_params.get("c"))
        form = await request.form()
        one_click = form.get("List-Unsubscribe") == "One-Click"
        consent.SOURCE.set(
            consent.Source(consent.ONE_CLICK if one_click else consent.PREFERENCE_PAGE, campaign_id)
        )
        if one_click:
            await ctx.db.write(preferences.leave, audience_id, contact_id, campaign_id)
            return Response("Unsubscribed.", status_code=200, media_type="text/plain", headers=_HEADERS)
        # The page's buttons always name their action; a POST that names none (an empty one,
        # say, from a scanner) changes nothing rather than untick every topic.
        action = str(form.get("action", ""))
        if action == "save":
            chosen = {str(value) for value in form.getall("topic", [])}
            await ctx.db.write(preferences.save_topics, audience_id, contact_id, chosen)
        elif action in _LEAVING:
            await ctx.db.write(_LEAVING[action], audience_id, contact_id, campaign_id)
        elif action == "rejoin":
            await ctx.db.write(preferences.rejoin, audience_id, contact_id)
        else:
            return _html("Choose what to change on the page.", status=400)
        prefs = await ctx.db.read(preferences.load, audience_id, contact_id)
        return _page(prefs, _MESSAGES[action])
    except NotFound:
        return not_found_page()


router = Router(
    path="/unsubscribe",
    route_handlers=[show, change],
    dependencies=DEPENDENCIES,
    include_in_schema=False,
    request_max_body_size=64 * 1024,
)
