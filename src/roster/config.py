"""Settings read from the environment (``ROSTER_*``), once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    host: str
    port: int
    public_url: str | None
    secret_key: str | None
    dns_nameserver: str | None
    rate_limit: str | None = None
    redis_url: str | None = None
    webhook_allow_private: bool = False
    worker: str = "auto"

    @property
    def inline_worker(self) -> bool:
        """Whether the server delivers webhooks itself: by default on SQLite, where it is the
        only process; on PostgreSQL ``roster worker`` processes do it."""
        if self.worker == "auto":
            return self.database_url.startswith("sqlite")
        return self.worker == "inline"

    @property
    def base_url(self) -> str:
        """Where the public pages are reached: ``ROSTER_PUBLIC_URL`` or the server's address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


def load_settings() -> Settings:
    env = os.environ
    return Settings(
        database_url=env.get("ROSTER_DATABASE_URL", "sqlite:///roster.db"),
        host=env.get("ROSTER_HOST", "127.0.0.1"),
        port=int(env.get("ROSTER_PORT", "8000")),
        public_url=env.get("ROSTER_PUBLIC_URL") or None,
        secret_key=env.get("ROSTER_SECRET_KEY") or None,
        dns_nameserver=env.get("ROSTER_DNS_NAMESERVER") or None,
        rate_limit=env.get("ROSTER_RATE_LIMIT") or None,
        redis_url=env.get("ROSTER_REDIS_URL") or None,
        webhook_allow_private=env.get("ROSTER_WEBHOOK_ALLOW_PRIVATE", "") in ("1", "true", "yes"),
        worker=env.get("ROSTER_WORKER", "auto"),
    )
