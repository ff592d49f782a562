"""Settings read from the environment (``ROSTER_*``), once per process."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

import msgspec
from limits import parse
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
    public_url: str | None = None
    secret_key: str | None = None
    previous_secret_key: str | None = None
    key_file: str | None = None
    dns_nameserver: str | None = None
    rate_limit: str | None = None
    auth_failure_limit: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    redis_url: str | None = None
    webhook_allow_private: bool = False
    worker: Literal["auto", "inline", "off"] = "auto"
    smtp_url: str | None = None
    mail_dir: str | None = None
    bounce_address: str | None = None
    send_max_failures: int = 10
    send_lease: float = 60.0
    tracking: bool = True
    soft_bounces: int = 3
    soft_bounce_days: float = 30.0
    bounce_mailbox: str | None = None
    sns_topics: tuple[str, ...] = ()
    confirm_days: float = 7.0
    confirm_interval: float = 3600.0
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    metrics_token: str | None = None

    @property
    def sqlite_folder(self) -> Path | None:
        """The folder of the SQLite database file; ``None`` on PostgreSQL."""
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            return Path(url.database).resolve().parent
        return None

    @property
    def mail_folder(self) -> Path:
        """Where messages are written with no SMTP relay: ``ROSTER_MAIL_DIR``, else ``mail/``
        beside the SQLite file (or in the working directory)."""
        if self.mail_dir:
            return Path(self.mail_dir)
        return (self.sqlite_folder or Path.cwd()) / "mail"

    @property
    def inline_worker(self) -> bool:
        """Whether the server delivers webhooks and campaigns itself: by default on SQLite,
        where it is the only process; on PostgreSQL ``roster worker`` processes do it."""
        if self.worker == "auto":
            return self.database_url.startswith("sqlite")
        return self.worker == "inline"

    @property
    def bounce_rules(self) -> BounceRules:
        return BounceRules(self.soft_bounces, timedelta(days=self.soft_bounce_days))

    @property
    def base_url(self) -> str:
        """Where the public pages are reached: ``ROSTER_PUBLIC_URL`` or the server's address."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


class SettingsError(ValueError):
    """A ``ROSTER_*`` variable with a value Roster cannot take: one line naming it."""


# What each type of setting takes, said the way an operator writes it.
_FORMS = {"int": "a whole number", "float": "a number", "bool": "true or false (or 1 / 0)"}
_DATABASES = ("sqlite", "postgresql", "postgres")
_REQUIRED = {"database_url": "sqlite:///roster.db", "host": "127.0.0.1", "port": "8000"}


def load_settings() -> Settings:
    """The settings from the environment, every value checked: ``SettingsError`` names the
    first wrong one and what it takes."""
    env = os.environ
    raw: dict[str, Any] = {}
    for field in fields(Settings):
        value = env.get(f"ROSTER_{field.name.upper()}") or _REQUIRED.get(field.name)
        if value is not None:
            raw[field.name] = value
    for listed in ("sns_topics", "trusted_proxies"):
        if listed in raw:
            raw[listed] = [item.strip() for item in raw[listed].split(",") if item.strip()]
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _explained(exc, raw) from None
    _check(settings)
    return settings


def _explained(exc: msgspec.ValidationError, raw: Mapping[str, Any]) -> SettingsError:
    found = re.search(r"at `\$\.(\w+)`", str(exc))
    if found is None:
        return SettingsError(f"a setting is wrong: {exc}")
    name = found.group(1)
    kind = re.search(r"Expected `(\w+)", str(exc))
    takes = _FORMS.get(kind.group(1), kind.group(1)) if kind else "something else"
    if "Invalid enum value" in str(exc):
        takes = " or ".join(repr(choice) for choice in get_args(get_type_hints(Settings).get(name)))
    return SettingsError(f"ROSTER_{name.upper()} must be {takes} (it is {str(raw.get(name))[:60]!r})")


def _check(settings: Settings) -> None:
    scheme = settings.database_url.partition(":")[0].partition("+")[0].lower()
    if scheme not in _DATABASES:
        raise SettingsError(
            "ROSTER_DATABASE_URL must be sqlite:///path/to/file.db or postgresql://user@host:5432/db "
            f"(it is {scheme}://…)"
        )
    if not 0 < settings.port < 65536:
        raise SettingsError(f"ROSTER_PORT must be a port number, 1 to 65535 (it is {settings.port})")
    for name in ("rate_limit", "auth_failure_limit"):
        spec = getattr(settings, name)
        if spec and spec.strip().lower() != "off":
            try:
                parse(spec)
            except ValueError:
                raise SettingsError(
                    f"ROSTER_{name.upper()} must be a count per window, like 6000/minute or 100/second, "
                    f"or off (it is {spec!r})"
                ) from None
    for proxy in settings.trusted_proxies:
        try:
            ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                f"ROSTER_TRUSTED_PROXIES must be IP addresses or networks, comma-separated, like "
                f"10.0.0.0/8,192.0.2.7 (it holds {proxy[:60]!r})"
            ) from None
    for name in ("send_max_failures", "soft_bounces"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"ROSTER_{name.upper()} must be 1 or more")
    for name in ("send_lease", "soft_bounce_days", "confirm_days", "confirm_interval"):
        if not getattr(settings, name) > 0:
            raise SettingsError(f"ROSTER_{name.upper()} must be a number above 0")
