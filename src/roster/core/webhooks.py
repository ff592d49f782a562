"""Webhooks: where a team's events are delivered, which events, and the secret that signs them.

A webhook URL must reach a public address. ``public_addresses`` resolves the host and
refuses loopback, private, link-local (cloud metadata), shared, reserved and multicast
addresses, unless the operator allows them (``ROSTER_WEBHOOK_ALLOW_PRIVATE=1``). It runs
when a webhook is saved and again before every delivery, on the addresses then connected to.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
from sqlalchemy import Connection, delete, insert, select, update

from roster.core.clock import now
from roster.core.errors import Invalid
from roster.core.named import get_owned, page_owned
from roster.core.outbox import EVENT_FLAGS
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import webhooks

FLAGS = tuple(EVENT_FLAGS.values())
MAX_URL = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def clean_url(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("url", "is required")
    url = raw.strip()
    if len(url) > MAX_URL:
        raise Invalid("url", f"must be at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url", "must be an absolute http or https URL")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise Invalid("url", "has an invalid port") from exc
    return url


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, nameserver: str | None) -> list[IPAddress]:
    """The addresses ``host`` names: itself if it is one, else its A and AAAA records."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        server, _, port = nameserver.partition(":")
        resolver.nameservers = [server]
        resolver.port = int(port or 53)
    found: list[IPAddress] = []
    for kind in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, kind, lifetime=5.0)
        except (dns.exception.DNSException, OSError):
            continue
        found.extend(ipaddress.ip_address(record.address) for record in answer)
    return found


def public_addresses(url: str, *, allow_private: bool, nameserver: str | None) -> list[IPAddress]:
    """The addresses to deliver ``url`` to; ``Invalid`` if there are none or any is not public."""
    host = urlsplit(url).hostname or ""
    addresses = resolve(host, nameserver)
    if not addresses:
        raise Invalid("url", f"the host `{host}` does not resolve")
    refused = [str(address) for address in addresses if not is_public(address)]
    if refused and not allow_private:
        raise Invalid(
            "url",
            f"the host `{host}` resolves to {', '.join(refused)}, which is not a public address; "
            "webhooks to loopback, private, link-local or reserved addresses are refused",
        )
    return addresses


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "url" in fields:
        cleaned["url"] = clean_url(fields["url"])
    for name in ("enabled", *FLAGS):
        if name in fields:
            if not isinstance(fields[name], bool):
                raise Invalid(name, "must be true or false")
            cleaned[name] = fields[name]
    return cleaned


def create_webhook(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    """A new webhook (the caller has checked its URL with ``public_addresses``)."""
    if "url" not in fields:
        raise Invalid("url", "is required")
    values = {"enabled": True, **dict.fromkeys(FLAGS, False), **_clean(fields)}
    webhook_id = new_id("webhook")
    stamp = now()
    conn.execute(
        insert(webhooks).values(
            id=webhook_id, team_id=team_id, secret=new_secret(), created_at=stamp, updated_at=stamp, **values
        )
    )
    return get_webhook(conn, team_id, webhook_id)


def get_webhook(conn: Connection, team_id: str, webhook_id: str) -> Record:
    return get_owned(conn, webhooks, "webhook", team_id, webhook_id)


def page_webhooks(conn: Connection, team_id: str, offset: int, limit: int) -> list[Record]:
    return list(conn.execute(page_owned(select(webhooks), webhooks, team_id, offset, limit)))


def update_webhook(conn: Connection, team_id: str, webhook_id: str, fields: Mapping[str, Any]) -> Record:
    """Change the fields sent; enabling a webhook clears why it was disabled."""
    get_webhook(conn, team_id, webhook_id)
    values = _clean(fields)
    if values.get("enabled"):
        values["disabled_reason"] = None
    conn.execute(update(webhooks).where(webhooks.c.id == webhook_id).values(updated_at=now(), **values))
    return get_webhook(conn, team_id, webhook_id)


def delete_webhook(conn: Connection, team_id: str, webhook_id: str) -> None:
    get_webhook(conn, team_id, webhook_id)
    conn.execute(delete(webhooks).where(webhooks.c.team_id == team_id, webhooks.c.id == webhook_id))
