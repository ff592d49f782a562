"""One person's data on request (GDPR articles 15, 17 and 20): everything held about a contact
in one document, and its erasure.

Erasing a contact deletes it and everything about it: its memberships, topic choices, tags,
custom values, events (tracking included) and consent history (with the contact row), its
rows in campaigns' recipient lists, the bounce reports about it, the webhook messages that
carry it, and the import errors that quote its address. What stays is a keyed hash of the
address on the suppression list, so that no later import or campaign brings the person back,
and a record that an erasure happened, with its source and nothing about the person.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select

from roster.core import consent, contacts, suppression
from roster.core.clock import iso, now
from roster.core.errors import Invalid
from roster.ids import new_id
from roster.storage.tables import (
    audiences,
    campaign_recipients,
    campaigns,
    contact_events,
    contact_tags,
    contact_values,
    custom_fields,
    erasures,
    import_errors,
    inbound_messages,
    memberships,
    tags,
    topic_choices,
    topics,
    webhook_deliveries,
)


def _stamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return value.isoformat() if isinstance(value, date) else value


def consent_history(
    conn: Connection, team_id: str, identifier: str, offset: int = 0, limit: int = 1_000_000
) -> list[Any]:
    """The consent history of the team's contact named by ID or email, oldest first."""
    return consent.history(conn, team_id, contacts.find(conn, team_id, identifier).id, offset, limit)


def export(conn: Connection, team_id: str, identifier: str) -> dict[str, Any]:
    """Everything held about the team's contact named by ID or email, as one JSON document."""
    person = contacts.find(conn, team_id, identifier)

    def of_person(table: Any, *columns: Any) -> Any:
        query = select(*columns) if columns else select(table)
        return query.where(table.c.team_id == team_id, table.c.contact_id == person.id)

    fields = _all(
        conn,
        of_person(contact_values, custom_fields.c.name, contact_values.c.text).join(
            custom_fields, custom_fields.c.id == contact_values.c.field_id
        ),
    )
    lists = _all(
        conn,
        of_person(
            memberships, audiences.c.id, audiences.c.name, memberships.c.subscribed, memberships.c.created_at
        ).join(audiences, audiences.c.id == memberships.c.audience_id),
    )
    choices = _all(
        conn,
        of_person(
            topic_choices, topics.c.id, topics.c.name, topics.c.audience_id, topic_choices.c.subscribed
        ).join(topics, topics.c.id == topic_choices.c.topic_id),
    )
    tagged = _all(conn, of_person(contact_tags, tags.c.name).join(tags, tags.c.id == contact_tags.c.tag_id))
    events = _all(conn, of_person(contact_events).order_by(contact_events.c.occurred_at))
    received = _all(
        conn,
        of_person(campaign_recipients, campaign_recipients, campaigns.c.name, campaigns.c.subject)
        .join(campaigns, campaigns.c.id == campaign_recipients.c.campaign_id)
        .order_by(campaign_recipients.c.campaign_id),
    )
    history = consent.history(conn, team_id, person.id)
    return {
        "exported": iso(now()),
        "team": team_id,
        "contact": _plain(person, hide=("team_id", "search_text")),
        "customFields": {row.name: row.text for row in fields},
        "lists": [_plain(row) for row in lists],
        "topics": [_plain(row) for row in choices],
        "tags": sorted(row.name for row in tagged),
        "events": [_plain(row, hide=("team_id", "contact_id")) for row in events],
        "consent": [consent.as_dict(row) for row in history],
        "campaigns": [_plain(row, hide=("team_id", "contact_id", "next_attempt_at")) for row in received],
        "suppressed": bool(suppression.suppressed(conn, team_id, [person.email_normalized])),
    }


def _all(conn: Connection, query: Any) -> list[Any]:
    return list(conn.execute(query).all())


def _plain(row: Any, hide: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row as JSON: its columns by name, times in ISO 8601."""
    return {key: _stamp(value) for key, value in row._asdict().items() if key not in hide}


def erase(conn: Connection, team_id: str, identifier: str, confirm: Any) -> str:
    """Erase the team's contact named by ID or email (see the module's account); its ID.
    ``confirm`` must be ``True``: erasure cannot be undone."""
    if confirm is not True:
        raise Invalid("confirm", "must be true: erasure deletes everything about the person for good")
    person = contacts.find(conn, team_id, identifier)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:  # deleted rows are overwritten in the file, not only unlinked (some builds do by default)
        kept = conn.exec_driver_sql("PRAGMA secure_delete").scalar_one()
        conn.exec_driver_sql("PRAGMA secure_delete=ON")
    suppression.add(conn, team_id, [person.email], suppression.ERASED, keep_address=False)
    conn.execute(
        delete(campaign_recipients).where(
            campaign_recipients.c.team_id == team_id, campaign_recipients.c.contact_id == person.id
        )
    )
    conn.execute(delete(inbound_messages).where(inbound_messages.c.contact_id == person.id))
    conn.execute(
        delete(webhook_deliveries).where(
            webhook_deliveries.c.team_id == team_id,
            or_(
                webhook_deliveries.c.payload.contains(person.id, autoescape=True),
                webhook_deliveries.c.payload.contains(person.email, autoescape=True),
            ),
        )
    )
    conn.execute(
        delete(import_errors).where(
            import_errors.c.team_id == team_id, func.lower(import_errors.c.email) == person.email_normalized
        )
    )
    contacts.delete_contact(conn, team_id, person.id)
    if sqlite:
        conn.exec_driver_sql(f"PRAGMA secure_delete={int(kept)}")
    source = consent.SOURCE.get() or consent.Source(consent.SYSTEM)
    conn.execute(
        insert(erasures).values(
            id=new_id("erasure"), team_id=team_id, at=now(), source=source.kind, source_id=source.ref
        )
    )
    return str(person.id)
