"""Requests per API key and time window, and failed authentications per client, shared
through Redis when ``ROSTER_REDIS_URL`` is set.

The window and count come from ``ROSTER_RATE_LIMIT`` in the ``limits`` notation
(``6000/minute``, ``100/second``; ``off`` to disable). Without Redis each process counts on
its own, which is exact for one process and generous for several. Every answer to a request
with a valid key says where the key stands (``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` in seconds, as the IETF draft names them).

A client (its address, ``roster.api.clients``) whose keys failed ``ROSTER_AUTH_FAILURE_LIMIT``
times in the window (``30/minute``) is refused before its key is looked up, until the window
ends: guessing keys costs the database nothing.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from litestar.exceptions import TooManyRequestsException

from roster.counting import CountStore

DEFAULT = "6000/minute"
DEFAULT_FAILURES = "30/minute"


def _item(spec: str | None, default: str) -> RateLimitItem | None:
    spec = (spec or default).strip()
    return None if spec.lower() == "off" else parse(spec)


class RateLimit:
    def __init__(self, spec: str | None, redis_url: str | None, failures: str | None = None) -> None:
        self.item = _item(spec, DEFAULT)
        self.failures = _item(failures, DEFAULT_FAILURES)
        self.counts = CountStore(redis_url)
        self.limiter = FixedWindowRateLimiter(self.counts.storage)

    async def close(self) -> None:
        await self.counts.close()

    async def _wait(self, item: RateLimitItem, namespace: str, key: str) -> tuple[int, int]:
        """Seconds until the window of ``key`` ends, and what remains in it."""
        reset, remaining = await self.limiter.get_window_stats(item, namespace, key)
        return max(1, math.ceil(reset - time.time())), remaining

    async def hit(self, key_id: str) -> dict[str, str]:
        """Count one request of the key: the headers saying where it stands, or
        ``TooManyRequestsException`` (429) past the limit."""
        if self.item is None:
            return {}
        allowed = await self.limiter.hit(self.item, "api-key", key_id)
        wait, remaining = await self._wait(self.item, "api-key", key_id)
        headers = {
            "RateLimit-Limit": str(self.item.amount),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(wait),
        }
        if not allowed:
            raise TooManyRequestsException(
                detail=f"rate limit of {self.item} per API key exceeded; retry in {wait} s",
                headers={**headers, "Retry-After": str(wait)},
            )
        return headers

    async def check_client(self, client: str) -> None:
        """429 if the client's failed authentications reached the limit in this window."""
        if self.failures is None or await self.limiter.test(self.failures, "auth-failures", client):
            return
        wait, _ = await self._wait(self.failures, "auth-failures", client)
        raise TooManyRequestsException(
            detail=f"too many failed authentications from this client; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )

    async def failed(self, client: str) -> None:
        """Count a failed authentication of the client."""
        if self.failures is not None:
            await self.limiter.hit(self.failures, "auth-failures", client)
