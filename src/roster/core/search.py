"""Searching by text: one rule for contacts, segments and names, and how a team's contacts
matching a text are found.

The rule: a text matches when, case-folded, it is a substring of the thing searched,
case-folded: Unicode case folding as Python's ``str.casefold`` does it (``Öberg`` and
``öBERG``, ``Straße`` and ``STRASSE``), the same on SQLite and PostgreSQL whatever their
locale. A contact matches when its first name, last name or email does. Searched texts are
at least ``MIN_LENGTH`` characters long in every dialect.

Roster folds, the databases do not: ``contacts.search_text`` (``text_of``) holds the folded
first name, last name, email and company, joined by tabs, written with the contact; a tab
inside a field is folded to a space, in stored and searched text alike. Every test is then a
``LIKE`` pattern on that one column (``pattern``): a text is in one of the first three
fields when a tab follows it, and in field ``i`` when ``i`` tabs come before it and the
rest after. Folded text holds no upper-case ASCII letter, so SQLite's case-insensitive
``LIKE`` compares it exactly, as PostgreSQL's does.

A team's contacts matching a text, in ID order (``contact_ids``), by a fixed rule:

1. walk the team's first ``WINDOW`` contacts in ID order, through the index holding team,
   ID and text together (nothing else is read); if they hold the page, or are the whole
   team, that is the answer;
2. else, for a text of three characters or more, ask the database's trigram index (FTS5's
   ``trigram`` tokenizer on SQLite, a pg_trgm GIN index on PostgreSQL) for at most ``CAP``
   matches and one more; if it has no more than ``CAP``, they are all of them, sorted;
3. else walk the whole team to the page: the text is common, so the page comes soon.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select, text

from roster.core import counts
from roster.storage.tables import contacts

MIN_LENGTH = 2
WINDOW = 2_000  # contacts walked before the index is asked
CAP = 1_000  # matches the index is asked for at most; a text with more is walked to
TRIGRAM = 3  # the shortest text a trigram index can look up
COLUMNS = ("first_name", "last_name", "email_normalized", "company")  # search_text's fields, in order
OPS = ("contains", "startsWith", "endsWith", "equals")


def fold(raw: str) -> str:
    """``raw`` as the rule compares it."""
    return raw.casefold().replace("\t", " ")


def matches(term: str, *texts: str | None) -> bool:
    """The rule itself: whether ``term`` is in any of ``texts`` (in Python)."""
    folded = fold(term)
    return any(folded in fold(text) for text in texts if text)


def text_of(row: Any) -> str:
    """A contact's ``search_text`` from its row, or from a mapping of some of its columns."""
    fields = row if isinstance(row, dict) else {name: getattr(row, name, None) for name in COLUMNS}
    return "\t".join(fold(fields.get(name) or "") for name in COLUMNS)


def _like(term: str, op: str) -> str:
    """``term`` folded, as a ``LIKE`` pattern of one field (escaped with a backslash)."""
    escaped = fold(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {
        "contains": f"%{escaped}%",
        "startsWith": f"{escaped}%",
        "endsWith": f"%{escaped}",
        "equals": escaped,
    }[op]


def pattern(term: str, field: str | None = None, op: str = "contains") -> str:
    """The ``LIKE`` pattern (escaped with a backslash) on ``search_text`` for ``term`` in
    ``field`` (one of ``COLUMNS``) as ``op`` says, or, without a field, in a name or the email."""
    if field is None:
        return _like(term, "contains") + "\t%"
    place = COLUMNS.index(field)
    return "%\t" * place + _like(term, op) + "\t%" * (len(COLUMNS) - 1 - place)


def holds(
    term: str, field: str | None = None, op: str = "contains", source: Any = contacts
) -> ColumnElement[bool]:
    """The condition that a contact of ``source`` (``contacts`` or a subquery of it) matches."""
    condition: ColumnElement[bool] = source.c.search_text.like(_inline(pattern(term, field, op)), escape="\\")
    return condition


def _inline(text: str) -> Any:
    """``text`` written into the statement (quoted by SQLAlchemy), not bound: PostgreSQL
    plans a ``LIKE`` by its pattern, and a statement psycopg has prepared gets, after a few
    runs, one plan for every pattern (for a two-letter text, reading the whole trigram index:
    0.7 s at 1M contacts, against 0.1 s through the table)."""
    return bindparam(None, text, literal_execute=True)


def folded_like(column: Any, term: str, op: str) -> ColumnElement[bool]:
    """The rule for a column of folded text (a custom field's ``folded`` value)."""
    condition: ColumnElement[bool] = column.like(_inline(_like(term, op)), escape="\\")
    return condition


# ---- finding contacts ----------------------------------------------------------------------


def _walk(team_id: str, term: str, window: int | None = None) -> Select[Any]:
    """The matches among the team's first ``window`` contacts (or all of them), walked in
    ID order. The inner query's LIMIT (or ``OFFSET 0``) keeps PostgreSQL from folding the
    test into it and choosing the trigram index instead, which it may guess cheaper."""
    ordered = select(contacts.c.id, contacts.c.search_text).where(contacts.c.team_id == team_id)
    ordered = ordered.order_by(contacts.c.id)
    walked = (ordered.limit(window) if window else ordered.offset(0)).subquery("walked")
    return select(walked.c.id).where(holds(term, source=walked))


# SQLite: the FTS5 table's matches joined to the contacts (each find checked against the
# rule and the team), in rowid order, stopping at the cap.
_SQLITE_INDEX = text(
    """SELECT contacts.id FROM contacts_search CROSS JOIN contacts ON contacts.rowid = contacts_search.rowid
    WHERE contacts_search MATCH :phrase AND contacts.team_id = :team
        AND contacts.search_text LIKE :pattern ESCAPE '\\'
    LIMIT :cap"""
)


def _indexed(conn: Connection, team_id: str, term: str, cap: int) -> list[str]:
    """At most ``cap`` of the team's contacts that match, found through the trigram index."""
    if conn.dialect.name == "sqlite":
        phrase = '"' + fold(term).replace('"', '""') + '"'
        params = {"phrase": phrase, "team": team_id, "pattern": pattern(term), "cap": cap}
        return list(conn.execute(_SQLITE_INDEX, params).scalars())
    query = select(contacts.c.id).where(contacts.c.team_id == team_id, holds(term)).limit(cap)
    return list(conn.execute(query).scalars())


def _all_indexed(conn: Connection, team_id: str, term: str) -> list[str] | None:
    """Every one of the team's matches, in ID order, through the trigram index; ``None`` when
    the text is too short for the index or more than ``CAP`` contacts match it."""
    if len(fold(term)) < TRIGRAM:
        return None
    found = _indexed(conn, team_id, term, CAP + 1)
    return sorted(found) if len(found) <= CAP else None


def contact_ids(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """IDs of the team's contacts that match ``term``, in ID order (oldest first), one page."""
    enough = offset + limit
    found = list(conn.execute(_walk(team_id, term, WINDOW).limit(enough)).scalars())
    if len(found) == enough or counts.team_contacts(conn, team_id) <= WINDOW:
        return found[offset:]
    every = _all_indexed(conn, team_id, term)
    if every is None:
        every = list(conn.execute(_walk(team_id, term).limit(enough)).scalars())
    return every[offset:enough]


def counted(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> tuple[list[str], int]:
    """One page of the team's matches and how many there are in all (v1's counted pages):
    when the index has them all, the one answer gives both."""
    every = _all_indexed(conn, team_id, term) if counts.team_contacts(conn, team_id) > WINDOW else None
    if every is not None:
        return every[offset : offset + limit], len(every)
    page = list(conn.execute(_walk(team_id, term).limit(offset + limit)).scalars())[offset:]
    total = select(func.count()).select_from(contacts).where(contacts.c.team_id == team_id, holds(term))
    return page, int(conn.execute(total).scalar_one())


def refold(conn: Connection, rows: Sequence[Any]) -> None:
    """Write ``search_text`` again for those of ``rows`` (contacts read back after a change
    the statement could not fold: a few of their fields, the rest kept) where it is stale."""
    texts = [(row, text_of(row)) for row in rows]
    stale = [{"key": row.id, "text": text} for row, text in texts if row.search_text != text]
    if stale:
        statement = contacts.update().where(contacts.c.id == bindparam("key"))
        conn.execute(statement.values(search_text=bindparam("text")), stale)
