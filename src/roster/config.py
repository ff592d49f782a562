"""Settings read from the environment (``ROSTER_*``), once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url


@dataclass(frozen=True, slots=True)
class BounceRules:
    """When soft bounces flag a contact bounced: ``soft_limit`` of them within ``soft_window``."""

    soft_limit: int = 3
    soft_window: timedelta = timedelta(days=30)


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
    smtp_url: str | None = None
    mail_dir: str | None = None
    bounce_address: str | None = None
    send_max_failures: int = 10
    send_lease: float = 60.0
    tracking: bool = True
    soft_bounce_limit: int = 3
    soft_bounce_days: float = 30.0
    bounce_mailbox: str | None = None
    sns_topics: tuple[str, ...] = ()
    confirm_days: float = 7.0
    confirm_interval: float = 3600.0

    @property
    def mail_folder(self) -> Path:
        """Where messages are written with no SMTP relay: ``ROSTER_MAIL_DIR``, else ``mail/``
        beside the SQLite file (or in the working directory)."""
        if self.mail_dir:
            return Path(self.mail_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).resolve().parent / "mail"
        return Path("mail").resolve()

    @property
    def inline_worker(self) -> bool:
        """Whether the server delivers webhooks and campaigns itself: by default on SQLite,
        where it is the only process; on PostgreSQL ``roster worker`` processes do it."""
        if self.worker == "auto":
            return self.database_url.startswith("sqlite")
        return self.worker == "inline"

    @property
    def bounce_rules(self) -> BounceRules:
        return BounceRules(self.soft_bounce_limit, timedelta(days=self.soft_bounce_days))

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
        smtp_url=env.get("ROSTER_SMTP_URL") or None,
        mail_dir=env.get("ROSTER_MAIL_DIR") or None,
        bounce_address=env.get("ROSTER_BOUNCE_ADDRESS") or None,
        send_max_failures=int(env.get("ROSTER_SEND_MAX_FAILURES", "10")),
        send_lease=float(env.get("ROSTER_SEND_LEASE", "60")),
        tracking=env.get("ROSTER_TRACKING", "1").lower() not in ("0", "false", "no", "off"),
        soft_bounce_limit=int(env.get("ROSTER_SOFT_BOUNCES", "3")),
        soft_bounce_days=float(env.get("ROSTER_SOFT_BOUNCE_DAYS", "30")),
        bounce_mailbox=env.get("ROSTER_BOUNCE_MAILBOX") or None,
        confirm_days=float(env.get("ROSTER_CONFIRM_DAYS", "7")),
        confirm_interval=float(env.get("ROSTER_CONFIRM_INTERVAL", "3600")),
        sns_topics=tuple(arn.strip() for arn in env.get("ROSTER_SNS_TOPICS", "").split(",") if arn.strip()),
    )
