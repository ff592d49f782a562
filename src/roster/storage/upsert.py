"""Constructs whose SQL differs between SQLite and PostgreSQL: ``INSERT … ON CONFLICT`` and
lists of IDs bound as one parameter."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import JSON, Connection, String, Table, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite


@cache
def insert_for(dialect_name: str, table: Table) -> Any:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert_statement(conn: Connection, table: Table) -> Any:
    return insert_for(conn.dialect.name, table)


def in_id_list(column: Any, dialect_name: str) -> Any:
    """``column IN <the IDs of the JSON array bound as :ids>``: one SQL text for any number of
    IDs, so that the statement can be prepared once (``json.dumps(ids)`` is the parameter)."""
    ids = bindparam("ids", type_=String)
    if dialect_name == "postgresql":
        source = func.json_array_elements_text(cast(ids, JSON)).table_valued("value")
    else:
        source = func.json_each(ids).table_valued("value")
    return column.in_(select(source.c.value))
