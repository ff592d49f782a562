"""Requests per API key and time window, shared through Redis when ``ROSTER_REDIS_URL`` is set.

The window and count come from ``ROSTER_RATE_LIMIT`` in the ``limits`` notation
(``6000/minute``, ``100/second``; ``off`` to disable). Without Redis each process counts on
its own, which is exact for one process and generous for several.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import FixedWindowRateLimiter
from litestar.exceptions import TooManyRequestsException

from roster.counting import CountStore

DEFAULT = "6000/minute"


class RateLimit:
    def __init__(self, spec: str | None, redis_url: str | None) -> None:
        spec = (spec or DEFAULT).strip()
        self.item: RateLimitItem | None = None if spec.lower() == "off" else parse(spec)
        self.counts = CountStore(redis_url)
        self.limiter = FixedWindowRateLimiter(self.counts.storage)

    async def close(self) -> None:
        await self.counts.close()

    async def hit(self, key_id: str) -> None:
        """Count one request of the key; ``TooManyRequestsException`` (429) past the limit."""
        if self.item is None:
            return
        if not await self.limiter.hit(self.item, "api-key", key_id):
            reset, _ = await self.limiter.get_window_stats(self.item, "api-key", key_id)
            wait = max(1, math.ceil(reset - time.time()))
            raise TooManyRequestsException(
                detail=f"rate limit of {self.item} per API key exceeded; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
