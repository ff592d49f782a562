"""Around every HTTP request: its request ID, its access line and its metrics, and the
headers a hook asked every answer to carry (``state.response_headers``: the rate limit's).

It wraps the app outside Litestar's own exception handling, so that answers without a route
(404, 405) and server errors are seen too. The route is the template (``/api/v1/audiences/
{audience_id}``), never the path: a line or a label carries no ID, token or address.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from roster.logs import REQUEST_ID
from roster.metrics import LATENCY, REQUESTS

access = logging.getLogger("roster.access")

# A request ID a client or proxy sends is kept if it is this plain; any other is replaced.
GIVEN_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

DIALECTS = (("/api/v1/rest/", "sendx"), ("/api/v1/", "sendex"), ("/v1/", "v1"))


def dialect_of(path: str) -> str:
    return next((name for prefix, name in DIALECTS if path.startswith(prefix)), "web")


def request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if GIVEN_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(12)


class Observe:
    def __init__(self, app: ASGIApp, *, access_log: bool, fields: bool = False) -> None:
        """``fields``: give the access line its parts as fields too, for JSON logs (a third of
        a line's cost, so not for text logs, which show only the message)."""
        self.app = app
        self.access_log = access_log
        self.fields = fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode())
        token = REQUEST_ID.set(rid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = scope.get("state", {}).get("response_headers", {})
                message["headers"] = [
                    *message.get("headers", ()),
                    header,
                    *((name.encode(), value.encode()) for name, value in extra.items()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _record(self, scope: HTTPScope, status: int, elapsed: float) -> None:
        route = scope.get("path_template") or "(no route)"
        dialect = dialect_of(scope["path"])
        method = scope["method"]
        REQUESTS.labels(dialect, method, route, str(status)).inc()
        LATENCY.labels(dialect, route).observe(elapsed)
        if self.access_log:
            principal: Any = scope.get("state", {}).get("principal")
            team = principal.team_id if principal is not None else None
            access.info(
                "%s %s %d %.2f ms team %s",
                method,
                route,
                status,
                elapsed * 1000,
                team or "-",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "team_id": team,
                    "dialect": dialect,
                }
                if self.fields
                else None,
            )
