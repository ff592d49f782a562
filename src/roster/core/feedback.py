"""What comes back from a sent campaign, applied to its recipient, its contact and its report.

Each piece of feedback is an event on the contact (``contact_events``, with the campaign),
a change of the campaign's counters (``roster.core.tallies``) and the matching webhook
event, in one transaction. The recipient's row keeps what happened to it once (first open,
first click, bounced, complained, unsubscribed), so that each person counts once in the
report's unique figures however often the same thing comes back.

- An open or a click by a person (``roster.core.tracking.why_uncounted`` says who is not)
  counts in the totals, once per person in the unique figures, and a click per link; a
  click by someone whose open was not seen (images blocked) counts as their open too.
- A hard bounce flags the contact ``bounced`` team-wide: later campaigns skip it.
- A soft bounce counts; ``soft_limit`` of them within ``soft_window`` flag it bounced.
- A complaint flags it ``spam`` and unsubscribes it from everything the team sends.
- An unsubscribe through a campaign's link counts for that campaign.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from roster.config import BounceRules
from roster.core import memberships, outbox, tallies
from roster.core.tracking import CLICK, Hit
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import campaign_recipients, contact_events, contacts

OPENED, CLICKED, UNSUBSCRIBED = "opened", "clicked", "unsubscribed"
BOUNCED, SOFT_BOUNCED, COMPLAINED = "bounced", "soft_bounced", "complained"
HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"


def _recipient(conn: Connection, campaign_id: str, contact_id: str) -> Record | None:
    """The campaign's recipient row, with its contact's team; ``None`` if the contact was
    never a recipient of the campaign or no longer exists."""
    return conn.execute(
        select(campaign_recipients)
        .join(
            contacts,
            (contacts.c.team_id == campaign_recipients.c.team_id)
            & (contacts.c.id == campaign_recipients.c.contact_id),
        )
        .where(
            campaign_recipients.c.campaign_id == campaign_id,
            campaign_recipients.c.contact_id == contact_id,
        )
    ).first()


def _event(
    conn: Connection, row: Record, kind: str, at: datetime, data: Mapping[str, Any] | None = None
) -> None:
    conn.execute(
        insert(contact_events).values(
            id=new_id("event"),
            team_id=row.team_id,
            contact_id=row.contact_id,
            campaign_id=row.campaign_id,
            kind=kind,
            name=kind,
            data=dict(data) if data else None,
            occurred_at=at,
            created_at=at,
        )
    )


def _mark_once(conn: Connection, row: Record, column: str, value: Any) -> bool:
    """Set the recipient's ``column`` unless it is set already; whether this did."""
    unset = campaign_recipients.c[column].is_(None) if value is not True else ~campaign_recipients.c[column]
    return bool(
        conn.execute(
            update(campaign_recipients)
            .where(
                campaign_recipients.c.campaign_id == row.campaign_id,
                campaign_recipients.c.contact_id == row.contact_id,
                unset,
            )
            .values({column: value})
        ).rowcount
    )


def record_hits(conn: Connection, hits: Iterable[Hit]) -> int:
    """Apply a batch of tracking requests; how many matched a recipient."""
    matched = 0
    for hit in hits:
        row = _recipient(conn, hit.campaign_id, hit.contact_id)
        if row is None:
            continue
        matched += 1
        data: dict[str, Any] = {"userAgent": hit.user_agent[:255], "counted": hit.uncounted is None}
        if hit.url is not None:
            data["url"] = hit.url
        if hit.uncounted:
            data["reason"] = hit.uncounted
        _event(conn, row, CLICKED if hit.kind == CLICK else OPENED, hit.at, data)
        if hit.uncounted is None:
            _count(conn, row, hit)
    return matched


def _count(conn: Connection, row: Record, hit: Hit) -> None:
    deltas: dict[str, int] = {}
    opened_first = _mark_once(conn, row, "opened_at", hit.at)
    if hit.kind == CLICK:
        assert hit.url is not None
        deltas.update(clicked=1, clicked_unique=int(_mark_once(conn, row, "clicked_at", hit.at)))
        tallies.add_clicks(conn, row.team_id, row.campaign_id, hit.url, 1)
        if opened_first:
            deltas.update(opened=1, opened_unique=1)
        outbox.emit_contacts(
            conn, row.team_id, outbox.CLICKED, [row.contact_id], campaignId=row.campaign_id, url=hit.url
        )
    else:
        deltas.update(opened=1, opened_unique=int(opened_first))
        outbox.emit_contacts(conn, row.team_id, outbox.OPENED, [row.contact_id], campaignId=row.campaign_id)
    tallies.add(conn, row.team_id, row.campaign_id, **deltas)


@dataclass(frozen=True, slots=True)
class Applied:
    """What one bounce or complaint did, or why it did nothing."""

    team_id: str | None
    reason: str | None  # None when applied


def apply_report(
    conn: Connection,
    kind: str,
    campaign_id: str,
    contact_id: str,
    at: datetime,
    detail: str,
    rules: BounceRules,
) -> Applied:
    """Apply a bounce (``HARD`` or ``SOFT``) or a ``COMPLAINT`` about one recipient."""
    row = _recipient(conn, campaign_id, contact_id)
    if row is None:
        return Applied(None, f"{contact_id} is not a recipient of {campaign_id}")
    data = {"detail": detail[:500]} if detail else None
    if kind == COMPLAINT:
        _event(conn, row, COMPLAINED, at, data)
        if _mark_once(conn, row, "complained", True):
            tallies.add(conn, row.team_id, campaign_id, spam=1)
        if _flag(conn, row, "spam", at):
            outbox.emit_contacts(conn, row.team_id, outbox.MARKED_SPAM, [contact_id], campaignId=campaign_id)
        memberships.unsubscribe_everywhere(conn, row.team_id, contact_id)
        return Applied(row.team_id, None)
    if kind == SOFT:
        _event(conn, row, SOFT_BOUNCED, at, data)
        if _mark_once(conn, row, "soft_bounced", True):
            tallies.add(conn, row.team_id, campaign_id, soft_bounced=1)
        if _soft_bounces(conn, row, at - rules.soft_window) < rules.soft_limit:
            return Applied(row.team_id, None)
    else:
        _event(conn, row, BOUNCED, at, data)
        if _mark_once(conn, row, "bounced", True):
            tallies.add(conn, row.team_id, campaign_id, bounced=1)
    if _flag(conn, row, "bounced", at):
        outbox.emit_contacts(conn, row.team_id, outbox.BOUNCED, [contact_id], campaignId=campaign_id)
    return Applied(row.team_id, None)


def _soft_bounces(conn: Connection, row: Record, since: datetime) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                contact_events.c.team_id == row.team_id,
                contact_events.c.contact_id == row.contact_id,
                contact_events.c.kind == SOFT_BOUNCED,
                contact_events.c.occurred_at >= since,
            )
        ).scalar_one()
    )


def _flag(conn: Connection, row: Record, flag: str, at: datetime) -> bool:
    """Set the contact's team-wide ``flag``; whether it was not set before."""
    return bool(
        conn.execute(
            update(contacts)
            .where(contacts.c.team_id == row.team_id, contacts.c.id == row.contact_id, ~contacts.c[flag])
            .values({flag: True, "updated_at": at})
        ).rowcount
    )


def unsubscribed(conn: Connection, campaign_id: str, contact_id: str, at: datetime, scope: str) -> None:
    """The contact unsubscribed (from ``scope``, a list or the team) through the campaign's
    link: the first time, an event and one more in the campaign's report."""
    row = _recipient(conn, campaign_id, contact_id)
    if row is None:
        return
    if _mark_once(conn, row, "unsubscribed", True):
        _event(conn, row, UNSUBSCRIBED, at, {"from": scope})
        tallies.add(conn, row.team_id, campaign_id, unsubscribed=1)
