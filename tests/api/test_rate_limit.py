"""429 past the per-key rate limit, in each dialect's shape; shared across processes via Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from litestar import Litestar
from litestar.testing import TestClient

from roster.api.app import create_app
from roster.config import Settings
from roster.storage.db import Database
from tests.conftest import Tenant

REDIS = "redis://127.0.0.1:6379/0"


@contextmanager
def app_with(settings: Settings, db: Database, **changes: str) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(replace(settings, **changes), db), base_url="http://roster.test") as client:
        yield client


def test_past_the_limit_each_dialect_answers_429(tenant: Tenant, settings: Settings, db: Database) -> None:
    sendex = {"Authorization": f"Bearer {tenant.token}"}
    with app_with(settings, db, rate_limit="3/minute") as client:
        assert [client.get("/api/v1/domains", headers=sendex).status_code for _ in range(3)] == [200] * 3
        refused = client.get("/api/v1/domains", headers=sendex)
        assert refused.status_code == 429
        assert refused.json()["statusCode"] == 429
        assert refused.json()["name"] == "too_many_requests"
        assert int(refused.headers["retry-after"]) >= 1
        also = client.get("/api/v1/rest/tag", headers={"X-Team-ApiKey": tenant.token})
        assert also.status_code == 429
        assert also.json() == {"status": "error", "message": also.json()["message"]}
        assert "rate limit" in also.json()["message"]
        fresh = client.get(
            "/api/v1/domains", headers={"Authorization": f"Bearer {tenant.key('full_access')}"}
        )
        assert fresh.status_code == 200  # the limit is per key


def test_the_limit_can_be_switched_off(tenant: Tenant, settings: Settings, db: Database) -> None:
    with app_with(settings, db, rate_limit="off") as client:
        headers = {"Authorization": f"Bearer {tenant.token}"}
        assert {client.get("/api/v1/domains", headers=headers).status_code for _ in range(20)} == {200}


def test_redis_shares_the_count_between_servers(tenant: Tenant, settings: Settings, db: Database) -> None:
    headers = {"X-Team-ApiKey": tenant.token}
    limit = "4/minute"
    with (
        app_with(settings, db, rate_limit=limit, redis_url=REDIS) as one,
        app_with(settings, db, rate_limit=limit, redis_url=REDIS) as two,
    ):
        statuses = [
            client.get("/api/v1/rest/tag", headers=headers).status_code for client in (one, two, one, two)
        ]
        assert statuses == [200] * 4
        assert one.get("/api/v1/rest/tag", headers=headers).status_code == 429
        assert two.get("/api/v1/rest/tag", headers=headers).status_code == 429
