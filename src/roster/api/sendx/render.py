"""Core rows in SendX's shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from roster.api.sendx import schemas
from roster.core.contacts import Profile
from roster.storage.db import Record


def time(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, as SendX writes it: ``2024-01-10T14:20:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_(row: Record) -> schemas.ListOut:
    return schemas.ListOut(
        id=row.id,
        name=row.name,
        type=row.list_type,
        created=time(row.created_at),
        updated=time(row.updated_at),
    )


def tag(row: Record) -> schemas.TagOut:
    return schemas.TagOut(
        id=row.id, name=row.name, created=time(row.created_at), updated=time(row.updated_at)
    )


def custom_field(row: Record) -> schemas.CustomFieldOut:
    """The field's own ID reads ``custom_field_…`` here: the SDK's model requires that prefix,
    while contacts key their values by ``field_…`` as documented. Both name the same field."""
    return schemas.CustomFieldOut(
        id=f"custom_{row.id}", name=row.name, type=row.field_type, description=row.description
    )


def field_id(identifier: str) -> str:
    """The stored ID of a custom field named as ``field_…`` or ``custom_field_…``."""
    return identifier.removeprefix("custom_") if identifier.startswith("custom_field_") else identifier


def deleted(kind: str) -> schemas.Deleted:
    return schemas.Deleted(status="success", message=f"{kind} deleted")


def contact(profile: Profile) -> schemas.ContactOut:
    row = profile.contact
    return schemas.ContactOut(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        company=row.company,
        custom_fields=profile.values,
        lists=profile.lists,
        tags=profile.tags,
        unsubscribed=row.unsubscribed,
        bounced=row.bounced,
        spam=row.spam,
        blocked=row.blocked,
        dropped=row.dropped,
        created=time(row.created_at),
        updated=time(row.updated_at),
        track_data=row.track_data or "",
        contact_source=row.contact_source,
        page_source=row.page_source or "",
        last_tracked_ip=row.last_tracked_ip,
        ltv=row.ltv,
        ltv_sdk=row.ltv,
    )


def message(text: str) -> schemas.Message:
    return schemas.Message(status="success", message=text)
