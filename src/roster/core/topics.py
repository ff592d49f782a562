"""Topics inside an audience, and each contact's choice per topic.

A contact's subscription to a topic is its explicit choice if it made one, else the
topic's default: ``auto`` subscribes, ``opt-in`` does not. Creating a topic therefore
writes no row per contact, and counting subscribers is arithmetic over the choices made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Boolean, Connection, case, delete, func, insert, select, update

from roster.core import consent, counts
from roster.core.clock import now
from roster.core.errors import Invalid, NotFound
from roster.core.memberships import get_member, require_audience
from roster.core.named import clean_named
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import memberships, topic_choices, topics
from roster.storage.upsert import upsert_statement

AUTO = "auto"
OPT_IN = "opt-in"
DEFAULTS = (AUTO, OPT_IN)


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = clean_named(fields)
    if "default_subscribed" in fields:
        if fields["default_subscribed"] not in DEFAULTS:
            raise Invalid("default_subscribed", "must be `auto` or `opt-in`")
        cleaned["default_subscribed"] = fields["default_subscribed"]
    return cleaned


def create_topic(
    conn: Connection, team_id: str, audience_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    require_audience(conn, team_id, audience_id)
    if "name" not in fields:
        raise Invalid("name", "is required")
    values = {"description": None, "default_subscribed": AUTO, **_clean(fields)}
    topic_id = new_id("topic")
    stamp = now()
    conn.execute(
        insert(topics).values(
            id=topic_id,
            team_id=team_id,
            audience_id=audience_id,
            created_at=stamp,
            updated_at=stamp,
            **values,
        )
    )
    return get_topic(conn, team_id, audience_id, topic_id)


def _topic(conn: Connection, team_id: str, audience_id: str, topic_id: str) -> Record:
    row = conn.execute(
        select(topics).where(
            topics.c.team_id == team_id,
            topics.c.audience_id == audience_id,
            topics.c.id == topic_id,
        )
    ).first()
    if row is None:
        raise NotFound("topic", topic_id)
    return row


def _with_counts(conn: Connection, audience_id: str, rows: list[Record]) -> list[dict[str, Any]]:
    """Attach ``subscriber_count``: subscribed members of the audience who take the topic."""
    if not rows:
        return []
    _, subscribed_members = counts.totals(conn, audience_id)
    choices = conn.execute(
        select(
            topic_choices.c.topic_id,
            func.sum(case((topic_choices.c.subscribed, 1), else_=0)).label("yes"),
            func.sum(case((topic_choices.c.subscribed, 0), else_=1)).label("no"),
        )
        .join_from(
            topic_choices,
            memberships,
            (memberships.c.contact_id == topic_choices.c.contact_id)
            & (memberships.c.audience_id == audience_id),
        )
        .where(topic_choices.c.topic_id.in_([row.id for row in rows]), memberships.c.subscribed)
        .group_by(topic_choices.c.topic_id)
    )
    made = {choice.topic_id: (int(choice.yes), int(choice.no)) for choice in choices}
    result = []
    for row in rows:
        yes, no = made.get(row.id, (0, 0))
        count = subscribed_members - no if row.default_subscribed == AUTO else yes
        result.append({**row._mapping, "subscriber_count": count})
    return result


def get_topic(conn: Connection, team_id: str, audience_id: str, topic_id: str) -> dict[str, Any]:
    require_audience(conn, team_id, audience_id)
    return _with_counts(conn, audience_id, [_topic(conn, team_id, audience_id, topic_id)])[0]


def list_topics(conn: Connection, team_id: str, audience_id: str) -> list[dict[str, Any]]:
    require_audience(conn, team_id, audience_id)
    rows = conn.execute(
        select(topics)
        .where(topics.c.team_id == team_id, topics.c.audience_id == audience_id)
        .order_by(topics.c.id)
    ).all()
    return _with_counts(conn, audience_id, list(rows))


def update_topic(
    conn: Connection, team_id: str, audience_id: str, topic_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    require_audience(conn, team_id, audience_id)
    _topic(conn, team_id, audience_id, topic_id)
    changes = _clean(fields)
    if changes:
        conn.execute(update(topics).where(topics.c.id == topic_id).values(**changes, updated_at=now()))
    return get_topic(conn, team_id, audience_id, topic_id)


def delete_topic(conn: Connection, team_id: str, audience_id: str, topic_id: str) -> None:
    require_audience(conn, team_id, audience_id)
    _topic(conn, team_id, audience_id, topic_id)
    conn.execute(delete(topics).where(topics.c.id == topic_id))


def contact_topics(conn: Connection, team_id: str, audience_id: str, contact_id: str) -> list[Record]:
    """Every topic of the audience with the contact's subscription to it."""
    get_member(conn, team_id, audience_id, contact_id)
    choice = (
        select(topic_choices.c.subscribed)
        .where(topic_choices.c.topic_id == topics.c.id, topic_choices.c.contact_id == contact_id)
        .scalar_subquery()
    )
    subscribed = func.coalesce(choice, topics.c.default_subscribed == AUTO, type_=Boolean)
    query = (
        select(
            topics.c.id.label("topic_id"),
            topics.c.name,
            topics.c.description,
            subscribed.label("subscribed"),
        )
        .where(topics.c.team_id == team_id, topics.c.audience_id == audience_id)
        .order_by(topics.c.id)
    )
    return list(conn.execute(query))


def choose(
    conn: Connection,
    team_id: str,
    audience_id: str,
    contact_id: str,
    topic_id: str,
    subscribed: bool,
) -> None:
    """Record the contact's explicit choice for one topic of the audience."""
    get_member(conn, team_id, audience_id, contact_id)
    _topic(conn, team_id, audience_id, topic_id)
    stamp = now()
    stmt = upsert_statement(conn, topic_choices).values(
        topic_id=topic_id,
        contact_id=contact_id,
        team_id=team_id,
        subscribed=subscribed,
        updated_at=stamp,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[topic_choices.c.topic_id, topic_choices.c.contact_id],
            set_={"subscribed": subscribed, "updated_at": stamp},
        )
    )
    change = consent.TOPIC_IN if subscribed else consent.TOPIC_OUT
    consent.record(conn, team_id, contact_id, change, audience_id=audience_id, topic_id=topic_id)
