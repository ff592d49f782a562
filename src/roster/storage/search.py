"""Substring search over contacts' names and emails, on each database's own trigram index.

SQLite: an FTS5 table with the trigram tokenizer (``contacts_search``, external content on
the contacts' rowids). PostgreSQL: a pg_trgm GIN index over the lower-cased names and email
(``ix_contacts_search``). Both are made by migration 0004, not declared in ``tables.py``.

A trigram index answers "which contacts hold this text" fast when few do; when many do, it
is faster to walk the team's contacts in ID order and stop at the page. On SQLite the index
is asked for at most ``CAP`` matches and the walk is used beyond that; PostgreSQL's planner
makes that choice from its statistics.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from roster.storage.tables import contacts

SEARCH_OBJECTS = ("contacts_search", "ix_contacts_search")
CAP = 1_000
TRIGRAM = 3  # shortest text a trigram index can look up


def declared_elsewhere(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: leave the search indexes out of schema comparisons."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for ``LIKE … ESCAPE '\\'``, the text taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def holds(term: str) -> Any:
    """The condition, row by row, that a contact's first name, last name or email holds ``term``."""
    pattern = like_pattern(term)
    return or_(
        contacts.c.email_normalized.like(pattern, escape="\\"),
        func.lower(contacts.c.first_name).like(pattern, escape="\\"),
        func.lower(contacts.c.last_name).like(pattern, escape="\\"),
    )


def _walk(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """The team's contacts in ID order, filtered row by row."""
    query = (
        select(contacts.c.id)
        .where(contacts.c.team_id == team_id, holds(term))
        .order_by(contacts.c.id)
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def _postgresql(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    # The same expression as the index, so that the planner can use it.
    words = func.lower(
        func.coalesce(contacts.c.first_name, "")
        + "\t"
        + func.coalesce(contacts.c.last_name, "")
        + "\t"
        + contacts.c.email_normalized
    )
    # The pattern is written into the SQL text rather than bound: a plan prepared for "any
    # pattern" walks the team in ID order, which takes seconds for rare text at 1M contacts.
    pattern: Any = bindparam("pattern", like_pattern(term), literal_execute=True)
    query = (
        select(contacts.c.id)
        .where(contacts.c.team_id == team_id, words.like(pattern, escape="\\"))
        .order_by(contacts.c.id)
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def _sqlite(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    phrase = '"' + term.replace('"', '""') + '"'
    rowids = (
        conn.exec_driver_sql(
            "SELECT rowid FROM contacts_search WHERE contacts_search MATCH ? LIMIT ?", (phrase, CAP + 1)
        )
        .scalars()
        .all()
    )
    if len(rowids) > CAP:
        return _walk(conn, team_id, term, offset, limit)
    if not rowids:
        return []
    marks = ", ".join("?" * len(rowids))
    return list(
        conn.exec_driver_sql(
            f"SELECT id FROM contacts WHERE rowid IN ({marks}) AND team_id = ? ORDER BY id LIMIT ? OFFSET ?",
            (*rowids, team_id, limit, offset),
        ).scalars()
    )


def contact_ids(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """IDs of the team's contacts whose first name, last name or email holds ``term``
    (case-insensitively), oldest first, one page."""
    term = "".join(char for char in term if char.isprintable())
    if len(term) < TRIGRAM:
        return _walk(conn, team_id, term, offset, limit)
    if conn.dialect.name == "postgresql":
        return _postgresql(conn, team_id, term, offset, limit)
    return _sqlite(conn, team_id, term, offset, limit)
