"""Events recorded against a contact: custom events, and revenue that adds to its LTV."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from roster.core.clock import now
from roster.core.contacts import find
from roster.core.errors import Invalid
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import contact_events, contacts

MAX_CENTS = 10**15


def _record(conn: Connection, team_id: str, identifier: str, unix_time: int | None, **event: Any) -> Record:
    """Write one event for the contact named by ID or email; the contact's row."""
    if unix_time is not None and not 0 <= unix_time < 2**33:
        raise Invalid("time", "must be a Unix time in seconds")
    contact = find(conn, team_id, identifier)
    stamp = now()
    conn.execute(
        insert(contact_events).values(
            id=new_id("event"),
            team_id=team_id,
            contact_id=contact.id,
            occurred_at=stamp if unix_time is None else datetime.fromtimestamp(unix_time, UTC),
            created_at=stamp,
            **event,
        )
    )
    return contact


def record_custom(
    conn: Connection,
    team_id: str,
    identifier: str,
    name: str,
    data: Mapping[str, Any] | None,
    unix_time: int | None,
) -> None:
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("name", "is required, at most 255 characters")
    _record(
        conn,
        team_id,
        identifier,
        unix_time,
        kind="custom",
        name=name,
        data=None if data is None else dict(data),
    )


def record_revenue(
    conn: Connection, team_id: str, identifier: str, amount: float, source: str | None, unix_time: int | None
) -> None:
    """Record revenue (in currency units, e.g. 75.00) and add it to the contact's LTV in cents."""
    if not (math.isfinite(amount) and abs(amount) * 100 < MAX_CENTS):
        raise Invalid("amount", f"must be a number of currency units below {MAX_CENTS // 100:,}")
    cents = round(amount * 100)
    name = (source or "").strip()[:255] or "revenue"
    contact = _record(conn, team_id, identifier, unix_time, kind="revenue", name=name, amount_cents=cents)
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact.id)
        .values(ltv=contacts.c.ltv + cents, updated_at=now())
    )


def page_events(conn: Connection, team_id: str, identifier: str, offset: int, limit: int) -> list[Record]:
    """The contact's events, the latest first: custom, revenue, and what came back from the
    campaigns it was sent (``roster.core.feedback``)."""
    contact = find(conn, team_id, identifier)
    return list(
        conn.execute(
            select(contact_events)
            .where(contact_events.c.team_id == team_id, contact_events.c.contact_id == contact.id)
            .order_by(contact_events.c.occurred_at.desc(), contact_events.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
