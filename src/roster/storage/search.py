"""Substring search over contacts' names and emails, on each database's own trigram index.

SQLite: an FTS5 table with the trigram tokenizer (``contacts_search``, external content on
the contacts' rowids). PostgreSQL: a pg_trgm GIN index over the lower-cased names and email
(``ix_contacts_search``). Both are made by migration 0004, not declared in ``tables.py``.

A trigram index answers "which contacts hold this text" fast when few do; when many do, it
is faster to walk the team's contacts in ID order and stop at the page. On SQLite the index
is asked for at most ``CAP`` matches and the walk is used beyond that. On PostgreSQL a GIN
bitmap scan costs as much as the text is common (15–50 ms for a first name at 1M contacts),
so a bounded walk of the team's first ``WINDOW`` contacts comes first; only text it does not
find often enough goes to the index, then to the full walk beyond ``CAP`` matches.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from roster.storage.prepared import Prepared
from roster.storage.tables import contacts

SEARCH_OBJECTS = ("contacts_search", "ix_contacts_search")
CAP = 1_000
WINDOW = 1_000  # PostgreSQL: contacts walked in ID order before the index is asked
TRIGRAM = 3  # shortest text a trigram index can look up


def declared_elsewhere(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: leave the search indexes out of schema comparisons."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for ``LIKE … ESCAPE '\\'``, the text taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def holds(term: str, source: Any = contacts) -> Any:
    """The condition, row by row, that a contact's first name, last name or email holds
    ``term``; ``source`` is ``contacts`` or a subquery with the same columns."""
    pattern = like_pattern(term)
    return or_(
        source.c.email_normalized.like(pattern, escape="\\"),
        func.lower(source.c.first_name).like(pattern, escape="\\"),
        func.lower(source.c.last_name).like(pattern, escape="\\"),
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


def _words(source: Any) -> Any:
    """The text ``ix_contacts_search`` indexes, of ``contacts`` or a subquery of its columns."""
    return func.lower(
        func.coalesce(source.c.first_name, "")
        + "\t"
        + func.coalesce(source.c.last_name, "")
        + "\t"
        + source.c.email_normalized
    )


_window = (
    select(contacts.c.id, contacts.c.email_normalized, contacts.c.first_name, contacts.c.last_name)
    .where(contacts.c.team_id == bindparam("team_id"))
    .order_by(contacts.c.id)
    .limit(bindparam("window"))
    .subquery()
)
# The team's first WINDOW contacts, filtered: the plan is the same for any text, so the
# statement is prepared once and the pattern bound.
_IN_WINDOW = Prepared(
    select(_window.c.id)
    .where(_words(_window).like(bindparam("pattern"), escape="\\"))
    .order_by(_window.c.id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)


def _postgresql(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    # Text many contacts hold fills the page within the team's first few hundred contacts.
    pattern = like_pattern(term)
    params = {"team_id": team_id, "window": WINDOW, "pattern": pattern, "offset": offset, "limit": limit}
    page = [row.id for row in _IN_WINDOW.all(conn, params)]
    if len(page) == limit:
        return page
    # Otherwise the trigram index, always (migration 0010 says why), for at most CAP matches.
    found = conn.execute(select(func.contacts_holding(team_id, pattern, CAP + 1))).scalars().all()
    if len(found) > CAP:
        return _walk(conn, team_id, term, offset, limit)
    return sorted(found)[offset : offset + limit]  # IDs sort by creation, byte-wise


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
