"""Consent history: every change of a person's subscription state, appended in the
transaction of the change, with when, what and who or what made it.

What: ``subscribed`` / ``unsubscribed`` (a membership when ``audience_id`` is set; the
team-wide unsubscribe flag when it is not), ``left`` (a membership removed), ``topic_in`` /
``topic_out`` (a topic choice), and the team-wide flags ``bounced``, ``spam``, ``blocked``
and ``dropped`` being set.

Who: the ``Source`` in effect, a context variable each way in sets for what it runs: the API
key (its ID, never the token), the preference page, a one-click unsubscribe, a bounce or a
complaint (with the campaign), an import job, the CLI. Changes made with no source set are
recorded as ``system``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from roster.core.clock import iso, now
from roster.ids import new_id
from roster.storage import bulk
from roster.storage.db import Record
from roster.storage.tables import consent_events

# What changed.
SUBSCRIBED, UNSUBSCRIBED, LEFT = "subscribed", "unsubscribed", "left"
PENDING, CONFIRMED, EXPIRED = "pending", "confirmed", "expired"
TOPIC_IN, TOPIC_OUT = "topic_in", "topic_out"
# Who changed it.
API, PREFERENCE_PAGE, ONE_CLICK, CONFIRMATION = "api", "preference_page", "one_click", "confirmation"
BOUNCE, COMPLAINT, IMPORT, CLI, SYSTEM = "bounce", "complaint", "import", "cli", "system"
SIGNUP_FORM = "signup_form"


@dataclass(frozen=True, slots=True)
class Source:
    kind: str
    ref: str | None = None  # the API key's ID, the import job's, the campaign's


SOURCE: ContextVar[Source | None] = ContextVar("consent_source", default=None)


@contextmanager
def acting(source: Source) -> Iterator[None]:
    """Record the changes made inside as made by ``source``."""
    token = SOURCE.set(source)
    try:
        yield
    finally:
        SOURCE.reset(token)


def record(
    conn: Connection,
    team_id: str,
    contact_id: str,
    change: str,
    *,
    audience_id: str | None = None,
    topic_id: str | None = None,
    detail: str | None = None,
) -> None:
    source = SOURCE.get() or Source(SYSTEM)
    conn.execute(
        insert(consent_events).values(
            id=new_id("consent"),
            team_id=team_id,
            contact_id=contact_id,
            at=now(),
            change=change,
            audience_id=audience_id,
            topic_id=topic_id,
            source=source.kind,
            source_id=source.ref,
            detail=detail[:255] if detail else None,
        )
    )


def record_many(
    conn: Connection, team_id: str, changes: Iterable[tuple[str, str, str | None]], detail: str | None = None
) -> None:
    """``record`` each ``(contact_id, change, audience_id)``, in one statement (imports)."""
    source = SOURCE.get() or Source(SYSTEM)
    stamp = now()
    rows = [
        (
            new_id("consent"),
            team_id,
            contact_id,
            stamp,
            change,
            audience_id,
            None,
            source.kind,
            source.ref,
            detail,
        )
        for contact_id, change, audience_id in changes
    ]
    bulk.load(conn, consent_events, rows)


def history(
    conn: Connection, team_id: str, contact_id: str, offset: int = 0, limit: int = 1_000_000
) -> list[Record]:
    """The contact's consent history, oldest first (the caller has found the contact)."""
    return list(
        conn.execute(
            select(consent_events)
            .where(consent_events.c.team_id == team_id, consent_events.c.contact_id == contact_id)
            .order_by(consent_events.c.at, consent_events.c.id)
            .offset(offset)
            .limit(limit)
        )
    )


def as_dict(row: Record) -> dict[str, Any]:
    """One change as the CLI and the data export show it."""
    return {
        "at": iso(row.at),
        "change": row.change,
        "audienceId": row.audience_id,
        "topicId": row.topic_id,
        "source": row.source,
        "sourceId": row.source_id,
        "detail": row.detail,
    }
