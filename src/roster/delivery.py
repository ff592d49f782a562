"""The webhook worker: claims due deliveries from the outbox and POSTs them, signed.

Each message is signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<HMAC-SHA256>``) with the webhook's ``whsec_`` secret. A 2xx answer
delivers it; 410 Gone disables the webhook; anything else (or no answer within 15 s) is
retried after 5 s, 5 min, 30 min, 2 h, 5 h, 8 h and 8 h (about 24 h in all) with the same
``webhook-id``, then given up. The host is resolved and checked before every attempt, and
the request goes to the address that was checked, so DNS cannot point it elsewhere in between.

Claiming takes rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has one writer at a
time) and leases them for ``LEASE``: any number of workers share the outbox, and a worker
that dies mid-delivery leaves its rows to be retried when the lease runs out.

Delivered and failed messages are kept ``KEEP`` for inspection, then deleted: every worker
prunes once per ``PRUNE_EVERY``, at most ``PRUNE_BATCH`` rows per round so that a long
backlog never holds the outbox in one long transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.to_thread
import httpx
from sqlalchemy import Connection, delete, select, tuple_, update
from standardwebhooks import Webhook

from roster import sealing
from roster.config import Settings
from roster.core import clock, idempotency, outbound
from roster.core.errors import Invalid
from roster.core.outbox import PENDING
from roster.metrics import WEBHOOK_DELIVERIES
from roster.storage.db import Database
from roster.storage.tables import webhook_deliveries
from roster.storage.tables import webhooks as webhook_rows

log = logging.getLogger("roster.delivery")

RETRY_AFTER = (5, 300, 1800, 7200, 18000, 28800, 28800)  # seconds after failed attempts 1, 2, …
TIMEOUT = 15.0
LEASE = timedelta(seconds=60)
BATCH = 50
KEEP = timedelta(days=30)
PRUNE_EVERY = timedelta(hours=1)
PRUNE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    webhook_id: str
    url: str
    secret: str
    payload: str
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim(conn: Connection, moment: datetime, batch: int = BATCH) -> list[Job]:
    """Lease up to ``batch`` due deliveries of enabled webhooks and count the attempt; due
    deliveries of disabled webhooks are given up."""
    due = conn.execute(
        select(
            webhook_deliveries.c.id,
            webhook_deliveries.c.webhook_id,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempts,
            webhook_rows.c.url,
            webhook_rows.c.secret,
            webhook_rows.c.enabled,
        )
        .join(webhook_rows, webhook_rows.c.id == webhook_deliveries.c.webhook_id)
        .where(webhook_deliveries.c.state == PENDING, webhook_deliveries.c.next_attempt_at <= moment)
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=webhook_deliveries)
    ).all()
    if not due:
        return []
    keys = tuple_(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id)
    leased = [(row.id, row.webhook_id) for row in due if row.enabled]
    if leased:
        conn.execute(
            update(webhook_deliveries)
            .where(keys.in_(leased))
            .values(next_attempt_at=moment + LEASE, attempts=webhook_deliveries.c.attempts + 1)
        )
    if len(leased) < len(due):
        conn.execute(
            update(webhook_deliveries)
            .where(keys.in_([(row.id, row.webhook_id) for row in due if not row.enabled]))
            .values(state="failed", last_error="the webhook is disabled")
        )
    return [
        Job(row.id, row.webhook_id, row.url, sealing.unseal(row.secret), row.payload, row.attempts + 1)
        for row in due
        if row.enabled
    ]


def _finish(conn: Connection, message_id: str, webhook_id: str, **values: Any) -> None:
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == message_id, webhook_deliveries.c.webhook_id == webhook_id)
        .values(**values)
    )


def record(conn: Connection, job: Job, outcome: Outcome, moment: datetime) -> str:
    """Store what the attempt gave and say which it was: ``delivered``, ``retry`` (later),
    ``failed`` (given up), or ``gone`` (the webhook disabled by a 410)."""
    error = outcome.error[:255] if outcome.error else None
    if outcome.delivered:
        _finish(
            conn, job.id, job.webhook_id, state="delivered", last_status=outcome.status, delivered_at=moment
        )
        return "delivered"
    if outcome.status == 410:
        conn.execute(
            update(webhook_rows)
            .where(webhook_rows.c.id == job.webhook_id)
            .values(enabled=False, disabled_reason="the endpoint answered 410 Gone", updated_at=moment)
        )
        conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == job.webhook_id, webhook_deliveries.c.state == PENDING)
            .values(state="failed", last_status=410, last_error="the endpoint answered 410 Gone")
        )
        return "gone"
    if job.attempts > len(RETRY_AFTER):
        _finish(conn, job.id, job.webhook_id, state="failed", last_status=outcome.status, last_error=error)
        return "failed"
    _finish(
        conn,
        job.id,
        job.webhook_id,
        last_status=outcome.status,
        last_error=error,
        next_attempt_at=moment + timedelta(seconds=RETRY_AFTER[job.attempts - 1]),
    )
    return "retry"


def prune(conn: Connection, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` delivered or failed messages last attempted before ``before``
    (a message's ``next_attempt_at`` is when it was last leased, or given up); how many."""
    keys = tuple_(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id)
    finished = (
        select(webhook_deliveries.c.id, webhook_deliveries.c.webhook_id)
        .where(
            webhook_deliveries.c.state.in_(("delivered", "failed")),
            webhook_deliveries.c.next_attempt_at < before,
        )
        .limit(batch)
    )
    return conn.execute(delete(webhook_deliveries).where(keys.in_(finished))).rowcount


def pinned(url: str, address: outbound.IPAddress) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` sent to ``address``: the URL, headers and httpx extensions that keep the
    ``Host`` header and TLS server name of the original host."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    headers = {"host": parts.netloc.rpartition("@")[2]}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), headers, extensions


class Worker:
    def __init__(self, db: Database, settings: Settings, *, now: Callable[[], datetime] = clock.now) -> None:
        self.db = db
        self.settings = settings
        self.now = now
        self.pruned: datetime | None = None  # when this worker last found nothing more to prune

    async def _send(self, client: httpx.AsyncClient, job: Job) -> Outcome:
        try:
            addresses = await anyio.to_thread.run_sync(
                lambda: outbound.public_addresses(
                    job.url,
                    allow_private=self.settings.webhook_allow_private,
                    nameserver=self.settings.dns_nameserver,
                )
            )
        except Invalid as exc:
            return Outcome(None, f"refused: {exc.message}")
        moment = self.now()
        url, headers, extensions = pinned(job.url, addresses[0])
        headers.update(
            {
                "content-type": "application/json",
                "user-agent": "Roster-Webhooks/1",
                "webhook-id": job.id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": Webhook(job.secret).sign(job.id, moment, job.payload),
            }
        )
        try:
            response = await client.post(url, content=job.payload, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}")
        return Outcome(response.status_code, None if response.is_success else f"HTTP {response.status_code}")

    async def _prune(self) -> None:
        moment = self.now()
        if self.pruned is not None and moment - self.pruned < PRUNE_EVERY:
            return
        if await self.db.write(prune, moment - KEEP) < PRUNE_BATCH:
            # Idempotency keys older than a day answer no retry any more (core/idempotency.py).
            await self.db.write(idempotency.prune, moment - idempotency.KEEP)
            self.pruned = moment

    async def run_once(self) -> int:
        """Prune the outbox when it is time, then deliver what is due now; how many attempts
        were made."""
        await self._prune()
        jobs = await self.db.write(claim, self.now())
        if not jobs:
            return 0
        outcomes: dict[int, Outcome] = {}
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:

            async def attempt(index: int, job: Job) -> None:
                outcomes[index] = await self._send(client, job)

            async with anyio.create_task_group() as group:
                for index, job in enumerate(jobs):
                    group.start_soon(attempt, index, job)
        for index, job in enumerate(jobs):
            WEBHOOK_DELIVERIES.labels(await self.db.write(record, job, outcomes[index], self.now())).inc()
            if not outcomes[index].delivered:
                log.info("webhook %s message %s: %s", job.webhook_id, job.id, outcomes[index].error)
        return len(jobs)

    async def run(self, *, idle: float = 1.0) -> None:
        """Deliver forever, polling every ``idle`` seconds when there is nothing to do."""
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:
                log.exception("webhook delivery round failed; retrying")
            await anyio.sleep(idle)
