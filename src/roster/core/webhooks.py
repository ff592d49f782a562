"""Webhooks: where a team's events are delivered, which events, and the secret that signs them.

A webhook URL must reach a public address: the rule of ``roster.core.outbound``, checked when
a webhook is saved and again before every delivery.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from roster import sealing
from roster.core import outbound
from roster.core.clock import now
from roster.core.errors import Invalid
from roster.core.named import get_owned, page_owned
from roster.core.outbox import EVENT_FLAGS
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import webhooks

FLAGS = tuple(EVENT_FLAGS.values())


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "url" in fields:
        cleaned["url"] = outbound.clean_url(fields["url"])
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
            id=webhook_id,
            team_id=team_id,
            secret=sealing.seal(new_secret()),
            created_at=stamp,
            updated_at=stamp,
            **values,
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
