"""``GET /metrics``: Prometheus metrics for a scraper holding ``ROSTER_METRICS_TOKEN``."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, NotFoundException
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Connection, func, select

from roster.api.common import Services, bearer_token
from roster.core.campaigns import SENDING
from roster.core.outbox import PENDING
from roster.core.sending import QUEUED
from roster.metrics import MULTIPROCESS_FOLDER
from roster.storage.db import Database
from roster.storage.tables import campaign_recipients, campaigns, webhook_deliveries


@get("/metrics", include_in_schema=False, media_type=CONTENT_TYPE_LATEST)
async def metrics(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    """Without the token setting there is no such route, so that a public instance shows nothing."""
    services: Services = state.services
    expected = services.settings.metrics_token
    if not expected:
        raise NotFoundException()
    if not hmac.compare_digest(bearer_token(request) or "", expected):
        raise NotAuthorizedException("metrics need `Authorization: Bearer` with ROSTER_METRICS_TOKEN")
    return Response(await anyio.to_thread.run_sync(exposition, services.db), media_type=CONTENT_TYPE_LATEST)


def exposition(db: Database) -> bytes:
    """Every process's counts, and the queues' depths."""
    registry: Any = REGISTRY
    if os.environ.get(MULTIPROCESS_FOLDER):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    queues = CollectorRegistry()
    queues.register(Queues(db))
    return generate_latest(registry) + generate_latest(queues)


class Queues(Collector):
    """Depths read from the database when scraped: pending webhook messages, and recipients
    of sending campaigns not yet sent."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        outbox, queued = self.db.run_read(_depths)
        yield GaugeMetricFamily(
            "roster_webhook_outbox_depth", "Webhook messages waiting to be delivered.", value=outbox
        )
        yield GaugeMetricFamily(
            "roster_campaign_queue_depth", "Recipients of sending campaigns not sent yet.", value=queued
        )


def _depths(conn: Connection) -> tuple[int, int]:
    outbox = conn.execute(
        select(func.count()).select_from(webhook_deliveries).where(webhook_deliveries.c.state == PENDING)
    ).scalar_one()
    queued = conn.execute(
        select(func.count())
        .select_from(campaign_recipients.join(campaigns, campaigns.c.id == campaign_recipients.c.campaign_id))
        .where(campaigns.c.status == SENDING, campaign_recipients.c.state == QUEUED)
    ).scalar_one()
    return outbox, queued
