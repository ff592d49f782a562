"""Senders: the names and addresses a team's campaigns are sent from.

A sender is whitelisted exactly when its address's domain is one of the team's verified
domains; that is worked out when it is read, so verifying a domain later counts at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, insert, select

from roster.core.clock import now
from roster.core.domains import VERIFIED
from roster.core.emails import clean_email
from roster.core.errors import Conflict, Invalid, NotFound
from roster.core.named import clean_name
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import domains, senders

_WHITELISTED = exists().where(
    and_(
        domains.c.team_id == senders.c.team_id,
        domains.c.status == VERIFIED,
        domains.c.name == senders.c.domain,
    )
)


def _senders(team_id: str) -> Select[Any]:
    return select(senders, _WHITELISTED.label("whitelisted")).where(senders.c.team_id == team_id)


def create_sender(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    if "name" not in fields:
        raise Invalid("name", "is required")
    if "email" not in fields:
        raise Invalid("email", "is required")
    name = clean_name(fields["name"])
    email, normalized = clean_email(fields["email"])
    taken = select(senders.c.id).where(senders.c.team_id == team_id, senders.c.email_normalized == normalized)
    if conn.execute(taken).first() is not None:
        raise Conflict(f"a sender with the email `{email}` already exists")
    sender_id = new_id("sender")
    stamp = now()
    conn.execute(
        insert(senders).values(
            id=sender_id,
            team_id=team_id,
            name=name,
            email=email,
            email_normalized=normalized,
            domain=normalized.rpartition("@")[2],
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_sender(conn, team_id, sender_id)


def get_sender(conn: Connection, team_id: str, sender_id: str) -> Record:
    row = conn.execute(_senders(team_id).where(senders.c.id == sender_id)).first()
    if row is None:
        raise NotFound("sender", sender_id)
    return row


def page_senders(conn: Connection, team_id: str, offset: int, limit: int) -> list[Record]:
    return list(conn.execute(_senders(team_id).order_by(senders.c.id).offset(offset).limit(limit)))
