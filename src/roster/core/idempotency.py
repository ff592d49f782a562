"""Idempotency keys, with Stripe's semantics: a POST sent again with the same
``Idempotency-Key`` and the same request within 24 hours gets the first answer again, without
the work being done twice; the same key with another request is refused; while the first is
still running, a second is told to retry. Keys are scoped per API key.

The claim is a row inserted before the work, committed on its own, so that every process on
the database sees it: a second request with the key finds it and does not run. A process that
died while running leaves a row whose lock runs out after ``LOCK``; the next retry takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from roster.storage.tables import idempotency_keys as keys
from roster.storage.upsert import upsert_statement

KEEP = timedelta(hours=24)
LOCK = timedelta(seconds=60)
RUNNING, DONE = "running", "done"


@dataclass(frozen=True, slots=True)
class Claim:
    """What to do with a request: ``run`` it (the claim is ours), ``replay`` a stored answer,
    or refuse it: ``running`` elsewhere, or ``mismatch`` (the key came with another request)."""

    outcome: str
    status: int | None = None
    media_type: str | None = None
    body: bytes | None = None


def claim(conn: Connection, owner: str, key: str, fingerprint: str, moment: datetime) -> Claim:
    fresh = {
        "fingerprint": fingerprint,
        "state": RUNNING,
        "created_at": moment,
        "locked_until": moment + LOCK,
    }
    made = upsert_statement(conn, keys).values(owner=owner, key=key, **fresh)
    inserted = made.on_conflict_do_nothing(index_elements=[keys.c.owner, keys.c.key]).returning(keys.c.key)
    if conn.execute(inserted).first() is not None:
        return Claim("run")
    mine = (keys.c.owner == owner) & (keys.c.key == key)
    row = conn.execute(select(keys).where(mine)).one()
    expired = row.created_at < moment - KEEP
    abandoned = row.state == RUNNING and row.locked_until < moment
    if expired or (abandoned and row.fingerprint == fingerprint):
        # Taken over only if no one else took it since this read (the same lock time).
        taken = conn.execute(
            update(keys)
            .where(mine, keys.c.locked_until == row.locked_until)
            .values(status=None, media_type=None, body=None, **fresh)
            .returning(keys.c.key)
        ).first()
        return Claim("run") if taken is not None else Claim("running")
    if row.fingerprint != fingerprint:
        return Claim("mismatch")
    if row.state == RUNNING:
        return Claim("running")
    return Claim("replay", row.status, row.media_type, row.body)


def keep(conn: Connection, owner: str, key: str, status: int, media_type: str | None, body: bytes) -> None:
    """The answer of a request that ran, for its retries."""
    conn.execute(
        update(keys)
        .where(keys.c.owner == owner, keys.c.key == key)
        .values(state=DONE, status=status, media_type=media_type, body=body)
    )


def release(conn: Connection, owner: str, key: str) -> None:
    """Forget a claim whose request ended in a way worth trying again (a server error)."""
    conn.execute(delete(keys).where(keys.c.owner == owner, keys.c.key == key))


def prune(conn: Connection, before: datetime) -> int:
    """Delete the keys made before ``before``; how many."""
    return len(conn.execute(delete(keys).where(keys.c.created_at < before).returning(keys.c.key)).all())
