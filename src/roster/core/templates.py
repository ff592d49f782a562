"""Email templates: reusable name, subject, HTML and text bodies, preheader and labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from roster.core.clock import now
from roster.core.errors import Invalid
from roster.core.named import MAX_NAME, clean_name, get_owned, search_page
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import templates

MAX_BODY = 1_000_000
MAX_LABELS = 50


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name in ("name", "subject"):
        if name in fields:
            cleaned[name] = clean_name(fields[name] or "", name)
    for name, limit in (("html_content", MAX_BODY), ("text_content", MAX_BODY), ("preheader", MAX_NAME)):
        if name in fields:
            text = fields[name] or None
            if text is not None and len(text) > limit:
                raise Invalid(name, f"must be at most {limit} characters")
            cleaned[name] = text
    if "labels" in fields:
        labels = list(dict.fromkeys(clean_name(label, "tags") for label in fields["labels"] or []))
        if len(labels) > MAX_LABELS:
            raise Invalid("tags", f"at most {MAX_LABELS} tags")
        cleaned["labels"] = labels
    return cleaned


def create_template(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    for required in ("name", "subject"):
        if required not in fields:
            raise Invalid(required, "is required")
    values = {"html_content": None, "text_content": None, "preheader": None, "labels": [], **_clean(fields)}
    template_id = new_id("template")
    stamp = now()
    conn.execute(
        insert(templates).values(
            id=template_id, team_id=team_id, created_at=stamp, updated_at=stamp, **values
        )
    )
    return get_template(conn, team_id, template_id)


def get_template(conn: Connection, team_id: str, template_id: str) -> Record:
    return get_owned(conn, templates, "template", team_id, template_id)


def page_templates(
    conn: Connection, team_id: str, offset: int, limit: int, search: str | None
) -> list[Record]:
    query = select(templates).where(templates.c.team_id == team_id)
    return search_page(conn, query, templates, offset, limit, search)


def update_template(conn: Connection, team_id: str, template_id: str, fields: Mapping[str, Any]) -> Record:
    get_template(conn, team_id, template_id)
    values = _clean(fields)
    conn.execute(update(templates).where(templates.c.id == template_id).values(updated_at=now(), **values))
    return get_template(conn, team_id, template_id)


def delete_template(conn: Connection, team_id: str, template_id: str) -> None:
    get_template(conn, team_id, template_id)
    conn.execute(delete(templates).where(templates.c.team_id == team_id, templates.c.id == template_id))
