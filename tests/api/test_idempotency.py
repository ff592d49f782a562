"""Idempotency-Key on POSTs, with Stripe's semantics, in all three dialects and across processes."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from roster.core import clock, idempotency
from roster.core import templates as core_templates
from roster.storage.db import Database
from roster.storage.tables import idempotency_keys
from tests.conftest import Tenant


def key() -> str:
    return f"retry-{uuid.uuid4().hex}"


def test_a_retried_revenue_event_counts_once(tenant: Tenant) -> None:
    tenant.sendx("POST", "/contact", json={"email": "buyer@example.com"})
    once = key()
    body = {"identifier": "buyer@example.com", "amount": 25.5}
    first = tenant.sendx("POST", "/events/revenue", json=body, headers={"Idempotency-Key": once})
    again = tenant.sendx("POST", "/events/revenue", json=body, headers={"Idempotency-Key": once})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert tenant.sendx("GET", "/contact/buyer@example.com").json()["ltv"] == 2550  # in cents
    # Without a key, a retry is a new request, as before.
    tenant.sendx("POST", "/events/revenue", json=body)
    assert tenant.sendx("GET", "/contact/buyer@example.com").json()["ltv"] == 5100


@pytest.mark.parametrize(
    ("dialect", "path", "body"),
    [
        ("sendex", "/api/v1/audiences", {"name": "Retried", "domain": "example.com"}),
        (
            "sendx",
            "/api/v1/rest/template/email",
            {"name": "Retried", "subject": "Hi", "htmlContent": "<p>x</p>"},
        ),
        ("v1", "/v1/audiences", {"name": "Retried"}),
    ],
)
def test_each_dialect_replays_a_create_and_refuses_another_body(
    tenant: Tenant, dialect: str, path: str, body: dict[str, Any]
) -> None:
    auth = (
        {"X-Team-ApiKey": tenant.token} if dialect == "sendx" else {"Authorization": f"Bearer {tenant.token}"}
    )
    once = key()
    first = tenant.client.post(path, json=body, headers={**auth, "Idempotency-Key": once})
    again = tenant.client.post(path, json=body, headers={**auth, "Idempotency-Key": once})
    assert first.status_code in (200, 201), first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.json()["id"] == first.json()["id"]  # one object, not two

    other = tenant.client.post(
        path, json={**body, "name": "Something else"}, headers={**auth, "Idempotency-Key": once}
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in str(other.json())
    # The refusal is in the dialect's own error shape.
    shapes = {"sendex": {"statusCode", "name", "message"}, "sendx": {"status", "message"}, "v1": None}
    if shapes[dialect]:
        assert set(other.json()) == shapes[dialect]

    # Keys are per API key: another key of the same team runs the request itself.
    second_key = tenant.key("full_access")
    other_auth = (
        {"X-Team-ApiKey": second_key} if dialect == "sendx" else {"Authorization": f"Bearer {second_key}"}
    )
    separate = tenant.client.post(path, json=body, headers={**other_auth, "Idempotency-Key": once})
    assert separate.status_code in (200, 201)
    assert separate.json()["id"] != first.json()["id"]


def test_a_key_is_forgotten_after_24_hours(tenant: Tenant, db: Database) -> None:
    once = key()
    body = {"name": "Daily", "subject": "Hi", "htmlContent": "<p>x</p>"}
    first = tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once})
    db.run_write(
        lambda conn: conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.key == once)
            .values(created_at=clock.now() - timedelta(hours=24, minutes=1))
        )
    )
    later = tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once})
    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]


def test_a_server_error_frees_the_key(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_templates.create_template
    calls = {"n": 0}

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(core_templates, "create_template", failing_once)
    once = key()
    body = {"name": "Flaky", "subject": "Hi", "htmlContent": "<p>x</p>"}
    assert (
        tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once}).status_code
        == 500
    )
    retried = tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers


def test_concurrent_requests_with_one_key_run_once_across_processes(tenant: Tenant, live_server: str) -> None:
    """Eight at once against the real server, then a retry through another process (the
    in-process app): one template is made, every other answer is a replay or a 409."""
    once = key()
    body = {"name": f"Concurrent {once}", "subject": "Hi", "htmlContent": "<p>x</p>"}
    headers = {"X-Team-ApiKey": tenant.token, "Idempotency-Key": once}

    def send(_: int) -> httpx.Response:
        return httpx.post(f"{live_server}/api/v1/rest/template/email", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    made = {answer.json()["id"] for answer in answers if answer.status_code == 201}
    assert len(made) == 1
    elsewhere = tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once})
    assert elsewhere.headers["idempotent-replayed"] == "true"
    assert elsewhere.json()["id"] in made
    listed = tenant.sendx("GET", "/template/email", params={"limit": 100}).json()
    assert [t["name"] for t in listed].count(body["name"]) == 1


def test_keys_older_than_a_day_are_pruned(tenant: Tenant, db: Database) -> None:
    old, fresh = key(), key()
    for once in (old, fresh):
        body = {"name": f"Pruned {once}", "subject": "Hi", "htmlContent": "<p>x</p>"}
        tenant.sendx("POST", "/template/email", json=body, headers={"Idempotency-Key": once})
    day_ago = clock.now() - timedelta(hours=25)
    db.run_write(
        lambda conn: conn.execute(
            update(idempotency_keys).where(idempotency_keys.c.key == old).values(created_at=day_ago)
        )
    )
    assert db.run_write(idempotency.prune, clock.now() - idempotency.KEEP) >= 1
    left = db.run_read(lambda conn: {row.key for row in conn.execute(select(idempotency_keys)).all()})
    assert old not in left
    assert fresh in left
