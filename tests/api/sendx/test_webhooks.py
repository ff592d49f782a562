"""Webhooks that deliver: the outbox, the worker, Standard Webhooks signatures, retries, 410,
and refusing private addresses — against a real HTTP receiver on loopback."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import delete, select
from standardwebhooks import Webhook

from roster.api.app import create_app
from roster.config import Settings
from roster.delivery import KEEP, PRUNE_EVERY, RETRY_AFTER, Worker
from roster.storage.db import Database
from roster.storage.tables import webhook_deliveries
from tests.conftest import Tenant, serving
from tests.core.test_outbound import REFUSED
from tests.dns_server import txt_server
from tests.receiver import Receiver, receiver

ALL_EVENTS = {"contactCreated": True, "unsubscribed": True}


@pytest.fixture(autouse=True)
def empty_outbox(db: Database) -> None:
    """Each test counts its own deliveries: none are left from earlier tests."""
    db.run_write(lambda conn: conn.execute(delete(webhook_deliveries)))


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def deliver(db: Database, settings: Settings, clock: Clock | None = None) -> int:
    worker = Worker(db, settings, now=clock or Clock())
    return anyio.run(worker.run_once)


def subscribe(tenant: Tenant, url: str, **flags: bool) -> dict[str, Any]:
    response = tenant.sendx("POST", "/webhook", json={"url": url, "enabled": True, **(flags or ALL_EVENTS)})
    assert response.status_code == 201, response.text
    created = dict(response.json())
    assert created["secret"].startswith("whsec_")
    return created


def verified(webhook: dict[str, Any], request: Any) -> dict[str, Any]:
    """The payload, after checking its Standard Webhooks signature with the published library."""
    return dict(Webhook(webhook["secret"]).verify(request.body, request.headers))


def signed_at_its_time(webhook: dict[str, Any], request: Any) -> dict[str, Any]:
    """The payload, its signature checked for the timestamp it carries (the worker's clock
    may run ahead of the verifier's tolerance in these tests)."""
    moment = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    expected = Webhook(webhook["secret"]).sign(request.headers["webhook-id"], moment, request.body)
    assert request.headers["webhook-signature"] == expected
    return dict(json.loads(request.body))


def pending(db: Database) -> list[Any]:
    return db.run_read(lambda conn: conn.execute(select(webhook_deliveries)).all())


def test_events_from_every_dialect_are_delivered_and_signed(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    webhook = subscribe(tenant, hook.url)
    audience = tenant.audience()
    tenant.contact(audience["id"], "sendex@example.net")
    tenant.sendx("POST", "/contact", json={"email": "sendx@example.net", "firstName": "Sam"})
    tenant.sendx("POST", "/contact/identify", json={"email": "identify@example.net"})
    tenant.sendx(
        "POST",
        "/contact/identify/bulk",
        json=[{"email": "bulk1@example.net"}, {"email": "bulk2@example.net"}],
    )
    tenant.v1("POST", "/contacts", json={"email": "v1@example.net"})
    tenant.sendx(
        "POST", "/contact/identify", json={"email": "sendx@example.net", "lastName": "Again"}
    )  # not new
    tenant.sendx("POST", "/contact/unsubscribe/sendx@example.net")
    member = tenant.contact(audience["id"], "reader@example.net")
    tenant.client.post(
        member["unsubscribe_url"].removeprefix("http://roster.test"),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert deliver(db, settings) == 9
    payloads = [verified(webhook, request) for request in hook.wait_for(9)]
    assert all(request.path == "/hooks/roster" for request in hook.requests)
    created = sorted(p["data"]["email"] for p in payloads if p["type"] == "contact.created")
    assert created == sorted(
        [
            "sendex@example.net",
            "sendx@example.net",
            "identify@example.net",
            "bulk1@example.net",
            "bulk2@example.net",
            "v1@example.net",
            "reader@example.net",
        ]
    )
    unsubscribed = {
        p["data"]["email"]: p["data"]["listId"] for p in payloads if p["type"] == "contact.unsubscribed"
    }
    assert unsubscribed == {"sendx@example.net": None, "reader@example.net": audience["id"]}
    ids = [request.headers["webhook-id"] for request in hook.requests]
    assert len(set(ids)) == 9
    assert all(value.startswith("msg_") for value in ids)
    assert all(state == "delivered" for state in {row.state for row in pending(db)})
    assert deliver(db, settings) == 0  # nothing delivered twice


def test_only_the_events_asked_for_and_nothing_from_a_rolled_back_change(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    subscribe(tenant, hook.url, unsubscribed=True)
    disabled = subscribe(tenant, hook.url, contactCreated=True)
    tenant.sendx("PUT", f"/webhook/{disabled['id']}", json={"enabled": False})
    tenant.sendx("POST", "/contact", json={"email": "quiet@example.net"})
    bad = tenant.sendx(
        "POST", "/contact/identify/bulk", json=[{"email": "fine@example.net"}, {"email": "not an email"}]
    )
    assert bad.status_code == 400
    assert deliver(db, settings) == 0
    assert pending(db) == []
    assert hook.requests == []


def test_events_queued_before_a_webhook_is_disabled_are_not_sent(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    webhook = subscribe(tenant, hook.url)
    tenant.sendx("POST", "/contact", json={"email": "queued@example.net"})
    tenant.sendx("PUT", f"/webhook/{webhook['id']}", json={"enabled": False})
    assert deliver(db, settings) == 0
    assert hook.requests == []
    (row,) = pending(db)
    assert (row.state, row.attempts, row.last_error) == ("failed", 0, "the webhook is disabled")


def test_a_failing_receiver_is_retried_with_the_same_id_until_it_succeeds(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    webhook = subscribe(tenant, hook.url)
    hook.statuses = [500, 503]
    tenant.sendx("POST", "/contact", json={"email": "retry@example.net"})
    clock = Clock()
    assert deliver(db, settings, clock) == 1
    assert deliver(db, settings, clock) == 0  # not due yet
    clock.advance(RETRY_AFTER[0])
    assert deliver(db, settings, clock) == 1
    clock.advance(RETRY_AFTER[1] - 1)
    assert deliver(db, settings, clock) == 0
    clock.advance(1)
    assert deliver(db, settings, clock) == 1
    requests = hook.wait_for(3)
    assert len({request.headers["webhook-id"] for request in requests}) == 1
    assert all(signed_at_its_time(webhook, r)["data"]["email"] == "retry@example.net" for r in requests)
    assert len({request.headers["webhook-timestamp"] for request in requests}) == 3
    (row,) = pending(db)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 3, 204)


def test_delivery_gives_up_after_about_a_day(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    subscribe(tenant, hook.url)
    hook.statuses = [500] * 20
    tenant.sendx("POST", "/contact", json={"email": "doomed@example.net"})
    clock = Clock()
    attempts = 0
    for wait in (0, *RETRY_AFTER):
        clock.advance(wait)
        attempts += deliver(db, settings, clock)
    assert attempts == len(RETRY_AFTER) + 1
    assert 20 * 3600 < sum(RETRY_AFTER) < 28 * 3600
    clock.advance(10**6)
    assert deliver(db, settings, clock) == 0
    (row,) = pending(db)
    assert (row.state, row.last_status, row.last_error) == ("failed", 500, "HTTP 500")


def test_the_worker_deletes_finished_messages_after_30_days(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    subscribe(tenant, hook.url)
    tenant.sendx("POST", "/contact", json={"email": "old@example.net"})
    clock = Clock()
    assert deliver(db, settings, clock) == 1
    clock.advance((KEEP - PRUNE_EVERY).total_seconds())
    tenant.sendx("POST", "/contact", json={"email": "recent@example.net"})
    assert deliver(db, settings, clock) == 1
    assert len(pending(db)) == 2  # nothing is 30 days old yet
    tenant.sendx("POST", "/contact", json={"email": "waiting@example.net"})  # due long ago, pending
    clock.advance(PRUNE_EVERY.total_seconds() + 600)
    assert deliver(db, settings, clock) == 1
    kept = {json.loads(row.payload)["data"]["email"]: row.state for row in pending(db)}
    assert kept == {"recent@example.net": "delivered", "waiting@example.net": "delivered"}


def test_410_gone_disables_the_webhook(
    tenant: Tenant, db: Database, settings: Settings, hook: Receiver
) -> None:
    webhook = subscribe(tenant, hook.url)
    hook.statuses = [410]
    tenant.sendx("POST", "/contact", json={"email": "one@example.net"})
    deliver(db, settings)
    shown = tenant.sendx("GET", f"/webhook/{webhook['id']}").json()
    assert (shown["enabled"], shown["disabledReason"]) == (False, "the endpoint answered 410 Gone")
    tenant.sendx("POST", "/contact", json={"email": "two@example.net"})
    assert deliver(db, settings) == 0
    assert len(hook.requests) == 1
    enabled = tenant.sendx("PUT", f"/webhook/{webhook['id']}", json={"enabled": True}).json()
    assert (enabled["enabled"], enabled["disabledReason"]) == (True, None)


@pytest.fixture
def strict(
    settings: Settings, db: Database
) -> Iterator[tuple[Settings, dict[str, list[str]], TestClient[Any]]]:
    """An app that refuses private addresses, resolving names with a DNS server we control."""
    addresses: dict[str, list[str]] = {}
    with txt_server({}, addresses) as nameserver:
        refusing = dataclasses.replace(settings, webhook_allow_private=False, dns_nameserver=nameserver)
        with TestClient(create_app(refusing, db), base_url="http://roster.test") as client:
            yield refusing, addresses, client


def test_private_addresses_are_refused_at_creation(tenant: Tenant, strict: Any) -> None:
    _settings, addresses, client = strict
    addresses["internal.example.test"] = ["10.1.2.3"]
    addresses["public.example.test"] = ["93.184.216.34"]
    headers = {"X-Team-ApiKey": tenant.token}
    for url in [*REFUSED, "http://internal.example.test/hook", "http://nowhere.example.test/hook"]:
        response = client.post("/api/v1/rest/webhook", json={"url": url, "enabled": True}, headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert "url" in response.json()["message"]
    ok = client.post(
        "/api/v1/rest/webhook",
        json={"url": "https://public.example.test/hook", "enabled": True},
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    moved = client.put(
        f"/api/v1/rest/webhook/{ok.json()['id']}", json={"url": "http://10.9.9.9/"}, headers=headers
    )
    assert moved.status_code == 400
    assert [w["url"] for w in tenant.sendx("GET", "/webhook").json()] == ["https://public.example.test/hook"]


def test_an_address_that_turns_private_is_refused_at_delivery(
    tenant: Tenant, db: Database, strict: Any, hook: Receiver
) -> None:
    refusing, addresses, client = strict
    port = httpx.URL(hook.url).port
    addresses["rebind.example.test"] = ["93.184.216.34"]
    created = client.post(
        "/api/v1/rest/webhook",
        json={
            "url": f"http://rebind.example.test:{port}/hooks/roster",
            "enabled": True,
            "contactCreated": True,
        },
        headers={"X-Team-ApiKey": tenant.token},
    )
    assert created.status_code == 201, created.text
    addresses["rebind.example.test"] = ["127.0.0.1"]  # now pointing at the receiver on loopback
    tenant.sendx("POST", "/contact", json={"email": "rebound@example.net"})
    assert deliver(db, refusing) == 1
    assert hook.requests == []
    (row,) = pending(db)
    assert row.state == "pending"
    assert "refused" in row.last_error
    assert "127.0.0.1" in row.last_error

    # Allowed by the operator, the same name reaches the receiver, with its own Host header.
    later = Clock()
    later.advance(RETRY_AFTER[0] + 1)
    assert deliver(db, dataclasses.replace(refusing, webhook_allow_private=True), later) == 1
    (request,) = hook.wait_for(1)
    assert request.headers["host"] == f"rebind.example.test:{port}"


def test_the_server_delivers_by_itself(
    database_url: str, tenant: Tenant, hook: Receiver, tmp_path: Path
) -> None:
    """``roster serve`` runs the worker beside the server (the default on SQLite; here forced
    with ROSTER_WORKER=inline so that PostgreSQL runs it too)."""
    headers = {"X-Team-ApiKey": tenant.token}
    env = {"ROSTER_WORKER": "inline", "ROSTER_WEBHOOK_ALLOW_PRIVATE": "1"}
    with serving(database_url, tmp_path / "serve.log", **env) as live_server:
        created = httpx.post(
            f"{live_server}/api/v1/rest/webhook",
            json={"url": hook.url, "enabled": True, "contactCreated": True},
            headers=headers,
        )
        webhook = created.json()
        httpx.post(f"{live_server}/api/v1/rest/contact", json={"email": "live@example.net"}, headers=headers)
        (request,) = hook.wait_for(1)
    assert verified(webhook, request)["data"]["email"] == "live@example.net"


def test_roster_worker_processes_deliver(database_url: str, tenant: Tenant, hook: Receiver) -> None:
    webhook = subscribe(tenant, hook.url)
    env = {**os.environ, "ROSTER_DATABASE_URL": database_url, "ROSTER_WEBHOOK_ALLOW_PRIVATE": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "roster", "worker", "--json"], env=env, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert json.loads(worker.stdout.readline())["status"] == "delivering"
        emails = [f"w{i}@example.net" for i in range(10)]
        for email in emails:
            tenant.sendx("POST", "/contact", json={"email": email})
        requests = hook.wait_for(10)
    finally:
        for worker in workers:
            worker.terminate()
            worker.communicate(timeout=15)
    assert sorted(verified(webhook, r)["data"]["email"] for r in requests) == sorted(
        emails
    )  # each exactly once
