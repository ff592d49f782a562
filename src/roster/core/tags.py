"""Tags: team-wide labels for contacts, unique by name (case-insensitively)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from roster.core.clock import now
from roster.core.guards import require_untargeted
from roster.core.named import clean_name, get_owned, require_unique_name, search_page
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import campaign_targets, tags


def create_tag(conn: Connection, team_id: str, name: str) -> Record:
    name = clean_name(name)
    normalized = require_unique_name(conn, tags, "tag", team_id, name)
    tag_id = new_id("tag")
    stamp = now()
    conn.execute(
        insert(tags).values(
            id=tag_id,
            team_id=team_id,
            name=name,
            name_normalized=normalized,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_tag(conn, team_id, tag_id)


def get_tag(conn: Connection, team_id: str, tag_id: str) -> Record:
    return get_owned(conn, tags, "tag", team_id, tag_id)


def find_tag(conn: Connection, team_id: str, name: str) -> Record | None:
    """The team's tag of that name, compared case-insensitively."""
    query = select(tags).where(tags.c.team_id == team_id, tags.c.name_normalized == name.strip().lower())
    return conn.execute(query).first()


def page_tags(conn: Connection, team_id: str, offset: int, limit: int, search: str | None) -> list[Record]:
    return search_page(conn, select(tags).where(tags.c.team_id == team_id), tags, offset, limit, search)


def rename_tag(conn: Connection, team_id: str, tag_id: str, name: str) -> Record:
    get_tag(conn, team_id, tag_id)
    name = clean_name(name)
    normalized = require_unique_name(conn, tags, "tag", team_id, name, keep=tag_id)
    conn.execute(
        update(tags)
        .where(tags.c.id == tag_id)
        .values(name=name, name_normalized=normalized, updated_at=now())
    )
    return get_tag(conn, team_id, tag_id)


def delete_tag(conn: Connection, team_id: str, tag_id: str) -> None:
    get_tag(conn, team_id, tag_id)
    require_untargeted(conn, campaign_targets.c.tag_id, tag_id, "tag")
    conn.execute(delete(tags).where(tags.c.team_id == team_id, tags.c.id == tag_id))
