"""Core rows in the Audiences v1 shapes."""

from __future__ import annotations

import math

from roster.api.v1 import schemas
from roster.core.clock import iso
from roster.storage.db import Record


def audience(row: Record) -> schemas.Audience:
    return schemas.Audience(
        id=row.id,
        name=row.name,
        description=row.description,
        organization_id=row.team_id,
        contact_count=row.contact_count,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
        double_opt_in=row.list_type == 1,
        pending_count=row.pending_count,
    )


def contact(row: Record) -> schemas.Contact:
    return schemas.Contact(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        organization_id=row.team_id,
        created_at=iso(row.created_at),
        updated_at=iso(row.updated_at),
    )


def pages(total: int, limit: int) -> int:
    return max(1, math.ceil(total / limit))


def contact_page(rows: list[Record], total: int, page: int, limit: int) -> schemas.ContactPage:
    return schemas.ContactPage([contact(row) for row in rows], total, page, limit, pages(total, limit))
