"""Sending a campaign: who gets it, in what state each delivery is, and what an answer means.

When a campaign starts sending, its recipients (``campaigns.recipients``) are resolved into
``campaign_recipients``, a chunk of ``RESOLVE_CHUNK`` contacts at a time in contact-ID order,
set-based (``INSERT … SELECT``): mail starts after the first chunk, and no write lock is held
for long. Each row is then ``queued`` until a worker claims it, and ends ``sent``, ``failed``
or ``skipped``.

A worker claims up to a batch of due rows of one campaign (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share a campaign) and leases them by moving their
``next_attempt_at``; a worker that dies leaves its rows to whoever claims them after the
lease. Each contact is checked again as it is claimed: one deleted, flagged (unsubscribed,
bounced, spam, blocked, dropped) or no longer subscribed to the list that reached it is
skipped. Each answer is recorded as soon as it comes (``record``), so a ``kill -9`` costs at
most the messages in flight.

An answer: accepted → sent. Rejected (5xx) → failed; a 5.1.x ("no such mailbox") also flags
the contact bounced team-wide. Deferred (4xx, no connection) → tried again after
``RETRY_AFTER`` with jitter, failed after ``MAX_ATTEMPTS``. Unusable (the relay refused the
login) → the campaign pauses at once. ``max_failures`` answers in a row that are neither
accepted nor a bounce pause the campaign, with the reason in ``status_reason``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, null, select, update
from sqlalchemy.sql import insert

from roster.config import BounceRules
from roster.core import feedback, outbox, suppression, tallies
from roster.core.campaigns import (
    FLAGS,
    PAUSED,
    SCHEDULED,
    SENDING,
    SENT,
    Campaign,
    get_campaign,
    recipients,
    require_verified_sender,
)
from roster.core.domains import signing_domain
from roster.core.emails import clean_email
from roster.core.errors import Invalid
from roster.mail.transport import ACCEPTED, REJECTED, UNUSABLE, Reply
from roster.storage.db import Record
from roster.storage.prepared import Prepared
from roster.storage.tables import (
    audiences,
    campaign_recipients,
    campaigns,
    contact_values,
    contacts,
    custom_fields,
    memberships,
    senders,
)

QUEUED, DONE_SENT, FAILED, SKIPPED = "queued", "sent", "failed", "skipped"
RESOLVE_CHUNK = 20_000
RETRY_AFTER = (60, 300, 900, 3600)  # seconds after failed attempts 1, 2, 3, 4
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
LEASE = timedelta(seconds=60)
FLAGGED = "the contact is "  # a skip for one of its flags, which raises contact.dropped
SUPPRESSED = "the address is on the suppression list"


def promote_due(conn: Connection, moment: datetime) -> int:
    """Scheduled campaigns whose time has come start sending; how many."""
    return conn.execute(
        update(campaigns)
        .where(campaigns.c.status == SCHEDULED, campaigns.c.scheduled_at <= moment)
        .values(status=SENDING, updated_at=moment)
    ).rowcount


def _included_audience(campaign: Campaign) -> Any:
    """The first included list that holds the contact subscribed, or NULL: the list whose
    unsubscribe link its message carries."""
    lists = campaign.targets["included_lists"]
    if not lists:
        return null()
    return (
        select(func.min(memberships.c.audience_id))
        .where(
            memberships.c.contact_id == contacts.c.id,
            memberships.c.team_id == contacts.c.team_id,
            memberships.c.audience_id.in_(lists),
            memberships.c.subscribed,
        )
        .scalar_subquery()
    )


def resolve_next(conn: Connection, moment: datetime, chunk: int = RESOLVE_CHUNK) -> bool:
    """Resolve the next chunk of recipients of one sending campaign that is not resolved
    yet; whether there was one."""
    row = conn.execute(
        select(campaigns.c.id, campaigns.c.team_id, campaigns.c.resolved_through)
        .where(campaigns.c.status == SENDING, campaigns.c.resolved_at.is_(None))
        .order_by(campaigns.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return False
    campaign = get_campaign(conn, row.team_id, row.id)
    wanted = recipients(conn, campaign)
    if row.resolved_through is not None:
        wanted = and_(wanted, contacts.c.id > row.resolved_through)
    last = conn.execute(
        select(contacts.c.id).where(wanted).order_by(contacts.c.id).offset(chunk - 1).limit(1)
    ).scalar()
    if last is not None:
        wanted = and_(wanted, contacts.c.id <= last)
    resolved = conn.execute(
        insert(campaign_recipients)
        .from_select(
            ["campaign_id", "contact_id", "team_id", "audience_id", "state", "attempts", "next_attempt_at"],
            select(
                literal(row.id),
                contacts.c.id,
                contacts.c.team_id,
                _included_audience(campaign),
                literal(QUEUED),
                literal(0),
                literal(moment, campaigns.c.updated_at.type),
            ).where(wanted),
        )
        .execution_options(preserve_rowcount=True)  # SQLAlchemy keeps an INSERT's count only when asked
    ).rowcount
    tallies.add(conn, row.team_id, row.id, recipients=resolved)
    done = {"resolved_through": last} if last is not None else {"resolved_at": moment}
    conn.execute(update(campaigns).where(campaigns.c.id == row.id).values(**done))
    return True


@dataclass(frozen=True, slots=True)
class Letter:
    """One person a claimed campaign goes to, as they are now."""

    contact_id: str
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    fields: dict[str, str]
    audience_id: str | None
    audience_name: str | None
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class Batch:
    campaign: Record
    sender: Record
    dkim: Record | None  # the sender's verified domain, with its key
    letters: list[Letter] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # a test send's addresses not mailed


def _live_campaigns(conn: Connection, after: str | None) -> list[Record]:
    rows = list(
        conn.execute(
            select(campaigns.c.id, campaigns.c.team_id)
            .where(campaigns.c.status == SENDING)
            .order_by(campaigns.c.id)
        )
    )
    # Take turns: the campaigns after the one served last come first.
    return [row for row in rows if after is None or row.id > after] + [
        row for row in rows if after is not None and row.id <= after
    ]


def _skip_reason(person: Record | None, subscribed: bool | None) -> str | None:
    """Why a claimed recipient may no longer be mailed, if it may not."""
    if person is None:
        return "the contact was deleted"
    for flag in FLAGS:
        if getattr(person, flag):
            return f"{FLAGGED}{flag}"
    if subscribed is False:
        return "the contact left the list"
    return None


def claim(
    conn: Connection, moment: datetime, size: int, *, lease: timedelta = LEASE, after: str | None = None
) -> Batch | None:
    """Lease up to ``size`` due recipients of one sending campaign, skipping the ones that
    may no longer be mailed; ``None`` when no campaign has any due."""
    for live in _live_campaigns(conn, after):
        due = conn.execute(
            select(
                campaign_recipients.c.contact_id,
                campaign_recipients.c.audience_id,
                campaign_recipients.c.attempts,
            )
            .where(
                campaign_recipients.c.campaign_id == live.id,
                campaign_recipients.c.state == QUEUED,
                campaign_recipients.c.next_attempt_at <= moment,
            )
            .order_by(campaign_recipients.c.next_attempt_at)
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        if due:
            return _batch(conn, live, due, moment, lease)
    return None


def _batch(
    conn: Connection, live: Record, due: Sequence[Record], moment: datetime, lease: timedelta
) -> Batch:
    team_id, ids = live.team_id, [row.contact_id for row in due]
    conn.execute(
        update(campaign_recipients)
        .where(campaign_recipients.c.campaign_id == live.id, campaign_recipients.c.contact_id.in_(ids))
        .values(next_attempt_at=moment + lease, attempts=campaign_recipients.c.attempts + 1)
    )
    people = {
        row.id: row
        for row in conn.execute(select(contacts).where(contacts.c.team_id == team_id, contacts.c.id.in_(ids)))
    }
    lists = {row.audience_id for row in due if row.audience_id is not None}
    subscribed = {
        (row.audience_id, row.contact_id): row.subscribed
        for row in conn.execute(
            select(memberships.c.audience_id, memberships.c.contact_id, memberships.c.subscribed).where(
                memberships.c.team_id == team_id,
                memberships.c.contact_id.in_(ids),
                memberships.c.audience_id.in_(lists),
            )
        )
    }
    names = {
        row.id: row.name
        for row in conn.execute(select(audiences.c.id, audiences.c.name).where(audiences.c.id.in_(lists)))
    }
    fields: dict[str, dict[str, str]] = {}
    for value in conn.execute(
        select(contact_values.c.contact_id, custom_fields.c.name, contact_values.c.text)
        .join(custom_fields, custom_fields.c.id == contact_values.c.field_id)
        .where(contact_values.c.team_id == team_id, contact_values.c.contact_id.in_(ids))
    ):
        fields.setdefault(value.contact_id, {})[value.name] = value.text
    letters, skipped = [], []
    held = suppression.suppressed(conn, team_id, (person.email_normalized for person in people.values()))
    for row in due:
        person = people.get(row.contact_id)
        member = subscribed.get((row.audience_id, row.contact_id), False) if row.audience_id else None
        reason = _skip_reason(person, member)
        if reason is None and person is not None and person.email_normalized in held:
            reason = SUPPRESSED
        if reason is not None:
            skipped.append((row.contact_id, reason))
            continue
        assert person is not None  # a deleted contact has a reason
        letters.append(
            Letter(
                contact_id=row.contact_id,
                email=person.email,
                first_name=person.first_name,
                last_name=person.last_name,
                company=person.company,
                fields=fields.get(row.contact_id, {}),
                audience_id=row.audience_id,
                audience_name=names.get(row.audience_id),
                attempts=row.attempts + 1,
            )
        )
    for contact_id, reason in skipped:
        _finish(conn, live.id, contact_id, state=SKIPPED, reply=reason, done_at=moment)
    if skipped:
        tallies.add(conn, team_id, live.id, skipped=len(skipped))
        dropped = [contact_id for contact_id, reason in skipped if reason.startswith(FLAGGED)]
        outbox.emit_contacts(conn, team_id, outbox.DROPPED, dropped, campaignId=live.id)
    campaign = conn.execute(select(campaigns).where(campaigns.c.id == live.id)).one()
    sender = conn.execute(select(senders).where(senders.c.id == campaign.sender_id)).one()
    return Batch(campaign, sender, signing_domain(conn, team_id, sender.domain), letters)


def _finish(conn: Connection, campaign_id: str, contact_id: str, **values: Any) -> None:
    conn.execute(
        update(campaign_recipients)
        .where(
            campaign_recipients.c.campaign_id == campaign_id,
            campaign_recipients.c.contact_id == contact_id,
        )
        .values(**values)
    )


def pause(conn: Connection, campaign_id: str, reason: str, moment: datetime) -> None:
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == SENDING)
        .values(status=PAUSED, status_reason=reason[:500], updated_at=moment)
    )


def _failed_in_row(conn: Connection, campaign_id: str, reply: Reply, moment: datetime, limit: int) -> None:
    count = conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(failures_in_row=campaigns.c.failures_in_row + 1)
        .returning(campaigns.c.failures_in_row)
    ).scalar_one()
    if count >= limit:
        pause(
            conn, campaign_id, f"paused after {count} deliveries in a row failed; the last: {reply}", moment
        )


# A message accepted: the hottest write of sending, one per message.
_SENT = Prepared(
    update(campaign_recipients)
    .where(
        campaign_recipients.c.campaign_id == bindparam("campaign"),
        campaign_recipients.c.contact_id == bindparam("contact"),
    )
    .values(state=DONE_SENT, reply=bindparam("answer"), done_at=bindparam("moment"))
)
_NO_FAILURES = Prepared(
    update(campaigns)
    .where(campaigns.c.id == bindparam("campaign"), campaigns.c.failures_in_row > 0)
    .values(failures_in_row=0)
)


def record(
    conn: Connection, batch: Batch, letter: Letter, reply: Reply, moment: datetime, *, max_failures: int
) -> None:
    """Store what the relay answered for one person (see the module's account)."""
    campaign_id, team_id = batch.campaign.id, batch.campaign.team_id
    text = str(reply)[:500]
    if reply.kind == ACCEPTED:
        sent = {"campaign": campaign_id, "contact": letter.contact_id, "answer": text, "moment": moment}
        _SENT.run(conn, sent)
        _NO_FAILURES.run(conn, {"campaign": campaign_id})
        tallies.add(conn, team_id, campaign_id, sent=1)
        return
    if reply.kind == UNUSABLE:
        release(conn, campaign_id, [letter.contact_id], moment)
        pause(conn, campaign_id, f"paused: {text}", moment)
        return
    if reply.no_such_mailbox:  # a hard bounce at once, applied as one that comes back later
        _finish(conn, campaign_id, letter.contact_id, state=FAILED, reply=text, done_at=moment)
        tallies.add(conn, team_id, campaign_id, failed=1)
        feedback.apply_report(
            conn, feedback.HARD, campaign_id, letter.contact_id, moment, text, BounceRules()
        )
        return
    if reply.kind == REJECTED or letter.attempts >= MAX_ATTEMPTS:
        _finish(conn, campaign_id, letter.contact_id, state=FAILED, reply=text, done_at=moment)
        tallies.add(conn, team_id, campaign_id, failed=1)
    else:
        delay = RETRY_AFTER[letter.attempts - 1] * random.uniform(0.8, 1.2)
        _finish(
            conn,
            campaign_id,
            letter.contact_id,
            reply=text,
            next_attempt_at=moment + timedelta(seconds=delay),
        )
    _failed_in_row(conn, campaign_id, reply, moment, max_failures)


def release(conn: Connection, campaign_id: str, contact_ids: Sequence[str], moment: datetime) -> None:
    """Give claimed recipients back, due now and with the attempt not counted: the campaign
    was paused or cancelled before their message went."""
    if contact_ids:
        conn.execute(
            update(campaign_recipients)
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.contact_id.in_(list(contact_ids)),
                campaign_recipients.c.state == QUEUED,
            )
            .values(next_attempt_at=moment, attempts=campaign_recipients.c.attempts - 1)
        )


def status(conn: Connection, campaign_id: str) -> str | None:
    return conn.execute(select(campaigns.c.status).where(campaigns.c.id == campaign_id)).scalar()


def finish_done(conn: Connection, moment: datetime) -> list[str]:
    """Mark sent every sending campaign whose recipients are all resolved and none queued;
    their IDs."""
    resolved = select(campaigns.c.id).where(
        campaigns.c.status == SENDING, campaigns.c.resolved_at.is_not(None)
    )
    return [
        campaign_id
        for campaign_id in conn.execute(resolved).scalars()
        if _finish_campaign(conn, campaign_id, moment)
    ]


def _finish_campaign(conn: Connection, campaign_id: str, moment: datetime) -> bool:
    ours = campaign_recipients.c.campaign_id == campaign_id
    queued = select(campaign_recipients.c.contact_id).where(ours, campaign_recipients.c.state == QUEUED)
    if conn.execute(queued.limit(1)).first() is not None:
        return False
    anyone = conn.execute(select(campaign_recipients.c.contact_id).where(ours).limit(1)).first()
    reason = None if anyone else "nobody was left to send it to when sending started"
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id, campaigns.c.status == SENDING)
        .values(status=SENT, sent_at=moment, status_reason=reason, updated_at=moment)
    )
    return True


MAX_TEST_EMAILS = 10


def test_batch(conn: Connection, team_id: str, campaign_id: str, emails: Sequence[str]) -> Batch:
    """The campaign as it would go to ``emails`` now (a test send, which changes nothing):
    each address as the team's contact of that email, or as a contact with only the email."""
    if not 1 <= len(emails) <= MAX_TEST_EMAILS:
        raise Invalid("emails", f"must hold 1 to {MAX_TEST_EMAILS} addresses")
    campaign = get_campaign(conn, team_id, campaign_id)
    require_verified_sender(conn, campaign)
    normalized = [clean_email(email, "emails")[1] for email in emails]
    held = suppression.suppressed(conn, team_id, normalized)
    people = {
        row.email_normalized: row
        for row in conn.execute(
            select(contacts).where(contacts.c.team_id == team_id, contacts.c.email_normalized.in_(normalized))
        )
    }
    letters, suppressed = [], []
    for email, key in zip(emails, normalized, strict=True):
        if key in held:
            suppressed.append(email.strip())
            continue
        person = people.get(key)
        letters.append(
            Letter(
                contact_id=person.id if person else "contact_test",
                email=person.email if person else email.strip(),
                first_name=person.first_name if person else None,
                last_name=person.last_name if person else None,
                company=person.company if person else None,
                fields={},
                audience_id=None,
                audience_name=None,
                attempts=1,
            )
        )
    sender = conn.execute(select(senders).where(senders.c.id == campaign.row.sender_id)).one()
    return Batch(campaign.row, sender, signing_domain(conn, team_id, sender.domain), letters, suppressed)
