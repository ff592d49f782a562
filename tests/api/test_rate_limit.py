"""429 past the per-key rate limit, in each dialect's shape; shared across processes via Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

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


def test_every_answer_says_where_the_key_stands(tenant: Tenant, settings: Settings, db: Database) -> None:
    headers = {"X-Team-ApiKey": tenant.token}
    with app_with(settings, db, rate_limit="5/minute") as client:
        seen = [client.get("/api/v1/rest/tag", headers=headers) for _ in range(5)]
        assert [int(r.headers["ratelimit-remaining"]) for r in seen] == [4, 3, 2, 1, 0]
        assert {r.headers["ratelimit-limit"] for r in seen} == {"5"}
        assert all(1 <= int(r.headers["ratelimit-reset"]) <= 60 for r in seen)
        # An error after authentication carries them too, and so does the refusal.
        missing = client.get("/api/v1/rest/contact/nobody@example.com", headers=headers)
        assert missing.status_code == 429
        assert missing.headers["ratelimit-remaining"] == "0"
        assert int(missing.headers["retry-after"]) == int(missing.headers["ratelimit-reset"])
    with app_with(settings, db, rate_limit="off") as client:
        assert "ratelimit-limit" not in client.get("/api/v1/rest/tag", headers=headers).headers


def peer_from_header(app: Any) -> Any:
    """The app, seen from the peer address a test names in ``X-Test-Peer`` (TestClient's own
    peer is always "testclient")."""

    async def shim(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer:
                scope["client"] = (peer.decode(), 40000)
        await app(scope, receive, send)

    return shim


@contextmanager
def peers(settings: Settings, db: Database, **changes: Any) -> Iterator[TestClient[Any]]:
    app = peer_from_header(create_app(replace(settings, **changes), db))
    with TestClient(app, base_url="http://roster.test") as client:
        yield client


def test_failed_keys_are_limited_per_client_before_any_lookup(
    tenant: Tenant, settings: Settings, db: Database
) -> None:
    def call(client: TestClient[Any], token: str, peer: str = "192.0.2.1") -> Any:
        return client.get(
            "/api/v1/domains", headers={"Authorization": f"Bearer {token}", "X-Test-Peer": peer}
        )

    with peers(settings, db, auth_failure_limit="4/minute") as client:
        assert [call(client, f"sk_wrong{i}").status_code for i in range(4)] == [401] * 4
        blocked = call(client, "sk_wrong-again")
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert "failed authentications" in blocked.json()["message"]
        # Even the right key waits: the client, not the key, is what guesses.
        assert call(client, tenant.token).status_code == 429
        # Another client is not affected, and a good key does not count as a failure.
        assert [call(client, tenant.token, "192.0.2.2").status_code for _ in range(6)] == [200] * 6


def test_behind_a_trusted_proxy_the_forwarded_client_counts(
    tenant: Tenant, settings: Settings, db: Database
) -> None:
    def guess(client: TestClient[Any], forwarded: str) -> int:
        headers = {
            "Authorization": "Bearer sk_guess",
            "X-Forwarded-For": forwarded,
            "X-Test-Peer": "10.0.0.5",
        }
        return int(client.get("/api/v1/domains", headers=headers).status_code)

    with peers(settings, db, auth_failure_limit="2/minute", trusted_proxies=("10.0.0.0/8",)) as client:
        assert [guess(client, "203.0.113.7") for _ in range(3)] == [401, 401, 429]
        assert guess(client, "203.0.113.8") == 401
        # A client cannot choose its address by sending one: the proxy appends the real one last.
        assert guess(client, "198.51.100.1, 203.0.113.7") == 429
    with peers(settings, db, auth_failure_limit="2/minute") as untrusted:
        # Without trust the header is ignored: every request counts for the peer itself.
        assert [guess(untrusted, f"203.0.113.{i}") for i in range(3)] == [401, 401, 429]
