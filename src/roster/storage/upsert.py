"""``INSERT … ON CONFLICT`` for the database at hand (SQLite and PostgreSQL share the syntax,
SQLAlchemy keeps a construct per dialect)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


@cache
def insert_for(dialect_name: str, table: Table) -> Any:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)


def upsert_statement(conn: Connection, table: Table) -> Any:
    return insert_for(conn.dialect.name, table)
