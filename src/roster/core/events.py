"""Events recorded against a contact: custom events, and revenue that adds to its LTV."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, update

from roster.core.clock import now
from roster.core.contacts import find
from roster.core.errors import Invalid
from roster.ids import new_id
from roster.storage.tables import contact_events, contacts

MAX_CENTS = 10**15


def _moment(unix_time: int | None) -> datetime:
    if unix_time is None:
        return now()
    if not 0 <= unix_time < 2**33:
        raise Invalid("time", "must be a Unix time in seconds")
    return datetime.fromtimestamp(unix_time, UTC)


def record_custom(
    conn: Connection,
    team_id: str,
    identifier: str,
    name: str,
    data: Mapping[str, Any] | None,
    unix_time: int | None,
) -> str:
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("name", "is required, at most 255 characters")
    contact = find(conn, team_id, identifier)
    event_id = new_id("event")
    conn.execute(
        insert(contact_events).values(
            id=event_id,
            team_id=team_id,
            contact_id=contact.id,
            kind="custom",
            name=name,
            data=dict(data) if data is not None else None,
            occurred_at=_moment(unix_time),
            created_at=now(),
        )
    )
    return event_id


def record_revenue(
    conn: Connection, team_id: str, identifier: str, amount: float, source: str | None, unix_time: int | None
) -> str:
    """Record revenue (in currency units, e.g. 75.00) and add it to the contact's LTV in cents."""
    cents = round(amount * 100)
    if not -MAX_CENTS < cents < MAX_CENTS:
        raise Invalid("amount", "is out of range")
    contact = find(conn, team_id, identifier)
    event_id = new_id("event")
    conn.execute(
        insert(contact_events).values(
            id=event_id,
            team_id=team_id,
            contact_id=contact.id,
            kind="revenue",
            name=(source or "revenue").strip()[:255] or "revenue",
            amount_cents=cents,
            occurred_at=_moment(unix_time),
            created_at=now(),
        )
    )
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact.id)
        .values(ltv=contacts.c.ltv + cents, updated_at=now())
    )
    return event_id
