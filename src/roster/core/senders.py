"""Senders: the names and addresses a team's campaigns are sent from.

A sender is whitelisted exactly when its address's domain is one of the team's verified
domains; that is worked out when it is read, so verifying a domain later counts at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select

from roster.core.clock import now
from roster.core.domains import VERIFIED
from roster.core.emails import clean_email
from roster.core.errors import Invalid, NotFound
from roster.core.named import clean_name, page_owned, require_free
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


_SENDERS = select(senders, _WHITELISTED.label("whitelisted"))


def create_sender(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    if "name" not in fields:
        raise Invalid("name", "is required")
    if "email" not in fields:
        raise Invalid("email", "is required")
    name = clean_name(fields["name"])
    email, normalized = clean_email(fields["email"])
    taken = f"a sender with the email `{email}` already exists"
    require_free(conn, senders, "email_normalized", team_id, normalized, taken)
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
    row = conn.execute(_SENDERS.where(senders.c.team_id == team_id, senders.c.id == sender_id)).first()
    if row is None:
        raise NotFound("sender", sender_id)
    return row


def page_senders(conn: Connection, team_id: str, offset: int, limit: int) -> list[Record]:
    return list(conn.execute(page_owned(_SENDERS, senders, team_id, offset, limit)))
