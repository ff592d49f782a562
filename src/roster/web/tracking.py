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
from urllib.parse import quote

import anyio
from litestar import Request, Router, route
from litestar.types import ASGIApp, Receive, Scope, Send

from roster.api.common import PathId
from roster.core import clock, feedback
from roster.core.errors import NotFound
from roster.core.tracking import CLICK, OPEN, Hit, Tracking, why_uncounted
from roster.storage.db import Database
from roster.web.pages import not_found_html

log = logging.getLogger("roster.tracking")

FLUSH_EVERY = 0.25  # seconds
FLUSH_AT = 2_000  # hits held before a flush is due at once
HOLD_AT_MOST = 100_000

_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"  # RFC 3986's reserved and unreserved characters, and %
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# Answered as bare ASGI apps with their headers encoded once: Litestar's Response (and its
# ASGIResponse) spends more on a handful of headers than the rest of the redirect costs.
_NO_CACHE = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-robots-tag", b"noindex, nofollow"),
]


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
            # In a worker thread on SQLite too: the write may wait for another process's lock,
            # and the event loop must go on answering meanwhile.
            await anyio.to_thread.run_sync(self.db.run_write, feedback.record_hits, hits)
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


def _answer(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"", head: bool = False
) -> ASGIApp:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }
    sent = {"type": "http.response.body", "body": b"" if head else body}

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start)  # type: ignore[arg-type]
        await send(sent)  # type: ignore[arg-type]

    return respond


def _not_found() -> ASGIApp:
    html = not_found_html().encode()
    return _answer(404, [*_NO_CACHE, (b"content-type", b"text/html; charset=utf-8")], html)


def _services(request: Request[Any, Any, Any]) -> tuple[Tracking, HitRecorder]:
    services = request.app.state.services
    return services.tracking, services.hits


def _hit(
    request: Request[Any, Any, Any], kind: str, campaign_id: str, contact_id: str, url: str | None
) -> Hit:
    agent = request.headers.get("user-agent", "")
    return Hit(kind, campaign_id, contact_id, url, clock.now(), agent, why_uncounted(request.method, agent))


@route("/o/{token:str}", http_method=["GET", "HEAD"])
async def opened(request: Request[Any, Any, Any], token: PathId) -> ASGIApp:
    tracking, hits = _services(request)
    try:
        campaign_id, contact_id = tracking.parse_open(token)
    except NotFound:
        return _not_found()
    hits.add(_hit(request, OPEN, campaign_id, contact_id, None))
    return _answer(200, [*_NO_CACHE, (b"content-type", b"image/gif")], GIF, head=request.method == "HEAD")


@route("/c/{token:str}", http_method=["GET", "HEAD"])
async def clicked(request: Request[Any, Any, Any], token: PathId) -> ASGIApp:
    tracking, hits = _services(request)
    try:
        campaign_id, contact_id, url = tracking.parse_click(token)
    except NotFound:
        return _not_found()
    hits.add(_hit(request, CLICK, campaign_id, contact_id, url))
    # The URL was checked (http or https) before it was signed; quote() keeps any byte that
    # is not allowed in a header out of it.
    location = quote(url, safe=_URL_SAFE).encode()
    return _answer(302, [*_NO_CACHE, (b"location", location)])


router = Router(path="/t", route_handlers=[opened, clicked], include_in_schema=False)
