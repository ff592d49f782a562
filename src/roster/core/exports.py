"""Export of contacts as CSV or NDJSON, streamed page by page in constant memory.

Every field is written: the contact's own, its consent flags, the lists it is subscribed
to and those it unsubscribed from, its tags, and each custom field by name. The columns are
the ones ``roster.core.imports`` reads, so an export imports back to the same contacts.
Each page of ``PAGE`` contacts is read in its own short transaction, so that an export of
millions of rows never holds the database; contacts changed while it runs appear as they
are when their page is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, true

from roster.core import segments, tabular
from roster.core.clock import iso
from roster.core.errors import Invalid
from roster.core.imports import FLAGS, SEPARATOR, field_column
from roster.core.named import get_owned
from roster.storage.db import Database, Record
from roster.storage.tables import (
    audiences,
    contact_tags,
    contact_values,
    contacts,
    custom_fields,
    memberships,
    tags,
)

PAGE = 1_000
COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    *FLAGS,
    "ltv",
    "page_source",
    "last_tracked_ip",
    "contact_source",
    "created",
    "updated",
    "lists",
    "unsubscribed_lists",
    "tags",
)


class _Scope:
    """Which contacts an export holds, and the team's names for what they refer to."""

    def __init__(
        self, conn: Connection, team_id: str, audience_id: str | None, segment_id: str | None
    ) -> None:
        self.team_id = team_id
        self.audience_id = audience_id
        self.condition: ColumnElement[bool] = true()
        if audience_id is not None:
            get_owned(conn, audiences, "audience", team_id, audience_id)
        if segment_id is not None:
            self.condition = segments.segment_condition(conn, team_id, segment_id)
        self.lists = dict(
            conn.execute(select(audiences.c.id, audiences.c.name).where(audiences.c.team_id == team_id)).all()
        )
        self.tags = dict(conn.execute(select(tags.c.id, tags.c.name).where(tags.c.team_id == team_id)).all())
        self.fields = dict(
            conn.execute(
                select(custom_fields.c.id, custom_fields.c.name)
                .where(custom_fields.c.team_id == team_id)
                .order_by(custom_fields.c.id)
            ).all()
        )

    def page(self, conn: Connection, after: str) -> list[dict[str, Any]]:
        query = select(contacts).where(
            contacts.c.team_id == self.team_id, contacts.c.id > after, self.condition
        )
        if self.audience_id is not None:
            query = query.join(
                memberships,
                (memberships.c.contact_id == contacts.c.id) & (memberships.c.audience_id == self.audience_id),
            )
        rows = conn.execute(query.order_by(contacts.c.id).limit(PAGE)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        found = {row.id: _record(row) for row in rows}
        held = select(memberships.c.contact_id, memberships.c.audience_id, memberships.c.subscribed)
        for contact_id, audience_id, subscribed in conn.execute(
            held.where(memberships.c.contact_id.in_(ids)).order_by(memberships.c.audience_id)
        ):
            found[contact_id]["lists" if subscribed else "unsubscribed_lists"].append(self.lists[audience_id])
        tagged = select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
            contact_tags.c.contact_id.in_(ids)
        )
        for contact_id, tag_id in conn.execute(tagged.order_by(contact_tags.c.tag_id)):
            found[contact_id]["tags"].append(self.tags[tag_id])
        valued = select(contact_values.c.contact_id, contact_values.c.field_id, contact_values.c.text)
        for contact_id, field_id, text in conn.execute(valued.where(contact_values.c.contact_id.in_(ids))):
            found[contact_id]["custom_fields"][self.fields[field_id]] = text
        return list(found.values())


def _record(row: Record) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(row, name) for name in COLUMNS[:12]}
    record.update(
        page_source=row.page_source,
        last_tracked_ip=row.last_tracked_ip,
        contact_source=row.contact_source,
        created=iso(row.created_at),
        updated=iso(row.updated_at),
        lists=[],
        unsubscribed_lists=[],
        tags=[],
        custom_fields={},
    )
    return record


def _records(db: Database, scope: _Scope) -> Iterator[dict[str, Any]]:
    after = ""
    while page := db.run_read(scope.page, after):
        yield from page
        after = page[-1]["id"]


def _csv(scope: _Scope, records: Iterator[dict[str, Any]]) -> Iterator[str]:
    field_names = list(scope.fields.values())
    yield tabular.csv_line([*COLUMNS, *map(field_column, field_names)])
    for record in records:
        cells: list[Any] = []
        for name in COLUMNS:
            value = record[name]
            if isinstance(value, list):
                value = SEPARATOR.join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            cells.append("" if value is None else value)
        values = record["custom_fields"]
        cells.extend(values.get(name, "") for name in field_names)
        yield tabular.csv_line(cells)


def _ndjson(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def export(
    db: Database, team_id: str, fmt: str, *, audience_id: str | None = None, segment_id: str | None = None
) -> Iterator[str]:
    """The team's contacts (or an audience's, or a segment's), oldest first, as text chunks.
    The scope is checked before the first chunk: a missing audience or segment raises
    ``NotFound`` here, not halfway through."""
    if fmt not in tabular.FORMATS:
        raise Invalid("format", "must be `csv` or `ndjson`")
    scope = db.run_read(_Scope, team_id, audience_id, segment_id)
    records = _records(db, scope)
    return _csv(scope, records) if fmt == "csv" else _ndjson(records)
