"""Request IDs, the metrics route and compression, seen from a client of the app."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from roster.api.app import create_app
from roster.config import Settings
from roster.core import teams
from roster.storage.db import Database
from tests.conftest import Tenant


def test_a_request_id_is_echoed_or_made(tenant: Tenant) -> None:
    given = tenant.client.get(
        "/api/v1/domains", headers={"Authorization": f"Bearer {tenant.token}", "X-Request-ID": "lb-7f3a.42"}
    )
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    made = tenant.client.get("/api/v1/domains", headers={"Authorization": f"Bearer {tenant.token}"})
    other = tenant.client.get("/api/v1/domains", headers={"Authorization": f"Bearer {tenant.token}"})
    assert re.fullmatch(r"[0-9a-f]{24}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != other.headers["x-request-id"]
    # One that could forge a log line is replaced, not echoed.
    hostile = tenant.client.get("/nope", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert hostile.status_code == 404
    assert re.fullmatch(r"[0-9a-f]{24}", hostile.headers["x-request-id"])


def test_a_server_error_names_its_request_id(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any) -> Any:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(teams, "authenticate", broken)
    response = tenant.client.get(
        "/api/v1/rest/contact", headers={"X-Team-ApiKey": tenant.token, "X-Request-ID": "req-500"}
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert "req-500" in response.json()["message"]
    assert "fire" not in response.text  # the cause is logged, not shown
    logged = [record for record in caplog.records if record.name == "roster.api"]
    assert logged
    assert "the disk is on fire" in (logged[0].exc_text or str(logged[0].exc_info))


def _served(settings: Settings, db: Database, **changes: Any) -> TestClient[Any]:
    return TestClient(create_app(replace(settings, **changes), db), base_url="http://roster.test")


def test_metrics_need_their_token(settings: Settings, db: Database) -> None:
    with _served(settings, db) as client:
        assert client.get("/metrics").status_code == 404  # no token set: no route at all
    with _served(settings, db, metrics_token="scrape-me") as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        client.get("/api/v1/domains")
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        text = scraped.text
        assert re.search(
            r'roster_http_requests_total\{dialect="sendex",method="GET",route="/api/v1/domains",'
            r'status="401"\} [1-9]',
            text,
        )
        assert (
            'roster_http_request_duration_seconds_bucket{dialect="sendex",le="0.005",route="/api/v1/domains"}'
            in text
        )
        assert re.search(r"^roster_webhook_outbox_depth \d", text, re.M)
        assert re.search(r"^roster_campaign_queue_depth \d", text, re.M)


def test_large_answers_are_compressed_and_small_ones_not(tenant: Tenant) -> None:
    auth = {"X-Team-ApiKey": tenant.token, "Accept-Encoding": "gzip"}
    for index in range(30):
        tenant.client.post(
            "/api/v1/rest/contact",
            json={"email": f"gz{index}@example.com", "firstName": "Compressed"},
            headers=auth,
        )
    big = tenant.client.get("/api/v1/rest/contact?limit=30", headers=auth)
    assert big.headers.get("content-encoding") == "gzip"
    assert len(big.json()) == 30  # the client decoded it
    small = tenant.client.get("/api/v1/rest/contact?limit=1", headers=auth)
    assert "content-encoding" not in small.headers
    plain = tenant.client.get(
        "/api/v1/rest/contact?limit=30", headers={**auth, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content)) < len(plain.content)
