"""Constructs whose SQL differs between SQLite and PostgreSQL: ``INSERT … ON CONFLICT`` and
lists of IDs bound as one parameter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, String, Table, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite


@cache
def insert_for(dialect_name: str, table: Table) -> Any:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert_statement(conn: Connection, table: Table) -> Any:
    return insert_for(conn.dialect.name, table)


def in_id_list(column: Any, dialect_name: str) -> Any:
    """``column`` is one of the IDs bound as ``:ids`` (``id_list``): one SQL text for any
    number of IDs, so that the statement can be prepared once. PostgreSQL gets an array,
    ``= ANY(:ids)``, whose length its planner knows: from a set-returning function over JSON
    it guessed a hundred rows and read a team's whole memberships table for one contact.
    SQLite gets a JSON array, read by ``json_each``."""
    if dialect_name == "postgresql":
        return column == any_(bindparam("ids", type_=postgresql.ARRAY(String)))
    source = func.json_each(bindparam("ids", type_=String)).table_valued("value")
    return column.in_(select(source.c.value))


def id_list(dialect_name: str, ids: Sequence[str]) -> Any:
    """The ``:ids`` parameter of ``in_id_list``."""
    return list(ids) if dialect_name == "postgresql" else json.dumps(list(ids))
