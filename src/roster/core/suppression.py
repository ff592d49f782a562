"""The team's suppression list: addresses no campaign, confirmation or test send ever mails,
and that imports skip, whatever the contact's state.

An entry is keyed by an HMAC-SHA256 of the normalised address under a key kept in the
database (``instance_settings.suppression_key``, made once): that is all that is kept of a
person who was erased. Other entries (added by hand, or by a hard bounce or a complaint)
also keep the address, so that they can be listed.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, select

from roster.core import consent
from roster.core.clock import now
from roster.core.emails import clean_email
from roster.core.errors import Invalid, NotFound
from roster.core.teams import instance_secret
from roster.storage.db import Record
from roster.storage.tables import suppressions
from roster.storage.upsert import upsert_statement

MANUAL, BOUNCED, COMPLAINED, ERASED = "manual", "bounced", "complained", "erased"
MAX_ADD = 1000


def _digests(conn: Connection, normalized: Iterable[str]) -> dict[str, str]:
    """Each normalised address's keyed hash."""
    key = instance_secret(conn, "suppression_key").encode()
    return {email: hmac.digest(key, email.encode(), "sha256").hex() for email in normalized}


def add(
    conn: Connection, team_id: str, emails: Sequence[str], reason: str = MANUAL, *, keep_address: bool = True
) -> int:
    """Suppress ``emails`` (each checked first; an address there already stays as it is);
    how many are new. ``keep_address=False`` keeps only the hash (erasure)."""
    if not 1 <= len(emails) <= MAX_ADD:
        raise Invalid("emails", f"must hold 1 to {MAX_ADD} addresses")
    cleaned = {clean_email(email, "emails")[1] for email in emails}
    source = consent.SOURCE.get() or consent.Source(consent.SYSTEM)
    stamp = now()
    added = 0
    for email, digest in _digests(conn, sorted(cleaned)).items():
        row = {
            "team_id": team_id,
            "digest": digest,
            "email": email if keep_address else None,
            "reason": reason,
            "source": source.kind,
            "source_id": source.ref,
            "created_at": stamp,
        }
        statement = upsert_statement(conn, suppressions).values(row).execution_options(preserve_rowcount=True)
        index = [suppressions.c.team_id, suppressions.c.digest]
        if keep_address:
            added += conn.execute(statement.on_conflict_do_nothing(index_elements=index)).rowcount
        else:  # an erasure replaces what was kept with the hash alone
            update = {"email": None, "reason": reason, "source": source.kind, "source_id": source.ref}
            added += conn.execute(statement.on_conflict_do_update(index_elements=index, set_=update)).rowcount
    return added


def remove(conn: Connection, team_id: str, email: str) -> None:
    normalized = clean_email(email, "email")[1]
    digest = _digests(conn, [normalized])[normalized]
    removed = conn.execute(
        delete(suppressions).where(suppressions.c.team_id == team_id, suppressions.c.digest == digest)
    ).rowcount
    if not removed:
        raise NotFound("suppression", email)


def page(conn: Connection, team_id: str, offset: int, limit: int) -> list[Record]:
    """Entries, the latest first."""
    return list(
        conn.execute(
            select(suppressions)
            .where(suppressions.c.team_id == team_id)
            .order_by(suppressions.c.created_at.desc(), suppressions.c.digest)
            .offset(offset)
            .limit(limit)
        )
    )


def suppressed(conn: Connection, team_id: str, normalized: Iterable[str]) -> set[str]:
    """Those of the normalised addresses that are on the team's list."""
    digests = _digests(conn, set(normalized))
    if not digests:
        return set()
    found = set(
        conn.execute(
            select(suppressions.c.digest).where(
                suppressions.c.team_id == team_id, suppressions.c.digest.in_(sorted(digests.values()))
            )
        ).scalars()
    )
    return {email for email, digest in digests.items() if digest in found}
