"""What every team-owned object with a name shares: paging, search and unique names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, Table, select

from roster.core import search
from roster.core.errors import Conflict, Invalid, NotFound
from roster.storage.db import Record

MAX_NAME = 255
MAX_DESCRIPTION = 1000
# Control characters no name, address or message holds (tab, line feed and carriage return
# aside); NUL is refused by PostgreSQL outright. The same rule in every API and in imports.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "must not contain control characters (such as NUL)"
# The same rule as a pattern a query parameter can declare (and its OpenAPI document shows).
WITHOUT_CONTROL = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"


def clean_name(raw: str, field: str = "name") -> str:
    name = raw.strip()
    if not name:
        raise Invalid(field, "is required")
    if len(name) > MAX_NAME:
        raise Invalid(field, f"must be at most {MAX_NAME} characters")
    return name


def clean_texts(fields: Mapping[str, Any], limits: Mapping[str, int]) -> dict[str, str | None]:
    """Those of ``limits``' fields that were sent, trimmed (empty: none) and checked for length."""
    cleaned: dict[str, str | None] = {}
    for name, limit in limits.items():
        if name in fields:
            text = (fields[name] or "").strip()
            if len(text) > limit:
                raise Invalid(name, f"must be at most {limit} characters")
            cleaned[name] = text or None
    return cleaned


def clean_named(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``name`` and ``description``, where sent, checked and trimmed (empty description: none)."""
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        cleaned["name"] = clean_name(fields["name"])
    if "description" in fields:
        description = (fields["description"] or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Invalid("description", f"must be at most {MAX_DESCRIPTION} characters")
        cleaned["description"] = description or None
    return cleaned


def search_page(
    conn: Connection, query: Select[Any], table: Table, offset: int, limit: int, text: str | None
) -> list[Record]:
    """The rows of ``query`` over ``table`` whose name matches ``text`` (if any), oldest
    first, one page. Names are compared here, by the rule itself (``search.matches``): a
    team has few lists, tags, fields, segments or templates."""
    query = query.order_by(table.c.id)
    if not text:
        return list(conn.execute(query.offset(offset).limit(limit)))
    names = conn.execute(query.with_only_columns(table.c.id, table.c.name))
    page = [row.id for row in names if search.matches(text, row.name)][offset : offset + limit]
    return list(conn.execute(query.where(table.c.id.in_(page))))


def get_owned(conn: Connection, table: Table, kind: str, team_id: str, object_id: str) -> Record:
    row = conn.execute(select(table).where(table.c.team_id == team_id, table.c.id == object_id)).first()
    if row is None:
        raise NotFound(kind, object_id)
    return row


def page_owned(query: Select[Any], table: Table, team_id: str, offset: int, limit: int) -> Select[Any]:
    """``query`` over the team's rows of ``table``, oldest first, one page."""
    return query.where(table.c.team_id == team_id).order_by(table.c.id).offset(offset).limit(limit)


def require_free(
    conn: Connection, table: Table, column: str, team_id: str, value: str, taken: str, keep: str | None = None
) -> None:
    """``Conflict(taken)`` if another of the team's rows of ``table`` has ``value`` in ``column``."""
    query = select(table.c.id).where(table.c.team_id == team_id, table.c[column] == value)
    if keep is not None:
        query = query.where(table.c.id != keep)
    if conn.execute(query).first() is not None:
        raise Conflict(taken)


def require_unique_name(
    conn: Connection, table: Table, kind: str, team_id: str, name: str, keep: str | None = None
) -> str:
    """The normalized form of ``name``; ``Conflict`` if another object of the team has it."""
    normalized = name.lower()
    taken = f"a {kind.replace('_', ' ')} named `{name}` already exists"
    require_free(conn, table, "name_normalized", team_id, normalized, taken, keep)
    return normalized
