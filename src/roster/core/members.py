"""Team members: the people of a team. Read through the API; made with ``roster member add``."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from roster.core.clock import now
from roster.core.emails import clean_email
from roster.core.errors import Conflict
from roster.core.named import clean_name, get_owned
from roster.core.teams import get_team
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import members


def add_member(conn: Connection, team_id: str, email: str, full_name: str) -> Record:
    get_team(conn, team_id)
    email, normalized = clean_email(email)
    name = clean_name(full_name)
    taken = select(members.c.id).where(members.c.team_id == team_id, members.c.email_normalized == normalized)
    if conn.execute(taken).first() is not None:
        raise Conflict(f"a member with the email `{email}` already exists")
    member_id = new_id("member")
    stamp = now()
    conn.execute(
        insert(members).values(
            id=member_id,
            team_id=team_id,
            email=email,
            email_normalized=normalized,
            full_name=name,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_member(conn, team_id, member_id)


def get_member(conn: Connection, team_id: str, member_id: str) -> Record:
    return get_owned(conn, members, "member", team_id, member_id)


def page_members(conn: Connection, team_id: str, offset: int, limit: int) -> list[Record]:
    query = select(members).where(members.c.team_id == team_id).order_by(members.c.id)
    return list(conn.execute(query.offset(offset).limit(limit)))
