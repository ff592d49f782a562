"""Bounce and complaint reports received (``roster mail ingest``, the inbound endpoint, the
bounce mailbox, Amazon SES): each is kept whole, once, and applied to its recipient
(``roster.core.feedback``) or kept aside with the reason it could not be.

Receiving the same report twice (a mailbox fetched again after a crash, SNS retrying) is
recognised by its digest and changes nothing. A report is applied and stored in one
transaction; if applying it fails, it is stored aside with the error instead: a report is
never lost, and never stops the ones after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from roster.config import BounceRules
from roster.core import feedback
from roster.core.clock import now
from roster.ids import new_id
from roster.mail.inbound import Feedback, Unreadable, read
from roster.storage.db import Database, Record
from roster.storage.tables import campaigns, inbound_messages

APPLIED, ASIDE = "applied", "aside"
MAX_MESSAGE = 10 * 1024 * 1024
SOURCES = ("cli", "http", "mailbox", "ses")


@dataclass(frozen=True, slots=True)
class Received:
    id: str
    state: str
    kind: str | None
    reason: str | None
    campaign_id: str | None
    contact_id: str | None
    duplicate: bool = False


def _received(row: Record, duplicate: bool = False) -> Received:
    return Received(row.id, row.state, row.kind, row.reason, row.campaign_id, row.contact_id, duplicate)


def digest_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _store(conn: Connection, raw: bytes, digest: str, source: str, **values: Any) -> Record:
    row = {
        "id": new_id("inbound"),
        "digest": digest,
        "source": source,
        "raw": raw,
        "received_at": now(),
        "kind": None,
        "reason": None,
        "team_id": None,
        "campaign_id": None,
        "contact_id": None,
        **values,
    }
    conn.execute(insert(inbound_messages).values(row))
    return conn.execute(select(inbound_messages).where(inbound_messages.c.id == row["id"])).one()


def _apply(
    conn: Connection,
    raw: bytes,
    digest: str,
    source: str,
    found: Feedback | str,
    rules: BounceRules,
    team_id: str | None,
) -> Received:
    seen = conn.execute(select(inbound_messages).where(inbound_messages.c.digest == digest)).first()
    if seen is not None:
        return _received(seen, duplicate=True)
    if isinstance(found, str):
        return _received(_store(conn, raw, digest, source, state=ASIDE, reason=found, team_id=team_id))
    about = {"kind": found.kind, "campaign_id": found.campaign_id, "contact_id": found.contact_id}
    if found.campaign_id is None or found.contact_id is None:
        reason = "no Roster recipient in it (an X-Roster-Recipient header or a Roster Message-ID)"
        return _received(
            _store(conn, raw, digest, source, state=ASIDE, reason=reason, team_id=team_id, **about)
        )
    owner = conn.execute(select(campaigns.c.team_id).where(campaigns.c.id == found.campaign_id)).scalar()
    if owner is None or (team_id is not None and owner != team_id):
        reason = f"no campaign {found.campaign_id} here"
        return _received(
            _store(conn, raw, digest, source, state=ASIDE, reason=reason, team_id=team_id, **about)
        )
    why = feedback.apply_report(
        conn, found.kind, found.campaign_id, found.contact_id, now(), found.detail, rules
    )
    state = APPLIED if why is None else ASIDE
    return _received(_store(conn, raw, digest, source, state=state, reason=why, team_id=owner, **about))


def receive(
    db: Database,
    raw: bytes,
    source: str,
    rules: BounceRules,
    *,
    team_id: str | None = None,
    reader: Callable[[bytes], Feedback] = read,
    digest: str | None = None,
) -> Received:
    """Keep and apply one report (``reader`` turns it into feedback: a mail message by
    default). ``team_id``: it came through that team's API key, and may only be about its
    campaigns."""
    digest = digest or digest_of(raw)
    raw = raw[:MAX_MESSAGE]
    found: Feedback | str
    try:
        found = reader(raw)
    except Unreadable as exc:
        found = str(exc)
    try:
        return db.run_write(_apply, raw, digest, source, found, rules, team_id)
    except Exception as exc:
        reason = f"it could not be applied: {type(exc).__name__}: {exc}"[:500]
        return db.run_write(_apply, raw, digest, source, reason, rules, team_id)


def aside(conn: Connection, limit: int) -> list[Record]:
    """The reports kept aside, the latest first."""
    return list(
        conn.execute(
            select(inbound_messages)
            .where(inbound_messages.c.state == ASIDE)
            .order_by(inbound_messages.c.received_at.desc(), inbound_messages.c.id.desc())
            .limit(limit)
        )
    )


def get(conn: Connection, message_id: str) -> Record | None:
    return conn.execute(select(inbound_messages).where(inbound_messages.c.id == message_id)).first()
