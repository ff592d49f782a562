"""Substring search over contacts' names and emails: the walk through a team, and each
database's own trigram index.

Both databases keep ``contacts.search_text``, the lower-cased first name, last name and
email, tab-separated (PostgreSQL: a stored generated column, migration 0011; SQLite: a
virtual one, 0013), and an index on (team, ID, text), which a walk reads alone (0013:
PostgreSQL's unique ``ix_contacts_team_id_id`` includes the text; SQLite has
``ix_contacts_walk``). The trigram index: on SQLite an FTS5 table with the trigram
tokenizer (``contacts_search``, external content on the contacts' rowids; 0004); on
PostgreSQL a pg_trgm GIN index on ``search_text`` (``ix_contacts_search``) read through
``contacts_holding`` (0010 to 0012). None is declared in ``tables.py`` but the unique index,
whose included text is not.

A search finds the first page of the team's contacts, in ID order, whose first name, last
name or email holds the text. It goes one of two ways, or both, as the team's sample
(``roster.storage.trigrams``) prices them: the walk through the team's contacts in ID order,
which stops at the page, and the trigram index asked for the text's cheapest trigrams,
whose finds are each checked against the whole text and sorted. A walk that may stop early
passes at most the contacts the plan gives it; if the page is not full by then, the index
answers, for at most ``CAP`` matches; beyond that, the walk through the whole team.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, func, or_

from roster.ids import between
from roster.storage import trigrams
from roster.storage.tables import contacts
from roster.storage.trigrams import Costs, Plan, Sample

SEARCH_OBJECTS = ("contacts_search", "ix_contacts_search", "ix_contacts_walk", "search_text")
TRIGRAM = 3  # shortest text a trigram index can look up

# Measured at 1M contacts (docs/benchmarks.md, "Contact search"); SQLite's walk up to a
# contact's ID (its walk counted off with LIMIT costs 0.45 µs a contact).
POSTGRESQL = Costs(walk=0.25, entry=0.025, check=8.0, grammar=trigrams.PG_TRGM)
SQLITE = Costs(walk=0.3, entry=0.01, check=8.0, grammar=trigrams.FTS5)


def declared_elsewhere(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: leave the search objects out of schema comparisons."""
    return not (name or "").startswith(SEARCH_OBJECTS)


def like_pattern(text: str) -> str:
    """A case-insensitive substring pattern for ``LIKE … ESCAPE '\\'``, the text taken
    literally (PostgreSQL's ``LIKE`` escapes with a backslash when no clause says otherwise)."""
    return f"%{_escaped(text)}%"


def _escaped(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def holds(term: str, source: Any = contacts) -> Any:
    """The condition, row by row, that a contact's first name, last name or email holds
    ``term``; ``source`` is ``contacts`` or a subquery with the same columns."""
    pattern = like_pattern(term)
    return or_(
        source.c.email_normalized.like(pattern, escape="\\"),
        func.lower(source.c.first_name).like(pattern, escape="\\"),
        func.lower(source.c.last_name).like(pattern, escape="\\"),
    )


def _fetched(conn: Connection, sql: str, params: Any) -> list[Any]:
    """The rows of a statement run on the driver's own cursor."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _rows(conn: Connection, sql: str, params: Any) -> list[Any]:
    """The first column of each row."""
    return [row[0] for row in _fetched(conn, sql, params)]


# ---- PostgreSQL --------------------------------------------------------------------------
# The walk reads ``ix_contacts_team_id_id`` alone, in ID order (migration 0013). The team is given
# as a range: as an equality, where one team holds every contact, the planner walked the ID
# index and visited the table instead (2.4 against 1.4 ms to the first page of text 1 in 900
# contacts hold), or read the trigram index and sorted every match (11 to 19 ms against 4 to
# 5 ms for text 1,000 to 4,000 contacts hold); a limit, or ``OFFSET 0``, keeps the filter out
# of the ordered scan. Lengths and the cap are written into the statements: bound,
# PostgreSQL priced a generic plan's ``LIMIT $n`` at a tenth of the table and planned every
# call anew (995 plans in 1,000 searches, about 0.1 ms each); written in, the plan is kept.

_PG_TEAM = (
    "SELECT id, search_text FROM contacts WHERE team_id >= %(team)s AND team_id <= %(team)s "
    "ORDER BY team_id, id"
)
_PG_WALK = f"""SELECT id FROM ({_PG_TEAM} OFFSET 0) walked
WHERE strpos(search_text, %(text)s) > 0 LIMIT %(limit)s OFFSET %(offset)s"""


@cache
def _pg_window(length: int, ends: bool) -> str:
    """The matches among the team's first ``length`` contacts and, if ``ends``, one NULL
    when the page is not full there and the team has more."""
    window = (
        f"SELECT id FROM ({_PG_TEAM} LIMIT {length}) walked "
        "WHERE strpos(search_text, %(text)s) > 0 LIMIT %(enough)s"
    )
    if not ends:
        return window
    return f"""WITH hits AS ({window})
SELECT id FROM hits
UNION ALL (
    SELECT NULL FROM ({_PG_TEAM} OFFSET {length - 1} LIMIT 1) beyond
    WHERE (SELECT count(*) FROM hits) < %(enough)s
)"""


@cache
def _pg_index(cap: int) -> str:
    """At most ``cap`` matches the index finds, the first ``enough`` of them, and one NULL
    when there are more."""
    return f"""WITH found AS MATERIALIZED (
    SELECT id FROM contacts_holding(%(team)s, %(pieces)s, %(text)s, {cap + 1}) AS holding (id)
)
(SELECT id FROM found ORDER BY id COLLATE "C" LIMIT %(enough)s)
UNION ALL (SELECT NULL FROM found OFFSET {cap} LIMIT 1)"""


_PG_SAMPLE = f"""SELECT sampled.id, sampled.search_text FROM unnest(%(points)s::text[]) AS point (id)
CROSS JOIN LATERAL (
    SELECT id, search_text FROM contacts
    WHERE team_id >= %(team)s AND team_id <= %(team)s AND id >= point.id COLLATE "C"
    ORDER BY team_id, id LIMIT {trigrams.RUN}
) sampled"""


class _PostgreSQL:
    costs = POSTGRESQL
    first = f"SELECT id, search_text FROM ({_PG_TEAM} LIMIT %(length)s) walked"
    count = "SELECT coalesce(sum(contacts), 0) FROM team_counts WHERE team_id = %(team)s"
    ends = """SELECT (SELECT id FROM contacts WHERE team_id = %(team)s ORDER BY id LIMIT 1)
        UNION ALL SELECT (SELECT id FROM contacts WHERE team_id = %(team)s ORDER BY id DESC LIMIT 1)"""

    @staticmethod
    def walk(conn: Connection, team_id: str, text: str, offset: int, limit: int) -> list[str]:
        params = {"team": team_id, "text": text.lower(), "limit": limit, "offset": offset}
        return _rows(conn, _PG_WALK, params)

    @staticmethod
    def window(conn: Connection, team_id: str, text: str, enough: int, plan: Plan) -> tuple[list[str], bool]:
        params = {"team": team_id, "text": text.lower(), "enough": enough}
        ids = _rows(conn, _pg_window(plan.walk, plan.ends), params)
        return [id_ for id_ in ids if id_ is not None], not plan.ends or None in ids

    @staticmethod
    def index(
        conn: Connection, team_id: str, text: str, pieces: tuple[str, ...], enough: int
    ) -> list[str] | None:
        params = {
            "team": team_id,
            "pieces": "%" + "%".join(_escaped(piece) for piece in pieces) + "%",
            "text": text.lower(),
            "enough": enough,
        }
        ids = _rows(conn, _pg_index(trigrams.CAP), params)
        return None if None in ids else ids

    @staticmethod
    def sampled(conn: Connection, team_id: str, points: list[str]) -> dict[str, str]:
        rows = _fetched(conn, _PG_SAMPLE, {"team": team_id, "points": points})
        return {id_: text.lower() for id_, text in rows}


# ---- SQLite ------------------------------------------------------------------------------
# The walk reads ``ix_contacts_walk`` alone (migration 0013). SQLite's LIKE ignores the case
# of ASCII letters, and its lower() folds only those, as ``search_text`` is folded.

_SQLITE_WALK = (
    "SELECT id FROM contacts WHERE team_id = :team AND instr(search_text, :text) "
    "ORDER BY id LIMIT :limit OFFSET :offset"
)
_SQLITE_LAST_IN_WINDOW = "SELECT id FROM contacts WHERE team_id = :team ORDER BY id LIMIT 1 OFFSET :skip"
_SQLITE_BOUNDED = (
    "SELECT id FROM contacts WHERE team_id = :team AND id <= :bound AND instr(search_text, :text) "
    "ORDER BY id LIMIT :limit"
)
_SQLITE_BEYOND = "SELECT id FROM contacts WHERE team_id = :team AND id > :bound LIMIT 1"
_SQLITE_WINDOW = """SELECT id FROM (
    SELECT id, search_text FROM contacts WHERE team_id = :team ORDER BY id LIMIT :length
) WHERE instr(search_text, :text) LIMIT :limit"""


@cache
def _sqlite_index(cap: int) -> str:
    return f"""WITH found AS MATERIALIZED (
    SELECT c.id FROM contacts_search s CROSS JOIN contacts c ON c.rowid = s.rowid
    WHERE contacts_search MATCH :query AND c.team_id = :team AND instr(c.search_text, :text)
    LIMIT {cap + 1}
)
SELECT id FROM (SELECT id FROM found ORDER BY id LIMIT :enough)
UNION ALL SELECT NULL FROM (SELECT 1 FROM found LIMIT 1 OFFSET {cap})"""


_SQLITE_SAMPLE = f"""SELECT contacts.id, contacts.search_text FROM json_each(:points) AS point
JOIN contacts ON contacts.rowid IN (
    SELECT rowid FROM contacts WHERE team_id = :team AND id >= point.value ORDER BY id LIMIT {trigrams.RUN}
)"""


class _SQLite:
    costs = SQLITE
    first = "SELECT id, search_text FROM contacts WHERE team_id = :team ORDER BY id LIMIT :length"
    count = "SELECT coalesce(sum(contacts), 0) FROM team_counts WHERE team_id = :team"
    ends = """SELECT (SELECT id FROM contacts WHERE team_id = :team ORDER BY id LIMIT 1)
        UNION ALL SELECT (SELECT id FROM contacts WHERE team_id = :team ORDER BY id DESC LIMIT 1)"""

    @staticmethod
    def walk(conn: Connection, team_id: str, text: str, offset: int, limit: int) -> list[str]:
        params = {"team": team_id, "text": text.lower(), "limit": limit, "offset": offset}
        return _rows(conn, _SQLITE_WALK, params)

    @staticmethod
    def window(conn: Connection, team_id: str, text: str, enough: int, plan: Plan) -> tuple[list[str], bool]:
        if plan.bound is not None:
            params = {"team": team_id, "bound": plan.bound, "text": text.lower(), "limit": enough}
            ids = _rows(conn, _SQLITE_BOUNDED, params)
            return ids, len(ids) == enough or bool(_rows(conn, _SQLITE_BEYOND, params))
        skip = {"team": team_id, "skip": plan.walk - 1}
        if plan.ends and not _rows(conn, _SQLITE_LAST_IN_WINDOW, skip):
            return _SQLite.walk(conn, team_id, text, 0, enough), False  # the walk finds everything
        params = {"team": team_id, "length": plan.walk, "text": text.lower(), "limit": enough}
        return _rows(conn, _SQLITE_WINDOW, params), True

    @staticmethod
    def index(
        conn: Connection, team_id: str, text: str, pieces: tuple[str, ...], enough: int
    ) -> list[str] | None:
        query = " ".join('"' + piece.replace('"', '""') + '"' for piece in pieces)
        params = {"query": query, "team": team_id, "text": text.lower(), "enough": enough}
        ids = _rows(conn, _sqlite_index(trigrams.CAP), params)
        return None if None in ids else ids

    @staticmethod
    def sampled(conn: Connection, team_id: str, points: list[str]) -> dict[str, str]:
        rows = _fetched(conn, _SQLITE_SAMPLE, {"team": team_id, "points": json.dumps(points)})
        return {id_: text.lower() for id_, text in rows}


_Database = type[_PostgreSQL] | type[_SQLite]


def _database(conn: Connection) -> _Database:
    return _PostgreSQL if conn.dialect.name == "postgresql" else _SQLite


def _take(conn: Connection, team_id: str) -> Sample:
    """The team's sample (``trigrams.Sample``); the spread part from SAMPLE / RUN points
    drawn evenly between its first and last contacts' IDs, RUN contacts at each."""
    database = _database(conn)
    contacts = _rows(conn, database.count, {"team": team_id})[0]
    if contacts <= trigrams.SMALL:
        return Sample([], [], contacts, database.costs.grammar)
    first_id, last_id = _rows(conn, database.ends, {"team": team_id})
    if first_id is None:
        return Sample([], [], 0, database.costs.grammar)
    first = _fetched(conn, database.first, {"team": team_id, "length": trigrams.FIRST})
    points = sorted(between(first_id, last_id, trigrams.SAMPLE // trigrams.RUN, random.Random()))
    spread = list(database.sampled(conn, team_id, points).values())
    texts, ids = [text for _, text in first], [id_ for id_, _ in first]
    return Sample(texts, spread, contacts, database.costs.grammar, ids)


def _take_apart(engine: Engine, team_id: str) -> Sample:
    with engine.connect() as conn:
        return _take(conn, team_id)


def plan(conn: Connection, team_id: str, text: str, enough: int) -> Plan:
    engine = conn.engine
    sample = trigrams.kept(
        engine, team_id, lambda: _take(conn, team_id), lambda: _take_apart(engine, team_id)
    )
    return sample.plan(text.lower(), enough, _database(conn).costs)


def contact_ids(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """IDs of the team's contacts whose first name, last name or email holds ``term``
    (case-insensitively), oldest first, one page."""
    term = "".join(char for char in term if char.isprintable())
    database = _database(conn)
    enough = offset + limit
    chosen = plan(conn, team_id, term, enough) if len(term) >= TRIGRAM else Plan(0, ())
    if not chosen.pieces:
        return database.walk(conn, team_id, term, offset, limit)
    if chosen.walk:
        seen, more = database.window(conn, team_id, term, enough, chosen)
        if len(seen) == enough or not more:
            return seen[offset:]
    found = database.index(conn, team_id, term, chosen.pieces, enough)
    if found is None:
        return database.walk(conn, team_id, term, offset, limit)
    return found[offset:]
