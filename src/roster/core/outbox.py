"""Webhook events, written to the outbox in the transaction of the change that caused them.

A change calls ``emit`` inside its own transaction: the event is queued for every enabled
webhook of the team that asked for it, or for none if the change rolls back. The delivery
worker (``roster.delivery``) sends what the outbox holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from roster.core.clock import iso, now
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.prepared import Prepared
from roster.storage.tables import contacts, webhook_deliveries, webhooks

PENDING = "pending"  # a message's state until it is delivered or given up (roster.delivery)

CONTACT_CREATED = "contact.created"
UNSUBSCRIBED = "contact.unsubscribed"
BOUNCED = "contact.bounced"
MARKED_SPAM = "contact.marked_spam"
DROPPED = "contact.dropped"
OPENED = "email.opened"
CLICKED = "email.clicked"

# Each event type and the webhook flag that asks for it.
EVENT_FLAGS = {
    CONTACT_CREATED: "contact_created",
    UNSUBSCRIBED: "unsubscribed",
    BOUNCED: "bounced",
    MARKED_SPAM: "marked_spam",
    DROPPED: "dropped",
    OPENED: "opened",
    CLICKED: "clicked",
}

_LISTENERS = {
    event: Prepared(
        select(webhooks.c.id).where(
            webhooks.c.team_id == bindparam("team_id"), webhooks.c.enabled, webhooks.c[flag]
        )
    )
    for event, flag in EVENT_FLAGS.items()
}


def contact_data(row: Record) -> dict[str, Any]:
    """What an event tells about a contact (SendX's field names)."""
    return {
        "id": row.id,
        "email": row.email,
        "firstName": row.first_name,
        "lastName": row.last_name,
        "created": iso(row.created_at),
    }


def _listeners(conn: Connection, team_id: str, event: str) -> list[str]:
    return [row.id for row in _LISTENERS[event].all(conn, {"team_id": team_id})]


def listening(conn: Connection, team_id: str, event: str) -> bool:
    """Whether any enabled webhook of the team asks for ``event``."""
    return bool(_listeners(conn, team_id, event))


def _queue(
    conn: Connection, team_id: str, event: str, listeners: list[str], items: Iterable[Mapping[str, Any]]
) -> None:
    stamp = now()
    rows: list[dict[str, Any]] = []
    for data in items:
        message_id = new_id("msg")
        payload = json.dumps({"type": event, "timestamp": iso(stamp), "data": data})
        rows.extend(
            {
                "id": message_id,
                "webhook_id": webhook_id,
                "team_id": team_id,
                "event": event,
                "payload": payload,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": stamp,
                "created_at": stamp,
            }
            for webhook_id in listeners
        )
    if rows:
        conn.execute(insert(webhook_deliveries), rows)


def emit(conn: Connection, team_id: str, event: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Queue one message of type ``event`` per item of ``items`` (its ``data``) for each
    listening webhook. One query when nobody listens."""
    if items and (listeners := _listeners(conn, team_id, event)):
        _queue(conn, team_id, event, listeners, items)


def emit_contacts(
    conn: Connection, team_id: str, event: str, contact_ids: Sequence[str], **extra: Any
) -> None:
    """``emit`` one message per contact, its data the contact's fields and ``extra``; the
    contacts are read only when somebody listens."""
    if not contact_ids or not (listeners := _listeners(conn, team_id, event)):
        return
    rows = conn.execute(
        select(contacts).where(contacts.c.team_id == team_id, contacts.c.id.in_(contact_ids))
    ).all()
    _queue(conn, team_id, event, listeners, ({**contact_data(row), **extra} for row in rows))
