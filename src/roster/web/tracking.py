"""``/t/o/{token}.gif`` (the open pixel) and ``/t/c/{token}`` (a tracked link): public, no API key.

Both answer from the token alone: a genuine one gets its GIF or its redirect at once, and the
request is queued in memory for ``HitRecorder``, which writes the queue in one transaction
every ``FLUSH_EVERY`` seconds (or sooner when it fills). A burst of clicks therefore never
waits on the database's write lock, and costs one write per batch instead of one per click.
A process stopped cleanly writes what it holds; one killed with ``kill -9`` loses at most the
last ``FLUSH_EVERY`` seconds of opens and clicks (never a redirect).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import anyio
from litestar import Request, Response, Router, route

from roster.api.common import PathId
from roster.core import clock, feedback
from roster.core.errors import NotFound
from roster.core.tracking import CLICK, OPEN, Hit, Tracking, why_uncounted
from roster.storage.db import Database
from roster.web.pages import not_found_page

log = logging.getLogger("roster.tracking")

FLUSH_EVERY = 0.25  # seconds
FLUSH_AT = 2_000  # hits held before a flush is due at once
HOLD_AT_MOST = 100_000

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


class HitRecorder:
    """Holds tracking requests and writes them in batches (``run``; ``flush`` at the end)."""

    def __init__(self, db: Database, every: float = FLUSH_EVERY) -> None:
        self.db = db
        self.every = every
        self.held: list[Hit] = []
        self.due = anyio.Event()

    def add(self, hit: Hit) -> None:
        self.held.append(hit)
        if len(self.held) >= FLUSH_AT:
            self.due.set()

    async def flush(self) -> None:
        """Write what is held; if the write fails, it is held again for the next flush (up
        to ``HOLD_AT_MOST``: past that a database that stays down costs the oldest hits)."""
        hits, self.held = self.held, []
        if not hits:
            return
        try:
            await self.db.write(feedback.record_hits, hits)
        except BaseException:
            self.held = (hits + self.held)[-HOLD_AT_MOST:]
            raise

    async def run(self) -> None:
        try:
            while True:
                with anyio.move_on_after(self.every):
                    await self.due.wait()
                self.due = anyio.Event()
                try:
                    await self.flush()
                except Exception:
                    log.exception("recording opens and clicks failed; trying again")
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()


def _services(request: Request[Any, Any, Any]) -> tuple[Tracking, HitRecorder]:
    services = request.app.state.services
    return services.tracking, services.hits


def _hit(
    request: Request[Any, Any, Any], kind: str, campaign_id: str, contact_id: str, url: str | None
) -> Hit:
    agent = request.headers.get("user-agent", "")
    return Hit(kind, campaign_id, contact_id, url, clock.now(), agent, why_uncounted(request.method, agent))


@route("/o/{token:str}", http_method=["GET", "HEAD"])
async def opened(request: Request[Any, Any, Any], token: PathId) -> Response[Any]:
    tracking, hits = _services(request)
    try:
        campaign_id, contact_id = tracking.parse_open(token)
    except NotFound:
        return not_found_page()
    hits.add(_hit(request, OPEN, campaign_id, contact_id, None))
    body = b"" if request.method == "HEAD" else GIF
    return Response(body, media_type="image/gif", headers=_NO_CACHE)


@route("/c/{token:str}", http_method=["GET", "HEAD"])
async def clicked(request: Request[Any, Any, Any], token: PathId) -> Response[Any]:
    tracking, hits = _services(request)
    try:
        campaign_id, contact_id, url = tracking.parse_click(token)
    except NotFound:
        return not_found_page()
    hits.add(_hit(request, CLICK, campaign_id, contact_id, url))
    return Response(b"", status_code=302, headers={**_NO_CACHE, "Location": url})


router = Router(path="/t", route_handlers=[opened, clicked], include_in_schema=False)
