"""Double opt-in: a new member of a double opt-in list is pending until they confirm through a
link mailed to them.

The link's token names the list, the contact and when it was issued, with an HMAC-SHA256 of
the three under the instance's secret (128 bits kept): genuine, and too old after
``expiry``. Confirming takes a POST on the page the link opens, so that mail scanners that
fetch every link confirm nothing. A pending member gets no campaign and counts apart
(``pending``); one never confirmed is removed by the worker once the link has expired.

The confirmation mail is due as soon as the membership is made; the worker sends it
(``claim`` then ``sent`` or ``failed``), at most one per ``interval`` per person and list
however often they are added again, and never to a suppressed address.
"""

from __future__ import annotations

import hmac
import re
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from roster.core import consent, counts, memberships, suppression
from roster.core.domains import VERIFIED, signing_domain
from roster.core.errors import Invalid, NotFound
from roster.core.named import MAX_NAME
from roster.mail.compose import TemplateProblem, compile_templates, render
from roster.storage.db import Record
from roster.storage.tables import audiences, contacts, domains, senders
from roster.storage.tables import memberships as membership_rows

DEFAULT_SUBJECT = "Please confirm your subscription to {{ list.name }}"
DEFAULT_HTML = (
    "<p>Hello{% if contact.firstName %} {{ contact.firstName }}{% endif %},</p>"
    "<p>please confirm that you want to receive <strong>{{ list.name }}</strong>:</p>"
    '<p><a href="{{ confirm_url }}">Yes, subscribe me</a></p>'
    "<p>If you did not ask for this, ignore this message: you will not be subscribed.</p>"
)
EXPIRY = timedelta(days=7)
INTERVAL = timedelta(hours=1)
LEASE = timedelta(seconds=60)
RETRY = timedelta(minutes=5)
_PART = 22
_TOKEN = re.compile(r"[0-9A-Za-z]{44}[0-9]{10}[0-9A-Za-z_-]{22}")


class ConfirmLinks:
    """Mints and checks confirmation links under one secret."""

    __slots__ = ("_key", "base_url")

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url
        self._key = secret.encode()

    def _mac(self, audience_id: str, contact_id: str, issued: int) -> str:
        digest = hmac.digest(self._key, f"confirm:{audience_id}:{contact_id}:{issued}".encode(), "sha256")
        return urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def url(self, audience_id: str, contact_id: str, issued: datetime) -> str:
        stamp = int(issued.timestamp())
        token = (
            audience_id.partition("_")[2]
            + contact_id.removeprefix("contact_")
            + f"{stamp:010d}"
            + self._mac(audience_id, contact_id, stamp)
        )
        return f"{self.base_url}/confirm/{token}"

    def parse(self, token: str) -> tuple[str, str, datetime]:
        """``(audience_id, contact_id, issued)`` of a genuine token; ``NotFound`` otherwise."""
        if not _TOKEN.fullmatch(token):
            raise NotFound("link")
        audience_id, contact_id = "list_" + token[:_PART], "contact_" + token[_PART : 2 * _PART]
        stamp = int(token[2 * _PART : 2 * _PART + 10])
        if not hmac.compare_digest(token[2 * _PART + 10 :], self._mac(audience_id, contact_id, stamp)):
            raise NotFound("link")
        return audience_id, contact_id, datetime.fromtimestamp(stamp, UTC)


@dataclass(frozen=True, slots=True)
class Due:
    """A confirmation mail to send now."""

    team_id: str
    audience: Record
    contact: Record
    sender: Record
    dkim: Record | None


def _sender(conn: Connection, audience: Record) -> Record | None:
    """The list's confirmation sender, else the team's first on a verified domain."""
    query = (
        select(senders)
        .join(domains, (domains.c.team_id == senders.c.team_id) & (domains.c.name == senders.c.domain))
        .where(senders.c.team_id == audience.team_id, domains.c.status == VERIFIED)
        .order_by(senders.c.id)
    )
    if audience.confirm_sender_id:
        chosen = conn.execute(query.where(senders.c.id == audience.confirm_sender_id)).first()
        if chosen is not None:
            return chosen
    return conn.execute(query.limit(1)).first()


def claim(
    conn: Connection, moment: datetime, size: int, *, interval: timedelta = INTERVAL, lease: timedelta = LEASE
) -> list[Due]:
    """Lease up to ``size`` confirmation mails due now; those to suppressed addresses, or of
    lists whose team has no sender on a verified domain, are dropped or put off."""
    rows = conn.execute(
        select(membership_rows.c.audience_id, membership_rows.c.contact_id, membership_rows.c.team_id)
        .where(
            membership_rows.c.confirm_due_at <= moment,
            membership_rows.c.pending_since.is_not(None),
            (membership_rows.c.confirm_sent_at.is_(None))
            | (membership_rows.c.confirm_sent_at <= moment - interval),
        )
        .order_by(membership_rows.c.confirm_due_at)
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    due: list[Due] = []
    for row in rows:
        key = (membership_rows.c.audience_id == row.audience_id) & (
            membership_rows.c.contact_id == row.contact_id
        )
        person = conn.execute(select(contacts).where(contacts.c.id == row.contact_id)).one()
        audience = conn.execute(select(audiences).where(audiences.c.id == row.audience_id)).one()
        sender = _sender(conn, audience)
        if suppression.suppressed(conn, row.team_id, [person.email_normalized]):
            conn.execute(update(membership_rows).where(key).values(confirm_due_at=None))
            continue
        if sender is None:  # tried again later: a sender may be added, a domain verified
            conn.execute(update(membership_rows).where(key).values(confirm_due_at=moment + RETRY))
            continue
        conn.execute(update(membership_rows).where(key).values(confirm_due_at=moment + lease))
        due.append(
            Due(row.team_id, audience, person, sender, signing_domain(conn, row.team_id, sender.domain))
        )
    return due


def sent(conn: Connection, audience_id: str, contact_id: str, moment: datetime) -> None:
    conn.execute(
        update(membership_rows)
        .where(membership_rows.c.audience_id == audience_id, membership_rows.c.contact_id == contact_id)
        .values(confirm_sent_at=moment, confirm_due_at=None)
    )


def failed(conn: Connection, audience_id: str, contact_id: str, moment: datetime, permanent: bool) -> None:
    """The relay refused it for good (no retry), or put it off (tried again soon)."""
    conn.execute(
        update(membership_rows)
        .where(membership_rows.c.audience_id == audience_id, membership_rows.c.contact_id == contact_id)
        .values(confirm_due_at=None if permanent else moment + RETRY)
    )


ASK, CONFIRMED, ALREADY, EXPIRED = "ask", "confirmed", "already", "expired"


def state(
    conn: Connection, audience_id: str, contact_id: str, issued: datetime, moment: datetime, expiry: timedelta
) -> tuple[str, Record]:
    """What a genuine link's membership allows now: ``(ASK, row)`` when it can be confirmed,
    ``ALREADY`` when it is not pending (a link used again), ``EXPIRED``; the row has the
    list's ``name``. ``NotFound`` if the membership is gone."""
    row = conn.execute(
        select(membership_rows, audiences.c.name)
        .join(audiences, audiences.c.id == membership_rows.c.audience_id)
        .where(membership_rows.c.audience_id == audience_id, membership_rows.c.contact_id == contact_id)
    ).first()
    if row is None:
        raise NotFound("page")
    if row.pending_since is None:
        return ALREADY, row
    return (EXPIRED if moment - issued > expiry else ASK), row


def confirm(
    conn: Connection,
    audience_id: str,
    contact_id: str,
    issued: datetime,
    moment: datetime,
    expiry: timedelta = EXPIRY,
) -> tuple[str, str]:
    """Confirm the membership a genuine link names: ``(outcome, list name)``, the outcome
    ``CONFIRMED`` or what ``state`` said; nothing changes unless it is confirmed."""
    outcome, row = state(conn, audience_id, contact_id, issued, moment, expiry)
    if outcome != ASK:
        return outcome, row.name
    with consent.acting(consent.Source(consent.CONFIRMATION)):
        memberships.clear_pending(conn, row.team_id, contact_id, audience_id)
        conn.execute(
            update(membership_rows)
            .where(membership_rows.c.audience_id == audience_id, membership_rows.c.contact_id == contact_id)
            .values(subscribed=True, updated_at=moment)
        )
        counts.adjust(conn, row.team_id, audience_id, subscribed=1)
        consent.record(conn, row.team_id, contact_id, consent.CONFIRMED, audience_id=audience_id)
        memberships.resubscribe(conn, row.team_id, contact_id)
    return CONFIRMED, row.name


def expire(conn: Connection, moment: datetime, expiry: timedelta = EXPIRY, size: int = 1000) -> int:
    """Remove up to ``size`` memberships still pending ``expiry`` after they began (and a
    contact nothing else uses); how many."""
    rows = conn.execute(
        select(membership_rows.c.audience_id, membership_rows.c.contact_id, membership_rows.c.team_id)
        .where(membership_rows.c.pending_since < moment - expiry)
        .limit(size)
    ).all()
    with consent.acting(consent.Source(consent.SYSTEM)):
        for row in rows:
            consent.record(conn, row.team_id, row.contact_id, consent.EXPIRED, audience_id=row.audience_id)
            memberships.remove_member(conn, row.team_id, row.audience_id, row.contact_id)
    return len(rows)


def get_template(conn: Connection, team_id: str, audience_id: str) -> dict[str, Any]:
    audience = conn.execute(
        select(audiences).where(audiences.c.team_id == team_id, audiences.c.id == audience_id)
    ).first()
    if audience is None:
        raise NotFound("list", audience_id)
    return {
        "subject": audience.confirm_subject or DEFAULT_SUBJECT,
        "html": audience.confirm_html or DEFAULT_HTML,
        "sender": audience.confirm_sender_id,
        "custom": audience.confirm_subject is not None or audience.confirm_html is not None,
    }


def set_template(
    conn: Connection, team_id: str, audience_id: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Change the list's confirmation mail (``subject``, ``html``, ``sender``; ``None``
    restores the default); both templates are checked as a campaign's are."""
    current = get_template(conn, team_id, audience_id)
    values: dict[str, Any] = {}
    if "subject" in fields:
        subject = fields["subject"]
        if subject is not None and not (isinstance(subject, str) and 0 < len(subject.strip()) <= MAX_NAME):
            raise Invalid("subject", f"must be 1 to {MAX_NAME} characters, or null for the default")
        values["confirm_subject"] = subject
    if "html" in fields:
        html = fields["html"]
        if html is not None and not (isinstance(html, str) and "confirm_url" in html and len(html) < 100_000):
            raise Invalid("htmlCode", "must be HTML that links to {{ confirm_url }}, or null for the default")
        values["confirm_html"] = html
    if "sender" in fields:
        if fields["sender"] is not None:
            found = conn.execute(
                select(senders.c.id).where(senders.c.team_id == team_id, senders.c.id == fields["sender"])
            ).first()
            if found is None:
                raise Invalid("sender", f"sender `{fields['sender']}` not found")
        values["confirm_sender_id"] = fields["sender"]
    subject = values.get("confirm_subject", current["subject"]) or DEFAULT_SUBJECT
    html = values.get("confirm_html", current["html"]) or DEFAULT_HTML
    try:
        render(compile_templates(subject, html, None, None), sample_context())
    except TemplateProblem as exc:
        raise Invalid(exc.part, f"is not a valid template ({exc.reason})") from None
    if values:
        conn.execute(update(audiences).where(audiences.c.id == audience_id).values(**values))
    return get_template(conn, team_id, audience_id)


def sample_context(name: str = "Newsletter") -> dict[str, Any]:
    return context(
        {"firstName": "Sample", "email": "sample@example.com"}, name, "https://example.com/confirm"
    )


def context(contact: Mapping[str, Any], list_name: str, confirm_url: str) -> dict[str, Any]:
    """What a confirmation template sees."""
    return {
        "contact": {key: "" if value is None else value for key, value in contact.items()},
        "list": {"name": list_name},
        "confirm_url": confirm_url,
    }
