"""The public subscription form: a person asks to join a list that allows it, with no API key.

Always double opt-in, whatever the list: the membership is pending until the person confirms
through the mailed link (``roster.core.confirmations``), so that nobody can be subscribed by
someone else typing their address. Someone already subscribed is left as they are; someone
who had left is pending again; someone pending is due another mail (at most one an interval).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select, update

from roster.core import consent, counts, memberships
from roster.core.clock import now
from roster.core.errors import NotFound
from roster.storage.db import Record
from roster.storage.tables import audiences
from roster.storage.tables import memberships as membership_rows


def public_list(conn: Connection, audience_id: str) -> Record:
    """The list if it takes sign-ups from its public form; ``NotFound`` otherwise."""
    row = conn.execute(
        select(audiences.c.id, audiences.c.team_id, audiences.c.name).where(
            audiences.c.id == audience_id, audiences.c.public_form
        )
    ).first()
    if row is None:
        raise NotFound("list", audience_id)
    return row


def sign_up(conn: Connection, audience_id: str, email: str, names: Mapping[str, str | None]) -> str:
    """Ask ``email`` to confirm joining the list; the list's name."""
    audience = public_list(conn, audience_id)
    cleaned = memberships.clean_names(names)
    with consent.acting(consent.Source(consent.SIGNUP_FORM)):
        contact, _ = memberships.upsert_contact(conn, audience.team_id, email, cleaned)
        joined = memberships.join_audience(conn, audience.team_id, audience_id, contact, None, double=True)
        if not joined.created and not joined.subscribed and not joined.pending:
            stamp = now()
            conn.execute(
                update(membership_rows)
                .where(
                    membership_rows.c.audience_id == audience_id, membership_rows.c.contact_id == contact.id
                )
                .values(pending_since=stamp, confirm_due_at=stamp)
            )
            counts.adjust(conn, audience.team_id, audience_id, pending=1)
            consent.record(conn, audience.team_id, contact.id, consent.PENDING, audience_id=audience_id)
    return str(audience.name)
