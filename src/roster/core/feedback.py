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

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from roster.config import BounceRules
from roster.core import consent, memberships, outbox, suppression, tallies
from roster.core.tracking import CLICK, Hit
from roster.ids import new_id
from roster.storage import bulk
from roster.storage.db import Record
from roster.storage.tables import campaign_recipients, contact_events, contacts

OPENED, CLICKED, UNSUBSCRIBED = "opened", "clicked", "unsubscribed"
BOUNCED, SOFT_BOUNCED, COMPLAINED = "bounced", "soft_bounced", "complained"
HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"


_OF_CONTACT = (contacts.c.team_id == campaign_recipients.c.team_id) & (
    contacts.c.id == campaign_recipients.c.contact_id
)


def _recipient(conn: Connection, campaign_id: str, contact_id: str) -> Record | None:
    """The campaign's recipient row, with its contact's email; ``None`` if the contact was
    never a recipient of the campaign or no longer exists."""
    return conn.execute(
        select(campaign_recipients, contacts.c.email)
        .join(contacts, _OF_CONTACT)
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


def record_hits(conn: Connection, hits: Sequence[Hit]) -> int:
    """Apply a batch of tracking requests, a few statements per campaign rather than per
    request; how many matched a recipient."""
    matched = 0
    campaigns: dict[str, list[Hit]] = {}
    for hit in hits:
        campaigns.setdefault(hit.campaign_id, []).append(hit)
    for campaign_id, group in campaigns.items():
        matched += _record_campaign_hits(conn, campaign_id, group)
    return matched


def _record_campaign_hits(conn: Connection, campaign_id: str, hits: list[Hit]) -> int:
    people = {hit.contact_id for hit in hits}
    columns = [
        campaign_recipients.c[name]
        for name in ("campaign_id", "contact_id", "team_id", "opened_at", "clicked_at")
    ]
    rows = {
        row.contact_id: row
        for row in conn.execute(
            select(*columns)
            .join(contacts, _OF_CONTACT)
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.contact_id.in_(sorted(people)),
            )
        )
    }
    hits = [hit for hit in hits if hit.contact_id in rows]
    if not hits:
        return 0
    team_id = next(iter(rows.values())).team_id
    bulk.load(conn, contact_events, [_hit_event(team_id, hit) for hit in hits])
    opens = unique_opens = clicks = unique_clicks = 0
    links: Counter[str] = Counter()
    opened: list[tuple[str, dict[str, Any]]] = []
    clicked: list[tuple[str, dict[str, Any]]] = []
    seen_open = {key for key, row in rows.items() if row.opened_at is not None}
    seen_click = {key for key, row in rows.items() if row.clicked_at is not None}
    for hit in hits:
        if hit.uncounted is not None:
            continue
        row = rows[hit.contact_id]
        first_open = hit.contact_id not in seen_open and _mark_once(conn, row, "opened_at", hit.at)
        seen_open.add(hit.contact_id)
        unique_opens += first_open
        if hit.kind == CLICK:
            assert hit.url is not None
            first_click = hit.contact_id not in seen_click and _mark_once(conn, row, "clicked_at", hit.at)
            seen_click.add(hit.contact_id)
            clicks += 1
            unique_clicks += first_click
            opens += first_open  # a click with no open seen counts as the open too
            links[hit.url] += 1
            clicked.append((hit.contact_id, {"campaignId": campaign_id, "url": hit.url}))
        else:
            opens += 1
            opened.append((hit.contact_id, {"campaignId": campaign_id}))
    deltas = {
        "opened": opens,
        "opened_unique": unique_opens,
        "clicked": clicks,
        "clicked_unique": unique_clicks,
    }
    tallies.add(conn, team_id, campaign_id, **deltas)
    for url, clicks in links.items():
        tallies.add_clicks(conn, team_id, campaign_id, url, clicks)
    _emit_each(conn, team_id, outbox.OPENED, opened)
    _emit_each(conn, team_id, outbox.CLICKED, clicked)
    return len(hits)


def _hit_event(team_id: str, hit: Hit) -> tuple[Any, ...]:
    """The event of a tracking request, a row of ``contact_events`` in its column order."""
    data: dict[str, Any] = {"userAgent": hit.user_agent[:255], "counted": hit.uncounted is None}
    if hit.url is not None:
        data["url"] = hit.url
    if hit.uncounted:
        data["reason"] = hit.uncounted
    kind = CLICKED if hit.kind == CLICK else OPENED
    text = json.dumps(data)
    return (new_id("event"), team_id, hit.contact_id, kind, kind, text, None, hit.campaign_id, hit.at, hit.at)


def _emit_each(conn: Connection, team_id: str, event: str, items: list[tuple[str, dict[str, Any]]]) -> None:
    """One webhook message per ``(contact_id, extra)``: the contact's data and ``extra``."""
    if not items or not outbox.listening(conn, team_id, event):
        return
    wanted = sorted({contact_id for contact_id, _ in items})
    people = {
        row.id: row
        for row in conn.execute(
            select(contacts).where(contacts.c.team_id == team_id, contacts.c.id.in_(wanted))
        )
    }
    messages = [{**outbox.contact_data(people[contact_id]), **extra} for contact_id, extra in items]
    outbox.emit(conn, team_id, event, messages)


def apply_report(
    conn: Connection,
    kind: str,
    campaign_id: str,
    contact_id: str,
    at: datetime,
    detail: str,
    rules: BounceRules,
) -> str | None:
    """Apply a bounce (``HARD`` or ``SOFT``) or a ``COMPLAINT`` about one recipient; why it
    did nothing, or ``None`` when it was applied."""
    row = _recipient(conn, campaign_id, contact_id)
    if row is None:
        return f"{contact_id} is not a recipient of {campaign_id}"
    source = consent.Source(consent.COMPLAINT if kind == COMPLAINT else consent.BOUNCE, campaign_id)
    with consent.acting(source):
        _apply_report(conn, row, kind, at, {"detail": detail[:500]} if detail else None, rules)
    return None


def _apply_report(
    conn: Connection, row: Record, kind: str, at: datetime, data: dict[str, str] | None, rules: BounceRules
) -> None:
    team_id, campaign_id, contact_id = row.team_id, row.campaign_id, row.contact_id
    if kind == COMPLAINT:
        _event(conn, row, COMPLAINED, at, data)
        if _mark_once(conn, row, "complained", True):
            tallies.add(conn, team_id, campaign_id, spam=1)
        if _flag(conn, row, "spam", at):
            outbox.emit_contacts(conn, team_id, outbox.MARKED_SPAM, [contact_id], campaignId=campaign_id)
        suppression.add(conn, team_id, [row.email], suppression.COMPLAINED)
        memberships.unsubscribe_everywhere(conn, team_id, contact_id)
        return
    if kind == SOFT:
        _event(conn, row, SOFT_BOUNCED, at, data)
        if _mark_once(conn, row, "soft_bounced", True):
            tallies.add(conn, team_id, campaign_id, soft_bounced=1)
        if _soft_bounces(conn, row, at - rules.soft_window) < rules.soft_limit:
            return
    else:
        _event(conn, row, BOUNCED, at, data)
        if _mark_once(conn, row, "bounced", True):
            tallies.add(conn, team_id, campaign_id, bounced=1)
    if _flag(conn, row, "bounced", at):
        outbox.emit_contacts(conn, team_id, outbox.BOUNCED, [contact_id], campaignId=campaign_id)
    suppression.add(conn, team_id, [row.email], suppression.BOUNCED)


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
    flagged = bool(
        conn.execute(
            update(contacts)
            .where(contacts.c.team_id == row.team_id, contacts.c.id == row.contact_id, ~contacts.c[flag])
            .values({flag: True, "updated_at": at})
        ).rowcount
    )
    if flagged:
        consent.record(conn, row.team_id, row.contact_id, flag)
    return flagged


def unsubscribed(conn: Connection, campaign_id: str, contact_id: str, at: datetime, scope: str) -> None:
    """The contact unsubscribed (from ``scope``, a list or the team) through the campaign's
    link: the first time, an event and one more in the campaign's report."""
    row = _recipient(conn, campaign_id, contact_id)
    if row is None:
        return
    if _mark_once(conn, row, "unsubscribed", True):
        _event(conn, row, UNSUBSCRIBED, at, {"from": scope})
        tallies.add(conn, row.team_id, campaign_id, unsubscribed=1)
