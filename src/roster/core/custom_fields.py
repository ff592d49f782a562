"""Custom fields: typed attributes a team defines for its contacts, unique by name."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from roster.core.clock import now
from roster.core.errors import Invalid
from roster.core.named import clean_named, get_owned, require_unique_name, search_page
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import custom_fields


class FieldType(IntEnum):
    """The type a field's values are validated and stored as (SendX's numbering)."""

    TEXT = 0  # at most 255 characters
    NUMBER = 1  # integer or decimal
    DATE = 2  # YYYY-MM-DD
    BOOLEAN = 3
    PHONE = 4  # international format


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = clean_named(fields)
    if "field_type" in fields:
        if fields["field_type"] not in set(FieldType):
            raise Invalid("type", "must be 0 (text), 1 (number), 2 (date), 3 (boolean) or 4 (phone)")
        cleaned["field_type"] = int(fields["field_type"])
    return cleaned


def create_field(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    for required, label in (("name", "name"), ("field_type", "type")):
        if required not in fields:
            raise Invalid(label, "is required")
    values = {"description": None, **_clean(fields)}
    values["name_normalized"] = require_unique_name(
        conn, custom_fields, "custom_field", team_id, values["name"]
    )
    field_id = new_id("field")
    stamp = now()
    conn.execute(
        insert(custom_fields).values(
            id=field_id, team_id=team_id, created_at=stamp, updated_at=stamp, **values
        )
    )
    return get_field(conn, team_id, field_id)


def get_field(conn: Connection, team_id: str, field_id: str) -> Record:
    return get_owned(conn, custom_fields, "custom_field", team_id, field_id)


def page_fields(conn: Connection, team_id: str, offset: int, limit: int, search: str | None) -> list[Record]:
    query = select(custom_fields).where(custom_fields.c.team_id == team_id)
    return search_page(conn, query, custom_fields, offset, limit, search)


def update_field(conn: Connection, team_id: str, field_id: str, fields: Mapping[str, Any]) -> Record:
    get_field(conn, team_id, field_id)
    changes = _clean(fields)
    if "name" in changes:
        changes["name_normalized"] = require_unique_name(
            conn, custom_fields, "custom_field", team_id, changes["name"], keep=field_id
        )
    if changes:
        conn.execute(
            update(custom_fields).where(custom_fields.c.id == field_id).values(**changes, updated_at=now())
        )
    return get_field(conn, team_id, field_id)


def delete_field(conn: Connection, team_id: str, field_id: str) -> None:
    get_field(conn, team_id, field_id)
    conn.execute(
        delete(custom_fields).where(custom_fields.c.team_id == team_id, custom_fields.c.id == field_id)
    )
