"""Substring search over contacts' names and emails: the walk through a team, and each
database's own trigram index.

Both databases keep ``contacts.search_text``, the lower-cased first name, last name and
email, tab-separated (PostgreSQL: a stored generated column, migration 0011; SQLite: a
virtual one, 0013), and an index on (team, ID, text), which a walk reads alone (0013:
PostgreSQL's unique ``ix_contacts_team_id_id`` includes the text; SQLite has
``ix_contacts_walk``). The trigram index: on SQLite an FTS5 table with the trigram
tokenizer (``contacts_search``, external content on the contacts' rowids; 0004); on
PostgreSQL a pg_trgm GIN index on ``search_text`` (``ix_contacts_search``) read through
``contacts_holding`` (0010 to 0012). And ``contact_blocks`` (0014): the texts of runs of a
team's consecutive contacts, joined, which a walk compares a block at a time, made by
``fold`` and kept whole by triggers. None is declared in ``tables.py`` but the unique
index, whose included text is not.

A search finds the first page of the team's contacts, in ID order, whose first name, last
name or email holds the text. It goes one of two ways, or both, as the team's sample
(``roster.storage.trigrams``) prices them: the walk through the team's contacts in ID order,
which stops at the page, and the trigram index asked for the text's cheapest trigrams,
whose finds are each checked against the whole text and sorted. The walk goes through the
team's blocks, reading the contacts of those holding the text, then one by one through the
contacts after the last block (a short walk goes one by one from the start). A walk that
may stop early passes at most the contacts the plan gives it; if the page is not full by
then, the index answers, for at most ``CAP`` matches; beyond that, the walk through the
whole team.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, func, or_

from roster.ids import between
from roster.storage import trigrams
from roster.storage.tables import contacts
from roster.storage.trigrams import Costs, Plan, Sample

SEARCH_OBJECTS = (
    "contacts_search",
    "ix_contacts_search",
    "ix_contacts_walk",
    "search_text",
    "contact_blocks",
    "ix_contact_blocks",
)
TRIGRAM = 3  # shortest text a trigram index can look up
ABOVE = "~"  # sorts after every ID: where a walk through the whole team ends
FOLD = 4_096  # contacts after a team's last block folded into blocks, at least
CHUNK = 16_384  # contacts folded in one transaction, at most

# Measured at 1M contacts (docs/benchmarks.md, "Contact search").
POSTGRESQL = Costs(walk=0.045, step=0.25, entry=0.025, check=8.0, grammar=trigrams.PG_TRGM)
SQLITE = Costs(walk=0.04, step=0.3, entry=0.01, check=8.0, grammar=trigrams.FTS5)


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
WHERE strpos(search_text, %(text)s) > 0 LIMIT %(enough)s"""

# The first of the team's contacts holding the text, from its blocks up to the one with
# ``bound`` (a function: migration 0014), then the contacts after the last block.
_PG_BLOCKS = "SELECT * FROM contacts_in_blocks(%(team)s, %(folded)s, %(bound)s, %(text)s, %(enough)s)"
_PG_TAIL = """SELECT id FROM contacts
WHERE team_id = %(team)s AND id > %(folded)s AND id <= %(bound)s AND strpos(search_text, %(text)s) > 0
ORDER BY id LIMIT %(enough)s"""


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
    block = 1_800  # bytes of text a block is made with at most: its row stays under 2 kB, uncompressed
    # Walks this short go one by one: a block holding the text has its contacts read through
    # the table (about 0.1 ms; as many walked one by one: 400), and a page of common text is
    # often among the first thousands (a first name: 0.43 against 0.83 ms to the page).
    short = 4_096
    first = f"SELECT id, search_text FROM ({_PG_TEAM} LIMIT %(length)s) walked"
    count = "SELECT coalesce(sum(contacts), 0) FROM team_counts WHERE team_id = %(team)s"
    ends = """SELECT (SELECT id FROM contacts WHERE team_id = %(team)s ORDER BY id LIMIT 1)
        UNION ALL SELECT (SELECT id FROM contacts WHERE team_id = %(team)s ORDER BY id DESC LIMIT 1)"""
    beyond = "SELECT id FROM contacts WHERE team_id = %(team)s AND id > %(bound)s LIMIT 1"
    blocks = "SELECT high, held FROM contact_blocks WHERE team_id = %(team)s ORDER BY team_id, high"
    unfolded = """SELECT count(*) FROM (
        SELECT 1 FROM contacts WHERE team_id = %(team)s AND id > %(folded)s LIMIT %(fold)s
    ) tail"""
    lock = "SELECT pg_advisory_xact_lock(hashtext('contact_blocks'), hashtext(%(team)s))"
    folded = "SELECT coalesce(max(high), '') FROM contact_blocks WHERE team_id = %(team)s"
    tail = """SELECT id, search_text FROM contacts WHERE team_id = %(team)s AND id > %(low)s
        ORDER BY id LIMIT %(chunk)s"""
    grown = "SELECT low, high FROM contact_blocks WHERE team_id = %(team)s AND length(texts) > %(long)s"
    held = """SELECT id, search_text FROM contacts
        WHERE team_id = %(team)s AND id > %(low)s AND id <= %(high)s ORDER BY id"""
    add = """INSERT INTO contact_blocks (team_id, low, high, held, texts)
        VALUES (%(team)s, %(low)s, %(high)s, %(held)s, %(texts)s)"""
    remade = """UPDATE contact_blocks SET held = %(held)s, texts = %(texts)s
        WHERE team_id = %(team)s AND high = %(high)s"""

    @staticmethod
    def in_blocks(conn: Connection, params: dict[str, Any]) -> list[str]:
        return _rows(conn, _PG_BLOCKS, params)

    @staticmethod
    def after(conn: Connection, params: dict[str, Any]) -> list[str]:
        whole = not params["folded"] and params["bound"] == ABOVE  # a team not folded: its walk
        return _rows(conn, _PG_WALK if whole else _PG_TAIL, params)

    @staticmethod
    def counted(conn: Connection, team_id: str, text: str, enough: int, plan: Plan) -> tuple[list[str], bool]:
        params = {"team": team_id, "text": text, "enough": enough}
        ids = _rows(conn, _pg_window(plan.walk, plan.ends), params)
        return [id_ for id_ in ids if id_ is not None], not plan.ends or None in ids

    @staticmethod
    def index(
        conn: Connection, team_id: str, text: str, pieces: tuple[str, ...], enough: int
    ) -> list[str] | None:
        params = {
            "team": team_id,
            "pieces": "%" + "%".join(_escaped(piece) for piece in pieces) + "%",
            "text": text,
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

_SQLITE_AFTER = """SELECT id FROM contacts
WHERE team_id = :team AND id > :folded AND id <= :bound AND instr(search_text, :text)
ORDER BY id LIMIT :enough"""
# Each block holding the text, in order, with its contacts holding it, up to the block that
# holds ``bound`` (written as the end of the scan: the driver reads a row ahead). A block's
# text is compared by ``holds`` (``block_holds``).
_SQLITE_BLOCKS = """SELECT (
    SELECT group_concat(id, ' ') FROM contacts
    WHERE team_id = :team AND id > block.low AND id <= block.high AND instr(search_text, :text)
) FROM contact_blocks AS block
WHERE team_id = :team AND holds(texts, :text) AND high <= min(:folded, coalesce(
    (SELECT min(high) FROM contact_blocks WHERE team_id = :team AND high >= :bound), :folded
))
ORDER BY high"""
_SQLITE_LAST_IN_WINDOW = "SELECT id FROM contacts WHERE team_id = :team ORDER BY id LIMIT 1 OFFSET :skip"
_SQLITE_WINDOW = """SELECT id FROM (
    SELECT id, search_text FROM contacts WHERE team_id = :team ORDER BY id LIMIT :length
) WHERE instr(search_text, :text) LIMIT :limit"""


def block_holds(texts: str | None, text: str) -> bool:
    """SQLite's ``holds(texts, text)``, registered on each connection: whether a block's
    ``texts`` hold ``text``. SQLite's ``instr`` tries each byte in turn, about 4 ns a byte
    of a block's 3.6 kB; Python's search about 0.6 (a call costs 2 to 3 µs more): at 1M
    contacts, through the 110 blocks to the first ten holding a first and a last name, 1.6
    against 0.4 ms."""
    return texts is not None and text in texts


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
    block = 3_600  # bytes of text a block is made with at most: its row fits a page (4 kB)
    short = 1_024  # walks this short go one by one (as fast as through blocks)
    first = "SELECT id, search_text FROM contacts WHERE team_id = :team ORDER BY id LIMIT :length"
    count = "SELECT coalesce(sum(contacts), 0) FROM team_counts WHERE team_id = :team"
    ends = """SELECT (SELECT id FROM contacts WHERE team_id = :team ORDER BY id LIMIT 1)
        UNION ALL SELECT (SELECT id FROM contacts WHERE team_id = :team ORDER BY id DESC LIMIT 1)"""
    beyond = "SELECT id FROM contacts WHERE team_id = :team AND id > :bound LIMIT 1"
    blocks = "SELECT high, held FROM contact_blocks WHERE team_id = :team ORDER BY high"
    unfolded = """SELECT count(*) FROM (
        SELECT 1 FROM contacts WHERE team_id = :team AND id > :folded LIMIT :fold
    )"""
    folded = "SELECT coalesce(max(high), '') FROM contact_blocks WHERE team_id = :team"
    tail = "SELECT id, search_text FROM contacts WHERE team_id = :team AND id > :low ORDER BY id LIMIT :chunk"
    grown = "SELECT low, high FROM contact_blocks WHERE team_id = :team AND length(texts) > :long"
    held = """SELECT id, search_text FROM contacts WHERE team_id = :team AND id > :low AND id <= :high
        ORDER BY id"""
    add = """INSERT INTO contact_blocks (team_id, low, high, held, texts)
        VALUES (:team, :low, :high, :held, :texts)"""
    remade = "UPDATE contact_blocks SET held = :held, texts = :texts WHERE team_id = :team AND high = :high"

    @staticmethod
    def in_blocks(conn: Connection, params: dict[str, Any]) -> list[str]:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            ids: list[str] = []
            for (found,) in cursor.execute(_SQLITE_BLOCKS, params):  # read a block at a time
                if found:
                    ids += sorted(found.split(" "))
                if len(ids) >= params["enough"]:
                    break
            return ids[: params["enough"]]
        finally:
            cursor.close()

    @staticmethod
    def after(conn: Connection, params: dict[str, Any]) -> list[str]:
        return _rows(conn, _SQLITE_AFTER, params)

    @staticmethod
    def counted(conn: Connection, team_id: str, text: str, enough: int, plan: Plan) -> tuple[list[str], bool]:
        skip = {"team": team_id, "skip": plan.walk - 1}
        if plan.ends and not _rows(conn, _SQLITE_LAST_IN_WINDOW, skip):
            return _walked(conn, _SQLite, team_id, text, plan.folded, ABOVE, enough), False
        params = {"team": team_id, "length": plan.walk, "text": text, "limit": enough}
        return _rows(conn, _SQLITE_WINDOW, params), True

    @staticmethod
    def index(
        conn: Connection, team_id: str, text: str, pieces: tuple[str, ...], enough: int
    ) -> list[str] | None:
        query = " ".join('"' + piece.replace('"', '""') + '"' for piece in pieces)
        params = {"query": query, "team": team_id, "text": text, "enough": enough}
        ids = _rows(conn, _sqlite_index(trigrams.CAP), params)
        return None if None in ids else ids

    @staticmethod
    def sampled(conn: Connection, team_id: str, points: list[str]) -> dict[str, str]:
        rows = _fetched(conn, _SQLITE_SAMPLE, {"team": team_id, "points": json.dumps(points)})
        return {id_: text.lower() for id_, text in rows}


_Database = type[_PostgreSQL] | type[_SQLite]


def _database(conn: Connection | Engine) -> _Database:
    return _PostgreSQL if conn.dialect.name == "postgresql" else _SQLite


def _walked(
    conn: Connection, database: _Database, team_id: str, text: str, folded: str, bound: str, enough: int
) -> list[str]:
    """The first ``enough`` contacts holding ``text`` in ID order, up to the one with ID
    ``bound`` or past it: through the blocks up to ``folded`` (the team's last, when its
    sample was taken), then the contacts after it one by one. Blocks made since are
    walked as contacts."""
    params: dict[str, Any] = {
        "team": team_id,
        "text": text,
        "folded": folded,
        "bound": bound,
        "enough": enough,
    }
    ids = database.in_blocks(conn, params) if folded else []
    if len(ids) < enough and bound > folded:
        params["enough"] = enough - len(ids)
        ids += database.after(conn, params)
    return ids


def _window(
    conn: Connection, database: _Database, team_id: str, text: str, enough: int, plan: Plan
) -> tuple[list[str], bool]:
    """The first ``enough`` contacts holding ``text`` among those the plan's walk passes,
    and whether the team has contacts past them."""
    if plan.bound is None or plan.walk <= database.short:  # counted off, one by one
        return database.counted(conn, team_id, text, enough, plan)
    ids = _walked(conn, database, team_id, text, plan.folded, plan.bound, enough)
    return ids, len(ids) == enough or bool(
        _rows(conn, database.beyond, {"team": team_id, "bound": plan.bound})
    )


def _whole(
    conn: Connection, database: _Database, team_id: str, text: str, folded: str, enough: int
) -> list[str]:
    """The first ``enough`` contacts holding ``text`` in the whole team: the first ``short``
    one by one (where a page of common text lies: a first name's or two letters' at 1M
    contacts, 0.3 against 0.7 ms on PostgreSQL), then through the blocks from the start."""
    if folded and database.short:  # a team folded has far more contacts than the first short
        seen, _ = database.counted(conn, team_id, text, enough, Plan(database.short, (), folded=folded))
        if len(seen) == enough:
            return seen
    return _walked(conn, database, team_id, text, folded, ABOVE, enough)


@contextmanager
def _folding(engine: Engine, team_id: str) -> Iterator[Connection]:
    """A write transaction of its own that the team's contacts' writes cannot land in the
    middle of: on SQLite holding the write lock from its start, as ``Database.run_write``'s
    do; on PostgreSQL the team's advisory lock, which the triggers take shared (migration
    0014), in a transaction though ``engine`` be the one reads run through, without one."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        else:
            conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(_PostgreSQL.lock, {"team": team_id})
            yield conn


def _write(conn: Connection, statement: str, rows: list[dict[str, Any]]) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(statement, rows)
    finally:
        cursor.close()


def _made(team_id: str, low: str, rows: list[Any], size: int) -> list[dict[str, Any]]:
    """Blocks of consecutive ``rows`` (ID, text) after the ID ``low``, each of texts of
    ``size`` bytes at most (or of one text, longer)."""
    runs: list[list[Any]] = []
    used = 0
    for row in rows:
        length = len(row[1].encode()) + 1
        if not runs or used + length > size:
            runs.append([])
            used = 0
        runs[-1].append(row)
        used += length
    blocks = []
    for run in runs:
        texts = "\n".join(text for _, text in run)
        blocks.append({"team": team_id, "low": low, "high": run[-1][0], "held": len(run), "texts": texts})
        low = run[-1][0]
    return blocks


def fold(engine: Engine, team_id: str) -> None:
    """Keep the team's blocks (migration 0014): make again those whose text grew to twice
    a block's size (changes are appended to it), then fold the contacts after the last
    block into new ones, if FOLD or more, CHUNK at a time, each chunk a transaction of its own."""
    database = _database(engine)
    team = {"team": team_id}
    with _folding(engine, team_id) as conn:
        for low, high in _fetched(conn, database.grown, {**team, "long": 2 * database.block}):
            rows = _fetched(conn, database.held, {**team, "low": low, "high": high})
            texts = "\n".join(text for _, text in rows)
            _write(conn, database.remade, [{**team, "high": high, "held": len(rows), "texts": texts}])
    while True:
        with _folding(engine, team_id) as conn:
            folded = _rows(conn, database.folded, team)[0]
            rows = _fetched(conn, database.tail, {**team, "low": folded, "chunk": CHUNK})
            if len(rows) < FOLD:
                return
            _write(conn, database.add, _made(team_id, folded, rows, database.block))
        if len(rows) < CHUNK:
            return


def _take(conn: Connection, team_id: str) -> Sample:
    """The team's sample (``trigrams.Sample``); the spread part from SAMPLE / RUN points
    drawn evenly between its first and last contacts' IDs, RUN contacts at each."""
    database = _database(conn)
    team = {"team": team_id}
    contacts = _rows(conn, database.count, team)[0]
    if contacts <= trigrams.SMALL:
        return Sample([], [], contacts, database.costs.grammar)
    first_id, last_id = _rows(conn, database.ends, team)
    if first_id is None:
        return Sample([], [], 0, database.costs.grammar)
    first = _fetched(conn, database.first, {**team, "length": trigrams.FIRST})
    points = sorted(between(first_id, last_id, trigrams.SAMPLE // trigrams.RUN, random.Random()))
    spread = list(database.sampled(conn, team_id, points).values())
    blocks = _fetched(conn, database.blocks, team)
    folded = blocks[-1][0] if blocks else ""
    unfolded = _rows(conn, database.unfolded, {**team, "folded": folded, "fold": FOLD})[0] >= FOLD
    texts, ids = [text for _, text in first], [id_ for id_, _ in first]
    return Sample(texts, spread, contacts, database.costs.grammar, ids, blocks, unfolded)


def _take_apart(engine: Engine, team_id: str) -> Sample:
    """The team folded (``fold``), then its sample taken."""
    fold(engine, team_id)
    with engine.connect() as conn:
        return _take(conn, team_id)


def plan(conn: Connection, team_id: str, text: str, enough: int) -> Plan:
    """How to find the first ``enough`` of the team's contacts holding ``text`` (lower-cased)."""
    engine = conn.engine
    sample = trigrams.kept(
        engine, team_id, lambda: _take(conn, team_id), lambda: _take_apart(engine, team_id)
    )
    chosen = sample.plan(text, enough, _database(conn).costs) if len(text) >= TRIGRAM else Plan(0, ())
    return dataclasses.replace(chosen, folded=sample.folded)


def contact_ids(conn: Connection, team_id: str, term: str, offset: int, limit: int) -> list[str]:
    """IDs of the team's contacts whose first name, last name or email holds ``term``
    (case-insensitively), oldest first, one page."""
    text = "".join(char for char in term if char.isprintable()).lower()
    database = _database(conn)
    enough = offset + limit
    chosen = plan(conn, team_id, text, enough)
    if chosen.pieces:
        if chosen.walk:
            seen, more = _window(conn, database, team_id, text, enough, chosen)
            if len(seen) == enough or not more:
                return seen[offset:]
        found = database.index(conn, team_id, text, chosen.pieces, enough)
        if found is not None:
            return found[offset:]
    return _whole(conn, database, team_id, text, chosen.folded, enough)[offset:]
