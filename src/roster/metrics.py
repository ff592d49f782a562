"""Prometheus metrics: what the server and the workers count, and how a scrape reads them.

``roster serve`` runs its workers as fresh processes that each write their counts into one
folder (prometheus-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``); a scrape of
any of them adds the folder up. Depths of queues are read from the database at the scrape,
so they are right whichever process did the work (roster.api.scrape). ``roster worker``
serves its own counts on ``--metrics-port``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Engine, event

MULTIPROCESS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "roster_http_requests",
    "HTTP requests answered, by dialect, method, route template and status.",
    ["dialect", "method", "route", "status"],
)
LATENCY = Histogram(
    "roster_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by dialect and route template.",
    ["dialect", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
POOL_IN_USE = Gauge(
    "roster_db_connections_in_use",
    "Database connections checked out of the pool (PostgreSQL) across the server's processes.",
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "roster_webhook_deliveries",
    "Webhook delivery attempts by outcome: delivered, retry, failed, gone (410).",
    ["outcome"],
)
MESSAGES = Counter(
    "roster_mail_messages",
    "Messages (campaigns, confirmations, tests) handed to a transport, by transport and reply: "
    "accepted, deferred, rejected, unusable.",
    ["transport", "outcome"],
)
IMPORT_ROWS = Counter(
    "roster_import_rows",
    "Rows of finished import jobs, by outcome: created, updated, skipped, failed.",
    ["outcome"],
)


def count_pool(engine: Engine) -> None:
    """Keep ``POOL_IN_USE`` as the pool lends and takes back connections."""
    event.listen(engine, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *_: POOL_IN_USE.dec())
