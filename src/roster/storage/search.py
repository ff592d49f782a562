"""Substring search over contacts' names and emails, on each database's own trigram index.

SQLite: an FTS5 table with the trigram tokenizer (``contacts_search``, external content on
the contacts' rowids; migration 0004). PostgreSQL: a generated column ``search_text`` of the
lower-cased names and email, tab-separated, with a pg_trgm GIN index (``ix_contacts_search``;
migrations 0004 and 0011). Neither is declared in ``tables.py``.

A trigram index answers "which contacts hold this text" fast when few do; when many do, it
is faster to walk the team's contacts in ID order and stop at the page (a GIN bitmap scan
costs as much as the text is common: 15–50 ms for a first name at 1M contacts; FTS5 up to
2 ms to find a domain more than ``CAP`` times). So on both databases a bounded walk of the
team's first ``WINDOW`` contacts comes first, and is the answer when it fills the page.
Text it finds at least ``WALK_AT`` times is walked to; rarer text goes to the index, for at
most ``CAP`` matches, and to the walk beyond that.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, column, func, literal_column, or_, select, table, union_all

from roster.storage.prepared import Prepared
from roster.storage.tables import contacts

SEARCH_OBJECTS = ("contacts_search", "ix_contacts_search", "search_text")
CAP = 1_000
WINDOW = 1_000  # contacts walked in ID order before the index is asked
WALK_AT = 3  # text found this often in the window is walked to, not looked up
TRIGRAM = 3  # shortest text a trigram index can look up


def declared_elsewhere(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: leave the search objects out of schema comparisons."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for ``LIKE … ESCAPE '\\'``, the text taken literally.
    PostgreSQL's ``LIKE`` escapes with a backslash unless told otherwise, and its statements
    here leave the clause out: in a kept plan it was worked out again for every row."""
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


# PostgreSQL's view of the searched text: a generated column (migration 0011), left out of
# ``tables.py`` so that no other statement reads or writes it.
_searchable = table("contacts", column("id"), column("team_id"), column("search_text"))


# PostgreSQL walks in ID order for certain: the planner, left to choose, read the trigram
# index and sorted every match instead (at 1M contacts, for text 1,000 to 4,000 contacts hold:
# 11 to 19 ms against 4 to 5 ms). ``OFFSET 0`` keeps the filter out of the ordered scan.
_ordered = (
    select(_searchable.c.id, _searchable.c.search_text)
    .where(_searchable.c.team_id == bindparam("team_id"))
    .order_by(_searchable.c.id)
    .offset(0)
    .subquery()
)
_WALK = Prepared(
    select(_ordered.c.id)
    .where(_ordered.c.search_text.like(bindparam("pattern")))
    .order_by(_ordered.c.id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)


def _walk(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """The team's contacts in ID order, filtered row by row."""
    if conn.dialect.name == "postgresql":
        params = {"team_id": team_id, "pattern": like_pattern(term), "offset": offset, "limit": limit}
        return [row.id for row in _WALK.all(conn, params)]
    params = {"team": team_id, "pattern": like_pattern(term), "limit": limit, "offset": offset}
    return list(conn.exec_driver_sql(_SQLITE_WALK, params).scalars())


@cache
def _search(window: int, cap: int) -> Prepared:
    """One round trip: the first ``enough`` matches among the team's first ``window``
    contacts (from_index 0) and, only when there are fewer than ``below`` of them, at most
    ``cap`` matches the trigram index finds (from_index 1).

    The statement is prepared once per connection and the team, text and page bound. The
    window and the cap are written into it: bound, PostgreSQL priced a generic plan's
    ``LIMIT $n`` at a tenth of the table and planned every call anew (measured at 1M
    contacts: 995 plans in 1,000 searches, about 0.1 ms each); written in, the plan is kept.
    """
    rows = (
        select(_searchable.c.id, _searchable.c.search_text)
        .where(_searchable.c.team_id == bindparam("team_id"))
        .order_by(_searchable.c.id)
        .limit(literal_column(str(int(window))))
        .subquery()
    )
    in_window = (
        select(rows.c.id)
        .where(rows.c.search_text.like(bindparam("pattern")))
        .order_by(rows.c.id)
        .limit(bindparam("enough"))
        .cte("in_window")
    )
    holding = func.contacts_holding(
        bindparam("team_id"), bindparam("pattern"), literal_column(str(int(cap)))
    ).column_valued("id")
    return Prepared(
        union_all(
            select(in_window.c.id, literal_column("0").label("from_index")),
            select(holding, literal_column("1")).where(
                select(func.count()).select_from(in_window).scalar_subquery() < bindparam("below")
            ),
        )
    )


Looked = tuple[list[str], list[str] | None]
"""What a database's search found for the first ``enough`` matches: those among the team's
first WINDOW contacts, and the index's, oldest first (None: walk instead)."""


def _postgresql(conn: Connection, team_id: str, term: str, enough: int) -> Looked:
    # The trigram index is asked always (migration 0010 says why), through one statement
    # with the window, and only when the window holds the text fewer than WALK_AT times.
    params = {
        "team_id": team_id,
        "pattern": like_pattern(term),
        "enough": enough,
        "below": min(enough, WALK_AT),
    }
    rows = _search(WINDOW, CAP + 1).all(conn, params)
    seen = [row.id for row in rows if not row.from_index]
    found = [row.id for row in rows if row.from_index]
    if len(seen) >= WALK_AT or len(found) > CAP:
        return seen, None
    return seen, sorted(found)[:enough]  # IDs sort by creation, byte-wise


# SQLite's LIKE ignores the case of ASCII letters, and its lower() folds only those: the
# search compares the columns as stored (a window of 1,000 contacts: 0.74 → 0.40 ms).
_SQLITE_HOLDS = (
    "(email_normalized LIKE :pattern ESCAPE '\\' OR first_name LIKE :pattern ESCAPE '\\' "
    "OR last_name LIKE :pattern ESCAPE '\\')"
)
_SQLITE_WALK = (
    f"SELECT id FROM contacts WHERE team_id = :team AND {_SQLITE_HOLDS} "
    "ORDER BY id LIMIT :limit OFFSET :offset"
)
_SQLITE_LAST_IN_WINDOW = "SELECT id FROM contacts WHERE team_id = :team ORDER BY id LIMIT 1 OFFSET :skip"
_SQLITE_IN_WINDOW = (
    f"SELECT id FROM contacts WHERE team_id = :team AND id <= :last AND {_SQLITE_HOLDS} "
    "ORDER BY id LIMIT :limit"
)


def _sqlite(conn: Connection, team_id: str, term: str, enough: int) -> Looked:
    pattern = like_pattern(term)
    seen: list[str] = []
    if WINDOW > 0:
        last = conn.exec_driver_sql(_SQLITE_LAST_IN_WINDOW, {"team": team_id, "skip": WINDOW - 1}).scalar()
        if last is None:  # the team is no larger than the window: the walk finds everything
            seen = list(
                conn.exec_driver_sql(
                    _SQLITE_WALK, {"team": team_id, "pattern": pattern, "limit": enough, "offset": 0}
                ).scalars()
            )
            return seen, seen
        params = {"team": team_id, "last": last, "pattern": pattern, "limit": enough}
        seen = list(conn.exec_driver_sql(_SQLITE_IN_WINDOW, params).scalars())
        if len(seen) >= WALK_AT:
            return seen, None
    phrase = '"' + term.replace('"', '""') + '"'
    rowids = (
        conn.exec_driver_sql(
            "SELECT rowid FROM contacts_search WHERE contacts_search MATCH ? LIMIT ?", (phrase, CAP + 1)
        )
        .scalars()
        .all()
    )
    if len(rowids) > CAP:
        return seen, None
    if not rowids:
        return seen, []
    marks = ", ".join("?" * len(rowids))
    found = conn.exec_driver_sql(
        f"SELECT id FROM contacts WHERE rowid IN ({marks}) AND team_id = ? ORDER BY id LIMIT ?",
        (*rowids, team_id, enough),
    ).scalars()
    return seen, list(found)


def contact_ids(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """IDs of the team's contacts whose first name, last name or email holds ``term``
    (case-insensitively), oldest first, one page."""
    term = "".join(char for char in term if char.isprintable())
    if len(term) < TRIGRAM:
        return _walk(conn, team_id, term, offset, limit)
    # Text many contacts hold fills the page within the team's first WINDOW contacts. Text
    # found there WALK_AT times or more is held by about one contact in WINDOW / WALK_AT or
    # more: walking to the page reads a few thousand rows (1 to 3 ms at 1M contacts), where
    # its trigrams, common ones all (``smith1``), cost the index 10 to 15 ms. Other text goes
    # to the trigram index, for at most CAP matches, and to the walk beyond that.
    enough = offset + limit
    look = _postgresql if conn.dialect.name == "postgresql" else _sqlite
    seen, found = look(conn, team_id, term, enough)
    if len(seen) == enough:
        return seen[offset:]
    if found is None:
        return _walk(conn, team_id, term, offset, limit)
    return found[offset:]
