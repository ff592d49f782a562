"""Team members: the people of a team. Read through the API; made with ``roster member add``."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from roster.core.clock import now
from roster.core.emails import clean_email
from roster.core.named import clean_name, get_owned, page_owned, require_free
from roster.core.teams import get_team
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import members


def add_member(conn: Connection, team_id: str, email: str, full_name: str) -> Record:
    get_team(conn, team_id)
    email, normalized = clean_email(email)
    name = clean_name(full_name)
    taken = f"a member with the email `{email}` already exists"
    require_free(conn, members, "email_normalized", team_id, normalized, taken)
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
    return list(conn.execute(page_owned(select(members), members, team_id, offset, limit)))
