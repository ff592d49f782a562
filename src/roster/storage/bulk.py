"""Staging tables for bulk writes: many rows are loaded in one go, then merged into the real
tables by a few set-based statements.

Row by row, SQLite's FTS5 search index costs about 40 µs per contact (its pending terms
are flushed at the end of every statement); one ``INSERT … SELECT`` of 10,000 staged rows
indexes them all in one flush, five times faster. PostgreSQL loads the staging tables with
``COPY``, SQLite with ``executemany`` on the driver. The tables are temporary: private to the
connection, never in the migrations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable

from roster.storage.tables import ObjectId, UTCDateTime

staging = MetaData()


def _temporary(name: str, *columns: Column[Any]) -> Table:
    return Table(name, staging, *columns, prefixes=["TEMPORARY"])


# One row per distinct email of a batch; ``id`` is the ID the contact gets if it is new,
# ``contact_id`` the contact it is once merged.
stage_contacts = _temporary(
    "stage_contacts",
    Column("email_normalized", String(254), primary_key=True),
    Column("id", ObjectId, nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("company", String(255)),
    Column("phone", String(32)),
    Column("page_source", String(2048)),
    Column("last_tracked_ip", String(45)),
    Column("ltv", BigInteger),
    Column("unsubscribed", Boolean),
    Column("bounced", Boolean),
    Column("spam", Boolean),
    Column("blocked", Boolean),
    Column("dropped", Boolean),
    Column("created_at", UTCDateTime),
    Column("search_text", Text, nullable=False),  # a new contact's (roster.core.search)
    Column("contact_id", ObjectId),
    Column("outcome", SmallInteger),
)
stage_values = _temporary(
    "stage_values",
    Column("email_normalized", String(254), nullable=False),
    Column("field_id", ObjectId, nullable=False),
    Column("text", String(255), nullable=False),
    Column("number", Float),
    Column("day", Date),
    Column("flag", Boolean),
    Column("folded", Text, nullable=False),
)
stage_memberships = _temporary(
    "stage_memberships",
    Column("email_normalized", String(254), nullable=False),
    Column("audience_id", ObjectId, nullable=False),
    Column("subscribed", Boolean, nullable=False),
)
stage_tags = _temporary(
    "stage_tags",
    Column("email_normalized", String(254), nullable=False),
    Column("tag_id", ObjectId, nullable=False),
)
STAGES = (stage_contacts, stage_values, stage_memberships, stage_tags)


# SQLite page cache of a connection that imports (KiB): the default 64 MB would be most of
# an import's memory, and the batch's pages are what it needs.
IMPORT_CACHE_KIB = 16_384


def create_stages(conn: Connection) -> None:
    """The staging tables of this connection, and on SQLite its smaller page cache (a plain
    ``IF NOT EXISTS``: PostgreSQL's catalog lookup for ``checkfirst`` costs 10 ms a batch)."""
    for table in STAGES:
        conn.execute(CreateTable(table, if_not_exists=True))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")


def clear_stages(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {', '.join(table.name for table in STAGES)}")
    else:
        for table in STAGES:
            conn.execute(table.delete())


def analyze_stages(conn: Connection) -> None:
    """PostgreSQL plans the merge from the staged rows' statistics, which temporary tables
    only get when asked (autovacuum never sees them)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {', '.join(table.name for table in STAGES)}")


@cache
def _converters(dialect_name: str, table: Table) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The columns whose values must be changed for the driver, and how: SQLite stores dates
    and times as text in SQLAlchemy's format; psycopg's COPY takes Python objects as they are."""
    if dialect_name != "sqlite":
        return ()
    dialect = sqlite.dialect()
    converters = []
    for index, column in enumerate(table.columns):
        if isinstance(column.type, Date | UTCDateTime):
            convert = column.type.dialect_impl(dialect).bind_processor(dialect)
            assert convert is not None
            converters.append((index, convert))
    return tuple(converters)


def load(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Add ``rows`` (tuples in the table's column order; trailing columns may be left out)
    to a staging table, in the caller's transaction."""
    if not rows:
        return
    width = len(rows[0])
    names = [column.name for column in table.columns][:width]
    converters = [
        (index, convert) for index, convert in _converters(conn.dialect.name, table) if index < width
    ]
    if converters:
        rows = [_convert(row, converters) for row in rows]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * width)
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def _convert(row: Sequence[Any], converters: Iterable[tuple[int, Callable[[Any], Any]]]) -> Sequence[Any]:
    changed: list[Any] | None = None
    for index, convert in converters:
        if row[index] is not None:
            changed = changed or list(row)
            changed[index] = convert(row[index])
    return row if changed is None else changed
