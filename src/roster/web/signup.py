"""``/subscribe/{list_id}``: the public subscription form of a list that allows it. No API key.

GET shows the form; POST asks the address to confirm (always double opt-in,
``roster.core.signups``) and answers "check your inbox" whether or not the address was new,
so that the form tells nobody who is subscribed. A filled-in honeypot field (``website``,
hidden from people) is answered the same and does nothing. Sign-ups are limited per address
and per client address (``ADDRESS_LIMIT``, ``CLIENT_LIMIT``; counted in Redis when
``ROSTER_REDIS_URL`` is set): past either, 429.
"""

from __future__ import annotations

from html import escape
from typing import Any

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from litestar import Request, Response, Router, get, post

from roster.api.clients import client_address
from roster.api.common import DEPENDENCIES, Ctx, PathId
from roster.core import signups
from roster.core.emails import clean_email
from roster.core.errors import Invalid, NotFound
from roster.counting import CountStore
from roster.web.pages import html_page, not_found_page

ADDRESS_LIMIT = parse("3/hour")
CLIENT_LIMIT = parse("30/hour")
CHECK_INBOX = "Almost done: we sent you an email. Follow its link to confirm your subscription."


class SignupLimits:
    """Sign-ups counted per address and per client."""

    def __init__(self, redis_url: str | None) -> None:
        self.counts = CountStore(redis_url)
        self.limiter = MovingWindowRateLimiter(self.counts.storage)

    async def close(self) -> None:
        await self.counts.close()

    async def allow(self, email: str, client: str) -> bool:
        return await self.limiter.hit(CLIENT_LIMIT, "signup-client", client) and await self.limiter.hit(
            ADDRESS_LIMIT, "signup-address", email
        )


@get("/{list_id:str}")
async def show(ctx: Ctx, list_id: PathId) -> Response[str]:
    try:
        audience = await ctx.db.read(signups.public_list, list_id)
    except NotFound:
        return not_found_page()
    return html_page("signup.html", list_name=audience.name, show_form=True, message=None)


@post("/{list_id:str}", status_code=200)
async def sign_up(request: Request[Any, Any, Any], ctx: Ctx, list_id: PathId) -> Response[str]:
    try:
        audience = await ctx.db.read(signups.public_list, list_id)
    except NotFound:
        return not_found_page()
    form = await request.form()
    email = str(form.get("email", "")).strip()
    if str(form.get("website", "")).strip():  # a bot filled the honeypot: it learns nothing
        return html_page("signup.html", list_name=audience.name, show_form=False, message=CHECK_INBOX)
    try:
        normalized = clean_email(email, "email")[1]
    except Invalid as exc:
        return html_page("signup.html", 400, list_name=audience.name, show_form=True, message=exc.message)
    client = client_address(request.scope, request.app.state.services.trusted_proxies)
    if not await request.app.state.services.signup_limits.allow(normalized, client):
        message = "Too many sign-ups from here or for this address; please try again later."
        return html_page("signup.html", 429, list_name=audience.name, show_form=False, message=message)
    names = {"first_name": str(form.get("first_name", "")).strip() or None}
    await ctx.db.write(signups.sign_up, list_id, email, names)
    return html_page("signup.html", list_name=audience.name, show_form=False, message=CHECK_INBOX)


def snippet(base_url: str, list_id: str, list_name: str) -> str:
    """An HTML form to paste into a website: it posts to the list's public sign-up."""
    list_name = escape(list_name)
    return (
        f'<form action="{base_url}/subscribe/{list_id}" method="post">\n'
        f'  <label>Email <input type="email" name="email" required></label>\n'
        '  <label>First name <input name="first_name"></label>\n'
        '  <div style="position:absolute;left:-10000px" aria-hidden="true">'
        '<input name="website" tabindex="-1" autocomplete="off"></div>\n'
        f'  <button type="submit">Subscribe to {list_name}</button>\n'
        "</form>\n"
    )


router = Router(
    path="/subscribe",
    route_handlers=[show, sign_up],
    dependencies=DEPENDENCIES,
    include_in_schema=False,
    request_max_body_size=16 * 1024,
)
