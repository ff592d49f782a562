"""Where rate limits and throttles count: in Redis when ``ROSTER_REDIS_URL`` is set, shared by
every process that uses the same URL, else in this process's memory."""

from __future__ import annotations

import redis.asyncio
from limits.aio.storage import Storage
from limits.storage import storage_from_string


class CountStore:
    """A ``limits`` storage, and its Redis connections to close."""

    def __init__(self, redis_url: str | None) -> None:
        self.pool = redis.asyncio.ConnectionPool.from_url(redis_url) if redis_url else None
        storage = (
            storage_from_string(
                f"async+{redis_url}",
                implementation="redispy",  # redis-py, which Roster has, not limits' default (coredis)
                connection_pool=self.pool,  # type: ignore[arg-type]  # accepted by the redispy bridge
            )
            if self.pool is not None
            else storage_from_string("async+memory://")
        )
        assert isinstance(storage, Storage)
        self.storage = storage

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.disconnect()
